/**
 * A stand-in backend on loopback that forwards every call to a real simulator, except the ones
 * a test arms: those it answers itself, as a hostile or broken backend would (a gzip bomb, an
 * endless body, a 503). It counts what reaches it, so tests can say how many calls a gateway made.
 */
import { once } from "node:events";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

/** A backend call by its endpoint template, told from the method and path the contracts give it. */
export type Route = "A001" | "A002" | "A003" | "signin" | "userinfo" | "signout" | "base";

function routeOf(method: string, path: string): Route | undefined {
  if (/\/ProfessionalSession$/.test(path)) return method === "POST" ? "A001" : undefined;
  if (/\/ProfessionalSession\/[^/]+$/.test(path)) return method === "PUT" ? "A002" : method === "DELETE" ? "A003" : undefined;
  if (/\/sso\/signin$/.test(path)) return "signin";
  if (/\/sso\/token\/[^/]+$/.test(path)) return "userinfo";
  if (/\/sso\/signout\/[^/]+$/.test(path)) return "signout";
  return undefined;
}

/** What an armed route answers instead of the simulator. */
export type Hostility =
  /** 200 with `Content-Encoding: gzip`: 1.2 MB on the wire that inflate to 1.2 GiB (as in issue 14). */
  | "gzip bomb"
  /** 200 with a plain 50 MB body, no Content-Length, sent as fast as it is read. */
  | "oversized body"
  /** 503, as a backend that is down for maintenance. */
  | "down";

const MIB = 1024 * 1024;
/** One gzip member of 1 MiB of zeros (about 1 KB): the bomb is 1,200 of them back to back, which gunzip reads as one stream. */
const BOMB_MEMBER = gzipSync(Buffer.alloc(MIB), { level: 9 });
const BOMB_MEMBERS = 1_200;
const PLAIN_CHUNK = Buffer.alloc(64 * 1024, "a");
const PLAIN_BYTES = 50 * 1_000_000;

export class HostileBackend {
  readonly #server: Server;
  readonly #armed = new Map<Route, Hostility>();
  readonly #calls = new Map<Route, number>();
  /**
   * How the last hostile body went, once it is over: the bytes written before the gateway hung
   * up (or all of them), and whether it hung up before the end.
   */
  lastHostileBody: Promise<{ bytesSent: number; cutShort: boolean }> = Promise.resolve({ bytesSent: 0, cutShort: false });

  private constructor(
    server: Server,
    readonly url: string,
  ) {
    this.#server = server;
  }

  /** Listens on a free loopback port in front of the simulator at `target` (its base URL). */
  static async start(target: string): Promise<HostileBackend> {
    const upstream = new URL(target);
    // Requests come only once the port is known, so after `backend` is set.
    const server = createServer((req, res) => void backend.handle(req, res, upstream));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const backend = new HostileBackend(server, `http://127.0.0.1:${port}${upstream.pathname}`);
    return backend;
  }

  arm(route: Route, hostility: Hostility): void {
    this.#armed.set(route, hostility);
  }

  disarm(): void {
    this.#armed.clear();
  }

  /** Calls that reached this backend on `route` since the last reset; `base` is the base URL (readiness probes). */
  calls(route: Route): number {
    return this.#calls.get(route) ?? 0;
  }

  resetCalls(): void {
    this.#calls.clear();
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, upstream: URL): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    const route = path === upstream.pathname || `${path}/` === upstream.pathname ? "base" : routeOf(req.method ?? "GET", path);
    if (route !== undefined) this.#calls.set(route, this.calls(route) + 1);
    const hostility = route === undefined ? undefined : this.#armed.get(route);
    if (hostility === undefined) return this.forward(req, res, upstream);
    req.resume();
    await once(req, "end");
    if (hostility === "down") {
      res.writeHead(503, { "content-type": "text/plain" }).end("down for maintenance");
      return;
    }
    const bomb = hostility === "gzip bomb";
    res.writeHead(200, { "content-type": "application/json", ...(bomb ? { "content-encoding": "gzip" } : {}) });
    this.lastHostileBody = flood(res, bomb);
  }

  private forward(req: IncomingMessage, res: ServerResponse, upstream: URL): void {
    const proxied = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    proxied.on("error", () => res.destroy());
    req.pipe(proxied);
  }
}

/** Waits for the reader, or for it to hang up: a gateway that stops reading stops the flood. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const resume = (): void => {
      res.off("drain", resume);
      res.off("close", resume);
      resolve();
    };
    res.on("drain", resume);
    res.on("close", resume);
  });
}

/** Writes the hostile body as fast as it is read, until its end or until the reader hangs up. */
async function flood(res: ServerResponse, bomb: boolean): Promise<{ bytesSent: number; cutShort: boolean }> {
  const total = bomb ? BOMB_MEMBERS * BOMB_MEMBER.length : PLAIN_BYTES;
  let bytesSent = 0;
  while (bytesSent < total) {
    if (res.destroyed) return { bytesSent, cutShort: true };
    const chunk = bomb ? BOMB_MEMBER : PLAIN_CHUNK.subarray(0, Math.min(PLAIN_CHUNK.length, total - bytesSent));
    bytesSent += chunk.length;
    if (!res.write(chunk) && !res.destroyed) await drainedOrClosed(res);
  }
  res.end();
  return { bytesSent, cutShort: false };
}
