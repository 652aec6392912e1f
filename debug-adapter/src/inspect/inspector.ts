// The Inspector: scopes, variables, C expression evaluation, setVariable and disassembly for a
// stopped target, over DebugSymbols and a TargetAccess. It knows nothing of DAP beyond the plain
// shapes in target-access.ts; the session maps them one to one onto DAP responses.

import { byteSizeOf, DebugSymbols, DwarfType, lookupOrder, stripTypedefs, typeName, VariableInfo } from '../symbols';
import { AddressSymbolizer } from './address-symbols';
import { CEvaluator, EvaluationScope, findMember, lookupPc, memberValue } from './c-evaluator';
import { ValueFormatter } from './c-format';
import { arrayLength, elementOf, isCharLike, isScalar } from './c-types';
import { CValue, MemoryCache, bytesToUnsigned, valueBytes } from './c-value';
import { CodeMode, DecodedInstruction, decodeInstructions, instructionsBefore } from './disassembler';
import { EvaluationError, StaleReferenceError } from './errors';
import { bitsOf, decodeFlags, fieldValue, hexBits, registerDefinitionsFor, RegisterField, withField } from './registers';
import { addressFromBigInt, AddressWidth, formatAddress, wrapAddress } from '../../../qemu-bridge/src/address';
import {
  EvaluateContext, FrameContext, InspectDisassembledInstruction, InspectEvaluateResult, InspectScope,
  InspectSetVariableResult, InspectVariable, TargetAccess,
} from './target-access';

/** What a variables reference stands for. */
type Container =
  | { kind: 'locals'; frame: FrameContext }
  | { kind: 'globals'; frame: FrameContext; variables: VariableInfo[] }
  | { kind: 'registers'; frame: FrameContext }
  | { kind: 'registerFields'; frame: FrameContext; register: string; fields: readonly RegisterField[] }
  | { kind: 'value'; frame?: FrameContext; value: CValue; evaluateName: string };

/** Objects larger than this are summarised instead of read whole. */
const MAX_FORMAT_BYTES = 1 << 20;

export class Inspector {
  private readonly memory: MemoryCache;
  private readonly symbolizer: AddressSymbolizer;
  private containers = new Map<number, Container>();
  private nextReference = 1;
  /** Registers written by setVariable since the last resume (exact unsigned values), applied over frame 0's. */
  private registerOverrides = new Map<string, bigint>();

  /** Width of the target's addresses. */
  private get width(): AddressWidth {
    return this.access.addressWidth ?? 32;
  }

  private hexAddress(address: number): string {
    return formatAddress(address, this.width);
  }

  constructor(readonly symbols: DebugSymbols, readonly access: TargetAccess) {
    this.memory = new MemoryCache(access);
    this.symbolizer = new AddressSymbolizer(symbols.elf);
  }

  /** Drops every variable reference and cached memory; the session calls it on every resume. */
  invalidate(): void {
    this.containers = new Map();
    this.memory.clear();
    this.registerOverrides.clear();
  }

  /** Locals (parameters and lexical blocks at the pc), Registers, Globals of the current file. */
  async scopes(frame: FrameContext): Promise<InspectScope[]> {
    frame = this.effectiveFrame(frame);
    const pc = lookupPc(frame);
    const locals = this.localsWithNames(frame);
    const scopes: InspectScope[] = [
      { name: 'Locals', presentationHint: 'locals', variablesReference: this.allocate({ kind: 'locals', frame }), namedVariables: locals.length, expensive: false },
      { name: 'Registers', presentationHint: 'registers', variablesReference: this.allocate({ kind: 'registers', frame }), expensive: false },
    ];
    const unit = this.symbols.unitAt(pc);
    if (unit) {
      const file = unit.name.startsWith('/') ? unit.name : `${unit.compDir}/${unit.name}`;
      const globals = unit.globals.length ? unit.globals : this.symbols.globalsOfFile(file);
      scopes.push({ name: 'Globals', variablesReference: this.allocate({ kind: 'globals', frame, variables: globals }), namedVariables: globals.length, expensive: false });
    }
    return scopes;
  }

