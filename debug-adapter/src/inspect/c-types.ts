// C type rules the evaluator needs on top of the DWARF type model: the builtin arithmetic
// types, classification (integer, floating, pointer, char-like), integer promotion and the
// usual arithmetic conversions, and resolution of a written type name against the symbols.

import { ArrayType, BaseType, byteSizeOf, DebugSymbols, DwarfType, PointerType, stripTypedefs } from '../symbols';
import { CTypeName } from './c-syntax';
import { EvaluationError } from './errors';

/** DWARF base type encodings (DW_ATE_*). */
export const ATE = {
  address: 0x1, boolean: 0x2, float: 0x4, signed: 0x5, signedChar: 0x6, unsigned: 0x7, unsignedChar: 0x8, utf: 0x10,
} as const;

function base(name: string, encoding: number, byteSize: number): BaseType {
  return { kind: 'base', name, encoding, byteSize };
}

export const BUILTIN = {
  char: base('char', ATE.signedChar, 1),
  signedChar: base('signed char', ATE.signedChar, 1),
  unsignedChar: base('unsigned char', ATE.unsignedChar, 1),
  short: base('short', ATE.signed, 2),
  unsignedShort: base('unsigned short', ATE.unsigned, 2),
  int: base('int', ATE.signed, 4),
  unsignedInt: base('unsigned int', ATE.unsigned, 4),
  long: base('long', ATE.signed, 4),
  unsignedLong: base('unsigned long', ATE.unsigned, 4),
  longLong: base('long long', ATE.signed, 8),
  unsignedLongLong: base('unsigned long long', ATE.unsigned, 8),
  bool: base('_Bool', ATE.boolean, 1),
  float: base('float', ATE.float, 4),
  double: base('double', ATE.float, 8),
  longDouble: base('long double', ATE.float, 12),
};

const BUILTIN_BY_NAME = new Map<string, BaseType>([
  ['char', BUILTIN.char], ['signed char', BUILTIN.signedChar], ['unsigned char', BUILTIN.unsignedChar],
  ['short int', BUILTIN.short], ['short unsigned int', BUILTIN.unsignedShort], ['int', BUILTIN.int],
  ['unsigned int', BUILTIN.unsignedInt], ['long int', BUILTIN.long], ['long unsigned int', BUILTIN.unsignedLong],
  ['long long int', BUILTIN.longLong], ['long long unsigned int', BUILTIN.unsignedLongLong], ['_Bool', BUILTIN.bool],
  ['float', BUILTIN.float], ['double', BUILTIN.double], ['long double', BUILTIN.longDouble],
]);

/** A pointer to `target` of `size` bytes (4 on i386, 8 on x86-64). */
export function pointerTo(target: DwarfType, size: 4 | 8 = 4): PointerType {
  return { kind: 'pointer', target, byteSize: size };
}

/** The builtin `long`/`unsigned long` of the target's data model (ILP32 or LP64). */
export function builtinLong(unsigned: boolean, size: 4 | 8): BaseType {
  return size === 8 ? (unsigned ? { ...BUILTIN.unsignedLong, byteSize: 8 } : { ...BUILTIN.long, byteSize: 8 }) : unsigned ? BUILTIN.unsignedLong : BUILTIN.long;
}

export function arrayOf(element: DwarfType, count: number): ArrayType {
  return { kind: 'array', element, dimensions: [{ lowerBound: 0, count }] };
}

export function isInteger(t: DwarfType): boolean {
  const s = stripTypedefs(t);
  return (s.kind === 'base' && s.encoding !== ATE.float) || s.kind === 'enum';
}

export function isFloat(t: DwarfType): boolean {
  const s = stripTypedefs(t);
  return s.kind === 'base' && s.encoding === ATE.float;
}

export function isArithmetic(t: DwarfType): boolean {
  return isInteger(t) || isFloat(t);
}

export function isPointer(t: DwarfType): boolean {
  return stripTypedefs(t).kind === 'pointer';
}

export function isScalar(t: DwarfType): boolean {
  return isArithmetic(t) || isPointer(t);
}

