/**
 * Hive Gateway in front of the gateway's subgraph, configured as docs/federation.md tells an
 * operator to: the router secret in the `auth` subgraph's transport, the client's Authorization
 * and address (appended to X-Forwarded-For) to `auth` only. The runtime is the one the
 * `@graphql-hive/gateway` CLI serves, here on node:http. Used by the federation tests and, as a
 * process of its own (`node hive-gateway.js` with SUPERGRAPH_FILE and FEDERATION_ROUTER_SECRET;
 * it tells its parent its URL over IPC), by `npm run bench`.
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createGatewayRuntime } from "@graphql-hive/gateway-runtime";

export interface Router {
  /** The router's GraphQL endpoint. */
  url: string;
  stop(): Promise<void>;
}

export interface RouterSettings {
  /** Composed with the gateway's subgraph named `auth`. */
  supergraphSdl: string;
  routerSecret: string;
}

/** X-Forwarded-For as a router passes it on: what the client sent, then the address the router saw it from. */
export function forwardedForWithPeer(sent: string | null | undefined, peer: string | undefined): string {
  return [sent, peer ?? "unknown"].filter(Boolean).join(", ");
}

export async function startHiveGateway({ supergraphSdl, routerSecret }: RouterSettings): Promise<Router> {
  const gateway = createGatewayRuntime<{ req: IncomingMessage }>({
    supergraph: supergraphSdl,
    logging: false,
    landingPage: false,
    // The secret is part of the auth subgraph's transport, sent on every request to it alone.
    transportEntries: { auth: { headers: [["router-secret", routerSecret]] } },
    propagateHeaders: {
      fromClientToSubgraphs: ({ request, subgraphName, context }) =>
        subgraphName === "auth"
          ? {
              authorization: request.headers.get("authorization"),
              "x-forwarded-for": forwardedForWithPeer(request.headers.get("x-forwarded-for"), context.req?.socket.remoteAddress),
            }
          : undefined,
    },
  });
  // The gateway answers every request itself, errors included: nothing is left to await.
  const server = createServer((req, res) => void gateway(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.dispose();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, routerSecret] = [process.env["SUPERGRAPH_FILE"], process.env["FEDERATION_ROUTER_SECRET"]];
  if (file === undefined || routerSecret === undefined) throw new Error("SUPERGRAPH_FILE and FEDERATION_ROUTER_SECRET are required");
  const router = await startHiveGateway({ supergraphSdl: await readFile(file, "utf8"), routerSecret });
  if (process.send === undefined) process.stdout.write(`${router.url}\n`);
  else process.send({ url: router.url });
  process.once("SIGTERM", () => void router.stop().then(() => process.exit(0)));
}
