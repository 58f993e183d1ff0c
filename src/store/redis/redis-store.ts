import { createHash, randomUUID } from "node:crypto";
import { Cluster } from "ioredis";
import { Keyv } from "keyv";
import { keyvNamespace, storeOperation, throwingKeyv } from "../operations.js";
import type { CappedIndex, CounterStore, ExpiryIndex, KeyValueStore, RegisterStore, Store, StoreOptions } from "../store.js";
import { connectRedis, primaries, type RedisClient, type RedisSettings } from "./connection.js";
import { IoredisKeyvAdapter } from "./keyv-adapter.js";
import { MARKER_CHECK_INTERVAL_MS, READINESS_PROBE_REUSE_MS } from "../../config/tunables.js";

/** INCR and its expiry in one step, so a counter can never be left without one. */
const INCREMENT_SCRIPT = "local n = redis.call('INCR', KEYS[1]); redis.call('PEXPIRE', KEYS[1], ARGV[1]); return n";

/** CounterStore#take: 0 for a full counter (a taken place is at least 1), else INCR with its expiry. */
const TAKE_SCRIPT =
  "if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 0 end; local n = redis.call('INCR', KEYS[1]); redis.call('PEXPIRE', KEYS[1], ARGV[2]); return n";

/** CounterStore#giveBack: DECR keeps the expiry; an expired or absent counter stays absent rather than going negative. */
const GIVE_BACK_SCRIPT = "if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end; return 0";

/** GET, compare, SET with its expiry: ARGV = has expected (1/0), expected, next, ttl. */
const COMPARE_AND_SET_SCRIPT = `local held = redis.call('GET', KEYS[1])
if (ARGV[1] == '1' and held == ARGV[2]) or (ARGV[1] == '0' and not held) then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

/** DEL only while the key still holds what the caller put there (a lock's owner). */
const COMPARE_AND_DELETE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** SET with its expiry, answering the value before (SET ... GET needs Redis 6.2; this runs anywhere). */
const SWAP_SCRIPT = "local held = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return held";

/** A capped index step: ARGV = member, score, max, dropBelow, ttl. Returns the evicted members. */
const CAPPED_ADD_SCRIPT = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
local evicted = {}
if over > 0 then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
    if #evicted < over and member ~= ARGV[1] then table.insert(evicted, member) end
  end
  redis.call('ZREM', KEYS[1], unpack(evicted))
end
return evicted`;

/** A TTL as Redis takes it: whole milliseconds, at least one. */
const ttl = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs));

/** A Redis string reply, or undefined for nil. */
const text = (reply: unknown): string | undefined => (typeof reply === "string" ? reply : undefined);

/**
 * A key no entry of the gateway's ever expires with: written once with a random value, and
 * expected with that value ever after. Missing, or with another value, means Redis lost its
 * data since (restarted without persistence, or flushed): every session and lockout with it.
 */
const MARKER_KEY = "store-marker";

/**
 * The store on Redis: one primary, Cluster or Sentinel (connection.ts), the same commands on
 * each. Every command names one key, or several sharing a `{hash tag}`, so every topology runs
 * them; every operation runs under the operation deadline.
 */
