/**
 * The gateway as a Federation 2 subgraph (issue 5, part 2), composed with a test-only
 * "referrals" subgraph and run under @apollo/gateway in this process. The gateway itself is
 * the real one, over HTTP, with both simulators behind it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { composeServices } from "@apollo/composition";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse, type GraphQLObjectType, type GraphQLSchema } from "graphql";
import { subgraphSDL } from "../../src/graph/federation/subgraph.js";
import { IDP_DEMO } from "../../src/simulators/index.js";
import { CreateSessionDocument, SelectRoleDocument, SigninDocument } from "../generated/operations.js";
import { idpUser, spineUser, Stack } from "../support/harness.js";

/** A test router secret, never a deployment's. */
const ROUTER_SECRET = "federation-test-router-secret-0123456789abcdef";

/**
 * A referrals subgraph as another team would write it: it @requires the Spine credentials of
 * the session, which it would use to call e-RS; here it records what it was sent and answers
 * one referral per call.
 */
const REFERRALS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@shareable"])

  type Session @key(fields: "id") {
    id: ID!
    credentials: SessionCredentials @external
    "The user's referrals at e-RS, read with the session's own Spine credentials."
    referrals: [Referral!]! @requires(fields: "credentials { spine { sessionKey asid } }")
  }

  type SessionCredentials @shareable {
    spine: SpineSessionCredentials
  }

  type SpineSessionCredentials @shareable {
    sessionKey: String!
    asid: String!
  }

  type Referral {
    ubrn: String!
    orgIdentifier: String!
  }
