import KeyvRedis, { createClient, type RedisClientType } from "@keyv/redis";
import { Keyv } from "keyv";
import { StoreError } from "../errors/backend-error.js";
import { ExpiringMemoryStore } from "./memory-store.js";

/** A typed namespace of the store. Every operation fails with StoreError, never silently. */
export interface KeyValueStore<T> {
  get(key: string): Promise<T | undefined>;
  /** `ttlMs` is how long the entry lives; it is gone (not stale) afterwards. */
  set(key: string, value: T, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * Counters that many instances increment at once (rate limits). keyv has no atomic increment,
 * and a read-then-write across instances would lose counts under exactly the load a limit is
 * for, so on Redis these use INCR directly (same client, same `<name>::<key>` key scheme).
 */
export interface CounterStore {
  /** Adds one and returns the new count; the counter lives `ttlMs` from this increment. */
  increment(key: string, ttlMs: number): Promise<number>;
  /**
   * Adds one unless the count has reached `limit`, in one step however many callers race:
   * the new count (this caller's place), or undefined when the counter was full and is unchanged.
   * The counter lives `ttlMs` from this take. A limit checked by reading first and incrementing
   * later lets a burst through entirely (issue 13).
   */
  take(key: string, limit: number, ttlMs: number): Promise<number | undefined>;
  /** Takes one back from a count taken with `take` (never below zero, the TTL unchanged): the place was not used. */
  giveBack(key: string): Promise<void>;
  get(key: string): Promise<number>;
  delete(key: string): Promise<void>;
}

/**
 * When each entry of a namespace falls due, so that one nobody asks for again is still noticed
 * when it expires (a session's expiry is an audit event). Every instance sweeps; `claim` makes
 * exactly one of them act on each due key.
 */
export interface ExpiryIndex {
  /** Sets (or moves) the time `key` falls due, in epoch milliseconds. */
  schedule(key: string, at: number): Promise<void>;
  /** Forgets `key` (ended before it fell due). */
  cancel(key: string): Promise<void>;
  /** Up to `limit` keys due at `now`, earliest first. */
  due(now: number, limit: number): Promise<string[]>;
  /** Takes `key` off the index: true for exactly one caller, however many instances ask at once. */
  claim(key: string): Promise<boolean>;
}

/**
 * Short string values that instances change at once, each change one atomic step: a session's
 * lock (taken only if free, given back only by its owner) and which of its tokens is current
 * (moved only from the token a request holds). A read-then-write from two instances would let
 * both win.
 */
export interface RegisterStore {
  get(key: string): Promise<string | undefined>;
  /** Sets `key` to `next` only if it holds `expected` (undefined: nothing); true if it did. The value lives `ttlMs`. */
  compareAndSet(key: string, expected: string | undefined, next: string, ttlMs: number): Promise<boolean>;
  /** Deletes `key` only if it holds `expected`; true if it did. */
  compareAndDelete(key: string, expected: string): Promise<boolean>;
  /** Sets `key` to `next` whatever it held, and returns what it held. */
  swap(key: string, next: string, ttlMs: number): Promise<string | undefined>;
}

/** Limits of one {@link CappedIndex.add}. */
export interface CapOptions {
  /** Members kept at most; the lowest-scored others beyond it are taken out. */
  max: number;
  /** Members scored below this are dropped first, without being returned (long dead). */
  dropBelow: number;
  /** The whole index lives this long from this add, so one nobody adds to again leaves the store. */
  ttlMs: number;
}

/**
 * Members by score under a key, at most so many: a user's live sessions by creation time. The
 * add, the count and the removal of the oldest beyond the cap are one step, so instances adding
 * at once can neither both keep a session over the cap nor both evict the same one.
 */
export interface CappedIndex {
  /** Adds `member` (never itself evicted) and returns the members taken out to keep within `cap.max`, oldest first. */
  add(key: string, member: string, score: number, cap: CapOptions): Promise<string[]>;
  remove(key: string, member: string): Promise<void>;
  /** The members, lowest score first. */
  members(key: string): Promise<string[]>;
}

/**
 * Texts of the in-memory store decoded lately, each with its value. A warm request reads its
 * session and its user info again and again, and parsing them was a tenth of its time; texts
 * are kept as texts (a fraction of the memory of the objects they hold), so this keeps the
 * objects of the last few hundred read only.
 */
const DECODED_TEXTS_KEPT = 512;

/**
 * keyv's `deserialize` for the in-memory store, remembering what it decoded. A stored text is
 * the same string object at every read, so a hit is a pointer comparison; a text replaced in the
 * store is simply never asked for again and leaves in turn. Oldest out first, hits or not: a
 * value still in use comes back after one parse. The values are frozen, since every reader of
 * the same text now gets the same object.
 */
function decodedValues(): <Value>(text: string) => StoredEntry<Value> {
  const decoded = new Map<string, StoredEntry<unknown>>();
  return <Value>(text: string) => {
    let entry = decoded.get(text);
    if (entry === undefined) {
      entry = deepFreeze(JSON.parse(text) as StoredEntry<unknown>);
      if (decoded.size >= DECODED_TEXTS_KEPT) decoded.delete(decoded.keys().next().value!);
      decoded.set(text, entry);
    }
    // keyv's deserializer is untyped by nature: the namespace's type says what was stored.
    return entry as StoredEntry<Value>;
  };
}

/** What keyv stores for a value: the value and when it expires. */
interface StoredEntry<Value> {
  value?: Value;
  expires?: number;
}

/** A Redis string reply, or undefined for nil. */
function text(reply: unknown): string | undefined {
  return typeof reply === "string" ? reply : undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

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

interface StoreOptions {
  /** `redis://` URL of a shared Redis; unset keeps everything in this process's memory. */
  redisUrl: string | undefined;
  /** Longest a store operation may take before it counts as failed, in milliseconds. */
  operationTimeoutMs: number;
  /** Told about connection trouble that has no request to fail (reconnects). */
  onError: (error: unknown) => void;
}

/**
 * The gateway's storage: sessions, cached user info, and (later) counters, each in its own
 * namespace of one keyv-backed store. In memory by default; on Redis every instance of the
 * gateway sees the same data, so nothing here may assume a single process.
 */
export class Store {
  readonly #options: StoreOptions;
  readonly #redis: RedisClientType | undefined;
  readonly #namespaces = new Map<string, Keyv>();
  /** In-memory stores by namespace (counters under `counters:<name>`), to count and to close. */
  readonly #memory = new Map<string, ExpiringMemoryStore>();
  /** In-memory expiry indexes by name: key → when it falls due. */
  readonly #memoryIndexes = new Map<string, Map<string, number>>();
  #connecting: Promise<unknown> | undefined;
  #closed = false;

  constructor(options: StoreOptions) {
    this.#options = options;
    if (options.redisUrl !== undefined) {
      this.#redis = createClient({
        url: options.redisUrl,
        // Fail a command at once while Redis is away rather than queue it: a request must get
        // STORE_UNAVAILABLE within its deadline, not wait for a reconnect that may never come.
        disableOfflineQueue: true,
        socket: {
          connectTimeout: options.operationTimeoutMs,
          reconnectStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
        },
      });
      this.#redis.on("error", options.onError);
      // Connect now, so that the first requests do not race each other (and keyv) to connect.
      void this.#connected(this.#redis).catch(() => undefined);
    }
  }

  /** A typed namespace; its keys are `<name>:<key>` in Redis. */
  namespace<T>(name: string): KeyValueStore<T> {
    let keyv = this.#namespaces.get(name);
    if (keyv === undefined) {
      keyv = this.#redis === undefined ? this.#memoryKeyv(name) : this.#redisKeyv(name, this.#redis);
      // keyv swallows storage errors by default (get answers undefined); a session store
      // that cannot be read must not look like one holding no session.
      keyv.throwOnErrors = true;
      keyv.on("error", () => {
        /* surfaced as StoreError by the operation that failed */
      });
      this.#namespaces.set(name, keyv);
    }
    const store = keyv;
    const redis = this.#redis;
    // In memory there is nothing to connect to: straight to keyv, without a turn of the event loop per operation.
    const run = <R>(operation: string, work: () => Promise<R>): Promise<R> =>
      this.#run(operation, redis === undefined ? work : async () => (await this.#connected(redis), work()));
    return {
      get: (key) => run("read", () => store.get<T>(key)),
      set: async (key, value, ttlMs) => {
        await run("write", () => store.set(key, value, Math.max(1, Math.ceil(ttlMs))));
      },
      delete: async (key) => {
        await run("delete", () => store.delete(key));
      },
    };
  }

  /** Atomic counters in their own namespace. */
  counters(name: string): CounterStore {
    const redis = this.#redis;
    if (redis === undefined) {
      // One map per name, as on Redis: two handles on the same name count together.
      const memory = this.#memoryOf(`counters:${name}`);
      return {
        increment: async (key, ttlMs) => memory.increment(key, ttlMs),
        take: async (key, limit, ttlMs) => memory.take(key, limit, ttlMs),
        giveBack: async (key) => memory.giveBack(key),
        get: async (key) => Number(memory.get(key) ?? 0),
        delete: async (key) => {
          memory.delete(key);
        },
      };
    }
    const redisKey = (key: string): string => `${name}::${key}`;
    const connected = (): Promise<RedisClientType> => this.#connected(redis);
    const ttl = (ttlMs: number): string => String(Math.max(1, Math.ceil(ttlMs)));
    return {
      increment: async (key, ttlMs) => Number(await this.#script("write", INCREMENT_SCRIPT, [redisKey(key)], [ttl(ttlMs)])),
      take: async (key, limit, ttlMs) => Number(await this.#script("write", TAKE_SCRIPT, [redisKey(key)], [String(limit), ttl(ttlMs)])) || undefined,
      giveBack: async (key) => {
        await this.#script("write", GIVE_BACK_SCRIPT, [redisKey(key)], []);
      },
      get: (key) => this.#run("read", async () => Number((await (await connected()).get(redisKey(key))) ?? 0)),
      delete: async (key) => {
        await this.#run("delete", async () => (await connected()).del(redisKey(key)));
      },
    };
  }

  /** The expiry index of a namespace: a sorted set `expiry:<name>` on Redis (ZREM tells who claimed a key). */
  expiryIndex(name: string): ExpiryIndex {
    const redis = this.#redis;
    if (redis === undefined) {
      let due = this.#memoryIndexes.get(name);
      if (due === undefined) this.#memoryIndexes.set(name, (due = new Map<string, number>()));
      const index = due;
      return {
        schedule: async (key, at) => void index.set(key, at),
        cancel: async (key) => void index.delete(key),
        due: async (now, limit) =>
          [...index]
            .filter(([, at]) => at <= now)
            .sort((a, b) => a[1] - b[1])
            .slice(0, limit)
            .map(([key]) => key),
        claim: async (key) => index.delete(key),
      };
    }
    const index = `expiry:${name}`;
    const connected = (): Promise<RedisClientType> => this.#connected(redis);
    return {
      schedule: async (key, at) => {
        await this.#run("write", async () => (await connected()).zAdd(index, { score: at, value: key }));
      },
      cancel: async (key) => {
        await this.#run("delete", async () => (await connected()).zRem(index, key));
      },
      due: (now, limit) => this.#run("read", async () => (await connected()).zRange(index, "-inf", now, { BY: "SCORE", LIMIT: { offset: 0, count: limit } })),
      claim: (key) => this.#run("delete", async () => (await (await connected()).zRem(index, key)) === 1),
    };
  }

  /** Compare-and-set registers in their own namespace (`<name>::<key>` on Redis). */
  registers(name: string): RegisterStore {
    const ttl = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs));
    if (this.#redis === undefined) {
      // One event-loop turn runs each step whole: nothing can come between the read and the write.
      const memory = this.#memoryOf(`registers:${name}`);
      const held = (key: string): string | undefined => memory.get(key) as string | undefined;
      return {
        get: async (key) => held(key),
        compareAndSet: async (key, expected, next, ttlMs) => {
          if (held(key) !== expected) return false;
          memory.set(key, next, ttl(ttlMs));
          return true;
        },
        compareAndDelete: async (key, expected) => held(key) === expected && memory.delete(key),
        swap: async (key, next, ttlMs) => {
          const before = held(key);
          memory.set(key, next, ttl(ttlMs));
          return before;
        },
      };
    }
    const redisKey = (key: string): string => `${name}::${key}`;
    return {
      get: (key) => this.#script("read", "return redis.call('GET', KEYS[1])", [redisKey(key)], []).then(text),
      compareAndSet: async (key, expected, next, ttlMs) =>
        (await this.#script("write", COMPARE_AND_SET_SCRIPT, [redisKey(key)], [expected === undefined ? "0" : "1", expected ?? "", next, String(ttl(ttlMs))])) === 1,
      compareAndDelete: async (key, expected) => (await this.#script("delete", COMPARE_AND_DELETE_SCRIPT, [redisKey(key)], [expected])) === 1,
      swap: (key, next, ttlMs) => this.#script("write", SWAP_SCRIPT, [redisKey(key)], [next, String(ttl(ttlMs))]).then(text),
    };
  }

  /** Capped indexes in their own namespace: a sorted set `<name>::<key>` on Redis, every step on that one key. */
  cappedIndex(name: string): CappedIndex {
    if (this.#redis === undefined) {
      const memory = this.#memoryOf(`capped:${name}`);
      const scores = (key: string): Map<string, number> => (memory.get(key) as Map<string, number> | undefined) ?? new Map<string, number>();
      /** Lowest score first, ties by member, as Redis orders a sorted set. */
      const before = ([a, x]: [string, number], [b, y]: [string, number]): number => x - y || (a < b ? -1 : a > b ? 1 : 0);
      /** The lowest-scored member but `spared`. */
      const lowest = (index: Map<string, number>, spared: string): string => {
        let lowest: [string, number] | undefined;
        for (const entry of index) if (entry[0] !== spared && (lowest === undefined || before(entry, lowest) < 0)) lowest = entry;
        return lowest![0];
      };
      return {
        add: async (key, member, score, cap) => {
          const index = scores(key);
          for (const [old, at] of index) if (at < cap.dropBelow) index.delete(old);
          index.set(member, score);
          // The oldest one at a time, not a sort per add: an index at its cap loses one per add.
          const evicted: string[] = [];
          while (index.size > cap.max) {
            const oldest = lowest(index, member);
            index.delete(oldest);
            evicted.push(oldest);
          }
          memory.set(key, index, Math.max(1, Math.ceil(cap.ttlMs)));
          return evicted;
        },
        remove: async (key, member) => void scores(key).delete(member),
        members: async (key) => [...scores(key)].sort(before).map(([member]) => member),
      };
    }
    const redisKey = (key: string): string => `${name}::${key}`;
    return {
      add: async (key, member, score, cap) =>
        (await this.#script("write", CAPPED_ADD_SCRIPT, [redisKey(key)], [member, String(score), String(cap.max), String(cap.dropBelow), String(Math.max(1, Math.ceil(cap.ttlMs)))])) as string[],
      remove: async (key, member) => {
        await this.#script("delete", "return redis.call('ZREM', KEYS[1], ARGV[1])", [redisKey(key)], [member]);
      },
      members: async (key) => (await this.#script("read", "return redis.call('ZRANGE', KEYS[1], 0, -1)", [redisKey(key)], [])) as string[],
    };
  }

  /**
   * How many entries a namespace holds now, for a gauge. In memory the map's size, expired
   * entries not yet swept (up to a minute) included; on Redis a SCAN of `<name>::*`, one pass
   * over the whole keyspace in batches: callers should not ask often.
   */
  async count(name: string): Promise<number> {
    const redis = this.#redis;
    if (redis === undefined) return this.#memory.get(name)?.size ?? 0;
    return this.#run("count", async () => {
      const client = await this.#connected(redis);
      let cursor = "0";
      let total = 0;
      do {
        const page = await client.scan(cursor, { MATCH: `${name}::*`, COUNT: 1000 });
        cursor = String(page.cursor);
        total += page.keys.length;
      } while (cursor !== "0");
      return total;
    });
  }

  /** Resolves when the store answers a round trip; rejects with StoreError otherwise. */
  async ping(): Promise<void> {
    const redis = this.#redis;
    if (redis === undefined) return;
    await this.#run("ping", async () => {
      await (await this.#connected(redis)).ping();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const memory of this.#memory.values()) memory.close();
    const redis = this.#redis;
    if (redis === undefined) return;
    // close() waits for replies in flight; a client still trying to connect (Redis away) would
    // keep trying for ever, so it is destroyed instead.
    if (redis.isReady) await redis.close().catch(() => redis.destroy());
    else if (redis.isOpen) redis.destroy();
  }

  /**
   * The Redis client once connected; one connection attempt at a time. While the first
   * connection is being made commands must wait for it: with the offline queue off they
   * would fail at once. Later, while Redis is away, they do fail at once, as intended.
   */
  async #connected(redis: RedisClientType): Promise<RedisClientType> {
    if (this.#connecting === undefined && !redis.isOpen && !this.#closed) {
      this.#connecting = redis.connect().finally(() => {
        this.#connecting = undefined;
      });
    }
    if (this.#connecting !== undefined) await this.#connecting;
    // Not ready (closed, or Redis away): fail here. Going on, keyv's adapter would open a
    // connection of its own, which outlives a closed store and retries for ever.
    if (!redis.isReady) throw new Error(this.#closed ? "store closed" : "Redis is not connected");
    return redis;
  }

  /**
   * Runs one Lua script: every atomic step on Redis goes through here. Each script touches the
   * keys it is given and no other, one key so far, so it runs on Redis Cluster as it is.
   */
  #script(operation: string, source: string, keys: string[], args: string[]): Promise<unknown> {
    const redis = this.#redis!;
    return this.#run(operation, async () => (await this.#connected(redis)).eval(source, { keys, arguments: args }));
  }

  /** The in-memory map of a name, made on first use and shared by every handle on the name. */
  #memoryOf(name: string): ExpiringMemoryStore {
    let memory = this.#memory.get(name);
    if (memory === undefined) this.#memory.set(name, (memory = new ExpiringMemoryStore()));
    return memory;
  }

  #memoryKeyv(name: string): Keyv {
    const memory = new ExpiringMemoryStore();
    this.#memory.set(name, memory);
    // keyv's own serializer builds its text piece by piece, and V8 keeps such a string as a tree
    // of pieces: measured at 100,000 sessions, about 4 KB of them per session beside a text of
    // under 1 KB. JSON.stringify is faster and its few pieces are flattened as the memory store
    // keeps the text (memory-store.ts); the values are plain JSON, which is all keyv's
    // serializer adds to (Buffers, strings starting with ":").
    return new Keyv({ store: memory, namespace: name, serialize: JSON.stringify, deserialize: decodedValues() });
  }

  #redisKeyv(name: string, client: RedisClientType): Keyv {
    const adapter = new KeyvRedis(client, { namespace: name, throwOnConnectError: true, throwOnErrors: true });
    return new Keyv({ store: adapter, namespace: name, useKeyPrefix: false });
  }

  async #run<R>(operation: string, work: () => Promise<R>): Promise<R> {
    if (this.#redis === undefined) {
      // In memory nothing can hang: a timer per operation (two on every warm request) would only cost.
      try {
        return await work();
      } catch (error) {
        throw new StoreError(operation, error);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${this.#options.operationTimeoutMs} ms`)), this.#options.operationTimeoutMs);
    });
    try {
      return await Promise.race([work(), deadline]);
    } catch (error) {
      throw new StoreError(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }
}
