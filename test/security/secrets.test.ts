import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { IDP_DEMO, SPINE_DEMO } from "../../src/simulators/index.js";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack, type GraphQLResult } from "../support/harness.js";

type SecretKind = "password" | "smartcard token" | "IdP API token" | "IdP access token" | "Spine session key" | "gateway session token";

interface Secret {
  kind: SecretKind;
  value: string;
  /** For a gateway session token: the index in `stack.responses` of the payload that issued it, the one body allowed to hold it. */
  issuedIn?: number;
}

const WRONG_PASSWORD = "Wr0ng-Passw0rd-typo!";
const INVALID_INPUT_PASSWORD = "Sup3r-secret-pw!";
const REFUSED_SMARTCARD = "AQIC5wM2LY4Sf-refused-by-spine-Xk29fQ=@AAJTSQACMDE=#";
const secondSpineUser = SPINE_DEMO.users[1]!;
/** The shape of a Spine session key (spine.md), to catch one that no recorded call shows. */
const SESSION_KEY_SHAPE = /pro-xapi-session_[0-9a-f-]{36}/;

/** The forms a secret could take in a line or body: as it is, and URL-encoded (IdP paths carry tokens). */
function formsOf(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value)])];
}

/** Names each secret by kind and number, so a failure says what leaked without printing it. */
function labelled(secrets: readonly Secret[]): Array<Secret & { label: string }> {
  const seen = new Map<SecretKind, number>();
  return secrets.map((secret) => {
    const n = (seen.get(secret.kind) ?? 0) + 1;
    seen.set(secret.kind, n);
    return { ...secret, label: `${secret.kind} #${n}` };
  });
}

