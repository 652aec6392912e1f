// gdb 13's view of one unit's line program: the per-file line tables gdb builds from the DWARF rows
// (its "subfiles", with end markers where code moves to another file and the rows gdb drops), and
// its pc -> line lookup over them (find_pc_sect_line). The debugger shows and steps lines as gdb
// does, so both follow gdb's rules rather than the raw rows.

import { countAtOrBelowBy } from './sorted-search';
import type { LineRow } from './lineProgram';
import { normalizePath } from './lineTable';

/** One entry of a gdb per-file line table; line 0 marks the end of a run of that file's code. */
export interface GdbLineEntry {
  address: number;
  line: number;
  isStmt: boolean;
}

/** The line table of one source file of the unit, sorted by address. */
export interface GdbSubfile {
  /** Full path of the file. */
  path: string;
  entries: GdbLineEntry[];
}

/** What gdb's find_pc_line answers for a pc with line information. */
export interface GdbPcLine {
  file: string;
  line: number;
  /** The address of the entry that gives the line. */
  start: number;
  /** The address where the next line begins (end of the step range). */
  end: number;
  isStmt: boolean;
}

interface SubfileBuilder {
  path: string;
  entries: GdbLineEntry[];
}

export class GdbLineTable {
  /** gdb's symtab order: the unit's primary file first, then the others, most recently started first. */
  readonly subfiles: GdbSubfile[];

  /**
   * Builds the tables from the decoded rows of one line program. `filePaths` are the program's
   * file paths by index, `primaryPath` the unit's own file (DW_AT_name in DW_AT_comp_dir), `lowPc`
   * the unit's lowest address (a sequence at address 0 below it is discarded code, as gdb skips it),
   * `unitEnd` the end of the unit's code (the end of a range past the last entry).
   */
  constructor(rows: readonly LineRow[], filePaths: readonly (string | undefined)[], primaryPath: string, lowPc: number, private readonly unitEnd: number) {
    const byPath = new Map<string, SubfileBuilder>();
    const order: SubfileBuilder[] = [];
    const start = (path: string): SubfileBuilder => {
      const key = normalizePath(path);
      let sub = byPath.get(key);
      if (!sub) {
        sub = { path, entries: [] };
        byPath.set(key, sub);
        order.push(sub);
      }
      return sub;
    };
    const primary = start(primaryPath);
    const pathOf = (file: number): string => filePaths[file] ?? `<file ${file}>`;

    // gdb's lnp_state_machine, one per sequence.
    let seqStart = 0;
    for (let i = 0; i < rows.length; i++) {
      if (!rows[i].endSequence) continue;
      this.sequence(rows.slice(seqStart, i + 1), pathOf, start, lowPc);
      seqStart = i + 1;
    }

    const others = order.filter((s) => s !== primary).reverse();
    this.subfiles = [primary, ...others]
      .filter((s) => s.entries.length > 0)
      .map((s) => ({ path: s.path, entries: sortEntries(s.entries) }));
  }

  private sequence(rows: readonly LineRow[], pathOf: (file: number) => string, start: (path: string) => SubfileBuilder, lowPc: number): void {
    if (rows.length === 0) return;
    if (rows[0].address === 0 && lowPc > 0) return;
    let lastSubfile: SubfileBuilder | undefined;
    let lastLine = 0;
    let lastAddress: number | undefined;
    let stmtAtAddress = false;
    let nonZeroDiscriminator = false;
    let prevLine = 1;
    let prevFile: number | undefined;
    for (const row of rows) {
      const current = start(pathOf(row.file));
      // DW_LNS_set_file between two rows: gdb's handle_set_file makes the file that was current
      // (the previous row's, even when that row was not recorded) the last subfile, and restarts
      // the discriminator flag.
      const switched = prevFile !== undefined && row.file !== prevFile;
      if (switched) lastSubfile = start(pathOf(prevFile as number));
      if (row.line !== prevLine || switched) nonZeroDiscriminator = row.discriminator !== 0;
      else if (row.discriminator !== 0) nonZeroDiscriminator = true;
      prevLine = row.line;
      prevFile = row.file;
      const end = row.endSequence;
      const fileChanged = lastSubfile !== current;
      const ignore = (fileChanged && !end && lastAddress === row.address && !row.isStmt && stmtAtAddress) || (!end && row.line === 0);
      if ((fileChanged && !ignore) || end) {
        if (lastSubfile) recordLine(lastSubfile, 0, row.address, true);
      }
      if (!end && !ignore) {
        const record = fileChanged || row.line !== lastLine || !nonZeroDiscriminator;
        if (record) recordLine(current, row.line, row.address, row.isStmt);
        lastSubfile = current;
        lastLine = row.line;
      }
      if (lastAddress !== row.address) {
        stmtAtAddress = false;
        lastAddress = row.address;
      }
      stmtAtAddress ||= row.isStmt;
    }
  }

