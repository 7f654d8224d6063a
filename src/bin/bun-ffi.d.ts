// The part of bun's `bun:ffi` the process starter uses (src/bin/spawner-netlink.ts): bun compiles that file,
// tsc only checks it, and bun's own type package is not among our dependencies.
declare module "bun:ffi" {
  export const FFIType: Record<"i32" | "u32" | "i64" | "u64" | "ptr" | "cstring", number>;
  export interface Library<Names extends string> {
    symbols: Record<Names, (...args: (number | bigint | ArrayBufferView | null)[]) => unknown>;
    close(): void;
  }
  export function dlopen<Names extends string>(path: string, symbols: Record<Names, { args: number[]; returns: number }>): Library<Names>;
  export const read: { i32(pointer: number, offset?: number): number };
}
