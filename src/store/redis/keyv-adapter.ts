import { EventEmitter } from "node:events";
import type { KeyvStoreAdapter, StoredData } from "keyv";
import type { RedisClient } from "./connection.js";

/**
 * keyv's storage adapter over an ioredis client (one node, Sentinel or Cluster): one key per
 * entry, `<namespace>::<key>`, the value as keyv serialized it, the TTL as PX. Every command
 * touches that one key, so it works in any Cluster slot; nothing else is kept (no per-namespace
 * key set, as some adapters keep). Same key scheme and value format as @keyv/redis wrote before.
 */
export class IoredisKeyvAdapter extends EventEmitter implements KeyvStoreAdapter {
  readonly opts = {};
  namespace: string | undefined;

  constructor(
    readonly client: RedisClient,
    readonly name: string,
  ) {
    super();
    this.namespace = name;
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    // keyv deserializes the text it stored; the adapter hands it back as it is.
    return ((await this.client.get(this.#key(key))) ?? undefined) as StoredData<Value> | undefined;
  }

  async set(key: string, value: string, ttl?: number): Promise<void> {
    if (ttl === undefined) await this.client.set(this.#key(key), value);
    else await this.client.set(this.#key(key), value, "PX", ttl);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.client.del(this.#key(key))) > 0;
  }

  /** Clearing a namespace would be a SCAN of every primary in a request path: the gateway never clears one. */
  async clear(): Promise<void> {
    throw new Error("clearing a Redis namespace is not supported");
  }

  #key(key: string): string {
    return `${this.name}::${key}`;
  }
}
