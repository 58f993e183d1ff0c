import { Keyv } from "keyv";
import { keyvNamespace, storeOperation, throwingKeyv } from "../operations.js";
import type { CappedIndex, CounterStore, ExpiryIndex, KeyValueStore, RegisterStore, Store } from "../store.js";
import { ExpiringMemoryStore } from "./expiring-map.js";
import { DECODED_TEXTS_KEPT } from "../../config/tunables.js";

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

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/**
 * Everything in this process's memory (one instance, demo and tests). Nothing here can hang,
 * so operations have no deadline: a timer per operation (two on every warm request) would only cost.
 */
export class MemoryStore implements Store {
  readonly #namespaces = new Map<string, KeyValueStore<unknown>>();
  /** In-memory stores by namespace (counters under `counters:<name>`), to count and to close. */
  readonly #memory = new Map<string, ExpiringMemoryStore>();
  /** Expiry indexes by name: key → when it falls due. */
  readonly #indexes = new Map<string, Map<string, number>>();

  namespace<T>(name: string): KeyValueStore<T> {
    let namespace = this.#namespaces.get(name);
    if (namespace === undefined) {
      const memory = new ExpiringMemoryStore();
      this.#memory.set(name, memory);
      // keyv's own serializer builds its text piece by piece, and V8 keeps such a string as a tree
      // of pieces: measured at 100,000 sessions, about 4 KB of them per session beside a text of
      // under 1 KB. JSON.stringify is faster and its few pieces are flattened as the memory store
      // keeps the text (expiring-map.ts); the values are plain JSON, which is all keyv's
      // serializer adds to (Buffers, strings starting with ":").
      const keyv = throwingKeyv(new Keyv({ store: memory, namespace: name, serialize: JSON.stringify, deserialize: decodedValues() }));
      namespace = keyvNamespace<unknown>(keyv, storeOperation);
      this.#namespaces.set(name, namespace);
    }
    // Each name is created with its own type by its one caller; the map cannot hold that type.
    return namespace as KeyValueStore<T>;
  }

  counters(name: string): CounterStore {
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

  expiryIndex(name: string): ExpiryIndex {
    let index = this.#indexes.get(name);
    if (index === undefined) this.#indexes.set(name, (index = new Map<string, number>()));
    const due = index;
    return {
      schedule: async (key, at) => void due.set(key, at),
      cancel: async (key) => void due.delete(key),
      due: async (now, limit) =>
        [...due]
          .filter(([, at]) => at <= now)
          .sort((a, b) => a[1] - b[1])
          .slice(0, limit)
          .map(([key]) => key),
      claim: async (key) => due.delete(key),
    };
  }

  registers(name: string): RegisterStore {
    const ttl = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs));
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

  cappedIndex(name: string): CappedIndex {
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

  async count(name: string): Promise<number> {
    return this.#memory.get(name)?.size ?? 0;
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    for (const memory of this.#memory.values()) memory.close();
  }

  /** The map of a name, made on first use and shared by every handle on the name. */
  #memoryOf(name: string): ExpiringMemoryStore {
    let memory = this.#memory.get(name);
    if (memory === undefined) this.#memory.set(name, (memory = new ExpiringMemoryStore()));
    return memory;
  }
}
