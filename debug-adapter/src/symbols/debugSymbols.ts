// The one entry point of the symbols library: load an ELF image and answer the debugger's
// questions (which function and line is at a pc, where a source line's code is, what a
// variable's type and location are, how to unwind a frame) with lazy parsing and sorted
// indexes for fast lookups.

import { integerBytes } from './byteReader';
import { ElfArch, ElfFile, ElfSymbol } from './elf';
import { AddressWidth, formatAddress, wrapAddress } from '../../../qemu-bridge/src/address';
import { DwarfSections, readDwarfSections } from './dwarfSections';
import { DebugInfo, Die } from './debugInfo';
import { buildCompileUnits, CompileUnitInfo, FunctionInfo, InlinedCallInfo, originOf, ScopeInfo, VariableInfo } from './model';
import { DwarfType, TypeResolver, typeName } from './types';
import { LineBreakpointAddresses, normalizePath, pickNearestLine, sameNormalizedFile, sameSourceFile, SourceLocation } from './lineTable';
import { AddressRange, rangesContain } from './rangeLists';
import { CallFrameInfo, UnwindRow } from './callFrameInfo';
import { addressOfValue, EvaluatedLocation, evaluateLocation, evaluateValue, ExpressionContext } from './expression';
import { expressionAt } from './locationLists';
import { FrameVariables, frameVariables, lookupOrder } from './frameVariables';
import { CallSite, CallSiteIndex } from './callSites';
import { DW_AT, DW_TAG, DWARF_SPECIAL_REGISTERS, dwarfRegisterNames } from './dwarfConstants';
import { DwarfExpressionError } from './errors';

interface RangeEntry<T> {
  start: number;
  end: number;
  value: T;
}

function sortedRanges<T>(items: T[], rangesOf: (t: T) => readonly AddressRange[]): RangeEntry<T>[] {
  const entries: RangeEntry<T>[] = [];
  for (const item of items) for (const r of rangesOf(item)) entries.push({ start: r.start, end: r.end, value: item });
  return entries.sort((a, b) => a.start - b.start || a.end - b.end);
}

function findInRanges<T>(entries: RangeEntry<T>[], address: number): T | undefined {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].start <= address) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo - 1; i >= 0 && i >= lo - 8; i--) if (address < entries[i].end) return entries[i].value;
  return undefined;
}

/** The chain of scopes around a pc, outermost (the function) first. */
export interface ScopeChain {
  function: FunctionInfo;
  /** Lexical blocks and inlined calls containing the pc, outermost first. */
  scopes: (ScopeInfo | InlinedCallInfo)[];
}

/** A frame as a debugger shows it: inlined calls become frames of their own. */
export interface SourceFrame {
  name: string;
  file?: string;
  line?: number;
  column?: number;
  inlined: boolean;
}

const TYPE_TAGS = new Set<number>([
  DW_TAG.base_type, DW_TAG.structure_type, DW_TAG.union_type, DW_TAG.class_type,
  DW_TAG.enumeration_type, DW_TAG.typedef,
]);

/** Symbols of one ELF image: ELF symbols, DWARF model, line tables and call frame info. */
export class DebugSymbols {
  readonly elf: ElfFile;
  readonly sections: DwarfSections;
  readonly debugInfo: DebugInfo;
  readonly types = new TypeResolver();
  private unitsCache: CompileUnitInfo[] | undefined;
  private functionIndex: RangeEntry<FunctionInfo>[] | undefined;
  private unitIndex: RangeEntry<CompileUnitInfo>[] | undefined;
  private cfiCache: CallFrameInfo | null | undefined;
  private typeIndex: Map<string, Die> | undefined;
  private callSiteIndex: CallSiteIndex | undefined;

  /** Parses the ELF headers and locates the DWARF units. Throws ElfFormatError / DwarfFormatError. */
  constructor(bytes: Uint8Array) {
    this.elf = new ElfFile(bytes);
    this.sections = readDwarfSections(this.elf);
    this.debugInfo = new DebugInfo(this.sections);
  }

  /** The instruction set of the image: 'i386' (ELF32) or 'x86-64' (ELF64). */
  get arch(): ElfArch {
    return this.elf.arch;
  }

  /** Bytes of an address and of a pointer: 4 on i386, 8 on x86-64. */
  get addressSize(): 4 | 8 {
    return this.elf.addressSize;
  }

  /** Bits of an address, for qemu-bridge's address conversions (docs/addresses.md). */
  get addressWidth(): AddressWidth {
    return this.elf.addressWidth;
  }

