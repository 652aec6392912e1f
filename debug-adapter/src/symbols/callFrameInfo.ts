// Call frame information: CIEs and FDEs from .debug_frame and .eh_frame, the CFA program
// interpreter that yields, for a pc, the rule for the CFA and for each saved register, and
// one unwinding step over those rules.

import { ByteReader } from './byteReader';
import { CfiFormatError } from './errors';
import { addressOfValue, evaluateValue, ExpressionContext } from './expression';
import { addressFromBigInt, wrapAddress } from '../../../qemu-bridge/src/address';

export type CfaRule =
  | { kind: 'registerOffset'; register: number; offset: number }
  | { kind: 'expression'; expression: Uint8Array };

export type RegisterRule =
  | { kind: 'undefined' }
  | { kind: 'sameValue' }
  /** Saved at address CFA + offset. */
  | { kind: 'offset'; offset: number }
  /** The value is CFA + offset. */
  | { kind: 'valOffset'; offset: number }
  | { kind: 'register'; register: number }
  | { kind: 'expression'; expression: Uint8Array }
  | { kind: 'valExpression'; expression: Uint8Array };

export interface UnwindRow {
  /** First pc the row applies to. */
  address: number;
  /** Address just past the last pc the row applies to. */
  end: number;
  cfa: CfaRule;
  registers: Map<number, RegisterRule>;
  returnAddressRegister: number;
}

export interface CommonInformationEntry {
  offset: number;
  version: number;
  augmentation: string;
  codeAlignment: number;
  dataAlignment: number;
  returnAddressRegister: number;
  pointerEncoding: number;
  initialInstructions: Uint8Array;
  signalFrame: boolean;
}

export interface FrameDescriptionEntry {
  offset: number;
  cie: CommonInformationEntry;
  start: number;
  end: number;
  instructions: Uint8Array;
  source: '.debug_frame' | '.eh_frame';
}

const fail = (detail: string): Error => new CfiFormatError(detail);

const DW_EH_PE_omit = 0xff;
const DW_EH_PE_pcrel = 0x10;
const DW_EH_PE_datarel = 0x30;

/** Parsed .debug_frame/.eh_frame with lookup of the unwind row for a pc. */
export class CallFrameInfo {
  readonly fdes: FrameDescriptionEntry[];
  /** The rows of each FDE asked about so far (an FDE's program runs once). */
  private readonly rowCache = new Map<FrameDescriptionEntry, UnwindRow[]>();

  /** Throws CfiFormatError when a section is malformed. */
  constructor(debugFrame: Uint8Array, ehFrame: Uint8Array, ehFrameAddress: number, readonly addressSize = 4) {
    const fdes = [
      ...parseFrameSection(debugFrame, false, 0, addressSize),
      ...parseFrameSection(ehFrame, true, ehFrameAddress, addressSize),
    ];
    // .debug_frame first: when both describe a pc, the stable sort keeps it in front.
    fdes.sort((a, b) => a.start - b.start);
    this.fdes = fdes;
  }

  /** The FDE covering `pc`, or undefined. */
  fdeFor(pc: number): FrameDescriptionEntry | undefined {
    const list = this.fdes;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].start <= pc) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && i >= lo - 4; i--) if (pc < list[i].end && pc >= list[i].start) return list[i];
    return undefined;
  }

  /** The unwind rules that hold at `pc`, or undefined when no FDE covers it. */
  rowAt(pc: number): UnwindRow | undefined {
    const fde = this.fdeFor(pc);
    if (!fde) return undefined;
    let rows = this.rowCache.get(fde);
    if (!rows) {
      rows = fdeRows(fde, this.addressSize);
      this.rowCache.set(fde, rows);
    }
    for (let i = rows.length - 1; i >= 0; i--) if (rows[i].address <= pc) return rows[i];
    return rows[0];
  }
}

