// netctl's failure classes and the exit codes Contiv's netctl used for them (netctl/exit.go).

export const ExitCode = {
  ok: 0,
  /** Bad usage or arguments; also "Error connecting to netmaster". */
  usage: 1,
  /** HTTP transport failure of the version command. */
  request: 2,
  /** The server refused the request (validation, not found, conflict, internal). */
  invalid: 3,
  /** Reading or decoding a response failed, or a local file (a CA file) could not be used. */
  io: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure netctl reports with one message and one exit code. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown; showHelp?: boolean },
  ) {
    super(message, options);
    this.showHelp = options?.showHelp ?? false;
  }
  readonly showHelp: boolean;
}

/** Wrong arguments or flags: exit 1, optionally followed by the command's help. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string, options?: { showHelp?: boolean; cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** The netmaster answered with a non-2xx status; `message` is its body (or status line). */
export class ServerError extends CliError {
  override name = "ServerError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message, ExitCode.invalid);
  }
}

/** The request never got an HTTP answer (refused, unresolvable host, timeout, TLS failure). */
export class TransportError extends CliError {
  override name = "TransportError";
  /** What failed, e.g. "GET http://…/version: connect ECONNREFUSED 127.0.0.1:9999". */
  readonly detail: string;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`Error connecting to netmaster: ${detail}`, ExitCode.usage, options);
    this.detail = detail;
  }
}

/** A local file netctl needs (a CA file) could not be read. */
export class FileError extends CliError {
  override name = "FileError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.io, options);
  }
}

/** The answer could not be read or was not the JSON expected. */
export class ResponseError extends CliError {
  override name = "ResponseError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.io, options);
  }
}
