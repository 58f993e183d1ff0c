import type { GatewayContext } from "../context.js";

/**
 * The credentials field, in SDL rather than type-graphql: type-graphql keeps field resolvers in
 * one process-wide store, and a field resolver built into one schema shows up in every schema
 * built after it. Written here, the field can never reach the public schema.
 *
 * Every part is @inaccessible: the router may select it (for another subgraph's @requires); no
 * client of the supergraph can name it. The value types are @shareable because a subgraph that
 * @requires them declares the same types.
 */
export const credentialsTypeDefs = /* GraphQL */ `
  extend type Session {
    "For other subgraphs, through @requires: the backend credentials of the caller's own session; null for any other session."
    credentials: SessionCredentials @inaccessible
  }

  "The backend credentials of a session: exactly one of spine and idp is set, after its provider."
  type SessionCredentials @inaccessible @shareable {
    spine: SpineSessionCredentials
    idp: IdpSessionCredentials
  }

  "What another subgraph needs to call Spine for the user of this session (spine.md)."
  type SpineSessionCredentials @inaccessible @shareable {
    "The professional session key, sent as HTTP_X_SESSION_KEY."
    sessionKey: String!
    "The gateway's Accredited System ID, sent as XAPI_ASID."
    asid: String!
  }

  "What another subgraph needs to call the exchange's services for the user of this session (idp.md)."
  type IdpSessionCredentials @inaccessible @shareable {
    "The organisation's client id, sent as client_id."
    clientId: String!
    "The user's access token, sent as X-Auth-Token."
    accessToken: String!
    "The email the user signed in with, sent as from."
    from: String!
  }
`;

export const credentialsResolvers = {
  Session: {
    credentials: ({ id }: { id: string }, _args: unknown, { credentials, scope }: GatewayContext) => credentials.forSession(scope, id),
  },
};