function parseFrameSection(bytes: Uint8Array, isEh: boolean, sectionAddress: number, addressSize: number): FrameDescriptionEntry[] {
  const result: FrameDescriptionEntry[] = [];
  const cies = new Map<number, CommonInformationEntry>();
  const what = isEh ? '.eh_frame' : '.debug_frame';
  const r = new ByteReader(bytes, fail, what);
  while (r.remaining >= 4) {
    const entryOffset = r.offset;
    let length = r.u32();
    if (length === 0) {
      if (isEh) break; // the .eh_frame terminator
      continue;
    }
    // 64-bit DWARF: an 8-byte length follows; in .debug_frame the CIE id/pointer is 8 bytes too,
    // in .eh_frame it stays 4 (the LSB's .eh_frame format).
    let wide = false;
    if (length === 0xffffffff) {
      length = r.safe(r.u64());
      wide = true;
    } else if (length >= 0xfffffff0) {
      throw fail(`${what} entry at ${entryOffset} has reserved length 0x${length.toString(16)}`);
    }
    const body = r.sub(r.offset, length, `${what} entry at ${entryOffset}`);
    r.skip(length);
    const idOffset = body.offset;
    const wideId = wide && !isEh;
    const rawId = wideId ? body.u64() : BigInt(body.u32());
    const isCie = isEh ? rawId === 0n : rawId === (wideId ? 0xffffffffffffffffn : 0xffffffffn);
    const id = isCie ? 0 : body.safe(rawId);
    if (isCie) {
      cies.set(entryOffset, parseCie(body, entryOffset, isEh, addressSize));
      continue;
    }
    const cieOffset = isEh ? idOffset - id : id;
    let cie = cies.get(cieOffset);
    if (!cie) {
      // A CIE that follows its FDE (allowed in .debug_frame): parse it in place.
      const c = new ByteReader(bytes, fail, what);
      c.seek(Math.min(Math.max(cieOffset, 0), bytes.length));
      let cieLength = c.u32();
      const cieWide = cieLength === 0xffffffff;
      if (cieWide) cieLength = c.safe(c.u64());
      const cieBody = c.sub(c.offset, cieLength, `${what} CIE at ${cieOffset}`);
      const cieId = cieWide && !isEh ? cieBody.u64() : BigInt(cieBody.u32());
      if (cieId !== (isEh ? 0n : cieWide ? 0xffffffffffffffffn : 0xffffffffn)) throw fail(`FDE at ${entryOffset} points to ${cieOffset}, which is not a CIE`);
      cie = parseCie(cieBody, cieOffset, isEh, addressSize);
      cies.set(cieOffset, cie);
    }
    let start: number;
    let range: number;
    if (isEh) {
      start = readEncoded(body, cie.pointerEncoding, sectionAddress, addressSize);
      range = readEncoded(body, cie.pointerEncoding & 0x0f, sectionAddress, addressSize);
      if (cie.augmentation.startsWith('z')) body.skip(body.uleb());
    } else {
      start = body.address(addressSize);
      range = body.unsigned(addressSize);
    }
    result.push({ offset: entryOffset, cie, start, end: wrapEnd(start + range, addressSize), instructions: body.bytesOf(body.remaining), source: isEh ? '.eh_frame' : '.debug_frame' });
  }
  return result;
}

/** The end of an FDE's range; a 32-bit range may end exactly at 2^32. */
function wrapEnd(end: number, addressSize: number): number {
  if (addressSize !== 8) return end;
  if (!Number.isSafeInteger(end)) throw fail(`an FDE ends at ${end}, beyond 2^53`);
  return end;
}

function parseCie(body: ByteReader, offset: number, isEh: boolean, addressSize: number): CommonInformationEntry {
  const version = body.u8();
  if (version !== 1 && version !== 3 && version !== 4) throw new CfiFormatError(`CIE at ${offset} has unsupported version ${version}`);
  const augmentation = body.cstring();
  if (augmentation.includes('eh')) body.skip(addressSize);
  if (version === 4) {
    body.u8(); // address size
    body.u8(); // segment selector size
  }
  const codeAlignment = body.uleb();
  const dataAlignment = body.sleb();
  const returnAddressRegister = version === 1 ? body.u8() : body.uleb();
  let pointerEncoding = 0;
  let signalFrame = false;
  if (augmentation.startsWith('z')) {
    const augLength = body.uleb();
    const aug = body.sub(body.offset, augLength, 'CIE augmentation data');
    body.skip(augLength);
    for (const ch of augmentation.slice(1)) {
      if (ch === 'R') pointerEncoding = aug.u8();
      else if (ch === 'L') aug.u8();
      else if (ch === 'P') {
        const enc = aug.u8();
        readEncoded(aug, enc, 0, addressSize);
      } else if (ch === 'S') signalFrame = true;
      else break; // unknown augmentation: the rest of the data is skipped by its length
    }
  } else if (augmentation !== '' && augmentation !== 'eh' && isEh) {
    throw new CfiFormatError(`CIE at ${offset} has unknown augmentation "${augmentation}"`);
  }
  return { offset, version, augmentation, codeAlignment, dataAlignment, returnAddressRegister, pointerEncoding, initialInstructions: body.bytesOf(body.remaining), signalFrame };
}

