// Benchmark of the memory-manager snapshot: time from a stop to a complete MmSnapshot for guests
// of 64 MiB, 256 MiB, 1 GiB and 3 GiB running the `fill` workload (about a thousand page tables),
// through the shared RAM file and through the gdbstub alone, next to the time QEMU takes to
// answer `info tlb` over QMP on the same state; then snapshots taken while the guest runs
// (RAM file only) and the guest's slowdown meanwhile. Medians of several runs.
//   npm run bench:snapshot   (= tsc -p . && make -C guest && node out/bench/snapshot.js --write docs/benchmarks.md)

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GdbstubTier, GuestMemory, launchQemu, parseInfoRegisters, QmpClient, RamFileTier, RspClient } from '../qemu-bridge/src';
import { buildSnapshot, MmSnapshot, PhysicalReader } from '../debug-adapter/src/mm/model/snapshot';
import { ElfFile } from '../debug-adapter/src/symbols';

const KERNEL = path.resolve(__dirname, '..', '..', 'guest', 'build', 'kernel.elf');
const SIZES_MIB = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(",").map(Number) : [64, 256, 1024, 3072];
const RUNS = 7;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await f();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

/** Median of `runs` timed calls, after two untimed warm-up calls (JIT, caches). */
async function medianOf<T>(runs: number, f: () => Promise<T>): Promise<[number, T]> {
  const times: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < 5; i++) await f();
  for (let i = 0; i < runs; i++) {
    const [ms, r] = await timed(f);
    times.push(ms);
    last = r;
  }
  return [median(times), last as T];
}

interface Row {
  mib: number;
  tables: number;
  chains: number;
  ram: number;
  gdb: number;
  tlb: number;
  tlbLines: number;
}

async function measureSize(mib: number, descriptorPhys: number): Promise<Row> {
  const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'fill', memoryMiB: mib, startupTimeoutMs: 60000 });
  const qmp = await QmpClient.connect(qemu.qmp);
  try {
    await qmp.cont();
    await qemu.waitForSerial(/fill: ready/, 600000);
    await qmp.stop();
    const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    const registers = { cr0: regs.get('cr0') ?? 0, cr3: regs.get('cr3') ?? 0, cr4: regs.get('cr4') ?? 0 };
    const ram = new RamFileTier(qemu.ramPath as string);
    const ramRead: PhysicalReader = async (a, n) => ram.readSync(a, n);
    const [ramMs, snap] = await medianOf(RUNS, () => buildSnapshot({ read: ramRead, descriptorPhys, registers }));
    const [tlbMs, tlbText] = await medianOf(RUNS, () => qmp.humanMonitorCommand('info tlb', 60000));
    // gdbstub only: a GuestMemory with the gdbstub tier alone, cache dropped between runs.
    const rsp = await RspClient.connect(qemu.gdb);
    const memory = new GuestMemory([new GdbstubTier(rsp)]);
    memory.setRunning(true); // no per-stop cache: every snapshot reads everything again
    const gdbRead: PhysicalReader = (a, n) => memory.readPhys(a, n);
    const [gdbMs] = await medianOf(3, () => buildSnapshot({ read: gdbRead, descriptorPhys, registers }));
    rsp.close();
    ram.close();
    const tables = countTables(snap);
    return { mib, tables, chains: snap.chains.length, ram: ramMs, gdb: gdbMs, tlb: tlbMs, tlbLines: tlbText.split('\n').filter((l) => l.includes(':')).length };
  } finally {
    qmp.close();
    qemu.kill('SIGKILL');
    await qemu.exited;
  }
}

function countTables(s: MmSnapshot): number {
  const present = (e: number): boolean => (e & 1) === 1 && (e & 0x80) === 0;
  return s.kernel.pde.filter(present).length + s.processes.filter((p) => !p.current).reduce((n, p) => n + p.upd.filter(present).length, 0);
}

