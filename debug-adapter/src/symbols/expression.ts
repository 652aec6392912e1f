// DWARF expression evaluator for location expressions. Pure: registers, memory, the frame
// base and the CFA come from a caller-supplied context (sync or async), and the result says
// where the object lives (memory, register, implicit value, or pieces of those).

import { ByteReader } from './byteReader';
import { DwarfExpressionError } from './errors';
import { DW_OP } from './dwarfConstants';
import { addressFromBigInt } from '../../../qemu-bridge/src/address';

type MaybePromise<T> = T | Promise<T>;

/** What the evaluator needs from the program being debugged. */
export interface ExpressionContext {
  /** Address size in bytes (4 for i386, 8 for x86-64); stack arithmetic wraps at this width. Default 4. */
  addressSize?: number;
  /** Offset size of the unit's DWARF format (8 in 64-bit DWARF): DIE offsets in DW_OP_implicit_pointer and DW_OP_call_ref. Default 4. */
  offsetSize?: number;
  /** The value of DWARF register `register` in the frame being evaluated. */
  readRegister(register: number): MaybePromise<number | bigint>;
  /** `size` bytes of memory at virtual address `address`. */
  readMemory(address: number, size: number): MaybePromise<Uint8Array>;
  /** The value of the current function's DW_AT_frame_base (needed by DW_OP_fbreg). */
  frameBase?(): MaybePromise<number>;
  /** The canonical frame address of the current frame (needed by DW_OP_call_frame_cfa). */
  callFrameCfa?(): MaybePromise<number>;
  /** Resolves a .debug_addr index (DW_OP_addrx / DW_OP_constx) for the current unit. */
  indexedAddress?(index: number): number;
  /** The object address for DW_OP_push_object_address. */
  objectAddress?(): MaybePromise<number>;
  /**
   * DW_OP_entry_value: the value `expression` (a register, DW_OP_regN) had on entry to the
   * current function, recovered from the caller's call site. Throws when it cannot be known.
   */
  entryValue?(expression: Uint8Array): MaybePromise<number | bigint>;
}

/** A location that is not split into pieces. */
export type SimpleLocation =
  | { kind: 'memory'; address: number }
  | { kind: 'register'; register: number }
  /** DW_OP_stack_value: the expression computed the value itself. */
  | { kind: 'value'; value: bigint }
  /** DW_OP_implicit_value: the value's bytes are in the expression. */
  | { kind: 'implicit'; bytes: Uint8Array }
  /** DW_OP_implicit_pointer: a pointer to a value that has no address (DIE offset + byte offset). */
  | { kind: 'implicitPointer'; die: number; offset: number }
  /** Optimised out, or needs data we do not have (for example an entry value). */
  | { kind: 'unavailable'; reason: string };

export interface LocationPiece {
  /** Size of the piece in bits. */
  sizeBits: number;
  /** For DW_OP_bit_piece: bit offset within the location. */
  offsetBits: number;
  location: SimpleLocation;
}

export type EvaluatedLocation = SimpleLocation | { kind: 'pieces'; pieces: LocationPiece[] };

const MAX_STEPS = 10000;

/**
 * The address number (docs/addresses.md) of the unsigned `addressSize`-byte value `v` an
 * expression computed: 8-byte values become the signed 64-bit value. Throws DwarfExpressionError
 * when it lies outside ±2^53.
 */
export function addressOfValue(v: bigint, addressSize = 4): number {
  if (addressSize !== 8) return Number(BigInt.asUintN(addressSize * 8, v));
  try {
    return addressFromBigInt(BigInt.asUintN(64, v), 64);
  } catch {
    throw new DwarfExpressionError(`the address 0x${BigInt.asUintN(64, v).toString(16)} is not canonical`);
  }
}

/**
 * Evaluates a location expression. Returns where the object is; throws DwarfExpressionError
 * for malformed expressions or when the context cannot supply what the expression needs.
 */
export async function evaluateLocation(expression: Uint8Array, ctx: ExpressionContext): Promise<EvaluatedLocation> {
  if (expression.length === 0) return { kind: 'unavailable', reason: 'optimized out' };
  return new Evaluator(expression, ctx).run();
}

