// Benchmark of the memory-manager snapshot: time from a stop to a complete MmSnapshot for guests
// of 64 MiB, 256 MiB, 1 GiB and 3 GiB running the `fill churn` workload (about a thousand page
// tables, and a thread churning chains on top): cold (nothing kept), after the guest ran (with the
// SnapshotCache of the previous stop) and through the gdbstub alone, next to the time QEMU takes
// to answer `info tlb` over QMP on the same stopped states. Medians of several runs. (Snapshots
// while the guest runs and the guest's slowdown: bench/live-refresh, not here.)
//   npm run bench:snapshot   (= tsc -p . && make -C guest && node out/bench/snapshot.js --write docs/benchmarks.md)

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GdbstubTier, GuestMemory, launchQemu, parseInfoRegisters, QmpClient, RamFileTier, RspClient } from '../qemu-bridge/src';
import { buildSnapshot, MmSnapshot, PhysicalReader, SnapshotCache } from '../debug-adapter/src/mm/model/snapshot';
import { ElfFile } from '../debug-adapter/src/symbols';

const KERNEL = path.resolve(__dirname, '..', '..', 'guest', 'build', 'kernel.elf');
const SIZES_MIB = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(",").map(Number) : [64, 256, 1024, 3072];
const RUNS = 7;

/** What bounds each tier now (docs/benchmarks.md): written with the table. */
const BOUNDS = [
  'What bounds each figure now: **cold**, the decoding of every table entry (one typed-array pass over the ~million',
  'entries; an entry that continues its mapping run is one comparison), the block table (one pass over all blocks and an',
  'object per chain with its owner, runs and mappings), the reverse lookup of every mapped block, and the garbage collector',
  'behind those objects; reading the tables from the RAM file (consecutive blocks of tables in one read) is about 1 ms.',
  '**After running**: the reads and byte comparisons of every block of tables and of the block table (nothing is trusted',
  'without its bytes), the replay of the remembered spans of every unchanged table (the churner maps into every process,',
  'so whole address spaces are rarely unchanged), and the reverse lookup, still made whole at every stop. The block table',
  'is updated (only the chains holding a changed entry are walked again) and unchanged chains keep their ChainInfo',
  'objects. `info tlb` at these stops decodes only the churner\'s (kernel) address space, about 4,000 pages: it stays faster.',
  '**gdbstub only**: the ~7 MB of 2 KiB `m` packets (QEMU 7.2 answers at most 2 KiB per packet), 64 in flight: the',
  'tables, the block table, and the owner records of the chain heads; QEMU\'s hex encoding bounds it.',
];

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
  /** Cold: a new SnapshotCache-less build, nothing kept. */
  cold: number;
  /** After running: the guest ran >= 100 ms of `fill churn` since the previous snapshot, then stopped. */
  after: number;
  gdb: number;
  /** `info tlb` on the same stopped states as `after`. */
  tlb: number;
  /** Blocks of page tables found unchanged / read, at the last after-running stop. */
  reused: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measureSize(mib: number, descriptorPhys: number): Promise<Row> {
  const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'fill churn', memoryMiB: mib, startupTimeoutMs: 60000 });
  const qmp = await QmpClient.connect(qemu.qmp);
  try {
    await qmp.cont();
    await qemu.waitForSerial(/fill: ready/, 600000);
    await qmp.stop();
    const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    const registers = { cr0: regs.get('cr0') ?? 0, cr3: regs.get('cr3') ?? 0, cr4: regs.get('cr4') ?? 0 };
    const ram = new RamFileTier(qemu.ramPath as string);
    const ramRead: PhysicalReader = async (a, n) => ram.readSync(a, n);
    // Cold: no cache, the same stopped state every run.
    const [coldMs, snap] = await medianOf(RUNS, () => buildSnapshot({ read: ramRead, descriptorPhys, registers }));
    // After running: one cache for the whole series, as MmService keeps one per session; the
    // churner runs >= 100 ms between stops; `info tlb` is timed on each of those stopped states.
    const cache = new SnapshotCache();
    await buildSnapshot({ read: ramRead, descriptorPhys, registers }, cache);
    const afterTimes: number[] = [];
    const tlbTimes: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      await qmp.cont();
      await sleep(120);
      await qmp.stop();
      const r = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
      const at = { cr0: r.get('cr0') ?? 0, cr3: r.get('cr3') ?? 0, cr4: r.get('cr4') ?? 0 };
      const [ms] = await timed(() => buildSnapshot({ read: ramRead, descriptorPhys, registers: at }, cache));
      const [tlbMs] = await timed(() => qmp.humanMonitorCommand('info tlb', 60000));
      if (i >= 2) { // two warm-up stops (JIT)
        afterTimes.push(ms);
        tlbTimes.push(tlbMs);
      }
    }
    // gdbstub only: a GuestMemory with the gdbstub tier alone, cache dropped between runs.
    const rsp = await RspClient.connect(qemu.gdb);
    const memory = new GuestMemory([new GdbstubTier(rsp)]);
    memory.setRunning(true); // no per-stop cache: every snapshot reads everything again
    const gdbRead: PhysicalReader = (a, n) => memory.readPhys(a, n);
    const [gdbMs] = await medianOf(3, () => buildSnapshot({ read: gdbRead, descriptorPhys, registers }));
    rsp.close();
    ram.close();
    const tables = countTables(snap);
    return { mib, tables, chains: snap.chains.length, cold: coldMs, after: median(afterTimes), gdb: gdbMs, tlb: median(tlbTimes), reused: `${cache.lastReused}/${cache.lastRead}` };
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
  const qemuVersion = execFileSync('qemu-system-i386', ['--version']).toString().split('\n')[0];
  const lines = [
    '<!-- snapshot:start -->',
    '## Memory-manager snapshot',
    '',
    'Command: `npm run bench:snapshot` (bench/snapshot.ts). The guest runs `fill churn`: `fill` (15 processes with all 64 UPD',
    'entries in use, half of the remaining memory in 8-block chains) and a kernel thread that keeps allocating, mapping,',
    'unmapping and freeing small chains on top of it. **Cold**: a snapshot with nothing kept from an earlier one, on one',
    `stopped state (median of ${RUNS} runs after 5 warm-ups). **After running**: the guest runs 120 ms, is stopped through QMP,`,
    'and the snapshot is built with the SnapshotCache kept from the previous stop (as MmService keeps one per session);',
    `\`info tlb\` is timed over QMP on each of those stopped states (medians of ${RUNS} stops after 2 warm-up stops). gdbstub only:`,
    'median of 3, no cache. `info tlb` decodes only the current address space; the snapshot decodes every process, the block',
    'table and the findings. "reused" is the 16 KiB blocks of page tables the last after-running snapshot found unchanged, of those it read.',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, Node ${process.version}, ${qemuVersion}, TCG,`,
    `load average ${os.loadavg()[0].toFixed(1)} at the end: **measured under load** if that is above 1 (six agents on 2 cores share the machine; the figures vary run to run).`,
    '',
    '| guest RAM | page tables | chains | cold snapshot (ms) | snapshot after running (ms) | gdbstub only (ms) | info tlb (ms) | after running / info tlb | reused |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.mib} MiB | ${r.tables} | ${r.chains} | ${r.cold.toFixed(1)} | ${r.after.toFixed(1)} | ${r.gdb.toFixed(0)} | ${r.tlb.toFixed(1)} | ${(r.after / r.tlb).toFixed(2)} | ${r.reused} |`),
    '',
    ...BOUNDS,
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
