// The program model built from the DIE tree: compilation units, functions (with parameters,
// locals, lexical blocks and inlined calls), global variables, and where each was declared.

import { addressToBigInt } from '../../../qemu-bridge/src/address';
import { DW_AT, DW_TAG } from './dwarfConstants';
import { Die, DwarfUnit } from './debugInfo';
import { AddressRange, dieRanges } from './rangeLists';
import { dieLocation, LocationDescription } from './locationLists';
import { DwarfType, TypeResolver } from './types';
import { joinPath, LineProgramHeader, LineRow, parseLineProgramHeader, runLineProgram } from './lineProgram';
import { UnitLineTable } from './lineTable';
import { GdbLineTable } from './gdbLineTable';
import { DwarfSections } from './dwarfSections';

export interface VariableInfo {
  name: string;
  type: DwarfType;
  location: LocationDescription;
  /** DW_AT_const_value, when the compiler folded the variable into a constant. */
  constValue?: bigint | Uint8Array;
  declFile?: string;
  declLine?: number;
  isParameter: boolean;
  /** True for globals visible outside their file. */
  external: boolean;
  /** The function whose frame the variable lives in (undefined for globals). */
  owner?: FunctionInfo;
  die: Die;
}

/** A lexical scope: a lexical block, an inlined call or a function body. */
export interface ScopeInfo {
  ranges: AddressRange[];
  /** Local variables declared directly in this scope (parameters are listed separately). */
  variables: VariableInfo[];
  blocks: ScopeInfo[];
  inlined: InlinedCallInfo[];
}

export interface InlinedCallInfo extends ScopeInfo {
  kind: 'inlined';
  /** Name of the inlined function. */
  name: string;
  parameters: VariableInfo[];
  callFile?: string;
  callLine?: number;
  callColumn?: number;
  /** Where the inlined function itself is declared. */
  declFile?: string;
  declLine?: number;
}

export interface FunctionInfo extends ScopeInfo {
  kind: 'function';
  name: string;
  linkageName?: string;
  /** Lowest address of the function's code (entry point for low/high pc functions). */
  lowPc: number;
  /** Address just past the function's last range. */
  highPc: number;
  entryPc: number;
  frameBase: LocationDescription;
  declFile?: string;
  declLine?: number;
  returnType: DwarfType;
  parameters: VariableInfo[];
  external: boolean;
  unit: CompileUnitInfo;
  die: Die;
}

export interface CompileUnitInfo {
  name: string;
  compDir: string;
  producer?: string;
  language?: number;
  version: number;
  ranges: AddressRange[];
  functions: FunctionInfo[];
  globals: VariableInfo[];
  die: Die;
  /** The unit's line program header (file and directory tables), parsed on first use. */
  readonly lineHeader: LineProgramHeader | undefined;
  /** The unit's decoded line table, built on first use. */
  readonly lineTable: UnitLineTable | undefined;
  /** The unit's line tables as gdb 13 builds them (per file, for gdb's pc -> line rules), built on first use. */
  readonly gdbLineTable: GdbLineTable | undefined;
  /** Full path of file `index` of the unit's file table. */
  fileName(index: number): string | undefined;
}

/** Follows DW_AT_abstract_origin and DW_AT_specification to find an attribute's owner. */
export function originOf(die: Die, name: number): Die | undefined {
  let d: Die | undefined = die;
  for (let i = 0; d && i < 8; i++) {
    if (d.has(name)) return d;
    d = d.ref(DW_AT.abstract_origin) ?? d.ref(DW_AT.specification);
  }
  return undefined;
}

/** True when a DIE says where its code is (low/high pc or ranges), even if it names no bytes. */
function hasCodeAttributes(die: Die): boolean {
  return (die.has(DW_AT.low_pc) && die.has(DW_AT.high_pc)) || die.has(DW_AT.ranges);
}

function inheritedName(die: Die): string | undefined {
  return originOf(die, DW_AT.name)?.name;
}

class CompileUnitModel implements CompileUnitInfo {
  name: string;
  compDir: string;
  producer?: string;
  language?: number;
  version: number;
  ranges: AddressRange[];
  functions: FunctionInfo[] = [];
  globals: VariableInfo[] = [];
  private header: LineProgramHeader | undefined | null = null;
  private table: UnitLineTable | undefined | null = null;
  private gdbTable: GdbLineTable | undefined | null = null;
  private rows: LineRow[] | undefined;

  constructor(readonly die: Die, private readonly sections: DwarfSections) {
    this.name = die.name ?? '<unknown>';
    this.compDir = die.string(DW_AT.comp_dir) ?? '';
    this.producer = die.string(DW_AT.producer);
    this.language = die.unsigned(DW_AT.language);
    this.version = die.unit.version;
    this.ranges = dieRanges(die);
  }

