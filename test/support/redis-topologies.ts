/**
 * Highly available Redis topologies made of private `redis-server` processes on free loopback
 * ports, for failover tests: a Cluster of 3 primaries and 3 replicas, and a primary with a
 * replica behind 3 sentinels. Nothing here touches the shared Redis. `stop()` kills every
 * process and removes the working folder; call it in afterAll.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { RedisServer } from "./redis.js";

/** How long a topology may take to form (cluster join, replicas' first sync, sentinels finding each other). */
const FORMING_TIMEOUT_MS = 30_000;

/** Polls `check` every 100 ms until it holds; throws, saying `what`, after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = FORMING_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One command to one node, on a connection of its own that never retries. */
export async function ask(port: number, ...command: [string, ...(string | number)[]]): Promise<unknown> {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1_000 });
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

/** A field of an INFO section, e.g. `role` or `master_link_status`. */
async function info(port: number, section: string, field: string): Promise<string | undefined> {
  const text = String(await ask(port, "INFO", section));
  return new RegExp(`^${field}:(.*)$`, "m").exec(text)?.[1]?.trim();
}

abstract class Topology {
  protected readonly dir = mkdtempSync(join(tmpdir(), "gateway-redis-"));
  protected readonly servers: RedisServer[] = [];

  protected async server(port: number | undefined, args: string[], configFile?: string): Promise<RedisServer> {
    const server = await RedisServer.start(port, { args, dir: this.dir, configFile });
    this.servers.push(server);
    return server;
  }

  /** Every live primary's replicas have every write it took (replication is asynchronous). */
  async inSync(): Promise<void> {
    await waitFor(
      "the replicas to catch up",
      async () => {
        for (const server of this.servers) {
          if (!server.alive) continue;
          const text = String(await ask(server.port, "INFO", "replication"));
          if (!text.includes("role:master")) continue;
          const offset = /^master_repl_offset:(\d+)/m.exec(text)?.[1];
          const replicas = [...text.matchAll(/^slave\d+:.*offset=(\d+)/gm)].map((match) => match[1]);
          if (replicas.length === 0 || replicas.some((replica) => replica !== offset)) return false;
        }
        return true;
      },
      10_000,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RedisClusterTopology extends Topology {
  /** Gossip timeout: a primary unreachable this long is failed over to its replica. */
  static readonly NODE_TIMEOUT_MS = 2_000;

  get nodes(): readonly RedisServer[] {
    return this.servers;
  }

  /** REDIS_CLUSTER_NODES for a gateway: every node as a seed. */
  get seeds(): string {
    return this.servers.map((server) => server.url).join(",");
  }

  /** Six nodes joined by `redis-cli --cluster create`, every replica in sync, the cluster ok. */
  static async start(): Promise<RedisClusterTopology> {
    const cluster = new RedisClusterTopology();
    try {
      for (let i = 0; i < 6; i++) {
        await cluster.server(undefined, [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          `nodes-${i}.conf`,
          "--cluster-node-timeout",
          String(RedisClusterTopology.NODE_TIMEOUT_MS),
        ]);
      }
      const addresses = cluster.servers.map((server) => `127.0.0.1:${server.port}`);
      await promisify(execFile)("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "1", "--cluster-yes"], {
        timeout: FORMING_TIMEOUT_MS,
      });
      await cluster.settled();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every live node says the cluster is ok, and every replica has finished its sync with its primary. */
  async settled(): Promise<void> {
    await waitFor("the cluster to be ok with every replica in sync", async () => {
      for (const server of this.servers) {
        if (!server.alive) continue;
        if ((await info(server.port, "cluster", "cluster_enabled")) !== "1") return false;
        if (!String(await ask(server.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
        // A primary killed before its replica's first sync completes is never failed over.
        if ((await info(server.port, "replication", "role")) === "slave" && (await info(server.port, "replication", "master_link_status")) !== "up")
          return false;
      }
      return true;
    });
  }

  /** The live node serving `key`'s slot as primary. */
  async primaryOf(key: string): Promise<RedisServer> {
    const slot = Number(await ask(this.servers[0]!.port, "CLUSTER", "KEYSLOT", key));
    for (const server of this.servers) {
      if (!server.alive || (await info(server.port, "replication", "role")) !== "master") continue;
      const slots = (await ask(server.port, "CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
      if (slots.some(([from, to, [, port]]) => slot >= from && slot <= to && port === server.port)) return server;
    }
    throw new Error(`no primary serves ${key}`);
  }
}

export class RedisSentinelTopology extends Topology {
  static readonly MASTER_NAME = "gateway-primary";
  #primary!: RedisServer;
  #sentinels: RedisServer[] = [];

  /** REDIS_SENTINELS for a gateway. */
  get sentinels(): string {
    return this.#sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(",");
  }

  /** A primary, a replica in sync with it, and three sentinels that know both and each other. */
  static async start(): Promise<RedisSentinelTopology> {
    const topology = new RedisSentinelTopology();
    try {
      const primary = await topology.server(undefined, []);
      topology.#primary = primary;
      const replica = await topology.server(undefined, ["--replicaof", "127.0.0.1", String(primary.port)]);
      await waitFor("the replica's first sync", async () => (await info(replica.port, "replication", "master_link_status")) === "up");
      for (let i = 0; i < 3; i++) {
        // Sentinels rewrite their config file: each gets its own, in the topology's folder.
        const configFile = join(topology.dir, `sentinel-${i}.conf`);
        writeFileSync(
          configFile,
          [
            `sentinel monitor ${RedisSentinelTopology.MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
            `sentinel down-after-milliseconds ${RedisSentinelTopology.MASTER_NAME} 1000`,
            `sentinel failover-timeout ${RedisSentinelTopology.MASTER_NAME} 10000`,
            "",
          ].join("\n"),
        );
        topology.#sentinels.push(await topology.server(undefined, ["--sentinel"], configFile));
      }
      await waitFor("the sentinels to know the replica and each other", async () => {
        for (const sentinel of topology.#sentinels) {
          const replicas = (await ask(sentinel.port, "SENTINEL", "REPLICAS", RedisSentinelTopology.MASTER_NAME)) as unknown[];
          const others = (await ask(sentinel.port, "SENTINEL", "SENTINELS", RedisSentinelTopology.MASTER_NAME)) as unknown[];
          if (replicas.length !== 1 || others.length !== 2) return false;
        }
        return true;
      });
    } catch (error) {
      await topology.stop();
      throw error;
    }
    return topology;
  }

  /** The port of the node the sentinels name as primary now. */
  async primaryPort(): Promise<number> {
    const [, port] = (await ask(this.#sentinels[0]!.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", RedisSentinelTopology.MASTER_NAME)) as [
      string,
      string,
    ];
    return Number(port);
  }

  /**
   * Starts a failover as Sentinel runs it for maintenance: the replica promoted, the old primary
   * demoted to a replica that answers writes with READONLY (it stays up: connections to it live
   * on). Returns at once, with the port of the primary being replaced.
   */
  async startFailover(): Promise<number> {
    const from = await this.primaryPort();
    await ask(this.#sentinels[0]!.port, "SENTINEL", "FAILOVER", RedisSentinelTopology.MASTER_NAME);
    return from;
  }

  /** Kills the current primary (SIGKILL), as a crash would; the sentinels then elect its replica. Returns its port. */
  async killPrimary(): Promise<number> {
    const port = await this.primaryPort();
    await this.servers.find((server) => server.port === port)!.kill();
    return port;
  }

  /** The first primary (a replica after a failover). */
  get firstPrimary(): RedisServer {
    return this.#primary;
  }
}