  /** Children of a scope, struct, array or pointer; `start`/`count` page through arrays. */
  async variables(reference: number, start?: number, count?: number): Promise<InspectVariable[]> {
    const c = this.container(reference);
    switch (c.kind) {
      case 'locals': return this.variableList(c.frame, this.localsWithNames(c.frame));
      case 'globals': return this.variableList(c.frame, c.variables.map((v) => ({ name: v.name, variable: v })));
      case 'registers': return this.registerVariables(c.frame);
      case 'registerFields': return this.registerFieldVariables(c.frame, c.register, c.fields);
      case 'value': return this.childVariables(c, start, count);
    }
  }

  /** Evaluates a C expression in `frame` (globals and registers only when absent). Throws InspectError. */
  async evaluate(expression: string, frame?: FrameContext, context?: EvaluateContext): Promise<InspectEvaluateResult> {
    void context;
    const f = frame ? this.effectiveFrame(frame) : undefined;
    const value = await this.evaluator(f).evaluateText(expression);
    if (value.unavailable && !value.bytes) {
      // gdb prints optimized-out values rather than failing.
      return { result: '<optimized out>', type: typeName(value.type), variablesReference: 0 };
    }
    const v = await this.describe(expression, value, f, true, expression.trim());
    // Like gdb, a value whose own storage cannot be read is an error, not a result.
    if (v.value.startsWith('<error: ') && v.value.endsWith('>')) throw new EvaluationError(v.value.slice(8, -1) + '.');
    return {
      result: v.value,
      ...(v.type !== undefined ? { type: v.type } : {}),
      variablesReference: v.variablesReference,
      ...(v.namedVariables !== undefined ? { namedVariables: v.namedVariables } : {}),
      ...(v.indexedVariables !== undefined ? { indexedVariables: v.indexedVariables } : {}),
      ...(v.memoryReference !== undefined ? { memoryReference: v.memoryReference } : {}),
    };
  }

  /** True when a breakpoint condition holds (non-zero). Throws InspectError when it cannot be evaluated. */
  async evaluateCondition(expression: string, frame: FrameContext): Promise<boolean> {
    const ev = this.evaluator(this.effectiveFrame(frame));
    return ev.truth(await ev.evaluateText(expression));
  }

  /** A logpoint message with each `{expression}` replaced by its value (errors shown inline). */
  async interpolateLogMessage(template: string, frame: FrameContext): Promise<string> {
    const parts: string[] = [];
    let last = 0;
    const re = /\{([^{}]+)\}/g;
    for (let m = re.exec(template); m; m = re.exec(template)) {
      parts.push(template.slice(last, m.index));
      try {
        parts.push((await this.evaluate(m[1], frame, 'repl')).result);
      } catch (e) {
        parts.push(`<${e instanceof Error ? e.message : String(e)}>`);
      }
      last = m.index + m[0].length;
    }
    parts.push(template.slice(last));
    return parts.join('');
  }

  /** Sets the scalar `name` inside container `reference` to the C expression `value`. Throws InspectError. */
  async setVariable(reference: number, name: string, value: string): Promise<InspectSetVariableResult> {
    const c = this.container(reference);
    if (c.kind === 'registers' || c.kind === 'registerFields') return this.setRegister(c, name, value);
    const frame = c.frame;
    const ev = this.evaluator(frame);
    const target = await this.childValue(c, name);
    if (!isScalar(target.value.type)) throw new EvaluationError(`"${name}" is a ${typeName(target.value.type)}; only numbers, enums and pointers can be set. Expand it and set one of its members.`);
    const written = await ev.assignValues(target.value, await ev.evaluateText(value));
    const v = await this.describe(name, written, frame, c.kind !== 'value', target.evaluateName);
    return {
      value: v.value,
      ...(v.type !== undefined ? { type: v.type } : {}),
      variablesReference: v.variablesReference,
      ...(v.namedVariables !== undefined ? { namedVariables: v.namedVariables } : {}),
      ...(v.indexedVariables !== undefined ? { indexedVariables: v.indexedVariables } : {}),
      ...(v.memoryReference !== undefined ? { memoryReference: v.memoryReference } : {}),
    };
  }

