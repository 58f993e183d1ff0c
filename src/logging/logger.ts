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
