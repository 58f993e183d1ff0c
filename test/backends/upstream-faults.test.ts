/**
 * The fault-injection suite of issue 4: every backend endpoint the graph reaches, under every
 * fault, through the simulators' switches and real sockets. For each case: the contract's code
 * and backend extension, an answer within the timeout plus a margin, other users served
 * meanwhile, and normal service once the fault clears.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { AuthProvider } from "../../src/domain/user.js";
import { BackendError, type BackendFailure } from "../../src/errors/backend-error.js";
import { toPublicError } from "../../src/errors/gateway-error.js";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type Fault, type SimulatorHandle } from "../../src/simulators/index.js";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack, type GraphQLResult } from "../support/harness.js";

/** The backends' budget in these stacks, and how much later than it an answer may come. */
const TIMEOUT_MS = 300;
const MARGIN_MS = 700;
/** A request of another user, meanwhile, answers within this: it does not wait behind the fault. */
const BYSTANDER_MS = TIMEOUT_MS;
const ENV = {
  SPINE_TIMEOUT_MS: String(TIMEOUT_MS),
  IDP_TIMEOUT_MS: String(TIMEOUT_MS),
  // Every `me` asks the IdP, so a user-info fault shows at `me` and not a cached answer.
  USER_INFO_CACHE_TTL_SECONDS: "0",
};
/** The IdP user whose requests run meanwhile: not the faulted user, whose sign-out would end a shared token (idp.md). */
const otherIdpUser = IDP_DEMO.users[1]!;
const SIGNOUT_FAILED = "backend sign-out failed; gateway session ended anyway";

type Transient = "slow" | "refused" | "dropped" | "reset" | "500" | "503";
type FaultClass = Transient | "not JSON" | "wrong shape" | 400 | 401 | 403 | 404 | 409 | 422;
const TRANSIENT: readonly FaultClass[] = ["slow", "refused", "dropped", "reset", "500", "503"];

/** What the client is told. */
type Outcome =
  | { error: "UPSTREAM_UNAVAILABLE" | "UPSTREAM_BAD_RESPONSE" }
  | { error: "UPSTREAM_REJECTED"; ersCode: string }
  | { error: "UNAUTHENTICATED"; sessionEnded?: true }
  | { data: Record<string, unknown>; sessionEnded: true };

const ERS_CODE = "INVALID_VALUE";

/** A body each backend sends with a 4xx (spine.md: OperationOutcome; idp.md: the JSON error body). */
function errorBody(backend: AuthProvider, status: number): Pick<Extract<Fault, { kind: "status" }>, "body" | "contentType"> {
  const body =
    backend === AuthProvider.SPINE
      ? {
          resourceType: "OperationOutcome",
          issue: [
            {
              severity: "error",
              code: "invalid",
              details: { coding: [{ system: "http://fhir.nhs.net/ValueSet/ers-apierrorcode-1", code: ERS_CODE }] },
            },
          ],
        }
      : { error: true, message: status === 404 || status === 401 ? "Not authenticated" : "Error", code: status === 404 ? 401 : status };
  return { body: JSON.stringify(body), contentType: "application/json" };
}

/** Each fault, and how it is switched on: a simulator switch, or (refused) a backend that stops listening. */
const faults: Array<{ name: string; fault: FaultClass; switch?: (backend: AuthProvider) => Fault }> = [
  { name: "answers slower than the timeout", fault: "slow", switch: () => ({ kind: "latency", ms: 5 * TIMEOUT_MS }) },
  { name: "refuses connections", fault: "refused" },
  { name: "drops the connection without an answer", fault: "dropped", switch: () => ({ kind: "drop" }) },
  { name: "resets the connection in the middle of its answer", fault: "reset", switch: () => ({ kind: "reset-mid-response" }) },
  { name: "answers 500 with an HTML page", fault: "500", switch: () => ({ kind: "status", status: 500 }) },
  { name: "answers 503 with an HTML page", fault: "503", switch: () => ({ kind: "status", status: 503 }) },
  { name: "answers 200 with a body that is not JSON", fault: "not JSON", switch: () => ({ kind: "garbage" }) },
  { name: "answers 200 with JSON of the wrong shape", fault: "wrong shape", switch: () => ({ kind: "wrong-shape" }) },
  ...([401, 403, 404, 422, 400, 409] as const).map((status) => ({
    name: `answers ${status}`,
    fault: status,
    switch: (backend: AuthProvider): Fault => ({ kind: "status", status, ...errorBody(backend, status) }),
  })),
];

