/**
 * The usual attacks on a GraphQL endpoint, sent over HTTP to a production gateway: each is
 * refused before any resolver runs, so neither backend hears of it, and no refusal names the
 * limit it hit. The controls at the end show that the same requests, cut to a normal size, do
 * reach the backends: an empty call log means something here.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { ROUTER_SECRET_HEADER } from "../../src/http/server.js";
import { TOO_COMPLEX } from "../../src/errors/mask.js";
import { MAX_ALIASES, MAX_FIELDS, MAX_TOKENS, ONE_SENSITIVE_MUTATION } from "../../src/graphql/limits.js";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type IdpSimulator, type SpineSimulator } from "../../src/simulators/index.js";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeAndSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { GatewayProcess } from "../support/gateway-process.js";
import { codes, idpUser, spineUser, Stack, TEST_ENCRYPTION_KEY, type GraphQLResult } from "../support/harness.js";

const SIGNIN_VARIABLES = { i: { email: idpUser.email, password: idpUser.password } };
const SIGNIN = "signin(input: $i) { token }";

/** `n` copies of `make(i)`, separated by spaces. */
function times(n: number, make: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => make(i)).join(" ");
}

interface Attack {
  attack: string;
  send: (stack: Stack, token: string) => Promise<GraphQLResult<unknown>>;
  status: number;
  code: string;
  /** A message the refusal must include, when the refusal is the gateway's own. */
  message?: string;
}

