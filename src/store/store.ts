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
  /** Compare-and-set registers in their own namespace (`<name>::<key>` on Redis). */
  registers(name: string): RegisterStore;
  /** Capped indexes in their own namespace: a sorted set `<name>::<key>` on Redis, every step on that one key. */
  cappedIndex(name: string): CappedIndex;
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
