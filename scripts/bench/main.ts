/**
 * The performance benchmark (issue 6): `npm run bench`, or `npm run bench -- --smoke` for a
 * seconds-long run that only proves the benchmark still works (CI). Never a timed test.
 *
 * Every server under test is a process of its own on 127.0.0.1: the simulators (no added
 * latency), the gateway with its production settings (in-memory store, LOG_LEVEL info, its log
 * and audit trail written to a file: logging stays on as in production), and three baselines
 * measured in the same run (see baselines.ts). autocannon drives each row from this process with
 * the same connections and duration. It prints one table, writes it to bench/results.md with
 * the date, command and machine, and exits 1 if any row saw an error.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon, { type Request, type Result } from "autocannon";
import { IDP_DEMO } from "../../src/simulators/idp/idp.seed.js";
import { composeSupergraph } from "../compose-supergraph.js";
import { answering, freePort, startSimulators, stop } from "../support/processes.js";
import { SPINE_DEMO } from "../../src/simulators/spine/spine.seed.js";

interface Settings {
  smoke: boolean;
  connections: number;
  seconds: number;
  /** Unmeasured load before each row. */
  warmupSeconds: number;
  /** Sessions opened by the memory probe. */
  sessions: number;
  /** Concurrent `me` of one session whose user info is no longer cached. */
  coldRequests: number;
  /** Where the table goes; unset in smoke mode unless given. */
  out: string | undefined;
}

function settings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: "boolean", default: false },
      connections: { type: "string" },
      seconds: { type: "string" },
      sessions: { type: "string" },
      out: { type: "string" },
    },
  });
  const smoke = values.smoke === true;
  const number = (name: string, raw: string | undefined, fallback: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
    return value;
  };
  return {
    smoke,
    connections: number("connections", values.connections, 50, 1_000),
    seconds: number("seconds", values.seconds, smoke ? 1 : 10, 3_600),
    warmupSeconds: smoke ? 0 : 2,
    sessions: number("sessions", values.sessions, smoke ? 2_000 : 100_000, 1_000_000),
    coldRequests: 100,
    out: values.out ?? (smoke ? undefined : fileURLToPath(new URL("../../../bench/results.md", import.meta.url))),
  };
}

/** One row of the table. */
export interface Row {
  name: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Connection errors, timeouts, non-2xx answers and GraphQL errors together. */
  errors: number;
  note: string;
}

/** What the memory probe reports for one kind of session. */
export interface SessionMemory {
  sessions: number;
  heapPerSession: number;
  rssPerSession: number;
  /** The first and last session opened could be read back. */
  found: boolean;
}