/** Evaluates an expression that computes a value (e.g. a frame base or DW_AT_data_member_location); returns the top of the stack. */
export async function evaluateValue(expression: Uint8Array, ctx: ExpressionContext, initialStack: bigint[] = []): Promise<bigint> {
  const ev = new Evaluator(expression, ctx, initialStack);
  const loc = await ev.run();
  if (loc.kind === 'memory') return BigInt.asUintN(ev.bits, BigInt(loc.address));
  if (loc.kind === 'value') return loc.value;
  if (loc.kind === 'register') return BigInt.asUintN(ev.bits, BigInt(await ctx.readRegister(loc.register)));
  throw new DwarfExpressionError(`expected a value but the expression gives a ${loc.kind} location`);
}

class Evaluator {
  readonly bits: number;
  private readonly mask: bigint;
  private readonly stack: bigint[];
  private state: SimpleLocation | undefined;
  private readonly pieces: LocationPiece[] = [];
  private readonly r: ByteReader;

  constructor(private readonly code: Uint8Array, private readonly ctx: ExpressionContext, initialStack: bigint[] = []) {
    const size = ctx.addressSize ?? 4;
    this.bits = size * 8;
    this.mask = (1n << BigInt(this.bits)) - 1n;
    this.stack = initialStack.map((v) => v & this.mask);
    this.r = new ByteReader(code, (d) => new DwarfExpressionError(d), 'DWARF expression');
  }

  private push(v: bigint): void {
    if (this.stack.length > 1000) throw new DwarfExpressionError('the expression stack overflows');
    this.stack.push(v & this.mask);
  }

  private pop(): bigint {
    const v = this.stack.pop();
    if (v === undefined) throw new DwarfExpressionError('the expression stack underflows');
    return v;
  }

  private signed(v: bigint): bigint {
    return BigInt.asIntN(this.bits, v);
  }

  private async register(n: number): Promise<bigint> {
    const v = await this.ctx.readRegister(n);
    return BigInt.asUintN(this.bits, BigInt(v));
  }

  private async memory(address: bigint, size: number): Promise<bigint> {
    if (size < 1 || size > 8) throw new DwarfExpressionError(`cannot dereference ${size} bytes`);
    const bytes = await this.ctx.readMemory(this.address(address), size);
    if (bytes.length < size) throw new DwarfExpressionError(`memory at 0x${address.toString(16)} cannot be read`);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  }

  /** A stack value as an address number. */
  private address(v: bigint): number {
    return addressOfValue(v, this.bits / 8);
  }

  private pieceLocation(): SimpleLocation {
    if (this.state) return this.state;
    if (this.stack.length > 0) return { kind: 'memory', address: this.address(this.pop()) };
    return { kind: 'unavailable', reason: 'optimized out' };
  }

