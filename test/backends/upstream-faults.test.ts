import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createServer, type AddressInfo } from "node:net";
import { BackendError, type BackendFailure } from "../../src/errors/backend-error.js";
import { toPublicError } from "../../src/errors/gateway-error.js";
import { AuthProvider } from "../../src/domain/user.js";
import { startIdpSimulator, startSpineSimulator, type Fault, type SimulatorHandle } from "../../src/simulators/index.js";
import { CreateSessionDocument, SelectRoleDocument, SigninDocument, SignoutDocument } from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack, type GraphQLResult } from "../support/harness.js";

/** The backends' timeout in these stacks, and how much later than it an answer may come. */
const TIMEOUT_MS = 300;
const MARGIN_MS = 700;
const TIMEOUTS = { SPINE_TIMEOUT_MS: String(TIMEOUT_MS), IDP_TIMEOUT_MS: String(TIMEOUT_MS) };

type Code = "UPSTREAM_UNAVAILABLE" | "UPSTREAM_BAD_RESPONSE";

/** One way into a backend through the graph: the operation, the route it reaches, and a check that it worked. */
interface Backend {
  name: string;
  backend: AuthProvider;
  /** The simulator route the fault is armed on. */
  route: string;
  /** The mutation whose error carries the fault. */
  operation: "createSession" | "signin";
  simulator(stack: Stack): SimulatorHandle;
  /** Sends the operation; resolves to the gateway token, or to the failed result. */
  send(stack: Stack): Promise<GraphQLResult<unknown>>;
  tokenOf(result: GraphQLResult<unknown>): string | null | undefined;
  /** How to stand the backend up at a given address, for the case where nothing listens there at first. */
  unreachable?: { without: "withoutSpine" | "withoutIdp"; setting: "SPINE_URL" | "IDP_URL"; start(port: number): Promise<SimulatorHandle> };
}

const createSession = (stack: Stack): Promise<GraphQLResult<unknown>> => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
const signin = (stack: Stack): Promise<GraphQLResult<unknown>> => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });

const backends: Backend[] = [
  {
    name: "Spine A001 (createSession)",
    backend: AuthProvider.SPINE,
    route: "A001",
    operation: "createSession",
    simulator: (stack) => stack.spine,
    send: createSession,
    tokenOf: (result) => (result.data as { createSession?: { token: string | null } } | null)?.createSession?.token,
    unreachable: { without: "withoutSpine", setting: "SPINE_URL", start: (port) => startSpineSimulator({ port }) },
  },
  {
    name: "IdP sign-in (signin)",
    backend: AuthProvider.IDP,
    route: "signin",
    operation: "signin",
    simulator: (stack) => stack.idp,
    send: signin,
    tokenOf: (result) => (result.data as { signin?: { token: string | null } } | null)?.signin?.token,
    unreachable: { without: "withoutIdp", setting: "IDP_URL", start: (port) => startIdpSimulator({ port }) },
  },
  {
    // Sign-in succeeds at the IdP; the user info read right after it is what fails.
    name: "IdP user info (signin)",
    backend: AuthProvider.IDP,
    route: "userinfo",
    operation: "signin",
    simulator: (stack) => stack.idp,
    send: signin,
    tokenOf: (result) => (result.data as { signin?: { token: string | null } } | null)?.signin?.token,
  },
];

const faults: Array<{ name: string; fault: Fault; code: Code }> = [
  { name: "answers slower than the timeout", fault: { kind: "latency", ms: 1_500 }, code: "UPSTREAM_UNAVAILABLE" },
  { name: "drops the connection without an answer", fault: { kind: "drop" }, code: "UPSTREAM_UNAVAILABLE" },
  { name: "resets the connection in the middle of its answer", fault: { kind: "reset-mid-response" }, code: "UPSTREAM_UNAVAILABLE" },
  { name: "answers 500 with an HTML page", fault: { kind: "status", status: 500 }, code: "UPSTREAM_UNAVAILABLE" },
  { name: "answers 503 with an HTML page", fault: { kind: "status", status: 503 }, code: "UPSTREAM_UNAVAILABLE" },
  { name: "answers 200 with a body that is not JSON", fault: { kind: "garbage" }, code: "UPSTREAM_BAD_RESPONSE" },
  { name: "answers 200 with JSON of the wrong shape", fault: { kind: "wrong-shape" }, code: "UPSTREAM_BAD_RESPONSE" },
];