export interface BenchReport {
  rows: Row[];
  /** IdP user-info calls the cold `me` burst made. */
  coldUserInfoCalls: number;
  /** Per live session, each kind measured in a process of its own; the target is the IdP figure. */
  memory: { idp: SessionMemory; spine: SessionMemory };
  targets: Array<{ target: string; measured: string; met: boolean }>;
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const DIST = fileURLToPath(new URL("../../", import.meta.url));

const ME = `query Me { me { id provider identifier displayName firstName middleName lastName email active groups
  permissions { businessFunction orgIdentifier orgName } profiles { type id catchment } lastLoginAt } }`;
const SIGNIN = `mutation Signin($email: String!, $password: String!) { signin(input: { email: $email, password: $password }) {
  token session { id provider roleSelected createdAt expiresAt user { id displayName email groups } } } }`;
const CREATE_SESSION = `mutation CreateSession($token: String!) { createSession(input: { token: $token }) {
  token session { id provider roleSelected user { id displayName permissions { businessFunction orgIdentifier orgName } } } } }`;
const SELECT_ROLE = `mutation SelectRole($businessFunction: String!, $orgIdentifier: String!) {
  selectRole(input: { businessFunction: $businessFunction, orgIdentifier: $orgIdentifier }) {
  token session { id roleSelected permission { businessFunction orgIdentifier orgName } } } }`;

const JSON_HEADERS = { "content-type": "application/json" };

/** The bench's own router secret: the gateway serves `/subgraph` for the Hive Gateway row. */
const ROUTER_SECRET = "bench-router-secret-0123456789abcdef0123456789";

/** A GraphQL answer with an `errors` member counts as an error, whatever its status. */
function countingErrors(request: Request, tally: { errors: number }, next?: Request["onResponse"]): Request {
  return {
    ...request,
    onResponse: (status, body, context) => {
      if (status !== 200 || body.includes('"errors"')) tally.errors += 1;
      next?.(status, body, context);
    },
  };
}

async function load(
  url: string,
  options: Settings,
  requests: Request[],
  tally: { errors: number },
  overrides: { connections?: number; amount?: number } = {},
): Promise<Result> {
  tally.errors = 0;
  const result = await autocannon({
    url,
    connections: overrides.connections ?? options.connections,
    ...(overrides.amount === undefined ? { duration: options.seconds } : { amount: overrides.amount }),
    requests,
  });
  return result;
}

function row(name: string, result: Result, tally: { errors: number }, note: string): Row {
  return {
    name,
    requestsPerSecond: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + tally.errors,
    note,
  };
}

export async function runBenchmark(argv: string[], write: (text: string) => void = (text) => process.stdout.write(text)): Promise<BenchReport> {
  const options = settings(argv);
  const children: ChildProcess[] = [];
  const logPath = join(tmpdir(), `bench-gateway-${process.pid}.log`);
  const logFd = openSync(logPath, "w");
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.map(stop));
    closeSync(logFd);
  };
  try {
    write(
      `bench: ${options.connections} connections, ${options.seconds} s per row after ${options.warmupSeconds} s of warm-up, ${options.sessions} sessions for memory; ` +
        `Node ${process.version}; gateway log ${logPath}\n`,
    );
    const simulators = await startSimulatorsFor(children);
    const gatewayEnv = (extra: Record<string, string>): Record<string, string> => ({
      SPINE_URL: simulators.spine,
      SPINE_ASID: SPINE_DEMO.asid,
      IDP_URL: simulators.idp,
      IDP_CLIENT_ID: IDP_DEMO.clientId,
      IDP_API_TOKEN: IDP_DEMO.apiToken,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      // A sign-in in flight holds a place in its account's and its address's window until the
      // backend answers (docs/security.md), and the sign-in rows sign one account in from one
      // address on every connection at once: both limits at their highest, so up to 100
      // connections measure sign-ins rather than refusals.
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "100",
      LOGIN_MAX_FAILURES_PER_ADDRESS: "1000000",
      // Every row signs one demo user in from all its connections at once; the per-user cap would
      // end their sessions under them (a selectRole then fails), which is not what the rows measure.
      SESSION_MAX_PER_USER: "1000",
      ...extra,
    });
    const gateway = await startGateway(children, gatewayEnv({ FEDERATION_ROUTER_SECRET: ROUTER_SECRET }), logFd);
    const bare = await startBaseline(children, "bare", {});
    const apollo = await startBaseline(children, "apollo", {});
    const proxy = await startBaseline(children, "proxy", {
      BENCH_IDP_URL: simulators.idp,
      BENCH_IDP_CLIENT_ID: IDP_DEMO.clientId,
      BENCH_IDP_API_TOKEN: IDP_DEMO.apiToken,
    });
    // The simulators log every call for tests; emptied while load runs, or they would hold millions.
    const trimmer = setInterval(() => void clearCalls(simulators), 1_000);
    const tally = { errors: 0 };
    const rows: Row[] = [];
    const idpUser = IDP_DEMO.users[0]!;
    const spineUser = SPINE_DEMO.users[0]!;
    const measure = async (name: string, url: string, requests: Request[], note: string): Promise<Row> => {
      // Each row first runs unmeasured for a while, so that no row pays for the JIT and for
      // opening its connections and every row is measured warm.
      if (options.warmupSeconds > 0) await load(url, { ...options, seconds: options.warmupSeconds }, requests, tally);
      const result = await load(url, options, requests, tally);
      const measured = row(name, result, tally, note);
      rows.push(measured);
      write(`  ${name}: ${measured.requestsPerSecond.toFixed(0)} req/s, p99 ${measured.p99} ms, ${measured.errors} errors\n`);
      return measured;
    };
    const post = (path: string, body: unknown, headers: Record<string, string> = {}): Request => ({
      method: "POST",
      path,
      headers: { ...JSON_HEADERS, ...headers },
      body: JSON.stringify(body),
    });

    const hello = post("/graphql", { query: "{ hello }" });
    await measure("baseline: bare node:http, fixed JSON", bare, [countingErrors(hello, tally)], "POST { hello }, fixed body");
    await measure("baseline: Apollo Server hello world", apollo, [countingErrors(hello, tally)], "node:http + executeHTTPGraphQLRequest, defaults");
    await measure(
      "baseline: bare proxy, signin's upstream calls",
      proxy,
      [countingErrors(post("/", { email: idpUser.email, password: idpUser.password }), tally)],
      "IdP signin + user info with got, no GraphQL",
    );

    // A signed-in IdP session whose user info is cached (the sign-in itself caches it).
    const token = await signin(gateway, idpUser.email, idpUser.password);
    const me = post("/graphql", { query: ME }, { authorization: `Bearer ${token}` });
    await measure("gateway: warm me", gateway, [countingErrors(me, tally)], "IdP session, user info cached");
    // The same `me` as a router asks it: on /subgraph (Apollo's whole pipeline, no fast path),
    // then through Hive Gateway in front of it, a process of its own.
    const subgraphMe = post("/subgraph", { query: ME }, { authorization: `Bearer ${token}`, "router-secret": ROUTER_SECRET });
    await measure("gateway /subgraph: warm me", gateway, [countingErrors(subgraphMe, tally)], "as a router asks it; no fast path");
    const hive = await startHiveGateway(children, gateway);
    await measure("Hive Gateway → /subgraph: warm me", hive, [countingErrors(me, tally)], "client → Hive Gateway → gateway");
    await measure(
      "gateway: signin",
      gateway,
      [countingErrors(post("/graphql", { query: SIGNIN, variables: { email: idpUser.email, password: idpUser.password } }), tally)],
      "2 upstream calls each",
    );
    const role = spineUser.permissions[0]!;
    await measure(
      "gateway: Spine createSession + selectRole",
      gateway,
      [
        countingErrors(
          post("/graphql", { query: CREATE_SESSION, variables: { token: spineUser.smartcardToken } }),
          tally,
          (_status, body, context) => {
            context["token"] = (JSON.parse(body) as { data?: { createSession?: { token?: string } } }).data?.createSession?.token;
          },
        ),
        countingErrors(
          {
            ...post("/graphql", { query: SELECT_ROLE, variables: { businessFunction: role.businessFunction, orgIdentifier: role.orgIdentifier } }),
            setupRequest: (request, context) => ({
              ...request,
              headers: { ...request.headers, authorization: `Bearer ${String(context["token"])}` },
            }),
          },
          tally,
        ),
      ],
      "req/s counts both requests; a flow is two",
    );
    clearInterval(trimmer);

    // Cold me: a gateway of its own whose user-info cache keeps answers for 1 s, so the cached
    // answer can honestly have expired; then one burst of concurrent `me` for one session.
    const coldGateway = await startGateway(children, gatewayEnv({ USER_INFO_CACHE_TTL_SECONDS: "1" }), logFd);
    const coldToken = await signin(coldGateway, idpUser.email, idpUser.password);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await clearCalls(simulators);
    const coldResult = await load(
      coldGateway,
      options,
      [countingErrors(post("/graphql", { query: ME }, { authorization: `Bearer ${coldToken}` }), tally)],
      tally,
      {
        connections: options.coldRequests,
        amount: options.coldRequests,
      },
    );
    const coldUserInfoCalls = ((await (await fetch(`${simulators.idp}/__sim/calls?route=userinfo`)).json()) as unknown[]).length;
    const cold = row(
      `gateway: ${options.coldRequests} concurrent cold me, one session`,
      coldResult,
      tally,
      `${coldUserInfoCalls} upstream user-info call(s)`,
    );
    rows.push(cold);

    const memory = { idp: await sessionMemory(options.sessions, "idp"), spine: await sessionMemory(options.sessions, "spine") };

    const byName = (prefix: string): Row => rows.find((r) => r.name.startsWith(prefix))!;
    const bareRps = byName("baseline: bare").requestsPerSecond;
    const warm = byName("gateway: warm me");
    const signinRow = byName("gateway: signin");
    const proxyRow = byName("baseline: bare proxy");
    const targets = [
      {
        target: "warm me ≥ 0.25 × bare node:http",
        measured: `${(warm.requestsPerSecond / bareRps).toFixed(2)} ×`,
        met: warm.requestsPerSecond >= 0.25 * bareRps,
      },
      { target: "warm me p99 ≤ 10 ms", measured: `${warm.p99} ms`, met: warm.p99 <= 10 },
      {
        target: "signin ≥ 0.6 × bare proxy",
        measured: `${(signinRow.requestsPerSecond / proxyRow.requestsPerSecond).toFixed(2)} ×`,
        met: signinRow.requestsPerSecond >= 0.6 * proxyRow.requestsPerSecond,
      },
      { target: `${options.coldRequests} concurrent cold me → 1 user-info call`, measured: String(coldUserInfoCalls), met: coldUserInfoCalls === 1 },
      {
        target: "≤ 1 KB resident memory per live IdP session",
        measured: `${(memory.idp.rssPerSession / 1024).toFixed(2)} KB RSS, ${(memory.idp.heapPerSession / 1024).toFixed(2)} KB heap (${memory.idp.sessions} sessions)`,
        met: memory.idp.found && memory.idp.rssPerSession <= 1024 && memory.idp.heapPerSession <= 1024,
      },
    ];
    const report: BenchReport = { rows, coldUserInfoCalls, memory, targets };
    const text = render(report, bareRps, options);
    write(`\n${text}\n`);
    if (options.out !== undefined) {
      mkdirSync(join(options.out, ".."), { recursive: true });
      writeFileSync(options.out, resultsFile(text, options));
      write(`written to ${options.out}\n`);
    }
    return report;
  } finally {
    await stopAll();
  }
}

