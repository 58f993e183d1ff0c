import type { Keyv } from "keyv";
import { StoreError } from "../errors/backend-error.js";
import type { KeyValueStore } from "./store.js";

/**
 * A typed namespace over a keyv instance, the same for every implementation. `run` wraps each
 * operation (StoreError, and on Redis a deadline).
 */
export function keyvNamespace<T>(keyv: Keyv, run: <R>(operation: string, work: () => Promise<R>) => Promise<R>): KeyValueStore<T> {
  return {
    get: (key) => run("read", () => keyv.get<T>(key)),
    set: async (key, value, ttlMs) => {
      await run("write", () => keyv.set(key, value, Math.max(1, Math.ceil(ttlMs))));
    },
    delete: async (key) => {
      await run("delete", () => keyv.delete(key));
    },
  };
}

/** keyv with errors thrown: keyv swallows storage errors by default (get answers undefined), and a session store that cannot be read must not look like one holding no session. */
export function throwingKeyv(keyv: Keyv): Keyv {
  keyv.throwOnErrors = true;
  keyv.on("error", () => {
    /* surfaced as StoreError by the operation that failed */
  });
  return keyv;
}

/** Runs `work`, turning any failure into StoreError(operation). */
export async function storeOperation<R>(operation: string, work: () => Promise<R>): Promise<R> {
  try {
    return await work();
  } catch (error) {
    throw new StoreError(operation, error);
  }
}
