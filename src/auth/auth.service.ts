import type DataLoader from "dataloader";
import type { Logger } from "pino";
import type { IdpClient } from "../backends/idp/idp.client.js";
import type { SpineClient } from "../backends/spine/spine.client.js";
import { AuthProvider, samePermission, type Permission, type User } from "../domain/user.js";
import { BackendError } from "../errors/backend-error.js";
import { StoreError } from "../errors/store-error.js";
import { ErrorCode } from "../errors/error-codes.js";
import { GatewayError } from "../errors/gateway-error.js";
import { reasonOf, sessionFields, type AuditEventName, type AuditRequest, type AuditTrail } from "../observability/audit.js";
import { isSpineRecord, newIdpSession, type ActiveSession, type SessionRecord, type SpineSessionRecord } from "../sessions/session.js";
import type { SessionService } from "../sessions/session.service.js";
import type { LoginAttempt, LoginPlace, LoginThrottle } from "./login-throttle.js";
import type { UserInfoCache } from "./user-info.cache.js";

/** What a request brings to the service: its session (looked up once), its loaders, and who is asking (for the audit trail). */
export interface RequestScope extends AuditRequest {
  session(): Promise<ActiveSession | null>;
  /** Forgets the looked-up session after it ended or rotated in this request. */
  forgetSession(): void;
  userInfo: DataLoader<string, User>;
  log: Logger;
  /** The client's address, for per-address sign-in limits. */
  clientAddress: string;
  /**
   * This request's session ended here (signed out, ended at its backend), or a sign-out found
   * none: the request context drops it, and the client's copy where the transport holds one.
   */
  sessionEnded(): void;
  /** The session this request opened, rotated or signed in: the caller's own for the rest of the request (src/auth/session-credentials.ts). */
  issued?: ActiveSession;
}

/** A new session, with the user as the backend just described them (an IdP session stores only who they are). */
export interface SignedIn {
  token: string;
  session: ActiveSession;
  user: User;
}

/** The request's session with its user as they are now. */
interface CurrentSession {
  session: ActiveSession;
  user: User;
}

/** Everything the service works with; built by the composition root (src/composition/services.ts). */
interface AuthServiceOptions {
  spine: SpineClient;
  idp: IdpClient;
  sessions: SessionService;
  userInfo: UserInfoCache;
  throttle: LoginThrottle;
  audit: AuditTrail;
}

const NOT_SIGNED_IN = "Not signed in, or the session has ended.";

/**
 * The token was current when the request read it, but a concurrent request (another
 * selectRole, a signout, an eviction) changed the session first: the client is told what any
 * stale token hears, and the audit trail says why.
 */
class SessionChanged extends GatewayError {
  constructor() {
    super(ErrorCode.UNAUTHENTICATED, NOT_SIGNED_IN);
  }
}

/**
 * The business rules of both sign-in flows: which backend call happens when, what a
 * refusal means, how sessions start, change role and end. Tested without GraphQL.
 */
export class AuthService {
  private readonly spine: SpineClient;
  private readonly idp: IdpClient;
  private readonly sessions: SessionService;
  private readonly userInfo: UserInfoCache;
  private readonly throttle: LoginThrottle;
  private readonly audit: AuditTrail;

  constructor(options: AuthServiceOptions) {
    ({ spine: this.spine, idp: this.idp, sessions: this.sessions, userInfo: this.userInfo, throttle: this.throttle, audit: this.audit } = options);
  }

  /** Spine A001: a session from a smartcard token. Not usable for e-RS work until a role is selected. */
  createSpineSession(scope: RequestScope, smartcardToken: string): Promise<SignedIn> {
    return this.#audited(scope, "spine.session.created", AuthProvider.SPINE, () => this.#createSpineSession(scope, smartcardToken));
  }