  async run(): Promise<EvaluatedLocation> {
    const r = this.r;
    for (let steps = 0; !r.atEnd; steps++) {
      if (steps > MAX_STEPS) throw new DwarfExpressionError('the expression does not terminate');
      const op = r.u8();
      if (this.state && op !== DW_OP.piece && op !== DW_OP.bit_piece) {
        throw new DwarfExpressionError(`operation 0x${op.toString(16)} follows a register or implicit location`);
      }
      if (op >= DW_OP.lit0 && op <= DW_OP.lit31) { this.push(BigInt(op - DW_OP.lit0)); continue; }
      if (op >= DW_OP.reg0 && op <= DW_OP.reg31) { this.state = { kind: 'register', register: op - DW_OP.reg0 }; continue; }
      if (op >= DW_OP.breg0 && op <= DW_OP.breg31) {
        const offset = r.slebBig();
        this.push((await this.register(op - DW_OP.breg0)) + offset);
        continue;
      }
      switch (op) {
        case DW_OP.addr: this.push(this.bits === 64 ? r.u64() : BigInt(r.unsigned(this.bits / 8))); break;
        case DW_OP.deref: this.push(await this.memory(this.pop(), this.bits / 8)); break;
        case DW_OP.deref_size: { const n = r.u8(); this.push(await this.memory(this.pop(), n)); break; }
        case DW_OP.const1u: this.push(BigInt(r.u8())); break;
        case DW_OP.const1s: this.push(BigInt(r.s8())); break;
        case DW_OP.const2u: this.push(BigInt(r.u16())); break;
        case DW_OP.const2s: this.push(BigInt(r.s16())); break;
        case DW_OP.const4u: this.push(BigInt(r.u32())); break;
        case DW_OP.const4s: this.push(BigInt(r.s32())); break;
        case DW_OP.const8u: this.push(r.u64()); break;
        case DW_OP.const8s: this.push(BigInt.asIntN(64, r.u64())); break;
        case DW_OP.constu: this.push(r.ulebBig()); break;
        case DW_OP.consts: this.push(r.slebBig()); break;
        case DW_OP.addrx:
        case DW_OP.constx:
        case DW_OP.GNU_addr_index:
        case DW_OP.GNU_const_index: {
          const index = r.uleb();
          if (!this.ctx.indexedAddress) throw new DwarfExpressionError('an indexed address needs the unit context');
          this.push(BigInt(this.ctx.indexedAddress(index)));
          break;
        }
        case DW_OP.dup: { const v = this.pop(); this.push(v); this.push(v); break; }
        case DW_OP.drop: this.pop(); break;
        case DW_OP.over: this.pick(1); break;
        case DW_OP.pick: this.pick(r.u8()); break;
        case DW_OP.swap: { const a = this.pop(); const b = this.pop(); this.push(a); this.push(b); break; }
        case DW_OP.rot: { const a = this.pop(); const b = this.pop(); const c = this.pop(); this.push(a); this.push(c); this.push(b); break; }
        case DW_OP.abs: { const v = this.signed(this.pop()); this.push(v < 0n ? -v : v); break; }
        case DW_OP.and: { const b = this.pop(); this.push(this.pop() & b); break; }
        case DW_OP.div: {
          const b = this.signed(this.pop());
          const a = this.signed(this.pop());
          if (b === 0n) throw new DwarfExpressionError('division by zero');
          this.push(a / b);
          break;
        }
        case DW_OP.minus: { const b = this.pop(); this.push(this.pop() - b); break; }
        case DW_OP.mod: {
          const b = this.pop();
          const a = this.pop();
          if (b === 0n) throw new DwarfExpressionError('division by zero');
          this.push(a % b);
          break;
        }
        case DW_OP.mul: { const b = this.pop(); this.push(this.pop() * b); break; }
        case DW_OP.neg: this.push(-this.signed(this.pop())); break;
        case DW_OP.not: this.push(~this.pop()); break;
        case DW_OP.or: { const b = this.pop(); this.push(this.pop() | b); break; }
        case DW_OP.plus: { const b = this.pop(); this.push(this.pop() + b); break; }
        case DW_OP.plus_uconst: this.push(this.pop() + r.ulebBig()); break;
        case DW_OP.shl: { const b = this.pop(); const a = this.pop(); this.push(b >= BigInt(this.bits) ? 0n : a << b); break; }
        case DW_OP.shr: { const b = this.pop(); const a = this.pop(); this.push(b >= BigInt(this.bits) ? 0n : a >> b); break; }
        case DW_OP.shra: {
          const b = this.pop();
          const a = this.signed(this.pop());
          this.push(a >> (b >= BigInt(this.bits) ? BigInt(this.bits - 1) : b));
          break;
        }
        case DW_OP.xor: { const b = this.pop(); this.push(this.pop() ^ b); break; }
        case DW_OP.eq: this.compare((a, b) => a === b); break;
        case DW_OP.ge: this.compare((a, b) => a >= b); break;
        case DW_OP.gt: this.compare((a, b) => a > b); break;
        case DW_OP.le: this.compare((a, b) => a <= b); break;
        case DW_OP.lt: this.compare((a, b) => a < b); break;
        case DW_OP.ne: this.compare((a, b) => a !== b); break;
        case DW_OP.skip: this.jump(r.s16()); break;
        case DW_OP.bra: { const offset = r.s16(); if (this.pop() !== 0n) this.jump(offset); break; }
        case DW_OP.regx: this.state = { kind: 'register', register: r.uleb() }; break;
        case DW_OP.bregx: { const reg = r.uleb(); const offset = r.slebBig(); this.push((await this.register(reg)) + offset); break; }
        case DW_OP.fbreg: {
          const offset = r.slebBig();
          if (!this.ctx.frameBase) throw new DwarfExpressionError('DW_OP_fbreg needs the frame base');
          this.push(BigInt(await this.ctx.frameBase()) + offset);
          break;
        }
        case DW_OP.call_frame_cfa: {
          if (!this.ctx.callFrameCfa) throw new DwarfExpressionError('DW_OP_call_frame_cfa needs call frame information');
          this.push(BigInt(await this.ctx.callFrameCfa()));
          break;
        }
        case DW_OP.push_object_address: {
          if (!this.ctx.objectAddress) throw new DwarfExpressionError('DW_OP_push_object_address needs an object');
          this.push(BigInt(await this.ctx.objectAddress()));
          break;
        }
        case DW_OP.nop: break;
        case DW_OP.piece: {
          const size = r.uleb();
          this.pieces.push({ sizeBits: size * 8, offsetBits: 0, location: this.pieceLocation() });
          this.state = undefined;
          break;
        }
        case DW_OP.bit_piece: {
          const size = r.uleb();
          const offset = r.uleb();
          this.pieces.push({ sizeBits: size, offsetBits: offset, location: this.pieceLocation() });
          this.state = undefined;
          break;
        }
        case DW_OP.implicit_value: {
          const len = r.uleb();
          this.state = { kind: 'implicit', bytes: r.bytesOf(len) };
          break;
        }
        case DW_OP.stack_value: this.state = { kind: 'value', value: this.pop() }; break;
        case DW_OP.implicit_pointer:
        case DW_OP.GNU_implicit_pointer: {
          const die = r.unsigned(this.ctx.offsetSize ?? 4);
          const offset = r.sleb();
          this.state = { kind: 'implicitPointer', die, offset };
          break;
        }
        case DW_OP.entry_value:
        case DW_OP.GNU_entry_value: {
          const operand = r.bytesOf(r.uleb());
          const known = await this.entryValue(operand);
          if (known !== undefined) {
            this.push(known);
            break;
          }
          // Without the caller's call-site data the value a register had on entry is unknown.
          this.state = { kind: 'unavailable', reason: 'entry value' };
          this.skipToPieceOrEnd();
          break;
        }
        case DW_OP.GNU_uninit: break;
        case DW_OP.GNU_parameter_ref: r.u32(); this.state = { kind: 'unavailable', reason: 'parameter reference' }; this.skipToPieceOrEnd(); break;
        default:
          throw new DwarfExpressionError(`unsupported operation 0x${op.toString(16)}`);
      }
    }
    if (this.pieces.length > 0) {
      if (this.state || this.stack.length > 0) throw new DwarfExpressionError('the expression leaves data after its last piece');
      return { kind: 'pieces', pieces: this.pieces };
    }
    if (this.state) return this.state;
    if (this.stack.length === 0) throw new DwarfExpressionError('the expression leaves nothing on the stack');
    return { kind: 'memory', address: this.address(this.pop()) };
  }

