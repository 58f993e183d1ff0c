import { randomBytes } from "node:crypto";
import { LIVE_SESSIONS_REDIS_INTERVAL_MS, STORE_OPERATION_TIMEOUT_MS } from "../config/tunables.js";
import type { User } from "../domain/user.js";
import type { SessionRecord } from "../sessions/session.js";
import type { SessionCoordination } from "../sessions/session.service.js";
import { Sealer, sealedStore, sealingKey } from "../store/sealed-store.js";
import type { RedisSettings } from "../store/redis/connection.js";
import { openStore, type KeyValueStore, type Store } from "../store/store.js";
import type { ResolvedConfig } from "./config.js";
import type { Observability } from "./observability.js";

/** The store and the namespaces the services keep their state in. */
export interface GatewayStore {
  store: Store;
  sessions: KeyValueStore<SessionRecord>;
  userInfo: KeyValueStore<User>;
  coordination: SessionCoordination;
  /** The number of live sessions, for the metrics gauge. */
  liveSessions(): Promise<number>;
}

export function createStore(config: ResolvedConfig, { log, metrics }: Pick<Observability, "log" | "metrics">): GatewayStore {
  const store = openStore({
    redis: config.redis,
    operationTimeoutMs: STORE_OPERATION_TIMEOUT_MS,
    onError: (error) => log.warn({ error: (error as Error)?.message }, "session store connection trouble"),
    onDataLost: () => {
      metrics.storeDataLost();
      log.error("Redis lost its data (restarted without persistence, or flushed): every session and sign-in lockout is gone; see docs/redis.md");
    },
  });
  const stores = sessionStores(store, { redis: config.redis, ...config.sessions }, (namespace, key) =>
    log.warn({ namespace, key }, "a stored value could not be opened (key rotated away, or altered); treated as absent"),
  );
  // In memory a count of the map is cheap, so it is fresh at every scrape; on Redis it is a SCAN, so it is reused for a while.
  let counted: { at: number; sessions: Promise<number> } | undefined;
  const liveSessions = (): Promise<number> => {
    const maxAgeMs = config.redis === undefined ? 0 : LIVE_SESSIONS_REDIS_INTERVAL_MS;
    if (counted === undefined || performance.now() - counted.at >= maxAgeMs) {
      counted = { at: performance.now(), sessions: store.count("session").catch(() => Number.NaN) };
    }
    return counted.sessions;
  };
  return { store, ...stores, coordination: sessionCoordination(store), liveSessions };
}

/**
 * The namespaces that hold sessions and cached user info. On Redis they are sealed (see Sealer):
 * what is stored there leaves the process (dumps, backups, replicas). In this process's memory
 * they are not: nothing there leaves it, and whoever can read its memory can read the sealing key
 * beside the values, so sealing would protect nothing while costing an AES-GCM open on every
 * request (measured by `npm run bench`). keyv still stores them serialized, so no caller shares
 * an object with the store. Exported for the benchmark's memory probe, which must measure
 * sessions stored exactly as the gateway stores them.
 */
export function sessionStores(
  store: Store,
  settings: { redis: RedisSettings | undefined; encryptionKey: Buffer | undefined; previousEncryptionKeys: Buffer[] },
  onUnreadable: (namespace: string, key: string) => void,
): { sessions: KeyValueStore<SessionRecord>; userInfo: KeyValueStore<User> } {
  if (settings.redis === undefined) return { sessions: store.namespace<SessionRecord>("session"), userInfo: store.namespace<User>("userinfo") };
  const sealer = new Sealer(sealingKey(settings.encryptionKey ?? randomBytes(32)), settings.previousEncryptionKeys.map(sealingKey));
  const sealed = <T>(name: string): KeyValueStore<T> => sealedStore<T>(store.namespace<string>(name), sealer, (key) => onUnreadable(name, key));
  return { sessions: sealed<SessionRecord>("session"), userInfo: sealed<User>("userinfo") };
}

/** Where sessions are coordinated across instances (see SessionCoordination); exported for tests and the benchmark, which build sessions as the gateway does. */
export function sessionCoordination(store: Store): SessionCoordination {
  return { current: store.registers("session-current"), locks: store.registers("session-lock"), users: store.cappedIndex("user-sessions") };
}