  async #createSpineSession(scope: RequestScope, smartcardToken: string): Promise<SignedIn> {
    const spineSession = await this.#authenticate(
      scope,
      { flow: "createSession", account: smartcardToken, address: scope.clientAddress },
      () => this.spine.createSession(smartcardToken),
      "The smartcard token was not accepted by Spine.",
    );
    const { token, session, evicted } = await this.sessions
      .open({
        credential: { provider: AuthProvider.SPINE, sessionKey: spineSession.sessionKey, smartcardToken },
        user: spineSession.user,
        permission: spineSession.permission,
      })
      .catch(async (error: unknown) => {
        // Nobody can ever present this Spine session again: close it rather than leave it open.
        await this.spine.endSession(spineSession.sessionKey).catch(() => undefined);
        throw error;
      });
    await this.#evict(scope, evicted);
    return { token, session, user: spineSession.user };
  }

  /** Spine A002: the role must be one the user holds; the token is rotated. */
  async selectRole(scope: RequestScope, choice: Pick<Permission, "businessFunction" | "orgIdentifier">): Promise<SignedIn> {
    const requested = { businessFunction: choice.businessFunction, orgIdentifier: choice.orgIdentifier };
    let current: ActiveSession | undefined;
    try {
      current = await this.#required(scope);
      const { record } = current;
      if (!isSpineRecord(record)) {
        this.audit.record(scope, "refused.forbidden", "failure", { ...sessionFields(record), ...requested, reason: "NOT_A_SPINE_SESSION" });
        throw new GatewayError(ErrorCode.FORBIDDEN, "Roles can be selected on Spine sessions only.");
      }
      if (!record.user.permissions.some((held) => samePermission(held, choice))) {
        this.audit.record(scope, "refused.forbidden", "failure", { ...sessionFields(record), ...requested, reason: "ROLE_NOT_HELD" });
        // Refused here, before Spine is asked: the user's roles came from Spine itself at A001.
        throw new GatewayError(ErrorCode.FORBIDDEN, "The user does not hold this permission.");
      }
      const { token, session } = await this.#selectRole(scope, { ...current, record }, choice);
      this.audit.record(scope, "role.selected", "success", sessionFields(session.record));
      scope.issued = session;
      return { token, session, user: session.record.user };
    } catch (error) {
      if (!(error instanceof GatewayError && error.code === ErrorCode.FORBIDDEN)) {
        const known = current === undefined ? {} : sessionFields(current.record);
        const reason = error instanceof SessionChanged ? "SESSION_CHANGED" : reasonOf(error);
        this.audit.record(scope, "role.selected", "failure", { ...known, ...requested, reason });
      }
      throw error;
    }
  }

  /**
   * A002 and the rotation, under the session's lock: a second selectRole, a signout or an
   * eviction of the same session waits until Spine has answered and the new token is stored (or
   * the old one ended), on whichever instance it runs. Only then may Spine see an A003 (spine.md:
   * no A003 while a call with the session key is in flight), and a request whose token was
   * rotated or ended meanwhile loses before Spine is asked.
   */
  async #selectRole(
    scope: RequestScope,
    current: ActiveSession<SpineSessionRecord>,
    choice: Pick<Permission, "businessFunction" | "orgIdentifier">,
  ): Promise<{ token: string; session: ActiveSession<SpineSessionRecord> }> {
    return this.sessions.withLock(current.record.id, async (locked) => {
      // Refused rather than run unlocked: the session's other changes are still going on.
      if (!locked) throw new StoreError("lock", new Error("the session stayed locked longer than its lock lives"));
      if (!(await this.sessions.holdsCurrentToken(current))) throw new SessionChanged();
      const { credential } = current.record;
      let selected;
      try {
        selected = await this.spine.selectRole(credential.sessionKey, credential.smartcardToken, choice);
      } catch (error) {
        if (error instanceof BackendError && error.failure === "NOT_AUTHENTICATED") {
          // Spine no longer knows the session key: the gateway session is dead too.
          await this.#end(scope, current);
          throw new GatewayError(ErrorCode.UNAUTHENTICATED, NOT_SIGNED_IN);
        }
        throw error;
      }
      // Null only if the session ended without its lock (a holder past the lock's TTL).
      const rotated = await this.sessions.rotate(current, { user: selected.user, permission: selected.permission });
      if (rotated === null) throw new SessionChanged();
      scope.forgetSession();
      return rotated;
    });
  }

  /** IdP sign-in, then user info (which also warms the cache for `me`). */
  signin(scope: RequestScope, email: string, password: string): Promise<SignedIn> {
    return this.#audited(scope, "signin", AuthProvider.IDP, () => this.#signin(scope, email, password));
  }

  async #signin(scope: RequestScope, email: string, password: string): Promise<SignedIn> {
    const accessToken = await this.#authenticate(
      scope,
      { flow: "signin", account: email, address: scope.clientAddress },
      () => this.idp.signin(email, password),
      "The email or password is not correct.",
    );
    // Read fresh, not from the cache: a repeated sign-in gets the same token back (idp.md),
    // and what the IdP says now (last login, groups) is what a sign-in should show.
    const user = await this.userInfo.get(accessToken, { fresh: true });
    const { token, session, evicted } = await this.sessions.open(newIdpSession({ provider: AuthProvider.IDP, accessToken, email }, user));
    await this.#evict(scope, evicted);
    return { token, session, user };
  }

  /**
   * Ends the session at the gateway and at its backend. The gateway session ends first and
   * whatever the backend does: a backend that is down must not keep a user signed in here. Under
   * the session's lock, so no A003 goes out while this session's A002 is in flight on any
   * instance; whichever token is current by then ends, a rotated one included. False when
   * there was no session, or a concurrent sign-out (or eviction) ended it first.
   */
  async signout(scope: RequestScope): Promise<boolean> {
    const current = await scope.session();
    if (current === null) {
      // A client's copy of a session that already ended (idle, or elsewhere) is dropped all the same.
      scope.sessionEnded();
      return false;
    }
    return this.sessions.withLock(current.record.id, async (locked) => {
      let ended: SessionRecord | null = current.record;
      let storeFailure: { error: unknown } | undefined;
      try {
        ended = await this.#end(scope, current);
      } catch (error) {
        // Not known to be ended: the backend is asked all the same, with the token presented.
        storeFailure = { error };
      }
      if (ended === null) {
        this.audit.record(scope, "signout", "failure", { ...sessionFields(current.record), reason: "SESSION_ENDED" });
        return false;
      }
      await this.#endAtBackend(scope, ended, { locked, shared: "signOut" });
      this.audit.record(scope, "signout", storeFailure === undefined ? "success" : "failure", {
        ...sessionFields(ended),
        reason: storeFailure === undefined ? null : reasonOf(storeFailure.error),
      });
      if (storeFailure !== undefined) throw storeFailure.error;
      return true;
    });
  }

  /**
   * Ends the sessions a new sign-in pushed over the user's cap, each under its lock, and records
   * each as evicted. One that ended meanwhile (signed out, expired) needs nothing more.
   */
  async #evict(scope: RequestScope, ids: string[]): Promise<void> {
    await Promise.all(
      ids.map((id) =>
        this.sessions.withLock(id, async (locked) => {
          const ended = await this.sessions.end(id);
          if (ended === null) return;
          this.audit.record(scope, "session.evicted", "success", { ...sessionFields(ended), reason: "SESSION_LIMIT" });
          await this.#endAtBackend(scope, ended, { locked, shared: "keep" });
        }),
      ),
    );
  }

  /**
   * Ends an ended gateway session's part at its backend. Spine: A003, its session key is this
   * session's alone, but only under the session's lock (without it an A002 may be in flight;
   * Spine then ends the session at its own timeout). IdP: every session of one user shares one
   * access token (idp.md: a repeated sign-in gets the same token back), so a sign-out ends it
   * for all of them, as before, and an eviction must leave it alone.
   */
  async #endAtBackend(scope: RequestScope, record: SessionRecord, how: { locked: boolean; shared: "signOut" | "keep" }): Promise<void> {
    const { credential } = record;
    try {
      if (credential.provider === AuthProvider.SPINE) {
        if (how.locked) await this.spine.endSession(credential.sessionKey);
        else scope.log.warn("A003 not sent: the session's lock stayed taken; Spine ends the session at its own timeout");
      } else if (how.shared === "signOut") {
        try {
          await this.idp.signout(credential.accessToken, credential.email);
        } finally {
          // Dropped once the IdP has ended the token (or failed to): dropped before, a read by
          // another session sharing the token (idp.md) could put it back meanwhile.
          await this.userInfo.drop(credential.accessToken);
        }
      }
    } catch (error) {
      // Already ended at the backend (403, 401/404) is the outcome we wanted; anything else is
      // worth an operator's look, but the user is signed out of the gateway either way.
      if (!(error instanceof BackendError && error.failure === "NOT_AUTHENTICATED")) {
        scope.log.warn({ err: describe(error) }, "backend sign-out failed; gateway session ended anyway");
      }
    }
  }

  /** The signed-in user, or null. */
  async me(scope: RequestScope): Promise<User | null> {
    const current = await scope.session();
    return current === null ? null : this.#currentUser(scope, current);
  }

  /** The current session with its user, or null. */
  async session(scope: RequestScope): Promise<CurrentSession | null> {
    const current = await scope.session();
    if (current === null) return null;
    const user = await this.#currentUser(scope, current);
    return user === null ? null : { session: current, user };
  }

  /** Spine users are as A001/A002 described them; IdP users are read fresh (through the cache). */
  async #currentUser(scope: RequestScope, current: ActiveSession): Promise<User | null> {
    const { record } = current;
    if (isSpineRecord(record)) return record.user;
    const { credential } = record;
    try {
      return await scope.userInfo.load(credential.accessToken);
    } catch (error) {
      if (error instanceof BackendError && error.failure === "NOT_AUTHENTICATED") {
        // The IdP ended the token (expired, or signed out by another client of the same
        // user, who shares it): the gateway session ends with it.
        await Promise.all([this.#end(scope, current), this.userInfo.drop(credential.accessToken)]);
        this.audit.record(scope, "session.expired", "success", { ...sessionFields(current.record), reason: "ENDED_BY_BACKEND" });
        return null;
      }
      throw error;
    }
  }

  /**
   * A credential check at a backend, under the sign-in limits: the attempt takes its place in
   * the counters first, and is refused before the backend is asked when a limit is full; a
   * refusal by the backend keeps the place (a failure), an acceptance ends the account's run
   * of failures, and anything else gives the place back. Counted per call, so aliases and
   * batches cannot dodge it.
   */
  async #authenticate<T>(scope: RequestScope, attempt: LoginAttempt, check: () => Promise<T>, refusal: string): Promise<T> {
    let place: LoginPlace;
    try {
      place = await this.throttle.reserve(attempt);
    } catch (error) {
      if (error instanceof GatewayError && error.code === ErrorCode.RATE_LIMITED) {
        const provider = attempt.flow === "signin" ? AuthProvider.IDP : AuthProvider.SPINE;
        this.audit.record(scope, "refused.rate_limited", "failure", { provider, reason: attempt.flow });
      }
      throw error;
    }
    let accepted: T;
    try {
      accepted = await check();
    } catch (error) {
      if (error instanceof BackendError && error.failure === "NOT_AUTHENTICATED") {
        await this.throttle.failed(place);
        throw new GatewayError(ErrorCode.UNAUTHENTICATED, refusal);
      }
      await this.throttle.released(place);
      throw error;
    }
    await this.throttle.succeeded(place);
    return accepted;
  }

  /**
   * Runs a sign-in and records its audit event: success with the new session, or failure with
   * the reason. A refusal by the sign-in limits has its own event (refused.rate_limited) only.
   */
  async #audited(scope: RequestScope, event: AuditEventName, provider: AuthProvider, work: () => Promise<SignedIn>): Promise<SignedIn> {
    try {
      const signedIn = await work();
      this.audit.record(scope, event, "success", sessionFields(signedIn.session.record));
      scope.issued = signedIn.session;
      return signedIn;
    } catch (error) {
      if (!(error instanceof GatewayError && error.code === ErrorCode.RATE_LIMITED)) {
        this.audit.record(scope, event, "failure", { provider, reason: reasonOf(error) });
      }
      throw error;
    }
  }

  async #required(scope: RequestScope): Promise<ActiveSession> {
    const current = await scope.session();
    if (current === null) throw new GatewayError(ErrorCode.UNAUTHENTICATED, NOT_SIGNED_IN);
    return current;
  }

  /** Ends the request's session (whichever of its tokens is current); null if it had already ended. */
  async #end(scope: RequestScope, current: ActiveSession): Promise<SessionRecord | null> {
    const ended = await this.sessions.end(current.record.id, current);
    scope.sessionEnded();
    return ended;
  }
}

/** What may be logged of an error: its name and message, which never carry secrets here. */
function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: "unknown", message: String(error) };
}
