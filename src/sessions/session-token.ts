import { randomBytes, randomUUID } from "node:crypto";
import { sha256 } from "../crypto/sha256.js";

/** 32 random bytes, base64url: 43 characters, 256 bits of entropy. */
export function newSessionToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Anything else cannot be one of ours: answered without a store read. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function isWellFormedToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/**
 * The store key of a token. Only the hash is stored, so a read of the store (a Redis dump,
 * a backup) yields no token a client could present.
 */
export function storeKeyOf(token: string): string {
  return sha256(token, "base64url");
}

/** The public, non-secret id of a session (`Session.id`): unrelated to the token. */
export function newSessionId(): string {
  return randomUUID();
}