  /** Register names by DWARF register number for this image's architecture. */
  get dwarfRegisterNames(): readonly string[] {
    return dwarfRegisterNames(this.elf.arch);
  }

  /** DWARF numbers of the stack pointer, frame pointer and return address column. */
  get specialRegisters(): { stackPointer: number; framePointer: number; returnAddress: number } {
    return DWARF_SPECIAL_REGISTERS[this.elf.arch];
  }

  /** `address` as "0x" and 8 or 16 hex digits (unsigned). */
  formatAddress(address: number): string {
    return formatAddress(address, this.elf.addressWidth);
  }

  /** True when the image has DWARF compilation units (a kernel without -g has none). */
  get hasDebugInfo(): boolean {
    return this.debugInfo.units.length > 0;
  }

  get compileUnits(): readonly CompileUnitInfo[] {
    if (!this.unitsCache) this.unitsCache = buildCompileUnits(this.debugInfo.units, this.sections, this.types);
    return this.unitsCache;
  }

  /** Every function with code, from every unit. */
  get functions(): FunctionInfo[] {
    return this.compileUnits.flatMap((cu) => cu.functions);
  }

  get globals(): VariableInfo[] {
    return this.compileUnits.flatMap((cu) => cu.globals);
  }

  /** The (outermost, not inlined) function whose code contains `pc`. */
  functionAt(pc: number): FunctionInfo | undefined {
    if (!this.functionIndex) this.functionIndex = sortedRanges(this.functions, (f) => f.ranges);
    return findInRanges(this.functionIndex, pc);
  }

  /** Functions called `name` (static functions may exist in several units). */
  functionsNamed(name: string): FunctionInfo[] {
    return this.functions.filter((f) => f.name === name || f.linkageName === name);
  }

  /** Global variables called `name`; when `file` is given, a static of that file comes first. */
  globalsNamed(name: string, file?: string): VariableInfo[] {
    const found = this.globals.filter((g) => g.name === name);
    if (file) found.sort((a, b) => Number(b.declFile !== undefined && sameSourceFile(b.declFile, file)) - Number(a.declFile !== undefined && sameSourceFile(a.declFile, file)));
    return found;
  }

  /** Globals of the unit whose primary source is `file`. */
  globalsOfFile(file: string): VariableInfo[] {
    return this.compileUnits
      .filter((cu) => sameSourceFile(cu.name.startsWith('/') ? cu.name : `${cu.compDir}/${cu.name}`, file))
      .flatMap((cu) => cu.globals);
  }

  /** The unit whose code contains `pc`. */
  unitAt(pc: number): CompileUnitInfo | undefined {
    if (!this.unitIndex) this.unitIndex = sortedRanges([...this.compileUnits], (cu) => cu.ranges);
    return findInRanges(this.unitIndex, pc);
  }

  /** Scopes around `pc`: its function and the blocks and inlined calls inside it that contain `pc`. */
  scopeChainAt(pc: number): ScopeChain | undefined {
    const fn = this.functionAt(pc);
    if (!fn) return undefined;
    const scopes: (ScopeInfo | InlinedCallInfo)[] = [];
    let current: ScopeInfo = fn;
    for (let depth = 0; depth < 256; depth++) {
      const next: ScopeInfo | undefined = [...current.inlined, ...current.blocks].find((s) => rangesContain(s.ranges, pc));
      if (!next) break;
      scopes.push(next);
      current = next;
    }
    return { function: fn, scopes };
  }

  /**
   * The parameters and locals of one source frame at `pc`, as gdb lists them: `inlineDepth` 0 is
   * the function, N the Nth nested inlined call around `pc`; undefined is the innermost.
   */
  frameVariablesAt(pc: number, inlineDepth?: number): FrameVariables | undefined {
    const chain = this.scopeChainAt(pc);
    return chain ? frameVariables(chain, inlineDepth) : undefined;
  }

  /** The variables of the innermost source frame at `pc`, in lookup order (innermost block first, parameters last). */
  variablesAt(pc: number): VariableInfo[] {
    const frame = this.frameVariablesAt(pc);
    return frame ? lookupOrder(frame) : [];
  }

