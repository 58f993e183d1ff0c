/**
 * docs/errors.md against the code: its table lists exactly the codes the gateway can answer
 * (the contract's, Apollo's request codes the mask lets through, and those the HTTP layer
 * writes itself), and for each one a request can provoke, the status it documents.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { ErrorCode } from "../../src/errors/error-codes.js";
import { REQUEST_ERROR_CODES } from "../../src/errors/mask.js";
import { MAX_BODY_BYTES } from "../../src/http/server.js";
import { idpUser, Stack } from "../support/harness.js";

const DOC = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

/** The table's rows: code and its HTTP status cell. */
const documented = new Map([...DOC.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((row) => [row[1]!, row[2]!.trim()]));

/** Codes written as literals by the HTTP layer, outside Apollo (`extensions: { code: "..." }`). */
function literalCodes(file: string): string[] {
  const source = readFileSync(new URL(`../../src/${file}`, import.meta.url), "utf8");
  return [...source.matchAll(/code: "([A-Z_]+)"/g)].map((match) => match[1]!);
}

describe("docs/errors.md", () => {
  it("lists every code the gateway can answer, and no other", () => {
    const answerable = new Set([...Object.values(ErrorCode), ...REQUEST_ERROR_CODES, ...literalCodes("http/server.ts")]);

    expect([...documented.keys()].sort()).toEqual([...answerable].sort());
  });

  describe("gives the status each code comes with", () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await Stack.start();
    });
    afterAll(() => stack.close());

    async function send(url: string, init: RequestInit): Promise<{ status: number; codes: string[] }> {
      const response = await fetch(`${stack.url}${url}`, init);
      const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      return { status: response.status, codes: (body.errors ?? []).map((error) => String(error.extensions?.code)) };
    }
    const post = (body: unknown): Promise<{ status: number; codes: string[] }> =>
      send("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });

    it.each<[string, string, number, () => Promise<{ status: number; codes: string[] }>]>([
      ["a document that is not GraphQL", "GRAPHQL_PARSE_FAILED", 400, () => post({ query: "{ me {" })],
      ["a field the schema lacks", "GRAPHQL_VALIDATION_FAILED", 400, () => post({ query: "{ mee { id } }" })],
      [
        "a required variable missing",
        "BAD_USER_INPUT",
        400,
        () => post({ query: "mutation ($t: String!) { createSession(input: { token: $t }) { token } }" }),
      ],
      [
        "an empty token (input validation)",
        "BAD_USER_INPUT",
        200,
        () => post({ query: 'mutation { createSession(input: { token: "" }) { token } }' }),
      ],
      [
        "a wrong password",
        "UNAUTHENTICATED",
        200,
        () => post({ query: `mutation { signin(input: { email: "${idpUser.email}", password: "not-the-password" }) { token } }` }),
      ],
      ["an operationName the document lacks", "OPERATION_RESOLUTION_FAILURE", 400, () => post({ query: "{ me { id } }", operationName: "Other" })],
      ["a batch", "BAD_REQUEST", 400, () => post([{ query: "{ me { id } }" }])],
      ["a GET without a preflight header (CSRF prevention)", "BAD_REQUEST", 400, () => send("/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D", {})],
      [
        "a mutation sent with GET",
        "BAD_REQUEST",
        405,
        () => send("/graphql?query=mutation%20%7B%20signout%20%7D", { headers: { "apollo-require-preflight": "true" } }),
      ],
      ["a body over the limit", "BAD_REQUEST", 413, () => post(" ".repeat(MAX_BODY_BYTES + 1))],
      [
        "a persisted query's hash not seen before",
        "PERSISTED_QUERY_NOT_FOUND",
        200,
        () => post({ extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } }),
      ],
      [
        "a persisted query whose hash does not match its text",
        "BAD_REQUEST",
        400,
        () => post({ query: "{ me { id } }", extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } }),
      ],
    ])("%s: %s with %i", async (_case, code, status, request) => {
      const answer = await request();

      expect(answer).toEqual({ status, codes: [code] });
      expect(documented.get(code)).toContain(String(status));
    });
  });
});
