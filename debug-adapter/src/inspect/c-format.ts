// Values printed as gdb prints C: numbers in decimal, one-byte integers with their character,
// enums by name (flag enums as `(A | B)`), pointers in hex with `<symbol+offset>` and the string
// they point to, char arrays as strings, arrays and structs in braces with `<repeats N times>`
// and gdb's 200-element limit. Top-level values add gdb's `(type *)` pointer prefix.

import { ArrayType, byteSizeOf, DebugSymbols, DwarfType, EnumType, FunctionType, stripTypedefs, StructType, typeName } from '../symbols';
import { AddressSymbolizer } from './address-symbols';
import { addressFromBigInt, addressToBigInt, AddressWidth } from '../../../qemu-bridge/src/address';
import { arrayLength, elementOf, isBool, isCharLike, isFloat } from './c-types';
import { CValue, MemoryCache, decodeFloat, decodeInteger, valueBytes, bytesToUnsigned } from './c-value';
import { EvaluationError } from './errors';

/** gdb's defaults: `print elements 200`, `print repeats 10`. */
export const PRINT_ELEMENTS = 200;
export const REPEAT_THRESHOLD = 10;

export class ValueFormatter {
  readonly symbolizer: AddressSymbolizer;
  private readonly width: AddressWidth;

  constructor(
    symbols: DebugSymbols,
    private readonly memory: MemoryCache,
    private readonly registers?: ReadonlyMap<string, number>,
    symbolizer?: AddressSymbolizer,
  ) {
    this.symbolizer = symbolizer ?? new AddressSymbolizer(symbols.elf);
    this.width = symbols.addressWidth;
  }

  /**
   * The value as gdb's `print` shows it (`topLevel`) or as it appears inside a struct or array.
   * Unreadable memory gives `<error: ...>`; a value that does not exist gives `<optimized out>`.
   */
  async format(value: CValue, topLevel = true): Promise<string> {
    if (value.unavailable) return value.unavailable.startsWith('unavailable') ? `<${value.unavailable}>` : '<optimized out>';
    const t = stripTypedefs(value.type);
    if (t.kind === 'function') {
      const address = value.location.kind === 'memory' ? value.location.address : 0;
      return `{${functionTypeName(t)}} ${this.addressText(address)}`;
    }
    if (t.kind === 'unknown') return `<${t.name}>`;
    if (t.kind === 'void') return 'void';
    let bytes: Uint8Array;
    try {
      bytes = await valueBytes(value, this.memory, this.registers);
    } catch (e) {
      return `<error: ${errorText(e)}>`;
    }
    if (value.bitField) return this.formatScalar(value.type, bytes, value.bitField);
    const prefix = topLevel && t.kind === 'pointer' && !isPlainCharPointer(value.type) ? `(${typeName(value.type)}) ` : '';
    return prefix + (await this.formatBytes(value.type, bytes));
  }

  /** Formats `bytes` holding an object of `type`, as it appears nested in another value. */
  async formatBytes(type: DwarfType, bytes: Uint8Array): Promise<string> {
    const t = stripTypedefs(type);
    switch (t.kind) {
      case 'struct': case 'union': case 'class': return this.formatStruct(t, bytes);
      case 'array': return this.formatArray(t, bytes);
      case 'pointer': {
        const raw = bytesToUnsigned(bytes.subarray(0, t.byteSize || 4));
        let address: number;
        try {
          address = addressFromBigInt(raw, this.width);
        } catch {
          return `0x${raw.toString(16)}`; // not an address the target can hold: its bits as they are
        }
        return this.formatPointer(t.target, address);
      }
      default: return this.formatScalar(type, bytes);
    }
  }

  formatScalar(type: DwarfType, bytes: Uint8Array, bitField?: { bitOffset: number; bitSize: number }): string {
    const t = stripTypedefs(type);
    if (t.kind === 'pointer') return `0x${bytesToUnsigned(bytes.subarray(0, t.byteSize || 4)).toString(16)}`;
    if (isFloat(t)) return formatFloat(decodeFloat(bytes.subarray(0, byteSizeOf(t))), byteSizeOf(t));
    const v = decodeInteger(bytes, type, bitField);
    if (t.kind === 'enum') return formatEnum(t, v);
    if (isBool(t)) return v === 0n ? 'false' : v === 1n ? 'true' : v.toString();
    if (isCharLike(t) && !bitField) return `${v} ${charLiteral(Number(BigInt.asUintN(8, v)))}`;
    return v.toString();
  }

