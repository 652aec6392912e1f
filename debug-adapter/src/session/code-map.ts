// Where code is: source line ranges around a pc, statement starts, the address after a function's
// prologue, and the ELF's virtual/load mapping for code that runs before paging is on (a
// higher-half kernel's boot code runs at its load address). Pure lookups over DebugSymbols.

import { CompileUnitInfo, DebugSymbols, FunctionInfo, InlinedCallInfo, ScopeInfo, SourceFrame, VariableInfo } from '../symbols';
import type { ElfSymbol, LineRow } from '../symbols';
import type { LineBreakpointAddresses, UnitLineTable } from '../symbols/lineTable';
import { normalizePath, sameNormalizedFile } from '../symbols/lineTable';
import { countAtOrBelow } from '../symbols/sorted-search';
import { i386PrologueEnd } from './i386-prologue';
import { amd64PrologueEnd } from './amd64-prologue';
import { AddressWidth } from '../../../qemu-bridge/src/address';
import { symbolsAddressWidth } from './cpu-mode';
import { tailCallFrames } from '../symbols/callSites';

const SHT_PROGBITS = 1;
const SHF_EXECINSTR = 4;

/** The contiguous addresses of one source line around a pc. */
export interface LineRange {
  start: number;
  end: number;
  file: string;
  line: number;
}

/** A line as gdb sees it at a pc (see CodeMap.gdbLineAt). */
export interface GdbLine extends LineRange {
  isStmt: boolean;
}

interface RowHit {
  rows: LineRow[];
  index: number;
  paths: readonly (string | undefined)[];
}

export class CodeMap {
  /** Width of the kernel's addresses (its ELF class). */
  readonly addressWidth: AddressWidth;

  constructor(readonly symbols: DebugSymbols) {
    this.addressWidth = symbolsAddressWidth(symbols);
  }

  /**
   * The load address of a virtual code address when the ELF loads that segment somewhere else
   * (a higher-half kernel loaded at 1 MiB), else undefined.
   */
  loadAlias(address: number): number | undefined {
    const load = this.symbols.virtualToLoad(address);
    return load !== undefined && load !== address ? load : undefined;
  }

  /**
   * The virtual address the symbols know a pc by. With paging off the CPU runs at load
   * addresses, so a pc inside a load segment maps to its virtual twin.
   */
  symbolAddress(pc: number, pagingOn: boolean): number {
    if (pagingOn) return pc;
    if (this.symbols.functionAt(pc) || this.symbols.elf.segmentForVirtual(pc)) return pc;
    const virtual = this.symbols.loadToVirtual(pc);
    return virtual ?? pc;
  }

  /** A name for the code at `address`: the DWARF function, else the nearest code symbol below it, as gdb names frames. */
  functionName(address: number): string | undefined {
    const fn = this.symbols.functionAt(address);
    if (fn) return fn.name;
    const sym = this.codeSymbolBelow(address);
    return sym?.name;
  }

  private codeSymbols: ElfSymbol[] | undefined;