  get lineHeader(): LineProgramHeader | undefined {
    if (this.header === null) {
      const offset = this.die.unsigned(DW_AT.stmt_list);
      this.header = offset === undefined ? undefined : parseLineProgramHeader(this.sections, offset, this.compDir, this.die.unit.addressSize);
    }
    return this.header;
  }

  get lineTable(): UnitLineTable | undefined {
    if (this.table === null) {
      const header = this.lineHeader;
      this.table = header ? new UnitLineTable({ header, rows: this.lineRows(header) }) : undefined;
    }
    return this.table;
  }

  get gdbLineTable(): GdbLineTable | undefined {
    if (this.gdbTable === null) {
      const header = this.lineHeader;
      if (!header) this.gdbTable = undefined;
      else {
        const low = this.ranges.length ? Math.min(...this.ranges.map((r) => r.start)) : 0;
        const end = this.ranges.length ? Math.max(...this.ranges.map((r) => r.end)) : 0;
        const paths = header.files.map((f) => f?.path);
        this.gdbTable = new GdbLineTable(this.lineRows(header), paths, joinPath(this.compDir, this.name), low, end);
      }
    }
    return this.gdbTable;
  }

  private lineRows(header: LineProgramHeader): LineRow[] {
    this.rows ??= runLineProgram(this.sections.line, header);
    return this.rows;
  }

  fileName(index: number): string | undefined {
    return this.lineHeader?.files[index]?.path;
  }
}

/** Builds the model of every compile unit in `units`. Throws DwarfFormatError on malformed DIEs. */
export function buildCompileUnits(units: readonly DwarfUnit[], sections: DwarfSections, types: TypeResolver): CompileUnitInfo[] {
  const result: CompileUnitInfo[] = [];
  for (const unit of units) {
    const root = unit.root;
    if (root.tag !== DW_TAG.compile_unit && root.tag !== DW_TAG.partial_unit) continue;
    const cu = new CompileUnitModel(root, sections);
    new UnitBuilder(cu, types).build(root);
    if (cu.ranges.length === 0) cu.ranges = cu.functions.flatMap((f) => f.ranges);
    result.push(cu);
  }
  return result;
}

class UnitBuilder {
  constructor(private readonly cu: CompileUnitModel, private readonly types: TypeResolver) {}

  build(root: Die): void {
    for (const child of root.children) this.topLevel(child);
  }

  private topLevel(die: Die): void {
    if (die.tag === DW_TAG.subprogram) {
      this.subprogram(die);
    } else if (die.tag === DW_TAG.variable) {
      if (die.flag(DW_AT.declaration)) return;
      const v = this.variable(die, false, undefined);
      if (v) this.cu.globals.push(v);
    }
  }

  private declFile(die: Die): string | undefined {
    const origin = originOf(die, DW_AT.decl_file);
    const index = origin?.unsigned(DW_AT.decl_file);
    return index === undefined ? undefined : this.cu.fileName(index);
  }

  private declLine(die: Die): number | undefined {
    return originOf(die, DW_AT.decl_line)?.unsigned(DW_AT.decl_line);
  }

  private subprogram(die: Die): void {
    const ranges = dieRanges(die);
    if (ranges.length === 0) {
      // An abstract instance or a declaration: no code of its own, but may hold nested functions.
      for (const child of die.children) if (child.tag === DW_TAG.subprogram) this.subprogram(child);
      return;
    }
    const typeOwner = originOf(die, DW_AT.type);
    const lowPc = Math.min(...ranges.map((r) => r.start));
    const fn: FunctionInfo = {
      kind: 'function',
      name: inheritedName(die) ?? `<function at 0x${addressToBigInt(lowPc, die.unit.addressSize === 8 ? 64 : 32).toString(16)}>`,
      linkageName: originOf(die, DW_AT.linkage_name)?.string(DW_AT.linkage_name),
      lowPc,
      highPc: Math.max(...ranges.map((r) => r.end)),
      entryPc: die.lowPc ?? die.address(DW_AT.entry_pc) ?? lowPc,
      ranges,
      frameBase: dieLocation(die, DW_AT.frame_base),
      declFile: this.declFile(die),
      declLine: this.declLine(die),
      returnType: typeOwner ? this.types.typeOf(typeOwner) : this.types.typeOf(die),
      parameters: [],
      variables: [],
      blocks: [],
      inlined: [],
      external: originOf(die, DW_AT.external)?.flag(DW_AT.external) ?? false,
      unit: this.cu,
      die,
    };
    this.cu.functions.push(fn);
    this.scopeChildren(die, fn, fn, fn.parameters);
  }

