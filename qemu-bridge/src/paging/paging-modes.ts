// The four x86 paging modes and their table geometry, detected from the control registers the
// CPU uses to choose one (CR0.PG, CR4.PSE/PAE/LA57/PKE/PCIDE, EFER.LME/LMA/NXE). Pure.

export type PagingKind = 'none' | 'x86-32' | 'pae' | 'x86-64' | 'x86-64-la57';

export type { TableLevel } from '../../../contract/translation';
import type { TableLevel } from '../../../contract/translation';

/** One level of the table tree, outermost first. */
export interface LevelGeometry {
  readonly level: TableLevel;
  /** Bytes per entry (4 in 32-bit paging, 8 otherwise). */
  readonly entryBytes: 4 | 8;
  /** Entries in one table at this level. */
  readonly entries: number;
  /** The virtual address bit where this level's index starts. */
  readonly shift: number;
  /** The page size an entry with PS maps at this level (absent: PS is reserved or ignored). */
  readonly largePage?: bigint;
}

/** Everything a walk depends on besides the tables themselves. */
export interface PagingModel {
  readonly kind: PagingKind;
  readonly levels: readonly LevelGeometry[];
  /** Width of a virtual address (32, 48 or 57); 64-bit modes sign-extend above it. */
  readonly virtualBits: number;
  /** MAXPHYADDR: physical address bits the CPU implements (QEMU's default is 40). */
  readonly physicalBits: number;
  /** EFER.NXE: bit 63 is execute-disable (otherwise reserved). */
  readonly nx: boolean;
  /** CR4.PKE: bits 62:59 of leaf entries are a protection key (4- and 5-level paging). */
  readonly protectionKeys: boolean;
  /** CR4.PGE: the G bit of leaf entries makes the page global. */
  readonly globalPages: boolean;
  /** CR4.PCIDE: the low 12 bits of CR3 are a PCID, not flags. */
  readonly pcid: boolean;
}

/** The registers that select the mode (numbers or bigints; absent EFER reads as 0). */
export interface PagingControls {
  readonly cr0: number | bigint;
  readonly cr4: number | bigint;
  readonly efer?: number | bigint;
}

const CR0_PG = 1n << 31n;
const CR4_PSE = 1n << 4n;
const CR4_PAE = 1n << 5n;
const CR4_PGE = 1n << 7n;
const CR4_PCIDE = 1n << 17n;
const CR4_PKE = 1n << 22n;
const CR4_LA57 = 1n << 12n;
const EFER_LMA = 1n << 10n;
const EFER_NXE = 1n << 11n;

export const KIB4 = 0x1000n;
export const MIB2 = 0x200000n;
export const MIB4 = 0x400000n;
export const GIB1 = 0x40000000n;

const level64 = (level: TableLevel, shift: number, largePage?: bigint): LevelGeometry => ({ level, entryBytes: 8, entries: 512, shift, ...(largePage ? { largePage } : {}) });

/**
 * The paging model the CPU uses with these registers. `physicalBits` is MAXPHYADDR (CPUID
 * 0x80000008; QEMU's CPU models report 40 unless `phys-bits` says otherwise).
 */
export function pagingModel(controls: PagingControls, physicalBits = 40): PagingModel {
  const cr0 = BigInt(controls.cr0);
  const cr4 = BigInt(controls.cr4);
  const efer = BigInt(controls.efer ?? 0);
  const has = (value: bigint, bit: bigint): boolean => (value & bit) !== 0n;
  const base = { physicalBits, pcid: false, protectionKeys: false, globalPages: has(cr4, CR4_PGE) };
  if (!has(cr0, CR0_PG)) return { ...base, kind: 'none', levels: [], virtualBits: 32, nx: false, globalPages: false };
  if (!has(cr4, CR4_PAE)) {
    const pse = has(cr4, CR4_PSE);
    return {
      ...base,
      kind: 'x86-32',
      virtualBits: 32,
      nx: false,
      // 32-bit paging uses at most 40 physical bits (PSE-36 reaches bits 39:32).
      physicalBits: Math.min(physicalBits, 40),
      levels: [
        { level: 'PD', entryBytes: 4, entries: 1024, shift: 22, ...(pse ? { largePage: MIB4 } : {}) },
        { level: 'PT', entryBytes: 4, entries: 1024, shift: 12 },
      ],
    };
  }
  const nx = has(efer, EFER_NXE);
  if (!has(efer, EFER_LMA)) {
    return {
      ...base,
      kind: 'pae',
      virtualBits: 32,
      nx,
      levels: [
        { level: 'PDPT', entryBytes: 8, entries: 4, shift: 30 },
        level64('PD', 21, MIB2),
        level64('PT', 12),
      ],
    };
  }
  const la57 = has(cr4, CR4_LA57);
  const lower = [level64('PML4', 39), level64('PDPT', 30, GIB1), level64('PD', 21, MIB2), level64('PT', 12)];
  return {
    ...base,
    kind: la57 ? 'x86-64-la57' : 'x86-64',
    virtualBits: la57 ? 57 : 48,
    nx,
    protectionKeys: has(cr4, CR4_PKE),
    pcid: has(cr4, CR4_PCIDE),
    levels: la57 ? [level64('PML5', 48), ...lower] : lower,
  };
}

/** The physical address of the top-level table named by CR3 in this mode. */
export function topTableAddress(model: PagingModel, cr3: number | bigint): bigint {
  const value = BigInt(cr3);
  if (model.kind === 'pae') return value & 0xffffffe0n; // 32-byte aligned PDPT
  const mask = model.kind === 'x86-32' ? 0xfffff000n : ((1n << BigInt(model.physicalBits)) - 1n) & ~0xfffn;
  return value & mask;
}

/** The virtual address as the CPU sees it: 32 bits, or sign-extended from `virtualBits`. */
export function canonical(model: PagingModel, virtual: bigint): bigint {
  if (model.virtualBits === 32) return virtual & 0xffffffffn;
  const width = BigInt(model.virtualBits);
  const low = virtual & ((1n << width) - 1n);
  return (low >> (width - 1n)) & 1n ? low | (((1n << 64n) - 1n) ^ ((1n << width) - 1n)) : low;
}

/** True when a 64-bit mode would fault on this address before walking (bits above the width are not a sign extension). */
export function isCanonical(model: PagingModel, virtual: bigint): boolean {
  return model.virtualBits === 32 ? virtual >= 0n && virtual <= 0xffffffffn : canonical(model, virtual) === virtual;
}