function render(report: BenchReport, bareRps: number, options: Settings): string {
  const header = ["row", "req/s", "× bare", "p50 ms", "p99 ms", "errors", "note"];
  const lines = report.rows.map((r) => [
    r.name,
    r.requestsPerSecond.toFixed(0),
    (r.requestsPerSecond / bareRps).toFixed(3),
    String(r.p50),
    String(r.p99),
    String(r.errors),
    r.note,
  ]);
  const { memory } = report;
  const table = markdownTable(header, lines);
  const figures = (kind: SessionMemory): string => `${kind.heapPerSession.toFixed(0)} B heap, ${kind.rssPerSession.toFixed(0)} B RSS`;
  const memoryLine =
    `Memory per live session (${memory.idp.sessions} sessions of one kind in the in-memory store, after a full GC): ` +
    `IdP ${figures(memory.idp)}; Spine, the whole user kept, a role selected: ${figures(memory.spine)}`;
  const targets = markdownTable(
    ["target", "measured", "met"],
    report.targets.map((t) => [t.target, t.measured, t.met ? "yes" : "NO"]),
  );
  return [
    `${options.connections} connections, ${options.seconds} s per row after ${options.warmupSeconds} s unmeasured (cold me: ${options.coldRequests} connections, one request each).`,
    "",
    table,
    "",
    memoryLine,
    "",
    targets,
  ].join("\n");
}

function markdownTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((r) => r[column]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

function resultsFile(text: string, options: Settings): string {
  const cpu = cpus();
  return [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (scripts/bench/main.ts); the latest run replaces this file. Figures depend on the",
    "machine and on what else runs on it: compare the ratios, which are measured in the same run.",
    "",
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}\``,
    `- Machine: Node ${process.version}, ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${process.platform} ${process.arch}`,
    `- Load: autocannon in the benchmark's own process, ${options.connections} keep-alive connections, ${options.seconds} s per row after ${options.warmupSeconds} s unmeasured, loopback`,
    "",
    text,
    "",
  ].join("\n");
}

async function signin(gateway: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${gateway}/graphql`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ query: SIGNIN, variables: { email, password } }),
  });
  const body = (await response.json()) as { data?: { signin?: { token?: string } } };
  const token = body.data?.signin?.token;
  if (token === undefined) throw new Error(`sign-in to the gateway failed (status ${response.status})`);
  return token;
}

async function clearCalls(simulators: { spine: string; idp: string }): Promise<void> {
  await Promise.all([simulators.spine, simulators.idp].map((base) => fetch(`${base}/__sim/calls`, { method: "DELETE" }).catch(() => undefined)));
}

/** The simulators, in the list of processes the run stops at its end. */
async function startSimulatorsFor(children: ChildProcess[]): Promise<{ spine: string; idp: string }> {
  const { process: child, spine, idp } = await startSimulators();
  children.push(child);
  return { spine, idp };
}

async function startGateway(children: ChildProcess[], env: Record<string, string>, logFd: number): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(DIST, "src/main.js")], {
    env: { PATH: process.env["PATH"], ...env, PORT: String(port) },
    // Log and audit trail (stderr by default) to a file: written as in production, not shown.
    stdio: ["ignore", logFd, logFd],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await answering(`${url}/healthz`, child, { withinMs: 15_000 });
  return url;
}

function startBaseline(children: ChildProcess[], kind: string, env: Record<string, string>): Promise<string> {
  return startTelling(children, `baseline ${kind}`, [join(HERE, "baselines.js"), kind], env);
}

/** Hive Gateway over a supergraph composed from the gateway's live SDL (the gateway alone, named `auth`). */
async function startHiveGateway(children: ChildProcess[], gateway: string): Promise<string> {
  const response = await fetch(`${gateway}/subgraph`, {
    method: "POST",
    headers: { ...JSON_HEADERS, "router-secret": ROUTER_SECRET },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const { sdl } = ((await response.json()) as { data: { _service: { sdl: string } } }).data._service;
  const file = join(tmpdir(), `bench-supergraph-${process.pid}.graphql`);
  writeFileSync(file, composeSupergraph([{ name: "auth", url: `${gateway}/subgraph`, sdl }]));
  const url = await startTelling(children, "Hive Gateway", [join(DIST, "scripts/federation/hive-gateway.js")], {
    SUPERGRAPH_FILE: file,
    FEDERATION_ROUTER_SECRET: ROUTER_SECRET,
  });
  // The rows post to /graphql on the URL they are given.
  return url.replace(/\/graphql$/, "");
}

/** A process of its own that tells its URL over IPC once it listens. */
function startTelling(children: ChildProcess[], name: string, args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, args, { env: { PATH: process.env["PATH"], ...env }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve((message as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`${name} exited with code ${code}`)));
  });
}

function sessionMemory(sessions: number, kind: "idp" | "spine"): Promise<SessionMemory> {
  const child = spawn(process.execPath, ["--expose-gc", join(HERE, "session-memory.js"), String(sessions), kind], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve(message as SessionMemory));
    child.once("exit", (code) => reject(new Error(`the memory probe exited with code ${code}`)));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runBenchmark(process.argv.slice(2)).then(
    (report) => process.exit(report.rows.every((r) => r.errors === 0) ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(2);
    },
  );
}
