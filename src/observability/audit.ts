import { pino } from "pino";
import type { Logger } from "pino";
import { AuthProvider, globalUserId } from "../domain/user.js";
import { toPublicError } from "../errors/gateway-error.js";
import { logField } from "../logging/logger.js";
import { StreamOutput } from "../logging/stream-output.js";
import type { SessionRecord } from "../sessions/session.js";
import { sha256 } from "../crypto/sha256.js";

/** What happened. `refused.*` are refusals before anything was done for the caller. */
export type AuditEventName =
  | "signin"
  | "spine.session.created"
  | "role.selected"
  | "signout"
  | "session.expired"
  /** Ended because its user opened more sessions than SESSION_MAX_PER_USER allows (the oldest goes). */
  | "session.evicted"
  | "refused.rate_limited"
  | "refused.forbidden";

/**
 * One audit event, one JSON line. Fields that are not known for an event are null, never
 * left out, so every line has the same shape. Nothing here is a secret: the session appears
 * only as a hash of its public id, and a user only by their gateway user id.
 */
export interface AuditEvent {
  /** ISO-8601, UTC, from the gateway's clock. */
  time: string;
  event: AuditEventName;
  outcome: "success" | "failure";
  /** Why it failed (the public error code, or SESSION_CHANGED / SESSION_ENDED for a loser of a concurrent change), why a session ended (idle, absolute, backend, session limit), or which flow was refused. */
  reason: string | null;
  provider: AuthProvider | null;
  /** `spine:<identifier>` or `idp:<id>`, as the graph's `User.id`. */
  userId: string | null;
  businessFunction: string | null;
  orgIdentifier: string | null;
  /** The gateway's ASID at Spine, on every Spine event. */
  asid: string | null;
  /** SHA-256 (hex) of the session's public id: matches across events of one session, not with client-side data. */
  sessionIdHash: string | null;
  /** Null when no request caused the event (a session found expired by the sweep). */
  clientAddress: string | null;
  requestId: string | null;
}

/** What a request contributes to its audit events; {@link NO_REQUEST} for events no request caused. */
export interface AuditRequest {
  requestId: string | null;
  clientAddress: string | null;
}

/** The "request" of events the gateway notices by itself (the expiry sweep). */
export const NO_REQUEST: AuditRequest = { requestId: null, clientAddress: null };

type AuditFields = Partial<Omit<AuditEvent, "time" | "event" | "outcome" | "asid" | "sessionIdHash" | "requestId" | "clientAddress">> & {
  /** The session's public id; hashed before it is written. */
  sessionId?: string | null;
};

/** Where audit lines go: a stream that takes a line and may fail later (file, pipe). */
export interface AuditDestination {
  write(line: string): unknown;
  on?(event: "error", listener: (error: NodeJS.ErrnoException) => void): unknown;
  /** Writes out what is buffered, then closes (standard streams stay open) and emits `close`. */
  end?(): unknown;
  once?(event: "close", listener: () => void): unknown;
}

/** Shutdown waits at most this long for buffered audit lines to reach the sink. */
const CLOSE_TIMEOUT_MS = 2_000;

interface AuditTrailOptions {
  destination: AuditDestination;
  /** The application log, told loudly when the sink fails. */
  log: Logger;
  now: () => number;
  /** The gateway's ASID at Spine, written on every Spine event. */
  spineAsid: string;
  /** Told about every event, written or dropped. */
  onEvent?: (event: AuditEvent, result: "written" | "dropped") => void;
}

/**
 * Opens the sink an `AUDIT_LOG` setting names: `stderr`, `stdout` or a file path (appended to).
 * Buffered and asynchronous: a request never waits on the disk. A standard stream is written as
 * the log is (StreamOutput), so that its reader stalling or leaving cannot hold shutdown; a
 * file through sonic-boom, as pino writes, which flushes it at exit.
 */
export function openAuditDestination(setting: string): AuditDestination {
  if (setting === "stderr" || setting === "stdout") return new StreamOutput(setting === "stderr" ? process.stderr : process.stdout, "audit");
  return pino.destination({ dest: setting, sync: false, append: true, mkdir: false });
}

/**
 * The audit trail: session events as JSON lines on their own sink, apart from the application
 * log. Writing never throws and never waits. A sink that fails is said loudly: an error line
 * in the log at once, one for every event lost after it, and `healthy` false (readiness
 * reports `audit: down`) until the process is restarted with a working sink.
 */
export class AuditTrail {
  readonly #options: AuditTrailOptions;
  #failure: string | undefined;

  constructor(options: AuditTrailOptions) {
    this.#options = options;
    options.destination.on?.("error", (error) => this.#failed(error));
  }

  /** False once the sink has failed. */
  get healthy(): boolean {
    return this.#failure === undefined;
  }

  record(request: AuditRequest, event: AuditEventName, outcome: AuditEvent["outcome"], fields: AuditFields): void {
    const { sessionId, ...known } = fields;
    const line: AuditEvent = {
      time: new Date(this.#options.now()).toISOString(),
      event,
      outcome,
      reason: known.reason ?? null,
      provider: known.provider ?? null,
      userId: known.userId ?? null,
      businessFunction: known.businessFunction ?? null,
      orgIdentifier: known.orgIdentifier ?? null,
      asid: known.provider === AuthProvider.SPINE ? this.#options.spineAsid : null,
      sessionIdHash: sessionId == null ? null : hashSessionId(sessionId),
      // From X-Forwarded-For when proxies are trusted, so the client's to choose: cut (logField).
      clientAddress: logField(request.clientAddress),
      requestId: request.requestId,
    };
    if (this.#failure === undefined) {
      try {
        this.#options.destination.write(`${JSON.stringify(line)}\n`);
        this.#options.onEvent?.(line, "written");
        return;
      } catch (error) {
        this.#failed(error as NodeJS.ErrnoException);
      }
    }
    this.#options.onEvent?.(line, "dropped");
    this.#options.log.error(
      { audit: { event, outcome, requestId: request.requestId }, sinkFailure: this.#failure },
      "audit event lost: the audit sink has failed",
    );
  }

  /** At shutdown: writes out what is buffered and closes the sink, within CLOSE_TIMEOUT_MS. */
  async close(): Promise<void> {
    const destination = this.#options.destination;
    if (this.#failure !== undefined || destination.end === undefined) return;
    await new Promise<void>((resolve) => {
      const guard = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      const done = (): void => {
        clearTimeout(guard);
        resolve();
      };
      destination.once?.("close", done);
      try {
        destination.end!();
      } catch {
        done();
      }
    });
  }

  #failed(error: NodeJS.ErrnoException): void {
    const first = this.#failure === undefined;
    this.#failure = error?.code ?? error?.message ?? "unknown";
    if (first) this.#options.log.error({ sinkFailure: this.#failure }, "audit sink failed: audit events are being lost; /readyz reports audit down");
  }
}

/** The session's public id, hashed: events of one session share it, and it cannot be matched with ids clients hold. */
export function hashSessionId(sessionId: string): string {
  return sha256(sessionId, "hex");
}

/** What an audit event says of a stored session: who, in which role, which session. */
export function sessionFields(record: SessionRecord): AuditFields {
  return {
    provider: record.credential.provider,
    userId: globalUserId(record.user),
    businessFunction: record.permission?.businessFunction ?? null,
    orgIdentifier: record.permission?.orgIdentifier ?? null,
    sessionId: record.id,
  };
}

/** The public error code of a failure, as the client was told it. */
export function reasonOf(error: unknown): string {
  return toPublicError(error)?.code ?? "INTERNAL_SERVER_ERROR";
}