/** What must never reach a client from a failed backend call: addresses, paths, transport codes, bodies, stack frames. */
const INTERNALS: RegExp[] = [
  /127\.0\.0\.1|localhost/,
  /\/v1\/ProfessionalSession|\/api\/1\.0\/sso/,
  /\bE(CONNRESET|CONNREFUSED|TIMEDOUT|PIPE)\b|UND_ERR|socket hang up/i,
  /\bat .*:\d+:\d+|stacktrace|exception/i,
  /<html|<h1>|<title>/i,
  /not JSON|"unexpected"|partial|never arr/,
  /BackendError|RequestError|TimeoutError|ReadError|ParseError/,
  /\b(TIMEOUT|UNREACHABLE|SERVER_ERROR|BAD_RESPONSE|NOT_AUTHENTICATED)\b/,
  /HTTP \d{3}/,
];

/** The one public wording of a backend failure of this code (src/errors/gateway-error.ts). */
function publicMessage(backend: AuthProvider, code: Code): string {
  const failure: BackendFailure = code === "UPSTREAM_UNAVAILABLE" ? "SERVER_ERROR" : "BAD_RESPONSE";
  return toPublicError(new BackendError(backend, failure, "any"))!.message;
}

/** Sends and times the request, as a client waiting on it would. */
async function timed(send: () => Promise<GraphQLResult<unknown>>): Promise<{ result: GraphQLResult<unknown>; elapsedMs: number }> {
  const started = performance.now();
  const result = await send();
  return { result, elapsedMs: performance.now() - started };
}

/** Exactly the contract's error, in the generic words, and nothing of the failure's insides anywhere in the answer. */
function expectUpstreamError(stack: Stack, result: GraphQLResult<unknown>, backend: Backend, code: Code): void {
  expect(codes(result)).toEqual([code]);
  expect(result.errors).toEqual([
    {
      message: publicMessage(backend.backend, code),
      locations: expect.any(Array),
      path: [backend.operation],
      extensions: { code, backend: backend.backend },
    },
  ]);
  expect(result.data).toBeNull();
  const body = stack.responses.at(-1)!;
  for (const internal of INTERNALS) expect(body).not.toMatch(internal);
}

/** The backend serves again: the operation issues a gateway token, which then signs out cleanly. */
async function expectServedAgain(stack: Stack, backend: Backend): Promise<void> {
  const result = await backend.send(stack);
  expect(result.errors).toBeUndefined();
  const token = backend.tokenOf(result);
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const signedOut = await stack.execute(SignoutDocument, {}, { token: token! });
  expect(signedOut.data).toEqual({ signout: true });
}

