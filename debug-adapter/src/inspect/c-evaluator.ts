// Evaluates a parsed C expression in one frame of the stopped target: names resolve to
// locals (innermost block first), then the current file's statics, globals, enumerators,
// functions and bare ELF symbols; registers come from the frame; the operators follow C's
// rules (promotions, usual arithmetic conversions, pointer arithmetic, array decay).

import {
  byteSizeOf, DebugSymbols, DwarfType, EvaluatedLocation, EnumType, ExpressionContext, FunctionInfo, FunctionType,
  lookupOrder, SimpleLocation, StructType, stripTypedefs, VariableInfo, evaluateValue,
} from '../symbols';
import { DW_TAG } from '../symbols/dwarfConstants';
import { CExpression, parseExpression } from './c-syntax';
import {
  BUILTIN, commonArithmeticType, elementOf, isArithmetic, isFloat, isInteger, isPointer, isScalar, isSigned,
  pointerTo, builtinLong, promote, resolveTypeName, targetOf, arrayOf,
} from './c-types';
import {
  CValue, MemoryCache, floatValue, integerValue, scalarOf,
  storageSize, valueBytes, bytesToUnsigned,
} from './c-value';
import { integerBytes } from '../symbols/byteReader';
import { EvaluationError } from './errors';
import { FrameContext, TargetAccess } from './target-access';
import { addressFromBigInt, AddressWidth, wrapAddress } from '../../../qemu-bridge/src/address';

/** Register names the expression language knows, with gdb's aliases. */
const REGISTER_ALIASES: Record<string, string> = { pc: 'eip', sp: 'esp', fp: 'ebp', ps: 'eflags' };
/** On x86-64 (the target reports rip). */
const REGISTER_ALIASES_64: Record<string, string> = { pc: 'rip', sp: 'rsp', fp: 'rbp', ps: 'eflags' };
/** The x86-64 registers of 64 bits (the others, eflags and the segment selectors, have 32). */
const WIDE_REGISTERS = new Set(['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip',
  'fs_base', 'gs_base', 'k_gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer']);
const CODE_POINTER_64: DwarfType = pointerTo({ kind: 'function', returnType: { kind: 'void' }, parameters: [], variadic: false, prototyped: false }, 8);
const DATA_POINTER_64: DwarfType = pointerTo({ kind: 'void' }, 8);

const CODE_POINTER: DwarfType = pointerTo({ kind: 'function', returnType: { kind: 'void' }, parameters: [], variadic: false, prototyped: false });
const DATA_POINTER: DwarfType = pointerTo({ kind: 'void' });

/** Everything an evaluation needs: symbols, memory, and the frame (absent: globals only). */
export interface EvaluationScope {
  symbols: DebugSymbols;
  memory: MemoryCache;
  access: TargetAccess;
  frame?: FrameContext;
  /** Called after the evaluator wrote memory or a register, so cached views can be dropped. */
  onWrite?(): void;
}

/** The pc used for symbol lookups: caller frames stand at a return address, just past their call. */
export function lookupPc(frame: FrameContext): number {
  return frame.frameIndex > 0 ? wrapAddress(frame.pc - 1, widthOfAddress(frame.pc)) : frame.pc;
}

/**
 * The width an address number belongs to when no target is at hand: a negative number or one
 * past 32 bits is a 64-bit address (address.ts), anything else wraps as i386 does.
 */
function widthOfAddress(a: number): AddressWidth {
  return a < 0 || a > 0xffffffff ? 64 : 32;
}

export class CEvaluator {
  private enumeratorIndex: Map<string, { type: EnumType; value: bigint }> | undefined;

  constructor(private readonly scope: EvaluationScope) {}

  /** Bytes of a pointer on the target (4 on i386, 8 on x86-64). */
  private get pointerSize(): 4 | 8 {
    return this.scope.symbols.addressSize;
  }

  private get width(): AddressWidth {
    return this.scope.symbols.addressWidth;
  }

  /** The address a pointer's value (its unsigned bits) stands for. Throws EvaluationError when the target cannot hold it. */
  private addressOf(value: bigint | number): number {
    try {
      return addressFromBigInt(BigInt.asUintN(this.pointerSize * 8, BigInt(value)), this.width);
    } catch {
      throw new EvaluationError(`Cannot access memory at address 0x${BigInt.asUintN(this.pointerSize * 8, BigInt(value)).toString(16)}.`);
    }
  }

