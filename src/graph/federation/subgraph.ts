import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { execute, parse, type GraphQLSchema } from "graphql";
import { createResolversMap } from "type-graphql";
import type { GatewayContext } from "../context.js";
import { gatewaySchema } from "../schema.js";
import { toSessionView } from "../session/session.view.js";
import { toUserView } from "../user/user.view.js";
import { credentialsResolvers, credentialsTypeDefs } from "./credentials.js";

/** The Federation 2 directives the subgraph uses; nothing else is imported from the spec. */
const LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@inaccessible"])`;

let built: Promise<GraphQLSchema> | undefined;

/**
 * The public graph as a Federation 2 subgraph: Session and User are entities keyed by id (their
 * `@key` is on the type-graphql classes), and Session has the @inaccessible credentials field.
 * The SDL is printed from the public schema with its directives, and @apollo/subgraph adds
 * `_service` and `_entities`; type-graphql's resolvers are carried over as a resolver map.
 * Built once per process, like the public schema.
 */
export function subgraphSchema(): Promise<GraphQLSchema> {
  built ??= (async () => {
    const graph = await gatewaySchema();
    const resolvers = createResolversMap(graph) as Record<string, object>;
    // `as never`: @apollo/subgraph types a resolver's context as unknown, ours take GatewayContext.
    return buildSubgraphSchema([
      { typeDefs: parse(`${LINK}\n${printSchemaWithDirectives(graph)}`), resolvers: { ...resolvers, ...referenceResolvers(resolvers) } as never },
      { typeDefs: parse(credentialsTypeDefs), resolvers: credentialsResolvers as never },
    ]);
  })();
  return built;
}

/**
 * How `_entities` finds a Session or a User: only the caller's own (the router forwards the
 * client's Authorization). Any other id resolves to null: ids are public, sessions are not.
 */
function referenceResolvers(resolvers: Record<string, object>): Record<string, object> {
  return {
    Session: {
      ...resolvers["Session"],
      __resolveReference: async ({ id }: { id: string }, { auth, scope }: GatewayContext) => {
        const current = await auth.session(scope);
        return current?.session.record.id === id ? toSessionView(current.session, current.user) : null;
      },
    },
    User: {
      ...resolvers["User"],
      __resolveReference: async ({ id }: { id: string }, { auth, scope }: GatewayContext) => {
        const user = await auth.me(scope);
        const view = user === null ? null : toUserView(user);
        // A copy: @apollo/subgraph writes `__typename` onto what this returns, and a user view
        // is shared by the requests that read the same user, so it is frozen.
        return view?.id === id ? { ...view } : null;
      },
    },
  };
}

/** What `_service { sdl }` answers (what a router composes), as schema/subgraph.graphql holds it. */
export async function subgraphSDL(): Promise<string> {
  const result = await execute({ schema: await subgraphSchema(), document: parse("{ _service { sdl } }") });
  const sdl = (result.data as { _service: { sdl: string } })._service.sdl;
  return `${sdl}\n`;
}
