// `mmscope snapshot` and `mmscope translate` as a user runs them (node bin/mmscope.js) against
// the demo guest: the JSON fields the schema promises, agreement with QEMU's own view, the guest
// left running as found, and one-line errors for bad input.

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as path from 'path';
import * as fs from 'fs';
import { QemuInstance, QmpClient, RspClient, launchQemu, parseInfoTlb } from '../../qemu-bridge/src';
import { KERNEL, ramFileReader } from './guest-snapshot';
import { DebugSymbols } from '../src/symbols';
import { MmEvent, MM_EVENT_SIZE, decodeEvent } from '../src/mm/model/guest-structures';
import type { SnapshotDocument, SpaceJson } from '../src/mm/model/snapshot-document';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');

function mmscope(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface SnapshotJson {
  cr3: number;
  processes: { pid: number; name: string; current: boolean; upd: number[] }[];
  mappings: { va: number; pa: number; size: number; flags: number }[];
  chains: { id: number; flags: number; blocks: number[]; mappedAt: { space: string | number; virtual: number; length: number }[]; site: { function?: string } | null }[];
  blocks: { total: number; free: number; reserved: number };
  findings: { kind: string; severity: string; message: string }[];
}

describe('mmscope snapshot and translate (CLI)', function () {
  this.timeout(120000);
  let qemu: QemuInstance;
  let qmp: QmpClient;
  let attach: string[];

  before(async () => {
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
    qmp = await QmpClient.connect(qemu.qmp);
    await qmp.cont();
    await qemu.waitForSerial(/heartbeat 2 /, 90000);
    qmp.close(); // QEMU serves one QMP client; the CLI attaches through the gdbstub and RAM file
    attach = ['--gdb', `${qemu.gdb.host}:${qemu.gdb.port}`, '--ram', qemu.ramPath as string, '--kernel', KERNEL];
  });
  after(async () => {
    if (qemu?.alive) qemu.kill('SIGKILL');
    await qemu?.exited;
  });

  it('prints the documented JSON and leaves the running guest running', async () => {
    // The CLI stops the running guest between memory-manager updates (its generation even) and
    // drops the leak of a chain allocated but not mapped yet (the session's in-flight rule): one
    // snapshot, no retry.
    const r = await mmscope(['snapshot', ...attach, '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as SnapshotJson;
    assert.ok(j.cr3 > 0);
    assert.strictEqual(j.processes.filter((p) => p.current).length, 1);
    assert.ok(j.processes.every((p) => p.upd.length === 64));
    assert.ok(j.mappings.length > 0 && j.mappings.every((m) => m.size > 0 && m.flags < 4096));
    assert.ok(j.chains.some((c) => c.site?.function === 'worker_main'));
    assert.ok(j.blocks.total > j.blocks.free + j.blocks.reserved);
    assert.deepStrictEqual(j.findings, []);
    const q = await QmpClient.connect(qemu.qmp);
    try {
      assert.strictEqual((await q.queryStatus()).running, true);
    } finally {
      q.close();
    }
  });

  it('stopped right after an allocation, before its mapping, reports no leaked-chain for that chain', async () => {
    const symbols = new DebugSymbols(fs.readFileSync(KERNEL));
    const hook = symbols.elf.symbolByName('mm_event_hook')?.value;
    const eventAt = symbols.elf.symbolByName('mm_last_event')?.value;
    assert.ok(hook !== undefined && eventAt !== undefined);
    const eventPhys = symbols.virtualToLoad(eventAt) as number;
    const ram = ramFileReader(qemu.ramPath as string);
    const rsp = await RspClient.connect(qemu.gdb);
    let event: MmEvent | undefined;
    try {
      await rsp.insertBreakpoint('software', hook);
      // The first allocation event of a kernel worker (demo.c): it maps the chain right after.
      for (let i = 0; i < 500 && !event; i++) {
        if (i > 0) {
          await rsp.removeBreakpoint('software', hook);
          await rsp.step();
          await rsp.insertBreakpoint('software', hook);
        }
        await rsp.continue();
        await rsp.waitForStop(30_000);
        const e = decodeEvent(await ram.read(eventPhys, MM_EVENT_SIZE));
        if (e.kind === 'allocated' && e.pid !== 0 && e.caller >= 0xc0000000) event = e;
      }
      await rsp.removeBreakpoint('software', hook);
    } finally {
      await rsp.disconnect(); // the guest stays stopped at the hook
      ram.close();
    }
    assert.ok(event, 'a worker allocated a chain');
    try {
      const r = await mmscope(['snapshot', ...attach, '--json']);
      assert.strictEqual(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as SnapshotJson;
      const chain = j.chains.find((c) => c.id === event?.chain);
      assert.ok(chain, `chain ${event.chain} is in the snapshot`);
      assert.deepStrictEqual(chain.mappedAt, [], 'stopped before the chain is mapped (the case under test)');
      assert.deepStrictEqual(j.findings.filter((f) => f.kind === 'leaked-chain'), []);
    } finally {
      const q = await QmpClient.connect(qemu.qmp);
      await q.cont();
      q.close();
    }
  });

  it('prints a readable summary', async () => {
    const r = await mmscope(['snapshot', ...attach]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /^processes:$/m);
    assert.match(r.stdout, /compiler/);
    assert.match(r.stdout, /^findings: 0$/m);
  });

  it("translates the chain pages of the current address space where QEMU's info tlb maps them", async () => {
    // Stop the guest (QMP) so that QEMU's page tables and the CLI's snapshot are of the same moment.
    const q = await QmpClient.connect(qemu.qmp);
    try {
      await q.stop();
      const tlb = parseInfoTlb(await q.humanMonitorCommand('info tlb'));
      const r = await mmscope(['snapshot', ...attach, '--json']);
      assert.strictEqual(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as SnapshotJson;
      const current = j.processes.find((p) => p.current);
      const visible = j.chains.flatMap((c) => c.mappedAt.filter((m) => m.length > 0x1010 && (m.space === 'kernel' || m.space === current?.pid)).map((m) => ({ chain: c.id, ...m })));
      // One address from a kernel mapping and one from the current process's when it has one.
      const picks = [visible.find((v) => v.space === 'kernel'), visible.find((v) => v.space !== 'kernel')].filter((v) => v !== undefined);
      assert.ok(picks.length > 0, 'a chain is mapped in the current address space');
      for (const pick of picks) {
        const address = pick.virtual + 0x1010;
        const page = tlb.find((e) => address >= e.virtual && address < e.virtual + (e.large ? 4 << 20 : 4096));
        assert.ok(page, `QEMU maps 0x${address.toString(16)}`);
        const t = await mmscope(['translate', ...attach, '--json', `0x${address.toString(16)}`]);
        assert.strictEqual(t.code, 0, t.stderr);
        const ours = JSON.parse(t.stdout) as { physical: number; chain: number };
        assert.strictEqual(ours.physical, page.physical + (address - page.virtual), `0x${address.toString(16)}: QEMU maps it at 0x${(page.physical + address - page.virtual).toString(16)}`);
        assert.strictEqual(ours.chain, pick.chain);
      }
      assert.strictEqual((await q.queryStatus()).running, false, 'the CLI left the stopped guest stopped');
    } finally {
      await q.cont();
      q.close();
    }
  });

  it('translates a user address of another process to its chain', async () => {
    const j = JSON.parse((await mmscope(['snapshot', ...attach, '--json'])).stdout) as SnapshotJson;
    // A chain of a kernel worker of demo.c: the demo's ring-3 processes are killed and
    // replaced all the time, so their pids may be gone by the translate call.
    const workers = new Set(j.processes.filter((p) => ['editor', 'compiler', 'player', 'shell'].includes(p.name)).map((p) => p.pid));
    const inWorker = (m: { space: string | number }): boolean => typeof m.space === 'number' && workers.has(m.space);
    const chain = j.chains.find((c) => c.mappedAt.some(inWorker));
    assert.ok(chain, 'a chain mapped in a process');
    const m = chain.mappedAt.find(inWorker) as { space: number; virtual: number };
    // The demo keeps running between the two calls, so the chain may have changed: retry a few times.
    for (let attempt = 0; ; attempt++) {
      const r = await mmscope(['translate', ...attach, '--pid', String(m.space), '--json', `0x${(m.virtual + 0x10).toString(16)}`]);
      if (r.code === 0) {
        const t = JSON.parse(r.stdout);
        assert.strictEqual(t.directorySource, 'upd');
        assert.strictEqual(t.physical % 4096, 0x10);
        assert.strictEqual(t.chainPage, 0);
        assert.strictEqual(Math.floor(t.physical / 16384), t.chain);
        return;
      }
      assert.strictEqual(r.code, 3, r.stderr);
      assert.ok(attempt < 5, 'the address stayed unmapped');
    }
  });

  it("level 0: with no --kernel, the current address space and translations equal QEMU's info tlb, page by page", async () => {
    const q = await QmpClient.connect(qemu.qmp);
    try {
      await q.stop();
      const tlb = parseInfoTlb(await q.humanMonitorCommand('info tlb'));
      const noKernel = attach.slice(0, attach.indexOf('--kernel'));
      const r = await mmscope(['snapshot', ...noKernel, '--json']);
      assert.strictEqual(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as SnapshotDocument;
      assert.deepStrictEqual([doc.schema, doc.level, doc.pagingMode], [3, 0, 'x86-32']);
      const j = doc.spaces.find((x) => x.id === doc.currentSpace) as SpaceJson & { mappings: { va: number; size: number }[] };
      assert.ok(j && j.current, 'the document has the current space');
      assert.strictEqual(BigInt(j.cr3), BigInt(doc.registers.cr3));
      // Expand the runs page by page (4 MiB pages as QEMU lists them: one line each).
      const ours: string[] = [];
      for (const m of j.mappings) {
        for (let off = 0; off < m.size; off += m.pageSize) ours.push(`${(m.va + off).toString(16)} ${(m.pa + off).toString(16)} ${m.pageSize === 4096 ? '-' : 'P'} ${m.flags & 0x167}`);
      }
      // QEMU's letters back to bits: G 0x100, D 0x40, A 0x20, U 4, W 2, present 1 (PWT/PCD/PAT left out: the guest sets none).
      const bits = (f: string): number => 1 | (f[1] === 'G' ? 0x100 : 0) | (f[3] === 'D' ? 0x40 : 0) | (f[4] === 'A' ? 0x20 : 0) | (f[7] === 'U' ? 4 : 0) | (f[8] === 'W' ? 2 : 0);
      const theirs = tlb.map((e) => `${e.virtual.toString(16)} ${e.physical.toString(16)} ${e.large ? 'P' : '-'} ${bits(e.flags)}`);
      assert.ok(theirs.length > 500, `info tlb lists ${theirs.length} pages`);
      assert.strictEqual(j.pages, theirs.length);
      assert.deepStrictEqual(ours, theirs);
      // Translations without --kernel: every step, and the physical address QEMU maps.
      for (const e of [tlb[0], tlb[Math.floor(tlb.length / 2)], tlb[tlb.length - 1]]) {
        const address = e.virtual + 0x123;
        const t = await mmscope(['translate', ...noKernel, '--json', `0x${address.toString(16)}`]);
        assert.strictEqual(t.code, 0, t.stderr);
        const ours1 = JSON.parse(t.stdout) as { physical: number; steps: { level: string }[] };
        assert.strictEqual(ours1.physical, e.physical + 0x123);
        assert.deepStrictEqual(ours1.steps.map((x) => x.level), e.large ? ['PD'] : ['PD', 'PT']);
      }
      const text = await mmscope(['snapshot', ...noKernel]);
      assert.match(text.stdout, /^32-bit paging, CR3 0x[0-9a-f]+ \(level 0: nothing described\)/);
      assert.match(text.stdout, /^\* pt:0x[0-9a-f]+ +CR3 0x[0-9a-f]+: \d+ pages in \d+ runs/m);
    } finally {
      await q.cont();
      q.close();
    }
  });

  it('says in one line what is wrong with bad input', async () => {
    const cases: [string[], RegExp, number][] = [
      [['snapshot', '--gdb', `127.0.0.1:${qemu.gdb.port}`, '--kernel', '/nonexistent.elf'], /does not exist/, 2],
      [['snapshot', '--gdb', `127.0.0.1:${qemu.gdb.port}`, '--kernel', path.resolve(__dirname, '..', '..', '..', 'package.json')], /is not a readable ELF kernel/, 2],
      [['translate', '--gdb', `127.0.0.1:${qemu.gdb.port}`, '--pid', '1', '0x1000'], /--pid needs a kernel with our mm_debug_info descriptor/, 2],
      [['snapshot', '--kernel', KERNEL], /needs --gdb/, 2],
      [['translate', ...attach, 'nonsense'], /needs a number/, 2],
      [['translate', ...attach, '--pid', '99', '0x1000'], /no process 99/, 1],
    ];
    for (const [args, re, code] of cases) {
      const r = await mmscope(args);
      assert.strictEqual(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.strictEqual(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