  /** Parses and evaluates `text`. Throws ExpressionSyntaxError or EvaluationError. */
  async evaluateText(text: string): Promise<CValue> {
    const ast = parseExpression(text, (name) => this.isTypedefName(name));
    return this.evaluate(ast);
  }

  isTypedefName(name: string): boolean {
    if (this.findVariable(name)) return false;
    const t = this.scope.symbols.findType(name);
    return t !== undefined && t.kind === 'typedef';
  }

  async evaluate(e: CExpression): Promise<CValue> {
    switch (e.kind) {
      case 'integer': return integerValue(literalType(e.value, e.unsigned, e.longLong, /^0[xXbB0]/.test(e.text) && e.text !== '0'), e.value);
      case 'float': return floatValue(e.single ? BUILTIN.float : BUILTIN.double, e.value);
      case 'char': return integerValue(this.namedBase('char', BUILTIN.char), BigInt(e.value));
      case 'string': {
        const bytes = new Uint8Array(e.bytes.length + 1);
        bytes.set(e.bytes);
        return { type: arrayOf(this.namedBase('char', BUILTIN.char), bytes.length), location: { kind: 'none' }, bytes };
      }
      case 'identifier': return this.identifier(e.name);
      case 'register': return await this.register(e.name);
      case 'member': return this.member(await this.evaluate(e.object), e.member, e.arrow);
      case 'index': return this.index(await this.evaluate(e.array), await this.evaluate(e.index));
      case 'unary': return this.unary(e.op, await this.evaluate(e.operand));
      case 'cast': return this.cast(await this.evaluate(e.operand), resolveTypeName(e.type, this.scope.symbols));
      case 'sizeofType': return integerValue(BUILTIN.unsignedInt, BigInt(byteSizeOf(resolveTypeName(e.type, this.scope.symbols))));
      case 'sizeofValue': return integerValue(BUILTIN.unsignedInt, BigInt(byteSizeOf((await this.evaluate(e.operand)).type)));
      case 'binary': return this.binary(e.op, e.left, e.right);
      case 'conditional': return (await this.truth(await this.evaluate(e.test))) ? this.evaluate(e.then) : this.evaluate(e.otherwise);
      case 'assign': return this.assignValues(await this.evaluate(e.target), await this.evaluate(e.value));
    }
  }

  /** C truth of a scalar value. */
  async truth(v: CValue): Promise<boolean> {
    const d = await this.decay(v);
    if (!isScalar(d.type)) throw new EvaluationError(`A ${this.scope.symbols.typeName(v.type)} cannot be used as a condition; compare one of its members instead.`);
    const n = await this.scalar(d);
    return typeof n === 'number' ? n !== 0 : n !== 0n;
  }

  private namedBase(name: string, fallback: DwarfType): DwarfType {
    const t = this.scope.symbols.findType(name);
    return t && stripTypedefs(t).kind === 'base' ? t : fallback;
  }

  private scalar(v: CValue): Promise<bigint | number> {
    return scalarOf(v, this.scope.memory, this.scope.frame?.registers);
  }

  // ---- names ----

  findVariable(name: string): VariableInfo | undefined {
    const { symbols, frame } = this.scope;
    if (frame) {
      const own = symbols.frameVariablesAt(lookupPc(frame), frame.inlineDepth);
      const found = own ? lookupOrder(own).find((v) => v.name === name) : undefined;
      if (found) return found;
    }
    const file = frame ? symbols.unitAt(lookupPc(frame)) : undefined;
    const fileName = file ? (file.name.startsWith('/') ? file.name : `${file.compDir}/${file.name}`) : undefined;
    const globals = symbols.globalsNamed(name, fileName);
    // A static of another file is still reachable, as in gdb; a definition beats a declaration.
    return globals[0];
  }

