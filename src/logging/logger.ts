import { pino, type DestinationStream, type Logger } from "pino";
import { StreamOutput } from "./stream-output.js";

/**
 * Fields that hold secrets, wherever they appear in a log object. The code never logs
 * these on purpose; this is the net under that rule.
 */
const SECRET_PATHS = [
  "token",
  "password",
  "accessToken",
  "access_token",
  "apiToken",
  "smartcardToken",
  "sessionKey",
  "authorization",
  "cookie",
  "credential",
].flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

/**
 * Standard output as the gateway writes its log to it: batched, flushed on a timer and at
 * shutdown, lines dropped and counted (`drop`) rather than ever waiting on its reader (see
 * StreamOutput). The 16 Mi characters it may hold keep a stuck log shipper from taking the gateway's memory.
 */
export function bufferedStdout(): StreamOutput {
  return new StreamOutput(process.stdout, "log");
}

/**
 * Longest a client-supplied string is written into a log or audit line (issue 14: a 50 KB
 * operation name made a 51.7 KB line per request). 128 is the longest request id accepted,
 * and far above any real operation name, path or address.
 */
export const LOG_FIELD_MAX_CHARS = 128;

/** A client-supplied string as a log or audit line may carry it: cut to LOG_FIELD_MAX_CHARS, `…` marking a cut. */
export function logField<T extends string | null | undefined>(value: T): T {
  if (value === null || value === undefined || value.length <= LOG_FIELD_MAX_CHARS) return value;
  return `${value.slice(0, LOG_FIELD_MAX_CHARS)}…` as T;
}

interface LoggerOptions {
  level: string;
  /** Where lines go; standard output when unset. Tests pass a stream that keeps every line. */
  destination?: DestinationStream;
}

/** Structured JSON logs with secret fields redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "health-auth-gateway" },
      redact: { paths: [...SECRET_PATHS, 'headers["x-auth-token"]', '*.headers["x-auth-token"]'], censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
