// `mmscope serve` and `mmscope demo` as a user runs them (node bin/mmscope.js): serve launching
// the guest (the JSON line, the feed with live snapshots and the guest's identity, clean shutdown
// on SIGTERM with no QEMU left), serve attached to a QEMU we started (with the RAM file: live
// snapshots and the guest left running; without: brief gdbstub stops), and `demo --once`.

import * as assert from 'assert';
import { ChildProcess, execFile, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { QemuInstance, QmpClient, launchQemu } from '../../qemu-bridge/src';
import { KERNEL, TestFeedClient } from './live-helpers';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');

/** Starts `mmscope serve ARGS`, resolves with the process and its JSON line. */
function startServe(args: string[]): Promise<{ child: ChildProcess; line: { url: string; ws: string }; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve printed no JSON line within 120 s; stderr: ${err}`));
    }, 120_000);
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ child, line: JSON.parse(out.slice(0, nl)) as { url: string; ws: string }, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before printing its JSON line; stderr: ${err}`));
    });
  });
}

function exitOf(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('the process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** RAM files a process (by pid) created: they are deleted when its QEMU is gone. */
const ramFilesOf = (pid: number): string[] => fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`mmscope-ram-${pid}-`));

/** QEMU processes whose command line mentions a RAM file of `pid`. */
function qemusOf(pid: number): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(`mmscope-ram-${pid}-`)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

function mmscope(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: 180_000, maxBuffer: 64 << 20, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, pid: child.pid as number });
    });
  });
}

