import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { SessionOptions } from "../config/config.js";
import { SESSION_LOCK_RETRY, SESSION_TOUCH, SWEEP_BATCH } from "../config/tunables.js";
import { globalUserId } from "../domain/user.js";
import type { CappedIndex, ExpiryIndex, KeyValueStore, RegisterStore } from "../store/store.js";
import type { ActiveSession, NewSession, SessionRecord, SpineSessionRecord } from "./session.js";
import { isWellFormedToken, newSessionId, newSessionToken, storeKeyOf } from "./session-token.js";

/** Which limit ended a session: unused too long, or open too long however busy. */
type ExpiryReason = "IDLE" | "ABSOLUTE";

/** Told once of each session that expired, whether its token came back or a sweep found it. */
type ExpiryListener = (record: SessionRecord, reason: ExpiryReason) => void;

/**
 * A record outlives its session in the store by this much, so that a sweep running a little
 * late (or an instance restarting) can still read who it was when it records the expiry.
 */
export const EXPIRED_RECORD_GRACE_MS = 5 * 60_000;
/**
 * What a session's "current token" register holds once the session has ended: no store key
 * (a hash of 43 characters) looks like it, so a request holding any token of the session loses.
 */
const ENDED = "ended";

export interface SessionServiceOptions extends Pick<SessionOptions, "idleTimeoutMs" | "absoluteTimeoutMs" | "maxPerUser"> {
  /** Where session records live, by the hash of their token. */
  store: KeyValueStore<SessionRecord>;
  /** Session ids by when they expire, for the sweep. */
  expiries: ExpiryIndex;
  /** Shared across instances: each session's current token, its lock, each user's sessions. */
  coordination: SessionCoordination;
  /** The clock; tests move it rather than sleep. */
  now: () => number;
  /**
   * Longest a session's lock is held, and longest anybody waits for it, in milliseconds: longer
   * than the backend call made under it, so a holder that died frees it in time.
   */
  lockTtlMs: number;
}

/**
 * What makes changes of one session safe across instances: which of its tokens is current
 * (one register per session id: a token key, or ENDED), who holds its lock, and each user's
 * live sessions (for the cap).
 */
export interface SessionCoordination {
  current: RegisterStore;
  locks: RegisterStore;
  users: CappedIndex;
}

/**
 * Gateway sessions: issue, find, rotate, end. Idle and absolute timeouts are enforced here,
 * on every lookup, whatever the store's own expiry does.
 */
export class SessionService {
  readonly #store: KeyValueStore<SessionRecord>;
  readonly #expiries: ExpiryIndex;
  readonly #shared: SessionCoordination;
  readonly #options: SessionServiceOptions;
  /**
   * A lookup writes the session back (sliding its idle expiry) at most this often. Writing on
   * every request would double store traffic on the hottest path; the cost is that a session
   * may end up to this much earlier than its idle timeout says, never later.
   */
  readonly #touchIntervalMs: number;

  constructor(options: SessionServiceOptions) {
    this.#store = options.store;
    this.#expiries = options.expiries;
    this.#shared = options.coordination;
    this.#options = options;
    this.#touchIntervalMs = Math.min(SESSION_TOUCH.maxMs, Math.floor(options.idleTimeoutMs * SESSION_TOUCH.idleShare));
  }

