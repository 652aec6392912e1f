// Translates one virtual address in any process's address space of our guest and explains every
// step: a thin caller of the one page walker (qemu-bridge/src/paging) that adds what only the
// guest's memory manager knows: whose directory entry it is (the process's UPD for user
// addresses, else the KPD), the block, the chain and its allocation site.

import { PhysicalBytesReader, TableCache } from '../../../../qemu-bridge/src/paging/page-table-walk';
import { pagingModel } from '../../../../qemu-bridge/src/paging/paging-modes';
import { translateVirtual } from '../../../../qemu-bridge/src/paging/translation-steps';
// One address's translation as every view shows it: the mmscope/translate answer (contract/translation.ts).
import type { Translation } from '../../../../contract/translation';
import { BLOCK_SIZE, PAGES_PER_BLOCK } from './chain-table';
import { PTE_SWAP_MARK, swappedEntry, swappedText } from './swap-entry';
import { MmSnapshot, PhysicalReader } from './snapshot';
import { PAGE_SIZE } from './paging-entry';
import { SourceSite } from './findings';

export class TranslateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranslateError';
  }
}

const CR0_PG = 0x80000000;

/** The paging registers a level-0 translation walks from (exact; EFER 0 on a CPU without it). */
export interface CurrentPaging {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}

/**
 * Level 0: `virtual` in the address space `paging.cr3` names, in whatever mode the CPU is in;
 * `space` says which one it is (default: the current one, CR3 now).
 */
export async function translateCurrent(paging: CurrentPaging, read: PhysicalReader, virtual: bigint, space: Translation['space'] = 'current'): Promise<Translation> {
  const model = pagingModel({ cr0: paging.cr0, cr4: paging.cr4, efer: paging.efer });
  return { ...(await translateVirtual(model, paging.cr3, virtual, (a, n) => read(Number(a), n))), space };
}

/**
 * Reads physical memory with the page directory at `directory` seen through `upd`: the first
 * entries replaced by a process's UPD, as the CPU sees them while that process runs.
 */
function withUpd(read: PhysicalReader, directory: number, upd: readonly number[]): PhysicalBytesReader {
  const end = directory + upd.length * 4;
  return async (address, length) => {
    const at = Number(address);
    const bytes = Buffer.from(await read(at, length));
    for (let a = Math.max(at, directory); a < Math.min(at + length, end); a++) {
      const k = a - directory;
      bytes[a - at] = (upd[k >> 2] >>> ((k & 3) * 8)) & 0xff;
    }
    return bytes;
  };
}

/**
 * Walks `virtual` for process `pid` (default: the current one). Needs the snapshot (for the
 * UPDs, chains and sites) and guest-physical reads (for page tables).
 */
export async function translateAddress(snap: MmSnapshot, read: PhysicalReader, virtual: number, pid?: number): Promise<Translation> {
  if (!Number.isInteger(virtual) || virtual < 0 || virtual > 0xffffffff) throw new TranslateError(`${virtual} is not a 32-bit address`);
  const proc = pid === undefined ? snap.processes.find((p) => p.current) : snap.processes.find((p) => p.pid === pid);
  if (pid !== undefined && !proc) throw new TranslateError(`there is no process ${pid}; the processes are ${snap.processes.map((p) => p.pid).join(', ')}`);
  const user = virtual < snap.geometry.userSpaceEnd && proc !== undefined;
  const directory = snap.geometry.kpdPhys;
  // The kernel's own view: 32-bit paging over the KPD (with PSE as the kernel set it).
  const model = pagingModel({ cr0: CR0_PG, cr4: snap.registers.cr4 });
  const source = new TableCache(user && proc ? withUpd(read, directory, proc.upd) : (a, n) => read(Number(a), n));
  const walked = await translateVirtual(model, directory, virtual, source);
  // A UPD entry is the PCB's copy: it does not live at the KPD's address.
  const steps = user ? walked.steps.map((s, i) => (i === 0 ? { ...s, entryAddress: undefined } : s)) : walked.steps;
  const base = { ...walked, virtual, steps, space: user && proc ? proc.pid : 'kernel' as const, directorySource: user ? 'upd' as const : 'kpd' as const };
  if (walked.physical === undefined) return withSwap(snap, base);
  const physical = walked.physical;
  const block = Math.floor(physical / BLOCK_SIZE);
  const chain = snap.chains.find((c) => c.blocks.includes(block));
  const chainPage = chain ? chain.blocks.indexOf(block) * PAGES_PER_BLOCK + Math.floor((physical % BLOCK_SIZE) / PAGE_SIZE) : undefined;
  return { ...base, block: block < snap.geometry.blockCount ? block : undefined, chain: chain?.id, chainPage, site: chain?.site };
}

/**
 * A walk that ended on a not-present PTE: on our guest (the snapshot has the swap section), a
 * PTE with the swap mark is a swapped-out page; it gets its slot, raw entry, chain and site.
 */
function withSwap(snap: MmSnapshot, t: Translation): Translation {
  const last = t.steps[t.steps.length - 1];
  if (!snap.swap || !last || last.present || last.level !== 'PT') return t;
  const entry = Number(BigInt(last.raw));
  const swapped = swappedEntry(entry, PTE_SWAP_MARK);
  if (!swapped) return t;
  const chain = snap.chains.find((c) => c.swapped.some((s) => s.slot === swapped.slot));
  const index = chain?.swapped.find((s) => s.slot === swapped.slot)?.index;
  return {
    ...t, swapped: { ...swapped, entry },
    notMapped: swappedText(swapped.slot, entry),
    ...(chain && index !== undefined ? { chain: chain.id, chainPage: index * PAGES_PER_BLOCK + swapped.page, ...(chain.site ? { site: chain.site } : {}) } : {}),
  };
}
