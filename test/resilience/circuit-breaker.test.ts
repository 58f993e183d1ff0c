/**
 * The circuit breaker of issue 4, per backend: repeated failures open it, calls then fail at
 * once without reaching the backend and /readyz says so; after the cool-down one probe goes
 * through, and its outcome closes or reopens the circuit.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { CircuitBreaker, type CircuitChange } from "../../src/backends/resilience/circuit-breaker.js";
import { AuthProvider } from "../../src/domain/user.js";
import { IDP_DEMO, type Fault, type SimulatorHandle } from "../../src/simulators/index.js";
import { CreateSessionDocument, MeDocument, SelectRoleDocument, SigninDocument, SignoutDocument } from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack, type GraphQLResult } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

const TIMEOUT_MS = 300;
/** The breaker's settings, other than their defaults (5, 10 s) so that the tests show BREAKER_* reach the breaker. */
const THRESHOLD = 3;
const COOL_DOWN_MS = 30_000;
/** An answer from an open circuit comes well before a backend call could time out. */
const FAST_MS = 100;
const otherIdpUser = IDP_DEMO.users[1]!;

interface Backend {
  name: string;
  backend: AuthProvider;
  route: string;
  simulator(stack: Stack): SimulatorHandle;
  /** The call whose failures open the circuit; resolves to its result. */
  call(stack: Stack): Promise<GraphQLResult<unknown>>;
  /** A signed-in user's request that needs another endpoint of the same backend. */
  other: { route: string; prepare(stack: Stack): Promise<string>; call(stack: Stack, token: string): Promise<GraphQLResult<unknown>> };
  /** A whole flow on the other backend, which must go on working. */
  unaffected(stack: Stack): Promise<void>;
}

async function spineFlow(stack: Stack): Promise<void> {
  const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
  expect(created.errors).toBeUndefined();
  const selected = await stack.execute(
    SelectRoleDocument,
    { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
    { token: created.data!.createSession.token! },
  );
  expect(selected.errors).toBeUndefined();
  expect((await stack.execute(SignoutDocument, {}, { token: selected.data!.selectRole.token! })).data).toEqual({ signout: true });
}

async function idpFlow(stack: Stack): Promise<void> {
  const signedIn = await stack.execute(SigninDocument, { email: otherIdpUser.email, password: otherIdpUser.password });
  expect(signedIn.errors).toBeUndefined();
  const token = signedIn.data!.signin.token!;
  expect((await stack.execute(MeDocument, {}, { token })).data!.me?.id).toBe("idp:18");
  expect((await stack.execute(SignoutDocument, {}, { token })).data).toEqual({ signout: true });
}

const backends: Backend[] = [
  {
    name: "Spine",
    backend: AuthProvider.SPINE,
    route: "A001",
    simulator: (stack) => stack.spine,
    call: (stack) => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }),
    other: {
      route: "A002",
      prepare: async (stack) => (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token!,
      call: (stack, token) => stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token }),
    },
    unaffected: idpFlow,
  },
  {
    name: "IdP",
    backend: AuthProvider.IDP,
    route: "signin",
    simulator: (stack) => stack.idp,
    call: (stack) => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }),
    other: {
      route: "userinfo",
      prepare: async (stack) => (await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password })).data!.signin.token!,
      call: (stack, token) => stack.execute(MeDocument, {}, { token }),
    },
    unaffected: spineFlow,
  },
];

async function timed<T>(send: () => Promise<T>): Promise<{ result: T; elapsedMs: number }> {
  const started = performance.now();
  const result = await send();
  return { result, elapsedMs: performance.now() - started };
}

async function readiness(stack: Stack): Promise<{ status: number; body: { status: string; down?: string[]; checks: Record<string, string> } }> {
  const response = await fetch(`${stack.url}/readyz`);
  return { status: response.status, body: (await response.json()) as never };
}

