// Translates one virtual address in any process's address space and explains every step:
// the page-directory entry (from the process's UPD for user addresses, else the KPD), the
// page-table entry, the physical address, the block, the chain and its allocation site.

import { BLOCK_SIZE, PAGES_PER_BLOCK } from './chain-table';
import { MmSnapshot, PhysicalReader } from './snapshot';
import { decodeEntryFlags, EntryFlags, entryFrame, largePageFrame, PAGE_SIZE } from './paging-entry';
import { SourceSite } from './findings';

export interface EntryStep {
  readonly index: number;
  /** Physical address of the entry, when it lives in memory (a UPD entry lives in a PCB). */
  readonly address?: number;
  readonly value: number;
  readonly flags: EntryFlags;
}

export interface Translation {
  readonly virtual: number;
  readonly space: 'kernel' | number;
  readonly directorySource: 'kpd' | 'upd';
  readonly pde: EntryStep;
  readonly pte?: EntryStep;
  readonly physical?: number;
  readonly pageSize?: number;
  readonly block?: number;
  readonly chain?: number;
  readonly chainPage?: number;
  readonly site?: SourceSite;
  /** Why the walk stopped, when the address is not mapped. */
  readonly notMapped?: string;
}

export class TranslateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranslateError';
  }
}

/**
 * Walks `virtual` for process `pid` (default: the current one). Needs the snapshot (for the
 * UPDs, chains and sites) and guest-physical reads (for page tables).
 */
export async function translateAddress(snap: MmSnapshot, read: PhysicalReader, virtual: number, pid?: number): Promise<Translation> {
  if (!Number.isInteger(virtual) || virtual < 0 || virtual > 0xffffffff) throw new TranslateError(`${virtual} is not a 32-bit address`);
  const proc = pid === undefined ? snap.processes.find((p) => p.current) : snap.processes.find((p) => p.pid === pid);
  if (pid !== undefined && !proc) throw new TranslateError(`there is no process ${pid}; the processes are ${snap.processes.map((p) => p.pid).join(', ')}`);
  const index = virtual >>> 22;
  const user = virtual < snap.geometry.userSpaceEnd && proc !== undefined;
  const space: 'kernel' | number = user && proc ? proc.pid : 'kernel';
  const pdeValue = (user && proc ? proc.upd[index] : snap.kernel.pde[index]) >>> 0;
  const pde: EntryStep = {
    index, value: pdeValue, flags: decodeEntryFlags(pdeValue),
    address: user ? undefined : snap.geometry.kpdPhys + index * 4,
  };
  const base = { virtual, space, directorySource: user ? 'upd' as const : 'kpd' as const, pde };
  if (!pde.flags.present) return { ...base, notMapped: `directory entry ${index} is not present` };
  let physical: number;
  let pageSize: number;
  let pte: EntryStep | undefined;
  if (pde.flags.pageSize && snap.registers.pse) {
    physical = largePageFrame(pdeValue) + (virtual & 0x3fffff);
    pageSize = 4 << 20;
  } else {
    const ptIndex = (virtual >>> 12) & 0x3ff;
    const address = entryFrame(pdeValue) + ptIndex * 4;
    const value = (await read(address, 4)).readUInt32LE(0);
    pte = { index: ptIndex, address, value, flags: decodeEntryFlags(value) };
    if (!pte.flags.present) return { ...base, pte, notMapped: `page-table entry ${ptIndex} is not present` };
    physical = entryFrame(value) + (virtual & 0xfff);
    pageSize = PAGE_SIZE;
  }
  const block = Math.floor(physical / BLOCK_SIZE);
  const chain = snap.chains.find((c) => c.blocks.includes(block));
  const chainPage = chain ? chain.blocks.indexOf(block) * PAGES_PER_BLOCK + Math.floor((physical % BLOCK_SIZE) / PAGE_SIZE) : undefined;
  return { ...base, pte, physical, pageSize, block: block < snap.geometry.blockCount ? block : undefined, chain: chain?.id, chainPage, site: chain?.site };
}