  /**
   * Frames at `pc` including inlined calls, innermost first: each inlined call is shown at the
   * line where execution is inside it, and its caller at the call's file/line.
   */
  framesAt(pc: number): SourceFrame[] {
    const chain = this.scopeChainAt(pc);
    const here = this.addressToLine(pc);
    if (!chain) {
      const sym = this.elf.symbolAt(pc);
      return sym ? [{ name: sym.name, file: here?.file, line: here?.line, column: here?.column, inlined: false }] : [];
    }
    const inlined = chain.scopes.filter((s): s is InlinedCallInfo => 'kind' in s && s.kind === 'inlined');
    const frames: SourceFrame[] = [];
    let loc: { file?: string; line?: number; column?: number } = { file: here?.file, line: here?.line, column: here?.column };
    for (let i = inlined.length - 1; i >= 0; i--) {
      frames.push({ name: inlined[i].name, ...loc, inlined: true });
      loc = { file: inlined[i].callFile, line: inlined[i].callLine, column: inlined[i].callColumn };
    }
    frames.push({ name: chain.function.name, ...loc, inlined: false });
    return frames;
  }

  /** The source location of `address` (file, line, column), or undefined when no line table covers it. */
  addressToLine(address: number): SourceLocation | undefined {
    const cu = this.unitAt(address);
    const hit = cu?.lineTable?.addressToLine(address);
    if (hit) return hit;
    for (const other of this.compileUnits) {
      if (other === cu) continue;
      const h = other.lineTable?.addressToLine(address);
      if (h) return h;
    }
    return undefined;
  }

  /**
   * Where to break for `file`:`line`: the addresses of that line, or of the nearest following
   * line that has code. Undefined when the file has no code at or after the line.
   */
  lineToAddresses(file: string, line: number): LineBreakpointAddresses | undefined {
    const wanted = normalizePath(file);
    const candidates = this.compileUnits.flatMap((cu) => {
      if (!this.unitFiles(cu).some((p) => sameNormalizedFile(p, wanted))) return [];
      return cu.lineTable?.lineStarts(file, line) ?? [];
    });
    return pickNearestLine(candidates);
  }

  private readonly unitFileCache = new Map<CompileUnitInfo, string[]>();

  /** Normalised paths of a unit's file table (from the line program header only). */
  private unitFiles(cu: CompileUnitInfo): string[] {
    let files = this.unitFileCache.get(cu);
    if (!files) {
      files = (cu.lineHeader?.files ?? []).flatMap((f) => (f ? [normalizePath(f.path)] : []));
      this.unitFileCache.set(cu, files);
    }
    return files;
  }

  /** Source files named in the line tables. */
  get sourceFiles(): string[] {
    const files = new Set<string>();
    for (const cu of this.compileUnits) for (const f of cu.lineHeader?.files ?? []) if (f) files.add(f.path);
    return [...files];
  }

  /** The type called `name`: "int", "u32", "struct pcb", "union u", "enum state". */
  findType(name: string): DwarfType | undefined {
    if (!this.typeIndex) {
      const index = new Map<string, Die>();
      for (const unit of this.debugInfo.units) {
        for (const die of unit.allDies) {
          if (!TYPE_TAGS.has(die.tag)) continue;
          const n = die.name;
          if (!n) continue;
          const prefix = die.tag === DW_TAG.structure_type ? 'struct ' : die.tag === DW_TAG.union_type ? 'union '
            : die.tag === DW_TAG.enumeration_type ? 'enum ' : die.tag === DW_TAG.class_type ? 'class ' : '';
          const key = prefix + n;
          const existing = index.get(key);
          // Prefer a complete definition over a forward declaration.
          if (!existing || (existing.flag(DW_AT.declaration) && !die.flag(DW_AT.declaration))) index.set(key, die);
        }
      }
      this.typeIndex = index;
    }
    const die = this.typeIndex.get(name.trim().replace(/\s+/g, ' '));
    return die ? this.types.resolve(die) : undefined;
  }

  typeName(type: DwarfType): string {
    return typeName(type);
  }

  /** Call frame information from .debug_frame/.eh_frame, or undefined when the image has none. */
  get callFrameInfo(): CallFrameInfo | undefined {
    if (this.cfiCache === undefined) {
      const s = this.sections;
      this.cfiCache = s.frame.length || s.ehFrame.length ? new CallFrameInfo(s.frame, s.ehFrame, s.ehFrameAddress, this.elf.addressSize) : null;
    }
    return this.cfiCache ?? undefined;
  }

  /** The unwind rules at `pc`, or undefined without CFI for it. */
  unwindRowAt(pc: number): UnwindRow | undefined {
    return this.callFrameInfo?.rowAt(pc);
  }