  /** The closest function or untyped symbol at or below `address` in an executable section. */
  codeSymbolBelow(address: number): ElfSymbol | undefined {
    if (!this.codeSymbols) {
      const elf = this.symbols.elf;
      const exec = new Set(elf.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0).map((s) => s.index));
      this.codeSymbols = elf.symbols
        .filter((s) => (s.type === 'func' || s.type === 'notype') && exec.has(s.sectionIndex) && s.name !== '' && !s.name.startsWith('.L'))
        .sort((a, b) => a.value - b.value);
    }
    const list = this.codeSymbols;
    const lo = countAtOrBelow(list, address);
    const sym = list[lo - 1];
    if (!sym || (sym.size > 0 && address >= sym.value + sym.size && lo < list.length && address - sym.value > 0x10000)) return undefined;
    return sym;
  }

  private rowAt(address: number): RowHit | undefined {
    const cu = this.symbols.unitAt(address);
    const own = cu?.lineTable ? findRow(cu.lineTable, address) : undefined;
    if (own) return own;
    for (const other of this.symbols.compileUnits) {
      if (other === cu || !other.lineTable) continue;
      const hit = findRow(other.lineTable, address);
      if (hit) return hit;
    }
    return undefined;
  }

  /**
   * Parses what the first stop would otherwise parse (line tables, call frame information), one
   * unit per turn of the event loop so that a stop arriving meanwhile is not held up.
   */
  warmUp(): void {
    const pending: (() => void)[] = this.symbols.compileUnits.map((cu) => () => void cu.lineTable);
    pending.push(() => void this.symbols.callFrameInfo, () => void this.codeSymbolBelow(0));
    const next = (): void => {
      const job = pending.shift();
      if (!job) return;
      try {
        job();
      } catch {
        /* a malformed table shows up again where it is used */
      }
      setImmediate(next);
    };
    setImmediate(next);
  }

  /** The range of contiguous addresses belonging to the same line as `pc`, or undefined without line info. */
  lineRangeAt(pc: number): LineRange | undefined {
    const hit = this.rowAt(pc);
    if (!hit) return undefined;
    const { rows, index } = hit;
    const row = rows[index];
    if (row.line === 0) return undefined;
    let first = index;
    while (first > 0 && rows[first - 1].line === row.line && rows[first - 1].file === row.file && !rows[first - 1].endSequence) first--;
    let last = index + 1;
    while (last < rows.length - 1 && !rows[last].endSequence && (rows[last].line === row.line && rows[last].file === row.file || rows[last].address === rows[index].address)) last++;
    return { start: rows[first].address, end: rows[last].address, file: hit.paths[row.file] ?? `<file ${row.file}>`, line: row.line };
  }

  /**
   * The line gdb shows for `pc` and the address range it steps through as that line: gdb 13's
   * find_pc_line over the per-file tables it builds from the unit's line program (GdbLineTable).
   * Undefined without line information at `pc` (or where gdb finds line 0).
   */
  gdbLineAt(pc: number): GdbLine | undefined {
    const found = this.symbols.unitAt(pc)?.gdbLineTable?.findPcLine(pc);
    return found ? { start: found.start, end: found.end, file: found.file, line: found.line, isStmt: found.isStmt } : undefined;
  }

  /** True when `pc` starts a statement of a line (a line-table row marked is_stmt at exactly that address). */
  isStatementStart(pc: number): boolean {
    const hit = this.rowAt(pc);
    if (!hit) return false;
    const { rows } = hit;
    // Several rows may share the address; any is_stmt one counts.
    for (let i = hit.index; i >= 0 && rows[i].address === pc; i--) if (rows[i].isStmt && rows[i].line !== 0) return true;
    return false;
  }

  /**
   * The source frames at `pc`, innermost first, including inlined calls. At the stop pc (`top`),
   * the inlined calls gdb hides there are left out (`hidden` of them, by default
   * hiddenInlineCount(pc)) and the caller's line is shown. For a caller frame pass the return
   * address minus one and `top` false.
   */
  sourceFrames(pc: number, top: boolean, hidden?: number): SourceFrame[] {
    const frames = this.symbols.framesAt(pc);
    if (!top || frames.length < 2) return frames;
    const count = Math.min(hidden ?? this.hiddenInlineCount(pc), frames.length - 1);
    return frames.slice(count);
  }

  /**
   * gdb's skip_inline_frames: how many inlined calls a stop at `pc` hides. From the innermost,
   * each inlined call whose block starts at `pc` is hidden (its entry pc is `pc`, or, in a unit
   * with non-contiguous blocks, `pc - 1` lies outside it), up to the first that does not start
   * there or that `keep` names (the inlined call a user breakpoint at `pc` belongs to, gdb's
   * stopped_by_user_bp_inline_frame). Lexical blocks are passed through.
   */
  hiddenInlineCount(pc: number, keep?: (call: InlinedCallInfo) => boolean): number {
    const chain = this.symbols.scopeChainAt(pc);
    if (!chain) return 0;
    const mapped = this.hasBlockMap(chain.function.unit);
    let count = 0;
    for (let i = chain.scopes.length - 1; i >= 0; i--) {
      const scope = chain.scopes[i];
      if (!('kind' in scope && scope.kind === 'inlined')) continue;
      const ranges = scope.ranges;
      if (ranges.length === 0) break;
      // gdb's entry pc of a block: its first range as listed (DW_AT_entry_pc is not read).
      const starts = ranges[0].start === pc || (mapped && !ranges.some((r) => pc - 1 >= r.start && pc - 1 < r.end));
      if (!starts || keep?.(scope)) break;
      count++;
    }
    return count;
  }

  private readonly blockMaps = new Map<CompileUnitInfo, boolean>();

  /** True when some block of `unit` has non-contiguous ranges (gdb then keeps an address map of its blocks). */
  private hasBlockMap(unit: CompileUnitInfo): boolean {
    let mapped = this.blockMaps.get(unit);
    if (mapped === undefined) {
      const split = (scope: ScopeInfo): boolean => scope.ranges.length > 1 || scope.blocks.some(split) || scope.inlined.some(split);
      mapped = unit.functions.some(split);
      this.blockMaps.set(unit, mapped);
    }
    return mapped;
  }

  /**
   * sourceFrames() with the innermost frame's line as gdb shows it (gdbLineAt: of several rows
   * at one address the last statement row, not the first).
   */
  shownFrames(pc: number, top: boolean, hidden?: number): SourceFrame[] {
    const frames = this.sourceFrames(pc, top, hidden);
    const inner = frames[0];
    if (!inner) return frames;
    const all = top ? this.symbols.framesAt(pc) : frames;
    // Only when the innermost frame is shown at `pc` itself (not at the call site of a hidden inline).
    if (all.length !== frames.length) return frames;
    const line = this.gdbLineAt(pc);
    if (!line) return frames;
    return [{ ...inner, line: line.line, file: line.file }, ...frames.slice(1)];
  }

  /**
   * Every address `break NAME` stops at, as gdb 13 places them: after the prologue of each
   * out-of-line function of that name, and at the first address of each inlined copy.
   */
  functionBreakpointAddresses(name: string): number[] {
    const addresses = this.symbols.functionsNamed(name).map((f) => this.afterPrologue(f));
    for (const copy of this.inlinedCopies().get(name) ?? []) {
      if (copy.ranges.length) addresses.push(Math.min(...copy.ranges.map((r) => r.start)));
    }
    return [...new Set(addresses)].sort((a, b) => a - b);
  }

  /**
   * Where `break FILE:LINE` stops, as gdb 13 places it (create_sals_line_offset): the statement
   * entries of that line in gdb's line tables of the file (GdbLineTable), or, when it has none,
   * of the smallest following line that has; of several in one block (function, inlined call, or
   * lexical block with variables) only the first; each one at or before the end of its function's
   * prologue moved to that end (skip_prologue_sal: a function's opening line stops where `break
   * FUNCTION` does). `line` is the line gdb shows at the first address.
   */
  lineBreakpointAddresses(file: string, line: number): LineBreakpointAddresses | undefined {
    const wanted = normalizePath(file);
    const tables = this.symbols.compileUnits.flatMap((cu) => cu.gdbLineTable?.subfiles.filter((s) => sameNormalizedFile(normalizePath(s.path), wanted)) ?? []);
    const find = (target: number): { pcs: number[]; best?: number } => {
      const pcs: number[] = [];
      let best: number | undefined;
      for (const sub of tables) {
        for (const e of sub.entries) {
          if (!e.isStmt) continue;
          if (e.line === target) pcs.push(e.address);
          else if (e.line > target && (best === undefined || e.line < best)) best = e.line;
        }
      }
      return { pcs, best };
    };
    let found = find(line);
    let foundLine = line;
    if (found.pcs.length === 0 && found.best !== undefined) {
      foundLine = found.best;
      found = find(found.best);
    }
    if (found.pcs.length === 0) return undefined;
    const blocks = new Set<ScopeInfo>();
    const kept: number[] = [];
    for (const pc of found.pcs) {
      const block = this.gdbBlockAt(pc);
      if (block) {
        if (blocks.has(block)) continue;
        blocks.add(block);
      }
      kept.push(pc);
    }
    const moved = new Set<number>();
    const addresses = [...new Set(kept.map((a) => {
      const fn = this.symbols.functionAt(a);
      if (!fn) return a;
      const body = this.afterPrologue(fn);
      if (a >= (fn.entryPc ?? fn.lowPc) && a < body) {
        moved.add(body);
        return body;
      }
      return a;
    }))].sort((x, y) => x - y);
    // gdb reports the line the locations were found for; a location moved past a prologue shows
    // the line of its new address. (At the stop, an address inside an inlined call shows that
    // call's line: see hiddenInlineCount.)
    const shown = moved.has(addresses[0]) ? this.gdbLineAt(addresses[0]) : undefined;
    return { line: shown?.line ?? foundLine, file: shown?.file ?? tables[0].path, addresses };
  }

  /** The innermost block gdb has at `pc`: an inlined call, a lexical block that declares variables, or the function. */
  private gdbBlockAt(pc: number): ScopeInfo | undefined {
    const chain = this.symbols.scopeChainAt(pc);
    if (!chain) return undefined;
    for (let i = chain.scopes.length - 1; i >= 0; i--) {
      const scope = chain.scopes[i];
      if (('kind' in scope && scope.kind === 'inlined') || scope.variables.length > 0) return scope;
    }
    return chain.function;
  }

  private inlinedIndex: Map<string, InlinedCallInfo[]> | undefined;

  private inlinedCopies(): Map<string, InlinedCallInfo[]> {
    if (this.inlinedIndex) return this.inlinedIndex;
    const index = new Map<string, InlinedCallInfo[]>();
    const walk = (scope: ScopeInfo): void => {
      for (const copy of scope.inlined) {
        const list = index.get(copy.name) ?? [];
        list.push(copy);
        index.set(copy.name, list);
        walk(copy);
      }
      for (const block of scope.blocks) walk(block);
    };
    for (const fn of this.symbols.functions) walk(fn);
    this.inlinedIndex = index;
    return index;
  }

  /**
   * The frames gdb shows between a frame running the function at `calleePc` and its caller at
   * return address `callerPc` for the tail calls in between (gdb's tailcall frames): the return
   * addresses of those tail calls, innermost first; empty when there are none or they are ambiguous.
   */
  tailCallsBetween(callerPc: number, calleePc: number): number[] {
    const callee = this.symbols.functionAt(calleePc);
    if (!callee) return [];
    return tailCallFrames(this.symbols.callSites, callerPc, callee.lowPc, (name) => {
      const found = this.symbols.functionsNamed(name);
      return found.length === 1 ? found[0] : undefined;
    });
  }

  /** True when any line table covers `pc`. */
  hasLineInfo(pc: number): boolean {
    return this.rowAt(pc) !== undefined;
  }

  /**
   * Where a debugger stops for "break FUNCTION" and after stepping into a function, as gdb does
   * for gcc's i386 and x86-64 code: past the frame setup (i386PrologueEnd, amd64PrologueEnd); if that lands inside a line-table
   * row, on to the next row. A function that sets up no frame is entered at its first instruction.
   */
  afterPrologue(fn: FunctionInfo, options: { forStepInto?: boolean } = {}): number {
    const entry = fn.entryPc ?? fn.lowPc;
    // gcc's location lists stay valid through the prologue, so gdb's `break` stops at the entry
    // itself; stepping into a function skips the prologue regardless (gdbarch_skip_prologue).
    if (!options.forStepInto && this.locationsValid(fn.unit)) return entry;
    const code = this.codeBytes(entry, 64);
    const end = code ? (this.symbols.arch === 'x86-64' ? amd64PrologueEnd(code) : i386PrologueEnd(code)) : undefined;
    if (end === undefined) return entry;
    const pc = entry + end;
    const hit = this.rowAt(pc);
    if (!hit || hit.rows[hit.index].address === pc) return pc;
    for (let k = hit.index + 1; k < hit.rows.length; k++) {
      const r = hit.rows[k];
      if (r.address > pc) return r.address < fn.highPc ? r.address : pc;
    }
    return pc;
  }

  private readonly validLocations = new Map<CompileUnitInfo, boolean>();

  /** True for a unit from gcc 4.5 or later that uses location lists (optimised code), as gdb decides. */
  private locationsValid(unit: CompileUnitInfo): boolean {
    let valid = this.validLocations.get(unit);
    if (valid === undefined) {
      const m = /^GNU [A-Za-z0-9+ ]*?(\d+)\.(\d+)/.exec(unit.producer ?? '');
      const recentGcc = m !== null && (Number(m[1]) > 4 || (Number(m[1]) === 4 && Number(m[2]) >= 5));
      const hasList = (vars: readonly VariableInfo[]): boolean => vars.some((v) => v.location.kind === 'list');
      const scopeHasList = (scope: ScopeInfo): boolean => hasList(scope.variables) || scope.blocks.some(scopeHasList) || scope.inlined.some((i) => hasList(i.parameters) || scopeHasList(i));
      valid = recentGcc && (hasList(unit.globals) || unit.functions.some((f) => hasList(f.parameters) || scopeHasList(f)));
      this.validLocations.set(unit, valid);
    }
    return valid;
  }

  /** Up to `length` bytes of the ELF image's code at virtual `address`, or undefined outside it. */
  codeBytes(address: number, length: number): Uint8Array | undefined {
    const section = this.symbols.elf.sections.find((s) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && address >= s.addr && address < s.addr + s.size);
    if (!section) return undefined;
    const data = this.symbols.elf.sectionData(section);
    const offset = address - section.addr;
    return data.subarray(offset, Math.min(data.length, offset + length));
  }
}

function findRow(table: UnitLineTable, address: number): RowHit | undefined {
  for (const seq of table.sequences) {
    if (address < seq.start || address >= seq.end) continue;
    const rows = seq.rows;
    let lo = 0;
    let hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid].address <= address) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) continue;
    return { rows, index: lo - 1, paths: table.filePaths };
  }
  return undefined;
}
