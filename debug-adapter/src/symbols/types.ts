// The C type model built from type DIEs (base, pointer, array, struct/union, enum, typedef,
// qualifiers, function types) and typeName(), which prints a type in C syntax.

import { DW_AT, DW_TAG } from './dwarfConstants';
import { Die } from './debugInfo';
import { DwarfFormatError } from './errors';

export interface BaseType { kind: 'base'; name: string; encoding: number; byteSize: number }
export interface VoidType { kind: 'void' }
export interface PointerType { kind: 'pointer'; target: DwarfType; byteSize: number }
export interface QualifiedType { kind: 'const' | 'volatile' | 'restrict' | 'atomic'; target: DwarfType }
export interface TypedefType { kind: 'typedef'; name: string; target: DwarfType }
export interface ArrayDimension {
  lowerBound: number;
  /** Number of elements; undefined for a flexible array (`int x[]`). */
  count: number | undefined;
}
export interface ArrayType { kind: 'array'; element: DwarfType; dimensions: ArrayDimension[] }
export interface Member {
  name: string | undefined;
  type: DwarfType;
  /** Byte offset of the member (for bit fields: of the byte holding its first bit). */
  byteOffset: number;
  /** For bit fields: size in bits and offset in bits from the start of the struct. */
  bitSize?: number;
  bitOffset?: number;
}
export interface StructType {
  kind: 'struct' | 'union' | 'class';
  name: string | undefined;
  byteSize: number;
  members: Member[];
  /** True for a declaration without a body (`struct foo;`). */
  incomplete: boolean;
}
export interface Enumerator { name: string; value: bigint }
export interface EnumType { kind: 'enum'; name: string | undefined; byteSize: number; underlying: DwarfType | undefined; enumerators: Enumerator[] }
export interface FunctionType { kind: 'function'; returnType: DwarfType; parameters: DwarfType[]; variadic: boolean; prototyped: boolean }
export interface UnknownType { kind: 'unknown'; name: string; byteSize: number }

export type DwarfType =
  | BaseType | VoidType | PointerType | QualifiedType | TypedefType | ArrayType
  | StructType | EnumType | FunctionType | UnknownType;

export const VOID: VoidType = { kind: 'void' };

/**
 * Builds and caches DwarfType objects from type DIEs; cycles (struct pcb { struct pcb *next; },
 * typedef void (*work_fn)(struct work *) with struct work { work_fn fn; }) are fine: every type
 * object is cached before its parts are resolved.
 */
export class TypeResolver {
  private readonly cache = new Map<number, DwarfType>();

  /** The type of a DIE's DW_AT_type (void when absent). Throws DwarfFormatError on broken references. */
  typeOf(die: Die): DwarfType {
    const target = die.ref(DW_AT.type);
    return target ? this.resolve(target) : VOID;
  }

