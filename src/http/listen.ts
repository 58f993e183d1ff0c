import type { Server } from "node:http";

/** Starts listening; rejects with the server's error (EADDRINUSE, EACCES, …) instead of throwing it as an event. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
