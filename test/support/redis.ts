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
import { loadConfig } from "../../src/config/config.js";
import { storeKeyOf } from "../../src/sessions/session-token.js";
import type { RedisSettings } from "../../src/store/redis/connection.js";

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
const REDIS_SERVER_AVAILABLE: boolean = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;

if (!REDIS_SERVER_AVAILABLE)
  console.warn("SKIPPED: tests on private redis-server processes (restarts, Cluster, Sentinel, TLS) — redis-server is not on PATH");
/** `describe` for tests that start redis-server processes of their own; skipped (and said so) where there is none. */
export const describeWithRedisServer = REDIS_SERVER_AVAILABLE ? describe : describe.skip;

/**
 * Store settings as the gateway reads them from its environment (REDIS_URL, REDIS_CLUSTER_NODES,
 * REDIS_SENTINELS...), through the same parser.
 */
export function redisSettings(env: Record<string, string>): RedisSettings {
  return loadConfig({ SESSION_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("hex"), ...env }, { asid: "1", clientId: "c", apiToken: "t" }).redis!;
}

/** A private, throw-away redis-server child: no persistence, loopback only. */
export class RedisServer {
  #child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly options: RedisServerOptions,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on `port` (a free one if unset) and waits until it accepts connections. */
  static async start(port?: number, options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()), options);
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after `kill`), with the same options. */
  async restart(): Promise<void> {
    // A config file, if any, must come first; `--port 0` then leaves plain TCP off for a TLS-only server.
    const port = this.options.tls ? ["--port", "0", "--tls-port", String(this.port)] : ["--port", String(this.port)];
    const args = [
      ...(this.options.configFile === undefined ? [] : [this.options.configFile]),
      ...port,
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      ...(this.options.args ?? []),
    ];
    const child = spawn("redis-server", args, { stdio: "ignore", cwd: this.options.dir });
    this.#child = child;
    const deadline = Date.now() + 5_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** True while its process runs. */
  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
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

interface RedisServerOptions {
  /** More redis-server arguments (`--cluster-enabled`, `--replicaof`, `--requirepass`, `--sentinel`...). */
  args?: string[];
  /** A config file to start from (sentinels need one they can rewrite). */
  configFile?: string;
  /** Working folder (cluster node files); the test's own temporary folder. */
  dir?: string;
  /** The port is a TLS port only (the TLS files go in `args`). */
  tls?: boolean;
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
      const accessToken =
        stored === null ? undefined : (JSON.parse(stored) as { value?: { credential?: { accessToken?: string } } }).value?.credential?.accessToken;
      await this.client.del(accessToken === undefined ? [key] : [key, `userinfo::${storeKeyOf(accessToken)}`]);
    }
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
