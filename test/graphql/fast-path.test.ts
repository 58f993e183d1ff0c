/**
 * The fast path (src/graphql/fast-path.ts) against Apollo's path, over real HTTP to a gateway on
 * the simulators: every operation of test/operations and web/operations, and their error cases,
 * sent once to a gateway that has not seen the text (Apollo's path) and once more (the fast path
 * for a query), compared on status, the headers that matter and the bytes of the body.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { readFileSync, readdirSync } from "node:fs";
import { pino } from "pino";
import { Kind, parse, print, separateOperations, type OperationDefinitionNode } from "graphql";
import type { GatewayContext } from "../../src/graph/context.js";
import { gatewaySchema } from "../../src/graph/schema.js";
import { createApollo, outcomePlugin } from "../../src/graphql/apollo.js";
import { FastPath, type FastAnswer } from "../../src/graphql/fast-path.js";
import { KnownOperations } from "../../src/graphql/known-operations.js";
import { SESSION_COOKIE_NAME } from "../../src/http/cookies.js";
import { idpUser, spineUser, Stack } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

interface Operation {
  /** `test/operations/session.graphql: Me` */
  name: string;
  kind: "query" | "mutation";
  /** The operation with the fragments it spreads, as a client sends it. */
  text: string;
  definition: OperationDefinitionNode;
}

/** Every operation of the .graphql files in these folders, each as a document of its own. */
function operationsIn(...folders: string[]): Operation[] {
  return folders.flatMap((folder) =>
    readdirSync(new URL(`../../${folder}/`, import.meta.url))
      .filter((file) => file.endsWith(".graphql"))
      .flatMap((file) =>
        Object.entries(separateOperations(parse(readFileSync(new URL(`../../${folder}/${file}`, import.meta.url), "utf8")))).map(
          ([name, document]) => {
            const definition = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
            return { name: `${folder}/${file}: ${name}`, kind: definition.operation as "query" | "mutation", text: print(document), definition };
          },
        ),
      ),
  );
}

const OPERATIONS = operationsIn("test/operations", "web/operations");
const QUERIES = OPERATIONS.filter((operation) => operation.kind === "query");
const MUTATIONS = OPERATIONS.filter((operation) => operation.kind === "mutation");

/** What is compared of an answer, and which path gave it. */
interface Answer {
  status: number;
  headers: Record<string, string | null>;
  /** A generated request id's shape: the value differs per request, its form must not. */
  requestIdShape: boolean;
  body: string;
  /** The request log line's operation and outcome: recorded by the same code on both paths. */
  line: { operation: unknown; outcome: unknown };
  fast: boolean;
}