  resolve(die: Die): DwarfType {
    const cached = this.cache.get(die.offset);
    if (cached) return cached;
    const name = die.name;
    const byteSize = die.unsigned(DW_AT.byte_size) ?? 0;
    switch (die.tag) {
      case DW_TAG.base_type:
        return this.store(die, { kind: 'base', name: name ?? '?', encoding: die.unsigned(DW_AT.encoding) ?? 0, byteSize });
      case DW_TAG.unspecified_type:
        return this.store(die, name === 'void' || !name ? VOID : { kind: 'unknown', name, byteSize });
      case DW_TAG.pointer_type:
      case DW_TAG.reference_type: {
        const t: PointerType = { kind: 'pointer', target: VOID, byteSize: byteSize || die.unit.addressSize };
        this.store(die, t);
        t.target = this.typeOf(die);
        return t;
      }
      case DW_TAG.const_type:
      case DW_TAG.volatile_type:
      case DW_TAG.restrict_type:
      case DW_TAG.atomic_type: {
        const kind = die.tag === DW_TAG.const_type ? 'const' : die.tag === DW_TAG.volatile_type ? 'volatile' : die.tag === DW_TAG.restrict_type ? 'restrict' : 'atomic';
        return this.building(die, { kind, target: VOID } as QualifiedType, (t) => { t.target = this.typeOf(die); });
      }
      case DW_TAG.typedef:
        return this.building(die, { kind: 'typedef', name: name ?? '?', target: VOID } as TypedefType, (t) => { t.target = this.typeOf(die); });
      case DW_TAG.array_type: {
        return this.building(die, { kind: 'array', element: VOID, dimensions: [] } as ArrayType, (t) => {
          const dimensions: ArrayDimension[] = [];
          for (const child of die.children) {
            if (child.tag !== DW_TAG.subrange_type) continue;
            const lowerBound = child.unsigned(DW_AT.lower_bound) ?? 0;
            let count = child.unsigned(DW_AT.count);
            const upper = child.attr(DW_AT.upper_bound);
            if (count === undefined && upper && (typeof upper.value === 'number' || typeof upper.value === 'bigint')) {
              const u = Number(upper.value);
              // gcc writes -1 (as 0xffffffff in data4) for zero-length arrays.
              count = u >= 0xffffffff || u < 0 ? 0 : u - lowerBound + 1;
            }
            dimensions.push({ lowerBound, count });
          }
          if (dimensions.length === 0) dimensions.push({ lowerBound: 0, count: undefined });
          t.dimensions = dimensions;
          t.element = this.typeOf(die);
        });
      }
      case DW_TAG.structure_type:
      case DW_TAG.union_type:
      case DW_TAG.class_type: {
        const kind = die.tag === DW_TAG.union_type ? 'union' : die.tag === DW_TAG.class_type ? 'class' : 'struct';
        const t: StructType = { kind, name, byteSize, members: [], incomplete: die.flag(DW_AT.declaration) };
        this.store(die, t);
        for (const child of die.children) if (child.tag === DW_TAG.member) t.members.push(this.member(child));
        return t;
      }
      case DW_TAG.enumeration_type: {
        const t: EnumType = { kind: 'enum', name, byteSize, underlying: undefined, enumerators: [] };
        this.store(die, t);
        if (die.has(DW_AT.type)) t.underlying = this.typeOf(die);
        for (const child of die.children) {
          if (child.tag === DW_TAG.enumerator) t.enumerators.push({ name: child.name ?? '?', value: child.constant(DW_AT.const_value) ?? 0n });
        }
        return t;
      }
      case DW_TAG.subroutine_type: {
        const t: FunctionType = { kind: 'function', returnType: VOID, parameters: [], variadic: false, prototyped: die.flag(DW_AT.prototyped) };
        this.store(die, t);
        t.returnType = this.typeOf(die);
        for (const child of die.children) {
          if (child.tag === DW_TAG.formal_parameter) t.parameters.push(this.typeOf(child));
          else if (child.tag === DW_TAG.unspecified_parameters) t.variadic = true;
        }
        return t;
      }
      default:
        return this.store(die, { kind: 'unknown', name: name ?? `<tag 0x${die.tag.toString(16)}>`, byteSize });
    }
  }

  private store<T extends DwarfType>(die: Die, t: T): T {
    this.cache.set(die.offset, t);
    return t;
  }

  /**
   * Caches `t` for `die`, then lets `fill` resolve its parts (which may refer back to it through a
   * struct, pointer or function type). A chain of typedefs, qualifiers and arrays that comes back
   * to `t` with nothing in between is malformed: DwarfFormatError. On any error nothing is cached.
   */
  private building<T extends QualifiedType | TypedefType | ArrayType>(die: Die, t: T, fill: (t: T) => void): T {
    this.store(die, t);
    try {
      fill(t);
      let next: DwarfType = t.kind === 'array' ? t.element : t.target;
      for (let i = 0; i < 256; i++) {
        if (next === t) throw new DwarfFormatError(`type at ${die.offset} refers to itself`);
        if (next.kind === 'typedef' || next.kind === 'const' || next.kind === 'volatile' || next.kind === 'restrict' || next.kind === 'atomic') next = next.target;
        else if (next.kind === 'array') next = next.element;
        else break;
      }
      return t;
    } catch (e) {
      this.cache.delete(die.offset);
      throw e;
    }
  }

