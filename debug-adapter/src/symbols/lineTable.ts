// Line lookups over one unit's line program: sequences sorted by address for
// address -> line, and per-file rows for line -> addresses.

import { LineProgram, LineRow } from './lineProgram';

export interface SourceLocation {
  address: number;
  /** Full path of the source file. */
  file: string;
  line: number;
  column: number;
  isStmt: boolean;
}

export interface LineSequence {
  start: number;
  /** Address just past the sequence (its end_sequence row). */
  end: number;
  rows: LineRow[];
}

export interface LineBreakpointAddresses {
  /** The line that actually has code (the requested one or the nearest following). */
  line: number;
  file: string;
  /** Sorted addresses where that line starts (one per block of code for the line). */
  addresses: number[];
}

/** Normalises a path for comparison: collapses "//", "/./" and "dir/../". */
export function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const part of p.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else parts.push(part);
  }
  return (p.startsWith('/') ? '/' : '') + parts.join('/');
}

/** True when `a` and `b` name the same file, allowing one to be a trailing part of the other. */
export function sameSourceFile(a: string, b: string): boolean {
  return sameNormalizedFile(normalizePath(a), normalizePath(b));
}

/** sameSourceFile for paths already passed through normalizePath. */
export function sameNormalizedFile(x: string, y: string): boolean {
  if (x === y) return true;
  const [short, long] = x.length < y.length ? [x, y] : [y, x];
  return long.endsWith(short.startsWith('/') ? short : `/${short}`);
}

/** The decoded line table of one unit with fast lookups. */
export class UnitLineTable {
  readonly sequences: LineSequence[];
  /** File paths by the program's file index. */
  readonly filePaths: (string | undefined)[];
  private readonly normalizedPaths: (string | undefined)[];

  constructor(program: LineProgram) {
    this.filePaths = program.header.files.map((f) => f?.path);
    this.normalizedPaths = this.filePaths.map((p) => (p === undefined ? undefined : normalizePath(p)));
    const sequences: LineSequence[] = [];
    let current: LineRow[] = [];
    for (const row of program.rows) {
      current.push(row);
      if (row.endSequence) {
        // A sequence at address 0 in a linked image is code the linker discarded.
        if (current.length > 1) sequences.push({ start: current[0].address, end: row.address, rows: current });
        current = [];
      }
    }
    sequences.sort((a, b) => a.start - b.start);
    this.sequences = sequences;
  }

  get lowAddress(): number | undefined {
    return this.sequences[0]?.start;
  }

  private location(row: LineRow): SourceLocation {
    return { address: row.address, file: this.filePaths[row.file] ?? `<file ${row.file}>`, line: row.line, column: row.column, isStmt: row.isStmt };
  }

  /** The row covering `address` (the last row at the greatest address <= it), or undefined. */
  addressToLine(address: number): SourceLocation | undefined {
    const seqs = this.sequences;
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqs[mid].start <= address) lo = mid + 1;
      else hi = mid;
    }
    // Sequences may overlap when the linker keeps discarded code at 0; check a few candidates.
    for (let i = lo - 1; i >= 0 && i >= lo - 4; i--) {
      const seq = seqs[i];
      if (address >= seq.end) continue;
      const rows = seq.rows;
      let a = 0;
      let b = rows.length - 1; // the end_sequence row is never a match
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (rows[mid].address <= address) a = mid + 1;
        else b = mid;
      }
      const row = rows[a - 1];
      if (row) return this.location(row);
    }
    return undefined;
  }

  /** True when some file of this unit's table is `file`. */
  mentionsFile(file: string): boolean {
    const wanted = normalizePath(file);
    return this.normalizedPaths.some((p) => p !== undefined && sameNormalizedFile(p, wanted));
  }

  /**
   * Statement rows of `file` at line >= `line`, as (line, address) pairs that start a run
   * of that line. Used by the program-wide lineToAddresses.
   */
  lineStarts(file: string, line: number): { line: number; address: number; file: string }[] {
    const matching = new Set<number>();
    const wanted = normalizePath(file);
    this.normalizedPaths.forEach((p, i) => { if (p !== undefined && sameNormalizedFile(p, wanted)) matching.add(i); });
    const result: { line: number; address: number; file: string }[] = [];
    if (matching.size === 0) return result;
    for (const seq of this.sequences) {
      let prev: LineRow | undefined;
      for (const row of seq.rows) {
        if (!row.endSequence && row.isStmt && matching.has(row.file) && row.line >= line) {
          const continues = prev !== undefined && prev.line === row.line && prev.file === row.file;
          if (!continues) result.push({ line: row.line, address: row.address, file: this.filePaths[row.file] ?? file });
        }
        if (row.isStmt) prev = row;
      }
    }
    return result;
  }

  /** The addresses of `line` in `file`, or of the nearest following line that has code. */
  lineToAddresses(file: string, line: number): LineBreakpointAddresses | undefined {
    return pickNearestLine(this.lineStarts(file, line));
  }
}

/** From (line, address) candidates picks the smallest line and returns its sorted unique addresses. */
export function pickNearestLine(candidates: { line: number; address: number; file: string }[]): LineBreakpointAddresses | undefined {
  if (candidates.length === 0) return undefined;
  let best = Infinity;
  for (const c of candidates) if (c.line < best) best = c.line;
  const chosen = candidates.filter((c) => c.line === best);
  const addresses = [...new Set(chosen.map((c) => c.address))].sort((a, b) => a - b);
  return { line: best, file: chosen[0].file, addresses };
}