const COMPARED_HEADERS = ["content-type", "content-length", "cache-control", "set-cookie"];
const GENERATED_REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("the fast path answers as Apollo's path does", () => {
  let stack: Stack;
  const answers = jest.spyOn(FastPath.prototype, "answer");
  let idpToken: string;
  let spineToken: string;

  /** Sends one request; `fast` says whether the fast path gave the answer. */
  async function send(init: { method?: string; path?: string; body?: unknown; headers?: Record<string, string> }): Promise<Answer> {
    const calls = answers.mock.results.length;
    const response = await fetch(`${stack.url}${init.path ?? "/graphql"}`, {
      method: init.method ?? "POST",
      // An empty value leaves the header out (a GET without a content type).
      headers: Object.fromEntries(Object.entries({ "content-type": "application/json", ...init.headers }).filter(([, value]) => value !== "")),
      body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
    });
    const body = await response.text();
    const requestId = response.headers.get("x-request-id") ?? "";
    const line = await waitFor(() => stack.logs.find((l) => l["msg"] === "request" && l["requestId"] === requestId), {
      timeoutMs: 5_000,
      what: "the request line",
    });
    const given = await Promise.all(answers.mock.results.slice(calls).map((result) => result.value as Promise<FastAnswer | undefined>));
    return {
      status: response.status,
      headers: Object.fromEntries(COMPARED_HEADERS.map((name) => [name, response.headers.get(name)])),
      requestIdShape: GENERATED_REQUEST_ID.test(requestId),
      body,
      line: { operation: line["operation"], outcome: line["outcome"] },
      fast: given.some((answer) => answer !== undefined),
    };
  }

  /** A text no request has sent yet, so its first request takes Apollo's path: a comment changes the text, not the document. */
  let sent = 0;
  const unseen = (text: string): string => `${text}\n# request ${++sent}`;

  const cookieOf = (token: string): Record<string, string> => ({ cookie: `${SESSION_COOKIE_NAME}=${token}` });

  async function signinCookie(): Promise<string> {
    const answer = await send({
      body: { query: MUTATIONS.find((m) => m.name.endsWith(": Signin"))!.text, variables: { email: idpUser.email, password: idpUser.password } },
    });
    return new RegExp(`${SESSION_COOKIE_NAME}=([^;]+)`).exec(answer.headers["set-cookie"] ?? "")![1]!;
  }

  async function spineSessionCookie(selectRole: boolean): Promise<string> {
    const created = await send({
      body: { query: MUTATIONS.find((m) => m.name.endsWith(": CreateSession"))!.text, variables: { token: spineUser.smartcardToken } },
    });
    const token = new RegExp(`${SESSION_COOKIE_NAME}=([^;]+)`).exec(created.headers["set-cookie"] ?? "")![1]!;
    if (!selectRole) return token;
    const role = spineUser.permissions[0]!;
    const selected = await send({
      body: {
        query: MUTATIONS.find((m) => m.name.endsWith(": SelectRole"))!.text,
        variables: { businessFunction: role.businessFunction, orgIdentifier: role.orgIdentifier },
      },
      headers: cookieOf(token),
    });
    return new RegExp(`${SESSION_COOKIE_NAME}=([^;]+)`).exec(selected.headers["set-cookie"] ?? "")![1]!;
  }

  beforeAll(async () => {
    // Cookie mode, so set-cookie is among what is compared; no user-info cache, so every `me`
    // asks the IdP and an IdP that is down shows in the answer.
    stack = await Stack.start({ env: { SESSION_COOKIE: "on", USER_INFO_CACHE_TTL_SECONDS: "0" } });
    idpToken = await signinCookie();
    spineToken = await spineSessionCookie(true);
  });
  afterEach(() => stack.idp.clearFaults());
  afterAll(async () => {
    answers.mockRestore();
    await stack.close();
  });

  /** The first request takes Apollo's path, the second the fast path: everything compared but the request id's value. */
  async function bothWays(request: { body: unknown; headers?: Record<string, string> }): Promise<[Answer, Answer]> {
    const apollo = await send(request);
    const fast = await send(request);
    return [apollo, fast];
  }

  const sessions: Array<[string, () => Record<string, string>]> = [
    ["an IdP session by bearer token", () => ({ authorization: `Bearer ${idpToken}` })],
    ["a Spine session with a role, by cookie", () => cookieOf(spineToken)],
    ["no session", () => ({})],
    ["an unknown session", () => ({ authorization: "Bearer not-a-session-token" })],
  ];

  describe.each(QUERIES.map((query) => [query.name, query] as const))("%s", (_name, query) => {
    it.each(sessions)("with %s: the same status, headers and bytes", async (_session, headers) => {
      const [apollo, fast] = await bothWays({ body: { query: unseen(query.text), operationName: query.definition.name?.value }, headers: headers() });
      expect(apollo.fast).toBe(false);
      expect(fast.fast).toBe(true);
      expect(apollo.requestIdShape).toBe(true);
      expect({ ...fast, fast: undefined }).toEqual({ ...apollo, fast: undefined });
    });

    it("with the IdP down: the same masked error, status, headers and bytes", async () => {
      stack.idp.inject("userinfo", { kind: "status", status: 503 });
      const [apollo, fast] = await bothWays({ body: { query: unseen(query.text) }, headers: { authorization: `Bearer ${idpToken}` } });
      expect(apollo.body).toContain("UPSTREAM_UNAVAILABLE");
      expect([apollo.fast, fast.fast]).toEqual([false, true]);
      expect({ ...fast, fast: undefined }).toEqual({ ...apollo, fast: undefined });
    });

    it("asked for application/graphql-response+json: the same content type and bytes", async () => {
      const [apollo, fast] = await bothWays({
        body: { query: unseen(query.text), variables: null },
        headers: { authorization: `Bearer ${idpToken}`, accept: "application/graphql-response+json" },
      });
      expect(apollo.headers["content-type"]).toBe("application/graphql-response+json; charset=utf-8");
      expect([apollo.fast, fast.fast]).toEqual([false, true]);
      expect({ ...fast, fast: undefined }).toEqual({ ...apollo, fast: undefined });
    });
  });

  describe.each(MUTATIONS.map((mutation) => [mutation.name, mutation] as const))("%s", (_name, mutation) => {
    const variables = mutation.definition.variableDefinitions ?? [];

    it("is never answered by the fast path", async () => {
      const good: Record<string, Record<string, string>> = {
        Signin: { email: idpUser.email, password: idpUser.password },
        CreateSession: { token: spineUser.smartcardToken },
        SelectRole: { businessFunction: spineUser.permissions[0]!.businessFunction, orgIdentifier: spineUser.permissions[0]!.orgIdentifier },
      };
      const name = mutation.definition.name!.value.replace(/^App/, "");
      const text = unseen(mutation.text);
      for (let i = 0; i < 2; i++) {
        // selectRole needs a Spine session without a role; signout one to end.
        const headers = name === "SelectRole" ? cookieOf(await spineSessionCookie(false)) : name === "Signout" ? cookieOf(await signinCookie()) : {};
        const answer = await send({ body: { query: text, variables: good[name] ?? {} }, headers });
        expect(answer).toMatchObject({ status: 200, fast: false });
        expect(JSON.parse(answer.body).errors).toBeUndefined();
      }
    });

    it.each([
      ["missing", {}],
      ["of the wrong type", { value: 123 }],
    ])("with variables %s: the same refusal both times", async (_case, shape) => {
      if (variables.length === 0) return;
      const given = "value" in shape ? Object.fromEntries(variables.map((v) => [v.variable.name.value, shape.value])) : shape;
      const [first, second] = await bothWays({ body: { query: unseen(mutation.text), variables: given } });
      expect(first.status).toBe(400);
      expect(first.line.outcome).toBe("BAD_USER_INPUT");
      expect([first.fast, second.fast]).toEqual([false, false]);
      expect(second).toEqual(first);
    });

    it("with an unknown session: the same status, headers (the cookie cleared or not) and bytes both times", async () => {
      const [first, second] = await bothWays({ body: { query: unseen(mutation.text), variables: {} }, headers: cookieOf("not-a-session-token") });
      expect([first.fast, second.fast]).toEqual([false, false]);
      expect(second).toEqual(first);
    });
  });

  describe("a known query whose variables do not coerce", () => {
    const query = "query MeUnlessSkipped($skip: Boolean!) { me @skip(if: $skip) { id displayName } }";

    it("goes to Apollo, which refuses it as it does on a gateway that never saw the query", async () => {
      const text = unseen(query);
      // A session of its own: a sign-in of the same user elsewhere in this file may have ended the IdP's side of an older one.
      const headers = { authorization: `Bearer ${await signinCookie()}` };
      const cold = await send({ body: { query: text, variables: { skip: "yes" } }, headers });
      const [apollo, fast] = await bothWays({ body: { query: text, variables: { skip: false } }, headers });
      const warm = await send({ body: { query: text, variables: { skip: "yes" } }, headers });
      expect(cold.status).toBe(400);
      expect([cold.fast, apollo.fast, fast.fast, warm.fast]).toEqual([false, false, true, false]);
      expect({ ...fast, fast: undefined }).toEqual({ ...apollo, fast: undefined });
      expect(warm).toEqual(cold);
    });
  });

  describe("never answers a request Apollo's CSRF prevention would refuse", () => {
    it("refuses a known query in a text/plain POST or a GET without a preflight header the fast way, and Apollo refuses it", async () => {
      const text = unseen(QUERIES[0]!.text);
      const headers = { authorization: `Bearer ${await signinCookie()}` };
      const [, fast] = await bothWays({ body: { query: text }, headers });
      expect(fast.fast).toBe(true);
      const plain = await send({ body: { query: text }, headers: { ...headers, "content-type": "text/plain" } });
      const get = await send({
        method: "GET",
        path: `/graphql?${new URLSearchParams({ query: text })}`,
        headers: { authorization: headers.authorization, "content-type": "" },
      });
      for (const answer of [plain, get]) {
        expect(answer).toMatchObject({ status: 400, fast: false });
        expect(answer.body).toContain("Cross-Site Request Forgery");
      }
    });
  });
});

