// One paging-structure entry decoded bit by bit for its mode and level (Intel SDM vol. 3, 4.3-4.5
// tables of entry formats): what it points to, its permissions, and the reserved bits that are set
// (the CPU faults with PFEC.RSVD on those, so they are reported, never used). Pure.

import { LevelGeometry, PagingModel } from './paging-modes';
import { EntryBit } from '../../../contract/translation';

export interface PageEntry {
  readonly raw: bigint;
  readonly present: boolean;
  /** PS at a level that has large pages: the entry maps a page instead of pointing to a table. */
  readonly leaf: boolean;
  /** A leaf above the last level (2 MiB, 4 MiB or 1 GiB page). */
  readonly largePage: boolean;
  readonly writable: boolean;
  readonly user: boolean;
  readonly writeThrough: boolean;
  readonly cacheDisable: boolean;
  readonly accessed: boolean;
  /** Leaf entries only. */
  readonly dirty: boolean;
  /** Leaf entries only, and only with CR4.PGE. */
  readonly global: boolean;
  /** The PAT bit (bit 7 of a 4 KiB entry, bit 12 of a large page). */
  readonly pat: boolean;
  /** Execute-disable (bit 63 with EFER.NXE). */
  readonly noExecute: boolean;
  /** Protection key (bits 62:59 of leaf entries with CR4.PKE). */
  readonly protectionKey?: number;
  /** The bits software may use (9-11, and 52-58 of 64-bit entries), packed: bits 9-11 low, then 52-58. */
  readonly available: number;
  /** The next table's address, or the page's physical base. */
  readonly address: bigint;
  /** Reserved bits that are set (0n when the entry is well formed or not present). */
  readonly reserved: bigint;
  /** The low 12 bits (the flags the snapshot keeps). */
  readonly flags: number;
}

const bit = (n: number): bigint => 1n << BigInt(n);
const range = (high: number, low: number): bigint => (bit(high + 1) - 1n) ^ (bit(low) - 1n);

/** The masks of one level in one model, for a table pointer and for a leaf. */
interface LevelMasks {
  readonly table: { address: bigint; reserved: bigint };
  readonly leaf: { address: bigint; reserved: bigint };
  /** 32-bit paging, 4 MiB pages: how many PSE-36 bits (20:13) are physical bits 39:32. */
  readonly pse36Bits: number;
}

const maskCache = new WeakMap<PagingModel, Map<LevelGeometry, LevelMasks>>();

function masksOf(model: PagingModel, geometry: LevelGeometry): LevelMasks {
  let perModel = maskCache.get(model);
  if (!perModel) maskCache.set(model, (perModel = new Map()));
  let m = perModel.get(geometry);
  if (m) return m;
  const maxPhys = model.physicalBits;
  const largeLow = geometry.largePage !== undefined ? Number(log2(geometry.largePage)) : 12;
  if (geometry.entryBytes === 4) {
    const pse36Bits = Math.max(0, Math.min(8, maxPhys - 32));
    m = {
      table: { address: range(31, 12), reserved: 0n },
      // A 4 MiB PDE: bit 21 and the PSE-36 bits above MAXPHYADDR are reserved.
      leaf: geometry.level === 'PT' ? { address: range(31, 12), reserved: 0n } : { address: range(31, 22), reserved: bit(21) | (range(20, 13) & ~((bit(pse36Bits) - 1n) << 13n)) },
      pse36Bits,
    };
  } else if (model.kind === 'pae' && geometry.level === 'PDPT') {
    // A PAE PDPTE has no RW/US/A/PS/NX. Real CPUs refuse bits 2:1 and 8:5 when CR3 is loaded;
    // QEMU ignores them (and sets bit 5 itself), so only what both refuse is called reserved:
    // bits 63:MAXPHYADDR, NX included.
    const entry = { address: range(maxPhys - 1, 12), reserved: range(63, maxPhys) };
    m = { table: entry, leaf: entry, pse36Bits: 0 };
  } else {
    // PAE entries reserve 62:MAXPHYADDR; 4- and 5-level entries only 51:MAXPHYADDR (62:52 are ignored or a key).
    let reserved = model.kind === 'pae' ? range(62, maxPhys) : maxPhys <= 51 ? range(51, maxPhys) : 0n;
    if (!model.nx) reserved |= bit(63);
    // PS is reserved in PML4/PML5 entries.
    const table = reserved | (geometry.level === 'PML4' || geometry.level === 'PML5' ? bit(7) : 0n);
    const isLarge = geometry.level !== 'PT';
    m = {
      table: { address: range(maxPhys - 1, 12), reserved: table },
      // Between PAT (bit 12) and the frame of a large page.
      leaf: { address: range(maxPhys - 1, largeLow), reserved: reserved | (isLarge ? range(largeLow - 1, 13) : 0n) },
      pse36Bits: 0,
    };
  }
  perModel.set(geometry, m);
  return m;
}

