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
  return new StreamOutput(process.stdout, { name: "log" });
}

export interface LoggerOptions {
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