describe("FastPath", () => {
  const context = (): GatewayContext =>
    ({ log: pino({ level: "silent" }), outcome: { operation: null, rootFields: null, codes: new Set<string>() } }) as unknown as GatewayContext;
  const post = (body: unknown, accept?: string): Parameters<FastPath["answer"]>[0] => ({
    method: "POST",
    contentType: "application/json",
    accept,
    body,
  });
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
    expect(await fastPath.answer(post({ query: "query Probe { __typename }" }), context())).toBeUndefined();
    await apollo.executeOperation({ query: "query Probe { __typename }" }, { contextValue: context() });
    const outcome = context();
    expect(await fastPath.answer(post({ query: "query Probe { __typename }" }), outcome)).toEqual({
      status: 200,
      contentType: "application/json; charset=utf-8",
      body: '{"data":{"__typename":"Query"}}\n',
    });
    expect(outcome.outcome).toMatchObject({ operation: "Probe", rootFields: "introspection" });
  });

  it("leaves to Apollo what it is not sure of: other body fields, other accept values, variables that are not an object, unknown texts and operation names", async () => {
    await apollo.executeOperation({ query: "query Known { __typename }" }, { contextValue: context() });
    expect(await fastPath.answer(post({ query: "query Known { __typename }" }), context())).toBeDefined();
    expect(await fastPath.answer(post({ query: "query Known { __typename }", extensions: {} }), context())).toBeUndefined();
    expect(await fastPath.answer(post({ query: "query Known { __typename }" }, "text/html"), context())).toBeUndefined();
    expect(await fastPath.answer(post({ query: "query Known { __typename }", variables: [] }), context())).toBeUndefined();
    expect(await fastPath.answer(post({ query: "query Known  { __typename }" }), context())).toBeUndefined();
    expect(await fastPath.answer(post({ query: "query Known { __typename }", operationName: "Other" }), context())).toBeUndefined();
  });

  it("leaves to Apollo's CSRF prevention anything but a POST of JSON, whatever body it is handed", async () => {
    await apollo.executeOperation({ query: "query Csrf { __typename }" }, { contextValue: context() });
    const body = { query: "query Csrf { __typename }" };
    expect(await fastPath.answer(post(body), context())).toBeDefined();
    expect(await fastPath.answer({ ...post(body), contentType: "application/graphql-response+json; charset=utf-8" }, context())).toBeDefined();
    for (const contentType of [undefined, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      expect(await fastPath.answer({ ...post(body), contentType }, context())).toBeUndefined();
    }
    expect(await fastPath.answer({ ...post(body), method: "GET" }, context())).toBeUndefined();
  });

  it("never keeps a mutation: it stays on Apollo's path", async () => {
    const signout = "mutation Out { signout }";
    await apollo
      .executeOperation({ query: signout }, { contextValue: { ...context(), scope: { session: async () => null } } as unknown as GatewayContext })
      .catch(() => undefined);
    expect(await fastPath.answer(post({ query: signout }), context())).toBeUndefined();
  });

  it("stands in for every Apollo plugin that acts on a request: the outcome plugin, whose recording it calls, and none it skips", async () => {
    for (const production of [true, false]) {
      const server = createApollo({ schema: await gatewaySchema(), production });
      await server.start();
      // Apollo's plugin list (its default plugins included) is not public; read here only to
      // catch a plugin added without the fast path learning what it does.
      const plugins = (server as unknown as { internals: { plugins: Array<{ requestDidStart?: unknown; __internal_plugin_id__?: string }> } })
        .internals.plugins;
      const perRequest = plugins.filter((plugin) => plugin.requestDidStart !== undefined);
      // DisableSuggestions (hideSchemaDetailsFromClientErrors) rewrites validation errors only;
      // a known query passed validation, so it has none.
      expect(perRequest.filter((plugin) => plugin !== outcomePlugin && plugin.__internal_plugin_id__ !== "DisableSuggestions")).toEqual([]);
      await server.stop();
    }
  });
});