  private async formatStruct(t: StructType, bytes: Uint8Array): Promise<string> {
    if (t.incomplete) return '<incomplete type>';
    const parts: string[] = [];
    for (const m of t.members) {
      let text: string;
      if (m.bitSize !== undefined && m.bitOffset !== undefined) {
        const size = Math.ceil((m.bitOffset - m.byteOffset * 8 + m.bitSize) / 8);
        text = this.formatScalar(m.type, bytes.subarray(m.byteOffset, m.byteOffset + size), { bitOffset: m.bitOffset - m.byteOffset * 8, bitSize: m.bitSize });
      } else {
        text = await this.formatBytes(m.type, bytes.subarray(m.byteOffset, m.byteOffset + byteSizeOf(m.type)));
      }
      parts.push(m.name === undefined ? text : `${m.name} = ${text}`);
    }
    return `{${parts.join(', ')}}`;
  }

  private async formatArray(t: ArrayType, bytes: Uint8Array): Promise<string> {
    const element = elementOf(t);
    const length = arrayLength(t);
    const size = byteSizeOf(element);
    if (length === undefined || size === 0) return '{}';
    if (t.dimensions.length === 1 && isCharLike(element)) return formatCharArray(bytes.subarray(0, length), false);
    const parts: string[] = [];
    let printed = 0;
    let i = 0;
    for (; i < length && printed < PRINT_ELEMENTS; i++) {
      const el = bytes.subarray(i * size, (i + 1) * size);
      let reps = 1;
      while (i + reps < length && sameBytes(el, bytes.subarray((i + reps) * size, (i + reps + 1) * size))) reps++;
      const text = await this.formatBytes(element, el);
      if (reps > REPEAT_THRESHOLD) {
        parts.push(`${text} <repeats ${reps} times>`);
        i += reps - 1;
        printed += REPEAT_THRESHOLD;
      } else {
        parts.push(text);
        printed++;
      }
    }
    return `{${parts.join(', ')}${i < length ? '...' : ''}}`;
  }

  /** A pointer as gdb prints it inside a value: hex, symbol, and the string for char pointers. */
  async formatPointer(target: DwarfType, address: number): Promise<string> {
    const base = this.addressText(address);
    if (address === 0 || !isCharLike(target)) return base;
    return `${base} ${await this.readCString(address)}`;
  }

  addressText(address: number): string {
    const label = this.symbolizer.label(address);
    return `0x${addressToBigInt(address, this.width).toString(16)}${label ? ' ' + label : ''}`;
  }

  /** The NUL-terminated string at `address`, at most 200 characters, quoted as gdb quotes it. */
  async readCString(address: number): Promise<string> {
    const chars: number[] = [];
    let error: string | undefined;
    let found = false;
    let a = address;
    while (chars.length <= PRINT_ELEMENTS && !found) {
      const chunk = Math.min(64, 0x100 - (a & 0xff)) || 64;
      let piece: Uint8Array;
      try {
        piece = await this.memory.read(a, chunk);
      } catch (e) {
        error = errorText(e);
        break;
      }
      for (const b of piece) {
        if (b === 0) { found = true; break; }
        chars.push(b);
        if (chars.length > PRINT_ELEMENTS) break;
      }
      a += chunk;
    }
    if (error && chars.length === 0) return `<error: ${error}>`;
    const force = !found && chars.length > PRINT_ELEMENTS;
    const text = formatCharArray(Uint8Array.from(chars.slice(0, PRINT_ELEMENTS)), force, false);
    return error ? `${text}<error: ${error}>` : text;
  }
}

/** A function type as gdb writes it: `void (void *)`. */
function functionTypeName(t: FunctionType): string {
  const params = t.parameters.map((p) => typeName(p));
  if (t.variadic) params.push('...');
  const list = params.length ? params.join(', ') : t.prototyped ? 'void' : '';
  return `${typeName(t.returnType)} (${list})`;
}

