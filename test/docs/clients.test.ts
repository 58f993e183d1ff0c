/**
 * docs/clients.md: every example runs here, against a real gateway on the simulators, exactly
 * as the guide shows it (the guide's code blocks are compared with docs/examples/, which this
 * test imports or executes).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client, fetchExchange, gql } from "@urql/core";
import { apolloClientBearer } from "../../docs/examples/apollo-client-bearer.js";
import { apolloClientCookie } from "../../docs/examples/apollo-client-cookie.js";
import { graphqlRequestBearer } from "../../docs/examples/graphql-request.js";
import { urqlBearer } from "../../docs/examples/urql.js";
import { idpUser, Stack } from "../support/harness.js";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), "utf8");
const ME = { displayName: idpUser.userInfo["name"], provider: "IDP" };

/**
 * A fetch that keeps cookies between calls, as a browser does (Node's fetch keeps none): what
 * `credentials: "include"` relies on in the browser.
 */
function cookieKeepingFetch(jar: Map<string, string>): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (jar.size > 0) headers.set("cookie", [...jar].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(input, { ...init, headers });
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(";")[0]!;
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
    }
    return response;
  };
}

describe("docs/clients.md", () => {
  let bearer: Stack;
  let cookie: Stack;
  beforeAll(async () => {
    [bearer, cookie] = await Promise.all([Stack.start(), Stack.start({ env: { SESSION_COOKIE: "on" } })]);
  });
  afterAll(() => Promise.all([bearer?.close(), cookie?.close()]));

  it("shows each example exactly as it is in docs/examples/, which these tests run", () => {
    const guide = read("docs/clients.md");
    const shown = [...guide.matchAll(/<!-- example: (\S+) -->\n```\w+\n([\s\S]*?)```/g)].map((match) => [match[1]!, match[2]!] as const);

    expect(shown.map(([path]) => path).sort()).toEqual(
      [
        "docs/examples/apollo-client-bearer.ts",
        "docs/examples/apollo-client-cookie.ts",
        "docs/examples/urql.ts",
        "docs/examples/graphql-request.ts",
        "docs/examples/curl-cookie-jar.sh",
      ].sort(),
    );
    for (const [path, code] of shown) expect(code).toBe(read(path));
  });

  it("Apollo Client in bearer mode signs in and reads me", async () => {
    // Apollo's cache asks for __typename with every object.
    expect(await apolloClientBearer(bearer.url, idpUser.email, idpUser.password)).toEqual({ __typename: "User", ...ME });
  });

  it("Apollo Client in cookie mode signs in (token null, the cookie kept) and reads me", async () => {
    const jar = new Map<string, string>();

    const answer = await apolloClientCookie(cookie.url, idpUser.email, idpUser.password, cookieKeepingFetch(jar));

    expect(answer).toEqual({ token: null, me: { __typename: "User", ...ME } });
    expect([...jar.keys()]).toEqual(["__Host-session"]);
  });

  it("urql with preferGetMethod: false signs in and reads me", async () => {
    expect(await urqlBearer(bearer.url, idpUser.email, idpUser.password)).toEqual(ME);
  });

  describe("urql with its defaults (queries as GET)", () => {
    const query = gql`
      query Me {
        me {
          displayName
        }
      }
    `;

    it("is refused by CSRF prevention with 400 BAD_REQUEST", async () => {
      const client = new Client({ url: `${bearer.url}/graphql`, exchanges: [fetchExchange] });

      const { data, error } = await client.query(query, {}).toPromise();

      expect(data).toBeUndefined();
      expect(error?.response?.status).toBe(400);
      expect(error?.graphQLErrors.map((e) => e.extensions["code"])).toEqual(["BAD_REQUEST"]);
      expect(error?.message).toContain("Cross-Site Request Forgery");
    });

    it("is answered with the preflight header instead", async () => {
      const client = new Client({
        url: `${bearer.url}/graphql`,
        exchanges: [fetchExchange],
        fetchOptions: { headers: { "apollo-require-preflight": "true" } },
      });

      const { data, error } = await client.query(query, {}).toPromise();

      expect(error).toBeUndefined();
      expect(data).toEqual({ me: null });
    });
  });

  it("graphql-request signs in and reads me", async () => {
    expect(await graphqlRequestBearer(bearer.url, idpUser.email, idpUser.password)).toEqual(ME);
  });

  it("curl with a cookie jar signs in, reads me with the jar's cookie, and signs out", async () => {
    const folder = mkdtempSync(join(tmpdir(), "curl-jar-"));
    try {
      const { stdout } = await run("bash", [new URL("docs/examples/curl-cookie-jar.sh", root).pathname], {
        cwd: folder,
        env: { ...process.env, GATEWAY: cookie.url },
        timeout: 10_000,
      });
      const [signin, me, signout] = stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as unknown);

      expect(signin).toEqual({ data: { signin: { token: null, session: { provider: "IDP" } } } });
      expect(me).toEqual({ data: { me: ME } });
      expect(signout).toEqual({ data: { signout: true } });
      // The sign-out's Set-Cookie emptied the jar of the session.
      expect(readFileSync(join(folder, "cookies.txt"), "utf8")).not.toMatch(/__Host-session\t\S/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