const attacks: Attack[] = [
  // Alias overloading: one request asking the same thing many times.
  {
    attack: "100 aliases of me",
    send: (stack, token) => stack.post({ query: `{ ${times(100, (i) => `a${i}: me { id }`)} }` }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "100 aliases of signin",
    send: (stack) => stack.post({ query: `mutation ($i: SigninInput!) { ${times(100, (i) => `a${i}: ${SIGNIN}`)} }`, variables: SIGNIN_VARIABLES }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "50 aliases of signin",
    send: (stack) => stack.post({ query: `mutation ($i: SigninInput!) { ${times(50, (i) => `a${i}: ${SIGNIN}`)} }`, variables: SIGNIN_VARIABLES }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: ONE_SENSITIVE_MUTATION,
  },
  // One sensitive mutation per document, however it is written.
  {
    attack: "the same signin twice, without aliases",
    send: (stack) => stack.post({ query: `mutation ($i: SigninInput!) { ${SIGNIN} ${SIGNIN} }`, variables: SIGNIN_VARIABLES }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: ONE_SENSITIVE_MUTATION,
  },
  {
    attack: "signin in two operations of one document",
    send: (stack) =>
      stack.post({
        query: `mutation A($i: SigninInput!) { ${SIGNIN} } mutation B($i: SigninInput!) { ${SIGNIN} }`,
        operationName: "A",
        variables: SIGNIN_VARIABLES,
      }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: ONE_SENSITIVE_MUTATION,
  },
  {
    attack: "a second signin smuggled through fragments",
    send: (stack) =>
      stack.post({
        query: `mutation ($i: SigninInput!) { ...A ...B } fragment A on Mutation { ${SIGNIN} } fragment B on Mutation { again: ${SIGNIN} }`,
        variables: SIGNIN_VARIABLES,
      }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: ONE_SENSITIVE_MUTATION,
  },
  {
    attack: "createSession and signin in one document",
    send: (stack) =>
      stack.post({
        query: `mutation ($i: SigninInput!, $t: String!) { createSession(input: { token: $t }) { token } ${SIGNIN} }`,
        variables: { ...SIGNIN_VARIABLES, t: spineUser.smartcardToken },
      }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: ONE_SENSITIVE_MUTATION,
  },
  {
    attack: "a batch of two signins (a JSON array body)",
    send: (stack) => stack.post([1, 2].map(() => ({ query: `mutation ($i: SigninInput!) { ${SIGNIN} }`, variables: SIGNIN_VARIABLES }))),
    status: 400,
    code: "BAD_REQUEST",
  },
  // Field duplication and directive overloading: cheap to send, costly to parse and validate.
  {
    attack: "1000 copies of me { id }",
    send: (stack, token) => stack.post({ query: `{ ${"me { id } ".repeat(1000)}}` }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "1000 copies of signin",
    send: (stack) => stack.post({ query: `mutation ($i: SigninInput!) { ${`${SIGNIN} `.repeat(1000)}}`, variables: SIGNIN_VARIABLES }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "500 @include(if: true) on one field",
    send: (stack, token) => stack.post({ query: `{ me ${"@include(if: true) ".repeat(500)}{ id } }` }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "20 @include(if: true) on one field",
    send: (stack, token) => stack.post({ query: `{ me ${"@include(if: true) ".repeat(20)}{ id } }` }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "400 unknown directives on one field",
    send: (stack, token) => stack.post({ query: `{ me { id ${"@x ".repeat(400)}} }` }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  // Depth and cycles: the schema nests five fields at most; fragments can pretend otherwise.
  {
    attack: "fields nested deeper than the schema allows",
    send: (stack) =>
      stack.post({
        query: `mutation ($i: SigninInput!) { signin(input: $i) { session { user { permissions { orgName { a { b { c } } } } } } } }`,
        variables: SIGNIN_VARIABLES,
      }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "inline fragments nested 300 deep",
    send: (stack, token) => stack.post({ query: `{ ${"... on Query { ".repeat(300)}me { id } ${"} ".repeat(300)}}` }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  {
    attack: "fragments spreading each other (A → B → A)",
    send: (stack, token) => stack.post({ query: "{ me { ...A } } fragment A on User { id ...B } fragment B on User { email ...A }" }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
  },
  {
    attack: "fragments spreading each other on the session's nesting (Session → User → Session)",
    send: (stack, token) =>
      stack.post({ query: "{ session { ...S } } fragment S on Session { id user { ...U } } fragment U on User { id ...S }" }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
  },
  {
    attack: "fragments doubling 30 times (2^30 aliases)",
    send: (stack, token) =>
      stack.post(
        { query: `{ me { ...F30 } } fragment F0 on User { a: id } ${times(30, (i) => `fragment F${i + 1} on User { ...F${i} ...F${i} }`)}` },
        { token },
      ),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
    message: TOO_COMPLEX,
  },
  // Schema discovery in production.
  {
    attack: "introspection of the schema",
    send: (stack, token) => stack.post({ query: "{ __schema { types { name fields { name } } } }" }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
  },
  {
    attack: "introspection of one type",
    send: (stack, token) => stack.post({ query: '{ __type(name: "Mutation") { fields { name } } me { id } }' }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
  },
  {
    attack: "a misspelt field, fishing for suggestions",
    send: (stack, token) => stack.post({ query: "{ me { id emial } mee { id } }" }, { token }),
    status: 400,
    code: "GRAPHQL_VALIDATION_FAILED",
  },
  // Cross-site requests a browser would send without a preflight.
  {
    attack: "a signin POSTed as text/plain (CSRF)",
    send: (stack) =>
      stack.post(JSON.stringify({ query: `mutation ($i: SigninInput!) { ${SIGNIN} }`, variables: SIGNIN_VARIABLES }), {
        headers: { "content-type": "text/plain" },
      }),
    status: 400,
    code: "BAD_REQUEST",
  },
  {
    attack: "a query sent by GET without a preflight header (CSRF)",
    send: (stack, token) => stack.get({ query: "{ me { id } }" }, { authorization: `Bearer ${token}` }),
    status: 400,
    code: "BAD_REQUEST",
  },
  {
    attack: "a signin sent by GET",
    send: (stack) =>
      stack.get(
        { query: `mutation ($i: SigninInput!) { ${SIGNIN} }`, variables: JSON.stringify(SIGNIN_VARIABLES) },
        { "apollo-require-preflight": "1" },
      ),
    status: 405,
    code: "BAD_REQUEST",
  },
  // Text that is not Unicode: JSON can escape half a surrogate pair, nothing downstream can encode it.
  {
    attack: "a signin whose password holds a lone surrogate",
    send: (stack) =>
      stack.post(
        `{"query": "mutation ($i: SigninInput!) { ${SIGNIN} }", "variables": {"i": {"email": "${idpUser.email}", "password": "${idpUser.password}\\ud800"}}}`,
      ),
    status: 400,
    code: "BAD_REQUEST",
  },
  // Size.
  {
    attack: "a signin in a body over 64 KiB",
    send: (stack) =>
      stack.post({ query: `mutation ($i: SigninInput!) { ${SIGNIN} }`, variables: { ...SIGNIN_VARIABLES, padding: "x".repeat(64 * 1024) } }),
    status: 413,
    code: "BAD_REQUEST",
  },
];

describe("GraphQL attacks on a production gateway", () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    // No user-info cache: every `me` with a session asks the IdP, so one that runs shows in its call log.
    stack = await Stack.start({ env: { NODE_ENV: "production", USER_INFO_CACHE_TTL_SECONDS: "0" } });
    const signedIn = await stack.post({ query: `mutation ($i: SigninInput!) { ${SIGNIN} }`, variables: SIGNIN_VARIABLES });
    expect(signedIn.errors).toBeUndefined();
    token = signedIn.data.signin.token;
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.spine.resetCalls();
    stack.idp.resetCalls();
  });

  it.each(attacks)("refuses $attack with $status $code and calls no backend", async ({ send, status, code, message }) => {
    const result = await send(stack, token);

    expect(result.status).toBe(status);
    expect(result.data).toBeUndefined();
    expect(result.errors?.length).toBeGreaterThan(0);
    expect(new Set(codes(result))).toEqual(new Set([code]));
    const messages = result.errors!.map((error) => error.message);
    if (message !== undefined) expect(messages).toContain(message);
    // Limits are not advertised, and production suggests no field names.
    expect(messages.filter((m) => /\d/.test(m))).toEqual([]);
    expect(messages.filter((m) => /Did you mean/.test(m))).toEqual([]);
    expect(stack.spine.calls()).toEqual([]);
    expect(stack.idp.calls()).toEqual([]);
  });

  it(`draws the token line at ${MAX_TOKENS}: a document of exactly that many runs, one more is refused`, async () => {
    // Nested inline fragments of six tokens each (`... on Query { __typename }`), rather than
    // hundreds of copies of one field, which graphql-js's own validation budget gives up on.
    const levels = Math.floor((MAX_TOKENS - 2) / 6);
    const document = (tokens: number): string =>
      `{ ${"__typename ".repeat(tokens - 2 - 6 * levels)}${"... on Query { __typename ".repeat(levels)}${"} ".repeat(levels)}}`;
    const atLimit = await stack.post({ query: document(MAX_TOKENS) });
    const overLimit = await stack.post({ query: document(MAX_TOKENS + 1) });

    expect(atLimit.status).toBe(200);
    expect(atLimit.data).toEqual({ __typename: "Query" });
    expect(overLimit.status).toBe(400);
    expect(overLimit.errors).toEqual([{ message: TOO_COMPLEX, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }]);
  });

  describe("controls: the same requests at a normal size reach the backends", () => {
    it("runs one signin, which asks the IdP once", async () => {
      const result = await stack.post({ query: `mutation ($i: SigninInput!) { ${SIGNIN} }`, variables: SIGNIN_VARIABLES });

      expect(result.errors).toBeUndefined();
      expect(stack.idp.calls("signin")).toHaveLength(1);
    });

    it("runs one createSession, which asks Spine once", async () => {
      const result = await stack.post({
        query: "mutation ($t: String!) { createSession(input: { token: $t }) { token } }",
        variables: { t: spineUser.smartcardToken },
      });

      expect(result.errors).toBeUndefined();
      expect(stack.spine.calls("A001")).toHaveLength(1);
    });

    it("answers me with a session, which asks the IdP", async () => {
      const result = await stack.post({ query: "{ me { id } }" }, { token });

      expect(result.data).toEqual({ me: { id: expect.stringMatching(/^idp:/) } });
      expect(stack.idp.calls("userinfo")).toHaveLength(1);
    });

    it("answers duplicated fields under the token limit as one field, with one IdP call", async () => {
      // 249 copies are 998 tokens: what duplication the limit lets through costs one resolver call.
      const result = await stack.post({ query: `{ ${"me { id } ".repeat(249)}}` }, { token });

      expect(result.status).toBe(200);
      expect(result.data).toEqual({ me: { id: expect.stringMatching(/^idp:/) } });
      expect(stack.idp.calls("userinfo")).toHaveLength(1);
    });

    it(`answers ${MAX_ALIASES} aliases of me with one IdP call, the request's loader sharing it`, async () => {
      const result = await stack.post({ query: `{ ${times(MAX_ALIASES, (i) => `a${i}: me { id }`)} }` }, { token });

      expect(result.errors).toBeUndefined();
      expect(Object.keys(result.data as object)).toHaveLength(MAX_ALIASES);
      expect(stack.idp.calls("userinfo")).toHaveLength(1);
    });
  });
});

/**
 * `{ me { ...F<levels> } }` where each fragment spreads the one before twice: 2^levels fields
 * once expanded, in about 33 bytes a level. Parsing and graphql-js's validation take it in well
 * under a millisecond; graphql-jit compiling it took 3.5 s at 24 levels (issue 13).
 */
function fanOut(levels: number): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i + 1} on User{...F${i} ...F${i}}`);
  return `{me{...F${levels}}} fragment F0 on User{id} ${fragments.join(" ")}`;
}

/**
 * The fan-out sent to a gateway in a process of its own, so that a gateway stalled by it could
 * not stall the test too: every request has a deadline, and the test ends whatever the gateway does.
 */
describe("Fragment fan-out against a gateway process", () => {
  const routerSecret = "fan-out-test-router-secret-0123456789abcdef";
  let spine: SpineSimulator;
  let idp: IdpSimulator;
  let gateway: GatewayProcess;
  beforeAll(async () => {
    [spine, idp] = await Promise.all([startSpineSimulator(), startIdpSimulator()]);
    gateway = await GatewayProcess.start("fan-out", {
      NODE_ENV: "production",
      SPINE_URL: spine.url,
      SPINE_ASID: SPINE_DEMO.asid,
      IDP_URL: idp.url,
      IDP_CLIENT_ID: IDP_DEMO.clientId,
      IDP_API_TOKEN: IDP_DEMO.apiToken,
      SESSION_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      FEDERATION_ROUTER_SECRET: routerSecret,
      LOG_LEVEL: "warn",
    });
  }, 30_000);
  afterAll(async () => {
    // SIGKILL: a gateway stuck compiling would not answer SIGTERM.
    await gateway?.kill();
    await Promise.all([spine?.close(), idp?.close()]);
  });
  beforeEach(() => {
    spine.resetCalls();
    idp.resetCalls();
  });

  /** POSTs `query` to `path` and says how long the answer took, the request bounded by a deadline. */
  async function timedPost(
    path: "/graphql" | "/subgraph",
    query: string,
  ): Promise<{ status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> }; ms: number }> {
    const started = performance.now();
    const response = await fetch(`${gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(path === "/subgraph" ? { [ROUTER_SECRET_HEADER]: routerSecret } : {}) },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    return { status: response.status, body, ms: performance.now() - started };
  }

  it("fits 2^24 fields (over 10 million) in a document of under 1 KB", () => {
    expect(2 ** 24).toBeGreaterThan(10_000_000);
    expect(Buffer.byteLength(fanOut(24))).toBeLessThan(1024);
  });

  it.each([
    ["/graphql", 10],
    ["/graphql", 24],
    ["/graphql", 40],
    ["/graphql", 60],
    ["/subgraph", 24],
    ["/subgraph", 60],
  ] as const)("refuses on %s a fan-out of %i levels as too complex within 500 ms, calling no backend", async (path, levels) => {
    const { status, body, ms } = await timedPost(path, fanOut(levels));

    // /subgraph answers GraphQL-level refusals with 200 so that routers pass the code on (docs/federation.md).
    expect(status).toBe(path === "/subgraph" ? 200 : 400);
    expect(body.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([[TOO_COMPLEX, "GRAPHQL_VALIDATION_FAILED"]]);
    // Generous, so a busy machine does not fail it; a compile of 2^24 fields takes seconds.
    expect(ms).toBeLessThan(500);
    expect(spine.calls()).toEqual([]);
    expect(idp.calls()).toEqual([]);
  });

  it(`runs the same fan-out while it stays within ${MAX_FIELDS} fields (9 levels, 513)`, async () => {
    const { status, body } = await timedPost("/graphql", fanOut(9));

    // It ran: without a session `me` is null.
    expect(status).toBe(200);
    expect(body).toEqual({ data: { me: null } });
  });

  it("answers /healthz at once while fan-outs of 60 levels arrive on both endpoints", async () => {
    const health = async (): Promise<{ status: number; ms: number }> => {
      const started = performance.now();
      const response = await fetch(`${gateway.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await response.arrayBuffer();
      return { status: response.status, ms: performance.now() - started };
    };

    const [graphql, subgraph, ...checks] = await Promise.all([
      timedPost("/graphql", fanOut(60)),
      timedPost("/subgraph", fanOut(60)),
      health(),
      health(),
      health(),
    ]);

    expect([graphql.status, subgraph.status]).toEqual([400, 200]);
    expect(subgraph.body.errors?.map((error) => error.message)).toEqual([TOO_COMPLEX]);
    expect(checks.map((check) => check.status)).toEqual([200, 200, 200]);
    for (const check of checks) expect(check.ms).toBeLessThan(500);
  });

  it("still runs every operation in test/operations, the largest included", async () => {
    const idpSignin = await gateway.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const token = idpSignin.data!.signin.token!;
    const spineSession = await gateway.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const role = spineSession.data!.createSession.session.user.permissions[0]!;
    const selected = await gateway.execute(
      SelectRoleDocument,
      { businessFunction: role.businessFunction, orgIdentifier: role.orgIdentifier },
      { token: spineSession.data!.createSession.token! },
    );
    const results = [
      idpSignin,
      spineSession,
      selected,
      await gateway.execute(MeDocument, {}, { token }),
      await gateway.execute(CurrentSessionDocument, {}, { token }),
      await gateway.execute(MeAndSessionDocument, {}, { token }),
      await gateway.execute(SignoutDocument, {}, { token }),
      await gateway.execute(SignoutDocument, {}, { token: selected.data!.selectRole.token! }),
    ];

    expect(results.map((result) => ({ status: result.status, errors: result.errors }))).toEqual(
      results.map(() => ({ status: 200, errors: undefined })),
    );
  });
});
