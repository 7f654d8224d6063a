// One logger setup for every daemon: JSON lines (--use-json-log) or a short
// human-readable line, always on stderr so stdout stays free for output.

import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(options: { name: string; level: LogLevel; json: boolean }): Logger {
  const base = { name: options.name, level: options.level };
  if (options.json) return pino(base, pino.destination({ fd: 2, sync: true }));
  return pino(
    base,
    pretty({ destination: 2, sync: true, colorize: false, singleLine: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }),
  );
}

/** Contiv spells levels in upper case (INFO); accept either. */
export function parseLogLevel(text: string): LogLevel {
  const level = text.toLowerCase();
  if (level === "warning") return "warn";
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`Invalid log level "${text}": expected one of ${LOG_LEVELS.join(", ")}`);
}