/** A port on loopback that nothing listens on: taken from the OS, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return port;
}

describe("backend faults as the graph reports them", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: TIMEOUTS });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.spine.resetCalls();
    stack.idp.resetCalls();
  });
  afterEach(() => {
    stack.spine.clearFaults();
    stack.idp.clearFaults();
    // A token the IdP issued during a failed sign-in stays live there; a fresh one per test
    // keeps the gateway's user-info cache from answering in the simulator's place.
    stack.idp.expireTokensOf(idpUser.email);
  });

  describe.each(backends)("$name", (backend) => {
    it.each(faults)("answers $code within the timeout when the backend $name, and serves again once it recovers", async ({ fault, code }) => {
      const simulator = backend.simulator(stack);
      simulator.inject(backend.route, fault);

      const { result, elapsedMs } = await timed(() => backend.send(stack));

      expectUpstreamError(stack, result, backend, code);
      expect(elapsedMs).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      expect(simulator.calls(backend.route)).toHaveLength(1);

      simulator.clearFaults();
      await expectServedAgain(stack, backend);
    });
  });

  describe("calls that change state at a backend", () => {
    /** A Spine session without a role, for A002 and A003 to act on. */
    async function spineSession(): Promise<string> {
      const opened = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
      expect(opened.errors).toBeUndefined();
      return opened.data!.createSession.token!;
    }

    async function idpSession(): Promise<string> {
      const opened = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
      expect(opened.errors).toBeUndefined();
      return opened.data!.signin.token!;
    }

    const calls: Array<{
      call: string;
      simulator(stack: Stack): SimulatorHandle;
      route: string;
      prepare(): Promise<string | undefined>;
      act(token: string | undefined): Promise<GraphQLResult<unknown>>;
      /** What the client is told: sign-out ends the gateway session whatever the backend did. */
      answer: (result: GraphQLResult<unknown>) => void;
    }> = [
      {
        call: "Spine A001 (POST)",
        simulator: (s) => s.spine,
        route: "A001",
        prepare: async () => undefined,
        act: () => createSession(stack),
        answer: (result) => expect(codes(result)).toEqual(["UPSTREAM_UNAVAILABLE"]),
      },
      {
        call: "Spine A002 (PUT)",
        simulator: (s) => s.spine,
        route: "A002",
        prepare: spineSession,
        act: (token) => stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: token! }),
        answer: (result) => expect(codes(result)).toEqual(["UPSTREAM_UNAVAILABLE"]),
      },
      {
        call: "Spine A003 (DELETE)",
        simulator: (s) => s.spine,
        route: "A003",
        prepare: spineSession,
        act: (token) => stack.execute(SignoutDocument, {}, { token: token! }),
        answer: (result) => expect(result.data).toEqual({ signout: true }),
      },
      {
        call: "IdP sign-in (POST)",
        simulator: (s) => s.idp,
        route: "signin",
        prepare: async () => undefined,
        act: () => signin(stack),
        answer: (result) => expect(codes(result)).toEqual(["UPSTREAM_UNAVAILABLE"]),
      },
      {
        call: "IdP sign-out (POST)",
        simulator: (s) => s.idp,
        route: "signout",
        prepare: idpSession,
        act: (token) => stack.execute(SignoutDocument, {}, { token: token! }),
        answer: (result) => expect(result.data).toEqual({ signout: true }),
      },
    ];

    describe.each(calls)("$call", ({ simulator, route, prepare, act, answer }) => {
      it.each<{ fault: Fault; what: string }>([
        { fault: { kind: "drop" }, what: "a dropped connection" },
        { fault: { kind: "reset-mid-response" }, what: "a connection reset mid-response" },
      ])("is sent once and not retried after $what", async ({ fault }) => {
        const token = await prepare();
        simulator(stack).resetCalls();
        simulator(stack).inject(route, fault);

        const result = await act(token);

        answer(result);
        expect(simulator(stack).calls(route)).toHaveLength(1);
      });
    });
  });
});

describe.each(backends.filter((backend) => backend.unreachable !== undefined))("$name when nothing listens at its URL", (backend) => {
  const { without, setting, start } = backend.unreachable!;
  let port: number;
  let stack: Stack;
  let revived: SimulatorHandle | undefined;
  beforeAll(async () => {
    port = await closedPort();
    stack = await Stack.start({ [without]: true, env: { ...TIMEOUTS, [setting]: `http://127.0.0.1:${port}` } });
  });
  afterAll(async () => {
    await stack.close();
    await revived?.close();
  });

  it("answers UPSTREAM_UNAVAILABLE at once, with the generic message", async () => {
    const { result, elapsedMs } = await timed(() => backend.send(stack));

    expectUpstreamError(stack, result, backend, "UPSTREAM_UNAVAILABLE");
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(stack.responses.at(-1)).not.toContain(String(port));
  });

  it("serves again once the backend listens at that address", async () => {
    revived = await start(port);

    await expectServedAgain(stack, backend);
    expect(revived.calls(backend.route)).toHaveLength(1);
  });
});