  private async identifier(name: string): Promise<CValue> {
    const variable = this.findVariable(name);
    if (variable) return this.variableValue(variable);
    const enumerator = this.enumerator(name);
    if (enumerator) return integerValue(enumerator.type, enumerator.value);
    const fn = this.scope.symbols.functionsNamed(name)[0];
    if (fn) return { type: functionType(fn), location: { kind: 'memory', address: fn.entryPc } };
    const sym = this.scope.symbols.elf.symbolByName(name);
    if (sym && sym.sectionIndex !== 0) {
      if (sym.type === 'func') return { type: { kind: 'function', returnType: BUILTIN.int, parameters: [], variadic: false, prototyped: false }, location: { kind: 'memory', address: sym.value } };
      return { type: { kind: 'unknown', name: '<data variable, no debug info>', byteSize: 4 }, location: { kind: 'memory', address: sym.value } };
    }
    throw new EvaluationError(`No symbol "${name}" in the current context; check the spelling, or stop in the function that declares it.`);
  }

  private enumerator(name: string): { type: EnumType; value: bigint } | undefined {
    if (!this.enumeratorIndex) {
      const index = new Map<string, { type: EnumType; value: bigint }>();
      const symbols = this.scope.symbols;
      for (const unit of symbols.debugInfo.units) {
        for (const die of unit.allDies) {
          if (die.tag !== DW_TAG.enumeration_type) continue;
          const t = symbols.types.resolve(die);
          if (t.kind !== 'enum') continue;
          for (const en of t.enumerators) if (!index.has(en.name)) index.set(en.name, { type: t, value: en.value });
        }
      }
      this.enumeratorIndex = index;
    }
    return this.enumeratorIndex.get(name);
  }

  /** The value of a DWARF variable in the current frame (or a global without a frame). */
  async variableValue(variable: VariableInfo): Promise<CValue> {
    const { symbols, frame } = this.scope;
    if (variable.owner && !frame) throw new EvaluationError(`"${variable.name}" is a local variable; select a stack frame of ${variable.owner.name} to see it.`);
    const pc = frame ? lookupPc(frame) : 0;
    let location: EvaluatedLocation;
    try {
      location = await symbols.locateVariable(variable, pc, this.expressionContext());
    } catch (e) {
      return { type: variable.type, location: { kind: 'none' }, unavailable: `unavailable (${e instanceof Error ? e.message : String(e)})` };
    }
    return this.fromLocation(variable.type, location);
  }

  /** The DWARF expression context of the frame: registers by DWARF number, memory, and the CFA. */
  expressionContext(): ExpressionContext {
    const { frame, memory, symbols } = this.scope;
    const readRegister = (n: number): number => {
      const name = symbols.dwarfRegisterNames[n];
      const v = name ? frame?.registers.get(name) : undefined;
      if (v === undefined) throw new EvaluationError(`register ${name || n} is not known in this frame`);
      return v;
    };
    const ctx: ExpressionContext = {
      addressSize: symbols.addressSize,
      readRegister,
      readMemory: (address, size) => memory.read(address, size),
    };
    ctx.callFrameCfa = async (): Promise<number> => {
      if (frame?.cfa !== undefined) return frame.cfa;
      const row = frame ? symbols.unwindRowAt(lookupPc(frame)) : undefined;
      if (!row) throw new EvaluationError('no call frame information for this pc');
      if (row.cfa.kind === 'registerOffset') return wrapAddress(readRegister(row.cfa.register) + row.cfa.offset, symbols.addressWidth);
      return Number(await evaluateValue(row.cfa.expression, { ...ctx, callFrameCfa: undefined }));
    };
    const caller = frame?.caller;
    if (frame && caller) {
      ctx.entryValue = (operand) => symbols.entryValue(operand, lookupPc(frame), caller.pc, new CEvaluator({ ...this.scope, frame: caller }).expressionContext());
    }
    return ctx;
  }

