import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import {
  CreateSessionDocument,
  MeAndSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack } from "../support/harness.js";
import { describeWithRedis, RedisInspector } from "../support/redis.js";
import { deltas, parseExposition } from "./prometheus.js";

async function scrape(stack: Stack): Promise<{ contentType: string | null; samples: Map<string, number> }> {
  const response = await fetch(`${stack.url}/metrics`);
  expect(response.status).toBe(200);
  return { contentType: response.headers.get("content-type"), samples: parseExposition(await response.text()) };
}

describe("request id", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("round-trips a sent X-Request-Id into the response, the request log line and the audit event", async () => {
    const requestId = `obs-${randomUUID()}`;

    const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }, { headers: { "x-request-id": requestId } });

    expect(result.headers.get("x-request-id")).toBe(requestId);
    expect(stack.logs.filter((line) => line["msg"] === "request" && line["requestId"] === requestId)).toEqual([
      expect.objectContaining({ operation: "CreateSession", outcome: "OK", status: 200 }),
    ]);
    expect(stack.audit.filter((event) => event["requestId"] === requestId)).toEqual([expect.objectContaining({ event: "spine.session.created" })]);
  });

  it("generates one when none is sent, and returns it", async () => {
    const result = await stack.execute(MeDocument, {});

    const requestId = result.headers.get("x-request-id");
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stack.logs.some((line) => line["msg"] === "request" && line["requestId"] === requestId)).toBe(true);
  });
});