describe('mmscope serve and demo (CLI)', function () {
  this.timeout(300_000);
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('serve --kernel launches the guest, feeds live snapshots with its identity, and stops cleanly on SIGTERM', async () => {
    const { child, line, stderr } = await startServe(['--kernel', KERNEL, '--memory', '64', '--rate', '4']);
    cleanup.push(() => void child.kill('SIGKILL'));
    assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    assert.match(line.ws, /^ws:\/\/127\.0\.0\.1:\d+\/feed\?token=[0-9a-f]{64}$/);
    const c = new TestFeedClient(line.ws);
    cleanup.push(() => c.close());
    await c.waitFor(() => c.state.received >= 3, 'three snapshots', 60_000);
    const hello = c.state.hello;
    assert.ok(hello);
    assert.strictEqual(hello.guest?.kernelSha256, crypto.createHash('sha256').update(fs.readFileSync(KERNEL)).digest('hex'));
    assert.strictEqual(hello.guest?.blockCount, c.state.snapshot?.geometry?.blockCount);
    assert.strictEqual(hello.refresh.kind, 'ram-file');
    assert.strictEqual(c.state.state, 'running');
    assert.ok(c.messages.some((m) => m.type === 'delta' && m.live), 'snapshots taken while the guest runs are marked live');
    assert.ok((c.state.snapshot?.processes.length ?? 0) > 1, 'the demo processes are shown');
    assert.ok(qemusOf(child.pid as number).length === 1, 'serve runs one QEMU');
    child.kill('SIGTERM');
    assert.strictEqual(await exitOf(child), 0, stderr());
    await c.waitFor(() => c.closed !== undefined, 'the feed closed');
    assert.strictEqual(c.closed?.code, 1001);
    assert.deepStrictEqual(qemusOf(child.pid as number), [], 'no QEMU left');
    assert.deepStrictEqual(ramFilesOf(child.pid as number), [], 'no RAM file left');
  });

  describe('attached to a running QEMU', () => {
    let qemu: QemuInstance;
    beforeEach(async () => {
      qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
      const qmp = await QmpClient.connect(qemu.qmp);
      await qmp.cont();
      qmp.close();
      await qemu.waitForSerial(/heartbeat 1 /, 90_000);
      cleanup.push(() => qemu.shutdown().then(() => undefined));
    });

    it('with the RAM file: live snapshots, and the guest left running after SIGINT', async () => {
      const { child, line, stderr } = await startServe(['--gdb', `127.0.0.1:${qemu.gdb.port}`, '--ram', qemu.ramPath as string, '--kernel', KERNEL, '--rate', '4']);
      cleanup.push(() => void child.kill('SIGKILL'));
      const c = new TestFeedClient(line.ws);
      cleanup.push(() => c.close());
      await c.waitFor(() => c.messages.filter((m) => m.type === 'delta' && m.live).length >= 2, 'live deltas', 60_000);
      assert.strictEqual(c.state.hello?.refresh.kind, 'ram-file');
      child.kill('SIGINT');
      assert.strictEqual(await exitOf(child), 0, stderr());
      const qmp = await QmpClient.connect(qemu.qmp);
      try {
        assert.strictEqual((await qmp.queryStatus()).running, true, 'the guest runs on after serve detached');
      } finally {
        qmp.close();
      }
    });

    it('without the RAM file: snapshots from brief gdbstub stops, not marked live', async () => {
      const { child, line, stderr } = await startServe(['--gdb', `127.0.0.1:${qemu.gdb.port}`, '--kernel', KERNEL, '--rate', '2']);
      cleanup.push(() => void child.kill('SIGKILL'));
      const c = new TestFeedClient(line.ws);
      cleanup.push(() => c.close());
      await c.waitFor(() => c.messages.filter((m) => m.type === 'delta').length >= 2, 'two deltas', 60_000);
      assert.strictEqual(c.state.hello?.refresh.kind, 'stop-and-go');
      assert.ok(c.messages.every((m) => !(m.type === 'delta' || m.type === 'snapshot') || !m.live), 'consistent snapshots are not live');
      assert.ok(c.messages.every((m) => m.type !== 'stopped'), 'its own brief stops are not reported as stops');
      // The guest ran between the snapshots: its tick counter moved.
      const ticks = c.messages.flatMap((m) => (m.type === 'delta' && m.patch.set.counters ? [(m.patch.set.counters as { ticks: number }).ticks] : []));
      assert.ok(ticks.length >= 1 && ticks[ticks.length - 1] > 0);
      child.kill('SIGTERM');
      assert.strictEqual(await exitOf(child), 0, stderr());
    });
  });

  it('demo --once boots the guest, prints one summary of its memory manager, and leaves nothing behind', async () => {
    const r = await mmscope(['demo', '--once', '--memory', '64', '--chains', '1000']);
    assert.strictEqual(r.code, 0, r.stderr);
    const out = r.stdout;
    const header = /^snapshot #\d+ at [\d:]+: (\d+) processes, (\d+) chains, (\d+) used \/ (\d+) free blocks, fragmentation (\d+)%, (\d+) findings$/m.exec(out);
    assert.ok(header, out);
    const pidLines = out.split('\n').filter((l) => /^\s+\*?\s*pid \d+ /.test(l));
    assert.strictEqual(pidLines.length, Number(header[1]), 'one line per process');
    assert.ok(Number(header[1]) >= 5, 'the kernel and the demo workers');
    const chainsLine = /^chains: (\d+)$/m.exec(out);
    assert.ok(chainsLine && Number(chainsLine[1]) === Number(header[2]));
    const chainLines = out.split('\n').filter((l) => /^\s+\d+\s+\d+ blk /.test(l));
    assert.strictEqual(chainLines.length, Number(header[2]), 'every chain listed');
    assert.match(out, new RegExp(`^blocks: \\d+ of 16 KiB .*: ${header[3]} used, ${header[4]} free`, 'm'));
    assert.match(out, /worker_main at demo\.c:\d+/, 'allocation sites resolved');
    assert.match(out, new RegExp(`^findings: ${header[6]}$`, 'm'));
    assert.match(r.stderr, /booting .*kernel\.elf/);
    assert.deepStrictEqual(qemusOf(r.pid), [], 'no QEMU left');
    assert.deepStrictEqual(ramFilesOf(r.pid), [], 'no RAM file left');
  });

  it('demo --once --json prints the snapshot document', async () => {
    const r = await mmscope(['demo', '--once', '--json', '--memory', '64']);
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { schema: number; processes: unknown[]; chains: { blocks: number[] }[]; blocks: { total: number; free: number; used: number; map: string } };
    assert.strictEqual(j.schema, 3);
    assert.strictEqual(j.blocks.map.length, j.blocks.total);
    // Resident blocks only: -1 marks a block the demo's swapper has swapped out.
    assert.strictEqual(j.chains.reduce((n, c) => n + c.blocks.filter((b) => b >= 0).length, 0), j.blocks.used);
  });

  it('demo says exactly what to install when QEMU is missing', async () => {
    // An empty PATH: no qemu-system-i386 (node is started by its full path; the kernel is given, so nothing is built).
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-empty-path-'));
    cleanup.push(() => fs.rmSync(empty, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: empty };
    delete env.MMSCOPE_QEMU;
    const r = await mmscope(['demo', '--once', '--kernel', KERNEL], env);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /QEMU \(qemu-system-i386\) is not installed/);
    assert.match(r.stderr, /apt-get install -y --no-install-recommends qemu-system-x86/);
    assert.match(r.stderr, /npm run setup/);
  });
});
