// One paging-structure entry decoded bit by bit for its mode and level (Intel SDM vol. 3, 4.3-4.5
// tables of entry formats): what it points to, its permissions, and the reserved bits that are set
// (the CPU faults with PFEC.RSVD on those, so they are reported, never used). Pure.

import { LevelGeometry, PagingModel } from './paging-modes';

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

/** Decodes `raw`, an entry of a table at `geometry` in `model`. */
export function decodeEntry(model: PagingModel, geometry: LevelGeometry, raw: bigint): PageEntry {
  const has = (n: number): boolean => (raw & bit(n)) !== 0n;
  const present = has(0);
  const pdpteOfPae = model.kind === 'pae' && geometry.level === 'PDPT';
  const leaf = geometry.level === 'PT' || (geometry.largePage !== undefined && has(7));
  const largeLeaf = leaf && geometry.level !== 'PT';
  const wide = geometry.entryBytes === 8;
  const frameLow = largeLeaf ? Number(log2(geometry.largePage as bigint)) : 12;
  let address: bigint;
  let reserved = 0n;
  if (!wide) {
    if (largeLeaf) {
      // PSE-36: bits 20:13 are physical bits 39:32; bit 21 is reserved.
      const highBits = Math.max(0, Math.min(8, model.physicalBits - 32));
      address = (raw & range(31, 22)) | (((raw >> 13n) & (bit(highBits) - 1n)) << 32n);
      reserved = raw & (bit(21) | (range(20, 13) & ~((bit(highBits) - 1n) << 13n)));
    } else {
      address = raw & range(31, 12);
    }
  } else {
    const maxPhys = model.physicalBits;
    address = raw & range(maxPhys - 1, frameLow);
    if (pdpteOfPae) {
      // A PAE PDPTE has no RW/US/A/PS/NX. Real CPUs refuse bits 2:1 and 8:5 when CR3 is loaded;
      // QEMU ignores them (and sets bit 5 itself), so only what both refuse is called reserved:
      // bits 63:MAXPHYADDR, NX included.
      reserved = raw & range(63, maxPhys);
    } else {
      // PAE entries reserve 62:MAXPHYADDR; 4- and 5-level entries only 51:MAXPHYADDR (62:52 are ignored or a key).
      reserved = raw & (model.kind === 'pae' ? range(62, maxPhys) : maxPhys <= 51 ? range(51, maxPhys) : 0n);
      if (!model.nx) reserved |= raw & bit(63);
      if (largeLeaf) reserved |= raw & range(frameLow - 1, 13); // between PAT (bit 12) and the frame
      // PS is reserved in PML4/PML5 entries.
      if ((geometry.level === 'PML4' || geometry.level === 'PML5') && has(7)) reserved |= bit(7);
    }
  }
  const protectionKey = wide && leaf && model.protectionKeys && model.kind !== 'pae' ? Number((raw >> 59n) & 0xfn) : undefined;
  const availableHigh = wide && model.kind !== 'pae' ? Number((raw >> 52n) & 0x7fn) : 0;
  return {
    raw,
    present,
    leaf: present && leaf,
    largePage: present && largeLeaf,
    writable: !pdpteOfPae && has(1),
    user: !pdpteOfPae && has(2),
    writeThrough: has(3),
    cacheDisable: has(4),
    accessed: !pdpteOfPae && has(5),
    dirty: leaf && has(6),
    global: leaf && model.globalPages && has(8),
    pat: leaf && (largeLeaf ? has(12) : has(7)),
    noExecute: wide && model.nx && has(63),
    ...(protectionKey !== undefined ? { protectionKey } : {}),
    available: Number((raw >> 9n) & 7n) | (availableHigh << 3),
    address,
    reserved: present ? reserved : 0n,
    flags: Number(raw & 0xfffn),
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
