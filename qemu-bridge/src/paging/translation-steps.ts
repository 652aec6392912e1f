// The walker's answer for one address in a plain, JSON-safe shape that every translator shows
// (the CLI's `translate`, the DAP `translate` request, the hover): one step per table entry on
// the way, each with its exact raw value, then the physical address and page size. Physical
// addresses always fit a JavaScript number (MAXPHYADDR <= 52); a raw 64-bit entry (bit 63 is NX)
// and a 64-bit virtual address may not, so those are hex strings. Pure.

import { AddressWalk, walkAddress, PhysicalBytesReader, TableCache } from './page-table-walk';
import { describeEntryFlags } from './page-entry';
import { PagingModel } from './paging-modes';
import type { AddressTranslation, TranslationStep } from '../../../contract/translation';

// The plain shapes are the shared contract's (contract/translation.ts): every consumer imports them from there.
export type { AddressTranslation, TranslationStep } from '../../../contract/translation';

const hex = (n: bigint | number): string => `0x${n.toString(16)}`;

/** A bigint as JSON: a number when exact (below 2^53), else a `0x` hex string. */
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

export function jsonAddress(value: bigint): number | string {
  return value <= MAX_EXACT && value >= 0n ? Number(value) : hex(value);
}

/** The inverse of jsonAddress: a number, or a hex or decimal string. */
export function parseJsonAddress(value: number | string): bigint {
  if (typeof value === 'number') return BigInt(value);
  return BigInt(value.trim());
}

/** The steps of a walk, plain. */
export function translationSteps(walk: AddressWalk): TranslationStep[] {
  return walk.steps.map((s) => ({
    level: s.level,
    index: s.index,
    entryAddress: Number(s.entryAddress),
    raw: `0x${s.entry.raw.toString(16).padStart(s.entryBytes * 2, '0')}`,
    flags: s.entry.flags,
    present: s.entry.present,
    leaf: s.entry.leaf,
    nx: s.entry.noExecute,
    ...(s.entry.reserved !== 0n ? { reserved: hex(s.entry.reserved) } : {}),
    describe: describeEntryFlags(s.entry),
  }));
}

/** One sentence for why a walk did not reach a page. */
export function notMappedReason(walk: AddressWalk): string | undefined {
  const last = walk.steps[walk.steps.length - 1];
  switch (walk.kind) {
    case 'mapped':
    case 'paging-off':
      return undefined;
    case 'not-present':
      return `the ${last.level} entry ${last.index} is not present`;
    case 'reserved-bits':
      return `the ${last.level} entry ${last.index} (${hex(last.entry.raw)}) has reserved bits ${hex(last.entry.reserved)} set, so the CPU faults on it`;
    case 'unreadable':
      return `the table at physical ${hex(walk.tableAddress)} cannot be read (outside RAM?)`;
    case 'non-canonical':
      return `${hex(walk.virtual)} is not a canonical address in this paging mode`;
  }
}

/** The walk made plain. */
export function plainTranslation(walk: AddressWalk): AddressTranslation {
  const base = { virtual: jsonAddress(walk.virtual), steps: translationSteps(walk) };
  if (walk.kind === 'paging-off') return { ...base, physical: Number(walk.physical), pageSize: 4096, writable: true, user: true, nx: false };
  if (walk.kind !== 'mapped') return { ...base, notMapped: notMappedReason(walk) };
  return { ...base, physical: Number(walk.physical), pageSize: Number(walk.pageSize), writable: walk.writable, user: walk.user, nx: walk.noExecute };
}

/** Walks `virtual` from `cr3` in `model` and makes the answer plain. */
export async function translateVirtual(model: PagingModel, cr3: number | bigint, virtual: number | bigint, read: PhysicalBytesReader | TableCache): Promise<AddressTranslation> {
  return plainTranslation(await walkAddress(model, cr3, virtual, read));
}

/** The lines of a translation's steps as text (`elsewhere`: what stands for an entry's address when it lives outside the tables). */
export function translationStepLines(t: AddressTranslation, tableName: (step: TranslationStep) => string = (s) => s.level, elsewhere = ''): string[] {
  return t.steps.map((s) => `${tableName(s)}[${s.index}] = ${s.raw}${s.entryAddress !== undefined ? ` at ${hex(s.entryAddress)}` : elsewhere}  ${s.describe || 'not present'}`);
}

/** `4 KiB`, `2 MiB`, `4 MiB`, `1 GiB`. */
export function pageSizeName(bytes: number): string {
  return bytes >= 1 << 30 ? `${bytes / (1 << 30)} GiB` : bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}
