// Validation helpers shared by the render modules: every bad field of a DesiredHost is
// collected as an Issue with its path, so one ValidationError names them all.

import type { Issue } from "../../lib/errors.js";

/** Interface names the kernel accepts (IFNAMSIZ 16 incl. NUL; no '/', ':' or whitespace). */
export const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** Tokens we put on ip/tc batch lines must not contain whitespace or quotes. */
export const TOKEN = /^[^\s"'\\#]+$/;

export class IssueList {
  readonly issues: Issue[] = [];
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
  name(path: string, value: string, pattern: RegExp, what: string): void {
    if (!pattern.test(value)) this.add(path, `invalid ${what} "${value}"`);
  }
}

export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