function circuitChanges(stack: Stack): Array<CircuitChange & { backend: string }> {
  return stack.logs.filter((line) => line["msg"] === "backend circuit changed").map((line) => line["circuit"] as CircuitChange & { backend: string });
}

function expectUnavailable(result: GraphQLResult<unknown>, backend: AuthProvider): void {
  expect(codes(result)).toEqual(["UPSTREAM_UNAVAILABLE"]);
  expect(result.errors![0]!.extensions).toEqual({ code: "UPSTREAM_UNAVAILABLE", backend });
}

describe.each(backends)("$name circuit breaker, through the graph", (backend) => {
  let stack: Stack;
  const key = backend.backend === AuthProvider.SPINE ? "spine" : "idp";
  beforeAll(async () => {
    // No user-info cache: an IdP `me` needs the IdP.
    stack = await Stack.start({
      env: {
        SPINE_TIMEOUT_MS: String(TIMEOUT_MS),
        IDP_TIMEOUT_MS: String(TIMEOUT_MS),
        USER_INFO_CACHE_TTL_SECONDS: "0",
        BREAKER_FAILURE_THRESHOLD: String(THRESHOLD),
        BREAKER_COOL_DOWN_MS: String(COOL_DOWN_MS),
      },
    });
  });
  afterAll(() => stack.close());
  afterEach(async () => {
    // Close the circuit again for the next test: no fault, cool-down over, one successful call.
    backend.simulator(stack).clearFaults();
    stack.clock.advance(COOL_DOWN_MS);
    await backend.call(stack);
    stack.idp.expireTokensOf(idpUser.email);
  });

  /** Five calls that each wait out the timeout, all at once, as a burst of users would. */
  async function openCircuit(fault: Fault = { kind: "latency", ms: 5 * TIMEOUT_MS }): Promise<void> {
    backend.simulator(stack).inject(backend.route, fault);
    backend.simulator(stack).resetCalls();
    const results = await Promise.all(Array.from({ length: THRESHOLD }, () => backend.call(stack)));
    for (const result of results) expectUnavailable(result, backend.backend);
    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(THRESHOLD);
  }

  it(`opens after ${THRESHOLD} consecutive failures: calls then fail at once without reaching the backend, and /readyz says it is down`, async () => {
    const otherToken = await backend.other.prepare(stack);
    await openCircuit();

    expect(circuitChanges(stack).at(-1)).toEqual({ backend: backend.backend, from: "closed", to: "open", failures: THRESHOLD });
    const { result, elapsedMs } = await timed(() => backend.call(stack));
    expectUnavailable(result, backend.backend);
    expect(elapsedMs).toBeLessThan(FAST_MS);
    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(THRESHOLD);
    // Every endpoint of that backend: the circuit is the backend's, not the route's.
    backend.simulator(stack).resetCalls();
    expectUnavailable(await backend.other.call(stack, otherToken), backend.backend);
    expect(backend.simulator(stack).calls(backend.other.route)).toHaveLength(0);

    const ready = await readiness(stack);
    expect(ready.status).toBe(503);
    expect(ready.body.down).toEqual([key]);
    expect(ready.body.checks[key]).toBe("down");
  });

  it("keeps serving the other backend's users while it is open", async () => {
    await openCircuit();

    await backend.unaffected(stack);
  });

  it("stays open for BREAKER_COOL_DOWN_MS: calls are refused without reaching the backend, /readyz says down", async () => {
    await openCircuit();
    // A second short of it: the test clock runs on with real time too, which this leaves room for.
    stack.clock.advance(COOL_DOWN_MS - 1_000);

    expect((await readiness(stack)).status).toBe(503);
    expectUnavailable(await backend.call(stack), backend.backend);
    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(THRESHOLD);
  });

  it("lets one probe through after the cool-down; its success closes the circuit and service resumes", async () => {
    await openCircuit();
    stack.clock.advance(COOL_DOWN_MS);
    expect((await readiness(stack)).status).toBe(200);
    // The probe is slow (within the timeout), so the calls right behind it find the circuit half-open.
    backend.simulator(stack).inject(backend.route, { kind: "latency", ms: TIMEOUT_MS / 3, times: 1 });
    backend.simulator(stack).resetCalls();

    const probe = backend.call(stack);
    await waitFor(() => backend.simulator(stack).calls(backend.route).length === 1);
    const behind = await Promise.all([backend.call(stack), backend.call(stack)]);

    for (const result of behind) expectUnavailable(result, backend.backend);
    expect((await probe).errors).toBeUndefined();
    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(1);
    expect(circuitChanges(stack).slice(-2)).toEqual([
      { backend: backend.backend, from: "open", to: "half-open", failures: 0 },
      { backend: backend.backend, from: "half-open", to: "closed", failures: 0 },
    ]);
    const after = await backend.call(stack);
    expect(after.errors).toBeUndefined();
    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(2);
    expect((await readiness(stack)).status).toBe(200);
  });

  it("reopens for another cool-down when the probe fails", async () => {
    await openCircuit({ kind: "status", status: 503 });
    stack.clock.advance(COOL_DOWN_MS);
    backend.simulator(stack).resetCalls();

    expectUnavailable(await backend.call(stack), backend.backend);
    expect(circuitChanges(stack).at(-1)).toMatchObject({ from: "half-open", to: "open" });
    const { result, elapsedMs } = await timed(() => backend.call(stack));

    expectUnavailable(result, backend.backend);
    expect(elapsedMs).toBeLessThan(FAST_MS);
    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(1);
    expect((await readiness(stack)).status).toBe(503);
  });

  it("does not open on refusals: a backend answering 4xx is working", async () => {
    const refusal: Fault =
      backend.backend === AuthProvider.SPINE
        ? { kind: "status", status: 403, body: "", contentType: "application/json" }
        : {
            kind: "status",
            status: 401,
            body: JSON.stringify({ error: true, message: "Not authenticated", code: 401 }),
            contentType: "application/json",
          };
    backend.simulator(stack).inject(backend.route, refusal);
    backend.simulator(stack).resetCalls();

    for (let i = 0; i < 2 * THRESHOLD; i++) expect(codes(await backend.call(stack))).toEqual(["UNAUTHENTICATED"]);

    expect(backend.simulator(stack).calls(backend.route)).toHaveLength(2 * THRESHOLD);
    expect((await readiness(stack)).status).toBe(200);
  });
});