/** True for integers read as signed. Enums follow their underlying type (signed when it has none and a value is negative). */
export function isSigned(t: DwarfType): boolean {
  const s = stripTypedefs(t);
  if (s.kind === 'base') return s.encoding === ATE.signed || s.encoding === ATE.signedChar || (s.encoding === ATE.float);
  if (s.kind === 'enum') {
    if (s.underlying) return isSigned(s.underlying);
    return s.enumerators.some((e) => e.value < 0n);
  }
  return false;
}

/** One-byte integers print as a number and a character, like gdb does. */
export function isCharLike(t: DwarfType): boolean {
  const s = stripTypedefs(t);
  return s.kind === 'base' && s.byteSize === 1 && s.encoding !== ATE.boolean && s.encoding !== ATE.float;
}

export function isBool(t: DwarfType): boolean {
  const s = stripTypedefs(t);
  return s.kind === 'base' && s.encoding === ATE.boolean;
}

/** The type a pointer points to, or an array's element type; undefined for other types. */
export function targetOf(t: DwarfType): DwarfType | undefined {
  const s = stripTypedefs(t);
  if (s.kind === 'pointer') return s.target;
  if (s.kind === 'array') return elementOf(s);
  return undefined;
}

/** The element type of an array: for `int a[2][3]` that is `int[3]`. */
export function elementOf(a: ArrayType): DwarfType {
  if (a.dimensions.length <= 1) return a.element;
  return { kind: 'array', element: a.element, dimensions: a.dimensions.slice(1) };
}

/** Number of elements of the first dimension (undefined for flexible arrays). */
export function arrayLength(a: ArrayType): number | undefined {
  return a.dimensions[0]?.count;
}

/** Integer promotion: types narrower than int become int. */
export function promote(t: DwarfType): DwarfType {
  const s = stripTypedefs(t);
  if (s.kind === 'enum') return s.byteSize > 4 ? (isSigned(s) ? BUILTIN.longLong : BUILTIN.unsignedLongLong) : isSigned(s) || s.byteSize < 4 ? BUILTIN.int : BUILTIN.unsignedInt;
  if (s.kind === 'base' && s.encoding !== ATE.float && s.byteSize < 4) return BUILTIN.int;
  return t;
}

/** The common type of a binary arithmetic operation (C's usual arithmetic conversions). */
export function commonArithmeticType(a: DwarfType, b: DwarfType): DwarfType {
  if (isFloat(a) || isFloat(b)) {
    const size = Math.max(isFloat(a) ? byteSizeOf(a) : 0, isFloat(b) ? byteSizeOf(b) : 0);
    return size >= 12 ? BUILTIN.longDouble : size === 8 ? BUILTIN.double : BUILTIN.float;
  }
  const pa = promote(a);
  const pb = promote(b);
  const sa = byteSizeOf(pa);
  const sb = byteSizeOf(pb);
  const size = Math.max(sa, sb);
  const unsignedWins = (!isSigned(pa) && sa === size) || (!isSigned(pb) && sb === size);
  if (size >= 8) return unsignedWins ? BUILTIN.unsignedLongLong : BUILTIN.longLong;
  return unsignedWins ? BUILTIN.unsignedInt : BUILTIN.int;
}

/** Resolves a written type name to a DWARF type (builtins when the program has no such type). Throws EvaluationError. */
export function resolveTypeName(name: CTypeName, symbols: DebugSymbols): DwarfType {
  let t: DwarfType | undefined;
  if (name.base === 'void') t = { kind: 'void' };
  else {
    t = symbols.findType(name.base);
    // gcc calls `short` "short int"; try the other spellings of the builtins too.
    if (!t) {
      let builtin = BUILTIN_BY_NAME.get(name.base);
      if (builtin && (builtin === BUILTIN.long || builtin === BUILTIN.unsignedLong)) builtin = builtinLong(builtin === BUILTIN.unsignedLong, symbols.addressSize);
      if (builtin) t = symbols.findType(builtin.name) ?? builtin;
    }
  }
  if (!t) throw new EvaluationError(`No type named "${name.base}" in the program's debug information; check the spelling (struct/union/enum need their keyword).`);
  for (let i = 0; i < name.pointers; i++) t = pointerTo(t, symbols.addressSize);
  for (let i = name.arrays.length - 1; i >= 0; i--) t = arrayOf(t, name.arrays[i]);
  return t;
}
