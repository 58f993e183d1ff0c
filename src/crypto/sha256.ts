import { createHash } from "node:crypto";

/** SHA-256 of `value`: the raw digest, or as text in `encoding`. */
export function sha256(value: string | Buffer): Buffer;
export function sha256(value: string | Buffer, encoding: "hex" | "base64url"): string;
export function sha256(value: string | Buffer, encoding?: "hex" | "base64url"): Buffer | string {
  const digest = createHash("sha256").update(value);
  return encoding === undefined ? digest.digest() : digest.digest(encoding);
}
