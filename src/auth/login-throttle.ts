import { createHash } from "node:crypto";
import type { LoginLimitOptions } from "../config/config.js";
import { ErrorCode } from "../errors/error-codes.js";
import { GatewayError } from "../errors/gateway-error.js";
import type { CounterStore, KeyValueStore } from "../store/store.js";

/** The limits (documented where the settings are read) and the clock. */
export interface LoginThrottleOptions extends LoginLimitOptions {
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

/**
 * Counts failed sign-ins per account and per client address in the shared store, so limits
 * hold across instances, and refuses attempts over a limit before any backend is asked.
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

  /** Throws RATE_LIMITED when the account is locked or the address has failed too often. */
  async check(attempt: LoginAttempt): Promise<void> {
    const keys = this.#keys(attempt);
    const [lockedUntil, addressFailures] = await Promise.all([this.#locks.get(keys.account), this.#counters.get(keys.addressWindow)]);
    if ((lockedUntil !== undefined && this.#options.now() < lockedUntil) || addressFailures >= this.#options.maxFailuresPerAddress) {
      throw new GatewayError(ErrorCode.RATE_LIMITED, "Too many sign-in attempts. Try again later.");
    }
  }

  /** Counts a refused credential; locks the account when it reaches a limit. */
  async failed(attempt: LoginAttempt): Promise<void> {
    const options = this.#options;
    const keys = this.#keys(attempt);
    const [inWindow, consecutive] = await Promise.all([
      this.#counters.increment(keys.accountWindow, options.accountWindowMs),
      this.#counters.increment(keys.consecutive, options.consecutiveMemoryMs),
      this.#counters.increment(keys.addressWindow, options.addressWindowMs),
    ]);
    const lockMs =
      consecutive >= options.maxConsecutiveFailures ? options.consecutiveMemoryMs : inWindow >= options.maxFailuresPerAccount ? options.accountLockMs : 0;
    if (lockMs > 0) await this.#locks.set(keys.account, options.now() + lockMs, lockMs);
  }

  /** A success ends the account's run of consecutive failures (not the address's count). */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    const keys = this.#keys(attempt);
    await Promise.all([this.#counters.delete(keys.accountWindow), this.#counters.delete(keys.consecutive)]);
  }

  /**
   * Store keys hold hashes, not emails, smartcard tokens or addresses. Windows are fixed and
   * numbered from the gateway's clock, so every instance counts into the same one.
   */
  #keys(attempt: LoginAttempt): { account: string; accountWindow: string; consecutive: string; addressWindow: string } {
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