/** Decodes `raw`, an entry of a table at `geometry` in `model`. */
export function decodeEntry(model: PagingModel, geometry: LevelGeometry, raw: bigint): PageEntry {
  const low = Number(raw & 0xffffffffn);
  const high = geometry.entryBytes === 8 ? Number(raw >> 32n) : 0;
  const has = (n: number): boolean => ((low >>> n) & 1) === 1;
  const present = has(EntryBit.present);
  const pdpteOfPae = model.kind === 'pae' && geometry.level === 'PDPT';
  const leaf = geometry.level === 'PT' || (geometry.largePage !== undefined && has(EntryBit.pageSize));
  const largeLeaf = leaf && geometry.level !== 'PT';
  const wide = geometry.entryBytes === 8;
  const masks = masksOf(model, geometry);
  const kind = leaf ? masks.leaf : masks.table;
  let address = raw & kind.address;
  // PSE-36: bits 20:13 of a 4 MiB PDE are physical bits 39:32.
  if (!wide && largeLeaf && masks.pse36Bits) address |= BigInt((low >>> 13) & ((1 << masks.pse36Bits) - 1)) << 32n;
  const reserved = present && kind.reserved !== 0n ? raw & kind.reserved : 0n;
  const protectionKey = wide && leaf && model.protectionKeys && model.kind !== 'pae' ? (high >>> 27) & 0xf : undefined;
  const availableHigh = wide && model.kind !== 'pae' ? (high >>> 20) & 0x7f : 0;
  return {
    raw,
    present,
    leaf: present && leaf,
    largePage: present && largeLeaf,
    writable: !pdpteOfPae && has(EntryBit.writable),
    user: !pdpteOfPae && has(EntryBit.user),
    writeThrough: has(EntryBit.writeThrough),
    cacheDisable: has(EntryBit.cacheDisable),
    accessed: !pdpteOfPae && has(EntryBit.accessed),
    dirty: leaf && has(EntryBit.dirty),
    global: leaf && model.globalPages && has(EntryBit.global),
    // PAT: bit 12 of a large page, the PS bit's place in a 4 KiB PTE.
    pat: leaf && (largeLeaf ? has(12) : has(EntryBit.pageSize)),
    noExecute: wide && model.nx && (high >>> (EntryBit.noExecute - 32)) === 1,
    ...(protectionKey !== undefined ? { protectionKey } : {}),
    available: ((low >>> 9) & 7) | (availableHigh << 3),
    address,
    reserved,
    flags: low & 0xfff,
  };
}

function log2(n: bigint): bigint {
  let k = 0n;
  while (n > 1n) {
    n >>= 1n;
    k++;
  }
  return k;
}

/** Names the flags of an entry as `info tlb` and kernel developers write them (e.g. `P RW U A D G NX`). */
export function describeEntryFlags(e: PageEntry): string {
  const parts: string[] = [];
  if (e.present) parts.push('P');
  if (e.writable) parts.push('RW');
  if (e.user) parts.push('U');
  if (e.writeThrough) parts.push('PWT');
  if (e.cacheDisable) parts.push('PCD');
  if (e.accessed) parts.push('A');
  if (e.dirty) parts.push('D');
  if (e.largePage) parts.push('PS');
  if (e.global) parts.push('G');
  if (e.pat) parts.push('PAT');
  if (e.noExecute) parts.push('NX');
  if (e.protectionKey) parts.push(`PKEY=${e.protectionKey}`);
  return parts.join(' ');
}

/** The masks of a 4 KiB leaf entry (the last level) split into 32-bit halves, for loops that decode millions of entries without bigints. */
export interface LeafMasks32 {
  readonly addressLow: number;
  readonly addressHigh: number;
  readonly reservedLow: number;
  readonly reservedHigh: number;
}

/** The leaf masks of `geometry` in `model` as 32-bit halves (the same masks decodeEntry uses). */
export function leafMasks32(model: PagingModel, geometry: LevelGeometry): LeafMasks32 {
  const m = masksOf(model, geometry).leaf;
  return {
    addressLow: Number(m.address & 0xffffffffn),
    addressHigh: Number(m.address >> 32n),
    reservedLow: Number(m.reserved & 0xffffffffn),
    reservedHigh: Number(m.reserved >> 32n),
  };
}
