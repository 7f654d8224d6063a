// A pure re-implementation of Go's text/tabwriter for the settings netctl used:
// padchar ' ', flags 0 (left-aligned, no DiscardEmptyColumns, no TabIndent).
// With a space pad character Go ignores tabwidth, so only minwidth and padding matter.
//
// Go's model, kept here so the output matches byte for byte:
// - text is split into lines at '\n'; each line into cells at '\t'. A cell ended by a tab belongs to a
//   column; the text after the last tab of a line is not part of any column and is written unpadded.
// - a column block is a run of consecutive lines that all have a cell in that column; its width is
//   the widest cell in the block plus padding (at least minwidth). A line with fewer cells ends the
//   block, so a one-cell line such as "Incoming Rules:" separates two independently aligned tables.
// - widths are counted in Unicode code points (Go counts UTF-8 runes).

export interface TabwriterOptions {
  /** Minimal cell width including padding (Go's minwidth). Default 0. */
  minwidth?: number;
  /** Spaces added to the widest cell of a column (Go's padding). Default 2. */
  padding?: number;
}

interface Cell {
  text: string;
  width: number;
}

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function splitLines(text: string): Cell[][] {
  // A trailing newline leaves an empty last line, exactly like Go's buffer after the final '\n'.
  return text.split("\n").map((line) =>
    line === "" ? [] : line.split("\t").map((t) => ({ text: t, width: runeCount(t) })),
  );
}

/** Render text the way Go's tabwriter.NewWriter(w, minwidth, _, padding, ' ', 0) would on Flush. */
export function tabwrite(text: string, opts: TabwriterOptions = {}): string {
  const minwidth = opts.minwidth ?? 0;
  const padding = opts.padding ?? 2;
  const lines = splitLines(text);
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i] ?? [];
      line.forEach((c, j) => {
        out.push(c.text);
        // The last cell of a line is never in a column, so it is never padded.
        const w = j < line.length - 1 ? widths[j] : undefined;
        if (w !== undefined && w > c.width) out.push(" ".repeat(w - c.width));
      });
      if (i + 1 < lines.length) out.push("\n");
    }
  };

  const format = (line0In: number, line1: number): void => {
    let line0 = line0In;
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= (lines[cur]?.length ?? 0) - 1) continue;
      // This line has a cell in `column`: everything above it is complete.
      writeLines(line0, cur);
      line0 = cur;
      let width = minwidth;
      for (; cur < line1; cur++) {
        const line = lines[cur] ?? [];
        if (column >= line.length - 1) break;
        width = Math.max(width, (line[column]?.width ?? 0) + padding);
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      // Like Go, the for-step now skips line `cur`; it has no cell in `column`, so nothing is lost.
      line0 = cur;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join("");
}

/** Collects writes like Go's tabwriter and renders them on flush. */
export class TabWriter {
  private buf = "";
  constructor(private readonly opts: TabwriterOptions = {}) {}

  write(s: string): this {
    this.buf += s;
    return this;
  }

  /** Tab-separated cells of one line, each cell ended by a tab except the last. */
  row(...cells: unknown[]): this {
    return this.write(cells.map(goValue).join("\t") + "\n");
  }

  flush(): string {
    const s = tabwrite(this.buf, this.opts);
    this.buf = "";
    return s;
  }
}

/**
 * Format a value the way Go's fmt "%v" prints a typed struct field: missing strings are "",
 * missing ints are 0 (pass the zero explicitly), string slices print as [a b].
 */
export function goValue(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return "[" + v.map(goValue).join(" ") + "]";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
