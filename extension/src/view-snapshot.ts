// The document every view of the extension shows (schema 3, docs/snapshot-schema.md), and the few
// questions every view asks of it: which space is current, whether it is our guest's, exact
// addresses as text. Pure (no VS Code), shared by the views, the language server and the tests.

import { isCountedSpace, JsonAddress, PagingMode, SnapshotDocument, SpaceJson } from '../../contract/snapshot-document';
import type { ViewProcessJson, ViewSnapshot } from '../../debug-adapter/src/mm/model/snapshot-json';

export type { ViewSnapshot };
/** A process as the views see it: the document's, with what our guest's descriptor adds (its UPD, the KPD check). */
export type ViewProcess = ViewProcessJson;

/** An exact address of the document as a bigint. */
export function addressOf(a: JsonAddress): bigint {
  return typeof a === 'number' ? BigInt(a) : BigInt(a.trim());
}

/** A bigint back in the document's form: a number below 2^53, else hex. */
export function jsonAddressOf(a: bigint): JsonAddress {
  return a <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a) : `0x${a.toString(16)}`;
}

/** Hex digits an address of this paging mode is written with (8 for 32-bit modes, 16 for 64-bit ones). */
export function addressDigits(mode: PagingMode | undefined): number {
  return mode === 'x86-64' || mode === 'x86-64-la57' ? 16 : 8;
}

/** `0x` and at least `digits` hex digits, exact for any 64-bit value. */
export function hexAddress(a: JsonAddress | bigint, digits = 8): string {
  const v = typeof a === 'bigint' ? a : addressOf(a);
  return `0x${v.toString(16).padStart(digits, '0')}`;
}

/** The document carries our guest's chain table (its descriptor's sections are there). */
export function isGuestDocument(doc: ViewSnapshot): doc is ViewSnapshot & Required<Pick<ViewSnapshot, 'chains' | 'blocks' | 'geometry'>> {
  return doc.chains !== undefined && doc.blocks !== undefined && doc.geometry !== undefined;
}

/** The space CR3 names at this stop, else the first one listed. */
export function currentSpace(doc: Pick<SnapshotDocument, 'spaces' | 'currentSpace'>): SpaceJson | undefined {
  return doc.spaces.find((s) => s.id === doc.currentSpace) ?? doc.spaces.find((s) => s.current) ?? doc.spaces[0];
}

/**
 * Whether the views must say a space may be stale: known only from an earlier stop or a traced
 * CR3 write, so its tables may have been freed and reused since.
 */
export function possiblyStale(s: SpaceJson): boolean {
  return !s.current && !isCountedSpace(s);
}

/** What the views write after a space's name: its sources, and the stale warning. */
export function spaceSourcesText(s: SpaceJson): string {
  const seen = s.lastSeenStop !== undefined && !s.current ? ` (last seen at stop ${s.lastSeenStop})` : '';
  return `${s.sources.join(', ')}${seen}${possiblyStale(s) ? ' · possibly stale' : ''}`;
}
