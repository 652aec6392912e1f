// Oracles for the memory-manager model on the running demo guest:
// - at five stops spread over the run, every page of the current address space matches QEMU's
//   own `info tlb` exactly (virtual page, physical address, flags), nothing more or less;
// - at checkpoints where the guest prints its own chain table, the decoded chains match it.

import { SWAPPED_BLOCK } from '../src/mm/model/chain-table';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';
import * as assert from 'assert';
import * as fs from 'fs';
import { QmpClient, RspClient, launchQemu, parseInfoRegisters, parseInfoTlb } from '../../qemu-bridge/src';
import { ElfFile } from '../src/symbols';
import { MmSnapshot, buildSnapshot } from '../src/mm/model/snapshot';
import { tlbLetters } from '../src/mm/model/paging-entry';
import { KERNEL, descriptorPhysOf, ramFileReader } from './guest-snapshot';

/** Every mapped 4 KiB page of the current address space: virtual → "physical letters". */
function pagesOf(snap: MmSnapshot): Map<number, string> {
  const cur = snap.processes.find((p) => p.current);
  assert.ok(cur, 'a current process');
  const out = new Map<number, string>();
  for (const run of [...snap.kernel.mappings, ...cur.mappings]) {
    const letters = tlbLetters(run.flags, run.pageSize > 4096);
    for (let off = 0; off < run.length; off += run.pageSize) out.set(run.virtual + off, `${(run.physical + off).toString(16)} ${letters}`);
  }
  return out;
}

/** A chain as the guest's dump prints it: runs of consecutive resident blocks as FIRST+COUNT, a swapped-out block as sSLOT. */
function layout(c: { blocks: readonly number[]; swapped: readonly { index: number; slot: number }[] }): string {
  const items: string[] = [];
  let first = -1;
  let count = 0;
  const flush = (): void => {
    if (count) items.push(`${first}+${count}`);
    count = 0;
  };
  c.blocks.forEach((b, i) => {
    if (b === SWAPPED_BLOCK) {
      flush();
      items.push(`s${c.swapped.find((s) => s.index === i)?.slot}`);
    } else if (count && b === first + count) {
      count++;
    } else {
      flush();
      first = b;
      count = 1;
    }
  });
  flush();
  return items.join(',');
}

describe('mm model oracles on the demo guest', function () {
  this.timeout(180_000);

  it('matches info tlb exactly at five stops spread over the run', async function () {
    const descriptorPhys = descriptorPhysOf();
    const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
    const qmp = await QmpClient.connect(qemu.qmp);
    const ram = ramFileReader(qemu.ramPath as string);
    try {
      for (const beat of [2, 4, 6, 8, 10]) {
        await qmp.cont();
        await qemu.waitForSerial(new RegExp(`heartbeat ${beat} `), 90_000);
        await qmp.stop();
        const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
        const tlb = parseInfoTlb(await qmp.humanMonitorCommand('info tlb'));
        const snap = await buildSnapshot({ read: ram.read, descriptorPhys, registers: { cr0: regs.get('cr0') ?? 0, cr3: regs.get('cr3') ?? 0, cr4: regs.get('cr4') ?? 0 } });
        const ours = pagesOf(snap);
        const theirs = new Map(tlb.map((t) => [t.virtual, `${t.physical.toString(16)} ${t.flags}`]));
        const missing = [...theirs].filter(([va, v]) => ours.get(va) !== v).slice(0, 5);
        const extra = [...ours.keys()].filter((va) => !theirs.has(va)).slice(0, 5);
        assert.deepStrictEqual(missing.map(([va, v]) => `0x${va.toString(16)} -> ${v} (ours: ${ours.get(va)})`), [], `stop at heartbeat ${beat}: pages that differ`);
        assert.deepStrictEqual(extra.map((va) => `0x${va.toString(16)}`), [], `stop at heartbeat ${beat}: pages QEMU does not map`);
        assert.ok(theirs.size > 100);
      }
    } finally {
      ram.close();
      qmp.close();
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
  });

  it('decodes exactly the chains the guest prints at its checkpoints', async function () {
    const descriptorPhys = descriptorPhysOf();
    const elf = new ElfFile(fs.readFileSync(KERNEL));
    const checkpoint = elf.symbolByName('mm_checkpoint');
    assert.ok(checkpoint, 'the kernel has mm_checkpoint');
    const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo chaindump', memoryMiB: 64, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
    const rsp = await RspClient.connect(qemu.gdb);
    const ram = ramFileReader(qemu.ramPath as string);
    try {
      await rsp.insertBreakpoint('software', checkpoint.value);
      let swappedSeen = 0;
      for (let i = 0; i < 3; i++) {
        await rsp.continue();
        await rsp.waitForStop(90_000);
        const regs = await rsp.readRegisters();
        const seq = (await rsp.readMemory(regs.value('esp') + 4, 4)).readUInt32LE(0);
        const text = await qemu.waitForSerial(new RegExp(`chaindump end ${seq} \\d+`), 10_000);
        const body = text.slice(text.lastIndexOf(`chaindump begin ${seq}`));
        const lines = body.split(/\r?\n/);
        const count = Number(/chaindump end \d+ (\d+)/.exec(body)?.[1]);
        const printed = lines.filter((l) => l.startsWith('chain ')).map((l) => l.trim());
        assert.strictEqual(printed.length, count, 'the dump is whole');
        const snap = await buildSnapshot({ read: ram.read, descriptorPhys, registers: { cr0: regs.value('cr0'), cr3: regs.value('cr3'), cr4: regs.value('cr4') } });
        const decoded = snap.chains.map((c) => {
          const flags = (c.flags.frozen ? 0x10000000 : 0) | (c.flags.contiguous ? 0x20000000 : 0) | (c.flags.swappable ? 0x40000000 : 0) | (c.flags.user ? 0x80000000 : 0);
          return `chain ${c.id} ${(flags >>> 0).toString(16)} ${layout(c)}`;
        });
        assert.deepStrictEqual(decoded, printed, `checkpoint ${seq}`);
        swappedSeen += snap.chains.reduce((n, c) => n + c.swapped.length, 0);
      }
      assert.ok(swappedSeen > 0, 'the dumps had swapped-out blocks (the swapper runs with the swap disk)');
    } finally {
      ram.close();
      rsp.close();
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
  });
});