`;

interface Representation {
  __typename: string;
  id: string;
  credentials?: { spine: { sessionKey: string; asid: string } | null } | null;
}

async function startReferrals(): Promise<{ url: string; received: Representation[]; stop: () => Promise<void> }> {
  const received: Representation[] = [];
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(REFERRALS_SDL),
      resolvers: {
        Session: {
          __resolveReference: (representation: Representation) => {
            received.push(representation);
            return representation;
          },
          // No Spine credentials, no call to e-RS: no referrals.
          referrals: ({ credentials }: Representation) =>
            credentials?.spine == null ? [] : [{ ubrn: `ubrn-for-${credentials.spine.asid}`, orgIdentifier: "R01" }],
        },
      },
    }),
  });
  const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: 0 } });
  return { url, received, stop: () => server.stop() };
}

/** What a router sends to the gateway's subgraph: the shared secret, and the client's Authorization. */
class GatewayDataSource extends RemoteGraphQLDataSource<{ authorization?: string }> {
  override willSendRequest({ request, context }: Parameters<NonNullable<RemoteGraphQLDataSource<{ authorization?: string }>["willSendRequest"]>>[0]): void {
    if (context.authorization !== undefined) request.http?.headers.set("authorization", context.authorization);
    if (this.url.endsWith("/subgraph")) request.http?.headers.set("router-secret", ROUTER_SECRET);
  }
}

describe("the gateway as a Federation 2 subgraph", () => {
  let stack: Stack;
  let referrals: Awaited<ReturnType<typeof startReferrals>>;
  let supergraphSdl: string;
  let apiSchema: GraphQLSchema;
  let router: ApolloServer<{ authorization?: string }>;

  beforeAll(async () => {
    stack = await Stack.start({ env: { FEDERATION_ROUTER_SECRET: ROUTER_SECRET } });
    referrals = await startReferrals();
    const composed = composeServices([
      { name: "auth", url: `${stack.url}/subgraph`, typeDefs: parse(await subgraphSDL()) },
      { name: "referrals", url: referrals.url, typeDefs: parse(REFERRALS_SDL) },
    ]);
    if (composed.errors !== undefined) throw new Error(`composition failed: ${composed.errors.map((error) => error.message).join("; ")}`);
    supergraphSdl = composed.supergraphSdl;
    apiSchema = composed.schema.toAPISchema().toGraphQLJSSchema();
    router = new ApolloServer({
      gateway: new ApolloGateway({ supergraphSdl, buildService: ({ url }) => new GatewayDataSource({ url }) }),
    });
    await router.start();
  });
  afterAll(async () => {
    await router?.stop();
    await referrals?.stop();
    await stack?.close();
  });
  beforeEach(() => {
    referrals.received.length = 0;
  });

  /** A Spine session with a role selected, as a frontend would open it, and the session key Spine gave it. */
  async function spineSession(): Promise<{ token: string; sessionKey: string }> {
    const opened = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const selected = await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: opened.data!.createSession.token! });
    expect(selected.errors).toBeUndefined();
    const sessionKey = stack.spine.calls("A002").at(-1)!.headers["http_x_session_key"];
    return { token: selected.data!.selectRole.token!, sessionKey: String(sessionKey) };
  }

  async function throughRouter(query: string, token?: string): Promise<{ data?: unknown; errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> }> {
    const response = await router.executeOperation({ query }, { contextValue: { authorization: token === undefined ? undefined : `Bearer ${token}` } });
    if (response.body.kind !== "single") throw new Error("expected a single result");
    return response.body.singleResult as never;
  }

  /** POST /subgraph as anyone who can reach the gateway's port could. */
  async function direct(query: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const response = await fetch(`${stack.url}/subgraph`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, text: await response.text() };
  }

  const ENTITIES = /* GraphQL */ `
    query ($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on Session { id credentials { spine { sessionKey asid } idp { clientId accessToken from } } }
        ... on User { id displayName }
      }
    }
  `;

  it("joins the caller's session with its referrals through the supergraph", async () => {
    const { token } = await spineSession();

    const result = await throughRouter("{ session { id user { displayName } referrals { ubrn orgIdentifier } } }", token);

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      session: { id: expect.any(String), user: { displayName: "SA Assurance GP-Card" }, referrals: [{ ubrn: `ubrn-for-${stack.spine.asid}`, orgIdentifier: "R01" }] },
    });
  });

  it("hands the referrals subgraph the session's Spine session key and ASID through @requires", async () => {
    const { token, sessionKey } = await spineSession();

    const result = await throughRouter("{ session { id referrals { ubrn } } }", token);

    expect(result.errors).toBeUndefined();
    const { id } = (result.data as { session: { id: string } }).session;
    expect(referrals.received).toEqual([{ __typename: "Session", id, credentials: { spine: { sessionKey, asid: stack.spine.asid } } }]);
  });

  it("gives a signed-out caller no session, and the referrals subgraph nothing to act with", async () => {
    const result = await throughRouter("{ session { id referrals { ubrn } } }");

    expect(result).toEqual({ data: { session: null } });
    expect(referrals.received).toEqual([]);
  });

  it("refuses a client that selects the credentials field: it does not exist in the supergraph's API", async () => {
    const { token } = await spineSession();

    const result = await throughRouter("{ session { id credentials { spine { sessionKey asid } } } }", token);

    expect(result.data).toBeUndefined();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions?.["code"]).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(result.errors![0]!.message).toMatch(/^Cannot query field "credentials" on type "Session"\./);
  });

  it("composes an API schema without the credentials, and a supergraph without the secret", () => {
    const session = apiSchema.getType("Session") as GraphQLObjectType;
    expect(Object.keys(session.getFields()).sort()).toEqual(["createdAt", "expiresAt", "id", "permission", "provider", "referrals", "roleSelected", "user"]);
    for (const hidden of ["SessionCredentials", "SpineSessionCredentials", "IdpSessionCredentials", "_Entity", "_Service"]) expect(apiSchema.getType(hidden)).toBeUndefined();
    expect(Object.keys(apiSchema.getQueryType()!.getFields()).sort()).toEqual(["me", "session"]);
    // The supergraph keeps the field, for the query planner, marked inaccessible.
    expect(supergraphSdl).toMatch(/credentials: SessionCredentials[^\n]*@inaccessible/);
    expect(supergraphSdl).not.toContain(ROUTER_SECRET);
  });

  describe("/subgraph, called directly", () => {
    it("answers nothing without the router secret, and touches neither store nor backend", async () => {
      const { token, sessionKey } = await spineSession();
      const { id } = (await stack.post({ query: "{ session { id } }" }, { token })).data.session as { id: string };
      const spineCalls = stack.spine.calls().length;
      const sessionsRead = stack.logs.length;

      const answer = await direct(ENTITIES, { representations: [{ __typename: "Session", id }] }, { authorization: `Bearer ${token}` });

      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.text)).toEqual({ errors: [{ message: "This endpoint answers the router only.", extensions: { code: "UNAUTHENTICATED" } }] });
      expect(answer.text).not.toContain(sessionKey);
      expect(stack.spine.calls()).toHaveLength(spineCalls);
      // The one line written is the request line: no session lookup, no store trouble, no resolver ran.
      expect(stack.logs.slice(sessionsRead).map((line) => [line["msg"], line["path"], line["status"]])).toEqual([["request", "/subgraph", 401]]);
    });

    it.each([
      ["a wrong secret", `${ROUTER_SECRET.slice(0, -1)}X`],
      ["the secret with a prefix", ` x${ROUTER_SECRET}`],
      ["an empty secret", ""],
    ])("answers nothing with %s", async (_case, secret) => {
      const { token, sessionKey } = await spineSession();
      const { id } = (await stack.post({ query: "{ session { id } }" }, { token })).data.session as { id: string };

      const answer = await direct(ENTITIES, { representations: [{ __typename: "Session", id }] }, { authorization: `Bearer ${token}`, "router-secret": secret });

      expect(answer.status).toBe(401);
      expect(answer.text).not.toContain(sessionKey);
    });

    it("resolves the caller's own Session and User entities for the router", async () => {
      const { token, sessionKey } = await spineSession();
      const { id, user } = (await stack.post({ query: "{ session { id user { id } } }" }, { token })).data.session as { id: string; user: { id: string } };

      const answer = await direct(
        ENTITIES,
        { representations: [{ __typename: "Session", id }, { __typename: "User", id: user.id }] },
        { authorization: `Bearer ${token}`, "router-secret": ROUTER_SECRET },
      );

      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({
        data: {
          _entities: [
            { id, credentials: { spine: { sessionKey, asid: stack.spine.asid }, idp: null } },
            { id: user.id, displayName: "SA Assurance GP-Card" },
          ],
        },
      });
    });

    it("hands on an IdP session's client id, access token and sign-in email, never the organisation's API token", async () => {
      const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
      const { token, session } = signedIn.data!.signin;
      const accessToken = decodeURIComponent(stack.idp.calls().filter((call) => call.route === "userinfo").at(-1)!.path.split("/").pop()!);

      const answer = await direct(ENTITIES, { representations: [{ __typename: "Session", id: session.id }] }, { authorization: `Bearer ${token}`, "router-secret": ROUTER_SECRET });

      expect(JSON.parse(answer.text)).toEqual({
        data: { _entities: [{ id: session.id, credentials: { spine: null, idp: { clientId: IDP_DEMO.clientId, accessToken, from: idpUser.email } } }] },
      });
      expect(answer.text).not.toContain(IDP_DEMO.apiToken);
    });

    it("resolves another session's or user's id to null, even for the router", async () => {
      const mine = await spineSession();
      const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
      const theirs = signedIn.data!.signin.session;

      const answer = await direct(
        ENTITIES,
        { representations: [{ __typename: "Session", id: theirs.id }, { __typename: "User", id: theirs.user.id }] },
        { authorization: `Bearer ${mine.token}`, "router-secret": ROUTER_SECRET },
      );

      expect(JSON.parse(answer.text)).toEqual({ data: { _entities: [null, null] } });
    });

    it("resolves every entity to null for a caller without a session", async () => {
      const { token } = await spineSession();
      const { id } = (await stack.post({ query: "{ session { id } }" }, { token })).data.session as { id: string };

      const answer = await direct(ENTITIES, { representations: [{ __typename: "Session", id }] }, { "router-secret": ROUTER_SECRET });

      expect(JSON.parse(answer.text)).toEqual({ data: { _entities: [null] } });
    });
  });

  it("keeps _entities, _service and the credentials off the public /graphql", async () => {
    const { token } = await spineSession();

    const entities = await stack.post({ query: '{ _entities(representations: [{ __typename: "Session", id: "x" }]) { __typename } }' }, { token });
    const service = await stack.post({ query: "{ _service { sdl } }" });
    const credentials = await stack.post({ query: "{ session { credentials { spine { sessionKey } } } }" }, { token });

    for (const result of [entities, service, credentials]) {
      expect(result.data).toBeUndefined();
      expect(result.errors?.map((error) => error.extensions?.["code"])).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    }
  });

  it("writes neither the router secret nor any handed-on credential to the log", async () => {
    const { token, sessionKey } = await spineSession();
    await throughRouter("{ session { id referrals { ubrn } } }", token);
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const accessToken = decodeURIComponent(stack.idp.calls().filter((call) => call.route === "userinfo").at(-1)!.path.split("/").pop()!);
    await direct(
      ENTITIES,
      { representations: [{ __typename: "Session", id: signedIn.data!.signin.session.id }] },
      { authorization: `Bearer ${signedIn.data!.signin.token}`, "router-secret": ROUTER_SECRET },
    );

    const log = stack.logs.map((line) => JSON.stringify(line)).join("\n");
    expect(log).toContain('"path":"/subgraph"');
    for (const secret of [ROUTER_SECRET, sessionKey, accessToken]) expect(log).not.toContain(secret);
  });
});

describe("/subgraph without FEDERATION_ROUTER_SECRET", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("is not served at all", async () => {
    const response = await fetch(`${stack.url}/subgraph`, {
      method: "POST",
      headers: { "content-type": "application/json", "router-secret": ROUTER_SECRET },
      body: JSON.stringify({ query: "{ _service { sdl } }" }),
    });

    expect(response.status).toBe(404);
  });
});
