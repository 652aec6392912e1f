// Cost of QEMU's interrupt log (`-d int,cpu_reset`, what the triple-fault filter turns on) under
// TCG: the guest kernel with its default workload (empty cmdline) runs with a ~1 kHz
// timer; we compare its work (the `ops=` count of its 5th heartbeat, one per guest second) with
// the log off and on, and measure how fast the log grows and that rotation keeps it bounded.
//   npm run bench:interrupt-log  (= tsc -p . && make -C guest && node out/bench/interrupt-log.js --write docs/benchmarks.md)

import * as fs from 'fs';
import * as path from 'path';
import { launchQemu, QemuSession } from '../qemu-bridge/src';
import { InterruptLogFiles } from '../debug-adapter/src/exceptions/interrupt-log-files';
import { writeBenchmarkSection } from './benchmarks-file';

const ROOT = path.resolve(__dirname, '..', '..');
const KERNEL = process.env.MMSCOPE_KERNEL ?? path.join(ROOT, 'guest', 'build', 'kernel.elf');
const START = '<!-- interrupt-log:start -->';
const END = '<!-- interrupt-log:end -->';
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
/** A small limit so that rotation happens within the run. */
const LIMIT = 2 << 20;

interface Run {
  ops: number;
  wallMs: number;
  logBytes: number;
  maxOnDisk: number;
  rotations: number;
  /** QEMU's CPU time (user + system) from cont to the 5th heartbeat. */
  cpuMs: number;
}

/** utime + stime of a process in ms, from /proc/PID/stat. */
function cpuTimeMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function once(logOn: boolean): Promise<Run> {
  const instance = await launchQemu({ kernel: KERNEL, cmdline: '', memoryMiB: 128 });
  const session = await QemuSession.attachTo(instance);
  const qmp = session.qmp;
  if (!qmp) throw new Error('no QMP');
  const log = new InterruptLogFiles((line) => qmp.humanMonitorCommand(line), '/tmp', LIMIT);
  let rotations = 0;
  let logBytes = 0;
  let maxOnDisk = 0;
  const size = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  const files = (): string[] => [log.path, log.path.replace(/-(a|b)\.log$/, (_, x: string) => (x === 'a' ? '-b.log' : '-a.log'))];
  let timer: NodeJS.Timeout | undefined;
  try {
    if (logOn) await log.start();
    const t0 = Date.now();
    const cpu0 = cpuTimeMs(instance.pid);
    await qmp.cont();
    if (logOn) {
      timer = setInterval(() => {
        const before = size(log.path);
        maxOnDisk = Math.max(maxOnDisk, files().reduce((n, f) => n + size(f), 0));
        void log.rotateIfLarge().then((did) => {
          if (did) {
            rotations++;
            logBytes += before;
          }
        });
      }, 250);
    }
    const text = await instance.waitForSerial(/heartbeat 5 [^\n]*\n/, 120_000);
    const wallMs = Date.now() - t0;
    const cpuMs = cpuTimeMs(instance.pid) - cpu0;
    if (timer) clearInterval(timer);
    logBytes += size(log.path);
    const m = /heartbeat 5 [^\n]* ops=(\d+)/.exec(text);
    return { ops: Number(m?.[1] ?? NaN), wallMs, logBytes, maxOnDisk, rotations, cpuMs };
  } finally {
    if (timer) clearInterval(timer);
    await session.detach().catch(() => undefined);
    await instance.shutdown(500);
    log.dispose();
  }
}

async function main(): Promise<void> {
  const off: Run[] = [];
  const on: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    off.push(await once(false));
    on.push(await once(true));
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const opsOff = mean(off.map((r) => r.ops));
  const opsOn = mean(on.map((r) => r.ops));
  const rate = mean(on.map((r) => r.logBytes / (r.wallMs / 1000)));
  const section = [
    START,
    `## QEMU interrupt log (triple-fault filter), ${new Date().toISOString().slice(0, 10)}, ${RUNS} runs each`,
    '',
    'Guest kernel, default workload (empty cmdline, ~1 kHz timer), TCG. Work = `ops=` at the 5th heartbeat (5 guest seconds).',
    '',
    '| | log off | log on (`-d int,cpu_reset`) |',
    '|---|---|---|',
    `| guest work in 5 s (ops) | ${opsOff.toFixed(0)} | ${opsOn.toFixed(0)} (${((opsOn / opsOff - 1) * 100).toFixed(1)} %) |`,
    `| wall time to the 5th heartbeat | ${mean(off.map((r) => r.wallMs)).toFixed(0)} ms | ${mean(on.map((r) => r.wallMs)).toFixed(0)} ms |`,
    `| QEMU CPU time (user + system) | ${mean(off.map((r) => r.cpuMs)).toFixed(0)} ms | ${mean(on.map((r) => r.cpuMs)).toFixed(0)} ms (${((mean(on.map((r) => r.cpuMs)) / mean(off.map((r) => r.cpuMs)) - 1) * 100).toFixed(0)} %) |`,
    `| log written | – | ${(rate / (1 << 20)).toFixed(2)} MiB/s |`,
    `| largest on disk (two files, limit ${LIMIT >> 20} MiB each) | – | ${(Math.max(...on.map((r) => r.maxOnDisk)) / (1 << 20)).toFixed(2)} MiB, ${mean(on.map((r) => r.rotations)).toFixed(1)} rotations |`,
    END,
  ].join('\n');
  process.stdout.write(section + '\n');
  writeBenchmarkSection(process.argv, START, END, section);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
