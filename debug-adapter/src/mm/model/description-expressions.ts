// The C expressions of a memory-model description: parsed once against the kernel's symbols,
// evaluated at each stop in global scope (no frame) with the adapter's C evaluator over a
// TargetAccess built on DescribeAccess.readVirtual. Element expressions see `$elem` (a pointer to
// the current element), `$index`, `$order`, and the element struct's members as bare names.
// Every failure is a DescriptionFailure: a description error (the expression is wrong) or a
// memory failure (the data cannot be read), each one sentence naming the expression.

import { byteSizeOf, DebugSymbols, DwarfType, stripTypedefs } from '../../symbols';
import { CEvaluator, findMember } from '../../inspect/c-evaluator';
import { CExpression, parseExpression } from '../../inspect/c-syntax';
import { BUILTIN, builtinLong, elementOf, isInteger, isPointer, isScalar, pointerTo } from '../../inspect/c-types';
import { CValue, MemoryCache, integerValue, scalarOf, valueBytes } from '../../inspect/c-value';
import { EvaluationError, InspectError } from '../../inspect/errors';
import { TargetAccess } from '../../inspect/target-access';
import { addressToBigInt, AddressWidth } from '../../../../qemu-bridge/src/address';
import type { DescriptionErrorJson } from './snapshot-document';
import type { Expression } from './memory-model';

/** What the evaluator reads a stopped kernel through (the seam of the overview). */
export interface VirtualReader {
  readVirtual(address: bigint, length: number): Promise<Buffer>;
}

/** An expression that failed: `memory` when the data could not be read, else the description is wrong. */
export class DescriptionFailure extends Error {
  constructor(readonly error: DescriptionErrorJson, readonly memory: boolean) {
    super(error.message);
    this.name = 'DescriptionFailure';
  }
}

/** A parsed expression, with where it came from. */
export interface CompiledExpression {
  readonly path: string;
  readonly text: string;
  readonly ast: CExpression;
}

const PLACEHOLDERS = new Set(['elem', 'index', 'order', 'arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5']);

function hasAssignment(e: CExpression): boolean {
  switch (e.kind) {
    case 'assign': return true;
    case 'member': return hasAssignment(e.object);
    case 'index': return hasAssignment(e.array) || hasAssignment(e.index);
    case 'unary': case 'cast': case 'sizeofValue': return hasAssignment(e.operand);
    case 'binary': return hasAssignment(e.left) || hasAssignment(e.right);
    case 'conditional': return hasAssignment(e.test) || hasAssignment(e.then) || hasAssignment(e.otherwise);
    default: return false;
  }
}

/**
 * Parses `value` (a string expression or a number). Throws DescriptionFailure (not memory) with
 * one sentence for text that is not C, or that assigns.
 */
export function compileExpression(symbols: DebugSymbols, path: string, value: Expression): CompiledExpression {
  const text = typeof value === 'number' ? String(value) : value;
  const isTypedef = (name: string): boolean => symbols.globalsNamed(name).length === 0 && symbols.findType(name)?.kind === 'typedef';
  let ast: CExpression;
  try {
    ast = parseExpression(text, isTypedef);
  } catch (e) {
    throw new DescriptionFailure({ path, expression: text, message: `${path} "${text}" is not a C expression: ${e instanceof Error ? e.message : String(e)}` }, false);
  }
  if (hasAssignment(ast)) throw new DescriptionFailure({ path, expression: text, message: `${path} "${text}" assigns; a description only reads the kernel's memory.` }, false);
  return { path, text, ast };
}

/** A TargetAccess over a DescribeAccess: virtual reads only, no registers, no writes. */
class DescribeTarget implements TargetAccess {
  reads = 0;
  constructor(private readonly reader: VirtualReader, readonly addressWidth: AddressWidth) {}

  async readMemory(address: number, length: number): Promise<Buffer> {
    this.reads++;
    return this.reader.readVirtual(addressToBigInt(address, this.addressWidth), length);
  }

  async writeMemory(): Promise<void> {
    throw new EvaluationError('A description never writes the kernel\'s memory.');
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    return new Map();
  }

  async writeRegister(): Promise<void> {
    throw new EvaluationError('A description never writes registers.');
  }
}

/** Names bound in an element expression. */
export interface ElementBindings {
  /** Pointer to the current element. */
  readonly elem?: CValue;
  readonly index?: number;
  readonly order?: number;
}

/** The evaluator of one stop with the placeholders of one element bound. */
class DescriptionEvaluator extends CEvaluator {
  private readonly members: DwarfType | undefined;

  constructor(scope: ConstructorParameters<typeof CEvaluator>[0], private readonly bindings: ElementBindings, private readonly indexType: DwarfType) {
    super(scope);
    const target = bindings.elem ? stripTypedefs(bindings.elem.type) : undefined;
    const pointee = target?.kind === 'pointer' ? stripTypedefs(target.target) : undefined;
    this.members = pointee && (pointee.kind === 'struct' || pointee.kind === 'union') ? pointee : undefined;
  }