/** Snapshots from the RAM file while the demo runs, and the guest's slowdown meanwhile. */
async function measureLive(descriptorPhys: number): Promise<{ rate: number; slowdown: number; opsQuiet: number; opsBusy: number }> {
  const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 256 });
  const qmp = await QmpClient.connect(qemu.qmp);
  try {
    await qmp.cont();
    await qemu.waitForSerial(/heartbeat 2 /, 90000);
    const regs = { cr0: 0x80010011, cr3: 0, cr4: 0x10 }; // paging on, PSE: the guest never changes them
    const ram = new RamFileTier(qemu.ramPath as string);
    const read: PhysicalReader = async (a, n) => ram.readSync(a, n);
    const ops = (): number => {
      const m = [...qemu.serialText.matchAll(/heartbeat \d+ t=(\d+)ms .*?ops=(\d+)/g)].pop();
      return m ? Number(m[2]) / Number(m[1]) : 0;
    };
    const window = async (busy: boolean): Promise<[number, number]> => {
      const startOps = [...qemu.serialText.matchAll(/ops=(\d+)/g)].pop()?.[1];
      const t0 = Date.now();
      let snaps = 0;
      while (Date.now() - t0 < 8000) {
        if (busy) {
          await buildSnapshot({ read, descriptorPhys, registers: regs }).catch(() => undefined);
          snaps++;
        }
        await new Promise((r) => setTimeout(r, busy ? 0 : 100));
      }
      const endOps = [...qemu.serialText.matchAll(/ops=(\d+)/g)].pop()?.[1];
      return [snaps / ((Date.now() - t0) / 1000), Number(endOps) - Number(startOps)];
    };
    void ops;
    const [, opsQuiet] = await window(false);
    const [rate, opsBusy] = await window(true);
    ram.close();
    return { rate, slowdown: opsQuiet > 0 ? 1 - opsBusy / opsQuiet : 0, opsQuiet, opsBusy };
  } finally {
    qmp.close();
    qemu.kill('SIGKILL');
    await qemu.exited;
  }
}

async function main(): Promise<void> {
  const elf = new ElfFile(fs.readFileSync(KERNEL));
  const sym = elf.symbolByName('mm_debug_info');
  const descriptorPhys = sym ? elf.virtualToLoad(sym.value) : undefined;
  if (descriptorPhys === undefined) throw new Error(`${KERNEL} has no mm_debug_info; build the guest (make -C guest)`);
  const rows: Row[] = [];
  for (const mib of SIZES_MIB) {
    rows.push(await measureSize(mib, descriptorPhys));
    process.stderr.write(`measured ${mib} MiB\n`);
  }
  const live = await measureLive(descriptorPhys);
  const qemuVersion = execFileSync('qemu-system-i386', ['--version']).toString().split('\n')[0];
  const lines = [
    '<!-- snapshot:start -->',
    '## Memory-manager snapshot',
    '',
    'Command: `npm run bench:snapshot` (bench/snapshot.ts). The guest runs `fill` (15 processes with all 64 UPD entries',
    'in use, half of the remaining memory in 8-block chains), is stopped through QMP, and a complete snapshot is built',
    `(median of ${RUNS} runs after 5 warm-ups; gdbstub: median of 3, no cache). \`info tlb\` is timed over QMP on the same stopped state`,
    '(it decodes only the current address space; the snapshot decodes every process, the block table and the findings).',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, Node ${process.version}, ${qemuVersion}, TCG,`,
    `load average ${os.loadavg()[0].toFixed(1)} at the end (a shared machine: orders of magnitude).`,
    '',
    '| guest RAM | page tables | chains | snapshot, RAM file (ms) | snapshot, gdbstub only (ms) | `info tlb` over QMP (ms) | `info tlb` lines | snapshot vs info tlb |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.mib} MiB | ${r.tables} | ${r.chains} | ${r.ram.toFixed(1)} | ${r.gdb.toFixed(0)} | ${r.tlb.toFixed(1)} | ${r.tlbLines} | ${r.tlb >= r.ram ? `${(r.tlb / r.ram).toFixed(1)}x faster` : `${(r.ram / r.tlb).toFixed(1)}x slower`} |`),
    '',
    `While the demo runs (256 MiB, RAM file, no stop): ${live.rate.toFixed(1)} snapshots per second back to back; the guest did`,
    `${live.opsBusy} operations in 8 s with snapshots running against ${live.opsQuiet} without (slowdown ${(live.slowdown * 100).toFixed(0)}%;`,
    'the snapshotting process and QEMU share the 2 cores).',
    '<!-- snapshot:end -->',
  ];
  const section = lines.join('\n');
  process.stdout.write(section + '\n');
  const writeIndex = process.argv.indexOf('--write');
  if (writeIndex > 0) {
    const target = process.argv[writeIndex + 1];
    const old = fs.readFileSync(target, 'utf8');
    const re = /<!-- snapshot:start -->[\s\S]*<!-- snapshot:end -->/;
    fs.writeFileSync(target, re.test(old) ? old.replace(re, section) : old.trimEnd() + '\n\n' + section + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
