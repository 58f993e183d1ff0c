/**
 * The retry policy of issue 4: only the IdP user-info GET is retried, once, after a transient
 * failure, with jittered backoff, within the call's budget, and only while the backend's retry
 * budget lasts. (That every other endpoint is sent exactly once under each fault is pinned by
 * test/backends/upstream-faults.test.ts.)
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { IdpClient } from "../../src/backends/idp/idp.client.js";
import { BackendError } from "../../src/errors/backend-error.js";
import { IDP_DEMO, startIdpSimulator, type Fault, type IdpSimulator } from "../../src/simulators/index.js";
import { MeDocument, SigninDocument } from "../generated/operations.js";
import { idpUser, Stack } from "../support/harness.js";

const BUDGET_MS = 400;

describe("IdP user info through the graph: one retry after a transient failure", () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    // No user-info cache: every `me` asks the IdP.
    stack = await Stack.start({ env: { IDP_TIMEOUT_MS: String(BUDGET_MS), USER_INFO_CACHE_TTL_SECONDS: "0" } });
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    token = signedIn.data!.signin.token!;
    stack.idp.resetCalls();
  });
  afterEach(() => {
    stack.idp.clearFaults();
    stack.idp.expireTokensOf(idpUser.email);
  });

  it.each<{ what: string; fault: Fault }>([
    { what: "a 503", fault: { kind: "status", status: 503, times: 1 } },
    { what: "a dropped connection", fault: { kind: "drop", times: 1 } },
    { what: "a connection reset mid-response", fault: { kind: "reset-mid-response", times: 1 } },
    // Longer than an attempt's half of the budget, so the first attempt times out and the second has time left.
    { what: "a first attempt slower than its share of the budget", fault: { kind: "latency", ms: 4 * BUDGET_MS, times: 1 } },
  ])("answers `me` after $what, asking the IdP twice, within the budget", async ({ fault }) => {
    stack.idp.inject("userinfo", fault);

    const started = performance.now();
    const me = await stack.execute(MeDocument, {}, { token });
    const elapsedMs = performance.now() - started;

    expect(me.errors).toBeUndefined();
    expect(me.data!.me?.id).toBe("idp:6");
    expect(stack.idp.calls("userinfo")).toHaveLength(2);
    expect(elapsedMs).toBeLessThan(BUDGET_MS + 300);
  });

  it("logs each attempt with its number", async () => {
    stack.idp.inject("userinfo", { kind: "status", status: 503, times: 1 });

    await stack.execute(MeDocument, {}, { token });

    const attempts = stack.logs
      .filter((line) => line["msg"] === "upstream call")
      .map((line) => line["upstream"] as { endpoint: string; attempt: number; status?: number; failure?: string })
      .filter((call) => call.endpoint === "userinfo")
      .slice(-2);
    expect(attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: 503, failure: "SERVER_ERROR" }),
      expect.objectContaining({ attempt: 2, status: 200 }),
    ]);
  });
});

describe("IdpClient user info under a sustained fault", () => {
  let idp: IdpSimulator;
  beforeAll(async () => {
    idp = await startIdpSimulator();
  });
  afterAll(() => idp.close());
  beforeEach(() => {
    idp.clearFaults();
    idp.resetCalls();
  });

  function client(options: Partial<ConstructorParameters<typeof IdpClient>[0]> = {}): IdpClient {
    return new IdpClient({
      baseUrl: `${idp.url}/`,
      clientId: IDP_DEMO.clientId,
      apiToken: IDP_DEMO.apiToken,
      timeoutMs: BUDGET_MS,
      timeZone: "UTC",
      // The breaker would stop the calls before the budget shows; its own tests are elsewhere.
      circuitFailureThreshold: 1_000,
      ...options,
    });
  }

  /** How many requests the IdP received for each of `count` user-info calls made one after another. */
  async function requestsPerCall(idpClient: IdpClient, count: number): Promise<number[]> {
    const perCall: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = idp.calls("userinfo").length;
      await expect(idpClient.userInfo("any-token")).rejects.toMatchObject({ failure: "SERVER_ERROR" });
      perCall.push(idp.calls("userinfo").length - before);
    }
    return perCall;
  }

  it("stops retrying once the retry budget is spent, then retries at its ratio", async () => {
    idp.inject("userinfo", { kind: "status", status: 503 });
    // Two retries saved up, a tenth of a retry earned per call.
    const idpClient = client({ retryBudget: { ratio: 0.1, maxTokens: 2 }, random: () => 0 });

    // The saved two are spent on the first two calls; the tenth of a retry each later call
    // earns adds up to a whole one by the eleventh.
    expect(await requestsPerCall(idpClient, 11)).toEqual([2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
  });

  it("adds at most a fifth to the calls by default, after the ten retries saved up", async () => {
    idp.inject("userinfo", { kind: "status", status: 503 });

    const perCall = await requestsPerCall(client({ random: () => 0 }), 60);

    const retries = perCall.reduce((sum, n) => sum + n - 1, 0);
    expect(retries).toBeLessThanOrEqual(10 + 0.2 * 60);
    // Once the saved ones are gone, at most one retry in five calls.
    expect(perCall.slice(-25).filter((n) => n === 2).length).toBeLessThanOrEqual(5);
  });

  it("waits a jittered backoff (up to 50 ms) between the attempts", async () => {
    idp.inject("userinfo", { kind: "status", status: 503 });

    await expect(client({ random: () => 0.99 }).userInfo("any-token")).rejects.toBeInstanceOf(BackendError);
    const [first, second] = idp.calls("userinfo");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(45);

    idp.resetCalls();
    await expect(client({ random: () => 0 }).userInfo("any-token")).rejects.toBeInstanceOf(BackendError);
    const [third, fourth] = idp.calls("userinfo");
    expect(fourth!.at - third!.at).toBeLessThan(45);
  });

  it("retries nothing but transient failures: a 401 is asked once", async () => {
    const idpClient = client();

    await expect(idpClient.userInfo("not-a-live-token")).rejects.toMatchObject({ failure: "NOT_AUTHENTICATED" });
    expect(idp.calls("userinfo")).toHaveLength(1);
  });
});
