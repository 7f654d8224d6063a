// netctl: the command line client of netmaster's REST API, compatible with Contiv's netctl.
// Public surface: run() for the binary and tests, the client, and the tabwriter renderer.

export { run, netctlSpec } from "./run.js";
export type { Io } from "./command.js";
export { NetmasterClient, resolveNetmasterUrl, DEFAULT_NETMASTER } from "./client.js";
export type { ApiObject, Collection, ClientOptions, VersionInfo } from "./client.js";
export { ExitCode, CliError, UsageError, ServerError, TransportError, ResponseError, ConfigError, FileError } from "./errors.js";
export { tabwrite, TabWriter } from "./table.js";