  /**
   * `count` instructions starting `instructionOffset` instructions from `address` (negative
   * offsets go backwards); source lines attached when `resolveLine` is true. Unreadable memory
   * gives instructions with presentationHint 'invalid'.
   */
  async disassemble(address: number, count: number, resolveLine = true, instructionOffset = 0): Promise<InspectDisassembledInstruction[]> {
    address = wrapAddress(address, this.width);
    const mode: CodeMode = { bitness: (await this.access.codeBitness?.()) ?? 32, width: this.width };
    const decoded: (DecodedInstruction | { address: number; invalid: true; unreadable: true })[] = [];
    if (instructionOffset < 0) {
      const back = -instructionOffset;
      const windowStart = this.width === 32 ? Math.max(0, address - back * 15 - 32) : address - back * 15 - 32;
      const bytes = await this.readAvailable(windowStart, address - windowStart);
      const before = bytes ? instructionsBefore(bytes, windowStart, address, mode) : [];
      const usable = before.slice(Math.max(0, before.length - back));
      // Pad with placeholders when the code before `address` cannot be read or decoded.
      for (let i = usable.length; i < back; i++) decoded.push({ address: wrapAddress(address - (back - i), this.width), invalid: true, unreadable: true });
      decoded.push(...usable);
    }
    const forwardSkip = Math.max(0, instructionOffset);
    const wanted = count - decoded.length + forwardSkip;
    let at = address;
    const forward: (DecodedInstruction | { address: number; invalid: true; unreadable: true })[] = [];
    while (forward.length < wanted) {
      const chunk = Math.max(64, (wanted - forward.length) * 15);
      const bytes = await this.readAvailable(at, chunk);
      if (!bytes || bytes.length === 0) {
        forward.push({ address: wrapAddress(at, this.width), invalid: true, unreadable: true });
        at += 1;
        continue;
      }
      const list = decodeInstructions(bytes, at, wanted - forward.length, mode);
      if (list.length === 0) {
        forward.push({ address: wrapAddress(at, this.width), invalid: true, unreadable: true });
        at += 1;
        continue;
      }
      forward.push(...list);
      const last = list[list.length - 1];
      at = last.address + last.length;
    }
    decoded.push(...forward.slice(forwardSkip));
    const out: InspectDisassembledInstruction[] = [];
    let lastFile: string | undefined;
    for (const d of decoded.slice(0, count)) {
      if ('unreadable' in d) {
        out.push({ address: this.hexAddress(d.address), instruction: '<unreadable memory>', presentationHint: 'invalid' });
        continue;
      }
      const sym = this.codeSymbol(d.address);
      let text = d.text;
      if (d.branchTarget !== undefined) {
        const label = this.codeSymbol(d.branchTarget);
        if (label) text += ` <${label}>`;
      }
      const instruction: InspectDisassembledInstruction = {
        address: this.hexAddress(d.address),
        instructionBytes: Array.from(d.bytes, (b) => b.toString(16).padStart(2, '0')).join(' '),
        instruction: text,
        ...(sym ? { symbol: sym } : {}),
        ...(d.invalid ? { presentationHint: 'invalid' as const } : {}),
      };
      if (resolveLine) {
        const loc = this.symbols.addressToLine(d.address);
        if (loc) {
          if (loc.file !== lastFile) instruction.location = { name: loc.file.split('/').pop() ?? loc.file, path: loc.file };
          lastFile = loc.file;
          instruction.line = loc.line;
          if (loc.column) instruction.column = loc.column;
        }
      }
      out.push(instruction);
    }
    return out;
  }