  override async evaluate(e: CExpression): Promise<CValue> {
    if (e.kind === 'register') {
      const name = e.name;
      if (name === 'elem' && this.bindings.elem) return this.bindings.elem;
      if (name === 'index' && this.bindings.index !== undefined) return integerValue(this.indexType, BigInt(this.bindings.index));
      if (name === 'order' && this.bindings.order !== undefined) return integerValue(this.indexType, BigInt(this.bindings.order));
      throw new EvaluationError(PLACEHOLDERS.has(name)
        ? `$${name} is not known here (${name === 'elem' || name === 'index' ? 'only in element expressions' : name === 'order' ? 'only in a buddy allocator\'s head' : 'only in tracing'}).`
        : `$${name} is not known in a description: it has no registers; element expressions know $elem and $index, a buddy head $order.`);
    }
    if (e.kind === 'identifier' && this.members && (this.members.kind === 'struct' || this.members.kind === 'union') && findMember(this.members, e.name)) {
      return super.evaluate({ kind: 'member', object: { kind: 'register', name: 'elem' }, member: e.name, arrow: true });
    }
    return super.evaluate(e);
  }
}

/** Where an array's elements are. */
export interface ArrayValue {
  readonly address: bigint;
  readonly elementType: DwarfType;
  readonly elementSize: number;
  /** Declared length, for a C array. */
  readonly length?: number;
}

function isMemoryMessage(message: string): boolean {
  return /^Cannot access memory at address/.test(message);
}

/** One stop's evaluation of compiled expressions: one memory cache for the whole stop. */
export class StopEvaluation {
  private readonly target: DescribeTarget;
  private readonly memory: MemoryCache;

  constructor(readonly symbols: DebugSymbols, reader: VirtualReader) {
    this.target = new DescribeTarget(reader, symbols.addressWidth);
    this.memory = new MemoryCache(this.target);
  }

  get pointerSize(): 4 | 8 {
    return this.symbols.addressSize;
  }

  /** Virtual reads so far (the cache's misses). */
  get reads(): number {
    return this.target.reads;
  }

  /** A pointer to `type` holding `address` (what `$elem` is bound to). */
  pointer(type: DwarfType, address: bigint): CValue {
    return integerValue(pointerTo(type, this.pointerSize), address);
  }

  /** Reads `length` virtual bytes through the stop's cache. Throws DescriptionFailure (memory). */
  async read(c: CompiledExpression, address: bigint, length: number): Promise<Uint8Array> {
    try {
      return await this.memory.read(this.addressNumber(address), length);
    } catch (e) {
      throw this.failure(c, e);
    }
  }

  private addressNumber(address: bigint): number {
    const bits = this.pointerSize * 8;
    const unsigned = BigInt.asUintN(bits, address);
    return bits === 32 ? Number(unsigned) : Number(BigInt.asIntN(64, unsigned));
  }

  private failure(c: CompiledExpression, e: unknown): DescriptionFailure {
    if (e instanceof DescriptionFailure) return e;
    const message = e instanceof Error ? e.message : String(e);
    const memory = isMemoryMessage(message);
    const text = message.replace(/\s+$/, '');
    return new DescriptionFailure({ path: c.path, expression: c.text, message: `${c.path} "${c.text}": ${/[.!?]$/.test(text) ? text : `${text}.`}` }, memory && e instanceof InspectError);
  }

  /** The value of `c` with `bindings`. Throws DescriptionFailure. */
  async value(c: CompiledExpression, bindings: ElementBindings = {}): Promise<CValue> {
    const evaluator = new DescriptionEvaluator({ symbols: this.symbols, memory: this.memory, access: this.target }, bindings, BUILTIN.int);
    try {
      const v = await evaluator.evaluate(c.ast);
      if (v.unavailable) throw new EvaluationError(`The value is ${v.unavailable}.`);
      return v;
    } catch (e) {
      throw this.failure(c, e);
    }
  }

  private async decayed(c: CompiledExpression, bindings: ElementBindings): Promise<{ value: CValue; evaluator: DescriptionEvaluator }> {
    const evaluator = new DescriptionEvaluator({ symbols: this.symbols, memory: this.memory, access: this.target }, bindings, BUILTIN.int);
    try {
      const raw = await evaluator.evaluate(c.ast);
      if (raw.unavailable) throw new EvaluationError(`The value is ${raw.unavailable}.`);
      return { value: await evaluator.decay(raw), evaluator };
    } catch (e) {
      throw this.failure(c, e);
    }
  }

  private describe(c: CompiledExpression, message: string): DescriptionFailure {
    return new DescriptionFailure({ path: c.path, expression: c.text, message: `${c.path} "${c.text}": ${message}` }, false);
  }

  /** An integer (enums as their number, pointers as their address, bool 0/1). */
  async integer(c: CompiledExpression, bindings: ElementBindings = {}): Promise<bigint> {
    const { value } = await this.decayed(c, bindings);
    if (!isScalar(value.type)) throw this.describe(c, `it is a ${this.symbols.typeName(value.type)}, not a number.`);
    let n: bigint | number;
    try {
      n = await scalarOf(value, this.memory);
    } catch (e) {
      throw this.failure(c, e);
    }
    if (typeof n === 'number') {
      if (!Number.isInteger(n)) throw this.describe(c, `it is ${n}, not an integer.`);
      return BigInt(n);
    }
    return n;
  }

