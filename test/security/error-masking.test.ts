/**
 * Errors are masked in one place (src/errors/mask.ts, maskError): the contract's codes and
 * Apollo's request codes pass, with no value of the client's echoed; anything else becomes a
 * generic INTERNAL_SERVER_ERROR whose detail goes only to the log, under the request id.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLString, type GraphQLFormattedError } from "graphql";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { ApolloServer } from "@apollo/server";
import { BackendError } from "../../src/errors/backend-error.js";
import { StoreError } from "../../src/errors/store-error.js";
import { ErrorCode } from "../../src/errors/error-codes.js";
import { GatewayError } from "../../src/errors/gateway-error.js";
import { AuthProvider } from "../../src/domain/user.js";
import type { GatewayContext } from "../../src/graph/context.js";
import { TOO_COMPLEX, maskError } from "../../src/errors/mask.js";
import { createApollo } from "../../src/graphql/apollo.js";
import { ONE_SENSITIVE_MUTATION } from "../../src/graphql/limits.js";
import { createHttpServer } from "../../src/http/server.js";
import { createLogger } from "../../src/logging/logger.js";
import { waitFor } from "../support/wait.js";

/** A value that must not come back: distinctive, so a leak cannot hide. */
const SECRET = "Sup3r-secret-pw!";

/** What graphql-js and Apollo hand formatError: the formatted error and the error itself. */
function masked(error: Error, formatted: Partial<GraphQLFormattedError> = {}): GraphQLFormattedError {
  const asGraphQL = error instanceof GraphQLError ? error : new GraphQLError(error.message, { originalError: error, path: ["field"] });
  return maskError({ ...asGraphQL.toJSON(), ...formatted }, asGraphQL);
}

describe("maskError", () => {
  it.each([
    ["a plain Error", new Error(`connection string redis://user:${SECRET}@host`)],
    ["a TypeError from a bug", new TypeError(`Cannot read properties of undefined (reading '${SECRET}')`)],
    ["a GraphQLError with a code outside the contract", new GraphQLError(SECRET, { extensions: { code: "SOMETHING_ELSE" } })],
    ["a GraphQLError with no code", new GraphQLError(SECRET)],
  ])("answers %s with a generic INTERNAL_SERVER_ERROR and nothing of its detail", (_name, error) => {
    const result = masked(error);

    expect(result.message).toBe("Internal server error.");
    expect(result.extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it.each([
    [
      "a GatewayError",
      new GatewayError(ErrorCode.FORBIDDEN, "The user does not hold this permission."),
      "FORBIDDEN",
      "The user does not hold this permission.",
    ],
    [
      "a backend failure",
      new BackendError(AuthProvider.IDP, "TIMEOUT", "signin"),
      "UPSTREAM_UNAVAILABLE",
      "The identity provider is not available right now.",
    ],
    ["a store failure", new StoreError("get", new Error(SECRET)), "STORE_UNAVAILABLE", "The session store is unavailable; try again shortly."],
  ])("passes %s with its contract code and its own words", (_name, error, code, message) => {
    const result = masked(error);

    expect(result.extensions?.["code"]).toBe(code);
    expect(result.message).toBe(message);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it.each([TOO_COMPLEX, ONE_SENSITIVE_MUTATION, 'Cannot query field "mee" on type "Query".'])(
    "passes the document-shape refusal %j as GRAPHQL_VALIDATION_FAILED, word for word",
    (message) => {
      const error = new GraphQLError(message, { extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });

      expect(masked(error)).toEqual({ message, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
    },
  );

  it.each(["more that", "more than"])(
    "turns graphql-js's token-limit parse error (%s) into the generic refusal, without the limit or its location",
    (words) => {
      const error = new GraphQLError(`Syntax Error: Document contains ${words} 1000 tokens. Parsing aborted.`, {
        extensions: { code: "GRAPHQL_PARSE_FAILED" },
      });

      const result = masked(error, { locations: [{ line: 1, column: 4321 }] });

      expect(result).toEqual({ message: TOO_COMPLEX, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
    },
  );

  it.each([
    [`Syntax Error: Unexpected Name "${SECRET}".`, "Syntax Error: Unexpected Name."],
    [`Syntax Error: Unexpected String "${SECRET}".`, "Syntax Error: Unexpected String."],
    [`Syntax Error: Unexpected BlockString "${SECRET}\n${SECRET}".`, "Syntax Error: Unexpected BlockString."],
    ['Syntax Error: Unexpected Int "987654321012".', "Syntax Error: Unexpected Int."],
    [`Syntax Error: Expected Name, found String "${SECRET}".`, "Syntax Error: Expected Name."],
    ["Syntax Error: Unexpected <EOF>.", "Syntax Error: Unexpected <EOF>."],
    ["Syntax Error: Unterminated string.", "Syntax Error: Unterminated string."],
  ])("keeps the token a client pasted out of the syntax error %j", (message, expected) => {
    const error = new GraphQLError(message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } });

    expect(masked(error)).toEqual({ message: expected, extensions: { code: "GRAPHQL_PARSE_FAILED" } });
  });
});

/**
 * The gateway's own HTTP front and Apollo Server, serving a schema whose one field fails the
 * way a bug would. The product has no such field (and gets no test-only code for this): the
 * schema is the only stand-in, everything from the socket to the log line is the real thing.
 */
describe("an unexpected error over HTTP", () => {
  const lines: Array<Record<string, unknown>> = [];
  const detail = `detail-${randomUUID()}`;
  let apollo: ApolloServer<GatewayContext>;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: "Query",
        fields: {
          broken: {
            type: GraphQLString,
            resolve: () => {
              throw new Error(`a bug: ${detail}`);
            },
          },
        },
      }),
    });
    const log = createLogger({
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    apollo = createApollo({ schema, production: true });
    await apollo.start();
    server = createHttpServer({
      apollo,
      log,
      // The resolver above uses none of the services: the context carries what the front and the mask read.
      context: ({ requestId, log: requestLog }) =>
        ({ requestId, log: requestLog(), outcome: { operation: null, codes: new Set<string>() } }) as unknown as GatewayContext,
      readiness: async () => ({}),
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await apollo.stop();
  });

  it("answers INTERNAL_SERVER_ERROR without the detail, and logs the detail under the request id", async () => {
    const requestId = `mask-${randomUUID()}`;

    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ query: "query Probe { broken }" }),
    });
    const text = await response.text();
    // The request line is written when the response closes, which may be after the body arrives.
    await waitFor(() => lines.some((line) => line["requestId"] === requestId && line["msg"] === "request"), { what: "the request line" });

    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe(requestId);
    expect(JSON.parse(text)).toEqual({
      data: { broken: null },
      errors: [
        { message: "Internal server error.", locations: [{ line: 1, column: 15 }], path: ["broken"], extensions: { code: "INTERNAL_SERVER_ERROR" } },
      ],
    });
    expect(text).not.toContain(detail);
    const logged = lines.filter((line) => line["requestId"] === requestId);
    expect(logged).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          msg: "unexpected error, answered as INTERNAL_SERVER_ERROR",
          err: expect.objectContaining({ message: `a bug: ${detail}` }),
        }),
        expect.objectContaining({ msg: "request", operation: "Probe", outcome: "INTERNAL_SERVER_ERROR", status: 200 }),
      ]),
    );
  });
});
