/**
 * Cookie mode (SESSION_COOKIE=on), CORS for listed origins, the Sandbox with cookies and the
 * example app's files, over real HTTP against the simulators. The browser's side of the same
 * rules is test/e2e/example-app.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import { randomUUID } from "node:crypto";
import { CreateSessionDocument, CurrentSessionDocument, SelectRoleDocument, SigninDocument, SignoutDocument } from "../generated/operations.js";
import { idpUser, spineUser, Stack } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

const LISTED = "http://127.0.0.1:5173";
const UNLISTED = "http://127.0.0.1:5174";
const IDLE_SECONDS = 600;
const ABSOLUTE_SECONDS = 3600;

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: any; errors?: Array<{ extensions?: { code?: string } }> } | undefined;
  setCookies: string[];
}

/** POST /graphql as a browser app would, with whatever cookie or bearer header the test gives. */
async function send(
  url: string,
  document: Parameters<typeof print>[0],
  variables: Record<string, unknown>,
  options: { cookie?: string; bearer?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
      ...(options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` }),
      ...options.headers,
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const text = await response.text();
  let body: Answer["body"];
  try {
    body = JSON.parse(text) as Answer["body"];
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, setCookies: response.headers.getSetCookie() };
}

/** The one `__Host-session` Set-Cookie of an answer, split into its value and attributes. */
function sessionCookieOf(answer: Answer): { value: string; attributes: Record<string, string | true>; header: string } {
  const headers = answer.setCookies.filter((cookie) => cookie.startsWith("__Host-session="));
  expect(headers).toHaveLength(1);
  const [pair, ...rest] = headers[0]!.split(";").map((part) => part.trim());
  const attributes: Record<string, string | true> = {};
  for (const attribute of rest) {
    const at = attribute.indexOf("=");
    attributes[(at === -1 ? attribute : attribute.slice(0, at)).toLowerCase()] = at === -1 ? true : attribute.slice(at + 1);
  }
  return { value: pair!.slice("__Host-session=".length), attributes, header: headers[0]! };
}

describe("cookie mode (SESSION_COOKIE=on)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({
      env: {
        SESSION_COOKIE: "on",
        CORS_ORIGINS: LISTED,
        SESSION_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
        SESSION_ABSOLUTE_TIMEOUT_SECONDS: String(ABSOLUTE_SECONDS),
      },
    });
  });
  afterAll(() => stack.close());

  async function spineSession(): Promise<string> {
    const answer = await send(stack.url, CreateSessionDocument, { token: spineUser.smartcardToken });
    expect(answer.body?.errors).toBeUndefined();
    return sessionCookieOf(answer).value;
  }

  it("sets createSession's session in a __Host- cookie (HttpOnly, Secure, SameSite=Strict, Path=/, no Domain) for the session's absolute lifetime, and answers token null", async () => {
    const answer = await send(stack.url, CreateSessionDocument, { token: spineUser.smartcardToken });

    expect(answer.body?.errors).toBeUndefined();
    expect(answer.body?.data.createSession.token).toBeNull();
    const cookie = sessionCookieOf(answer);
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { "max-age": maxAge, ...flags } = cookie.attributes;
    expect(flags).toEqual({ path: "/", secure: true, httponly: true, samesite: "Strict" });
    // Rounded down to whole seconds, so it never outlives the session: a second short at most, as the request took time.
    expect(Number(maxAge)).toBeGreaterThanOrEqual(ABSOLUTE_SECONDS - 2);
    expect(Number(maxAge)).toBeLessThanOrEqual(ABSOLUTE_SECONDS);
    // The token is in the cookie only: not in the body.
    expect(JSON.stringify(answer.body)).not.toContain(cookie.value);
  });

  it("sets signin's session in the cookie as well", async () => {
    const answer = await send(stack.url, SigninDocument, { email: idpUser.email, password: idpUser.password });

    expect(answer.body?.data.signin.token).toBeNull();
    expect(sessionCookieOf(answer).attributes["httponly"]).toBe(true);
  });

  it("authenticates a request by the cookie alone", async () => {
    const token = await spineSession();

    const answer = await send(stack.url, CurrentSessionDocument, {}, { cookie: `theme=dark; __Host-session=${token}` });

    expect(answer.body?.data.session).toMatchObject({ provider: "SPINE", roleSelected: false });
    // Reading a session sets no cookie.
    expect(answer.setCookies).toEqual([]);
  });

  it("replaces the cookie at selectRole, and the old cookie stops working", async () => {
    const old = await spineSession();
    const [permission] = spineUser.permissions;

    const answer = await send(
      stack.url,
      SelectRoleDocument,
      { businessFunction: permission!.businessFunction, orgIdentifier: permission!.orgIdentifier },
      { cookie: `__Host-session=${old}` },
    );

    expect(answer.body?.data.selectRole.token).toBeNull();
    const rotated = sessionCookieOf(answer);
    expect(rotated.value).not.toBe(old);
    expect(rotated.attributes).toMatchObject({ path: "/", secure: true, httponly: true, samesite: "Strict" });
    expect((await send(stack.url, CurrentSessionDocument, {}, { cookie: `__Host-session=${old}` })).body?.data.session).toBeNull();
    expect(
      (await send(stack.url, CurrentSessionDocument, {}, { cookie: `__Host-session=${rotated.value}` })).body?.data.session.permission,
    ).toMatchObject({
      businessFunction: permission!.businessFunction,
    });
  });

  it("clears the cookie at signout (Max-Age=0) and ends the session", async () => {
    const token = await spineSession();

    const answer = await send(stack.url, SignoutDocument, {}, { cookie: `__Host-session=${token}` });

    expect(answer.body?.data.signout).toBe(true);
    const cleared = sessionCookieOf(answer);
    expect(cleared.value).toBe("");
    expect(cleared.attributes).toMatchObject({ "max-age": "0", path: "/", secure: true, httponly: true, samesite: "Strict" });
    expect((await send(stack.url, CurrentSessionDocument, {}, { cookie: `__Host-session=${token}` })).body?.data.session).toBeNull();
  });

  it("clears a stale cookie at signout even when its session had already ended", async () => {
    const answer = await send(stack.url, SignoutDocument, {}, { cookie: `__Host-session=${"A".repeat(43)}` });

    expect(answer.body?.data.signout).toBe(false);
    expect(sessionCookieOf(answer).attributes["max-age"]).toBe("0");
  });

  it("still accepts a bearer header (non-browser clients), which wins over a cookie", async () => {
    const first = await spineSession();
    const second = await send(stack.url, SigninDocument, { email: idpUser.email, password: idpUser.password });
    const idpToken = sessionCookieOf(second).value;

    const bearerOnly = await send(stack.url, CurrentSessionDocument, {}, { bearer: first });
    const both = await send(stack.url, CurrentSessionDocument, {}, { bearer: idpToken, cookie: `__Host-session=${first}` });

    expect(bearerOnly.body?.data.session.provider).toBe("SPINE");
    expect(both.body?.data.session.provider).toBe("IDP");
  });

  it("refuses a session whose cookie outlived its idle timeout", async () => {
    const token = await spineSession();

    stack.clock.advance((IDLE_SECONDS + 1) * 1000);

    expect((await send(stack.url, CurrentSessionDocument, {}, { cookie: `__Host-session=${token}` })).body?.data.session).toBeNull();
  });

  it("refuses a cross-site form POST (text/plain) with CSRF prevention, and the session lives on", async () => {
    const token = await spineSession();

    const response = await fetch(`${stack.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "text/plain", cookie: `__Host-session=${token}` },
      body: JSON.stringify({ query: "mutation { signout }" }),
    });

    expect(response.status).toBe(400);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect((await send(stack.url, CurrentSessionDocument, {}, { cookie: `__Host-session=${token}` })).body?.data.session).not.toBeNull();
  });

  it("writes no cookie token to the log or the audit trail", async () => {
    const created = sessionCookieOf(await send(stack.url, CreateSessionDocument, { token: spineUser.smartcardToken })).value;
    const [permission] = spineUser.permissions;
    const rotated = sessionCookieOf(
      await send(
        stack.url,
        SelectRoleDocument,
        { businessFunction: permission!.businessFunction, orgIdentifier: permission!.orgIdentifier },
        { cookie: `__Host-session=${created}` },
      ),
    ).value;
    const requestId = `cookie-log-${randomUUID()}`;
    await send(stack.url, SignoutDocument, {}, { cookie: `__Host-session=${rotated}`, headers: { "x-request-id": requestId } });
    // Request lines are written when the response closes: the last one, once it is there.
    await waitFor(() => stack.logs.some((line) => line["msg"] === "request" && line["requestId"] === requestId), {
      what: "the sign-out's request line",
    });

    const written = JSON.stringify([stack.logs, stack.audit]);
    expect(stack.logs.length).toBeGreaterThan(0);
    expect(written).not.toContain(created);
    expect(written).not.toContain(rotated);
  });

  describe("CORS", () => {
    function preflight(origin: string): Promise<Response> {
      return fetch(`${stack.url}/graphql`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    }

    it("answers a listed origin's preflight with that origin, credentials, the allowed headers and methods", async () => {
      const response = await preflight(LISTED);

      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(LISTED);
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      expect(response.headers.get("access-control-allow-methods")).toBe("GET, POST");
      expect(response.headers.get("access-control-allow-headers")?.split(", ")).toEqual(
        expect.arrayContaining(["content-type", "authorization", "apollo-require-preflight", "x-apollo-operation-name", "x-request-id"]),
      );
      expect(Number(response.headers.get("access-control-max-age"))).toBeGreaterThan(0);
      expect(response.headers.get("vary")).toBe("Origin");
    });

    it("gives an unlisted origin's preflight no CORS header at all", async () => {
      const response = await preflight(UNLISTED);

      expect(response.status).toBe(403);
      expect([...response.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([]);
    });

    it("allows a listed origin to read an answer with credentials, and not an unlisted one", async () => {
      const listed = await send(stack.url, CurrentSessionDocument, {}, { headers: { origin: LISTED } });
      const unlisted = await send(stack.url, CurrentSessionDocument, {}, { headers: { origin: UNLISTED } });

      expect(listed.headers.get("access-control-allow-origin")).toBe(LISTED);
      expect(listed.headers.get("access-control-allow-credentials")).toBe("true");
      expect(unlisted.headers.get("access-control-allow-origin")).toBeNull();
      expect(unlisted.headers.get("access-control-allow-credentials")).toBeNull();
    });

    it("marks every response as varying by Origin", async () => {
      for (const path of ["/graphql", "/healthz", "/app/"]) {
        expect((await fetch(`${stack.url}${path}`, { headers: { origin: UNLISTED } })).headers.get("vary")).toBe("Origin");
      }
    });
  });

  describe("Apollo Sandbox", () => {
    it("is configured to send cookies with its requests", async () => {
      const page = await (await fetch(`${stack.url}/graphql`, { headers: { accept: "text/html" } })).text();

      expect(page).toMatch(/"includeCookies":\s*true/);
    });

    it("offers the gateway's own explorer and the example app when Sandbox cannot load (Apollo's offline message replaced)", async () => {
      const page = await (await fetch(`${stack.url}/graphql`, { headers: { accept: "text/html" } })).text();

      expect(page).toContain('<a href="explorer/">GraphiQL explorer</a>');
      expect(page).toContain('<a href="app/">example app</a>');
      expect(page).not.toContain("it appears that you might be offline");
      // The empty box Sandbox would fill does not cover the links.
      expect(page).toMatch(/#embeddableSandbox:empty \{\s*pointer-events: none;/);
    });
  });

  describe("the explorer at /explorer/", () => {
    it("serves its page, script and stylesheet under a content security policy that admits only this origin", async () => {
      const responses = await Promise.all(
        ["/explorer/", "/explorer/explorer.js", "/explorer/explorer.css"].map((path) => fetch(`${stack.url}${path}`)),
      );

      for (const response of responses) {
        expect(response.status).toBe(200);
        const policy = response.headers.get("content-security-policy")!;
        expect(policy).toContain("default-src 'none'");
        expect(policy).toContain("script-src 'self';");
        expect(policy).toContain("connect-src 'self';");
        expect(policy).not.toMatch(/unsafe-|https?:/);
      }
      expect(await responses[0]!.text()).toContain('<script type="module" src="explorer.js">');
    });
  });

  describe("the example app at /app/", () => {
    it("serves its page with a content security policy, and its compiled scripts", async () => {
      const page = await fetch(`${stack.url}/app/`);
      const script = await fetch(`${stack.url}/app/app.js`);

      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(await page.text()).toContain('<script type="module" src="app.js">');
      expect(script.status).toBe(200);
      expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    });

    it("serves nothing outside its own files", async () => {
      for (const path of ["/app/..%2Fpackage.json", "/app/%2E%2E/package.json", "/app/tsconfig.json", "/app/src/app.ts"]) {
        expect((await fetch(`${stack.url}${path}`)).status).toBe(404);
      }
    });
  });
});

describe("bearer mode (the default)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("answers the token in the payload, sets no cookie, and ignores a session cookie", async () => {
    const answer = await send(stack.url, CreateSessionDocument, { token: spineUser.smartcardToken });
    const token = answer.body?.data.createSession.token as string;

    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.setCookies).toEqual([]);
    expect((await send(stack.url, CurrentSessionDocument, {}, { cookie: `__Host-session=${token}` })).body?.data.session).toBeNull();
    expect((await send(stack.url, CurrentSessionDocument, {}, { bearer: token })).body?.data.session).not.toBeNull();
  });

  it("gives no origin CORS access when CORS_ORIGINS is unset", async () => {
    const response = await fetch(`${stack.url}/graphql`, { method: "OPTIONS", headers: { origin: LISTED, "access-control-request-method": "POST" } });

    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("production (NODE_ENV=production)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { NODE_ENV: "production" } });
  });
  afterAll(() => stack.close());

  it("does not serve the example app", async () => {
    expect((await fetch(`${stack.url}/app/`)).status).toBe(404);
  });
});
