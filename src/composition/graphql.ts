import type { ApolloServer } from "@apollo/server";
import type { GatewayContext } from "../graph/context.js";
import { subgraphSchema } from "../graph/federation/subgraph.js";
import { gatewaySchema } from "../graph/schema.js";
import { createApollo } from "../graphql/apollo.js";
import { FastPath } from "../graphql/fast-path.js";
import { KnownOperations } from "../graphql/known-operations.js";
import type { ResolvedConfig } from "./config.js";

/** The GraphQL servers, started: the public graph (with its fast path) and, with a router secret, the subgraph. */
interface GatewayGraphql {
  apollo: ApolloServer<GatewayContext>;
  fastPath: FastPath;
  subgraph: { apollo: ApolloServer<GatewayContext>; routerSecret: string } | undefined;
  stop: () => Promise<void>;
}

export async function startGraphql(config: ResolvedConfig): Promise<GatewayGraphql> {
  const schema = await gatewaySchema();
  const known = new KnownOperations();
  const apollo = createApollo({ schema, production: config.production, known });
  await apollo.start();
  // The subgraph is served only when a router secret is set: without one, nobody could be told apart from the router.
  const subgraph =
    config.federationRouterSecret === undefined
      ? undefined
      : { apollo: createApollo({ schema: await subgraphSchema(), production: config.production }), routerSecret: config.federationRouterSecret };
  await subgraph?.apollo.start();
  return {
    apollo,
    fastPath: new FastPath(known, schema),
    subgraph,
    stop: async () => {
      await apollo.stop();
      await subgraph?.apollo.stop();
    },
  };
}