describe("GET /metrics", () => {
  let stack: Stack;
  beforeAll(async () => {
    // One failure locks the account, so the second wrong password is refused by the limits.
    stack = await Stack.start({ env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: "1" } });
  });
  afterAll(() => stack.close());

  it("serves the Prometheus text format with Node's process metrics and the gateway's own", async () => {
    const { contentType, samples } = await scrape(stack);

    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(samples.has("process_cpu_user_seconds_total")).toBe(true);
    expect(samples.has("nodejs_eventloop_lag_seconds")).toBe(true);
    expect(samples.get('gateway_circuit_state{backend="SPINE"}')).toBe(0);
    expect(samples.get('gateway_circuit_state{backend="IDP"}')).toBe(0);
    expect(samples.get("gateway_sessions_live")).toBe(0);
  });

  it("moves each counter by exactly the calls a known sequence of both flows makes", async () => {
    const { samples: before } = await scrape(stack);

    const opened = (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token!;
    expect(codes(await stack.execute(SelectRoleDocument, { businessFunction: "BOOKING_MANAGER", orgIdentifier: "R09" }, { token: opened }))).toEqual([
      "FORBIDDEN",
    ]);
    const spineToken = (await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: opened }))
      .data!.selectRole.token!;
    expect((await stack.execute(MeDocument, {}, { token: spineToken })).data!.me).not.toBeNull();
    expect((await stack.execute(SignoutDocument, {}, { token: spineToken })).data).toEqual({ signout: true });
    const idpToken = (await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password })).data!.signin.token!;
    expect((await stack.execute(MeDocument, {}, { token: idpToken })).data!.me).not.toBeNull();
    expect((await stack.execute(MeAndSessionDocument, {})).data).toEqual({ me: null, session: null });
    expect(codes(await stack.execute(SigninDocument, { email: idpUser.email, password: "Wr0ng-pass" }))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await stack.execute(SigninDocument, { email: idpUser.email, password: "Wr0ng-pass" }))).toEqual(["RATE_LIMITED"]);

    const { samples: after } = await scrape(stack);
    const requests = {
      'gateway_requests_total{operation="createSession",outcome="OK"}': 1,
      'gateway_requests_total{operation="selectRole",outcome="FORBIDDEN"}': 1,
      'gateway_requests_total{operation="selectRole",outcome="OK"}': 1,
      'gateway_requests_total{operation="me",outcome="OK"}': 2,
      'gateway_requests_total{operation="signout",outcome="OK"}': 1,
      'gateway_requests_total{operation="signin",outcome="OK"}': 1,
      'gateway_requests_total{operation="me+session",outcome="OK"}': 1,
      'gateway_requests_total{operation="signin",outcome="UNAUTHENTICATED"}': 1,
      'gateway_requests_total{operation="signin",outcome="RATE_LIMITED"}': 1,
    };
    expect(deltas(before, after, "gateway_requests_total")).toEqual(requests);
    expect(deltas(before, after, "gateway_request_duration_seconds_count")).toEqual(
      Object.fromEntries(
        Object.entries(requests).map(([series, n]) => [series.replace("gateway_requests_total", "gateway_request_duration_seconds_count"), n]),
      ),
    );
    const upstream = {
      'gateway_upstream_calls_total{backend="SPINE",endpoint="A001",outcome="201"}': 1,
      'gateway_upstream_calls_total{backend="SPINE",endpoint="A002",outcome="200"}': 1,
      'gateway_upstream_calls_total{backend="SPINE",endpoint="A003",outcome="204"}': 1,
      'gateway_upstream_calls_total{backend="IDP",endpoint="signin",outcome="200"}': 1,
      'gateway_upstream_calls_total{backend="IDP",endpoint="userinfo",outcome="200"}': 1,
      'gateway_upstream_calls_total{backend="IDP",endpoint="signin",outcome="401"}': 1,
    };
    expect(deltas(before, after, "gateway_upstream_calls_total")).toEqual(upstream);
    expect(deltas(before, after, "gateway_upstream_call_duration_seconds_count")).toEqual(
      Object.fromEntries(
        Object.entries(upstream).map(([series, n]) => [
          series.replace("gateway_upstream_calls_total", "gateway_upstream_call_duration_seconds_count"),
          n,
        ]),
      ),
    );
    // The sign-in reads fresh (bypass) and fills the cache; the IdP `me` finds it there.
    expect(deltas(before, after, "gateway_user_info_cache_total")).toEqual({
      'gateway_user_info_cache_total{result="bypass"}': 1,
      'gateway_user_info_cache_total{result="hit"}': 1,
    });
    expect(deltas(before, after, "gateway_rate_limit_refusals_total")).toEqual({ 'gateway_rate_limit_refusals_total{flow="signin"}': 1 });
    // The Spine session ended; the IdP session lives.
    expect(after.get("gateway_sessions_live")).toBe(1);
    expect(deltas(before, after, "gateway_audit_events_total")).toEqual({
      'gateway_audit_events_total{event="spine.session.created",result="written"}': 1,
      'gateway_audit_events_total{event="refused.forbidden",result="written"}': 1,
      'gateway_audit_events_total{event="role.selected",result="written"}': 1,
      'gateway_audit_events_total{event="signout",result="written"}': 1,
      'gateway_audit_events_total{event="signin",result="written"}': 2,
      'gateway_audit_events_total{event="refused.rate_limited",result="written"}': 1,
    });
  });

  it("counts a user-info read the cache cannot answer as a miss", async () => {
    // Two sessions of one IdP user share the access token (idp.md); signing one out drops the cached user info.
    const supervisor = { email: "karim.uddin@example.org", password: "demo-supervisor-pass" };
    const first = (await stack.execute(SigninDocument, supervisor)).data!.signin.token!;
    const second = (await stack.execute(SigninDocument, supervisor)).data!.signin.token!;
    expect((await stack.execute(SignoutDocument, {}, { token: first })).data).toEqual({ signout: true });
    const { samples: before } = await scrape(stack);

    expect((await stack.execute(MeDocument, {}, { token: second })).data).toEqual({ me: null });

    const { samples: after } = await scrape(stack);
    expect(deltas(before, after, "gateway_user_info_cache_total")).toEqual({ 'gateway_user_info_cache_total{result="miss"}': 1 });
  });

  it("shows an open circuit as 2 and counts the refused attempts as CIRCUIT_OPEN", async () => {
    stack.spine.inject("A001", { kind: "status", status: 503 });
    for (let i = 0; i < 5; i++) {
      expect(codes(await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }))).toEqual(["UPSTREAM_UNAVAILABLE"]);
    }
    const { samples: before } = await scrape(stack);

    expect(codes(await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }))).toEqual(["UPSTREAM_UNAVAILABLE"]);
    stack.spine.clearFaults();

    const { samples: after } = await scrape(stack);
    expect(after.get('gateway_circuit_state{backend="SPINE"}')).toBe(2);
    expect(before.get('gateway_upstream_calls_total{backend="SPINE",endpoint="A001",outcome="SERVER_ERROR"}')).toBe(5);
    expect(deltas(before, after, "gateway_upstream_calls_total")).toEqual({
      'gateway_upstream_calls_total{backend="SPINE",endpoint="A001",outcome="CIRCUIT_OPEN"}': 1,
    });
  });
});

describeWithRedis("gateway_sessions_live on Redis", (redisUrl) => {
  let stack: Stack;
  let redis: RedisInspector;
  const issued: string[] = [];
  beforeAll(async () => {
    stack = await Stack.start({ env: { REDIS_URL: redisUrl } });
    redis = await RedisInspector.connect(redisUrl);
  });
  afterAll(async () => {
    await redis?.forget(issued);
    await redis?.close();
    await stack?.close();
  });

  it("counts session::* keys with a SCAN, and reuses the count between scrapes rather than scanning the keyspace each time", async () => {
    issued.push((await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token!);

    // The shared Redis holds other test files' sessions too: at least this one is counted.
    const first = (await scrape(stack)).samples.get("gateway_sessions_live")!;
    expect(first).toBeGreaterThanOrEqual(1);
    issued.push((await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token!);
    expect((await scrape(stack)).samples.get("gateway_sessions_live")).toBe(first);
  });
});