  // ---- references ----

  private allocate(c: Container): number {
    const ref = this.nextReference++;
    this.containers.set(ref, c);
    return ref;
  }

  private container(reference: number): Container {
    const c = this.containers.get(reference);
    if (!c) throw new StaleReferenceError(reference);
    return c;
  }

  private effectiveFrame(frame: FrameContext): FrameContext {
    if (frame.frameIndex !== 0 || this.registerOverrides.size === 0) return frame;
    const registers = new Map(frame.registers);
    const defs = registerDefinitionsFor(frame.registers);
    for (const [k, v] of this.registerOverrides) {
      const def = defs.find((d) => d.name === k);
      registers.set(k, def && bitsOf(def) === 64 ? Number(BigInt.asIntN(64, v)) : Number(v));
    }
    return { ...frame, registers };
  }

  private scope(frame?: FrameContext): EvaluationScope {
    return {
      symbols: this.symbols,
      memory: this.memory,
      access: this.access,
      ...(frame ? { frame } : {}),
      onWrite: () => undefined,
    };
  }

  private evaluator(frame?: FrameContext): CEvaluator {
    return new CEvaluator(this.scope(frame));
  }

  private formatter(frame?: FrameContext): ValueFormatter {
    return new ValueFormatter(this.symbols, this.memory, frame?.registers, this.symbolizer);
  }

  // ---- variables ----

  /**
   * The frame's variables as gdb lists them: `info args`, then `info locals` (innermost block
   * first). A variable hidden by another of the same name that is looked up first (an inner
   * block's, or a local hiding a parameter) is shown as `name (line N)`.
   */
  private localsWithNames(frame: FrameContext): { name: string; variable: VariableInfo }[] {
    const own = this.symbols.frameVariablesAt(lookupPc(frame), frame.inlineDepth);
    if (!own) return [];
    const visible = new Map<string, VariableInfo>();
    for (const v of lookupOrder(own)) if (!visible.has(v.name)) visible.set(v.name, v);
    return [...own.parameters, ...own.locals].map((v) => ({ name: visible.get(v.name) === v ? v.name : `${v.name} (line ${v.declLine ?? '?'})`, variable: v }));
  }

  private async variableList(frame: FrameContext, list: { name: string; variable: VariableInfo }[]): Promise<InspectVariable[]> {
    const ev = this.evaluator(frame);
    const out: InspectVariable[] = [];
    for (const { name, variable } of list) {
      const value = await ev.variableValue(variable);
      // Like gdb's `info locals`: no `(type *)` prefix, the type is shown on its own.
      const v = await this.describe(name, value, frame, false, variable.name);
      if (variable.isParameter) v.presentationHint = { kind: 'property', attributes: ['parameter'] };
      out.push(v);
    }
    return out;
  }

  /** A value as a DAP-shaped variable: text, type, expandability and memory reference. */
  private async describe(name: string, value: CValue, frame: FrameContext | undefined, topLevel: boolean, evaluateName: string): Promise<InspectVariable> {
    const formatter = this.formatter(frame);
    const size = byteSizeOf(value.type);
    const text = size > MAX_FORMAT_BYTES && !value.bitField ? `{...} (${size} bytes)` : await formatter.format(value, topLevel);
    const v: InspectVariable = { name, value: text, type: typeName(value.type), variablesReference: 0, evaluateName };
    if (value.unavailable) return v;
    const t = stripTypedefs(value.type);
    if (value.location.kind === 'memory') v.memoryReference = this.hexAddress(value.location.address);
    if (t.kind === 'struct' || t.kind === 'union' || t.kind === 'class') {
      if (!t.incomplete && t.members.length) {
        v.variablesReference = this.allocate({ kind: 'value', frame, value, evaluateName });
        v.namedVariables = t.members.length;
      }
    } else if (t.kind === 'array') {
      const n = arrayLength(t) ?? 0;
      if (n > 0) {
        v.variablesReference = this.allocate({ kind: 'value', frame, value, evaluateName });
        v.indexedVariables = n;
      }
    } else if (t.kind === 'pointer') {
      let address: number | undefined;
      try {
        const size = byteSizeOf(t) || 4;
        address = addressFromBigInt(bytesToUnsigned((await valueBytes(value, this.memory, frame?.registers)).subarray(0, size)), size === 8 ? 64 : 32);
      } catch {
        address = undefined;
      }
      if (address !== undefined) {
        v.memoryReference = this.hexAddress(address);
        const target = stripTypedefs(t.target);
        const expandable = address !== 0 && target.kind !== 'void' && target.kind !== 'function' && !isCharLike(target) && byteSizeOf(target) > 0;
        if (expandable) {
          v.variablesReference = this.allocate({ kind: 'value', frame, value, evaluateName });
          if (target.kind === 'struct' || target.kind === 'union') v.namedVariables = target.members.length;
          else v.namedVariables = 1;
        }
      }
    }
    return v;
  }

