/**
 * The gateway as a Federation 2 subgraph (issue 5, part 2; issue 16), composed from its live
 * `_service { sdl }` with a test-only "referrals" subgraph, and run under two real routers:
 * @apollo/gateway (composed by @apollo/composition) and Hive Gateway (composed by
 * @theguild/federation-composition, through the project's own `npm run compose` function). One
 * scenario table runs under both. The gateway itself is the real one, over HTTP, with both
 * simulators behind it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { composeServices } from "@apollo/composition";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse, type GraphQLObjectType, type GraphQLSchema } from "graphql";
import { composeSupergraph } from "../../scripts/compose-supergraph.js";
import { IDP_DEMO } from "../../src/simulators/index.js";
import { CreateSessionDocument, SelectRoleDocument, SigninDocument } from "../generated/operations.js";
import { idpUser, spineUser, Stack } from "../support/harness.js";
import { askRouter, startApolloGateway, startHiveGateway, type Router, type RouterSettings } from "./routers.js";

/** A test router secret, never a deployment's. */
const ROUTER_SECRET = "federation-test-router-secret-0123456789abcdef";

/** Sign-in limits small enough to reach in a test: an account locks after 3 refusals, an address after 5. */
const MAX_FAILURES_PER_ACCOUNT = 3;
const MAX_FAILURES_PER_ADDRESS = 5;

/**
 * A referrals subgraph as another team would write it: it @requires the session's backend
 * credentials, which it would use to call e-RS or the exchange; here it records what it was
 * sent and answers one referral per call.
 */
const REFERRALS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@shareable"])

  type Session @key(fields: "id") {
    id: ID!
    credentials: SessionCredentials @external
    "The user's referrals, read with the session's own Spine or exchange credentials."
    referrals: [Referral!]! @requires(fields: "credentials { spine { sessionKey asid } idp { clientId accessToken from } }")
  }

  type SessionCredentials @shareable {
    spine: SpineSessionCredentials
    idp: IdpSessionCredentials
  }

  type SpineSessionCredentials @shareable {
    sessionKey: String!
    asid: String!
  }

  type IdpSessionCredentials @shareable {
    clientId: String!
    accessToken: String!
    from: String!
  }

  type Referral {
    ubrn: String!
    orgIdentifier: String!
  }
`;

interface Credentials {
  spine: { sessionKey: string; asid: string } | null;
  idp: { clientId: string; accessToken: string; from: string } | null;
}

interface Representation {
  __typename: string;
  id: string;
  credentials?: Credentials | null;
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
          // No credentials, no call to e-RS or the exchange: no referrals.
          referrals: ({ credentials }: Representation) =>
            credentials?.spine != null
              ? [{ ubrn: `ubrn-for-${credentials.spine.asid}`, orgIdentifier: "R01" }]
              : credentials?.idp != null
                ? [{ ubrn: `ubrn-for-${credentials.idp.clientId}`, orgIdentifier: "R01" }]
                : [],
        },
      },
    }),
  });
  const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: 0 } });
  return { url, received, stop: () => server.stop() };
}

/** POST /subgraph as anyone who can reach the gateway's port could. */
async function direct(
  stack: Stack,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${stack.url}/subgraph`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, text: await response.text() };
}

/** The subgraph's SDL as a router would read it: `_service { sdl }`, with the secret. */
async function liveSubgraphSDL(stack: Stack): Promise<string> {
  const answer = await direct(stack, "{ _service { sdl } }", {}, { "router-secret": ROUTER_SECRET });
  return (JSON.parse(answer.text) as { data: { _service: { sdl: string } } }).data._service.sdl;
}

/**
 * The two routers. `splitsMutations`: Hive Gateway sends each root mutation field to the
 * subgraph as its own request, so "one sensitive mutation per document" cannot see the others
 * (docs/federation.md); Apollo Gateway sends a subgraph's mutation fields in one request.
 */
const ROUTERS: Array<{
  name: string;
  splitsMutations: boolean;
  start: (settings: RouterSettings) => Promise<Router>;
  compose: (subgraphs: Array<{ name: string; url: string; sdl: string }>) => string;
}> = [
  {
    name: "Apollo Gateway",
    splitsMutations: false,
    start: startApolloGateway,
    compose: (subgraphs) => {
      const composed = composeServices(subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })));
      if (composed.errors !== undefined) throw new Error(`composition failed: ${composed.errors.map((error) => error.message).join("; ")}`);
      return composed.supergraphSdl;
    },
  },
  { name: "Hive Gateway", splitsMutations: true, start: startHiveGateway, compose: composeSupergraph },
];

