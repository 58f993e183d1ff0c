import type { SessionOptions } from "../config/config.js";
import type { KeyValueStore } from "../store/store.js";
import type { ActiveSession, SessionRecord } from "./session.js";
import { isWellFormedToken, newSessionId, newSessionToken, storeKeyOf } from "./session-token.js";

/** Which limit ended a session: unused too long, or open too long however busy. */
export type ExpiryReason = "IDLE" | "ABSOLUTE";

export interface SessionServiceOptions extends Pick<SessionOptions, "idleTimeoutMs" | "absoluteTimeoutMs"> {
  /** The clock; tests move it rather than sleep. */
  now: () => number;
}

/**
 * Gateway sessions: issue, find, rotate, end. Idle and absolute timeouts are enforced here,
 * on every lookup, whatever the store's own expiry does.
 */
export class SessionService {
  readonly #store: KeyValueStore<SessionRecord>;
  readonly #options: SessionServiceOptions;
  /**
   * A lookup writes the session back (sliding its idle expiry) at most this often. Writing on
   * every request would double store traffic on the hottest path; the cost is that a session
   * may end up to this much earlier than its idle timeout says, never later.
   */
  readonly #touchIntervalMs: number;

  constructor(store: KeyValueStore<SessionRecord>, options: SessionServiceOptions) {
    this.#store = store;
    this.#options = options;
    this.#touchIntervalMs = Math.min(60_000, Math.floor(options.idleTimeoutMs / 10));
  }

  /** Opens a session; returns the token, shown to the client once. */
  async open(fields: Pick<SessionRecord, "credential" | "user" | "permission">): Promise<{ token: string; session: ActiveSession }> {
    const now = this.#options.now();
    return this.#write({ ...fields, id: newSessionId(), createdAt: now, lastSeenAt: now });
  }

  /**
   * The live session behind a token, or null (unknown, ended, idle too long, too old).
   * `onExpired` hears of a session this lookup found past its limits (and removed); one the
   * store has already dropped at its TTL is simply unknown.
   */
  async find(token: string | undefined, onExpired?: (record: SessionRecord, reason: ExpiryReason) => void): Promise<ActiveSession | null> {
    if (token === undefined || !isWellFormedToken(token)) return null;
    const key = storeKeyOf(token);
    const record = await this.#store.get(key);
    if (record === undefined) return null;
    const now = this.#options.now();
    const expiresAt = this.#expiresAt(record, record.lastSeenAt);
    if (now >= expiresAt) {
      await this.#store.delete(key);
      onExpired?.(record, expiresAt === record.createdAt + this.#options.absoluteTimeoutMs ? "ABSOLUTE" : "IDLE");
      return null;
    }
    if (now - record.lastSeenAt < this.#touchIntervalMs) return { key, record, expiresAt };
    const touched = { ...record, lastSeenAt: now };
    const touchedExpiry = this.#expiresAt(touched, now);
    await this.#store.set(key, touched, touchedExpiry - now);
    return { key, record: touched, expiresAt: touchedExpiry };
  }

  /**
   * Issues a new token for the session with `changes` applied and ends the old token: the
   * old one stops working the moment the new one exists.
   */
  async rotate(session: ActiveSession, changes: Partial<Pick<SessionRecord, "user" | "permission">>): Promise<{ token: string; session: ActiveSession }> {
    const rotated = await this.#write({ ...session.record, ...changes, lastSeenAt: this.#options.now() });
    await this.#store.delete(session.key);
    return rotated;
  }

  /** How long until the session ends at its absolute limit, however it is used meanwhile. */
  lifetimeLeftMs(record: SessionRecord): number {
    return record.createdAt + this.#options.absoluteTimeoutMs - this.#options.now();
  }

  async end(session: Pick<ActiveSession, "key">): Promise<void> {
    await this.#store.delete(session.key);
  }

  async #write(record: SessionRecord): Promise<{ token: string; session: ActiveSession }> {
    const token = newSessionToken();
    const key = storeKeyOf(token);
    const expiresAt = this.#expiresAt(record, record.lastSeenAt);
    await this.#store.set(key, record, expiresAt - this.#options.now());
    return { token, session: { key, record, expiresAt } };
  }

  #expiresAt(record: SessionRecord, lastSeenAt: number): number {
    return Math.min(lastSeenAt + this.#options.idleTimeoutMs, record.createdAt + this.#options.absoluteTimeoutMs);
  }
}