  /** An address: the unsigned value of a pointer or an integer. */
  async address(c: CompiledExpression, bindings: ElementBindings = {}): Promise<bigint> {
    const { value } = await this.decayed(c, bindings);
    if (!isPointer(value.type) && !isInteger(value.type)) throw this.describe(c, `it is a ${this.symbols.typeName(value.type)}, not an address.`);
    let n: bigint | number;
    try {
      n = await scalarOf(value, this.memory);
    } catch (e) {
      throw this.failure(c, e);
    }
    return BigInt.asUintN(isPointer(value.type) ? this.pointerSize * 8 : 64, BigInt(n));
  }

  /** The pointer type of an address-valued expression's value (for `$elem`), or undefined for an integer. */
  async pointerValue(c: CompiledExpression, bindings: ElementBindings = {}): Promise<{ address: bigint; pointee?: DwarfType }> {
    const { value } = await this.decayed(c, bindings);
    const s = stripTypedefs(value.type);
    const address = await this.address(c, bindings);
    return s.kind === 'pointer' ? { address, pointee: s.target } : { address };
  }

  /** C truth. */
  async truth(c: CompiledExpression, bindings: ElementBindings = {}): Promise<boolean> {
    const { value, evaluator } = await this.decayed(c, bindings);
    if (!isScalar(value.type)) throw this.describe(c, `it is a ${this.symbols.typeName(value.type)}, not a condition; compare one of its members.`);
    try {
      return await evaluator.truth(value);
    } catch (e) {
      throw this.failure(c, e);
    }
  }

  /** A name: a char array or a char pointer, up to the first NUL (at most 64 bytes). */
  async name(c: CompiledExpression, bindings: ElementBindings = {}): Promise<string> {
    const raw = await this.value(c, bindings);
    const s = stripTypedefs(raw.type);
    let bytes: Uint8Array;
    if (s.kind === 'array' && byteSizeOf(elementOf(s)) === 1) {
      try {
        bytes = (await valueBytes(raw, this.memory)).subarray(0, 64);
      } catch (e) {
        throw this.failure(c, e);
      }
    } else if (s.kind === 'pointer' && byteSizeOf(s.target) === 1) {
      const address = await this.address(c, bindings);
      if (address === 0n) return '';
      const parts: number[] = [];
      for (let i = 0; i < 64; i += 16) {
        const chunk = await this.read(c, address + BigInt(i), 16).catch(() => undefined);
        if (!chunk) break;
        parts.push(...chunk);
        if (chunk.includes(0)) break;
      }
      bytes = Uint8Array.from(parts);
    } else {
      throw this.describe(c, `it is a ${this.symbols.typeName(raw.type)}, not a char array or char pointer.`);
    }
    const nul = bytes.indexOf(0);
    return Buffer.from(bytes.subarray(0, nul < 0 ? bytes.length : nul)).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
  }

  /** A state: an enumerator's name, else the number in decimal. */
  async state(c: CompiledExpression, bindings: ElementBindings = {}): Promise<string> {
    const { value } = await this.decayed(c, bindings);
    const s = stripTypedefs(value.type);
    if (!isScalar(value.type)) throw this.describe(c, `it is a ${this.symbols.typeName(value.type)}, not a state (an enum or a number).`);
    const n = await this.integer(c, bindings);
    if (s.kind === 'enum') {
      const e = s.enumerators.find((x) => x.value === n);
      if (e) return e.name;
    }
    return n.toString();
  }

  /** Where an array's elements are: a C array, or a pointer to the first element. */
  async array(c: CompiledExpression, bindings: ElementBindings = {}): Promise<ArrayValue> {
    const raw = await this.value(c, bindings);
    const s = stripTypedefs(raw.type);
    if (s.kind === 'array') {
      if (raw.location.kind !== 'memory') throw this.describe(c, 'the array is not in memory.');
      const elementType = elementOf(s);
      return { address: addressToBigInt(raw.location.address, this.symbols.addressWidth), elementType, elementSize: byteSizeOf(elementType), length: s.dimensions[0]?.count };
    }
    if (s.kind === 'pointer') {
      const elementType = s.target;
      const size = byteSizeOf(elementType);
      if (size === 0) throw this.describe(c, `it points to ${this.symbols.typeName(elementType)}, whose size is unknown; cast it to a pointer to the element type.`);
      return { address: await this.address(c, bindings), elementType, elementSize: size };
    }
    throw this.describe(c, `it is a ${this.symbols.typeName(raw.type)}, not an array or a pointer to its first element.`);
  }

  /** The builtin unsigned long of the target (for computed pointers). */
  get unsignedLong(): DwarfType {
    return builtinLong(true, this.pointerSize);
  }
}
