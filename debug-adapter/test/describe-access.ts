// Test helper: a DescribeAccess over a physical reader (a RAM file, a hand-built image) and the
// paging registers: virtual reads go through the one page walker from CR3, as in the session.

import { PhysicalReader } from '../src/mm/model/snapshot';
import { DescribeAccess } from '../src/mm/model/describer';
import { PhysicalRegionJson } from '../src/mm/model/snapshot-document';
import { TableCache } from '../../qemu-bridge/src/paging/page-table-walk';
import { pagingModel } from '../../qemu-bridge/src/paging/paging-modes';
import { physicalPieces } from '../../qemu-bridge/src/page-walker';

export function describeAccess(read: PhysicalReader, registers: { cr0: number | bigint; cr3: number | bigint; cr4: number | bigint; efer?: number | bigint }, regions?: PhysicalRegionJson[]): DescribeAccess {
  const readPhys = (address: bigint, length: number): Promise<Buffer> => read(Number(address), length);
  const regs = { cr0: BigInt(registers.cr0), cr3: BigInt(registers.cr3), cr4: BigInt(registers.cr4), efer: BigInt(registers.efer ?? 0) };
  const model = pagingModel(regs);
  const tables = new TableCache(readPhys);
  return {
    registers: regs,
    readPhys,
    async readVirtual(address, length) {
      const pieces = await physicalPieces(model, regs.cr3, address, length, tables);
      const out = Buffer.alloc(length);
      for (const p of pieces) (await read(p.physical, p.length)).copy(out, p.offset);
      return out;
    },
    ...(regions ? { regions } : {}),
  };
}