  /** The entry value of `operand` from the context, or undefined when it cannot be known. */
  private async entryValue(operand: Uint8Array): Promise<bigint | undefined> {
    if (!this.ctx.entryValue) return undefined;
    try {
      return BigInt.asUintN(this.bits, BigInt(await this.ctx.entryValue(operand)));
    } catch {
      return undefined;
    }
  }

  /** After an unavailable part, skip the rest of that part's operations (we cannot compute them). */
  private skipToPieceOrEnd(): void {
    const r = this.r;
    // Only the common shape "entry_value(...) stack_value [piece]" is supported precisely; any
    // other trailing arithmetic is dropped along with the unavailable value.
    while (!r.atEnd) {
      const op = r.bytes[r.offset];
      if (op === DW_OP.piece || op === DW_OP.bit_piece) return;
      r.skip(operationLength(this.code, r.offset, this.bits / 8, this.ctx.offsetSize));
    }
  }

  private pick(index: number): void {
    const v = this.stack[this.stack.length - 1 - index];
    if (v === undefined) throw new DwarfExpressionError('DW_OP_pick reaches below the stack');
    this.push(v);
  }

  private compare(f: (a: bigint, b: bigint) => boolean): void {
    const b = this.signed(this.pop());
    const a = this.signed(this.pop());
    this.push(f(a, b) ? 1n : 0n);
  }

  private jump(offset: number): void {
    const target = this.r.offset + offset;
    if (target < 0 || target > this.code.length) throw new DwarfExpressionError('a branch leaves the expression');
    this.r.seek(target);
  }
}

/** Length in bytes of the operation at `at` (opcode plus operands). Throws on bad bytes. */
export function operationLength(code: Uint8Array, at: number, addressSize = 4, offsetSize = 4): number {
  const r = new ByteReader(code, (d) => new DwarfExpressionError(d), 'DWARF expression', at);
  decodeOperation(r, addressSize, offsetSize);
  return r.offset - at;
}

export interface DecodedOperation {
  opcode: number;
  name: string;
  operands: (number | bigint)[];
}

const OP_NAMES = new Map<number, string>(Object.entries(DW_OP).map(([k, v]) => [v, `DW_OP_${k}`]));