describe("secrets in responses and logs across both sign-in flows", () => {
  let stack: Stack;
  /** Every secret the clients sent, the gateway held or the backends issued, with where a gateway token may appear. */
  let secrets: Array<Secret & { label: string }>;
  const issued: Secret[] = [];

  /** Runs an operation that issues a gateway token and records which response body carried it. */
  async function issuing<T>(send: () => Promise<GraphQLResult<T>>, tokenOf: (data: T) => string | null): Promise<string> {
    const result = await send();
    expect(result.errors).toBeUndefined();
    const token = tokenOf(result.data!);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    issued.push({ kind: "gateway session token", value: token!, issuedIn: stack.responses.length - 1 });
    return token!;
  }

  async function failing(expected: string, send: () => Promise<GraphQLResult<unknown>>): Promise<void> {
    expect(codes(await send())).toEqual([expected]);
  }

  beforeAll(async () => {
    stack = await Stack.start({ env: { LOG_LEVEL: "debug" } });

    // Spine: createSession, selectRole, me, session, signout; the token from before the role change is tried too.
    const opened = await issuing(
      () => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }),
      (d) => d.createSession.token,
    );
    const spineToken = await issuing(
      () => stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: opened }),
      (d) => d.selectRole.token,
    );
    expect((await stack.execute(MeDocument, {}, { token: spineToken })).data!.me).not.toBeNull();
    expect((await stack.execute(CurrentSessionDocument, {}, { token: spineToken })).data!.session).not.toBeNull();
    expect((await stack.execute(MeDocument, {}, { token: opened })).data!.me).toBeNull();
    expect((await stack.execute(SignoutDocument, {}, { token: spineToken })).data).toEqual({ signout: true });

    // IdP: signin, me, session, signout.
    const idpToken = await issuing(
      () => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }),
      (d) => d.signin.token,
    );
    expect((await stack.execute(MeDocument, {}, { token: idpToken })).data!.me).not.toBeNull();
    expect((await stack.execute(CurrentSessionDocument, {}, { token: idpToken })).data!.session).not.toBeNull();
    expect((await stack.execute(SignoutDocument, {}, { token: idpToken })).data).toEqual({ signout: true });
    expect((await stack.execute(MeDocument, {}, { token: idpToken })).data!.me).toBeNull();

    // Refusals and bad input carrying secrets.
    await failing("UNAUTHENTICATED", () => stack.execute(SigninDocument, { email: idpUser.email, password: WRONG_PASSWORD }));
    await failing("UNAUTHENTICATED", () => stack.execute(CreateSessionDocument, { token: REFUSED_SMARTCARD }));
    await failing("BAD_USER_INPUT", () => stack.execute(SigninDocument, { email: "not-an-email", password: INVALID_INPUT_PASSWORD }));
    await failing("BAD_USER_INPUT", () =>
      stack.post({
        query: "mutation SigninInputVariable($input: SigninInput!) { signin(input: $input) { token } }",
        variables: { input: { email: idpUser.email, password: INVALID_INPUT_PASSWORD, remember: true } },
      }),
    );

    // 5xx from each backend: before a session exists, with a Spine session key in use, and after the IdP issued a token.
    stack.spine.inject("A001", { kind: "status", status: 503, times: 1 });
    await failing("UPSTREAM_UNAVAILABLE", () => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }));
    const second = await issuing(
      () => stack.execute(CreateSessionDocument, { token: secondSpineUser.smartcardToken }),
      (d) => d.createSession.token,
    );
    stack.spine.inject("A002", { kind: "status", status: 503, times: 1 });
    await failing("UPSTREAM_UNAVAILABLE", () =>
      stack.execute(SelectRoleDocument, { businessFunction: "BOOKING_MANAGER", orgIdentifier: "R02" }, { token: second }),
    );
    expect((await stack.execute(SignoutDocument, {}, { token: second })).data).toEqual({ signout: true });
    stack.idp.inject("signin", { kind: "status", status: 503, times: 1 });
    await failing("UPSTREAM_UNAVAILABLE", () => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }));
    // Faulted until cleared: the user-info read is retried once (src/backends policy), so one 503 would not show.
    stack.idp.inject("userinfo", { kind: "status", status: 503 });
    await failing("UPSTREAM_UNAVAILABLE", () => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }));
    stack.idp.clearFaults();

    // What the backends issued, read from what the simulators recorded.
    const accessTokens = stack.idp
      .calls()
      .filter((call) => call.route === "userinfo" || call.route === "signout")
      .map((call) => decodeURIComponent(call.path.split("/").pop()!));
    const sessionKeys = stack.spine
      .calls()
      .map((call) => call.headers["http_x_session_key"])
      .filter((key): key is string => typeof key === "string");

    secrets = labelled([
      ...[idpUser.password, WRONG_PASSWORD, INVALID_INPUT_PASSWORD].map((value) => ({ kind: "password" as const, value })),
      ...[spineUser.smartcardToken, secondSpineUser.smartcardToken, REFUSED_SMARTCARD].map((value) => ({ kind: "smartcard token" as const, value })),
      { kind: "IdP API token", value: IDP_DEMO.apiToken },
      ...[...new Set(accessTokens)].map((value) => ({ kind: "IdP access token" as const, value })),
      ...[...new Set(sessionKeys)].map((value) => ({ kind: "Spine session key" as const, value })),
      ...issued,
    ]);
  });
  afterAll(() => stack.close());

  it("collects every kind of secret from the flows it ran", () => {
    const count = (kind: SecretKind): number => secrets.filter((secret) => secret.kind === kind).length;

    expect(count("password")).toBe(3);
    expect(count("smartcard token")).toBe(3);
    expect(count("IdP API token")).toBe(1);
    // One per sign-in that got as far as user info: the normal one, and the one whose user info failed.
    expect(count("IdP access token")).toBe(2);
    // The first user's session (A002, A003) and the second's (A002 that failed, A003).
    expect(count("Spine session key")).toBe(2);
    expect(count("gateway session token")).toBe(4);
    expect(stack.logs.length).toBeGreaterThan(20);
    expect(stack.logs.some((line) => line["level"] === 20)).toBe(true);
    const notInOwnPayload = secrets
      .filter((secret) => secret.kind === "gateway session token" && !stack.responses[secret.issuedIn!]!.includes(secret.value))
      .map((secret) => secret.label);
    expect(notInOwnPayload).toEqual([]);
  });

  it("writes no secret to any log line", () => {
    const leaks: string[] = [];
    stack.logs.forEach((line, index) => {
      const text = JSON.stringify(line);
      const where = `log line ${index} (${String(line["msg"])})`;
      for (const secret of secrets) {
        if (formsOf(secret.value).some((form) => text.includes(form))) leaks.push(`${secret.label} in ${where}`);
      }
      if (SESSION_KEY_SHAPE.test(text)) leaks.push(`a Spine session key in ${where}`);
    });

    expect(leaks).toEqual([]);
  });

  it("sends no secret in any response body, but each gateway token in the payload that issued it", () => {
    const leaks: string[] = [];
    stack.responses.forEach((body, index) => {
      const where = `response body ${index}`;
      for (const secret of secrets) {
        if (secret.issuedIn === index) continue;
        if (formsOf(secret.value).some((form) => body.includes(form))) leaks.push(`${secret.label} in ${where}`);
      }
      if (SESSION_KEY_SHAPE.test(body)) leaks.push(`a Spine session key in ${where}`);
    });

    expect(leaks).toEqual([]);
  });
});