  private async childVariables(c: Extract<Container, { kind: 'value' }>, start?: number, count?: number): Promise<InspectVariable[]> {
    const t = stripTypedefs(c.value.type);
    const out: InspectVariable[] = [];
    if (t.kind === 'array') {
      const n = arrayLength(t) ?? 0;
      const from = Math.max(0, start ?? 0);
      const to = Math.min(n, count ? from + count : n);
      const element = elementOf(t);
      const size = byteSizeOf(element);
      for (let i = from; i < to; i++) {
        const child = this.arrayElement(c.value, element, size, i);
        out.push(await this.describe(`[${i}]`, child, c.frame, false, `${wrapOperand(c.evaluateName)}[${i}]`));
      }
      return out;
    }
    let object = c.value;
    let access = `${wrapOperand(c.evaluateName)}.`;
    if (t.kind === 'pointer') {
      object = await this.evaluator(c.frame).dereference(c.value);
      const target = stripTypedefs(object.type);
      if (target.kind !== 'struct' && target.kind !== 'union' && target.kind !== 'class') {
        return [await this.describe(`*${c.evaluateName}`, object, c.frame, false, `*${wrapOperand(c.evaluateName)}`)];
      }
      access = `${wrapOperand(c.evaluateName)}->`;
    }
    const s = stripTypedefs(object.type);
    if (s.kind !== 'struct' && s.kind !== 'union' && s.kind !== 'class') return out;
    for (const m of s.members) {
      const child = memberValue(object, m);
      const name = m.name ?? '<anonymous>';
      out.push(await this.describe(name, child, c.frame, false, m.name ? access + m.name : c.evaluateName));
    }
    return out;
  }

  private arrayElement(array: CValue, element: DwarfType, size: number, i: number): CValue {
    if (array.location.kind === 'memory') return { type: element, location: { kind: 'memory', address: wrapAddress(array.location.address + i * size, this.width) } };
    if (array.bytes) return { type: element, location: { kind: 'none' }, bytes: array.bytes.slice(i * size, (i + 1) * size) };
    return { type: element, location: { kind: 'none' }, unavailable: array.unavailable ?? 'optimized out' };
  }