  /**
   * Opens a session; returns the token, shown to the client once, and the ids of the user's
   * sessions that must end to keep them within the cap (already out of the user's index: the
   * caller ends them, see {@link end}).
   */
  async open(fields: NewSession): Promise<{ token: string; session: ActiveSession; evicted: string[] }> {
    const now = this.#options.now();
    // The new fields first: V8 (Node 20) gives `{ ...fields, id, ... }` a hidden class of its own
    // every time, garbage that lives long enough to be promoted; measured at 100,000 sessions,
    // about 0.5 KB more resident memory per session.
    const opened = await this.#write({ id: newSessionId(), createdAt: now, lastSeenAt: now, ...fields });
    const { key, record } = opened.session;
    try {
      await this.#shared.current.compareAndSet(record.id, undefined, key, this.#registerTtlMs());
      const evicted = await this.#shared.users.add(userKeyOf(record), record.id, record.createdAt, {
        max: this.#options.maxPerUser,
        // Sessions opened longer ago than the absolute limit have ended, noticed or not.
        dropBelow: now - this.#options.absoluteTimeoutMs,
        // As long as any session opened now could live; ended and expired ones leave it one by one.
        ttlMs: this.#options.absoluteTimeoutMs + EXPIRED_RECORD_GRACE_MS,
      });
      return { ...opened, evicted };
    } catch (error) {
      // Not counted against the cap, so not handed out: a session that escaped it must not live.
      await this.#forget(key).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The live session behind a token, or null (unknown, ended, idle too long, too old).
   * `onExpired` hears of a session this lookup found past its limits, unless a sweep
   * ({@link expireDue}) already did.
   */
  async find(token: string | undefined, onExpired?: ExpiryListener): Promise<ActiveSession | null> {
    if (token === undefined || !isWellFormedToken(token)) return null;
    const key = storeKeyOf(token);
    const record = await this.#store.get(key);
    if (record === undefined) return null;
    const now = this.#options.now();
    const expiresAt = this.#expiresAt(record, record.lastSeenAt);
    if (now >= expiresAt) {
      await this.#expire(key, record, expiresAt, onExpired);
      return null;
    }
    if (now - record.lastSeenAt < this.#touchIntervalMs) return { key, record, expiresAt };
    const touched = { ...record, lastSeenAt: now };
    const touchedExpiry = this.#expiresAt(touched, now);
    await this.#keep(key, touched, touchedExpiry);
    // The write may have put back a token that a rotation or an end removed since the read above:
    // those move the session's register before they delete, so the register read after the write tells.
    if (!(await this.#mayLive(key, record))) {
      await this.#store.delete(key);
      return null;
    }
    return { key, record: touched, expiresAt: touchedExpiry };
  }

  /**
   * Ends the sessions whose time has come and tells `onExpired` of each: without this a
   * session nobody came back for would leave the store at its TTL with no trace in the audit
   * trail. Safe on many instances at once: each expiry is claimed by exactly one. Returns how
   * many expired.
   */
  async expireDue(onExpired: ExpiryListener): Promise<number> {
    const now = this.#options.now();
    let expired = 0;
    for (const key of await this.#expiries.due(now, SWEEP_BATCH)) {
      const record = await this.#store.get(key);
      if (record === undefined) {
        // Ended, or gone past its grace while no instance ran: nothing left to tell.
        await this.#expiries.cancel(key);
        continue;
      }
      const expiresAt = this.#expiresAt(record, record.lastSeenAt);
      if (expiresAt > now) {
        // Used again since it was scheduled (an index write lost to a crash): not due yet.
        await this.#expiries.schedule(key, expiresAt);
        continue;
      }
      if (await this.#expire(key, record, expiresAt, onExpired)) expired += 1;
    }
    return expired;
  }

  /**
   * Runs `work` holding the lock of session `id`, a lock held in the store so that it holds across
   * instances: rotations, role selections and sign-outs of one session happen one at a time.
   * Waits for the lock at most `lockTtlMs` (by then a holder that died has lost it); `work` is
   * told whether it got the lock, and decides what may still be done without it.
   */
  async withLock<T>(id: string, work: (locked: boolean) => Promise<T>): Promise<T> {
    const owner = randomUUID();
    const deadline = performance.now() + this.#options.lockTtlMs;
    let pause = SESSION_LOCK_RETRY.firstMs;
    let locked = false;
    while (!(locked = await this.#shared.locks.compareAndSet(id, undefined, owner, this.#options.lockTtlMs))) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await sleep(Math.min(pause, left));
      pause = Math.min(2 * pause, SESSION_LOCK_RETRY.maxMs);
    }
    try {
      return await work(locked);
    } finally {
      // Only its owner's value is deleted: a lock taken over after its TTL stays with the new holder.
      // If the store cannot be reached now, the lock frees itself at its TTL.
      if (locked) await this.#shared.locks.compareAndDelete(id, owner).catch(() => undefined);
    }
  }

  /**
   * Whether `session`'s token is still the current one of its session: false once it was rotated
   * or the session ended, even if the request read it just before. Ask under the session's lock.
   */
  async holdsCurrentToken(session: ActiveSession): Promise<boolean> {
    const held = await this.#shared.current.get(session.record.id);
    // Sessions opened before registers were kept have none: the token held is their only one, so it becomes the current.
    if (held === undefined) return this.#shared.current.compareAndSet(session.record.id, undefined, session.key, this.#registerTtlMs());
    return held === session.key;
  }

  /**
   * Issues a new token for the session with `changes` applied and ends the old token: the
   * old one stops working the moment the new one exists. Only Spine sessions change (a role).
   * Null when the token was no longer current (rotated or ended meanwhile): nothing changed.
   */
  async rotate(
    session: ActiveSession<SpineSessionRecord>,
    changes: Partial<Pick<SpineSessionRecord, "user" | "permission">>,
  ): Promise<{ token: string; session: ActiveSession<SpineSessionRecord> } | null> {
    const rotated = await this.#write({ ...session.record, ...changes, lastSeenAt: this.#options.now() });
    // The new token counts from this one step on; whoever moved the register first wins.
    if (!(await this.#shared.current.compareAndSet(session.record.id, session.key, rotated.session.key, this.#registerTtlMs()))) {
      await this.#forget(rotated.session.key);
      return null;
    }
    await this.#forget(session.key);
    return rotated;
  }

  /** How long until the session ends at its absolute limit, however it is used meanwhile. */
  lifetimeLeftMs(record: SessionRecord): number {
    return record.createdAt + this.#options.absoluteTimeoutMs - this.#options.now();
  }

  /**
   * Ends session `id`, whichever of its tokens is current: a sign-out that raced a role selection
   * ends the rotated token too. Returns the record this call ended, or null when the session had
   * already ended (another sign-out, an eviction, an expiry got there first). `presented` is the
   * session as the request found it, for sessions opened before registers were kept.
   */
  async end(id: string, presented?: ActiveSession): Promise<SessionRecord | null> {
    const held = await this.#shared.current.swap(id, ENDED, this.#registerTtlMs());
    const key = held === undefined ? presented?.key : held === ENDED ? undefined : held;
    if (key === undefined) return null;
    const record = key === presented?.key ? presented.record : await this.#store.get(key);
    // Gone, or past its limits (an evicted session nobody used lately): its expiry is recorded as
    // such, by the sweep or its token's next use, not as ended here.
    if (record === undefined || this.#options.now() >= this.#expiresAt(record, record.lastSeenAt)) return null;
    await this.#forget(key);
    await this.#shared.users.remove(userKeyOf(record), id);
    return record;
  }

  /** Deletes a token's record and its scheduled expiry. */
  async #forget(key: string): Promise<void> {
    await this.#store.delete(key);
    await this.#expiries.cancel(key);
  }

  /**
   * How long a session's register lives from its last write: at least as long as any record of
   * the session may (a record lives at most its idle timeout and the grace from its last write,
   * and each write of a record writes the register too), so an ENDED marker outlasts every token
   * it refuses, and a register nobody uses leaves with its session.
   */
  #registerTtlMs(): number {
    return this.#options.idleTimeoutMs + EXPIRED_RECORD_GRACE_MS;
  }

  /**
   * Whether `key` may still be used, keeping its register alive as long as its record: its
   * session's current token, or one of a session without a register (older release).
   */
  async #mayLive(key: string, record: SessionRecord): Promise<boolean> {
    if (await this.#shared.current.compareAndSet(record.id, key, key, this.#registerTtlMs())) return true;
    return (await this.#shared.current.get(record.id)) === undefined;
  }

  async #write<R extends SessionRecord>(record: R): Promise<{ token: string; session: ActiveSession<R> }> {
    const token = newSessionToken();
    const key = storeKeyOf(token);
    const expiresAt = this.#expiresAt(record, record.lastSeenAt);
    await this.#keep(key, record, expiresAt);
    return { token, session: { key, record, expiresAt } };
  }

  /** Stores the record until its expiry plus the grace, and schedules the expiry. */
  async #keep(key: string, record: SessionRecord, expiresAt: number): Promise<void> {
    await this.#store.set(key, record, expiresAt - this.#options.now() + EXPIRED_RECORD_GRACE_MS);
    await this.#expiries.schedule(key, expiresAt);
  }

  /** Removes an expired session; tells `onExpired` if this caller was the one to claim it. */
  async #expire(key: string, record: SessionRecord, expiresAt: number, onExpired: ExpiryListener | undefined): Promise<boolean> {
    const claimed = await this.#expiries.claim(key);
    await this.#store.delete(key);
    // Only if still current: a stale token found expired must not unseat its successor.
    await this.#shared.current.compareAndDelete(record.id, key);
    await this.#shared.users.remove(userKeyOf(record), record.id);
    if (claimed) onExpired?.(record, expiresAt === record.createdAt + this.#options.absoluteTimeoutMs ? "ABSOLUTE" : "IDLE");
    return claimed;
  }

  #expiresAt(record: SessionRecord, lastSeenAt: number): number {
    return Math.min(lastSeenAt + this.#options.idleTimeoutMs, record.createdAt + this.#options.absoluteTimeoutMs);
  }
}

/** Whose sessions the cap counts together: one user, as the graph's `User.id` names them. */
function userKeyOf(record: SessionRecord): string {
  return globalUserId(record.user);
}
