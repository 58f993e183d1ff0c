import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { CLUSTER_SLOTS_REFRESH_MS, REDIS_RECONNECT } from "../../config/tunables.js";

/**
 * The client library: ioredis (5.11), for the three topologies behind one API. Measured here
 * (shared/STACK.md): its Cluster client re-learns the slot map on a timer and served a killed
 * primary's slots from the promoted replica after about 3 s, where @redis/client's cluster client
 * (under @keyv/redis) re-learns it only on MOVED/ASK and never got them back; it follows a Sentinel
 * failover on its own (it asks the sentinels for the primary on every reconnect, and listens for
 * +switch-master). @keyv/valkey (over iovalkey, an ioredis fork) keeps a set of every key per
 * namespace, a second key in another slot, which Cluster refuses in one step: so keyv stays the
 * namespace API over a small adapter of our own (keyv-adapter.ts).
 */

export interface RedisEndpoint {
  host: string;
  port: number;
}

export type RedisTopology =
  /** One primary (REDIS_URL). */
  | { kind: "standalone"; node: RedisEndpoint; db: number }
  /** Redis Cluster from seed nodes (REDIS_CLUSTER_NODES): the rest is learnt from them. */
  | { kind: "cluster"; nodes: RedisEndpoint[] }
  /** A primary named `masterName` found through its sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER). */
  | { kind: "sentinel"; sentinels: RedisEndpoint[]; masterName: string; sentinelUsername: string | undefined; sentinelPassword: string | undefined };

/** TLS to every Redis connection: a private CA to trust, and a client certificate for mutual TLS. */
export interface RedisTls {
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
}

export interface RedisSettings {
  topology: RedisTopology;
  /** ACL user and password of the data nodes (not the sentinels). Secrets: never logged. */
  username: string | undefined;
  password: string | undefined;
  /** TLS on every connection; unset: plain TCP. */
  tls: RedisTls | undefined;
}

export type RedisClient = Redis | Cluster;

const DISCONNECT_TIMEOUT_MS = 200;

/** Time between reconnection attempts: quick at first, then every REDIS_RECONNECT.maxMs for as long as it takes. */
const reconnectDelay = (attempt: number): number => Math.min(REDIS_RECONNECT.firstMs * 2 ** attempt, REDIS_RECONNECT.maxMs);

/**
 * A client of the configured topology. Connects at once and reconnects for ever; commands fail
 * at once while it is disconnected (no offline queue: a request must get STORE_UNAVAILABLE within
 * its deadline, not wait for a reconnect that may never come, nor run late after it failed).
 */
export function connectRedis(settings: RedisSettings, timeoutMs: number): RedisClient {
  const tls = settings.tls === undefined ? undefined : { ca: settings.tls.ca, cert: settings.tls.cert, key: settings.tls.key };
  const node: RedisOptions = {
    username: settings.username,
    password: settings.password,
    tls,
    connectTimeout: timeoutMs,
    // A connection being closed while it still connects is destroyed after this, not 2 s later.
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    // A primary demoted under us (a Sentinel failover, a replica taking over) answers writes with
    // READONLY while the connection lives on: reconnecting finds the current primary.
    reconnectOnError: (error) => error.message.startsWith("READONLY"),
    // Ask sentinels or the cluster again rather than resend a command: the deadline is the caller's.
    maxRetriesPerRequest: 0,
  };
  const { topology } = settings;
  switch (topology.kind) {
    case "standalone":
      return new Redis({ ...node, ...topology.node, db: topology.db, enableOfflineQueue: false, retryStrategy: reconnectDelay });
    case "sentinel":
      return new Redis({
        ...node,
        sentinels: topology.sentinels,
        name: topology.masterName,
        role: "master",
        sentinelUsername: topology.sentinelUsername,
        sentinelPassword: topology.sentinelPassword,
        enableTLSForSentinelMode: tls !== undefined,
        sentinelTLS: tls,
        // Subscribes to the sentinels' +switch-master: reconnects to the new primary when told,
        // not only when the old one drops the connection or answers READONLY.
        failoverDetector: true,
        enableOfflineQueue: false,
        retryStrategy: reconnectDelay,
        sentinelRetryStrategy: reconnectDelay,
      });
    case "cluster": {
      const options: ClusterOptions = {
        // Node connections keep ioredis' default (a short queue while one (re)connects, flushed
        // with an error if it drops): with none, the first command to each node would fail.
        redisOptions: node,
        enableOfflineQueue: false,
        slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
        slotsRefreshTimeout: timeoutMs,
        clusterRetryStrategy: reconnectDelay,
        // Seed nodes kept by the names given, not resolved to addresses first: TLS checks the
        // certificate against the name (managed services hand out names, docs/redis.md).
        dnsLookup: (address, callback) => callback(null, address),
      };
      return new Cluster(topology.nodes, options);
    }
  }
}

/** Every primary of the client's topology: the one node, or each of the cluster's masters. */
export function primaries(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}