function readEncoded(r: ByteReader, encoding: number, sectionAddress: number, addressSize: number): number {
  if (encoding === DW_EH_PE_omit) return 0;
  const fieldOffset = r.offset;
  let value: number;
  switch (encoding & 0x0f) {
    case 0x00: value = r.address(addressSize); break;
    case 0x01: value = r.uleb(); break;
    case 0x02: value = r.u16(); break;
    case 0x03: value = r.u32(); break;
    // udata8/sdata8 hold an address as the address rule does: the signed 64-bit value.
    case 0x04: value = r.address(8); break;
    case 0x09: value = r.sleb(); break;
    case 0x0a: value = r.s16(); break;
    case 0x0b: value = r.s32(); break;
    case 0x0c: value = r.address(8); break;
    default: throw fail(`unknown pointer encoding 0x${encoding.toString(16)}`);
  }
  const application = encoding & 0x70;
  if (application === DW_EH_PE_pcrel) value += sectionAddress + fieldOffset;
  else if (application !== 0 && application !== DW_EH_PE_datarel) throw fail(`unsupported pointer encoding 0x${encoding.toString(16)}`);
  if (addressSize === 4) return value >>> 0;
  try {
    return wrapAddress(value, 64);
  } catch {
    throw fail(`a pointer (encoding 0x${encoding.toString(16)}) lies beyond 2^53`);
  }
}

interface RuleState {
  cfa: CfaRule;
  registers: Map<number, RegisterRule>;
}

const cloneState = (s: RuleState): RuleState => ({ cfa: s.cfa, registers: new Map(s.registers) });

/** Runs the CIE's and the FDE's CFA programs; returns one row per distinct location. */
export function fdeRows(fde: FrameDescriptionEntry, addressSize = 4): UnwindRow[] {
  const cie = fde.cie;
  let state: RuleState = { cfa: { kind: 'registerOffset', register: 0, offset: 0 }, registers: new Map() };
  let loc = fde.start;
  const rows: UnwindRow[] = [];
  const stack: RuleState[] = [];
  runInstructions(cie.initialInstructions, undefined);
  const initial = cloneState(state);
  stack.length = 0;
  runInstructions(fde.instructions, initial);
  rows.push({ address: loc, end: fde.end, ...cloneState(state), returnAddressRegister: cie.returnAddressRegister });
  // Set each row's end to the next row's start and drop empty rows.
  for (let i = 0; i < rows.length - 1; i++) rows[i].end = rows[i + 1].address;
  return rows.filter((row, i) => row.end > row.address || i === rows.length - 1);

  function emitRow(newLoc: number): void {
    if (newLoc !== loc) rows.push({ address: loc, end: newLoc, ...cloneState(state), returnAddressRegister: cie.returnAddressRegister });
    loc = newLoc;
  }

  function runInstructions(code: Uint8Array, initialState: RuleState | undefined): void {
    const r = new ByteReader(code, fail, 'CFA program');
    const ca = cie.codeAlignment;
    const da = cie.dataAlignment;
    const setReg = (reg: number, rule: RegisterRule): void => { state.registers.set(reg, rule); };
    const restore = (reg: number): void => {
      const rule = initialState?.registers.get(reg);
      if (rule) state.registers.set(reg, rule);
      else state.registers.delete(reg);
    };
    const setCfa = (register: number | undefined, offset: number | undefined): void => {
      const old = state.cfa.kind === 'registerOffset' ? state.cfa : { register: 0, offset: 0 };
      state.cfa = { kind: 'registerOffset', register: register ?? old.register, offset: offset ?? old.offset };
    };
    while (!r.atEnd) {
      const byte = r.u8();
      const high = byte & 0xc0;
      const low = byte & 0x3f;
      if (high === 0x40) { emitRow(loc + low * ca); continue; }
      if (high === 0x80) { setReg(low, { kind: 'offset', offset: r.uleb() * da }); continue; }
      if (high === 0xc0) { restore(low); continue; }
      switch (byte) {
        case 0x00: break; // nop
        case 0x01: emitRow(r.address(addressSize)); break; // set_loc
        case 0x02: emitRow(loc + r.u8() * ca); break;
        case 0x03: emitRow(loc + r.u16() * ca); break;
        case 0x04: emitRow(loc + r.u32() * ca); break;
        case 0x05: { const reg = r.uleb(); setReg(reg, { kind: 'offset', offset: r.uleb() * da }); break; }
        case 0x06: restore(r.uleb()); break;
        case 0x07: setReg(r.uleb(), { kind: 'undefined' }); break;
        case 0x08: setReg(r.uleb(), { kind: 'sameValue' }); break;
        case 0x09: { const reg = r.uleb(); setReg(reg, { kind: 'register', register: r.uleb() }); break; }
        case 0x0a:
          if (stack.length > 64) throw fail('DW_CFA_remember_state nests too deeply');
          stack.push(cloneState(state));
          break;
        case 0x0b: {
          const saved = stack.pop();
          if (!saved) throw fail('DW_CFA_restore_state without a remembered state');
          // The CFA rule is part of the remembered state too (DWARF 5 6.4.2.4).
          state = saved;
          break;
        }
        case 0x0c: { const reg = r.uleb(); setCfa(reg, r.uleb()); break; }
        case 0x0d: setCfa(r.uleb(), undefined); break;
        case 0x0e: setCfa(undefined, r.uleb()); break;
        case 0x0f: state.cfa = { kind: 'expression', expression: r.bytesOf(r.uleb()) }; break;
        case 0x10: { const reg = r.uleb(); setReg(reg, { kind: 'expression', expression: r.bytesOf(r.uleb()) }); break; }
        case 0x11: { const reg = r.uleb(); setReg(reg, { kind: 'offset', offset: r.sleb() * da }); break; }
        case 0x12: { const reg = r.uleb(); setCfa(reg, r.sleb() * da); break; }
        case 0x13: setCfa(undefined, r.sleb() * da); break;
        case 0x14: { const reg = r.uleb(); setReg(reg, { kind: 'valOffset', offset: r.uleb() * da }); break; }
        case 0x15: { const reg = r.uleb(); setReg(reg, { kind: 'valOffset', offset: r.sleb() * da }); break; }
        case 0x16: { const reg = r.uleb(); setReg(reg, { kind: 'valExpression', expression: r.bytesOf(r.uleb()) }); break; }
        case 0x2e: r.uleb(); break; // GNU_args_size
        case 0x2f: { const reg = r.uleb(); setReg(reg, { kind: 'offset', offset: -r.uleb() * da }); break; }
        default: throw fail(`unknown CFA instruction 0x${byte.toString(16)}`);
      }
    }
  }
}