  private async fromLocation(type: DwarfType, location: EvaluatedLocation): Promise<CValue> {
    const size = byteSizeOf(type);
    if (location.kind === 'pieces') {
      const bytes = new Uint8Array(size);
      let bit = 0;
      for (const piece of location.pieces) {
        const part = await this.simpleBytes(piece.location, Math.ceil((piece.sizeBits + piece.offsetBits) / 8));
        if (part === undefined) return { type, location: { kind: 'none' }, unavailable: 'optimized out' };
        const value = (bytesToUnsigned(part) >> BigInt(piece.offsetBits)) & ((1n << BigInt(piece.sizeBits)) - 1n);
        let acc = bytesToUnsigned(bytes) | (value << BigInt(bit));
        for (let i = 0; i < size; i++) { bytes[i] = Number(acc & 0xffn); acc >>= 8n; }
        bit += piece.sizeBits;
      }
      return { type, location: { kind: 'none' }, bytes };
    }
    switch (location.kind) {
      case 'memory': return { type, location: { kind: 'memory', address: wrapAddress(location.address, this.scope.symbols.addressWidth) } };
      case 'register': {
        const name = this.scope.symbols.dwarfRegisterNames[location.register];
        const v = name ? this.scope.frame?.registers.get(name) : undefined;
        if (!name || v === undefined) return { type, location: { kind: 'none' }, unavailable: 'optimized out' };
        return { type, location: { kind: 'register', name }, bytes: integerBytes(BigInt(v), Math.max(size, 4)).subarray(0, size) };
      }
      case 'value': return { type, location: { kind: 'none' }, bytes: integerBytes(location.value, size) };
      case 'implicit': {
        const bytes = new Uint8Array(size);
        bytes.set(location.bytes.subarray(0, size));
        return { type, location: { kind: 'none' }, bytes };
      }
      case 'implicitPointer': return { type, location: { kind: 'none' }, unavailable: 'optimized out' };
      case 'unavailable': return { type, location: { kind: 'none' }, unavailable: 'optimized out' };
    }
  }

  private async simpleBytes(location: SimpleLocation, size: number): Promise<Uint8Array | undefined> {
    switch (location.kind) {
      case 'memory': return this.scope.memory.read(location.address, size);
      case 'register': {
        const name = this.scope.symbols.dwarfRegisterNames[location.register];
        const v = name ? this.scope.frame?.registers.get(name) : undefined;
        return v === undefined ? undefined : integerBytes(BigInt(v), Math.max(size, 4));
      }
      case 'value': return integerBytes(location.value, Math.max(size, 8));
      case 'implicit': {
        const out = new Uint8Array(size);
        out.set(location.bytes.subarray(0, size));
        return out;
      }
      default: return undefined;
    }
  }

  private async register(rawName: string): Promise<CValue> {
    const registers = this.scope.frame?.registers;
    if (!registers) throw new EvaluationError(`$${rawName} needs a stopped frame; pause the target first.`);
    const x64 = registers.has('rip');
    const name = (x64 ? REGISTER_ALIASES_64 : REGISTER_ALIASES)[rawName.toLowerCase()] ?? rawName.toLowerCase();
    const v = registers.get(name);
    if (v === undefined) {
      throw new EvaluationError(x64
        ? `There is no register $${rawName} in this frame; try $rax..$r15, $rip, $rsp, $rbp, $eflags, $cs..$gs, $fs_base, $gs_base, $cr0..$cr8 or $efer.`
        : `There is no register $${rawName} in this frame; try $eax..$edi, $esp, $ebp, $eip, $eflags, $cs..$gs, $cr0, $cr2, $cr3 or $cr4.`);
    }
    if (!(x64 && WIDE_REGISTERS.has(name))) {
      const type = name === 'eip' ? CODE_POINTER : name === 'esp' || name === 'ebp' ? DATA_POINTER : BUILTIN.int;
      return { type, location: { kind: 'register', name }, bytes: integerBytes(BigInt(v), 4) };
    }
    // Frame 0's 64-bit registers exactly (a number holds 64-bit data only within ±2^53).
    const live = this.scope.frame?.frameIndex === 0 ? (await this.scope.access.readExactRegisters?.().catch(() => undefined))?.get(name) : undefined;
    // The live value only where it is this frame's (an exception stop's frame 0 is the faulting frame).
    const exact = live !== undefined && Number(BigInt.asIntN(64, live)) === v ? live : BigInt(v);
    const type = name === 'rip' ? CODE_POINTER_64 : name === 'rsp' || name === 'rbp' ? DATA_POINTER_64 : builtinLong(false, 8);
    return { type, location: { kind: 'register', name }, bytes: integerBytes(exact, 8) };
  }

  // ---- operators ----