  /** The child called `name` of a container, for setVariable. */
  private async childValue(c: Container, name: string): Promise<{ value: CValue; evaluateName: string }> {
    if (c.kind === 'locals' || c.kind === 'globals') {
      const list = c.kind === 'locals' ? this.localsWithNames(c.frame) : c.variables.map((v) => ({ name: v.name, variable: v }));
      const found = list.find((x) => x.name === name);
      if (!found) throw new EvaluationError(`There is no variable "${name}" in this scope; refresh the Variables view.`);
      return { value: await this.evaluator(c.frame).variableValue(found.variable), evaluateName: found.variable.name };
    }
    if (c.kind !== 'value') throw new EvaluationError(`"${name}" cannot be set here.`);
    const t = stripTypedefs(c.value.type);
    if (t.kind === 'array') {
      const m = /^\[(\d+)\]$/.exec(name);
      if (!m) throw new EvaluationError(`"${name}" is not an element of the array.`);
      const element = elementOf(t);
      return { value: this.arrayElement(c.value, element, byteSizeOf(element), Number(m[1])), evaluateName: `${wrapOperand(c.evaluateName)}${name}` };
    }
    let object = c.value;
    let access = `${wrapOperand(c.evaluateName)}.`;
    if (t.kind === 'pointer') {
      object = await this.evaluator(c.frame).dereference(c.value);
      access = `${wrapOperand(c.evaluateName)}->`;
      const target = stripTypedefs(object.type);
      if (target.kind !== 'struct' && target.kind !== 'union' && target.kind !== 'class') return { value: object, evaluateName: `*${wrapOperand(c.evaluateName)}` };
    }
    const s = stripTypedefs(object.type);
    if (s.kind !== 'struct' && s.kind !== 'union' && s.kind !== 'class') throw new EvaluationError(`"${name}" cannot be set here.`);
    const found = findMember(s, name);
    if (!found) throw new EvaluationError(`There is no member "${name}" in ${typeName(object.type)}.`);
    return { value: memberValue(object, found.member, found.offset), evaluateName: access + name };
  }

  // ---- registers ----

  /**
   * The registers of `frame` with exact unsigned values: from its numbers, each replaced by the
   * target's exact live value where that is the same register value (frame 0 of a plain stop;
   * not the faulting frame an exception stop shows as frame 0).
   */
  private async exactRegisters(frame: FrameContext): Promise<Map<string, bigint>> {
    const live = frame.frameIndex === 0 ? await this.access.readExactRegisters?.().catch(() => undefined) : frame.exactRegisters;
    const out = new Map<string, bigint>();
    for (const [k, v] of frame.registers) out.set(k, exactIfSame(live?.get(k), v));
    if (frame.frameIndex === 0) for (const [k, v] of this.registerOverrides) out.set(k, v);
    return out;
  }

  private async registerVariables(frame: FrameContext): Promise<InspectVariable[]> {
    const out: InspectVariable[] = [];
    const values = await this.exactRegisters(frame);
    for (const def of registerDefinitionsFor(frame.registers)) {
      const value = values.get(def.name);
      if (value === undefined) continue;
      const bits = bitsOf(def);
      const isPc = def.name === 'eip' || def.name === 'rip';
      let text = def.group === 'segment' ? hexBits(value, 16) : hexBits(value, bits);
      if (isPc) {
        const sym = this.codeSymbol(frame.registers.get(def.name) ?? 0);
        if (sym) text += ` <${sym}>`;
      }
      if (def.fields) text += ` ${decodeFlags(value, def.fields)}`;
      const v: InspectVariable = {
        name: def.name,
        value: text,
        type: def.group === 'pointer' ? (isPc ? 'code pointer' : 'data pointer') : def.group === 'flags' ? 'flags' : bits === 64 ? 'uint64_t' : 'uint32_t',
        variablesReference: def.fields ? this.allocate({ kind: 'registerFields', frame, register: def.name, fields: def.fields }) : 0,
        evaluateName: `$${def.name}`,
        memoryReference: def.group === 'pointer' ? hexBits(value, this.width === 64 ? 64 : 32) : undefined,
      };
      if (v.memoryReference === undefined) delete v.memoryReference;
      if (def.fields) v.namedVariables = def.fields.length;
      out.push(v);
    }
    return out;
  }

  private async registerFieldVariables(frame: FrameContext, register: string, fields: readonly RegisterField[]): Promise<InspectVariable[]> {
    const value = (await this.exactRegisters(frame)).get(register) ?? 0n;
    return fields.map((f) => {
      const v = fieldValue(value, f);
      const text = f.name === 'PDBR' ? `0x${(v * 4096).toString(16).padStart(8, '0')}` : String(v);
      return { name: f.name, value: text, type: `${f.description} (bit${f.width > 1 ? `s ${f.bit}-${f.bit + f.width - 1}` : ` ${f.bit}`})`, variablesReference: 0 };
    });
  }