describe("CircuitBreaker", () => {
  let now = 0;
  const breaker = (): CircuitBreaker => new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1_000, now: () => now });

  it("counts consecutive failures only: a success in between starts the count again", () => {
    const circuit = breaker();

    circuit.admit()!.failed();
    circuit.admit()!.succeeded();
    circuit.admit()!.failed();

    expect(circuit.state).toBe("closed");
    circuit.admit()!.failed();
    expect(circuit.state).toBe("open");
    expect(circuit.admit()).toBeUndefined();
  });

  it("is not closed by a late success of a call admitted before it opened: only the probe decides", () => {
    const circuit = breaker();
    const early = circuit.admit()!;
    circuit.admit()!.failed();
    circuit.admit()!.failed();

    early.succeeded();

    expect(circuit.state).toBe("open");
  });

  it("reads half-open once the cool-down is over, and admits a single probe", () => {
    const circuit = breaker();
    circuit.admit()!.failed();
    circuit.admit()!.failed();

    now += 999;
    expect(circuit.state).toBe("open");
    now += 1;
    expect(circuit.state).toBe("half-open");
    const probe = circuit.admit();
    expect(probe).toBeDefined();
    expect(circuit.admit()).toBeUndefined();

    probe!.succeeded();
    expect(circuit.state).toBe("closed");
  });

  it("counts an outcome once, however often it is reported", () => {
    const circuit = breaker();
    const permit = circuit.admit()!;

    permit.failed();
    permit.failed();

    expect(circuit.state).toBe("closed");
  });
});