/** Spine's contract: 403 refuses the credential, 422 carries an e-RS code, any other 4xx is off the contract. */
function spineOutcome(fault: FaultClass): Outcome {
  if (TRANSIENT.includes(fault)) return { error: "UPSTREAM_UNAVAILABLE" };
  if (fault === 403) return { error: "UNAUTHENTICATED" };
  if (fault === 422) return { error: "UPSTREAM_REJECTED", ersCode: ERS_CODE };
  return { error: "UPSTREAM_BAD_RESPONSE" };
}

/** The IdP's contract: 401, and 404 in the documented quirk, are "not authenticated"; any other 4xx is off it. */
function idpOutcome(fault: FaultClass): Outcome {
  if (TRANSIENT.includes(fault)) return { error: "UPSTREAM_UNAVAILABLE" };
  if (fault === 401 || fault === 404) return { error: "UNAUTHENTICATED" };
  return { error: "UPSTREAM_BAD_RESPONSE" };
}

/** Sign-out ends the gateway session whatever the backend answers. */
const signedOut = (): Outcome => ({ data: { signout: true }, sessionEnded: true });

interface Endpoint {
  name: string;
  backend: AuthProvider;
  /** The simulator route the fault is armed on. */
  route: string;
  /** The graph field the call serves. */
  field: string;
  /** Whether the field is nullable (a query): its error leaves `{ field: null }`, not `null`. */
  nullable?: true;
  /** What the call needs (a session), made before the fault is armed. */
  prepare(stack: Stack): Promise<string | undefined>;
  act(stack: Stack, token: string | undefined, requestId: string): Promise<GraphQLResult<unknown>>;
  outcome(fault: FaultClass): Outcome;
  /** Attempts the backend sees: user info is retried once after a transient failure (idp.client.ts). */
  attempts(fault: FaultClass): number;
  /** Whether the answer was the backend working normally again. */
  served(stack: Stack, result: GraphQLResult<unknown>, requestId: string): Promise<void>;
}

async function spineSession(stack: Stack): Promise<string> {
  const opened = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
  expect(opened.errors).toBeUndefined();
  return opened.data!.createSession.token!;
}

async function idpSession(stack: Stack): Promise<string> {
  const opened = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
  expect(opened.errors).toBeUndefined();
  return opened.data!.signin.token!;
}

/** A token was issued, and it signs out cleanly. */
async function issued(stack: Stack, token: string | null | undefined): Promise<void> {
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect((await stack.execute(SignoutDocument, {}, { token: token! })).data).toEqual({ signout: true });
}

/** Sign-out reached the backend and it agreed: nothing to warn about. */
function signedOutCleanly(stack: Stack, result: GraphQLResult<unknown>, requestId: string): void {
  expect(result).toMatchObject({ data: { signout: true }, errors: undefined });
  expect(warnedSignoutFailure(stack, requestId)).toBe(false);
}

/**
 * Sign-out got what it wanted from the backend: a 2xx (whatever the body: it reads none) or
 * "already ended" (Spine 403, IdP 401/404). Anything else is logged for an operator.
 */
function signoutAgreed(backend: AuthProvider, fault: FaultClass): boolean {
  if (fault === "not JSON" || fault === "wrong shape") return true;
  return backend === AuthProvider.SPINE ? fault === 403 : fault === 401 || fault === 404;
}

function warnedSignoutFailure(stack: Stack, requestId: string): boolean {
  return stack.logs.some((line) => line["requestId"] === requestId && line["msg"] === SIGNOUT_FAILED);
}

const once = (): number => 1;
const retriedWhenTransient = (fault: FaultClass): number => (TRANSIENT.includes(fault) ? 2 : 1);

