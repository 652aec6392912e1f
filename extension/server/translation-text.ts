// Writes a translation as the chain of steps a kernel developer reads in the hover:
// virtual → table entries (PDE, PTE; PML4 … on 64-bit kernels) → physical → block → chain →
// allocation site, every address exact (64-bit ones too). Also a fallback on the snapshot
// document's merged runs, for when the debug session cannot be asked (the live feed) or the space
// is not the current one.

import * as path from 'path';
import type { JsonAddress } from '../../contract/snapshot-document';
import type { Translation } from '../../contract/translation';
import { ViewSnapshot, addressOf, currentSpace, hexAddress, isGuestDocument } from '../src/view-snapshot';
import { describeEntryFlags, decodeEntry } from '../../qemu-bridge/src/paging/page-entry';
import { pagingModel } from '../../qemu-bridge/src/paging/paging-modes';
import { pageSizeName } from '../../qemu-bridge/src/paging/translation-steps';
import type { TranslationStep } from '../../contract/translation';

/** Exact hex of an address (8 digits at least; 64-bit values never lose a bit). */
export const hex = (n: JsonAddress | bigint): string => hexAddress(n, 8);

/** A translation with, when it was made on the document, the name of the space it was made in. */
export type ShownTranslation = Translation & { readonly spaceLabel?: string };

/** One line per step, markdown. */
export function translationLines(t: ShownTranslation): string[] {
  const space = t.spaceLabel ?? (t.space === 'kernel' ? 'kernel space' : t.space === 'current' ? 'current address space' : `pid ${t.space}`);
  const lines = [`virtual \`${hex(t.virtual)}\` (${space})`];
  for (const step of t.steps ?? []) {
    const where = step.entryAddress !== undefined ? ` at ${hex(step.entryAddress)}` : '';
    // Our guest's directory entry comes from the KPD or the process's UPD; otherwise the level's name.
    const name = step.level === 'PD' && t.directorySource ? `PDE ${t.directorySource === 'upd' ? 'UPD' : 'KPD'}` : step.level === 'PT' ? 'PTE' : step.level;
    lines.push(`→ ${name}[${step.index}] = \`${step.raw}\`${where}${step.describe ? ` ${step.describe}` : ''}`);
  }
  if (t.notMapped) {
    lines.push(`→ not mapped: ${t.notMapped}`);
    return lines;
  }
  if (t.pageSize !== undefined && t.pageSize !== 4096) lines.push(`→ ${pageSizeName(t.pageSize)} page`);
  if (t.space === 'current' && t.physical !== undefined) lines.push(`→ ${t.writable ? 'writable' : 'read-only'}, ${t.user ? 'user' : 'kernel'}${t.nx ? ', no execute' : ''}`);
  if (t.physical !== undefined) lines.push(`→ physical \`${hex(t.physical)}\``);
  if (t.block !== undefined) lines.push(`→ block ${t.block}`);
  if (t.chain !== undefined) lines.push(`→ chain ${t.chain}${t.chainPage !== undefined ? ` (page ${t.chainPage})` : ''}`);
  if (t.site) lines.push(`→ allocated by ${t.site.function ?? hex(t.site.address)}${t.site.file ? ` at ${path.basename(t.site.file)}:${t.site.line}` : ''}`);
  return lines;
}

/**
 * Translates `virtual` with the snapshot alone, for when the debug session cannot be asked: the
 * directory entry the snapshot holds (the UPD or KPD copy, decoded by the walker's decoder), then
 * a lookup in the walker's merged mapping runs (no page-table reads, so no PTE step). The
 * physical address, page size, block, chain and site are the same as the adapter's.
 */
export function translateOnSnapshot(snap: ViewSnapshot, virtual: JsonAddress, pid?: number): ShownTranslation {
  if (!isGuestDocument(snap) || !snap.kpd || !snap.kernelMappings || typeof virtual !== 'number' || virtual > 0xffffffff) return translateOnDocument(snap, virtual);
  return translateOnGuest(snap as GuestDocument, virtual, pid);
}

