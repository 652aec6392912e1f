// `mmscope boot` and `mmscope read` as a user runs them (node bin/mmscope.js), against the
// qemu-bridge test image: the JSON line, reads that match QEMU's own answers, the guest left
// running or stopped as found, clean shutdown on SIGTERM, and one-line errors.

import * as assert from 'assert';
import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseHostPort, parseInfoTlb, QmpClient } from '../../qemu-bridge/src';
import { buildTestImage, expectedFill } from '../../qemu-bridge/test/fixtures/test-image';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'mmscope.js');

function mmscope(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('mmscope boot and read (CLI)', function () {
  this.timeout(60000);
  let boot: ChildProcess;
  let info: { gdb: string; qmp: string; ram: string; pid: number };
  let console_ = '';

  before(async () => {
    boot = spawn(process.execPath, [BIN, 'boot', '--kernel', buildTestImage().path, '--memory', '32', '--cmdline', 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    boot.stderr?.on('data', (c) => (console_ += c));
    let out = '';
    info = await new Promise((resolve, reject) => {
      boot.stdout?.on('data', (c) => {
        out += c;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
      });
      boot.once('exit', (code) => reject(new Error(`boot exited with ${code}: ${console_}`)));
    });
    const end = Date.now() + 20000;
    while (!console_.includes('bridge-test-image ready') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    if (boot && boot.exitCode === null) boot.kill('SIGKILL');
    if (info && alive(info.pid)) process.kill(info.pid, 'SIGKILL');
  });

  it('prints one JSON line with gdb, qmp, ram and pid, and streams the console to stderr', () => {
    assert.match(info.gdb, /^127\.0\.0\.1:\d+$/);
    assert.match(info.qmp, /^127\.0\.0\.1:\d+$/);
    assert.ok(info.ram.startsWith('/dev/shm/') && fs.existsSync(info.ram));
    assert.ok(alive(info.pid));
    assert.match(console_, /bridge-test-image ready/);
  });

  it('read --phys --json returns the guest bytes and leaves a running guest running', async () => {
    const r = await mmscope(['read', '--gdb', info.gdb, '--phys', '0x00400100', '--length', '64', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.strictEqual(out.address, 0x00400100);
    assert.strictEqual(out.bytes, expectedFill(0x00400100, 64).toString('hex'));
    const qmp = await QmpClient.connect(parseHostPort(info.qmp));
    try {
      assert.strictEqual((await qmp.queryStatus()).running, true);
    } finally {
      qmp.close();
    }
  });

  it('read --virt (hex dump) matches the translation QEMU reports in info tlb', async () => {
    const qmp = await QmpClient.connect(parseHostPort(info.qmp));
    const tlb = parseInfoTlb(await qmp.humanMonitorCommand('info tlb'));
    qmp.close();
    const page = tlb.find((e) => e.virtual === 0xc0405000);
    assert.ok(page);
    const r = await mmscope(['read', '--gdb', info.gdb, '--ram', info.ram, '--virt', '0xc0405000', '--length', '32']);
    assert.strictEqual(r.code, 0, r.stderr);
    const hex = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.slice(10, 57).replace(/ /g, ''))
      .join('');
    assert.strictEqual(hex, expectedFill(page.physical, 32).toString('hex'));
    assert.match(r.stdout, /^c0405000: /);
  });

  it('read with --qmp and --ram leaves a stopped guest stopped', async () => {
    const qmp = await QmpClient.connect(parseHostPort(info.qmp));
    await qmp.stop();
    qmp.close();
    const r = await mmscope(['read', '--gdb', info.gdb, '--qmp', info.qmp, '--ram', info.ram, '--phys', '0x00401000', '--length', '16', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(JSON.parse(r.stdout).bytes, expectedFill(0x00401000, 16).toString('hex'));
    const again = await QmpClient.connect(parseHostPort(info.qmp));
    try {
      assert.strictEqual((await again.queryStatus()).running, false);
      await again.cont();
    } finally {
      again.close();
    }
  });

  it('an unmapped virtual address is one clear line and exit status 1; a bad command line is status 2', async () => {
    const r = await mmscope(['read', '--gdb', info.gdb, '--virt', '0xc0410000', '--length', '4']);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /^mmscope: Virtual address 0xc0410000 is not mapped: .*\n$/);
    const u = await mmscope(['read', '--gdb', info.gdb, '--phys', '0', '--virt', '0', '--length', '4']);
    assert.strictEqual(u.code, 2);
    const n = await mmscope(['frobnicate']);
    assert.strictEqual(n.code, 2);
    assert.match(n.stderr, /Unknown command "frobnicate"/);
  });

  it('boot with a missing kernel says so in one line', async () => {
    const r = await mmscope(['boot', '--kernel', '/nonexistent/kernel.elf']);
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /^mmscope: The kernel file \/nonexistent\/kernel.elf does not exist; .*\n$/);
  });

  it('SIGTERM shuts QEMU down, removes the RAM file and exits 0', async () => {
    const exited = new Promise<number | null>((r) => boot.once('exit', (code) => r(code)));
    boot.kill('SIGTERM');
    assert.strictEqual(await exited, 0);
    assert.strictEqual(alive(info.pid), false);
    assert.strictEqual(fs.existsSync(info.ram), false);
  });
});
