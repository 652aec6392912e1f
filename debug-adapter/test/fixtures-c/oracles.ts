// Test oracles built on binutils output: readelf's decoded line rows and the address -> line
// answer they imply.

import * as path from 'path';
import { run } from './compile';

export interface DecodedRow { file: string; line: number; address: number; isStmt: boolean; end: boolean }

/** The rows of readelf --debug-dump=decodedline, in order; file names are base names. */
export function readelfRows(file: string): DecodedRow[] {
  const rows: DecodedRow[] = [];
  for (const line of run('readelf', ['--debug-dump=decodedline', file]).split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+)(?:\s+\d+)?\s*(x)?\s*$/.exec(line);
    if (m) rows.push({ file: path.basename(m[1]), line: m[2] === '-' ? 0 : Number(m[2]), address: parseInt(m[3], 16), isStmt: m[4] === 'x', end: m[2] === '-' });
  }
  return rows;
}

/** Address -> "file:line" from readelf rows: the last row at the greatest address <= it. */
export function rowOracle(rows: DecodedRow[], addresses: number[]): Map<number, string> {
  const result = new Map<number, string>();
  const sequences: DecodedRow[][] = [];
  let current: DecodedRow[] = [];
  for (const r of rows) {
    current.push(r);
    if (r.end) { sequences.push(current); current = []; }
  }
  for (const a of addresses) {
    for (const seq of sequences) {
      if (a < seq[0].address || a >= seq[seq.length - 1].address) continue;
      let hit: DecodedRow | undefined;
      for (const r of seq) if (!r.end && r.address <= a) hit = r;
      if (hit) result.set(a, `${hit.file}:${hit.line}`);
    }
  }
  return result;
}