  /**
   * Where `variable` lives at `pc`. For locals the frame base comes from the owning function's
   * DW_AT_frame_base unless `ctx.frameBase` is given; DW_OP_call_frame_cfa needs `ctx.callFrameCfa`.
   */
  async locateVariable(variable: VariableInfo, pc: number, ctx: ExpressionContext): Promise<EvaluatedLocation> {
    if (variable.constValue !== undefined) {
      const bytes = variable.constValue instanceof Uint8Array ? variable.constValue : integerBytes(variable.constValue, 8);
      return { kind: 'implicit', bytes };
    }
    const expression = expressionAt(variable.location, pc);
    if (!expression) return { kind: 'unavailable', reason: 'optimized out' };
    const unit = variable.die.unit;
    const owner = variable.owner;
    const full: ExpressionContext = {
      addressSize: unit.addressSize,
      offsetSize: unit.offsetSize,
      indexedAddress: (i) => unit.indexedAddress(i),
      ...ctx,
    };
    if (!ctx.frameBase && owner) {
      full.frameBase = async () => {
        const fb = expressionAt(owner.frameBase, pc);
        if (!fb) throw new DwarfExpressionError(`${owner.name} has no frame base at ${this.formatAddress(pc)}`);
        return addressOfValue(await evaluateValue(fb, { ...full, frameBase: undefined }), unit.addressSize);
      };
    }
    return evaluateLocation(expression, full);
  }

  /** Every call site of the program (built once, on first use). */
  get callSites(): CallSiteIndex {
    return (this.callSiteIndex ??= new CallSiteIndex(this.functions));
  }

  /** The call site whose call returns to `returnPc`, from the caller's DWARF. */
  callSiteAt(returnPc: number): CallSite | undefined {
    return this.callSites.at(returnPc);
  }

  /**
   * DW_OP_entry_value, as gdb resolves it: the value register expression `operand` had on entry
   * to the function at `calleePc`, from the call site in its caller (which returns to
   * `returnPc`), computed with `caller` (the caller frame's expression context). The call site
   * must call that function (DW_AT_call_origin, or DW_AT_call_target computed in the caller) and
   * name the register. Throws DwarfExpressionError otherwise.
   */
  async entryValue(operand: Uint8Array, calleePc: number, returnPc: number, caller: ExpressionContext): Promise<bigint> {
    const callee = this.functionAt(calleePc);
    const site = this.callSiteAt(returnPc);
    if (!callee || !site) throw new DwarfExpressionError(`no call site returns to ${this.formatAddress(returnPc)}`);
    const callPc = wrapAddress(returnPc - 1, this.elf.addressWidth);
    const callerFn = this.functionAt(callPc);
    const ctx: ExpressionContext = { addressSize: callee.die.unit.addressSize, offsetSize: callee.die.unit.offsetSize, ...caller };
    if (callerFn && !caller.frameBase) {
      ctx.frameBase = async () => {
        const fb = expressionAt(callerFn.frameBase, callPc);
        if (!fb) throw new DwarfExpressionError(`${callerFn.name} has no frame base at the call`);
        return addressOfValue(await evaluateValue(fb, { ...ctx, frameBase: undefined }), ctx.addressSize);
      };
    }
    if (site.origin) {
      if (originOf(site.origin, DW_AT.name)?.name !== callee.name) throw new DwarfExpressionError(`the call site calls another function than ${callee.name}`);
    } else if (site.targetExpression) {
      const target = addressOfValue(await evaluateValue(site.targetExpression, ctx), ctx.addressSize);
      if (target !== callee.entryPc && target !== callee.lowPc) throw new DwarfExpressionError(`the call site calls ${this.formatAddress(target)}, not ${callee.name}`);
    } else {
      throw new DwarfExpressionError('the call site does not say what it calls');
    }
    const parameter = site.parameters.find((p) => p.location.length === operand.length && p.location.every((b, i) => b === operand[i]));
    if (!parameter) throw new DwarfExpressionError('the call site does not pass that argument');
    return evaluateValue(parameter.value, ctx);
  }

  /** The ELF symbol containing `address` (fallback when there is no debug info). */
  symbolAt(address: number): ElfSymbol | undefined {
    return this.elf.symbolAt(address);
  }

  virtualToLoad(address: number): number | undefined {
    return this.elf.virtualToLoad(address);
  }

  loadToVirtual(address: number): number | undefined {
    return this.elf.loadToVirtual(address);
  }
}