/** gdb omits the pointer type only for plain `char *` (qualifiers allowed, typedefs not). */
function isPlainCharPointer(type: DwarfType): boolean {
  let t = type;
  while (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'atomic') t = t.target;
  if (t.kind !== 'pointer') return false;
  let target = t.target;
  while (target.kind === 'const' || target.kind === 'volatile' || target.kind === 'restrict' || target.kind === 'atomic') target = target.target;
  return target.kind === 'base' && target.name === 'char';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function errorText(e: unknown): string {
  const message = e instanceof EvaluationError ? e.message.replace(/\.$/, '') : e instanceof Error ? e.message : String(e);
  return message;
}

/** gdb's %g with 9 significant digits for float, 17 for double, 18 for long double. */
export function formatFloat(v: number, size: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const digits = size === 4 ? 9 : size === 8 ? 17 : 18;
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exponent = Math.floor(Math.log10(Math.abs(v)));
  let text: string;
  if (exponent < -4 || exponent >= digits) {
    text = v.toExponential(Math.min(digits - 1, 100));
    let [mantissa, exp] = text.split('e');
    if (mantissa.includes('.')) mantissa = mantissa.replace(/0+$/, '').replace(/\.$/, '');
    const expNumber = Number(exp);
    text = `${mantissa}e${expNumber < 0 ? '-' : '+'}${String(Math.abs(expNumber)).padStart(2, '0')}`;
  } else {
    text = v.toPrecision(digits);
    if (text.includes('e')) return text;
    if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  }
  return text;
}

/** An enum value by name; flag enums (single disjoint bits) decompose as gdb does. */
export function formatEnum(t: EnumType, v: bigint): string {
  const exact = t.enumerators.find((e) => e.value === v);
  if (exact) return exact.name;
  if (!isFlagEnum(t)) return v.toString();
  let rest = BigInt.asUintN(64, v);
  const names: string[] = [];
  for (const e of t.enumerators) {
    if (e.value !== 0n && (rest & e.value) !== 0n) {
      names.push(e.name);
      rest &= ~e.value;
    }
  }
  if (rest !== 0n) names.push(`unknown: 0x${rest.toString(16)}`);
  if (names.length === 0) return '0';
  return `(${names.join(' | ')})`;
}

function isFlagEnum(t: EnumType): boolean {
  let mask = 0n;
  for (const e of t.enumerators) {
    if (e.value < 0n) return false;
    let bits = 0;
    for (let x = e.value; x > 0n; x >>= 1n) if (x & 1n) bits++;
    if (bits >= 2 || (mask & e.value) !== 0n) return false;
    mask |= e.value;
  }
  return true;
}

const NAMED_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 92: '\\\\' };

/** One character as it appears inside quotes `quote`. */
function escapeChar(c: number, quote: string): string {
  if (NAMED_ESCAPES[c]) return NAMED_ESCAPES[c];
  if (c === quote.charCodeAt(0)) return '\\' + quote;
  if (c >= 0x20 && c < 0x7f) return String.fromCharCode(c);
  return '\\' + c.toString(8).padStart(3, '0');
}

export function charLiteral(c: number): string {
  return `'${escapeChar(c, "'")}'`;
}

/**
 * A char array as gdb prints it: a trailing NUL dropped, runs longer than 10 shown as
 * `'c' <repeats N times>`, at most 200 characters then `...`.
 */
export function formatCharArray(chars: Uint8Array, forceEllipsis: boolean, dropTrailingNul = true): string {
  let length = chars.length;
  if (dropTrailingNul && !forceEllipsis && length > 0 && chars[length - 1] === 0) length--;
  if (length === 0) return '""';
  const groups: { c: number; n: number }[] = [];
  let consumed = 0;
  let i = 0;
  while (consumed < PRINT_ELEMENTS && i < length) {
    let n = 1;
    while (i + n < length && chars[i + n] === chars[i]) n++;
    groups.push({ c: chars[i], n });
    consumed += n;
    i += n;
  }
  // gdb stops reading once 200 characters are consumed; only a string it read to its end is finished.
  const finished = i >= length && consumed < PRINT_ELEMENTS;
  const out: string[] = [];
  let inQuote = false;
  for (const g of groups) {
    if (g.n > REPEAT_THRESHOLD) {
      if (inQuote) { out.push('", '); inQuote = false; } else if (out.length) out.push(', ');
      out.push(`${charLiteral(g.c)} <repeats ${g.n} times>`);
    } else {
      if (!inQuote) { out.push(out.length ? ', "' : '"'); inQuote = true; }
      out.push(escapeChar(g.c, '"').repeat(g.n));
    }
  }
  if (inQuote) out.push('"');
  if (forceEllipsis || !finished) out.push('...');
  return out.join('');
}