const endpoints: Endpoint[] = [
  {
    name: "Spine A001 (createSession)",
    backend: AuthProvider.SPINE,
    route: "A001",
    field: "createSession",
    prepare: async () => undefined,
    act: (stack) => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }),
    outcome: spineOutcome,
    attempts: once,
    served: (stack, result) => issued(stack, (result.data as { createSession?: { token: string | null } })?.createSession?.token),
  },
  {
    name: "Spine A002 (selectRole)",
    backend: AuthProvider.SPINE,
    route: "A002",
    field: "selectRole",
    prepare: spineSession,
    act: (stack, token) => stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: token! }),
    // A 403 here means Spine no longer knows the session key: the gateway session ends with it.
    outcome: (fault) => (fault === 403 ? { error: "UNAUTHENTICATED", sessionEnded: true } : spineOutcome(fault)),
    attempts: once,
    served: (stack, result) => issued(stack, (result.data as { selectRole?: { token: string | null } })?.selectRole?.token),
  },
  {
    name: "Spine A003 (signout)",
    backend: AuthProvider.SPINE,
    route: "A003",
    field: "signout",
    prepare: spineSession,
    act: (stack, token, requestId) => stack.execute(SignoutDocument, {}, { token: token!, headers: { "x-request-id": requestId } }),
    outcome: signedOut,
    attempts: once,
    served: async (stack, result, requestId) => signedOutCleanly(stack, result, requestId),
  },
  {
    name: "IdP sign-in (signin)",
    backend: AuthProvider.IDP,
    route: "signin",
    field: "signin",
    prepare: async () => undefined,
    act: (stack) => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }),
    outcome: idpOutcome,
    attempts: once,
    served: (stack, result) => issued(stack, (result.data as { signin?: { token: string | null } })?.signin?.token),
  },
  {
    // Sign-in succeeds at the IdP; the user info read right after it is what fails.
    name: "IdP user info (signin)",
    backend: AuthProvider.IDP,
    route: "userinfo",
    field: "signin",
    prepare: async () => undefined,
    act: (stack) => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }),
    outcome: idpOutcome,
    attempts: retriedWhenTransient,
    served: (stack, result) => issued(stack, (result.data as { signin?: { token: string | null } })?.signin?.token),
  },
  {
    name: "IdP user info (me)",
    backend: AuthProvider.IDP,
    route: "userinfo",
    field: "me",
    nullable: true,
    prepare: idpSession,
    act: (stack, token) => stack.execute(MeDocument, {}, { token: token! }),
    // The IdP no longer knows the token: the session has ended, `me` is null (the contract), not an error.
    outcome: (fault) => (fault === 401 || fault === 404 ? { data: { me: null }, sessionEnded: true } : idpOutcome(fault)),
    attempts: retriedWhenTransient,
    served: async (_stack, result) => {
      expect(result.errors).toBeUndefined();
      expect((result.data as { me: { id: string } | null }).me?.id).toBe("idp:6");
    },
  },
  {
    name: "IdP sign-out (signout)",
    backend: AuthProvider.IDP,
    route: "signout",
    field: "signout",
    prepare: idpSession,
    act: (stack, token, requestId) => stack.execute(SignoutDocument, {}, { token: token!, headers: { "x-request-id": requestId } }),
    outcome: signedOut,
    attempts: once,
    served: async (stack, result, requestId) => signedOutCleanly(stack, result, requestId),
  },
];

/** What must never reach a client from a failed backend call: addresses, paths, transport codes, bodies, stack frames. */
const INTERNALS: RegExp[] = [
  /127\.0\.0\.1|localhost/,
  /\/v1\/ProfessionalSession|\/api\/1\.0\/sso/,
  /\bE(CONNRESET|CONNREFUSED|TIMEDOUT|PIPE)\b|UND_ERR|socket hang up/i,
  /\bat .*:\d+:\d+|stacktrace|exception/i,
  /<html|<h1>|<title>/i,
  /not JSON|"unexpected"|partial|never arr|OperationOutcome|Not authenticated/,
  /BackendError|RequestError|TimeoutError|ReadError|ParseError/,
  /\b(TIMEOUT|UNREACHABLE|SERVER_ERROR|BAD_RESPONSE|NOT_AUTHENTICATED|CIRCUIT_OPEN)\b/,
  /HTTP \d{3}/,
];

