/**
 * The two Federation routers the suite runs the gateway's subgraph under, each configured as
 * docs/federation.md tells an operator to: the router secret and the client's Authorization to
 * the gateway's subgraph only, and the client's address appended to X-Forwarded-For. Both listen
 * on 127.0.0.1 over real HTTP. Hive Gateway's set-up is shared with `npm run bench`
 * (scripts/federation/hive-gateway.ts).
 */
import { request } from "node:http";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { forwardedForWithPeer, type Router, type RouterSettings } from "../../scripts/federation/hive-gateway.js";

export { startHiveGateway, type Router, type RouterSettings } from "../../scripts/federation/hive-gateway.js";

interface ApolloRouterContext {
  authorization?: string;
  forwardedFor: string;
}

/** What Apollo Gateway sends to the gateway's subgraph: the secret, the client's Authorization and address. */
class AuthDataSource extends RemoteGraphQLDataSource<ApolloRouterContext> {
  constructor(
    url: string,
    private readonly routerSecret: string,
  ) {
    super({ url });
  }

  override willSendRequest({ request, context }: Parameters<NonNullable<RemoteGraphQLDataSource<ApolloRouterContext>["willSendRequest"]>>[0]): void {
    request.http?.headers.set("router-secret", this.routerSecret);
    if (context.authorization !== undefined) request.http?.headers.set("authorization", context.authorization);
    request.http?.headers.set("x-forwarded-for", context.forwardedFor);
  }
}

/** @apollo/gateway under Apollo Server's standalone HTTP server. */
export async function startApolloGateway({ supergraphSdl, routerSecret }: RouterSettings): Promise<Router> {
  const server = new ApolloServer<ApolloRouterContext>({
    gateway: new ApolloGateway({
      supergraphSdl,
      // Other subgraphs get neither the secret nor the caller's token: they get credentials through @requires.
      buildService: ({ name, url }) => (name === "auth" ? new AuthDataSource(url!, routerSecret) : new RemoteGraphQLDataSource({ url })),
    }),
  });
  const { url } = await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port: 0 },
    context: async ({ req }) => ({
      authorization: req.headers.authorization,
      forwardedFor: forwardedForWithPeer(req.headers["x-forwarded-for"] as string | undefined, req.socket.remoteAddress),
    }),
  });
  return { url, stop: () => server.stop() };
}

interface RouterAnswer {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
}

/**
 * POST a document to a router as a client at `from` (any 127.0.0.0/8 address: the loopback
 * answers them all), so that tests can tell clients apart by address.
 */
export function askRouter(
  router: Router,
  body: { query: string; variables?: Record<string, unknown> },
  options: { token?: string; from?: string; headers?: Record<string, string> } = {},
): Promise<RouterAnswer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const call = request(
      router.url,
      {
        method: "POST",
        localAddress: options.from ?? "127.0.0.1",
        timeout: 10_000,
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "content-length": Buffer.byteLength(payload),
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          try {
            resolve({ status: response.statusCode ?? 0, ...(JSON.parse(text) as Omit<RouterAnswer, "status">) });
          } catch {
            reject(new Error(`the router answered ${response.statusCode} with no JSON: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    call.on("timeout", () => call.destroy(new Error("the router did not answer within 10 s")));
    call.on("error", reject);
    call.end(payload);
  });
}