  private async member(object: CValue, name: string, arrow: boolean): Promise<CValue> {
    let target = object;
    // Like gdb, "." on a pointer to a struct reaches through it.
    if (!arrow && isPointer(object.type)) {
      const pointee = stripTypedefs(targetOf(object.type) ?? { kind: 'void' });
      if (pointee.kind === 'struct' || pointee.kind === 'union') arrow = true;
    }
    if (arrow) {
      if (!isPointer((await this.decay(object)).type)) throw new EvaluationError(`"->${name}" needs a pointer to a struct or union, but the left side is a ${this.scope.symbols.typeName(object.type)}.`);
      target = await this.dereference(await this.decay(object));
    }
    const s = stripTypedefs(target.type);
    if (s.kind !== 'struct' && s.kind !== 'union' && s.kind !== 'class') {
      throw new EvaluationError(`"${arrow ? '->' : '.'}${name}" needs a struct or union, but the value is a ${this.scope.symbols.typeName(target.type)}${!arrow && isPointer(s) ? '; use "->" for a pointer' : ''}.`);
    }
    const found = findMember(s, name);
    if (!found) throw new EvaluationError(`There is no member named "${name}" in ${this.scope.symbols.typeName(target.type)}.`);
    return memberValue(target, found.member, found.offset);
  }

  private async index(base: CValue, index: CValue): Promise<CValue> {
    if (!isInteger(index.type)) {
      if (isInteger(base.type)) return this.index(index, base);
      throw new EvaluationError('An array index must be an integer.');
    }
    const i = Number(await this.scalar(index));
    const s = stripTypedefs(base.type);
    if (s.kind === 'array') {
      const element = elementOf(s);
      const size = byteSizeOf(element);
      if (base.unavailable) return { type: element, location: { kind: 'none' }, unavailable: base.unavailable };
      if (base.location.kind === 'memory') return { type: element, location: { kind: 'memory', address: wrapAddress(base.location.address + i * size, this.width) } };
      const bytes = await valueBytes(base, this.scope.memory, this.scope.frame?.registers);
      if (i < 0 || (i + 1) * size > bytes.length) throw new EvaluationError(`Index ${i} is outside the array, which is not in memory.`);
      return { type: element, location: { kind: 'none' }, bytes: bytes.slice(i * size, (i + 1) * size) };
    }
    if (s.kind === 'pointer') {
      const address = this.addressOf(await this.scalar(base));
      const size = byteSizeOf(s.target);
      if (size === 0 && stripTypedefs(s.target).kind !== 'void') throw new EvaluationError(`Cannot index a pointer to ${this.scope.symbols.typeName(s.target)}, whose size is unknown.`);
      return { type: s.target, location: { kind: 'memory', address: wrapAddress(address + i * (size || 1), this.width) } };
    }
    throw new EvaluationError(`Cannot index a ${this.scope.symbols.typeName(base.type)}; only arrays and pointers can be indexed.`);
  }

  /** Arrays decay to a pointer to their first element, functions to a function pointer. */
  async decay(v: CValue): Promise<CValue> {
    const s = stripTypedefs(v.type);
    if (s.kind === 'array' && v.location.kind === 'memory') return integerValue(pointerTo(elementOf(s), this.pointerSize), BigInt(v.location.address));
    if (s.kind === 'function' && v.location.kind === 'memory') return integerValue(pointerTo(v.type, this.pointerSize), BigInt(v.location.address));
    return v;
  }

  async dereference(pointer: CValue): Promise<CValue> {
    const p = await this.decay(pointer);
    const s = stripTypedefs(p.type);
    if (s.kind === 'function') return p;
    if (s.kind !== 'pointer') throw new EvaluationError(`Cannot dereference a ${this.scope.symbols.typeName(pointer.type)}; only pointers can be dereferenced.`);
    const target = s.target;
    const ts = stripTypedefs(target);
    if (ts.kind === 'void') throw new EvaluationError('Cannot dereference a void pointer; cast it to a pointer to the right type first.');
    const address = this.addressOf(await this.scalar(p));
    return { type: target, location: { kind: 'memory', address } };
  }

  private async unary(op: string, operand: CValue): Promise<CValue> {
    switch (op) {
      case '*': return this.dereference(operand);
      case '&': {
        if (operand.bitField) throw new EvaluationError('Cannot take the address of a bit field.');
        if (operand.location.kind !== 'memory') throw new EvaluationError(operand.location.kind === 'register' ? 'Cannot take the address of a value held in a register.' : 'Cannot take the address of a value that is not in memory.');
        return integerValue(pointerTo(operand.type, this.pointerSize), BigInt(operand.location.address));
      }
      case '!': return integerValue(BUILTIN.int, (await this.truth(operand)) ? 0n : 1n);
      default: {
        const v = await this.decay(operand);
        if (!isArithmetic(v.type) || (op === '~' && isFloat(v.type))) throw new EvaluationError(`Operator "${op}" needs ${op === '~' ? 'an integer' : 'a number'}, not a ${this.scope.symbols.typeName(v.type)}.`);
        const n = await this.scalar(v);
        if (typeof n === 'number') return floatValue(v.type, op === '-' ? -n : n);
        const t = promote(v.type);
        const r = op === '-' ? -n : op === '~' ? ~n : n;
        return integerValue(t, wrap(r, t));
      }
    }
  }

