// The one page walker against QEMU's own `info tlb` and `info mem` on Linux kernels nobody here
// wrote: Debian's 686 (32-bit paging, PSE), 686-pae (PAE, NX) and amd64 (4-level, and 5-level
// with LA57) images (scripts/linux-guests.sh downloads them). Each boots to a busybox /init that
// forks and maps memory without end; at several stops the walker walks the current address space
// (CR3 and the mode from `info registers`) in the RAM file, and every page QEMU lists must be a
// leaf of ours with the same physical address and flags (and no leaf of ours missing there), and
// `info mem`'s ranges must be our mergeLeaves runs merged as QEMU merges them.

import * as assert from 'assert';
import { RamFileTier } from '../src';
import { mappingRanges, MappingRange, PageLeaf, SharedSubtree, walkAddressSpace, walkMappings } from '../src/paging/page-table-walk';
import { bootLinuxGuest, LINUX_MODES } from './fixtures/linux-guests';
import { compareWithInfoMem, compareWithInfoTlb, pagingRegisters } from './fixtures/paging-oracle';

/** How long the guest runs before each stop (ms): right after /init is ready, then while its workload runs. */
const RUN_BEFORE_STOP = [0, 300, 700, 1100, 1500, 1900, 2300, 2700, 200, 500, 800, 1300, 100, 400, 600, 900];
/**
 * Stops at least this many times, and on until the stops saw two address spaces and one with
 * user pages (with PTI: also a stop in a process's user tables and one in its kernel tables).
 */
const MIN_STOPS = 4;
/** CR3 bit 12: Linux's PTI user tables lie 4 KiB above the kernel's. */
const PTI_USER = 0x1000;

describe('paging: the walker equals QEMU\'s info tlb and info mem on Debian\'s Linux kernels', function () {
  this.timeout(300_000);
  for (const mode of LINUX_MODES) {
    it(`${mode.mode}: every page of the current address space at several stops`, async () => {
      const { qemu, qmp, guest, bootMs, panics } = await bootLinuxGuest(mode);
      for (const p of panics) console.log(`      (a first boot ended in "${p}" before /init and was started again)`);
      const ram = new RamFileTier(qemu.ramPath as string);
      try {
        const read = (a: bigint, n: number): Promise<Buffer> => {
          if (a + BigInt(n) > BigInt(ram.size)) throw new Error(`physical ${a.toString(16)} lies outside RAM`);
          return ram.read(Number(a), n);
        };
        const spaces = new Set<number>();
        let userStops = 0;
        const ptiTables = new Set<'user' | 'kernel'>();
        let pages = 0;
        let ranges = 0;
        const lines: string[] = [];
        let controls = '';
        let foldedRepeats = 0;
        let throughFolds = 0;
        for (let stop = 0; stop < RUN_BEFORE_STOP.length; stop++) {
          if (stop >= MIN_STOPS && spaces.size >= 2 && userStops >= 1 && (!mode.pti || ptiTables.size === 2)) break;
          await new Promise((r) => setTimeout(r, RUN_BEFORE_STOP[stop]));
          await qmp.execute('stop');
          const { model, cr0, cr3, cr4, efer } = await pagingRegisters(qmp);
          assert.strictEqual(model.kind, mode.kind, `the mode from CR0=${cr0.toString(16)} CR4=${cr4.toString(16)} EFER=${efer.toString(16)}`);
          assert.strictEqual(model.nx, mode.nx, `EFER.NXE (EFER=${efer.toString(16)})`);
          // Every page, repeats of shared tables included (espfix64 maps one page 65,536 times), for the page-by-page oracle.
          const space = await walkAddressSpace(model, cr3, read, { maxRepeatedLeaves: Number.MAX_SAFE_INTEGER });
          assert.deepStrictEqual(space.findings, [], 'the walk of a running Linux has no findings');
          // The walk the views use (runs, repeats of shared tables folded past the budget) loses nothing: expanded, the same runs.
          const folded = await walkMappings(model, cr3, read);
          const check = checkFolded(folded.runs, folded.shared, space.leaves);
          assert.deepStrictEqual(check.problems, [], 'every page of the page-by-page walk is in the folded run walk');
          assert.strictEqual(folded.pages + folded.shared.reduce((n, x) => n + x.pages, 0), space.leaves.length, 'the folded walk counts every page');
          if (!folded.shared.length) assert.deepStrictEqual(folded.runs, mappingRanges(space.leaves));
          foldedRepeats += folded.shared.length;
          throughFolds += check.throughFolds;
          const tlb = compareWithInfoTlb(model, space, await qmp.humanMonitorCommand('info tlb', 30_000));
          assert.ok(tlb.compared > 100, `info tlb listed ${tlb.compared} pages`);
          assert.deepStrictEqual(tlb.mismatches.slice(0, 20), [], `stop ${stop + 1} (CR3=${cr3.toString(16)}): ${tlb.mismatches.length} of ${tlb.compared} pages differ`);
          // QEMU 7.2 prints nothing for `info mem` in 5-level mode, after ~30 s (docs/page-walker.md).
          const mem = model.kind === 'x86-64-la57' ? undefined : compareWithInfoMem(space, await qmp.humanMonitorCommand('info mem', 30_000));
          if (mem) assert.deepStrictEqual(mem.mismatches.slice(0, 20), [], `stop ${stop + 1} (CR3=${cr3.toString(16)}): info mem`);
          const user = space.leaves.filter((l) => l.user).length;
          controls ||= `CR0=${cr0.toString(16)} CR4=${cr4.toString(16)} EFER=${efer.toString(16)}`;
          spaces.add(cr3);
          const tables = cr3 & PTI_USER ? 'user' : 'kernel';
          ptiTables.add(tables);
          if (user > 0) userStops++;
          pages += tlb.compared;
          ranges += mem?.compared ?? 0;
          lines.push(`stop ${stop + 1}: CR3=${cr3.toString(16)}${mode.pti ? ` (${tables} tables)` : ''} ${tlb.compared} pages (${user} user, ${space.leaves.filter((l) => l.pageSize > 0x1000n).length} large), ${mem ? `${mem.compared} info mem ranges` : 'no info mem'}, ${space.tablesRead} tables, 0 mismatches`);
          await qmp.cont();
        }
        assert.ok(spaces.size >= 2, `the stops saw ${spaces.size} address space (CR3 ${[...spaces].map((c) => c.toString(16)).join(', ')})`);
        assert.ok(userStops >= 1, 'a stop saw a process\'s user pages');
        if (mode.pti) assert.deepStrictEqual([...ptiTables].sort(), ['kernel', 'user'], `the stops saw both the user and the kernel tables of PTI (CR3 ${[...spaces].map((c) => c.toString(16)).join(', ')})`);
        console.log(`      ${guest.package} ${guest.version}, -cpu ${mode.cpu}: booted to /init in ${(bootMs / 1000).toFixed(1)} s; ${controls}; ${lines.length} stops, ${spaces.size} address spaces, ${pages} pages and ${ranges} info mem ranges compared, 0 mismatches; the run walk folded ${foldedRepeats} repeats of shared tables (${throughFolds} pages found through them)`);
        for (const l of lines) console.log(`        ${l}`);
      } finally {
        ram.close();
        qmp.close();
        await qemu.shutdown();
      }
    });
  }
});