type GuestDocument = ViewSnapshot & Required<Pick<ViewSnapshot, 'chains' | 'blocks' | 'geometry' | 'kpd' | 'kernelMappings'>>;

/**
 * Translates `virtual` in the space `spaceId` (default: the current one) with the document alone:
 * a lookup in the space's merged runs (no table reads, so no steps). Any kernel, any paging mode.
 */
export function translateOnDocument(doc: ViewSnapshot, virtual: JsonAddress, spaceId?: string): ShownTranslation {
  const space = (spaceId !== undefined ? doc.spaces.find((s) => s.id === spaceId) : undefined) ?? currentSpace(doc);
  const va = addressOf(virtual);
  const base: ShownTranslation = {
    virtual, steps: [], space: space?.current ? 'current' : space?.pid ?? 'current',
    ...(space && !space.current ? { spaceLabel: `${space.label}, from the snapshot` } : {}),
  };
  if (!space) return { ...base, notMapped: 'the snapshot holds no address space' };
  const run = space.mappings.find((r) => va >= addressOf(r.va) && va < addressOf(r.va) + addressOf(r.size));
  if (!run) return { ...base, notMapped: `no mapping of ${space.label} covers it` };
  return { ...base, physical: run.pa + Number(va - addressOf(run.va)), pageSize: run.pageSize, writable: run.writable, user: run.user, nx: run.nx };
}

function translateOnGuest(snap: GuestDocument, virtual: number, pid?: number): ShownTranslation {
  const guestProcesses = snap.processes as readonly (ViewSnapshot['processes'][number] & { upd?: readonly number[] })[];
  const proc = pid === undefined ? guestProcesses.find((p) => p.current) : guestProcesses.find((p) => p.pid === pid);
  const user = virtual < snap.geometry.userSpaceEnd && proc !== undefined;
  const index = virtual >>> 22;
  const model = pagingModel({ cr0: 0x80000000, cr4: Number(addressOf(snap.registers.cr4)) });
  const entry = decodeEntry(model, model.levels[0], BigInt(((user && proc ? proc.upd?.[index] : snap.kpd[index]) ?? 0) >>> 0));
  const directory: TranslationStep = {
    level: 'PD', index, raw: `0x${entry.raw.toString(16).padStart(8, '0')}`, flags: entry.flags, present: entry.present, leaf: entry.leaf,
    nx: false, describe: describeEntryFlags(entry), ...(user ? {} : { entryAddress: snap.geometry.kpdPhys + index * 4 }),
  };
  const base: Translation = { virtual, space: user && proc ? proc.pid : 'kernel', directorySource: user ? 'upd' : 'kpd', steps: [directory] };
  if (!entry.present) return { ...base, notMapped: `the PD entry ${index} is not present` };
  const space = user && proc ? snap.spaces.find((s) => s.pid === proc.pid || s.id === `pid:${proc.pid}` || s.id === proc.space) : undefined;
  const runs: readonly { va: JsonAddress; pa: number; size: JsonAddress; pageSize: number; nx: boolean }[] = space ? space.mappings : snap.kernelMappings;
  const run = runs.find((r) => virtual >= Number(r.va) && virtual < Number(r.va) + Number(r.size));
  if (!run) return { ...base, notMapped: 'no mapping of the snapshot covers it' };
  const physical = run.pa + (virtual - Number(run.va));
  const block = Math.floor(physical / snap.geometry.blockSize);
  const chain = snap.chains.find((c) => c.blocks.includes(block));
  const pagesPerBlock = snap.geometry.blockSize / snap.geometry.pageSize;
  return {
    ...base,
    physical,
    pageSize: run.pageSize,
    nx: run.nx,
    block: block < snap.geometry.blockCount ? block : undefined,
    chain: chain?.id,
    chainPage: chain ? chain.blocks.indexOf(block) * pagesPerBlock + Math.floor((physical % snap.geometry.blockSize) / snap.geometry.pageSize) : undefined,
    site: chain?.site ?? undefined,
  };
}
