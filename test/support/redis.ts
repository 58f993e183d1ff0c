/**
 * Whether the Redis-backed tests run, and the few things they need: a shared Redis is used
 * only when REDIS_URL names one (CI without Redis must not fail, and must not pass silently
 * either: skipped suites say so on the console and show as skipped in jest's summary), and a
 * private `redis-server` child for tests that stop and restart Redis under the gateway.
 */
import { describe } from "@jest/globals";
import { createClient, type RedisClientType } from "@keyv/redis";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, Socket } from "node:net";
import { storeKeyOf } from "../../src/sessions/session-token.js";

/** The shared Redis of this machine or CI, e.g. `redis://127.0.0.1:6379`; unset: Redis tests are skipped. */
const SHARED_REDIS_URL: string | undefined = process.env.REDIS_URL?.trim() || undefined;

/**
 * `describe` for tests that need the shared Redis. Without REDIS_URL the suite is registered
 * as skipped (so jest counts it) and a warning names it.
 */
export function describeWithRedis(name: string, body: (redisUrl: string) => void): void {
  if (SHARED_REDIS_URL === undefined) {
    console.warn(`SKIPPED: Redis tests "${name}" — set REDIS_URL=redis://127.0.0.1:6379 to run them`);
    describe.skip(name, () => body("redis://unset.invalid:6379"));
    return;
  }
  describe(name, () => body(SHARED_REDIS_URL));
}

/**
 * A port on 127.0.0.1 that nothing listens on right now (bound, noted, released). Used both to
 * start servers on a known port and as a "closed port" that refuses connections.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when `redis-server` can be started here (it is on PATH). */
export const REDIS_SERVER_AVAILABLE: boolean = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;

/** A private, throw-away redis-server child: no persistence, loopback only. */
export class RedisServer {
  #child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on `port` (a free one if unset) and waits until it accepts connections. */
  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after `kill`). */
  async restart(): Promise<void> {
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    this.#child = child;
    const deadline = Date.now() + 5_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the server at once (SIGKILL), as a crash would, and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

/**
 * A look inside the shared Redis, for asserting what the gateway stored. It removes only keys
 * the test created (the session keys of the tokens it was given, and the user info those
 * sessions cached): other test files may share the same Redis, so nothing is flushed.
 */
export class RedisInspector {
  private constructor(readonly client: RedisClientType) {}

  static async connect(url: string): Promise<RedisInspector> {
    const client = createClient({ url }) as RedisClientType;
    await client.connect();
    return new RedisInspector(client);
  }

  /** Where the gateway keeps the session of `token`: `session::<sha256 of the token>`. */
  static sessionKey(token: string): string {
    return `session::${storeKeyOf(token)}`;
  }

  /** Every key matching `pattern` (SCAN, not KEYS). */
  async keys(pattern: string): Promise<string[]> {
    const found: string[] = [];
    for await (const batch of this.client.scanIterator({ MATCH: pattern, COUNT: 1000 })) found.push(...batch);
    return found;
  }

  /** Deletes the sessions of `tokens` and the user info they cached; keys already gone are fine. */
  async forget(tokens: Iterable<string>): Promise<void> {
    for (const token of tokens) {
      const key = RedisInspector.sessionKey(token);
      const stored = await this.client.get(key);
      const accessToken = stored === null ? undefined : (JSON.parse(stored) as { value?: { credential?: { accessToken?: string } } }).value?.credential?.accessToken;
      await this.client.del(accessToken === undefined ? [key] : [key, `userinfo::${storeKeyOf(accessToken)}`]);
    }
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