/** The one public wording of a backend failure (src/errors/gateway-error.ts). */
function publicMessage(backend: AuthProvider, failure: BackendFailure, ersCode?: string): string {
  return toPublicError(new BackendError(backend, failure, "any", { ersCode }))!.message;
}

/** Exactly the contract's answer, and nothing of the failure's insides anywhere in it. */
function expectOutcome(result: GraphQLResult<unknown>, endpoint: Endpoint, outcome: Outcome): void {
  if ("data" in outcome) {
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual(outcome.data);
  } else {
    expect(codes(result)).toEqual([outcome.error]);
    expect(result.data).toEqual(endpoint.nullable ? { [endpoint.field]: null } : null);
    const [error] = result.errors!;
    expect(error!.path).toEqual([endpoint.field]);
    if (outcome.error === "UNAUTHENTICATED") {
      // The refusal is the user's, not the backend's failure: a message for that step, no backend detail needed.
      expect(error!.message).toEqual(expect.any(String));
    } else {
      const failure: BackendFailure =
        outcome.error === "UPSTREAM_UNAVAILABLE" ? "SERVER_ERROR" : outcome.error === "UPSTREAM_REJECTED" ? "REJECTED" : "BAD_RESPONSE";
      const ersCode = "ersCode" in outcome ? outcome.ersCode : undefined;
      expect(error!.message).toBe(publicMessage(endpoint.backend, failure, ersCode));
      expect(error!.extensions).toEqual({ code: outcome.error, backend: endpoint.backend, ...(ersCode === undefined ? {} : { ersCode }) });
    }
  }
  // The answer as sent, re-serialised: other users' answers arrive meanwhile, so the last raw body may be theirs.
  const answer = JSON.stringify({ data: result.data, errors: result.errors });
  for (const internal of INTERNALS) expect(answer).not.toMatch(internal);
}

/** Sends and times a request, as a client waiting on it would. */
async function timed<T>(send: () => Promise<T>): Promise<{ result: T; elapsedMs: number }> {
  const started = performance.now();
  const result = await send();
  return { result, elapsedMs: performance.now() - started };
}

/**
 * Other users' whole flows on the backend that is not faulted, plus a request of a signed-in
 * user of the faulted backend that needs no call to it. Every request must succeed and come
 * back quickly: none waits behind the faulted call.
 */
async function bystanders(
  stack: Stack,
  faulted: AuthProvider,
  spineSessionToken: string,
): Promise<Array<{ step: string; ok: boolean; elapsedMs: number }>> {
  const steps: Array<{ step: string; ok: boolean; elapsedMs: number }> = [];
  const step = async <T>(name: string, send: () => Promise<GraphQLResult<T>>, ok: (data: T) => boolean): Promise<T | undefined> => {
    const { result, elapsedMs } = await timed(send);
    steps.push({ step: name, ok: result.errors === undefined && ok(result.data as T), elapsedMs });
    return result.data ?? undefined;
  };
  if (faulted === AuthProvider.SPINE) {
    const signedIn = await step(
      "signin",
      () => stack.execute(SigninDocument, { email: otherIdpUser.email, password: otherIdpUser.password }),
      (d) => d.signin.token !== null,
    );
    const token = signedIn?.signin.token ?? "";
    await step(
      "me",
      () => stack.execute(MeDocument, {}, { token }),
      (d) => d.me?.id === "idp:18",
    );
    await step(
      "signout",
      () => stack.execute(SignoutDocument, {}, { token }),
      (d) => d.signout,
    );
    await step(
      "Spine session",
      () => stack.execute(CurrentSessionDocument, {}, { token: spineSessionToken }),
      (d) => d.session?.roleSelected === true,
    );
  } else {
    const created = await step(
      "createSession",
      () => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }),
      (d) => d.createSession.token !== null,
    );
    let token = created?.createSession.token ?? "";
    const selected = await step(
      "selectRole",
      () => stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token }),
      (d) => d.selectRole.session.roleSelected,
    );
    token = selected?.selectRole.token ?? "";
    await step(
      "me",
      () => stack.execute(MeDocument, {}, { token }),
      (d) => d.me?.provider === AuthProvider.SPINE,
    );
    await step(
      "signout",
      () => stack.execute(SignoutDocument, {}, { token }),
      (d) => d.signout,
    );
  }
  return steps;
}