/** Registers of the caller's frame recovered by one unwinding step. */
export interface UnwoundFrame {
  cfa: number;
  /**
   * Recovered register values by DWARF number; the return address is under `returnAddressRegister`.
   * With 8-byte addresses each value is held as the address rule says (the signed 64-bit value,
   * docs/addresses.md); a value outside ±2^53 (not an address) is only in `values`.
   */
  registers: Map<number, number>;
  /** The same registers as unsigned values of the address size, exact. */
  values: Map<number, bigint>;
  returnAddress: number | undefined;
}

/**
 * Applies `row` to the current frame's registers (via `ctx`) and returns the caller's
 * registers. The caller's stack pointer (register 4 on i386, 7 on x86-64) is the CFA. Throws
 * DwarfExpressionError when a register or memory the rules need cannot be read.
 */
export async function unwindFrame(row: UnwindRow, ctx: ExpressionContext, stackPointerRegister = 4): Promise<UnwoundFrame> {
  const size = ctx.addressSize ?? 4;
  const bits = BigInt(size * 8);
  const unsigned = (v: number | bigint): bigint => BigInt.asUintN(Number(bits), BigInt(v));
  let cfa: number;
  if (row.cfa.kind === 'registerOffset') cfa = addressOfValue(BigInt(await ctx.readRegister(row.cfa.register)) + BigInt(row.cfa.offset), size);
  else cfa = addressOfValue(await evaluateValue(row.cfa.expression, ctx), size);
  const at = (address: number): number => (size === 8 ? addressOfValue(BigInt(address), 8) : address >>> 0);
  const readWord = async (address: number): Promise<bigint> => {
    const bytes = await ctx.readMemory(address, size);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
    return v;
  };
  const values = new Map<number, bigint>();
  for (const [reg, rule] of row.registers) {
    switch (rule.kind) {
      case 'offset': values.set(reg, await readWord(at(cfa + rule.offset))); break;
      case 'valOffset': values.set(reg, unsigned(cfa + rule.offset)); break;
      case 'register': values.set(reg, unsigned(await ctx.readRegister(rule.register))); break;
      case 'sameValue': values.set(reg, unsigned(await ctx.readRegister(reg))); break;
      case 'expression': values.set(reg, await readWord(addressOfValue(await evaluateValue(rule.expression, ctx, [unsigned(cfa)]), size))); break;
      case 'valExpression': values.set(reg, unsigned(await evaluateValue(rule.expression, ctx, [unsigned(cfa)]))); break;
      case 'undefined': break;
    }
  }
  values.set(stackPointerRegister, unsigned(cfa));
  const registers = new Map<number, number>();
  for (const [reg, v] of values) {
    if (size !== 8) registers.set(reg, Number(v));
    else if (v <= MAX_SAFE || v >= TWO_64 - MAX_SAFE) registers.set(reg, addressFromBigInt(v, 64));
  }
  return { cfa, registers, values, returnAddress: registers.get(row.returnAddressRegister) };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_64 = 1n << 64n;