  private member(die: Die): Member {
    const type = this.typeOf(die);
    const location = die.unsigned(DW_AT.data_member_location);
    const bitSize = die.unsigned(DW_AT.bit_size);
    const dataBitOffset = die.unsigned(DW_AT.data_bit_offset);
    if (bitSize !== undefined) {
      let bitOffset: number;
      if (dataBitOffset !== undefined) {
        bitOffset = dataBitOffset;
      } else {
        // DWARF 2-4 style: DW_AT_bit_offset counts from the most significant bit of a storage
        // unit of DW_AT_byte_size bytes at data_member_location (little-endian target).
        const storageBytes = die.unsigned(DW_AT.byte_size) ?? byteSizeOf(type);
        const msbOffset = die.unsigned(DW_AT.bit_offset) ?? 0;
        bitOffset = (location ?? 0) * 8 + storageBytes * 8 - msbOffset - bitSize;
      }
      return { name: die.name, type, byteOffset: Math.floor(bitOffset / 8), bitSize, bitOffset };
    }
    if (dataBitOffset !== undefined) return { name: die.name, type, byteOffset: Math.floor(dataBitOffset / 8) };
    return { name: die.name, type, byteOffset: location ?? 0 };
  }
}

/** Follows typedefs and qualifiers to the type that decides the representation. */
export function stripTypedefs(t: DwarfType): DwarfType {
  for (let i = 0; i < 64; i++) {
    if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'atomic') t = t.target;
    else return t;
  }
  return t;
}

/** Size of an object of type `t` in bytes (0 when unknown, e.g. void or a flexible array). */
export function byteSizeOf(t: DwarfType): number {
  for (let depth = 0; depth < 64; depth++) {
    switch (t.kind) {
      case 'base': case 'pointer': case 'struct': case 'union': case 'class': case 'enum': case 'unknown':
        return t.byteSize;
      case 'array': {
        let n = 1;
        for (const d of t.dimensions) {
          if (d.count === undefined) return 0;
          n *= d.count;
        }
        return n * byteSizeOf(t.element);
      }
      case 'typedef': case 'const': case 'volatile': case 'restrict': case 'atomic':
        t = t.target;
        continue;
      default:
        return 0;
    }
  }
  return 0;
}

/** Prints `t` as C would write it, e.g. `struct pcb *`, `unsigned int[64]`, `int (*)(int, char)`. */
export function typeName(t: DwarfType): string {
  return declare(t, '', 0);
}

function join(left: string, inner: string): string {
  if (inner === '') return left;
  return inner.startsWith('[') || inner.startsWith('(') && !inner.startsWith('(*') ? `${left}${inner}` : `${left} ${inner}`;
}

function declare(t: DwarfType, inner: string, depth: number): string {
  if (depth > 64) return '...';
  switch (t.kind) {
    case 'void': return join('void', inner);
    case 'base': case 'unknown': return join(t.name, inner);
    case 'typedef': return join(t.name, inner);
    case 'struct': case 'union': case 'class': case 'enum':
      return join(`${t.kind} ${t.name ?? '{...}'}`, inner);
    case 'pointer': {
      const target = t.target;
      const star = `*${inner}`;
      const wrapped = target.kind === 'array' || target.kind === 'function' ? `(${star})` : star;
      return declare(target, wrapped, depth + 1);
    }
    case 'const': case 'volatile': case 'restrict': case 'atomic': {
      const word = t.kind === 'atomic' ? '_Atomic' : t.kind;
      if (t.target.kind === 'pointer') return declare(t.target, inner === '' ? word : `${word} ${inner}`, depth + 1);
      const base = declare(t.target, inner, depth + 1);
      return `${word} ${base}`;
    }
    case 'array': {
      const dims = t.dimensions.map((d) => `[${d.count ?? ''}]`).join('');
      return declare(t.element, `${inner}${dims}`, depth + 1);
    }
    case 'function': {
      const params = t.parameters.map((p) => typeName(p));
      if (t.variadic) params.push('...');
      const list = params.length ? params.join(', ') : t.prototyped ? 'void' : '';
      return declare(t.returnType, `${inner}(${list})`, depth + 1);
    }
  }
}