  async cast(v: CValue, to: DwarfType): Promise<CValue> {
    const target = stripTypedefs(to);
    if (target.kind === 'void') return { type: to, location: { kind: 'none' }, bytes: new Uint8Array(0) };
    if (target.kind === 'struct' || target.kind === 'union' || target.kind === 'class' || target.kind === 'array') {
      if (v.location.kind === 'memory') return { type: to, location: v.location };
      throw new EvaluationError(`Cannot cast a ${this.scope.symbols.typeName(v.type)} to ${this.scope.symbols.typeName(to)}; cast a pointer and dereference it instead.`);
    }
    const source = v.type.kind === 'unknown' && v.location.kind === 'memory' ? await this.reinterpretUnknown(v, to) : await this.decay(v);
    if (source !== v && v.type.kind === 'unknown') return source;
    if (!isScalar(source.type)) throw new EvaluationError(`Cannot cast a ${this.scope.symbols.typeName(v.type)} to ${this.scope.symbols.typeName(to)}.`);
    const n = await this.scalar(source);
    return convertScalar(n, to);
  }

  private async reinterpretUnknown(v: CValue, to: DwarfType): Promise<CValue> {
    return { type: to, location: v.location };
  }

  private async binary(op: string, leftExpr: CExpression, rightExpr: CExpression): Promise<CValue> {
    if (op === '&&' || op === '||') {
      const left = await this.truth(await this.evaluate(leftExpr));
      if (op === '&&' && !left) return integerValue(BUILTIN.int, 0n);
      if (op === '||' && left) return integerValue(BUILTIN.int, 1n);
      return integerValue(BUILTIN.int, (await this.truth(await this.evaluate(rightExpr))) ? 1n : 0n);
    }
    const left = await this.decay(await this.evaluate(leftExpr));
    const right = await this.decay(await this.evaluate(rightExpr));
    const lp = isPointer(left.type);
    const rp = isPointer(right.type);
    if (lp || rp) return this.pointerArithmetic(op, left, right);
    if (!isArithmetic(left.type) || !isArithmetic(right.type)) {
      const bad = isArithmetic(left.type) ? right : left;
      throw new EvaluationError(`Operator "${op}" cannot be applied to a ${this.scope.symbols.typeName(bad.type)}.`);
    }
    const a = await this.scalar(left);
    const b = await this.scalar(right);
    if (op === '<<' || op === '>>') {
      if (typeof a === 'number' || typeof b === 'number') throw new EvaluationError(`Operator "${op}" needs integers.`);
      const t = promote(left.type);
      const bits = BigInt(byteSizeOf(t) * 8);
      const count = b & (bits - 1n);
      return integerValue(t, wrap(op === '<<' ? a << count : a >> count, t));
    }
    const t = commonArithmeticType(left.type, right.type);
    if (isFloat(t)) {
      const x = Number(a);
      const y = Number(b);
      switch (op) {
        case '+': return floatValue(t, x + y);
        case '-': return floatValue(t, x - y);
        case '*': return floatValue(t, x * y);
        case '/': return floatValue(t, x / y);
        case '%': throw new EvaluationError('Operator "%" needs integers.');
        default: return integerValue(BUILTIN.int, compare(op, x, y) ? 1n : 0n);
      }
    }
    const x = wrap(BigInt(a), t);
    const y = wrap(BigInt(b), t);
    switch (op) {
      case '+': return integerValue(t, wrap(x + y, t));
      case '-': return integerValue(t, wrap(x - y, t));
      case '*': return integerValue(t, wrap(x * y, t));
      case '/': case '%':
        if (y === 0n) throw new EvaluationError('Division by zero.');
        return integerValue(t, wrap(op === '/' ? x / y : x % y, t));
      case '&': return integerValue(t, wrap(x & y, t));
      case '|': return integerValue(t, wrap(x | y, t));
      case '^': return integerValue(t, wrap(x ^ y, t));
      default: return integerValue(BUILTIN.int, compare(op, x, y) ? 1n : 0n);
    }
  }

