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

export interface StoreOptions {
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
  readonly #memoryStores: ExpiringMemoryStore[] = [];

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
      }) as RedisClientType;
      this.#redis.on("error", options.onError);
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
    return {
      get: (key) => this.#run("read", () => store.get<T>(key)),
      set: async (key, value, ttlMs) => {
        await this.#run("write", () => store.set(key, value, Math.max(1, Math.ceil(ttlMs))));
      },
      delete: async (key) => {
        await this.#run("delete", () => store.delete(key));
      },
    };
  }

  /** Resolves when the store answers a round trip; rejects with StoreError otherwise. */
  async ping(): Promise<void> {
    const redis = this.#redis;
    if (redis === undefined) return;
    await this.#run("ping", async () => {
      if (!redis.isOpen) await redis.connect();
      await redis.ping();
    });
  }

  async close(): Promise<void> {
    for (const memory of this.#memoryStores) memory.close();
    if (this.#redis?.isOpen) await this.#redis.close().catch(() => undefined);
  }

  #memoryKeyv(name: string): Keyv {
    const memory = new ExpiringMemoryStore();
    this.#memoryStores.push(memory);
    return new Keyv({ store: memory, namespace: name });
  }

  #redisKeyv(name: string, client: RedisClientType): Keyv {
    const adapter = new KeyvRedis(client, { namespace: name, throwOnConnectError: true, throwOnErrors: true });
    return new Keyv({ store: adapter, namespace: name, useKeyPrefix: false });
  }

  async #run<R>(operation: string, work: () => Promise<R>): Promise<R> {
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
