import { MemoryStore } from "./memory/memory-store.js";
import type { RedisSettings } from "./redis/connection.js";
import { RedisStore } from "./redis/redis-store.js";

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
 * The gateway's storage: sessions, cached user info and counters, each in its own namespace.
 * In memory by default (memory/); on Redis (redis/: one primary, Cluster or Sentinel) every
 * instance of the gateway sees the same data, so nothing here may assume a single process.
 */
export interface Store {
  /** A typed namespace; its keys are `<name>::<key>` on Redis. */
  namespace<T>(name: string): KeyValueStore<T>;
  /** Atomic counters in their own namespace. */
  counters(name: string): CounterStore;
  /** The expiry index of a namespace. */
  expiryIndex(name: string): ExpiryIndex;
  /**
   * How many entries a namespace holds now, for a gauge. In memory the map's size, expired
   * entries not yet swept (up to a minute) included; on Redis a SCAN of every primary: callers
   * should not ask often.
   */
  count(name: string): Promise<number>;
  /**
   * Resolves when the store accepts writes now; rejects with StoreError saying why otherwise (a
   * replica, a cluster that is down, refused credentials, unreachable). Answers within the
   * operation deadline, and asks Redis at most about once a second however many callers ask.
   */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Where the shared Redis is; unset keeps everything in this process's memory. */
  redis: RedisSettings | undefined;
  /** Longest a store operation may take before it counts as failed, in milliseconds. */
  operationTimeoutMs: number;
  /** Told about connection trouble that has no request to fail (reconnects). */
  onError: (error: unknown) => void;
  /**
   * Told when Redis is found to have lost its data since this instance last looked (restarted
   * without persistence, or flushed): every session and sign-in lockout went with it.
   */
  onDataLost?: () => void;
}

export function openStore(options: StoreOptions): Store {
  return options.redis === undefined ? new MemoryStore() : new RedisStore(options.redis, options);
}
