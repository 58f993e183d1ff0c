import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyValueStore } from "./store.js";
import { sha256 } from "../crypto/sha256.js";

/** A 32-byte AES-256 key and the short id that names it in sealed values. */
interface SealingKey {
  key: Buffer;
  id: string;
}

/** A key's id: the start of its SHA-256, so sealed values say which key opens them without revealing it. */
export function sealingKey(key: Buffer): SealingKey {
  return { key, id: sha256(key, "base64url").slice(0, 8) };
}

/**
 * Values sealed with AES-256-GCM before they reach the store: a copy of Redis (a dump, a
 * backup, a replica) holds no backend credential and no personal data in the clear. The store
 * key is bound in as additional data, so a sealed value moved under another key fails to open.
 * Format: `v1.<key id>.<iv>.<ciphertext and tag>` (base64url parts).
 */
export class Sealer {
  readonly #current: SealingKey;
  readonly #byId: Map<string, SealingKey>;

  /** `previous` keys still open values sealed before a key rotation; new values use `current`. */
  constructor(current: SealingKey, previous: SealingKey[] = []) {
    this.#current = current;
    this.#byId = new Map([...previous, current].map((key) => [key.id, key]));
  }

  seal(value: unknown, storeKey: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv);
    cipher.setAAD(Buffer.from(storeKey));
    const sealed = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `v1.${this.#current.id}.${iv.toString("base64url")}.${sealed.toString("base64url")}`;
  }

  /** The value, or undefined when it cannot be opened (unknown key, altered, moved, not sealed). */
  open<T>(sealed: unknown, storeKey: string): T | undefined {
    if (typeof sealed !== "string") return undefined;
    const [version, keyId, iv, body] = sealed.split(".");
    const key = keyId === undefined ? undefined : this.#byId.get(keyId);
    if (version !== "v1" || key === undefined || iv === undefined || body === undefined) return undefined;
    try {
      const bytes = Buffer.from(body, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", key.key, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(storeKey));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
      return JSON.parse(plain.toString("utf8")) as T;
    } catch {
      return undefined;
    }
  }
}

/**
 * A namespace whose values are sealed. A value that cannot be opened reads as absent and is
 * reported: for sessions that means "no session" (the client signs in again), never a session
 * assumed valid.
 */
export function sealedStore<T>(inner: KeyValueStore<string>, sealer: Sealer, onUnreadable: (key: string) => void): KeyValueStore<T> {
  return {
    get: async (key) => {
      const sealed = await inner.get(key);
      if (sealed === undefined) return undefined;
      const value = sealer.open<T>(sealed, key);
      if (value === undefined) onUnreadable(key);
      return value;
    },
    set: (key, value, ttlMs) => inner.set(key, sealer.seal(value, key), ttlMs),
    delete: (key) => inner.delete(key),
  };
}