function opName(op: number): string {
  if (op >= DW_OP.lit0 && op <= DW_OP.lit31) return `DW_OP_lit${op - DW_OP.lit0}`;
  if (op >= DW_OP.reg0 && op <= DW_OP.reg31) return `DW_OP_reg${op - DW_OP.reg0}`;
  if (op >= DW_OP.breg0 && op <= DW_OP.breg31) return `DW_OP_breg${op - DW_OP.breg0}`;
  return OP_NAMES.get(op) ?? `DW_OP_0x${op.toString(16)}`;
}

function decodeOperation(r: ByteReader, addressSize: number, offsetSize: number): DecodedOperation {
  const op = r.u8();
  const operands: (number | bigint)[] = [];
  if (op >= DW_OP.breg0 && op <= DW_OP.breg31) operands.push(r.slebBig());
  else if (!(op >= DW_OP.lit0 && op <= DW_OP.reg31)) {
    switch (op) {
      case DW_OP.addr: operands.push(addressSize === 8 ? r.u64() : r.unsigned(addressSize)); break;
      case DW_OP.const1u: case DW_OP.pick: case DW_OP.deref_size: case DW_OP.xderef_size: operands.push(r.u8()); break;
      case DW_OP.const1s: operands.push(r.s8()); break;
      case DW_OP.const2u: case DW_OP.call2: operands.push(r.u16()); break;
      case DW_OP.const2s: case DW_OP.skip: case DW_OP.bra: operands.push(r.s16()); break;
      case DW_OP.const4u: case DW_OP.call4: case DW_OP.GNU_parameter_ref: operands.push(r.u32()); break;
      case DW_OP.const4s: operands.push(r.s32()); break;
      case DW_OP.const8u: operands.push(r.u64()); break;
      case DW_OP.const8s: operands.push(BigInt.asIntN(64, r.u64())); break;
      case DW_OP.constu: case DW_OP.plus_uconst: case DW_OP.regx: case DW_OP.piece: case DW_OP.addrx: case DW_OP.constx:
      case DW_OP.GNU_addr_index: case DW_OP.GNU_const_index: case DW_OP.convert: case DW_OP.reinterpret:
        operands.push(r.ulebBig()); break;
      case DW_OP.consts: case DW_OP.fbreg: operands.push(r.slebBig()); break;
      case DW_OP.bregx: operands.push(r.ulebBig(), r.slebBig()); break;
      case DW_OP.bit_piece: operands.push(r.ulebBig(), r.ulebBig()); break;
      case DW_OP.call_ref: operands.push(r.unsigned(offsetSize)); break;
      case DW_OP.implicit_value: { const n = r.uleb(); r.skip(n); operands.push(n); break; }
      case DW_OP.entry_value: case DW_OP.GNU_entry_value: { const n = r.uleb(); r.skip(n); operands.push(n); break; }
      case DW_OP.implicit_pointer: case DW_OP.GNU_implicit_pointer: operands.push(r.unsigned(offsetSize), r.slebBig()); break;
      case DW_OP.regval_type: operands.push(r.ulebBig(), r.ulebBig()); break;
      case DW_OP.deref_type: operands.push(r.u8(), r.ulebBig()); break;
      case DW_OP.const_type: { operands.push(r.ulebBig()); r.skip(r.u8()); break; }
      default:
        if (!OP_NAMES.has(op)) throw new DwarfExpressionError(`unknown operation 0x${op.toString(16)}`);
    }
  }
  return { opcode: op, name: opName(op), operands };
}

/** Decodes an expression into operations (for display and tests). Throws DwarfExpressionError. */
export function decodeExpression(code: Uint8Array, addressSize = 4, offsetSize = 4): DecodedOperation[] {
  const r = new ByteReader(code, (d) => new DwarfExpressionError(d), 'DWARF expression');
  const ops: DecodedOperation[] = [];
  while (!r.atEnd) ops.push(decodeOperation(r, addressSize, offsetSize));
  return ops;
}

/** A readable form such as "DW_OP_fbreg: -12; DW_OP_deref". */
export function formatExpression(code: Uint8Array, addressSize = 4, offsetSize = 4): string {
  return decodeExpression(code, addressSize, offsetSize)
    .map((op) => {
      if (op.operands.length === 0) return op.name;
      // Addresses in hex (as readelf prints them), everything else in decimal.
      const operands = op.opcode === DW_OP.addr ? op.operands.map((v) => v.toString(16)) : op.operands.map(String);
      return `${op.name}: ${operands.join(' ')}`;
    })
    .join('; ');
}
