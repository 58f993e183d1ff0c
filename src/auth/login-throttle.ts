import { createHash } from "node:crypto";
import type { LoginLimitOptions } from "../config/config.js";
import { ErrorCode } from "../errors/error-codes.js";
import { GatewayError } from "../errors/gateway-error.js";
import type { CounterStore, KeyValueStore } from "../store/store.js";

/** The limits (documented where the settings are read) and the clock. */
interface LoginThrottleOptions extends LoginLimitOptions {
  /** The clock; tests move it rather than sleep. */
  now: () => number;
}

/** One sign-in attempt: which flow, which account, from where. */
export interface LoginAttempt {
  flow: "signin" | "createSession";
  /** The account as the client named it: an email, or (Spine) the smartcard token. */
  account: string;
  address: string;
}

/** The places one attempt holds in the sign-in counters, from `reserve` until the backend's answer settles them. */
export interface LoginPlace {
  readonly keys: LoginKeys;
  /** Its count in the account's window: the failure that fills the window locks the account. */
  readonly inWindow: number;
}

interface LoginKeys {
  account: string;
  accountWindow: string;
  consecutive: string;
  addressWindow: string;
}

const TOO_MANY = "Too many sign-in attempts. Try again later.";

/**
 * Counts sign-in attempts per account and per client address in the shared store, so limits
 * hold across instances, and refuses attempts over a limit before any backend is asked.
 * An attempt takes its place in both windows in one atomic store step each before the backend
 * call, so however many arrive at once, no more than the limits reach a backend; the backend's
 * answer then settles the place (kept for a refused credential, given back otherwise).
 * The refusal is the same whether or not the account exists, and costs the same.
 */
export class LoginThrottle {
  readonly #counters: CounterStore;
  readonly #locks: KeyValueStore<number>;
  readonly #options: LoginThrottleOptions;

  constructor(counters: CounterStore, locks: KeyValueStore<number>, options: LoginThrottleOptions) {
    this.#counters = counters;
    this.#locks = locks;
    this.#options = options;
  }

  /**
   * Takes the attempt's place in its account's and its address's window; throws RATE_LIMITED
   * when the account is locked or either window is full, holding nothing then.
   */
  async reserve(attempt: LoginAttempt): Promise<LoginPlace> {
    const options = this.#options;
    const keys = this.#keys(attempt);
    const lockedUntil = await this.#locks.get(keys.account);
    if (lockedUntil !== undefined && options.now() < lockedUntil) throw new GatewayError(ErrorCode.RATE_LIMITED, TOO_MANY);
    const [inWindow, fromAddress] = await Promise.allSettled([
      this.#counters.take(keys.accountWindow, options.maxFailuresPerAccount, options.accountWindowMs),
      this.#counters.take(keys.addressWindow, options.maxFailuresPerAddress, options.addressWindowMs),
    ]);
    if (inWindow.status === "fulfilled" && inWindow.value !== undefined && fromAddress.status === "fulfilled" && fromAddress.value !== undefined) {
      return { keys, inWindow: inWindow.value };
    }
    // One window full (or the store failing): the place taken in the other is not used.
    await Promise.all([
      inWindow.status === "fulfilled" && inWindow.value !== undefined ? this.#giveBack(keys.accountWindow) : undefined,
      fromAddress.status === "fulfilled" && fromAddress.value !== undefined ? this.#giveBack(keys.addressWindow) : undefined,
    ]);
    if (inWindow.status === "rejected") throw inWindow.reason;
    if (fromAddress.status === "rejected") throw fromAddress.reason;
    throw new GatewayError(ErrorCode.RATE_LIMITED, TOO_MANY);
  }

  /** A refused credential: its places stay taken; locks the account when it reaches a limit. */
  async failed(place: LoginPlace): Promise<void> {
    const options = this.#options;
    const consecutive = await this.#counters.increment(place.keys.consecutive, options.consecutiveMemoryMs);
    const lockMs =
      consecutive >= options.maxConsecutiveFailures ? options.consecutiveMemoryMs : place.inWindow >= options.maxFailuresPerAccount ? options.accountLockMs : 0;
    if (lockMs > 0) await this.#locks.set(place.keys.account, options.now() + lockMs, lockMs);
  }

  /**
   * A success ends the account's run of failures and frees the account's window; the
   * address's place is given back, as only failures count against an address.
   */
  async succeeded(place: LoginPlace): Promise<void> {
    const { keys } = place;
    await Promise.all([this.#counters.delete(keys.accountWindow), this.#counters.delete(keys.consecutive), this.#giveBack(keys.addressWindow)]);
  }

  /**
   * No verdict on the credential (the backend timed out, failed or answered nonsense): the
   * attempt proved nothing, so both places are given back, and an outage locks nobody out.
   */
  async released(place: LoginPlace): Promise<void> {
    await Promise.all([this.#giveBack(place.keys.accountWindow), this.#giveBack(place.keys.addressWindow)]);
  }

  /**
   * Best effort: a place the store fails to give back counts one attempt too many until its
   * window ends, which errs on the safe side, and the caller has a better error to report.
   */
  async #giveBack(key: string): Promise<void> {
    await this.#counters.giveBack(key).catch(() => undefined);
  }

  /**
   * Store keys hold hashes, not emails, smartcard tokens or addresses. Windows are fixed and
   * numbered from the gateway's clock, so every instance counts into the same one.
   */
  #keys(attempt: LoginAttempt): LoginKeys {
    const now = this.#options.now();
    const account = hash(`${attempt.flow}:${attempt.flow === "signin" ? attempt.account.trim().toLowerCase() : attempt.account}`);
    const address = hash(attempt.address);
    return {
      account: `account:${account}`,
      accountWindow: `account:${account}:${Math.floor(now / this.#options.accountWindowMs)}`,
      consecutive: `account:${account}:consecutive`,
      addressWindow: `address:${address}:${Math.floor(now / this.#options.addressWindowMs)}`,
    };
  }
}

function hash(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}
