// The snapshot document (level 0) on the corpus kernels (docs/testing-corpus.md: every i386 style
// in 32-bit and PAE paging, and both x86-64 styles), stopped at a breakpoint in `factorial` while
// their workers run: the current space equals QEMU's `info tlb`, the frame map equals a frame-by-
// frame recomputation from `info tlb` and `info mtree -f`, and the level-0 findings are exactly
// the true ones. The corpus kernels are written for the gdb comparison, not to be clean, so some
// have findings, each checked against the style's boot code:
//   identity, identity-pae  identity-map 0-8 MiB with 4 KiB pages, virtual page 0 included:
//                           null-page-mapped.
//   *-pae                   pae-boot.inc maps every 4 KiB page W|P and leaves NX clear on the
//                           code pages (1 MiB up to _data_start) with EFER.NXE on:
//                           writable-executable for those 8 KiB.
//   x86-64-direct-map       maps the kernel's GiB with one writable 1 GiB page without NX (NXE
//                           on): writable-executable; its direct map and that GiB map physical
//                           memory up to 4 GiB in 1 GiB pages on a 64 MiB guest:
//                           mapping-outside-ram, one per gap between QEMU's regions.
//   x86-64-higher-half      writable, executable pages too, but EFER.NXE is off: the kernel
//                           cannot forbid execution, so no finding.
// Each finding is checked on its own as well: a writable-executable page is W and not X in
// `info tlb`, a mapping-outside-ram address lies in no region of QEMU's map.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { launchQemu, parseInfoTlb, QemuSession } from '../../qemu-bridge/src';
import { killAtExit } from '../../qemu-bridge/test/fixtures/qemu-fixture';
import { buildSnapshotDocument } from '../src/mm/model/system-snapshot';
import { BOOT_MATRIX, buildKernel, corpusMachine, CORPUS_MEMORY_MIB, CORPUS_QEMU_ARGS, StyleName } from './corpus/build';
import { compareFramesWithTlb, compareSpaceWithTlb } from './document-oracle';

const LEVEL0 = ['writable-executable', 'user-writable-kernel', 'writable-code-alias', 'user-maps-page-table', 'mapping-outside-ram', 'null-page-mapped', 'reserved-bits', 'unreadable-page-table'];

/** The level-0 findings each style truly has (see the header). */
const EXPECTED: Partial<Record<StyleName, string[]>> = {
  identity: ['null-page-mapped'],
  'identity-pae': ['null-page-mapped', 'writable-executable'],
  'higher-half-c0-pae': ['writable-executable'],
  'higher-half-80-pae': ['writable-executable'],
  'x86-64-direct-map': ['mapping-outside-ram', 'writable-executable'],
};

/** One kernel per style. */
const VARIANTS = BOOT_MATRIX.filter((v, i) => BOOT_MATRIX.findIndex((w) => w.style === v.style) === i);

function symbolAddress(elf: string, name: string): bigint {
  const line = execFileSync('nm', [elf], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${name}`) && / [tT] /.test(l));
  if (!line) throw new Error(`${name} is not in ${elf}`);
  return BigInt(`0x${line.split(' ')[0]}`);
}

for (const v of VARIANTS) {
  describe(`snapshot document on the corpus kernel ${v.style} (level 0)`, function () {
    this.timeout(120_000);
    it('current space = info tlb, frame map = info tlb + info mtree -f, exactly the true level-0 findings', async () => {
      const kernel = buildKernel(v);
      const machine = corpusMachine(v);
      const qemu = killAtExit(await launchQemu({
        kernel, cmdline: '', memoryMiB: CORPUS_MEMORY_MIB, extraArgs: CORPUS_QEMU_ARGS,
        ...(machine.cpu ? { cpu: machine.cpu } : {}), ...(machine.qemuBinary ? { qemuBinary: machine.qemuBinary } : {}),
      }));
      const session = await QemuSession.attachTo(qemu);
      try {
        const rsp = session.rsp;
        const qmp = session.qmp;
        assert.ok(rsp && qmp);
        await rsp.insertBreakpoint('hardware', Number(symbolAddress(kernel, 'factorial')));
        await rsp.continue();
        await rsp.waitForStop(60_000);
        const registers = await session.pagingRegisters();
        const regions = await session.physicalMemoryMap();
        assert.ok(regions?.length);
        const doc = await buildSnapshotDocument({ read: (a, n) => session.memory.readPhys(Number(a), n), registers, regions, stop: 1 });
        const tlbText = await qmp.humanMonitorCommand('info tlb', 60_000);
        const current = doc.spaces.find((s) => s.id === doc.currentSpace);
        assert.ok(current);
        const memText = await qmp.humanMonitorCommand('info mem', 60_000);
        assert.deepStrictEqual(compareSpaceWithTlb(current, parseInfoTlb(tlbText), doc.pagingMode), []);
        assert.deepStrictEqual(compareFramesWithTlb(doc, tlbText, regions, current.tables, memText), []);
        const level0 = doc.findings.filter((f) => LEVEL0.includes(f.kind));
        assert.deepStrictEqual([...new Set(level0.map((f) => f.kind))].sort(), EXPECTED[v.style] ?? [], level0.map((f) => f.message).join('\n'));
        const tlb = parseInfoTlb(tlbText);
        for (const f of level0) {
          if (f.kind === 'writable-executable') {
            const page = tlb.find((e) => e.virtualExact === BigInt(f.virtual ?? -1));
            assert.ok(page && page.flags[8] === 'W' && page.flags[0] !== 'X', `info tlb: ${f.message}`);
          } else if (f.kind === 'mapping-outside-ram') {
            assert.ok(f.physical !== undefined && !regions.some((r) => r.base <= (f.physical as number) && (f.physical as number) < r.base + r.size), f.message);
          } else if (f.kind === 'null-page-mapped') {
            assert.ok(tlb.some((e) => e.virtualExact === 0n), 'info tlb lists virtual page 0');
          }
        }
        const c = doc.frames.counts;
        console.log(`      (${doc.pagingMode}: ${current.pages} pages, ${current.tables.length} tables; frames: ${c.mapped} mapped, ${c.multi} multi, ${c.table} table, ${c.unmapped} unmapped)`);
      } finally {
        await session.detach();
        qemu.kill('SIGKILL');
        await qemu.exited;
      }
    });
  });
}
