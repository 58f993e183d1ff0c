import { pino, type DestinationStream, type Logger } from "pino";

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
 * Standard output's lines wait in memory until this much is pending, then go out in one write.
 * Written one by one, each line is a write of its own handed to libuv's thread pool: measured by
 * `npm run bench`, that was a sixth of a warm `me` request's CPU time.
 */
const STDOUT_BUFFER_BYTES = 4_096;
/** ...and at the latest after this long, so that a quiet gateway's lines are not held back. */
const STDOUT_FLUSH_INTERVAL_MS = 100;
/**
 * A reader of standard output that stops reading (a stuck log shipper) must not take the
 * gateway's memory with it: past this much pending, lines are dropped and counted instead.
 */
const STDOUT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** Standard output as the gateway writes its log to it: buffered, flushed on a timer and at exit. */
export interface BufferedOutput extends DestinationStream {
  /** Told of each line dropped because too much was pending (see STDOUT_MAX_PENDING_BYTES). */
  on(event: "drop", listener: (line: string) => void): unknown;
}

export function bufferedStdout(): BufferedOutput {
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: STDOUT_BUFFER_BYTES,
    periodicFlush: STDOUT_FLUSH_INTERVAL_MS,
    maxLength: STDOUT_MAX_PENDING_BYTES,
  });
  // Whatever is still pending when the process exits is written first: pino's destinations
  // flush themselves at exit (test/observability/stdout-log.test.ts).
  return destination;
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
