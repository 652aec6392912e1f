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
import type { SnapshotDocument, SpaceJson } from '../src/mm/model/snapshot-document';
import { tlbComparison } from './document-oracle';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');

function mmscope(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000, maxBuffer: 256 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

type Json = number | string;
type Level0 = SpaceJson;
const big = (v: Json): bigint => BigInt(v);

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
        const doc = JSON.parse(r.stdout) as SnapshotDocument;
        assert.deepStrictEqual([doc.schema, doc.level, doc.pagingMode], [3, 0, mode.kind]);
        const j = doc.spaces.find((x) => x.id === doc.currentSpace) as Level0;
        assert.ok(j?.current, 'the current space is in the document');
        const tlb = parseInfoTlb(await qmp.humanMonitorCommand('info tlb', 30_000));
        assert.ok(tlb.length > 300, `info tlb lists ${tlb.length} pages`);
        if (mode.kind === 'x86-64') {
          // Kernel addresses are above 2^53: hex strings in the JSON, exact.
          assert.ok(j.mappings.some((m) => typeof m.va === 'string' && /^0xffff/.test(m.va)), 'kernel-half addresses are hex strings');
          assert.ok(j.mappings.every((m) => typeof m.va === 'string' || m.va <= Number.MAX_SAFE_INTEGER));
        }
        const { differ, throughFolds } = tlbComparison(j, tlb);
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
