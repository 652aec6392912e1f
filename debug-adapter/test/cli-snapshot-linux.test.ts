// `mmscope snapshot` and `mmscope translate` as a user runs them (node bin/mmscope.js, only
// --gdb and --ram: no kernel ELF, no descriptor) on Debian's Linux kernels in PAE and 4-level
// paging: the level-0 JSON carries 64-bit addresses exactly (hex strings above 2^53, as
// docs/snapshot-schema.md says), and every page QEMU's `info tlb` lists is in it (through the
// folds of shared tables too), with the same physical address and flags; translations of kernel,
// direct-map and user addresses land where QEMU maps them.

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as path from 'path';
import { parseInfoTlb, parseXpBytes, TlbEntry } from '../../qemu-bridge/src';
import { bootLinuxGuest, LINUX_MODES } from '../../qemu-bridge/test/fixtures/linux-guests';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');

function mmscope(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000, maxBuffer: 256 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

type Json = number | string;
interface Level0 {
  schema: number;
  level: number;
  paging: string;
  pages: number;
  mappings: { va: Json; pa: number; size: Json; flags: number; nx: boolean; pageSize: number; writable: boolean; user: boolean }[];
  shared: { va: Json; sameAs: Json; span: Json; pages: number }[];
}

const big = (v: Json): bigint => BigInt(v);

/** Finds `v` in sorted ranges [start, start + size). */
function find<T>(xs: readonly T[], v: bigint, start: (x: T) => bigint, size: (x: T) => bigint): T | undefined {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (start(xs[mid]) <= v) lo = mid + 1;
    else hi = mid - 1;
  }
  const x = xs[hi];
  return x !== undefined && v < start(x) + size(x) ? x : undefined;
}

/** info tlb's nine letters (X G P D A C T U W) of a run: its NX, and the leaf entries' low 12 bits. */
function letters(m: Level0['mappings'][number]): string {
  const f = m.flags;
  const l = (on: boolean, c: string): string => (on ? c : '-');
  return [l(m.nx, 'X'), l((f & 0x100) !== 0, 'G'), l(m.pageSize > 4096, 'P'), l((f & 0x40) !== 0, 'D'), l((f & 0x20) !== 0, 'A'),
    l((f & 0x10) !== 0, 'C'), l((f & 8) !== 0, 'T'), l((f & 4) !== 0, 'U'), l((f & 2) !== 0, 'W')].join('');
}