/**
 * Checks that a run walk with repeats of shared tables folded (SharedSubtree: "the pages of
 * `sameAs`, again at `virtual`") shows every page of the page-by-page walk: each leaf is found in
 * a run, or in a fold that leads (through other folds) to a run, with the same physical address,
 * page size, low 12 bits, NX and access. Returns the pages found through folds.
 */
function checkFolded(runs: readonly MappingRange[], shared: readonly SharedSubtree[], leaves: readonly PageLeaf[]): { throughFolds: number; problems: string[] } {
  const byStart = <T extends { virtual: bigint }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => (a.virtual < b.virtual ? -1 : a.virtual > b.virtual ? 1 : 0));
  const sortedRuns = byStart(runs);
  const sortedShared = byStart(shared);
  const find = <T extends { virtual: bigint }>(xs: readonly T[], v: bigint, size: (x: T) => bigint): T | undefined => {
    let lo = 0;
    let hi = xs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid].virtual <= v) lo = mid + 1;
      else hi = mid - 1;
    }
    const x = xs[hi];
    return x && v < x.virtual + size(x) ? x : undefined;
  };
  const problems: string[] = [];
  let throughFolds = 0;
  for (const leaf of leaves) {
    let v = leaf.virtual;
    let folds = 0;
    let run = find(sortedRuns, v, (r) => r.length);
    while (!run && folds < 16) {
      const fold = find(sortedShared, v, (x) => x.span);
      if (!fold) break;
      v = v - fold.virtual + fold.sameAs;
      folds++;
      run = find(sortedRuns, v, (r) => r.length);
    }
    if (folds) throughFolds++;
    const ok = run && run.physical + (v - run.virtual) === leaf.physical && run.pageSize === leaf.pageSize && run.flags === leaf.entry.flags &&
      run.noExecute === leaf.noExecute && run.writable === leaf.writable && run.user === leaf.user;
    if (!ok && problems.length < 10) problems.push(`0x${leaf.virtual.toString(16)}: ${run ? 'differs' : 'missing'} (through ${folds} folds)`);
  }
  return { throughFolds, problems };
}
