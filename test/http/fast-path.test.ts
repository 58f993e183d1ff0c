import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import type { GatewayContext } from "../../src/graph/context.js";
import { gatewaySchema } from "../../src/graph/schema.js";
import { createApollo } from "../../src/http/apollo.js";
import { FastPath } from "../../src/http/fast-path.js";
import { KnownOperations } from "../../src/http/known-operations.js";
import { idpUser, Stack } from "../support/harness.js";

const SIGNIN = "mutation ($email: String!, $password: String!) { signin(input: { email: $email, password: $password }) { token } }";

/** Sends the same request twice: the first goes through Apollo's pipeline, the second (a query now known) takes the fast path. */
async function twice(stack: Stack, body: unknown, headers: Record<string, string>) {
  const answers = [];
  for (const requestId of [`first-${randomUUID()}`, `second-${randomUUID()}`]) {
    const response = await fetch(`${stack.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const line = stack.logs.find((l) => l["msg"] === "request" && l["requestId"] === requestId)!;
    answers.push({ status: response.status, contentType: response.headers.get("content-type"), text, operation: line["operation"], outcome: line["outcome"] });
  }
  return answers;
}

describe("fast path for known queries", () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    // No user-info cache: every `me` asks the IdP, so an IdP fault shows in the answer.
    stack = await Stack.start({ env: { USER_INFO_CACHE_TTL_SECONDS: "0" } });
    const signin = await stack.post({ query: SIGNIN, variables: { email: idpUser.email, password: idpUser.password } });
    token = signin.data.signin.token as string;
  });
  afterAll(() => stack.close());
  beforeEach(() => stack.idp.clearFaults());

  it("answers a known query exactly as Apollo answered it: status, content type, body and request line", async () => {
    const [apollo, fast] = await twice(stack, { query: "query MeFast1 { me { id displayName groups profiles { type id } } }" }, { authorization: `Bearer ${token}` });
    expect(apollo!.text).toContain('"displayName"');
    expect(fast).toEqual(apollo);
  });

  it("answers a known query whose resolver fails with the same masked error, code and outcome as Apollo", async () => {
    stack.idp.inject("userinfo", { kind: "status", status: 503 });
    const [apollo, fast] = await twice(stack, { query: "query MeFast2 { me { id } }", operationName: "MeFast2" }, { authorization: `Bearer ${token}` });
    expect(JSON.parse(apollo!.text).errors[0].extensions.code).toBe("UPSTREAM_UNAVAILABLE");
    expect(apollo!.outcome).toBe("UPSTREAM_UNAVAILABLE");
    expect(fast).toEqual(apollo);
  });

  it("answers with the content type the client accepts, as Apollo chooses it", async () => {
    const [apollo, fast] = await twice(stack, { query: "{ me { id } }", variables: null }, { authorization: `Bearer ${token}`, accept: "application/graphql-response+json" });
    expect(apollo!.contentType).toBe("application/graphql-response+json; charset=utf-8");
    expect(fast).toEqual(apollo);
  });
});

describe("FastPath", () => {
  const context = (): GatewayContext => ({ log: pino({ level: "silent" }), outcome: { operation: null, rootFields: null, codes: new Set<string>() } }) as unknown as GatewayContext;
  let fastPath: FastPath;
  let apollo: ReturnType<typeof createApollo>;
  beforeAll(async () => {
    const schema = await gatewaySchema();
    const known = new KnownOperations();
    apollo = createApollo({ schema, production: true, known });
    await apollo.start();
    fastPath = new FastPath(known, schema);
  });
  afterAll(() => apollo.stop());

  it("answers a query only once Apollo has parsed, validated and run it", async () => {
    expect(await fastPath.answer({ query: "query Probe { __typename }" }, undefined, context())).toBeUndefined();
    await apollo.executeOperation({ query: "query Probe { __typename }" }, { contextValue: context() });
    const outcome = context();
    expect(await fastPath.answer({ query: "query Probe { __typename }" }, undefined, outcome)).toEqual({
      status: 200,
      contentType: "application/json; charset=utf-8",
      body: '{"data":{"__typename":"Query"}}\n',
    });
    expect(outcome.outcome).toMatchObject({ operation: "Probe", rootFields: "introspection" });
  });

  it("leaves to Apollo what it is not sure of: other body fields, other accept values, variables that are not an object, unknown texts and operation names", async () => {
    await apollo.executeOperation({ query: "query Known { __typename }" }, { contextValue: context() });
    expect(await fastPath.answer({ query: "query Known { __typename }" }, undefined, context())).toBeDefined();
    expect(await fastPath.answer({ query: "query Known { __typename }", extensions: {} }, undefined, context())).toBeUndefined();
    expect(await fastPath.answer({ query: "query Known { __typename }" }, "text/html", context())).toBeUndefined();
    expect(await fastPath.answer({ query: "query Known { __typename }", variables: [] }, undefined, context())).toBeUndefined();
    expect(await fastPath.answer({ query: "query Known  { __typename }" }, undefined, context())).toBeUndefined();
    expect(await fastPath.answer({ query: "query Known { __typename }", operationName: "Other" }, undefined, context())).toBeUndefined();
  });

  it("never keeps a mutation: it stays on Apollo's path", async () => {
    const signout = "mutation Out { signout }";
    await apollo.executeOperation({ query: signout }, { contextValue: { ...context(), scope: { session: async () => null } } as unknown as GatewayContext }).catch(() => undefined);
    expect(await fastPath.answer({ query: signout }, undefined, context())).toBeUndefined();
  });
});