  private async setRegister(c: Extract<Container, { kind: 'registers' | 'registerFields' }>, name: string, valueText: string): Promise<InspectSetVariableResult> {
    if (c.frame.frameIndex !== 0) throw new EvaluationError('Registers can only be changed in the innermost frame; select frame 0.');
    const frame = this.effectiveFrame(c.frame);
    const ev = this.evaluator(frame);
    const defs = registerDefinitionsFor(frame.registers);
    const register = c.kind === 'registerFields' ? c.register : name;
    const def = defs.find((d) => d.name === register);
    const bits = def ? bitsOf(def) : 32;
    const n = BigInt.asUintN(bits, BigInt(await ev.scalarOfText(valueText)));
    let newValue = n;
    if (c.kind === 'registerFields') {
      const field = c.fields.find((f) => f.name === name);
      if (!field) throw new EvaluationError(`There is no field "${name}" in ${c.register}.`);
      const old = (await this.exactRegisters(frame)).get(register) ?? 0n;
      newValue = withField(old, field, field.name === 'PDBR' && n >= 4096n ? n >> 12n : n);
    } else if (!def) {
      throw new EvaluationError(`There is no register "${name}".`);
    }
    await this.access.writeRegister(register, bits === 64 ? newValue : Number(newValue));
    this.registerOverrides.set(register, newValue);
    this.memory.clear();
    const updated = this.effectiveFrame(c.frame);
    if (c.kind === 'registerFields') {
      const field = c.fields.find((f) => f.name === name);
      const v = field ? fieldValue(newValue, field) : 0;
      return { value: field?.name === 'PDBR' ? `0x${(v * 4096).toString(16).padStart(8, '0')}` : String(v), variablesReference: 0 };
    }
    const row = (await this.registerVariables(updated)).find((r) => r.name === name);
    return { value: row?.value ?? hexBits(newValue, bits), variablesReference: row?.variablesReference ?? 0 };
  }

  // ---- helpers ----

  private codeSymbol(address: number): string | undefined {
    const fn = this.symbols.functionAt(address);
    if (fn) {
      const off = address - fn.lowPc;
      return off ? `${fn.name}+${off}` : fn.name;
    }
    const s = this.symbolizer.symbolize(address);
    if (!s) return undefined;
    return s.offset ? `${s.name}+${s.offset}` : s.name;
  }

  /** Reads up to `length` bytes at `address`, stopping at the first unreadable byte; undefined if none is readable. */
  private async readAvailable(address: number, length: number): Promise<Uint8Array | undefined> {
    try {
      return await this.memory.read(address, length);
    } catch {
      // Shrink to the readable prefix, one 256-byte chunk at a time.
      const parts: Uint8Array[] = [];
      let at = address;
      const end = address + length;
      while (at < end) {
        const step = Math.min(end - at, 256 - (at - Math.floor(at / 256) * 256));
        try {
          parts.push(await this.memory.read(at, step));
        } catch {
          break;
        }
        at += step;
      }
      if (parts.length === 0) return undefined;
      return Buffer.concat(parts);
    }
  }
}

/** Parenthesises an evaluateName when it is not a simple postfix expression. */
function wrapOperand(expression: string): string {
  return /^[A-Za-z_$][\w$]*(\s*(\.|->)\s*[A-Za-z_]\w*|\[\d+\])*$/.test(expression) ? expression : `(${expression})`;
}

/** `exact` when it is the register value the number `n` stands for (its signed 64-bit or unsigned form), else `n`'s unsigned bits. */
export function exactIfSame(exact: bigint | undefined, n: number): bigint {
  if (exact !== undefined && (Number(exact) === n || Number(BigInt.asIntN(64, exact)) === n)) return exact;
  return BigInt.asUintN(64, BigInt(n));
}