  private async pointerArithmetic(op: string, left: CValue, right: CValue): Promise<CValue> {
    const lp = isPointer(left.type);
    const rp = isPointer(right.type);
    const a = BigInt(await this.scalar(left));
    const b = BigInt(await this.scalar(right));
    if (['<', '>', '<=', '>=', '==', '!='].includes(op)) {
      const bits = this.pointerSize * 8;
      return integerValue(BUILTIN.int, compare(op, BigInt.asUintN(bits, a), BigInt.asUintN(bits, b)) ? 1n : 0n);
    }
    const elementSize = (t: DwarfType): bigint => BigInt(byteSizeOf(targetOf(t) ?? { kind: 'void' }) || 1);
    if (op === '+' && lp !== rp) {
      const [p, n, pt] = lp ? [a, b, left.type] : [b, a, right.type];
      if (!isInteger(lp ? right.type : left.type)) throw new EvaluationError('Only an integer can be added to a pointer.');
      return integerValue(pt, BigInt.asUintN(this.pointerSize * 8, p + n * elementSize(pt)));
    }
    if (op === '-' && lp && !rp) {
      if (!isInteger(right.type)) throw new EvaluationError('Only an integer can be subtracted from a pointer.');
      return integerValue(left.type, BigInt.asUintN(this.pointerSize * 8, a - b * elementSize(left.type)));
    }
    if (op === '-' && lp && rp) {
      const size = elementSize(left.type);
      if (size !== elementSize(right.type)) throw new EvaluationError('Both pointers of a subtraction must point to objects of the same size.');
      return integerValue(builtinLong(false, this.pointerSize), BigInt.asIntN(this.pointerSize * 8, a - b) / size);
    }
    throw new EvaluationError(`Operator "${op}" cannot be applied to a pointer.`);
  }

  /** The number a scalar expression evaluates to (for register writes). Throws EvaluationError. */
  async scalarOfText(text: string): Promise<bigint | number> {
    const v = await this.decay(await this.evaluateText(text));
    if (!isScalar(v.type)) throw new EvaluationError(`"${text}" is not a number.`);
    return this.scalar(v);
  }

  /** Stores `source` converted to target's type into target's storage; returns the new value. */
  async assignValues(target: CValue, source: CValue): Promise<CValue> {
    if (target.unavailable) throw new EvaluationError(`Cannot assign to a value that is ${target.unavailable}.`);
    if (target.location.kind === 'none') throw new EvaluationError('The left side of "=" is not a variable or memory location.');
    if (!isScalar(target.type)) throw new EvaluationError(`Only scalars (numbers, enums, pointers) can be assigned, not a ${this.scope.symbols.typeName(target.type)}.`);
    const converted = await this.cast(source, target.type);
    await this.store(target, await valueBytes(converted, this.scope.memory));
    if (target.location.kind === 'register') return { ...target, bytes: (await valueBytes(converted, this.scope.memory)).slice(0, byteSizeOf(target.type)) };
    return { type: target.type, location: target.location, bitField: target.bitField };
  }

  /** Writes `bytes` (the new contents of a scalar of target's type) to target's storage. */
  private async store(target: CValue, bytes: Uint8Array): Promise<void> {
    const { access, memory, frame } = this.scope;
    if (target.location.kind === 'register') {
      if (!frame || frame.frameIndex !== 0) throw new EvaluationError('Registers can only be changed in the innermost frame; select frame 0.');
      const old = BigInt(frame.registers.get(target.location.name) ?? 0);
      const size = bytes.length;
      const mask = (1n << BigInt(size * 8)) - 1n;
      const value = (old & ~mask) | bytesToUnsigned(bytes);
      await access.writeRegister(target.location.name, size > 4 ? BigInt.asUintN(64, value) : Number(BigInt.asUintN(32, value)));
      this.scope.onWrite?.();
      return;
    }
    if (target.location.kind !== 'memory') throw new EvaluationError('The value has no storage to write to.');
    const address = target.location.address;
    let data = bytes;
    if (target.bitField) {
      const size = storageSize(target);
      const old = bytesToUnsigned(await memory.read(address, size));
      const { bitOffset, bitSize } = target.bitField;
      const mask = ((1n << BigInt(bitSize)) - 1n) << BigInt(bitOffset);
      const value = (old & ~mask) | ((bytesToUnsigned(bytes) << BigInt(bitOffset)) & mask);
      data = integerBytes(value, size);
    }
    await access.writeMemory(address, data);
    memory.invalidateRange(address, data.length);
    this.scope.onWrite?.();
  }
}