export class RedisStore implements Store {
  readonly #client: RedisClient;
  readonly #options: StoreOptions;
  readonly #namespaces = new Map<string, KeyValueStore<unknown>>();
  /** SHA-1 of each script run, for EVALSHA. */
  readonly #scriptShas = new Map<string, string>();
  readonly #markerCheck: NodeJS.Timeout;
  /** What this instance wrote or found in the marker key; undefined before the first look. */
  #marker: string | undefined;
  #readiness: { at: number; result: Promise<void> } | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(settings: RedisSettings, options: StoreOptions) {
    this.#options = options;
    this.#client = connectRedis(settings, options.operationTimeoutMs);
    this.#client.on("error", options.onError);
    this.#markerCheck = setInterval(() => void this.ready().catch(() => undefined), MARKER_CHECK_INTERVAL_MS);
    // The timer must not keep a process alive that has otherwise finished.
    this.#markerCheck.unref();
  }

  namespace<T>(name: string): KeyValueStore<T> {
    let namespace = this.#namespaces.get(name);
    if (namespace === undefined) {
      const keyv = throwingKeyv(new Keyv({ store: new IoredisKeyvAdapter(this.#client, name), namespace: name, useKeyPrefix: false }));
      namespace = keyvNamespace<unknown>(keyv, (operation, work) => this.#run(operation, work));
      this.#namespaces.set(name, namespace);
    }
    // Each name is created with its own type by its one caller; the map cannot hold that type.
    return namespace as KeyValueStore<T>;
  }

  counters(name: string): CounterStore {
    const key = (counter: string): string => `${name}::${counter}`;
    return {
      increment: (counter, ttlMs) => this.#run("write", async () => Number(await this.#script(INCREMENT_SCRIPT, [key(counter)], [ttl(ttlMs)]))),
      take: (counter, limit, ttlMs) =>
        this.#run("write", async () => Number(await this.#script(TAKE_SCRIPT, [key(counter)], [limit, ttl(ttlMs)])) || undefined),
      giveBack: async (counter) => {
        await this.#run("write", () => this.#script(GIVE_BACK_SCRIPT, [key(counter)], []));
      },
      get: (counter) => this.#run("read", async () => Number((await this.#client.get(key(counter))) ?? 0)),
      delete: async (counter) => {
        await this.#run("delete", () => this.#client.del(key(counter)));
      },
    };
  }

  /** A sorted set `expiry:<name>` scored by due time; ZREM's answer tells who claimed a key. */
  expiryIndex(name: string): ExpiryIndex {
    const index = `expiry:${name}`;
    return {
      schedule: async (key, at) => {
        await this.#run("write", () => this.#client.zadd(index, at, key));
      },
      cancel: async (key) => {
        await this.#run("delete", () => this.#client.zrem(index, key));
      },
      due: (now, limit) => this.#run("read", () => this.#client.zrangebyscore(index, "-inf", now, "LIMIT", 0, limit)),
      claim: (key) => this.#run("delete", async () => (await this.#client.zrem(index, key)) === 1),
    };
  }

  registers(name: string): RegisterStore {
    const key = (register: string): string => `${name}::${register}`;
    return {
      get: (register) => this.#run("read", async () => text(await this.#client.get(key(register)))),
      compareAndSet: (register, expected, next, ttlMs) =>
        this.#run(
          "write",
          async () =>
            (await this.#script(COMPARE_AND_SET_SCRIPT, [key(register)], [expected === undefined ? "0" : "1", expected ?? "", next, ttl(ttlMs)])) ===
            1,
        ),
      compareAndDelete: (register, expected) =>
        this.#run("delete", async () => (await this.#script(COMPARE_AND_DELETE_SCRIPT, [key(register)], [expected])) === 1),
      swap: (register, next, ttlMs) => this.#run("write", async () => text(await this.#script(SWAP_SCRIPT, [key(register)], [next, ttl(ttlMs)]))),
    };
  }

  cappedIndex(name: string): CappedIndex {
    const key = (index: string): string => `${name}::${index}`;
    return {
      add: (index, member, score, cap) =>
        this.#run(
          "write",
          async () => (await this.#script(CAPPED_ADD_SCRIPT, [key(index)], [member, score, cap.max, cap.dropBelow, ttl(cap.ttlMs)])) as string[],
        ),
      remove: async (index, member) => {
        await this.#run("delete", () => this.#client.zrem(key(index), member));
      },
      members: (index) => this.#run("read", () => this.#client.zrange(key(index), 0, -1)),
    };
  }

  /** A SCAN of `<name>::*` on every primary (each Cluster primary holds its own slots' keys). */
  count(name: string): Promise<number> {
    return this.#run("count", async () => {
      let total = 0;
      for (const node of primaries(this.#client)) {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", `${name}::*`, "COUNT", 1000);
          cursor = next;
          total += keys.length;
        } while (cursor !== "0");
      }
      return total;
    });
  }

  ready(): Promise<void> {
    const now = performance.now();
    if (this.#readiness === undefined || now - this.#readiness.at >= READINESS_PROBE_REUSE_MS) {
      this.#readiness = { at: now, result: this.#run("readiness check", () => this.#checkMarker()) };
    }
    return this.#readiness.result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#markerCheck);
    // quit waits for replies in flight; a client still trying to connect (Redis away) would keep
    // trying for ever, so it is disconnected. disconnect also closes what quit leaves open: the
    // Sentinel failover detector's subscriptions, which would otherwise keep the process alive.
    if (this.#client.status === "ready") await this.#client.quit().catch(() => undefined);
    this.#client.disconnect();
  }

  /**
   * A write that says whether the data is still there: SET NX GET on the marker, one command.
   * A replica or a demoted primary answers READONLY, a Cluster missing slots CLUSTERDOWN, bad
   * credentials fail the connection: all of them not ready. A marker gone or changed is told.
   * On Cluster every primary must answer too: one that died holds a third of the sessions, and
   * the cluster says CLUSTERDOWN only once its node timeout has passed.
   */
  async #checkMarker(): Promise<void> {
    const mine = `${new Date().toISOString()} ${randomUUID()}`;
    const cluster = this.#client;
    if (cluster instanceof Cluster) {
      await Promise.all(primaries(cluster).map((node) => node.ping())).catch((error: unknown) => {
        // A primary that does not answer may be one the cluster has already replaced: the client
        // forgets it only at its next slot refresh, and until then this check would keep saying
        // "not ready" about a node no request uses. Ask for the slot map now, not in two seconds.
        cluster.refreshSlotsCache();
        throw error;
      });
    }
    const found = (await this.#client.call("SET", MARKER_KEY, mine, "NX", "GET")) as string | null;
    const now = found ?? mine;
    if (this.#marker !== undefined && now !== this.#marker) this.#options.onDataLost?.();
    this.#marker = now;
  }

  /**
   * Runs a Lua script on its keys: one key, or keys sharing a `{hash tag}` (one Cluster slot).
   * The one way the store runs scripts: EVALSHA, and the script itself once a node lacks it.
   */
  async #script(source: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    let sha = this.#scriptShas.get(source);
    if (sha === undefined) this.#scriptShas.set(source, (sha = createHash("sha1").update(source).digest("hex")));
    try {
      return await this.#client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return this.#client.eval(source, keys.length, ...keys, ...args);
    }
  }

  /**
   * Resolves once the client is connected. At start-up (and while it reconnects) commands wait
   * for the connection within their deadline: with no offline queue they would fail at once.
   */
  #connected(): Promise<void> {
    if (this.#client.status === "ready") return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error("store closed"));
    return (this.#ready ??= new Promise<void>((resolve) =>
      this.#client.once("ready", () => {
        this.#ready = undefined;
        resolve();
      }),
    ));
  }

  async #run<R>(operation: string, work: () => Promise<R>): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        reject(new Error(`timed out after ${this.#options.operationTimeoutMs} ms`));
      }, this.#options.operationTimeoutMs);
    });
    // An operation whose caller has given up must not be sent once the connection is back.
    const sent = this.#connected().then(() => (late ? Promise.reject(new Error("given up")) : work()));
    sent.catch(() => undefined);
    try {
      return await storeOperation(operation, () => Promise.race([sent, deadline]));
    } finally {
      clearTimeout(timer);
    }
  }
}
