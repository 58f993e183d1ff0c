import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SHUTDOWN_GRACE_MS } from "../config/tunables.js";
import { listen } from "../http/listen.js";
import { OUTPUT_CLOSE_TIMEOUT_MS } from "../logging/stream-output.js";

/**
 * Longest a shutdown takes from its start: the grace period, then closing the store and
 * writing out the log and audit lines still pending (at most OUTPUT_CLOSE_TIMEOUT_MS), and a
 * margin. The process exits by then whatever its streams' readers do (main.ts).
 */
export const SHUTDOWN_LIMIT_MS = SHUTDOWN_GRACE_MS + OUTPUT_CLOSE_TIMEOUT_MS + 1_000;

/** What runs once the server takes no more requests, in order; each step may be absent. */
type StopStep = (() => unknown) | undefined;

/**
 * Listens, and returns the server's URL and the one stop sequence: the server stops taking
 * requests and lets those in progress finish (up to the grace period), then `steps` run in
 * order. Should listening fail, the same steps run before the error is thrown.
 */
export async function serve(
  server: Server,
  where: { port: number; host: string },
  steps: StopStep[],
): Promise<{ url: string; close: () => Promise<void> }> {
  const release = async (): Promise<void> => {
    for (const step of steps) await step?.();
  };
  try {
    await listen(server, where.port, where.host);
  } catch (error) {
    await release();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${where.host.includes(":") ? `[${where.host}]` : where.host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await closed;
        clearTimeout(grace);
        await release();
      })()),
  };
}