describe("backend faults as the graph reports them", () => {
  let stack: Stack;
  /** A Spine session with a role, whose requests need no call to Spine. */
  let spineSessionToken: string;
  /** Puts back a backend that was stopped to refuse connections. */
  let restore: (() => Promise<void>) | undefined;
  let requests = 0;

  beforeAll(async () => {
    stack = await Stack.start({ env: ENV });
    // A user of its own: the tests open (and leave) sessions of spineUser, more than the per-user
    // cap (SESSION_MAX_PER_USER) keeps, and this session must outlive them all.
    const opened = await stack.execute(CreateSessionDocument, { token: SPINE_DEMO.users[1]!.smartcardToken });
    spineSessionToken = opened.data!.createSession.token!;
    const selected = await stack.execute(
      SelectRoleDocument,
      { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
      { token: spineSessionToken },
    );
    spineSessionToken = selected.data!.selectRole.token!;
  });
  afterAll(() => stack.close());
  afterEach(async () => {
    await restore?.();
    restore = undefined;
    stack.spine.clearFaults();
    stack.idp.clearFaults();
    // A token the IdP issued during a failed call stays live there: a fresh one per test.
    stack.idp.expireTokensOf(idpUser.email);
  });

  const simulatorOf = (backend: AuthProvider): SimulatorHandle => (backend === AuthProvider.SPINE ? stack.spine : stack.idp);

  /** Stops the backend, so its port refuses connections; `restore` starts it again on the same port. */
  async function refuse(backend: AuthProvider): Promise<void> {
    const { port } = simulatorOf(backend);
    await simulatorOf(backend).close();
    restore = async () => {
      if (backend === AuthProvider.SPINE) stack.spine = await startSpineSimulator({ port, now: stack.clock.now });
      else stack.idp = await startIdpSimulator({ port, now: stack.clock.now });
    };
  }

  describe.each(endpoints)("$name", (endpoint) => {
    it.each(faults)(
      "when the backend $name: answers as the contract says, in time, while other users are served; then serves again",
      async ({ fault, switch: arm }) => {
        const token = await endpoint.prepare(stack);
        const requestId = `fault-${++requests}`;
        if (arm === undefined) await refuse(endpoint.backend);
        else {
          simulatorOf(endpoint.backend).resetCalls();
          simulatorOf(endpoint.backend).inject(endpoint.route, arm(endpoint.backend));
        }

        const [{ result, elapsedMs }, others] = await Promise.all([
          timed(() => endpoint.act(stack, token, requestId)),
          bystanders(stack, endpoint.backend, spineSessionToken),
        ]);
        const attempts = simulatorOf(endpoint.backend).calls(endpoint.route).length;
        const outcome = endpoint.outcome(fault);
        const sessionAfter = "sessionEnded" in outcome ? await stack.execute(CurrentSessionDocument, {}, { token: token! }) : undefined;
        // The fault clears and the endpoint is used again before anything is asserted: its success
        // also resets the backend's circuit breaker, so a failing case cannot open it for the next.
        await restore?.();
        restore = undefined;
        simulatorOf(endpoint.backend).clearFaults();
        const recoveredId = `recovered-${requests}`;
        const recovered = await endpoint.act(stack, await endpoint.prepare(stack), recoveredId);

        expectOutcome(result, endpoint, outcome);
        expect(elapsedMs).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
        if (arm !== undefined) expect(attempts).toBe(endpoint.attempts(fault));
        if (endpoint.field === "signout") {
          expect(warnedSignoutFailure(stack, requestId)).toBe(!signoutAgreed(endpoint.backend, fault));
        }
        if (sessionAfter !== undefined) expect(sessionAfter.data).toEqual({ session: null });
        expect(others).toEqual(others.map(({ step }) => ({ step, ok: true, elapsedMs: expect.any(Number) })));
        for (const other of others) expect(other.elapsedMs).toBeLessThan(BYSTANDER_MS);
        await endpoint.served(stack, recovered, recoveredId);
      },
    );
  });
});
