import DataLoader from "dataloader";
import type { IdpClient } from "../backends/idp/idp.client.js";
import type { User } from "../domain/user.js";
import { storeKeyOf } from "../sessions/session-token.js";
import type { KeyValueStore } from "../store/store.js";

interface UserInfoCacheOptions {
  idp: IdpClient;
  /** Shared by every instance; keyed by the token's hash. */
  cache: KeyValueStore<User>;
  /** How long an answer is reused (`USERINFO_TTL_MS`); 0 turns the cache off. */
  ttlMs: number;
  /** Hears how each read that is not joined to one in flight went, for metrics. */
  onRead?: (result: "hit" | "miss" | "bypass") => void;
}

/**
 * IdP user info by access token, read through a shared cache (so every instance reuses an
 * answer for `ttlMs`) and de-duplicated while in flight (so a burst of requests for one
 * token in this process makes one upstream call).
 */
export class UserInfoCache {
  readonly #idp: IdpClient;
  readonly #cache: KeyValueStore<User>;
  readonly #ttlMs: number;
  readonly #inFlight = new Map<string, Promise<User>>();
  readonly #onRead: ((result: "hit" | "miss" | "bypass") => void) | undefined;

  constructor(options: UserInfoCacheOptions) {
    this.#idp = options.idp;
    this.#cache = options.cache;
    this.#ttlMs = options.ttlMs;
    this.#onRead = options.onRead;
  }

  /**
   * The user behind the access token; rejects with the IdP's error when it refuses the token.
   * `fresh` skips the cached answer (not one already in flight) and caches the new one.
   */
  get(accessToken: string, options: { fresh?: boolean } = {}): Promise<User> {
    // Keyed by the token's hash: the cache, like the session store, holds no credential in its keys.
    const key = storeKeyOf(accessToken);
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#load(key, accessToken, options.fresh === true).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** Forgets the token's user info, so nothing reads it after sign-out. */
  async drop(accessToken: string): Promise<void> {
    const key = storeKeyOf(accessToken);
    // A read already under way caches its answer when it returns: let it land, then delete.
    await this.#inFlight.get(key)?.catch(() => undefined);
    await this.#cache.delete(key);
  }

  /**
   * A loader for one request. Loaders are never shared between requests: each one caches
   * only for the request that made it, the shared cache above does the rest.
   */
  loader(): DataLoader<string, User> {
    return new DataLoader<string, User>(
      async (tokens) => Promise.all(tokens.map((token) => this.get(token).catch((error: unknown) => error as Error))),
      {
        // The IdP answers one token per call, so batching has nothing to join: it would only hold
        // each load back a tick. The loader still answers the same token once per request.
        batch: false,
      },
    );
  }

  async #load(key: string, accessToken: string, fresh: boolean): Promise<User> {
    if (this.#ttlMs > 0 && !fresh) {
      const cached = await this.#cache.get(key);
      this.#onRead?.(cached === undefined ? "miss" : "hit");
      if (cached !== undefined) return cached;
    } else {
      this.#onRead?.("bypass");
    }
    const user = await this.#idp.userInfo(accessToken);
    if (this.#ttlMs > 0) await this.#cache.set(key, user, this.#ttlMs);
    return user;
  }
}