/** Each router gets client addresses of its own, so the per-address limits of one never touch the other's tests. */
const ADDRESSES = [
  { signins: "127.0.0.11", forged: "127.0.0.12", bystander: "127.0.0.13", aliased: "127.0.0.14" },
  { signins: "127.0.0.21", forged: "127.0.0.22", bystander: "127.0.0.23", aliased: "127.0.0.24" },
];

describe("the gateway as a Federation 2 subgraph", () => {
  let stack: Stack;
  let referrals: Awaited<ReturnType<typeof startReferrals>>;
  let sdl: string;

  beforeAll(async () => {
    stack = await Stack.start({
      env: {
        FEDERATION_ROUTER_SECRET: ROUTER_SECRET,
        LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES_PER_ACCOUNT),
        LOGIN_MAX_FAILURES_PER_ADDRESS: String(MAX_FAILURES_PER_ADDRESS),
      },
    });
    referrals = await startReferrals();
    sdl = await liveSubgraphSDL(stack);
  });
  afterAll(async () => {
    await referrals?.stop();
    await stack?.close();
  });
  beforeEach(() => {
    referrals.received.length = 0;
  });

  /** A Spine session with a role selected, as a frontend would open it, and the session key Spine gave it. */
  async function spineSession(): Promise<{ token: string; sessionKey: string }> {
    const opened = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const selected = await stack.execute(
      SelectRoleDocument,
      { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
      { token: opened.data!.createSession.token! },
    );
    expect(selected.errors).toBeUndefined();
    return { token: selected.data!.selectRole.token!, sessionKey: lastSessionKey() };
  }

  /** The session key of the last A002 call: Spine's key for the session that selected a role. */
  function lastSessionKey(): string {
    return String(stack.spine.calls("A002").at(-1)!.headers["http_x_session_key"]);
  }

  /** The access token of the last user info call: the IdP's token of the last sign-in. */
  function lastAccessToken(): string {
    return decodeURIComponent(
      stack.idp
        .calls()
        .filter((call) => call.route === "userinfo")
        .at(-1)!
        .path.split("/")
        .pop()!,
    );
  }

  describe.each(ROUTERS.map((router, index) => ({ ...router, addresses: ADDRESSES[index]! })))(
    "through $name",
    ({ name, splitsMutations, start, compose, addresses }) => {
      let router: Router;
      let supergraphSdl: string;

      beforeAll(async () => {
        supergraphSdl = compose([
          { name: "auth", url: `${stack.url}/subgraph`, sdl },
          { name: "referrals", url: referrals.url, sdl: REFERRALS_SDL },
        ]);
        router = await start({ supergraphSdl, routerSecret: ROUTER_SECRET });
      });
      afterAll(async () => {
        await router?.stop();
      });

      const ask = (
        query: string,
        options: { token?: string; variables?: Record<string, unknown>; from?: string; headers?: Record<string, string> } = {},
      ) => askRouter(router, { query, variables: options.variables }, options);

      it("joins the caller's session with its referrals, read with exactly its own Spine credentials", async () => {
        await spineSession(); // somebody else's, open at the same time
        const { token, sessionKey } = await spineSession();

        const result = await ask("{ session { id user { displayName } referrals { ubrn orgIdentifier } } }", { token });

        expect(result.errors).toBeUndefined();
        const session = result.data!["session"] as { id: string };
        expect(session).toEqual({
          id: expect.any(String),
          user: { displayName: "SA Assurance GP-Card" },
          referrals: [{ ubrn: `ubrn-for-${stack.spine.asid}`, orgIdentifier: "R01" }],
        });
        expect(referrals.received).toEqual([
          { __typename: "Session", id: session.id, credentials: { spine: { sessionKey, asid: stack.spine.asid }, idp: null } },
        ]);
      });

      it("hands the referrals subgraph exactly the caller's own IdP credentials, never the organisation's API token", async () => {
        const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
        const accessToken = lastAccessToken();
        const { token, session } = signedIn.data!.signin;

        const result = await ask("{ session { id referrals { ubrn } } }", { token: token! });

        expect(result.errors).toBeUndefined();
        expect(result.data).toEqual({ session: { id: session.id, referrals: [{ ubrn: `ubrn-for-${IDP_DEMO.clientId}` }] } });
        expect(referrals.received).toEqual([
          {
            __typename: "Session",
            id: session.id,
            credentials: { spine: null, idp: { clientId: IDP_DEMO.clientId, accessToken, from: idpUser.email } },
          },
        ]);
        expect(JSON.stringify(referrals.received)).not.toContain(IDP_DEMO.apiToken);
      });

      it("gives a signed-out caller no session, and the referrals subgraph nothing to act with", async () => {
        const subgraphRequests = (): number => stack.logs.filter((line) => line["path"] === "/subgraph" && line["status"] === 200).length;
        const before = subgraphRequests();

        const result = await ask("{ session { id referrals { ubrn } } }");

        expect(result.data).toEqual({ session: null });
        expect(result.errors).toBeUndefined();
        // The router asked the gateway (a router that failed to would answer null too).
        expect(subgraphRequests()).toBe(before + 1);
        expect(referrals.received).toEqual([]);
      });

      it("refuses a client that selects the credentials field: it does not exist in the supergraph's API", async () => {
        const { token } = await spineSession();

        const result = await ask("{ session { id credentials { spine { sessionKey asid } } } }", { token });

        expect(result.data ?? undefined).toBeUndefined();
        expect(result.errors).toHaveLength(1);
        expect(result.errors![0]!.extensions?.["code"]).toBe("GRAPHQL_VALIDATION_FAILED");
        expect(result.errors![0]!.message).toMatch(/^Cannot query field "credentials" on type "Session"\./);
      });

      describe("a mutation's payload joined with another subgraph", () => {
        it("hands on the credentials of the session createSession just opened", async () => {
          const result = await ask(
            "mutation ($token: String!) { createSession(input: { token: $token }) { token session { id referrals { ubrn } } } }",
            {
              variables: { token: spineUser.smartcardToken },
            },
          );

          expect(result.errors).toBeUndefined();
          const { token, session } = result.data!["createSession"] as { token: string; session: { id: string; referrals: unknown } };
          expect(session.referrals).toEqual([{ ubrn: `ubrn-for-${stack.spine.asid}` }]);
          // Spine's key for the new session, as the gateway sends it when the session selects a role.
          await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });
          expect(referrals.received).toEqual([
            { __typename: "Session", id: session.id, credentials: { spine: { sessionKey: lastSessionKey(), asid: stack.spine.asid }, idp: null } },
          ]);
        });

        it("hands on the credentials of the session selectRole just rotated", async () => {
          const opened = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });

          const result = await ask(
            'mutation { selectRole(input: { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }) { session { id roleSelected referrals { ubrn } } } }',
            {
              token: opened.data!.createSession.token!,
            },
          );

          expect(result.errors).toBeUndefined();
          const { session } = result.data!["selectRole"] as { session: { id: string } };
          expect(session).toEqual({
            id: opened.data!.createSession.session.id,
            roleSelected: true,
            referrals: [{ ubrn: `ubrn-for-${stack.spine.asid}` }],
          });
          expect(referrals.received).toEqual([
            { __typename: "Session", id: session.id, credentials: { spine: { sessionKey: lastSessionKey(), asid: stack.spine.asid }, idp: null } },
          ]);
        });

        it("hands on the credentials of the session signin just opened, not those of the session the caller came with", async () => {
          const { token: held } = await spineSession();

          const result = await ask(
            "mutation ($email: String!, $password: String!) { signin(input: { email: $email, password: $password }) { session { id referrals { ubrn } } } }",
            {
              token: held,
              variables: { email: idpUser.email, password: idpUser.password },
            },
          );

          expect(result.errors).toBeUndefined();
          const { session } = result.data!["signin"] as { session: { id: string } };
          expect(session).toEqual({ id: expect.any(String), referrals: [{ ubrn: `ubrn-for-${IDP_DEMO.clientId}` }] });
          expect(referrals.received).toEqual([
            {
              __typename: "Session",
              id: session.id,
              credentials: { spine: null, idp: { clientId: IDP_DEMO.clientId, accessToken: lastAccessToken(), from: idpUser.email } },
            },
          ]);
        });
      });

      describe("refusals keep their codes", () => {
        it("refuses a document over the limits as too complex", async () => {
          const aliases = Array.from({ length: 11 }, (_, index) => `a${index}: id`).join(" ");
          const { token } = await spineSession();

          const result = await ask(`{ session { ${aliases} } }`, { token });

          expect(result.errors?.map((error) => [error.extensions?.["code"], error.message])).toEqual([
            ["GRAPHQL_VALIDATION_FAILED", "The operation is too complex."],
          ]);
          expect(result.data?.["session"] ?? null).toBeNull();
        });

        it("refuses selecting a role without a session as UNAUTHENTICATED", async () => {
          const result = await ask('mutation { selectRole(input: { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }) { token } }');

          expect(result.errors?.map((error) => error.extensions?.["code"])).toEqual(["UNAUTHENTICATED"]);
        });

        it("refuses a malformed email as BAD_USER_INPUT before the IdP is asked", async () => {
          const idpCalls = stack.idp.calls("signin").length;

          const result = await ask('mutation { signin(input: { email: "not-an-email", password: "x" }) { token } }');

          expect(result.errors?.map((error) => error.extensions?.["code"])).toEqual(["BAD_USER_INPUT"]);
          expect(stack.idp.calls("signin")).toHaveLength(idpCalls);
        });

        if (splitsMutations) {
          it("runs each aliased sensitive mutation as its own subgraph request, so the per-document rule cannot see them together", async () => {
            const { token } = await spineSession();

            const result = await ask("mutation { a: signout b: signout }", { token });

            // The first ends the session; the second finds none. Both ran.
            expect(result).toMatchObject({ data: { a: true, b: false } });
          });
        } else {
          it("refuses two sensitive mutations in one document, with the code", async () => {
            const { token } = await spineSession();

            const result = await ask("mutation { a: signout b: signout }", { token });

            expect(result.errors?.map((error) => error.extensions?.["code"])).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
            expect((await ask("{ session { id } }", { token })).data).toEqual({ session: { id: expect.any(String) } });
          });
        }
      });

      it("signs the caller out, at the gateway and at Spine", async () => {
        const { token, sessionKey } = await spineSession();

        const result = await ask("mutation { signout }", { token });

        expect(result).toEqual({ status: 200, data: { signout: true } });
        expect(stack.spine.calls("A003").at(-1)?.headers["http_x_session_key"]).toBe(sessionKey);
        expect((await ask("{ session { id } }", { token })).data).toEqual({ session: null });
      });

      describe("the client's address", () => {
        const wrongSignin = (email: string, from: string, forwardedFor?: string) =>
          ask('mutation ($email: String!) { signin(input: { email: $email, password: "wrong-password" }) { token } }', {
            variables: { email },
            from,
            headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
          });

        it("names the client, not the router, in the audit trail, whatever X-Forwarded-For the client sent", async () => {
          const email = `audit-${name.replace(/\W/g, "")}@example.nhs.uk`;

          await wrongSignin(email, addresses.signins, "203.0.113.7");

          expect(stack.audit.filter((event) => event["event"] === "signin" && event["outcome"] === "failure").at(-1)).toMatchObject({
            clientAddress: addresses.signins,
          });
        });

        it("counts sign-in failures against the client's own address: a forged X-Forwarded-For moves nothing", async () => {
          const tag = name.replace(/\W/g, "");
          // Each attempt names another account (so no account locks) and claims another address.
          for (let attempt = 0; attempt < MAX_FAILURES_PER_ADDRESS; attempt += 1) {
            const answer = await wrongSignin(`address-${tag}-${attempt}@example.nhs.uk`, addresses.forged, `198.51.100.${attempt}`);
            expect(answer.errors?.map((error) => error.extensions?.["code"])).toEqual(["UNAUTHENTICATED"]);
          }
          const idpCalls = stack.idp.calls("signin").length;

          const limited = await wrongSignin(`address-${tag}-next@example.nhs.uk`, addresses.forged, "198.51.100.250");
          const bystander = await wrongSignin(`address-${tag}-bystander@example.nhs.uk`, addresses.bystander);

          expect(limited.errors?.map((error) => error.extensions?.["code"])).toEqual(["RATE_LIMITED"]);
          expect(bystander.errors?.map((error) => error.extensions?.["code"])).toEqual(["UNAUTHENTICATED"]);
          expect(stack.idp.calls("signin")).toHaveLength(idpCalls + 1);
        });
      });

      it("lets a document of 20 aliased wrong-password sign-ins reach the IdP at most the per-account limit", async () => {
        const email = `aliased-${name.replace(/\W/g, "")}@example.nhs.uk`;
        const aliases = Array.from(
          { length: 20 },
          (_, index) => `a${index}: signin(input: { email: "${email}", password: "wrong-${index}" }) { token }`,
        ).join("\n");
        const idpCalls = (): number => stack.idp.calls("signin").filter((call) => (call.body as { email: string }).email === email).length;

        const result = await ask(`mutation { ${aliases} }`, { from: addresses.aliased });

        expect(result.data ?? null).toBeNull();
        expect(result.errors?.length).toBeGreaterThan(0);
        // Apollo Gateway sends the document as one request, which the per-document rule refuses
        // (no IdP call); Hive Gateway runs the aliases one by one, in order, and stops at the first
        // refusal (a sign-in's payload is non-null): 1 call. The per-account limit is the bound
        // that holds whatever a router does.
        expect(idpCalls()).toBeLessThanOrEqual(MAX_FAILURES_PER_ACCOUNT);
      });

      it("composes an API schema without the credentials, and a supergraph without the secret", () => {
        expect(supergraphSdl).toMatch(/credentials: SessionCredentials[^\n]*@inaccessible/);
        expect(supergraphSdl).not.toContain(ROUTER_SECRET);
      });
    },
  );

  it("composes an API schema without the credentials (Apollo's API schema)", () => {
    const composed = composeServices([
      { name: "auth", url: `${stack.url}/subgraph`, typeDefs: parse(sdl) },
      { name: "referrals", url: referrals.url, typeDefs: parse(REFERRALS_SDL) },
    ]);
    const apiSchema: GraphQLSchema = composed.schema!.toAPISchema().toGraphQLJSSchema();
    const session = apiSchema.getType("Session") as GraphQLObjectType;
    expect(Object.keys(session.getFields()).sort()).toEqual([
      "createdAt",
      "expiresAt",
      "id",
      "permission",
      "provider",
      "referrals",
      "roleSelected",
      "user",
    ]);
    for (const hidden of ["SessionCredentials", "SpineSessionCredentials", "IdpSessionCredentials", "_Entity", "_Service"])
      expect(apiSchema.getType(hidden)).toBeUndefined();
    expect(Object.keys(apiSchema.getQueryType()!.getFields()).sort()).toEqual(["me", "session"]);
  });

  const ENTITIES = /* GraphQL */ `
    query ($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on Session {
          id
          credentials {
            spine {
              sessionKey
              asid
            }
            idp {
              clientId
              accessToken
              from
            }
          }
        }
        ... on User {
          id
          displayName
        }
      }
    }
  `;

  describe("/subgraph, called directly", () => {
    it("answers nothing without the router secret, and touches neither store nor backend", async () => {
      const { token, sessionKey } = await spineSession();
      const { id } = (await stack.post({ query: "{ session { id } }" }, { token })).data.session as { id: string };
      const spineCalls = stack.spine.calls().length;
      const sessionsRead = stack.logs.length;

      const answer = await direct(stack, ENTITIES, { representations: [{ __typename: "Session", id }] }, { authorization: `Bearer ${token}` });

      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.text)).toEqual({
        errors: [{ message: "This endpoint answers the router only.", extensions: { code: "UNAUTHENTICATED" } }],
      });
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

      const answer = await direct(
        stack,
        ENTITIES,
        { representations: [{ __typename: "Session", id }] },
        { authorization: `Bearer ${token}`, "router-secret": secret },
      );

      expect(answer.status).toBe(401);
      expect(answer.text).not.toContain(sessionKey);
    });

    it("resolves the caller's own Session and User entities for the router", async () => {
      const { token, sessionKey } = await spineSession();
      const { id, user } = (await stack.post({ query: "{ session { id user { id } } }" }, { token })).data.session as {
        id: string;
        user: { id: string };
      };

      const answer = await direct(
        stack,
        ENTITIES,
        {
          representations: [
            { __typename: "Session", id },
            { __typename: "User", id: user.id },
          ],
        },
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
      const accessToken = lastAccessToken();

      const answer = await direct(
        stack,
        ENTITIES,
        { representations: [{ __typename: "Session", id: session.id }] },
        { authorization: `Bearer ${token}`, "router-secret": ROUTER_SECRET },
      );

      expect(JSON.parse(answer.text)).toEqual({
        data: {
          _entities: [{ id: session.id, credentials: { spine: null, idp: { clientId: IDP_DEMO.clientId, accessToken, from: idpUser.email } } }],
        },
      });
      expect(answer.text).not.toContain(IDP_DEMO.apiToken);
    });

    it("resolves another session's or user's id to null, even for the router", async () => {
      const mine = await spineSession();
      const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
      const theirs = signedIn.data!.signin.session;

      const answer = await direct(
        stack,
        ENTITIES,
        {
          representations: [
            { __typename: "Session", id: theirs.id },
            { __typename: "User", id: theirs.user.id },
          ],
        },
        { authorization: `Bearer ${mine.token}`, "router-secret": ROUTER_SECRET },
      );

      expect(JSON.parse(answer.text)).toEqual({ data: { _entities: [null, null] } });
    });

    it.each([
      ["too complex", `{ session { ${Array.from({ length: 11 }, (_, index) => `a${index}: id`).join(" ")} } }`, "GRAPHQL_VALIDATION_FAILED"],
      ["two sensitive mutations", "mutation { a: signout b: signout }", "GRAPHQL_VALIDATION_FAILED"],
      ["an unknown field", "{ session { nope } }", "GRAPHQL_VALIDATION_FAILED"],
      ["a malformed argument", 'mutation { signin(input: { email: 1, password: "x" }) { token } }', "BAD_USER_INPUT"],
    ])("answers a document refused as %s with 200 and the code under application/json, for the router", async (_case, query, code) => {
      const asJson = await direct(stack, query, {}, { "router-secret": ROUTER_SECRET, accept: "application/json" });
      const asGraphQLResponse = await direct(stack, query, {}, { "router-secret": ROUTER_SECRET, accept: "application/graphql-response+json" });
      const onGraphql = await stack.post({ query });

      expect([
        asJson.status,
        (JSON.parse(asJson.text) as { errors: Array<{ extensions: { code: string } }> }).errors.map((error) => error.extensions.code),
      ]).toEqual([200, [code]]);
      // The GraphQL-over-HTTP spec's own media type keeps its 400, and /graphql keeps today's statuses.
      expect(asGraphQLResponse.status).toBe(400);
      expect([onGraphql.status, onGraphql.errors?.map((error) => error.extensions?.["code"])]).toEqual([400, [code]]);
    });

    it.each([
      ["no query", {}],
      ["a batch", [{ query: "{ me { id } }" }]],
    ])("keeps 400 BAD_REQUEST for a request that is not a GraphQL request: %s", async (_case, body) => {
      const response = await fetch(`${stack.url}/subgraph`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", "router-secret": ROUTER_SECRET },
        body: JSON.stringify(body),
      });

      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors.map((error) => error.extensions.code)).toEqual([
        "BAD_REQUEST",
      ]);
    });

    it("resolves every entity to null for a caller without a session", async () => {
      const { token } = await spineSession();
      const { id } = (await stack.post({ query: "{ session { id } }" }, { token })).data.session as { id: string };

      const answer = await direct(stack, ENTITIES, { representations: [{ __typename: "Session", id }] }, { "router-secret": ROUTER_SECRET });

      expect(JSON.parse(answer.text)).toEqual({ data: { _entities: [null] } });
    });
  });

  it("trusts no X-Forwarded-For on /graphql, even from a caller with the router secret", async () => {
    await stack.post(
      { query: 'mutation { signin(input: { email: "graphql-forwarded@example.nhs.uk", password: "wrong-password" }) { token } }' },
      { headers: { "router-secret": ROUTER_SECRET, "x-forwarded-for": "203.0.113.9" } },
    );

    // TRUSTED_PROXY_HOPS is 0 here: the socket's peer, as before routers came along.
    expect(stack.audit.filter((event) => event["event"] === "signin" && event["outcome"] === "failure").at(-1)).toMatchObject({
      clientAddress: "127.0.0.1",
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
    const { id } = (await stack.post({ query: "{ session { id } }" }, { token })).data.session as { id: string };
    await direct(
      stack,
      ENTITIES,
      { representations: [{ __typename: "Session", id }] },
      { authorization: `Bearer ${token}`, "router-secret": ROUTER_SECRET },
    );
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const accessToken = lastAccessToken();
    await direct(
      stack,
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