/** A member of struct `s` by name, searching anonymous struct/union members too; `offset` is the byte offset of the member's container. */
export function findMember(s: StructType, name: string): { member: StructType['members'][number]; offset: number } | undefined {
  for (const m of s.members) {
    if (m.name === name) return { member: m, offset: 0 };
    if (m.name === undefined) {
      const inner = stripTypedefs(m.type);
      if (inner.kind === 'struct' || inner.kind === 'union') {
        const found = findMember(inner, name);
        if (found) return { member: found.member, offset: found.offset + m.byteOffset };
      }
    }
  }
  return undefined;
}

/** The value of `member` of struct value `object` (offset: of an anonymous container). */
export function memberValue(object: CValue, member: StructType['members'][number], extraOffset = 0): CValue {
  const byteOffset = member.byteOffset + extraOffset;
  const bitField = member.bitSize !== undefined && member.bitOffset !== undefined
    ? { bitOffset: member.bitOffset - member.byteOffset * 8, bitSize: member.bitSize }
    : undefined;
  const base = { type: member.type, ...(bitField ? { bitField } : {}) };
  if (object.unavailable) return { ...base, location: { kind: 'none' }, unavailable: object.unavailable };
  if (object.location.kind === 'memory') return { ...base, location: { kind: 'memory', address: wrapAddress(object.location.address + byteOffset, widthOfAddress(object.location.address)) } };
  const size = bitField ? Math.ceil((bitField.bitOffset + bitField.bitSize) / 8) : byteSizeOf(member.type);
  if (object.bytes) return { ...base, location: { kind: 'none' }, bytes: object.bytes.slice(byteOffset, byteOffset + size) };
  return { ...base, location: { kind: 'none' }, unavailable: 'not in memory' };
}

function functionType(fn: FunctionInfo): FunctionType {
  return {
    kind: 'function',
    returnType: fn.returnType,
    parameters: fn.parameters.map((p) => p.type),
    variadic: fn.die.children.some((c) => c.tag === DW_TAG.unspecified_parameters),
    prototyped: true,
  };
}

function literalType(value: bigint, unsigned: boolean, longLong: boolean, nonDecimal: boolean): DwarfType {
  const fits = (bits: number, signed: boolean): boolean => (signed ? value < (1n << BigInt(bits - 1)) : value < (1n << BigInt(bits)));
  if (!longLong) {
    if (!unsigned && fits(32, true)) return BUILTIN.int;
    if ((unsigned || nonDecimal) && fits(32, false)) return BUILTIN.unsignedInt;
  }
  if (!unsigned && fits(64, true)) return BUILTIN.longLong;
  return BUILTIN.unsignedLongLong;
}

/** `n` wrapped to the width and signedness of integer type `t`. */
function wrap(n: bigint, t: DwarfType): bigint {
  const bits = (byteSizeOf(t) || 4) * 8;
  return isSigned(t) ? BigInt.asIntN(bits, n) : BigInt.asUintN(bits, n);
}

function compare(op: string, a: bigint | number, b: bigint | number): boolean {
  switch (op) {
    case '<': return a < b;
    case '>': return a > b;
    case '<=': return a <= b;
    case '>=': return a >= b;
    case '==': return a === b;
    case '!=': return a !== b;
    default: throw new EvaluationError(`Unknown operator "${op}".`);
  }
}

/** A number converted to scalar type `to` (C conversion rules; floats truncate toward zero). */
export function convertScalar(n: bigint | number, to: DwarfType): CValue {
  const t = stripTypedefs(to);
  if (isFloat(t)) return floatValue(to, Number(n));
  if (t.kind === 'base' && t.encoding === 0x2) return integerValue(to, (typeof n === 'number' ? n !== 0 : n !== 0n) ? 1n : 0n);
  const integer = typeof n === 'number' ? BigInt(Math.trunc(Number.isFinite(n) ? n : 0)) : n;
  return integerValue(to, integer);
}

