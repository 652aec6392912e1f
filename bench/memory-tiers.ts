// Benchmark of guest-physical reads through each GuestMemory tier, side by side in one run:
// the shared RAM file, the gdbstub in physical mode (one request in flight, and pipelined), and
// QMP pmemsave. Reads 4 KiB, 64 KiB and 4 MiB, takes the median of several runs, prints a
// Markdown table and, with --write FILE, replaces the memory-tier section of that file.
//   npm run bench:memory        (= tsc -p . && node out/bench/memory-tiers.js --write docs/benchmarks.md)

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { GdbstubTier, GuestMemory, launchQemu, PhysicalMemoryTier, QemuSession, QmpClient, QmpTier, RamFileTier, RspClient } from '../qemu-bridge/src';
import { buildTestImage } from '../qemu-bridge/test/fixtures/test-image';

const SIZES = [4 << 10, 64 << 10, 4 << 20];
const RUNS = 7;
const BASE = 0x00400000;

interface Row {
  tier: string;
  bound: string;
  medians: number[];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

type Reader = (address: number, size: number) => Promise<number>;

async function measure(read: Reader, size: number): Promise<number> {
  await read(BASE, size); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const n = await read(BASE, size);
    const t1 = process.hrtime.bigint();
    if (n !== size) throw new Error(`a read returned ${n} bytes`);
    times.push(Number(t1 - t0) / 1e6);
  }
  return median(times);
}

/** Reads through GuestMemory with only this tier, into a new buffer per read (what most callers do). */
function fresh(tier: PhysicalMemoryTier): Reader {
  const memory = new GuestMemory([tier]);
  memory.setRunning(true); // no per-stop cache: measure the channel
  return async (a, n) => (await memory.readPhys(a, n)).length;
}

/** Reads through GuestMemory into one reused buffer. */
function reused(tier: PhysicalMemoryTier): Reader {
  const memory = new GuestMemory([tier]);
  memory.setRunning(true);
  const buffer = Buffer.alloc(4 << 20);
  return async (a, n) => {
    await memory.readPhysInto(a, buffer, 0, n);
    return n;
  };
}

function formatMs(ms: number): string {
  return ms < 1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

async function main(): Promise<void> {
  const writeIndex = process.argv.indexOf('--write');
  const target = writeIndex > 0 ? process.argv[writeIndex + 1] : undefined;
  const image = buildTestImage();
  const qemu = await launchQemu({ kernel: image.path, memoryMiB: 64 });
  try {
    const boot = await QmpClient.connect(qemu.qmp);
    await boot.cont();
    await qemu.waitForSerial('bridge-test-image ready', 30000);
    boot.close();
    const session = await QemuSession.attachTo(qemu); // stops the guest: the gdbstub reads only a stopped guest
    const rsp = session.rsp as RspClient;
    const ram = new RamFileTier(qemu.ramPath as string);
    const qmpTier = new QmpTier(session.qmp as QmpClient);
    const tiers: { read: Reader; label: string; bound: string }[] = [
      { read: reused(ram), label: 'shared RAM file, into a reused buffer', bound: 'memory copy from tmpfs (fs.readSync at offsets)' },
      { read: fresh(ram), label: 'shared RAM file, new buffer per read', bound: 'page faults of the fresh destination buffer' },
      { read: fresh(new GdbstubTier(rsp, false)), label: 'gdbstub phys mode, 1 request in flight', bound: 'one round trip per 2048-byte `m`; hex doubles the bytes' },
      { read: fresh(new GdbstubTier(rsp, true)), label: `gdbstub phys mode, ${rsp.pipelineWindow} in flight`, bound: "QEMU's single-threaded packet handling and hex encoding" },
      { read: fresh(qmpTier), label: 'QMP pmemsave to /dev/shm, then read', bound: 'QMP round trip + QEMU writing the file + reading it' },
    ];
    const rows: Row[] = [];
    for (const t of tiers) {
      const medians: number[] = [];
      for (const size of SIZES) medians.push(await measure(t.read, size));
      rows.push({ tier: t.label, bound: t.bound, medians });
    }
    ram.close();
    qmpTier.close();
    await session.detach();

    const qemuVersion = execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    const lines = [
      '<!-- memory-tiers:start -->',
      '## Guest-physical reads per memory tier',
      '',
      `Command: \`npm run bench:memory\` (bench/memory-tiers.ts). Median of ${RUNS} runs after one warm-up, reading at`,
      `physical 0x${BASE.toString(16)} of a stopped 64 MiB guest. Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores`,
      `(${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, ${qemuVersion}, TCG, shared machine`,
      `(load average ${os.loadavg()[0].toFixed(1)} at the end of the run: other work shares these cores, so treat figures as orders of magnitude).`,
      '',
      '| tier | 4 KiB (ms) | 64 KiB (ms) | 4 MiB (ms) | 4 MiB rate (MiB/s) | bounded by |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
      ...rows.map((r) => `| ${r.tier} | ${r.medians.map(formatMs).join(' | ')} | ${(4 / (r.medians[2] / 1000)).toFixed(0)} | ${r.bound} |`),
      '',
      'GuestMemory picks the first tier the session has: the RAM file when mmscope launched QEMU (or was',
      'given the file), else the gdbstub (pipelined: QEMU answers packets strictly in order, which the',
      'test "pipelined replies come back in order" checks on 1 MiB of distinct words), else QMP. The',
      'gdbstub cannot read while the guest runs; the RAM file and QMP can.',
      '<!-- memory-tiers:end -->',
    ];
    const section = lines.join('\n');
    process.stdout.write(section + '\n');
    if (target) {
      const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '# Benchmarks\n\nMeasured figures; each section names the command that produced it.\n';
      const re = /<!-- memory-tiers:start -->[\s\S]*?<!-- memory-tiers:end -->/;
      const updated = re.test(old) ? old.replace(re, section) : old.trimEnd() + '\n\n' + section + '\n';
      fs.writeFileSync(target, updated);
      process.stdout.write(`wrote ${target}\n`);
    }
  } finally {
    await qemu.shutdown();
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