  /**
   * Fills `scope` from the children of `die` in DWARF order, as gdb builds its blocks; parameters
   * go to `parameters` when given. A lexical block without code attributes is no block of its own:
   * its children belong to `scope`. A block whose ranges are empty is dropped with its variables.
   * A concrete DIE (inlined call, out-of-line instance, block) then gets the children of its
   * DW_AT_abstract_origin that no concrete child stands for (see inheritAbstractChildren).
   */
  private scopeChildren(die: Die, scope: ScopeInfo, owner: FunctionInfo, parameters: VariableInfo[] | undefined): void {
    for (const child of die.children) this.scopeChild(child, scope, owner, parameters, false);
    this.inheritAbstractChildren(die, scope, owner, parameters);
  }

  private scopeChild(child: Die, scope: ScopeInfo, owner: FunctionInfo, parameters: VariableInfo[] | undefined, abstract: boolean): void {
    switch (child.tag) {
      case DW_TAG.formal_parameter: {
        const v = this.variable(child, true, owner);
        if (v && parameters) parameters.push(v);
        break;
      }
      case DW_TAG.variable: {
        // A local `extern` declaration is no variable of the frame (gdb leaves it unresolved).
        if (child.flag(DW_AT.declaration)) break;
        const v = this.variable(child, false, owner);
        if (v) scope.variables.push(v);
        break;
      }
      case DW_TAG.lexical_block: {
        if (!hasCodeAttributes(child)) {
          for (const grandchild of child.children) this.scopeChild(grandchild, scope, owner, parameters, abstract);
          break;
        }
        const ranges = dieRanges(child);
        if (ranges.length === 0) break;
        const block: ScopeInfo = { ranges, variables: [], blocks: [], inlined: [] };
        this.scopeChildren(child, block, owner, undefined);
        scope.blocks.push(block);
        break;
      }
      case DW_TAG.inlined_subroutine: {
        if (abstract) break;
        const callFileIndex = child.unsigned(DW_AT.call_file);
        const call: InlinedCallInfo = {
          kind: 'inlined',
          name: inheritedName(child) ?? '<inlined>',
          ranges: dieRanges(child),
          parameters: [],
          variables: [],
          blocks: [],
          inlined: [],
          callFile: callFileIndex === undefined ? undefined : this.cu.fileName(callFileIndex),
          callLine: child.unsigned(DW_AT.call_line),
          callColumn: child.unsigned(DW_AT.call_column),
          declFile: this.declFile(child),
          declLine: this.declLine(child),
        };
        this.scopeChildren(child, call, owner, call.parameters);
        scope.inlined.push(call);
        break;
      }
      case DW_TAG.subprogram:
        if (!abstract) this.subprogram(child);
        break;
      default:
        break;
    }
  }

  /**
   * The children of `die`'s abstract origin that no direct child of `die` refers to (through
   * DW_AT_abstract_origin) join `scope` after the concrete ones: a parameter or variable the
   * compiler dropped from this instance is still listed (optimized out), and an abstract block's
   * variables join `scope` itself (the abstract block has no code of its own). A concrete child
   * whose origin is not a direct child of the origin (a variable moved into a block) does not
   * stand for it, so such a variable is listed twice, as gdb does.
   */
  private inheritAbstractChildren(die: Die, scope: ScopeInfo, owner: FunctionInfo, parameters: VariableInfo[] | undefined): void {
    const origin = die.ref(DW_AT.abstract_origin);
    if (!origin || origin === die) return;
    const covered = new Set<number>();
    for (const child of die.children) {
      if (child.tag === DW_TAG.call_site || child.tag === DW_TAG.GNU_call_site) continue;
      let target: Die = child;
      for (let i = 0; i < 8; i++) {
        const next = target.ref(DW_AT.abstract_origin);
        if (!next) break;
        target = next;
      }
      if (target !== child && target.parent === origin) covered.add(target.offset);
    }
    for (const child of origin.children) if (!covered.has(child.offset)) this.scopeChild(child, scope, owner, parameters, true);
  }

  private variable(die: Die, isParameter: boolean, owner: FunctionInfo | undefined): VariableInfo | undefined {
    const name = inheritedName(die);
    if (name === undefined) return undefined;
    const typeOwner = originOf(die, DW_AT.type);
    const constAttr = die.attr(DW_AT.const_value);
    let constValue: bigint | Uint8Array | undefined;
    if (constAttr) constValue = constAttr.value instanceof Uint8Array ? constAttr.value : die.constant(DW_AT.const_value);
    const v: VariableInfo = {
      name,
      type: typeOwner ? this.types.typeOf(typeOwner) : this.types.typeOf(die),
      location: dieLocation(die, DW_AT.location),
      declFile: this.declFile(die),
      declLine: this.declLine(die),
      isParameter,
      external: originOf(die, DW_AT.external)?.flag(DW_AT.external) ?? false,
      die,
    };
    if (constValue !== undefined) v.constValue = constValue;
    if (owner) v.owner = owner;
    return v;
  }
}
