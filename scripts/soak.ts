/**
 * Load and soak run (issue 4): `npm run soak -- --users 300 --seconds 60`. Not part of `npm test`.
 *
 * Starts both simulators (no added latency) and the gateway as processes of their own
 * (`dist/src/simulators/main.js`, `dist/src/main.js`), so the gateway's memory is measured
 * alone. Then N virtual users, each on its own keep-alive connection, loop whole flows on
 * loopback for T seconds (half Spine: createSession, selectRole, me, session, signout; half IdP:
 * signin, me × k, signout). It prints throughput, outcomes by operation and code (expected and
 * unexpected), latency, the gateway's warnings, and its memory: cold, at rest after the
 * warm-up, every few seconds under load, and at rest at the end. Exit code 1 if any outcome or
 * warning was unexpected, or the heap at rest grew beyond noise.
 *
 * The same file, loaded into the gateway with `--import` and SOAK_MEMORY_PROBE=1, only answers
 * memory questions over the IPC channel (after a full GC, so figures compare). */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { answering, freePort, startSimulators, stop } from "./support/processes.js";

const PROBE = "SOAK_MEMORY_PROBE";

if (process.env[PROBE] === "1") {
  installMemoryProbe();
} else {
  main().then(
    (passed) => process.exit(passed ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(`soak: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(2);
    },
  );
}

/**
 * In the gateway process: answer "memory" with process.memoryUsage() after a full GC, and the
 * event loop's delay since the last question (a blocked or saturated loop shows there first).
 */
function installMemoryProbe(): void {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.on("message", (message) => {
    if (message !== "memory") return;
    const eventLoop = loopDelay(loop);
    loop.reset();
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ ...process.memoryUsage(), eventLoop });
  });
  // The channel must not keep the gateway alive by itself once it shuts down.
  process.channel?.unref();
}

/** Event-loop delay, in milliseconds: p50, p99, max. */
interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

function loopDelay(histogram: IntervalHistogram): LoopDelay {
  const ms = (ns: number): number => (Number.isFinite(ns) ? ns / 1e6 : 0);
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
}

interface Settings {
  users: number;
  seconds: number;
  warmupSeconds: number;
  /** Share of virtual users running Spine flows; the rest run IdP flows. */
  spineShare: number;
  /** `me` queries per IdP flow. */
  mePerFlow: number;
  /** Seconds between memory samples under load. */
  sampleEvery: number;
  logLevel: string;
  /** Heap growth between the two figures at rest (after warm-up, end; after GC) above which the run fails, in MB. */
  maxHeapDriftMb: number;
}

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "300" },
      seconds: { type: "string", default: "60" },
      warmup: { type: "string" },
      "spine-share": { type: "string", default: "0.5" },
      "me-per-flow": { type: "string", default: "3" },
      "sample-every": { type: "string", default: "5" },
      "log-level": { type: "string", default: "warn" },
      "max-heap-drift-mb": { type: "string", default: "5" },
    },
  });
  const number = (name: string, raw: string | undefined, min: number, max: number): number => {
    const value = Number(raw);
    if (raw === undefined || !Number.isFinite(value) || value < min || value > max)
      throw new Error(`--${name} must be a number from ${min} to ${max}`);
    return value;
  };
  const seconds = number("seconds", values.seconds, 1, 24 * 3600);
  return {
    users: Math.round(number("users", values.users, 1, 5_000)),
    seconds,
    warmupSeconds: values.warmup === undefined ? Math.min(10, Math.ceil(seconds / 6)) : number("warmup", values.warmup, 0, seconds),
    spineShare: number("spine-share", values["spine-share"], 0, 1),
    mePerFlow: Math.round(number("me-per-flow", values["me-per-flow"], 1, 100)),
    sampleEvery: number("sample-every", values["sample-every"], 1, 3600),
    logLevel: values["log-level"],
    maxHeapDriftMb: number("max-heap-drift-mb", values["max-heap-drift-mb"], 0, 10_000),
  };
}

/** Request latencies of one operation, in 0.1 ms buckets up to 20 s: bounded memory however long the run. */
class Latencies {
  static readonly #BUCKETS = 200_000;
  readonly #counts = new Uint32Array(Latencies.#BUCKETS);
  count = 0;
  maxMs = 0;

  add(ms: number): void {
    this.#counts[Math.min(Latencies.#BUCKETS - 1, Math.floor(ms * 10))]! += 1;
    this.count += 1;
    this.maxMs = Math.max(this.maxMs, ms);
  }

  percentile(p: number): number {
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let bucket = 0; bucket < this.#counts.length; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= rank && seen > 0) return (bucket + 1) / 10;
    }
    return 0;
  }
}

const SLOWEST_KEPT = 5;

/** What happened, counted: outcome label → count, split into expected and unexpected. */
class Tally {
  readonly outcomes = new Map<string, { count: number; expected: boolean }>();
  readonly latencies = new Map<string, Latencies>();
  requests = 0;
  flows = { spine: 0, idp: 0, idpEndedByOtherSession: 0, failed: 0 };
  /** The slowest requests, by id (`x-request-id`, so the gateway's log line can be found). */
  readonly slowest: Array<{ requestId: string; operation: string; ms: number; sentAt: number; codes: string[] }> = [];

  outcome(label: string, expected: boolean): void {
    const entry = this.outcomes.get(`${label}|${expected}`) ?? { count: 0, expected };
    entry.count += 1;
    this.outcomes.set(`${label}|${expected}`, entry);
  }

  latency(operation: string, ms: number, request: { requestId: string; sentAt: number; codes: string[] }): void {
    let latencies = this.latencies.get(operation);
    if (latencies === undefined) this.latencies.set(operation, (latencies = new Latencies()));
    latencies.add(ms);
    this.requests += 1;
    if (this.slowest.length < SLOWEST_KEPT || ms > this.slowest.at(-1)!.ms) {
      this.slowest.push({ ...request, operation, ms });
      this.slowest.sort((a, b) => b.ms - a.ms);
      this.slowest.length = Math.min(this.slowest.length, SLOWEST_KEPT);
    }
  }

  get unexpected(): number {
    let total = 0;
    for (const { count, expected } of this.outcomes.values()) if (!expected) total += count;
    return total;
  }
}

/** The fields of the answers the flows read (the rest of a payload is not looked at). */
interface Payload {
  token?: unknown;
  id?: unknown;
  roleSelected?: unknown;
  session?: Payload | null;
}

/** A root field's payload, when it is an object. */
function payload(answer: GraphQLAnswer, field: string): Payload | undefined {
  const value = answer.data?.[field];
  return typeof value === "object" && value !== null ? value : undefined;
}

interface GraphQLAnswer {
  data: Record<string, unknown> | null | undefined;
  codes: string[];
}

const OPERATIONS = {
  createSession: "mutation CreateSession($token: String!) { createSession(input: { token: $token }) { token session { id roleSelected } } }",
  selectRole:
    "mutation SelectRole($businessFunction: String!, $orgIdentifier: String!) { selectRole(input: { businessFunction: $businessFunction, orgIdentifier: $orgIdentifier }) { token session { roleSelected permission { businessFunction } } } }",
  signin: "mutation Signin($email: String!, $password: String!) { signin(input: { email: $email, password: $password }) { token session { id } } }",
  me: "query Me { me { id provider displayName groups permissions { businessFunction orgIdentifier } profiles { type id } } }",
  session: "query Session { session { id provider roleSelected expiresAt } }",
  signout: "mutation Signout { signout }",
} as const;

let requestCounter = 0;

/** Longest a virtual user waits for one answer; the gateway answers within 10 s whatever the backends do. */
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * One virtual user's connection to the gateway: a keep-alive agent with a single socket, opened
 * before the load starts and kept for the whole run, as a browser tab keeps its connection.
 * Not fetch: its built-in pool cannot be bounded without the undici package, and connections
 * it opens mid-run wait in the accept queue of a saturated Node server (Node takes about one
 * new connection per event-loop turn), which would time the queue, not the gateway.
 */
class Connection {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly #url: URL;

  constructor(url: string) {
    this.#url = new URL(url);
  }

  /** Sends one operation the way a frontend would. */
  async graphql(tally: Tally, operation: keyof typeof OPERATIONS, variables: Record<string, string>, token?: string): Promise<GraphQLAnswer> {
    const started = performance.now();
    const requestId = `soak-${++requestCounter}`;
    let codes: string[] = [];
    try {
      const response = await this.send("POST", "/graphql", JSON.stringify({ query: OPERATIONS[operation], variables }), {
        "content-type": "application/json",
        "x-request-id": requestId,
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      });
      const body = JSON.parse(response.body) as { data?: GraphQLAnswer["data"]; errors?: Array<{ extensions?: { code?: string } }> };
      codes = (body.errors ?? []).map((error) => error.extensions?.code ?? "NO_CODE");
      if (codes.length === 0 && response.status !== 200) codes.push(`HTTP_${response.status}`);
      return { data: body.data, codes };
    } catch (error) {
      codes = [(error as Error)?.name === "TimeoutError" || (error as Error)?.name === "AbortError" ? "CLIENT_TIMEOUT" : "NETWORK_ERROR"];
      return { data: undefined, codes };
    } finally {
      const ms = performance.now() - started;
      tally.latency(operation, ms, { requestId, sentAt: Date.now() - ms, codes });
    }
  }

  send(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: this.#url.hostname,
          port: this.#url.port,
          path,
          method,
          headers,
          agent: this.#agent,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * The IdP hands every client of a user the same access token and one sign-out ends it for all
 * (idp.md). Virtual users share the simulator's three users, so a session can legitimately end
 * under another: this tracks each user's sign-outs, to tell those endings from real failures.
 */
class SharedTokens {
  readonly #users = new Map<string, { started: number; inFlight: number }>();

  #of(email: string): { started: number; inFlight: number } {
    let user = this.#users.get(email);
    if (user === undefined) this.#users.set(email, (user = { started: 0, inFlight: 0 }));
    return user;
  }

  /** Taken when a sign-in starts. */
  mark(email: string): { started: number; inFlight: number } {
    return { ...this.#of(email) };
  }

  /** Whether another session's sign-out could have ended this user's token since `mark`. */
  endedSince(email: string, mark: { started: number; inFlight: number }): boolean {
    return mark.inFlight > 0 || this.#of(email).started > mark.started;
  }

  async signout<T>(email: string, send: () => Promise<T>): Promise<T> {
    const user = this.#of(email);
    user.started += 1;
    user.inFlight += 1;
    try {
      return await send();
    } finally {
      user.inFlight -= 1;
    }
  }
}

interface Backends {
  spineUsers: ReadonlyArray<{
    smartcardToken: string;
    identifier: string;
    permissions: ReadonlyArray<{ businessFunction: string; orgIdentifier: string }>;
  }>;
  idpUsers: ReadonlyArray<{ email: string; password: string }>;
}

/**
 * Starts, pauses and ends the virtual users' flows. A pause holds new flows and waits for those
 * under way, so the gateway can be measured at rest (no request in flight, every session of a
 * finished flow signed out) and the two rests compared like with like.
 */
class Load {
  readonly #seconds: number;
  readonly #started = performance.now();
  #pausedMs = 0;
  #paused: Promise<void> | undefined;
  #inFlow = 0;
  #idle: (() => void) | undefined;

  constructor(seconds: number) {
    this.#seconds = seconds;
  }

  /** Seconds of load so far, pauses left out. */
  get elapsed(): number {
    return (performance.now() - this.#started - this.#pausedMs) / 1000;
  }

  get over(): boolean {
    return this.elapsed >= this.#seconds;
  }

  /** Runs `flow` over and over (waiting out pauses) until the run's time is up. */
  async loop(flow: () => Promise<void>): Promise<void> {
    for (;;) {
      while (this.#paused !== undefined) await this.#paused;
      if (this.over) return;
      this.#inFlow += 1;
      try {
        await flow();
      } finally {
        this.#inFlow -= 1;
        if (this.#inFlow === 0) this.#idle?.();
      }
    }
  }

  /** Holds new flows, waits for those under way, runs `work`, then lets the users go on. */
  async pause<T>(work: () => Promise<T>): Promise<T> {
    const began = performance.now();
    let resume!: () => void;
    this.#paused = new Promise<void>((resolve) => (resume = resolve));
    if (this.#inFlow > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#idle = undefined;
    try {
      return await work();
    } finally {
      this.#pausedMs += performance.now() - began;
      this.#paused = undefined;
      resume();
    }
  }
}

/** One Spine flow: createSession, selectRole, me, session, signout; every step must succeed. */
async function spineFlow(index: number, connection: Connection, backends: Backends, tally: Tally): Promise<void> {
  const user = backends.spineUsers[index % backends.spineUsers.length]!;
  const role = user.permissions[index % user.permissions.length]!;
  const step = (operation: keyof typeof OPERATIONS, answer: GraphQLAnswer, ok: boolean): boolean => {
    tally.outcome(`${operation}: ${ok ? "OK" : answer.codes.join(",") || "unexpected data"}`, ok);
    return ok;
  };
  let token: string | undefined;
  let ok = false;
  const created = await connection.graphql(tally, "createSession", { token: user.smartcardToken });
  if (step("createSession", created, typeof payload(created, "createSession")?.token === "string")) {
    token = payload(created, "createSession")!.token as string;
    const selected = await connection.graphql(tally, "selectRole", { ...role }, token);
    if (step("selectRole", selected, payload(selected, "selectRole")?.session?.roleSelected === true)) {
      token = payload(selected, "selectRole")!.token as string;
      const me = await connection.graphql(tally, "me", {}, token);
      if (step("me", me, payload(me, "me")?.id === `spine:${user.identifier}`)) {
        const session = await connection.graphql(tally, "session", {}, token);
        ok = step("session", session, payload(session, "session")?.roleSelected === true);
      }
    }
  }
  if (token !== undefined) {
    const signedOut = await connection.graphql(tally, "signout", {}, token);
    ok = step("signout", signedOut, signedOut.data?.["signout"] === true) && ok;
  }
  if (ok) tally.flows.spine += 1;
  else tally.flows.failed += 1;
}

/** One IdP flow: signin, me × k, signout; a session ended by another of the same user is expected. */
async function idpFlow(
  index: number,
  connection: Connection,
  backends: Backends,
  tally: Tally,
  shared: SharedTokens,
  mePerFlow: number,
): Promise<void> {
  const user = backends.idpUsers[index % backends.idpUsers.length]!;
  const mark = shared.mark(user.email);
  const signedIn = await connection.graphql(tally, "signin", { email: user.email, password: user.password });
  const token = payload(signedIn, "signin")?.token as string | undefined;
  if (token === undefined) {
    // The user info read right after sign-in finds the token another session's sign-out just ended.
    const expected = signedIn.codes.join(",") === "UNAUTHENTICATED" && shared.endedSince(user.email, mark);
    tally.outcome(
      `signin: ${signedIn.codes.join(",") || "unexpected data"}${expected ? " (token ended by another session of the user)" : ""}`,
      expected,
    );
    if (expected) tally.flows.idpEndedByOtherSession += 1;
    else tally.flows.failed += 1;
    return;
  }
  tally.outcome("signin: OK", true);
  let ended = false;
  let failed = false;
  for (let i = 0; i < mePerFlow && !ended && !failed; i++) {
    const me = await connection.graphql(tally, "me", {}, token);
    if (me.codes.length === 0 && typeof payload(me, "me")?.id === "string") {
      tally.outcome("me: OK", true);
    } else if (me.codes.length === 0 && me.data?.["me"] === null && shared.endedSince(user.email, mark)) {
      tally.outcome("me: null (token ended by another session of the user)", true);
      ended = true;
    } else {
      tally.outcome(`me: ${me.codes.join(",") || "unexpected data"}`, false);
      failed = true;
    }
  }
  if (!ended) {
    const signedOut = await shared.signout(user.email, () => connection.graphql(tally, "signout", {}, token));
    const ok = signedOut.codes.length === 0 && signedOut.data?.["signout"] === true;
    tally.outcome(`signout: ${ok ? "OK" : signedOut.codes.join(",") || "unexpected data"}`, ok);
    failed ||= !ok;
  }
  if (failed) tally.flows.failed += 1;
  else if (ended) tally.flows.idpEndedByOtherSession += 1;
  else tally.flows.idp += 1;
}

interface MemorySample {
  label: string;
  atSeconds: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** The gateway's event-loop delay since the sample before. */
  eventLoop: LoopDelay;
  /** This process's (the virtual users') event-loop delay since the sample before. */
  driverLoop: LoopDelay;
}

/** Asks the gateway's probe for its memory (after a full GC). */
function sampleMemory(gateway: ChildProcess, label: string, atSeconds: number, driverLoop: IntervalHistogram): Promise<MemorySample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the gateway did not answer the memory probe")), 10_000);
    gateway.once("message", (message) => {
      clearTimeout(timer);
      const usage = message as unknown as NodeJS.MemoryUsage & { eventLoop: LoopDelay };
      const driver = loopDelay(driverLoop);
      driverLoop.reset();
      resolve({
        label,
        atSeconds,
        rss: usage.rss,
        heapUsed: usage.heapUsed,
        heapTotal: usage.heapTotal,
        external: usage.external,
        eventLoop: usage.eventLoop,
        driverLoop: driver,
      });
    });
    gateway.send("memory");
  });
}

/** Peak resident set of a process so far (VmHWM), from /proc; undefined where there is no /proc. */
function peakRss(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

const MB = 1024 * 1024;
const mb = (bytes: number): string => (bytes / MB).toFixed(1);
const signedMb = (bytes: number): string => `${bytes >= 0 ? "+" : ""}${mb(bytes)}`;

/** Least-squares slope of heap used over time, in MB per minute. */
function slopeMbPerMinute(samples: MemorySample[]): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.atSeconds / 60);
  const ys = samples.map((s) => s.heapUsed / MB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  "))
    .join("\n");
}

/** Warm-up, steady state and shutdown; returns whether the run passed. */
async function main(): Promise<boolean> {
  const options = settings();
  // Imported here, not at the top: this file is also loaded into the gateway, as its memory probe.
  const [{ SPINE_DEMO }, { IDP_DEMO }] = await Promise.all([
    import("../src/simulators/spine/spine.seed.js"),
    import("../src/simulators/idp/idp.seed.js"),
  ]);
  const simulators = await startSimulators();
  const { spine, idp } = simulators;
  // The simulators keep a log of every call for tests: emptied every second here, or they
  // would hold hundreds of thousands of them.
  const trimLogs = setInterval(() => {
    for (const base of [spine, idp]) void fetch(`${base}/__sim/calls`, { method: "DELETE" }).catch(() => undefined);
  }, 1_000);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(tmpdir(), `soak-gateway-${process.pid}.log`);
  const logFd = openSync(logPath, "w");
  const gatewayMain = fileURLToPath(new URL("../src/main.js", import.meta.url));
  const gateway = spawn(process.execPath, ["--expose-gc", "--import", import.meta.url, gatewayMain], {
    env: {
      PATH: process.env["PATH"],
      [PROBE]: "1",
      PORT: String(port),
      HOST: "127.0.0.1",
      SPINE_URL: spine,
      SPINE_ASID: SPINE_DEMO.asid,
      IDP_URL: idp,
      IDP_CLIENT_ID: IDP_DEMO.clientId,
      IDP_API_TOKEN: IDP_DEMO.apiToken,
      LOG_LEVEL: options.logLevel,
      NODE_ENV: "production",
      // Every virtual user signs in as one of a few demo users from this one address, and a
      // sign-in in flight holds a place in both windows until the backend answers
      // (docs/security.md): both limits at their highest, so the run measures sign-ins, not refusals.
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "100",
      LOGIN_MAX_FAILURES_PER_ADDRESS: "1000000",
      ...(process.env["REDIS_URL"] === undefined ? {} : { REDIS_URL: process.env["REDIS_URL"] }),
    },
    stdio: ["ignore", logFd, logFd, "ipc"],
  });
  const stopEverything = async (): Promise<void> => {
    clearInterval(trimLogs);
    await stop(gateway);
    closeSync(logFd);
    await stop(simulators.process);
  };
  process.once("SIGINT", () => void stopEverything().then(() => process.exit(130)));

  try {
    await answering(`${url}/readyz`, gateway, { withinMs: 20_000, ready200: true });
    const driverLoop = monitorEventLoopDelay({ resolution: 10 });
    driverLoop.enable();
    const backends: Backends = { spineUsers: SPINE_DEMO.users, idpUsers: IDP_DEMO.users };
    const spineUsers = Math.round(options.users * options.spineShare);
    process.stdout.write(
      `soak: ${options.users} virtual users (${spineUsers} Spine, ${options.users - spineUsers} IdP, ${options.mePerFlow} me per IdP flow) for ${options.seconds} s, ` +
        `warm-up ${options.warmupSeconds.toFixed(0)} s; gateway pid ${gateway.pid} on ${url}, store ${process.env["REDIS_URL"] === undefined ? "in-process memory" : "Redis"}, ` +
        `LOG_LEVEL=${options.logLevel}; Node ${process.version}\n`,
    );

    // Every virtual user's connection is opened while the gateway is idle (see Connection).
    const connections = Array.from({ length: options.users }, () => new Connection(url));
    for (let i = 0; i < connections.length; i += 50)
      await Promise.all(connections.slice(i, i + 50).map((connection) => connection.send("GET", "/healthz", undefined)));
    const samples: MemorySample[] = [await sampleMemory(gateway, "start (idle, cold)", 0, driverLoop)];
    const tally = new Tally();
    const shared = new SharedTokens();
    const loadStartedAt = Date.now();
    const load = new Load(options.seconds);
    /** Lets the last requests' timers and sockets settle before a figure at rest. */
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1_000));

    let warmup: { requests: number; flows: number; atSeconds: number } | undefined;
    const flowsDone = (): number => tally.flows.spine + tally.flows.idp + tally.flows.idpEndedByOtherSession + tally.flows.failed;
    const sampling = (async () => {
      const until = async (seconds: number): Promise<void> => {
        while (load.elapsed < seconds) await new Promise((resolve) => setTimeout(resolve, Math.max(10, (seconds - load.elapsed) * 1000)));
      };
      await until(options.warmupSeconds);
      warmup = { requests: tally.requests, flows: flowsDone(), atSeconds: load.elapsed };
      const restAt = load.elapsed;
      samples.push(await load.pause(async () => (await settle(), sampleMemory(gateway, "after warm-up (at rest)", restAt, driverLoop))));
      for (let next = options.warmupSeconds + options.sampleEvery; next < options.seconds - 0.5; next += options.sampleEvery) {
        await until(next);
        samples.push(await sampleMemory(gateway, "under load", load.elapsed, driverLoop));
      }
    })();

    await Promise.all(
      connections.map((connection, index) =>
        load.loop(() =>
          index < spineUsers ? spineFlow(index, connection, backends, tally) : idpFlow(index, connection, backends, tally, shared, options.mePerFlow),
        ),
      ),
    );
    for (const connection of connections) connection.close();
    const loadSeconds = load.elapsed;
    await sampling;
    await settle();
    samples.push(await sampleMemory(gateway, "end (at rest)", load.elapsed, driverLoop));
    const peak = peakRss(gateway.pid!);
    await stopEverything();

    return report(options, tally, samples, { loadStartedAt, loadSeconds, warmup, peak, logPath });
  } catch (error) {
    await stopEverything();
    throw error;
  }
}

function report(
  options: Settings,
  tally: Tally,
  samples: MemorySample[],
  run: {
    loadStartedAt: number;
    loadSeconds: number;
    warmup: { requests: number; flows: number; atSeconds: number } | undefined;
    peak: number | undefined;
    logPath: string;
  },
): boolean {
  const out: string[] = [];
  const { flows } = tally;
  const allFlows = flows.spine + flows.idp + flows.idpEndedByOtherSession + flows.failed;
  const steady =
    run.warmup === undefined
      ? undefined
      : { seconds: run.loadSeconds - run.warmup.atSeconds, requests: tally.requests - run.warmup.requests, flows: allFlows - run.warmup.flows };
  out.push("", `Throughput (${run.loadSeconds.toFixed(1)} s of load)`);
  out.push(
    table([
      ["", "count", "per s (whole run)", "per s (after warm-up)"],
      [
        "requests",
        String(tally.requests),
        (tally.requests / run.loadSeconds).toFixed(0),
        steady === undefined ? "-" : (steady.requests / steady.seconds).toFixed(0),
      ],
      ["flows", String(allFlows), (allFlows / run.loadSeconds).toFixed(0), steady === undefined ? "-" : (steady.flows / steady.seconds).toFixed(0)],
      ["  Spine, completed", String(flows.spine), (flows.spine / run.loadSeconds).toFixed(0), ""],
      ["  IdP, completed", String(flows.idp), (flows.idp / run.loadSeconds).toFixed(0), ""],
      [
        "  IdP, ended by a sign-out of another session of the user (expected)",
        String(flows.idpEndedByOtherSession),
        (flows.idpEndedByOtherSession / run.loadSeconds).toFixed(0),
        "",
      ],
      ["  failed", String(flows.failed), (flows.failed / run.loadSeconds).toFixed(0), ""],
    ]),
  );

  out.push("", "Latency by operation (ms)");
  const latencyRows = [["operation", "requests", "p50", "p90", "p99", "max"]];
  for (const [operation, latencies] of [...tally.latencies].sort(([a], [b]) => a.localeCompare(b))) {
    latencyRows.push([
      operation,
      String(latencies.count),
      latencies.percentile(50).toFixed(1),
      latencies.percentile(90).toFixed(1),
      latencies.percentile(99).toFixed(1),
      latencies.maxMs.toFixed(1),
    ]);
  }
  out.push(table(latencyRows));

  out.push(
    "",
    "Slowest requests (x-request-id, to find in the gateway log)",
    ...tally.slowest.map(
      (r) => `  ${r.requestId}  ${r.operation}  ${r.ms.toFixed(0)} ms  sent ${new Date(r.sentAt).toISOString()}  ${r.codes.join(",") || "OK"}`,
    ),
  );

  out.push("", "Outcomes by operation and code");
  const outcomeRows = [["outcome", "count", "expected"]];
  for (const [key, { count, expected }] of [...tally.outcomes].sort(([a], [b]) => a.localeCompare(b))) {
    outcomeRows.push([key.slice(0, key.lastIndexOf("|")), String(count), expected ? "yes" : "NO"]);
  }
  out.push(table(outcomeRows));

  out.push("", "Gateway memory (MB, after a full GC) and event-loop delay since the sample before (ms, p99 / max; the driver is this process)");
  const memoryRows = [["sample", "at s", "RSS", "heap used", "heap total", "external", "gateway loop", "driver loop"]];
  const delay = (loop: LoopDelay): string => `${loop.p99.toFixed(0)} / ${loop.max.toFixed(0)}`;
  for (const sample of samples) {
    memoryRows.push([
      sample.label,
      sample.atSeconds.toFixed(0),
      mb(sample.rss),
      mb(sample.heapUsed),
      mb(sample.heapTotal),
      mb(sample.external),
      delay(sample.eventLoop),
      delay(sample.driverLoop),
    ]);
  }
  out.push(table(memoryRows));
  const loaded = samples.filter((sample) => sample.label === "under load");
  const rested = samples.find((sample) => sample.label.startsWith("after warm-up"));
  const end = samples.at(-1)!;
  // The two figures at rest are the like-for-like pair: what the gateway holds once every flow
  // has ended, before and after the steady part of the run. Growth between them is retained.
  const heapDrift = rested === undefined ? 0 : end.heapUsed - rested.heapUsed;
  out.push(
    `at rest, after warm-up → end: heap ${signedMb(heapDrift)}, RSS ${rested === undefined ? "-" : signedMb(end.rss - rested.rss)}; ` +
      `under load: heap trend ${slopeMbPerMinute(loaded).toFixed(2)} MB/min over ${loaded.length} samples; peak RSS ${run.peak === undefined ? "-" : mb(run.peak)}`,
  );

  const startupNotices: string[] = [];
  // The IdP refusing a token that another session of the user ended is logged as a backend
  // failure (NOT_AUTHENTICATED); every other warning is unexpected here.
  const warnings = readFileSync(run.logPath, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; time: number | string; msg: string; endpoint?: string; failure?: string })
    .filter((line) => line.level >= 40)
    .filter((line) => {
      // Start-up notices (a demo setting, say) are shown but are not the run's business.
      if (new Date(line.time).getTime() >= run.loadStartedAt) return true;
      startupNotices.push(line.msg);
      return false;
    })
    .map((line) => ({
      what: `${line.msg}${line.failure === undefined ? "" : ` (${line.endpoint}: ${line.failure})`}`,
      expected: line.failure === "NOT_AUTHENTICATED",
    }));
  const byWhat = new Map<string, { count: number; expected: boolean }>();
  for (const { what, expected } of warnings) byWhat.set(what, { count: (byWhat.get(what)?.count ?? 0) + 1, expected });
  const unexpectedWarnings = warnings.filter((warning) => !warning.expected).length;
  out.push(
    "",
    ...startupNotices.map((notice) => `Gateway start-up notice: ${notice}`),
    `Gateway log lines at warn or above during the run: ${warnings.length}, unexpected ${unexpectedWarnings} (${run.logPath})` +
      [...byWhat].map(([what, { count, expected }]) => `\n  ${count} × ${what}${expected ? " (expected)" : ""}`).join(""),
  );

  const unexpected = tally.unexpected;
  const heapOk = heapDrift <= options.maxHeapDriftMb * MB;
  const passed = unexpected === 0 && unexpectedWarnings === 0 && heapOk;
  out.push(
    "",
    `${passed ? "PASS" : "FAIL"}: ${unexpected} unexpected outcomes, ${unexpectedWarnings} unexpected gateway warnings, ` +
      `heap drift at rest ${signedMb(heapDrift)} MB (limit ${options.maxHeapDriftMb} MB)`,
    "",
  );
  process.stdout.write(out.join("\n"));
  return passed;
}