for (const mode of LINUX_MODES.filter((m) => m.kind === 'pae' || m.kind === 'x86-64')) {
  describe(`mmscope snapshot and translate on ${mode.mode} with no kernel ELF (level 0)`, function () {
    this.timeout(300_000);

    it("prints exact addresses and every page of QEMU's info tlb; translations land where QEMU maps them", async () => {
      const { qemu, qmp } = await bootLinuxGuest(mode);
      try {
        await new Promise((r) => setTimeout(r, 500));
        await qmp.execute('stop');
        const attach = ['--gdb', `${qemu.gdb.host}:${qemu.gdb.port}`, '--ram', qemu.ramPath as string];
        const r = await mmscope(['snapshot', ...attach, '--json']);
        assert.strictEqual(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout) as Level0;
        assert.deepStrictEqual([j.schema, j.level, j.paging], [3, 0, mode.kind]);
        const tlb = parseInfoTlb(await qmp.humanMonitorCommand('info tlb', 30_000));
        assert.ok(tlb.length > 300, `info tlb lists ${tlb.length} pages`);
        if (mode.kind === 'x86-64') {
          // Kernel addresses are above 2^53: hex strings in the JSON, exact.
          assert.ok(j.mappings.some((m) => typeof m.va === 'string' && /^0xffff/.test(m.va)), 'kernel-half addresses are hex strings');
          assert.ok(j.mappings.every((m) => typeof m.va === 'string' || m.va <= Number.MAX_SAFE_INTEGER));
        }
        const runs = [...j.mappings].sort((a, b) => (big(a.va) < big(b.va) ? -1 : 1));
        const shared = [...j.shared].sort((a, b) => (big(a.va) < big(b.va) ? -1 : 1));
        const differ: string[] = [];
        let throughFolds = 0;
        for (const e of tlb) {
          let v = e.virtualExact;
          let folds = 0;
          let run = find(runs, v, (m) => big(m.va), (m) => big(m.size));
          while (!run && folds < 16) {
            const fold = find(shared, v, (x) => big(x.va), (x) => big(x.span));
            if (!fold) break;
            v = v - big(fold.va) + big(fold.sameAs);
            folds++;
            run = find(runs, v, (m) => big(m.va), (m) => big(m.size));
          }
          if (folds) throughFolds++;
          // QEMU 7.2's PAE info tlb leaves NX in its physical column (facts): 52 bits.
          const physical = e.physicalExact & ((1n << 52n) - 1n);
          // `info tlb`'s X is the leaf entry's NX; the snapshot's nx is the page's (any level's NX forbids execution): a leaf's X implies it.
          const ours = run ? `${(BigInt(run.pa) + (v - big(run.va))).toString(16)} ${letters(run).slice(1)}` : 'missing';
          const nxOk = !run || e.flags[0] !== 'X' || run.nx;
          if ((ours !== `${physical.toString(16)} ${e.flags.slice(1)}` || !nxOk) && differ.length < 10) differ.push(`${e.virtualExact.toString(16)}: ours ${ours} nx=${run?.nx}, QEMU ${physical.toString(16)} ${e.flags}`);
        }
        assert.deepStrictEqual(differ, [], `pages of info tlb that differ (of ${tlb.length})`);
        assert.strictEqual(j.pages, tlb.length, 'the snapshot counts every page QEMU lists');
        // Translations: the first kernel page, one in the middle, the last, and a user page when there is one.
        const picks: TlbEntry[] = [tlb[tlb.length - 1], tlb[Math.floor(tlb.length / 2)], tlb.find((e) => e.flags[7] === 'U') ?? tlb[0]];
        for (const e of picks) {
          const address = e.virtualExact + 0x234n;
          const t = await mmscope(['translate', ...attach, '--json', `0x${address.toString(16)}`]);
          assert.strictEqual(t.code, 0, t.stderr);
          const ours = JSON.parse(t.stdout) as { virtual: Json; physical: number; steps: { level: string; raw: string }[] };
          assert.strictEqual(big(ours.virtual), address);
          assert.strictEqual(BigInt(ours.physical), (e.physicalExact & ((1n << 52n) - 1n)) + 0x234n, `0x${address.toString(16)}`);
          assert.ok(ours.steps.every((s) => s.raw.length === 18), 'entries as 16 hex digits');
        }
        // read --virt at a kernel address above 2^53: the bytes QEMU reads at the physical address info tlb gives.
        const kernelPage = tlb.filter((e) => e.virtualExact >= 0xffff800000000000n && e.flags[8] === 'W')[0] ?? tlb[tlb.length - 1];
        const at = kernelPage.virtualExact + 0x40n;
        const rd = await mmscope(['read', ...attach, '--virt', `0x${at.toString(16)}`, '--length', '32', '--json']);
        assert.strictEqual(rd.code, 0, rd.stderr);
        const got = JSON.parse(rd.stdout) as { address: Json; bytes: string };
        assert.strictEqual(big(got.address), at);
        const phys = (kernelPage.physicalExact & ((1n << 52n) - 1n)) + 0x40n;
        const xp = parseXpBytes(await qmp.humanMonitorCommand(`xp /32xb 0x${phys.toString(16)}`));
        assert.strictEqual(got.bytes, xp?.toString('hex'), `mmscope read --virt 0x${at.toString(16)} equals QEMU's xp at 0x${phys.toString(16)}`);
        console.log(`      (${tlb.length} pages of info tlb found in the level-0 snapshot, ${throughFolds} through folds of shared tables; ${j.mappings.length} runs)`);
      } finally {
        qmp.close();
        await qemu.shutdown();
      }
    });
  });
}