  /**
   * gdb's find_pc_sect_line over this unit: in each file the last entry at or below `pc`; the file
   * whose entry is closest below wins (the first in symtab order on a tie); a non-statement entry
   * gives way to a statement entry at the same address before it. The range ends at the next
   * entry of any file after it. Undefined when no entry covers `pc` or the best one is an end
   * marker (line 0).
   */
  findPcLine(pc: number): GdbPcLine | undefined {
    let best: GdbLineEntry | undefined;
    let bestFile: GdbSubfile | undefined;
    let bestEnd = 0;
    let alt: GdbLineEntry | undefined;
    for (const sub of this.subfiles) {
      const items = sub.entries;
      if (items[0].address > pc && (!alt || items[0].address < alt.address)) alt = items[0];
      const upper = countAtOrBelowBy(items, (e) => e.address, pc);
      const prev = upper > 0 ? upper - 1 : undefined;
      if (prev !== undefined && (!best || items[prev].address > best.address || (items[prev].address === best.address && best.line === 0 && items[prev].line !== 0))) {
        let chosen = prev;
        if (!items[chosen].isStmt) {
          let k = chosen;
          while (k > 0 && items[k - 1].address === items[k].address && items[k - 1].line !== 0 && !items[k].isStmt) k--;
          if (items[k].isStmt) chosen = k;
        }
        best = items[chosen];
        bestFile = sub;
        if (bestEnd <= best.address) bestEnd = 0;
      }
      if (best && upper < items.length && items[upper].address > best.address && (bestEnd === 0 || bestEnd > items[upper].address)) {
        bestEnd = items[upper].address;
      }
    }
    if (!best || !bestFile || best.line === 0) return undefined;
    let end: number;
    if (bestEnd && (!alt || bestEnd < alt.address)) end = bestEnd;
    else if (alt) end = alt.address;
    else end = this.unitEnd;
    return { file: bestFile.path, line: best.line, start: best.address, end, isStmt: best.isStmt };
  }
}

/** gdb's buildsym record_line: an end marker (line 0) first removes the entries at its address. */
function recordLine(sub: SubfileBuilder, line: number, address: number, isStmt: boolean): void {
  if (line === 0) {
    let lastLine: number | undefined;
    while (sub.entries.length > 0) {
      const last = sub.entries[sub.entries.length - 1];
      lastLine = last.line;
      if (last.address !== address) break;
      sub.entries.pop();
    }
    if (lastLine === undefined || lastLine === 0) return;
  }
  sub.entries.push({ address, line, isStmt });
}

/** gdb's stable sort of a line table: by address, an end marker before other entries at its address. */
function sortEntries(entries: GdbLineEntry[]): GdbLineEntry[] {
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => {
      if (a.e.address !== b.e.address) return a.e.address - b.e.address;
      if ((a.e.line === 0) !== (b.e.line === 0)) return a.e.line === 0 ? -1 : 1;
      return a.i - b.i;
    })
    .map((x) => x.e);
}

