// What the user types: a line with echo, a password without, or all of stdin for --password-stdin.
//
// Node can only switch a terminal to raw mode, not turn echo alone off as Go's terminal.ReadPassword did,
// so a password is read key by key: Enter ends it, Backspace and Ctrl-U edit it, and Ctrl-C (which raw
// mode delivers as a byte instead of SIGINT) aborts with the exit code a shell gives SIGINT. The terminal
// is always put back in cooked mode, also when reading fails.

import { StringDecoder } from "node:string_decoder";

import { CliError, ExitCode, UsageError } from "./errors.js";

/** stdin as netctl needs it: process.stdin, or any readable stream in tests. */
export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };

export class UserInput {
  private buffered = "";
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private listening = false;
  private raw = false;
  private readonly decoder = new StringDecoder("utf8");
  private readonly onData = (chunk: Buffer | string): void => {
    this.buffered += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    this.wake?.();
  };
  private readonly onEnd = (): void => {
    this.buffered += this.decoder.end();
    this.ended = true;
    this.wake?.();
  };
  private readonly onError = (err: Error): void => {
    this.failure = err;
    this.wake?.();
  };

  /** Prompts go to `out`. */
  constructor(
    private readonly stream: InputStream,
    private readonly out: { write(s: string): unknown },
  ) {}

  /** Whether a person can answer prompts here (and the echo can be switched off). */
  get isTerminal(): boolean {
    return this.stream.isTTY === true && typeof this.stream.setRawMode === "function";
  }

  /** Print `prompt` and read one line, echoed; undefined at the end of input. */
  async line(prompt: string): Promise<string | undefined> {
    this.out.write(prompt);
    for (;;) {
      const nl = this.buffered.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffered.slice(0, nl).replace(/\r$/, "");
        this.buffered = this.buffered.slice(nl + 1);
        return line;
      }
      if (this.ended || this.failure) {
        this.check();
        const rest = this.buffered;
        this.buffered = "";
        return rest === "" ? undefined : rest;
      }
      await this.more();
    }
  }

  /** Print `prompt` and read a password without echo; terminal only. Throws at end of input or on Ctrl-C. */
  async secret(prompt: string): Promise<string> {
    if (!this.isTerminal) throw new UsageError("Cannot read a password: stdin is not a terminal");
    // Echo goes off before the prompt shows, so that nothing typed in answer to it is ever echoed.
    this.stream.setRawMode?.(true);
    this.raw = true;
    this.out.write(prompt);
    try {
      let password = "";
      for (;;) {
        const c = this.buffered[0];
        if (c === undefined) {
          if (this.ended || this.failure) {
            this.check();
            throw new CliError("Cannot read a password: end of input", ExitCode.io);
          }
          await this.more();
          continue;
        }
        if (c === "\x1b") {
          // An arrow or function key: an escape sequence, not part of the password.
          const seq = /^\x1b(?:[[O][\x20-\x3f]*[\x40-\x7e]?)?/.exec(this.buffered)?.[0] ?? c;
          this.buffered = this.buffered.slice(seq.length);
          continue;
        }
        this.buffered = this.buffered.slice(c.length);
        if (c === "\r" || c === "\n") return password;
        if (c === "\x03") throw new CliError("Interrupted", ExitCode.interrupted);
        if (c === "\x04") {
          if (password === "") throw new CliError("Cannot read a password: end of input", ExitCode.io);
          return password;
        }
        if (c === "\x7f" || c === "\b") password = [...password].slice(0, -1).join("");
        else if (c === "\x15") password = "";
        else if (c >= " ") password += c;
      }
    } finally {
      this.cook();
      // The Enter the user typed was not echoed either.
      this.out.write("\n");
    }
  }

  /** All of the input, less one trailing line end (as docker login --password-stdin reads it). */
  async all(): Promise<string> {
    while (!this.ended && !this.failure) await this.more();
    this.check();
    const text = this.buffered;
    this.buffered = "";
    return text.replace(/\n$/, "").replace(/\r$/, "");
  }

  /** Put the terminal back and stop reading, so that the process can exit. Idempotent. */
  close(): void {
    this.cook();
    if (this.listening) {
      this.stream.removeListener("data", this.onData);
      this.stream.removeListener("end", this.onEnd);
      this.stream.removeListener("error", this.onError);
      this.stream.pause();
      this.listening = false;
    }
  }

  private cook(): void {
    if (this.raw) {
      this.stream.setRawMode?.(false);
      this.raw = false;
    }
  }

  private check(): void {
    if (this.failure) throw new CliError(`Cannot read stdin: ${this.failure.message}`, ExitCode.io, { cause: this.failure });
  }

  /** Wait for the next chunk, end or error; the stream flows only while someone waits. */
  private async more(): Promise<void> {
    const stream = this.stream;
    if (!this.listening) {
      stream.on("data", this.onData);
      stream.on("end", this.onEnd);
      stream.on("error", this.onError);
      this.listening = true;
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      stream.resume();
    });
    this.wake = undefined;
    stream.pause();
  }
}
