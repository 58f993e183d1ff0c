import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { IDP_DEMO, SPINE_DEMO } from "../../src/simulators/index.js";
import { CreateSessionDocument, MeDocument, SelectRoleDocument, SigninDocument, SignoutDocument } from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack } from "../support/harness.js";

const WRONG_PASSWORD = "Wr0ng-Passw0rd-audit!";
const REFUSED_SMARTCARD = "AQIC5wM2LY4Sf-refused-audit-Xk29fQ=@AAJTSQACMDE=#";

/**
 * Every line of the application log and of the audit trail, captured over every flow and
 * every audit event kind (issue 8), holds no password, smartcard token, IdP access token,
 * IdP API token, Spine session key or gateway session token.
 */
describe("the log and the audit trail of a test run", () => {
  let stack: Stack;
  const secrets: Array<{ kind: string; value: string }> = [];

  beforeAll(async () => {
    // One session per user: a second sign-in of one user ends the first (session.evicted); every other flow here holds one.
    stack = await Stack.start({
      env: { LOG_LEVEL: "trace", LOGIN_MAX_FAILURES_PER_ACCOUNT: "1", SESSION_IDLE_TIMEOUT_SECONDS: "600", SESSION_MAX_PER_USER: "1" },
    });
    const keep = (kind: string, value: string | null | undefined): string => {
      secrets.push({ kind, value: value! });
      return value!;
    };

    const opened = keep(
      "gateway session token",
      (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token,
    );
    expect(codes(await stack.execute(SelectRoleDocument, { businessFunction: "BOOKING_MANAGER", orgIdentifier: "R09" }, { token: opened }))).toEqual([
      "FORBIDDEN",
    ]);
    const selected = keep(
      "gateway session token",
      (await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: opened })).data!.selectRole
        .token,
    );
    expect((await stack.execute(SignoutDocument, {}, { token: selected })).data).toEqual({ signout: true });
    const idpToken = keep(
      "gateway session token",
      (await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password })).data!.signin.token,
    );
    expect((await stack.execute(MeDocument, {}, { token: idpToken })).data!.me).not.toBeNull();
    expect(
      codes(await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: idpToken })),
    ).toEqual(["FORBIDDEN"]);
    expect((await stack.execute(SignoutDocument, {}, { token: idpToken })).data).toEqual({ signout: true });
    expect(codes(await stack.execute(SigninDocument, { email: idpUser.email, password: WRONG_PASSWORD }))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await stack.execute(SigninDocument, { email: idpUser.email, password: WRONG_PASSWORD }))).toEqual(["RATE_LIMITED"]);
    expect(codes(await stack.execute(CreateSessionDocument, { token: REFUSED_SMARTCARD }))).toEqual(["UNAUTHENTICATED"]);
    const evictedUser = SPINE_DEMO.users[2]!.smartcardToken;
    for (let i = 0; i < 2; i += 1)
      keep("gateway session token", (await stack.execute(CreateSessionDocument, { token: evictedUser })).data!.createSession.token);
    const expiring = keep(
      "gateway session token",
      (await stack.execute(CreateSessionDocument, { token: SPINE_DEMO.users[1]!.smartcardToken })).data!.createSession.token,
    );
    stack.clock.advance(601_000);
    expect((await stack.execute(MeDocument, {}, { token: expiring })).data).toEqual({ me: null });

    for (const password of [idpUser.password, WRONG_PASSWORD]) keep("password", password);
    for (const token of [spineUser.smartcardToken, SPINE_DEMO.users[1]!.smartcardToken, SPINE_DEMO.users[2]!.smartcardToken, REFUSED_SMARTCARD])
      keep("smartcard token", token);
    keep("IdP API token", IDP_DEMO.apiToken);
    for (const call of stack.idp.calls().filter((c) => c.route === "userinfo" || c.route === "signout")) {
      keep("IdP access token", decodeURIComponent(call.path.split("/").pop()!));
    }
    for (const call of stack.spine.calls()) {
      const key = call.headers["http_x_session_key"];
      if (typeof key === "string") keep("Spine session key", key);
    }
  });
  afterAll(() => stack.close());

  it("covers every audit event kind and every kind of secret", () => {
    expect(new Set(stack.audit.map((event) => event["event"]))).toEqual(
      new Set([
        "spine.session.created",
        "refused.forbidden",
        "role.selected",
        "signout",
        "signin",
        "refused.rate_limited",
        "session.expired",
        "session.evicted",
      ]),
    );
    expect(new Set(secrets.map((secret) => secret.kind))).toEqual(
      new Set(["gateway session token", "password", "smartcard token", "IdP API token", "IdP access token", "Spine session key"]),
    );
  });

  it("holds none of them, as they are or URL-encoded", () => {
    const captured = [...stack.logs, ...stack.audit].map((line) => JSON.stringify(line)).join("\n");
    // Named by kind, so a failure says what leaked without printing it.
    const leaked = secrets
      .filter(({ value }) => [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)].some((form) => captured.includes(form)))
      .map((s) => s.kind);

    expect(stack.logs.length).toBeGreaterThan(20);
    expect(leaked).toEqual([]);
  });
});
