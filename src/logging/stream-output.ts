import { EventEmitter } from "node:events";
import type { Writable } from "node:stream";

/** How long closing waits, by default, for the stream to take what is pending. */
export const OUTPUT_CLOSE_TIMEOUT_MS = 2_000;

/**
 * Lines wait in memory until this many characters are pending, then go out in one write: written
 * one by one, the log's lines cost a sixth of a warm `me` request's CPU time (`npm run bench`).
 */
const BUFFER_CHARS = 4_096;
/** ...and at the latest after this long, so that a quiet gateway's lines are not held back. */
const FLUSH_INTERVAL_MS = 100;
/** Past this many characters taken and not yet written, lines are dropped and counted. */
const MAX_PENDING_CHARS = 16 * 1024 * 1024;

/**
 * Lines for a standard stream (standard output or error), written so that nothing the reader
 * of that stream does can hold the gateway (issue 14):
 *
 * - Lines are batched (BUFFER_CHARS, FLUSH_INTERVAL_MS) and handed to Node's own stream for the descriptor. For a pipe that is a
 *   non-blocking socket served by the event loop: a reader that stops reading makes writes
 *   wait, never a thread or the main loop. (pino's destination writes from libuv's thread pool
 *   and flushes synchronously at exit: with a stalled reader, one thread blocks in `write` and
 *   exit waits for it for ever, or the exit flush retries EAGAIN for ever.)
 * - Past MAX_PENDING_CHARS waiting, lines are dropped and counted (`drop` event with the count),
 *   so a stuck reader cannot take the gateway's memory either.
 * - A reader that has gone (EPIPE) turns every later line into a dropped one; the error is
 *   emitted as `error` for a listener that wants it (the audit trail: its sink has failed).
 * - At exit, whatever has not been written is dropped, counted, and said in one line on
 *   standard error, best effort: nothing waits on the stream then.
 */
export class StreamOutput extends EventEmitter {
  readonly #stream: Writable;
  readonly #name: string;
  #pending = "";
  #pendingLines = 0;
  /** Written to the stream, not yet confirmed by its callback. */
  #inFlightChars = 0;
  #inFlightLines = 0;
  #timer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  #closed = false;
  /** Lines dropped so far: not taken (too much pending, stream failed or closed) or not written by exit. */
  #dropped = 0;
  /** Told when nothing is pending or in flight any more, or the stream has failed. */
  #idle: Array<() => void> = [];

  /** `name` is what the exit notice calls this output, e.g. `log`. */
  constructor(stream: Writable, name: string) {
    super();
    this.#stream = stream;
    this.#name = name;
    // Without a listener, EPIPE on a standard stream is an uncaught exception (issue 14: the
    // banner's write crashed start-up when the reader had already gone).
    stream.on("error", (error) => this.#failed(error));
    process.once("exit", () => this.#abandon());
  }

  /** Takes one line (pino and the audit trail write one per call), ending in a newline. */
  write(line: string): void {
    if (this.#closed || this.#failure !== undefined || this.#pending.length + this.#inFlightChars + line.length > MAX_PENDING_CHARS) {
      this.#drop(1);
      return;
    }
    this.#pending += line;
    this.#pendingLines += 1;
    if (this.#pending.length >= BUFFER_CHARS) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_INTERVAL_MS).unref();
  }

  /**
   * Writes out what is pending and takes no more lines; resolves once the stream has taken
   * everything, or after `timeoutMs`, whichever is first. Emits `close` either way. What is
   * still unwritten then is counted as dropped at exit.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#flush();
    this.#closed = true;
    if (this.#inFlightLines > 0 && this.#failure === undefined) {
      let guard: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        guard = setTimeout(resolve, timeoutMs);
        this.#idle.push(resolve);
      });
      clearTimeout(guard);
    }
    this.emit("close");
  }

  /** As a stream's `end`, for the audit trail: {@link close} within the default bound. */
  end(): void {
    void this.close(OUTPUT_CLOSE_TIMEOUT_MS);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0 || this.#failure !== undefined) return;
    const [chunk, lines] = [this.#pending, this.#pendingLines];
    this.#pending = "";
    this.#pendingLines = 0;
    this.#inFlightChars += chunk.length;
    this.#inFlightLines += lines;
    this.#stream.write(chunk, (error) => {
      this.#inFlightChars -= chunk.length;
      this.#inFlightLines -= lines;
      if (error) this.#drop(lines);
      if (this.#inFlightLines === 0) this.#notifyIdle();
    });
  }

  #failed(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#drop(this.#pendingLines);
    this.#pending = "";
    this.#pendingLines = 0;
    this.#notifyIdle();
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  #notifyIdle(): void {
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #drop(lines: number): void {
    if (lines === 0) return;
    this.#dropped += lines;
    this.emit("drop", lines);
  }

  #abandon(): void {
    this.#drop(this.#pendingLines + this.#inFlightLines);
    this.#pending = "";
    this.#pendingLines = this.#inFlightLines = 0;
    if (this.#dropped === 0) return;
    const notice = `${JSON.stringify({ level: 40, time: new Date().toISOString(), output: this.#name, dropped: this.#dropped, msg: "lines dropped: the stream's reader was not taking them" })}\n`;
    try {
      process.stderr.write(notice);
    } catch {
      // Standard error is gone too: the count has nowhere left to go.
    }
  }
}
