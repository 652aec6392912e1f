// Full walk of the current address space per paging mode with the one page walker, side by side
// in one run with QEMU's own `info tlb` and `info mem` over QMP on the same stopped state, and by
// memory tier (RAM file, gdbstub only). Kernels: the paging test kernels (qemu-bridge/test/
// fixtures/paging-kernel.S, one per mode, ~1000-2000 pages each) in qemu-system-x86_64 -cpu max,
// and Debian's Linux kernels (scripts/linux-guests.sh: 686, 686-pae, amd64 in 4- and 5-level
// paging, ~3,500-75,000 pages) stopped while their busybox workload runs.
//   npm run bench:paging  (= tsc -p . && node out/bench/paging-walk.js --write docs/benchmarks.md)
//   BENCH_RUNS=N (default 15)

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GdbstubTier, GuestMemory, launchQemu, parseInfoRegisters, QemuSession, QmpClient, RamFileTier, RspClient } from '../qemu-bridge/src';
import { TableCache, walkMappings } from '../qemu-bridge/src/paging/page-table-walk';
import { PagingModel, pagingModel } from '../qemu-bridge/src/paging/paging-modes';
import { bootLinuxGuest, LINUX_MODES, LinuxMode } from '../qemu-bridge/test/fixtures/linux-guests';
import { buildPagingKernel, PAGING_MODES, PAGING_READY } from '../qemu-bridge/test/fixtures/paging-kernel';
import { pagingRegisters } from '../qemu-bridge/test/fixtures/paging-oracle';
import { writeBenchmarkSection } from './benchmarks-file';
import { buildSnapshotDocument } from '../debug-adapter/src/mm/model/system-snapshot';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const START = '<!-- paging-walk:start -->';
const END = '<!-- paging-walk:end -->';

interface Row {
  mode: string;
  pages: number;
  tables: number;
  ramMs: number;
  gdbstubMs: number;
  tlbMs: number;
  memMs?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function timed(runs: number, f: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(ms);
}

/** The walk (cold, from each tier), `info tlb` and `info mem` on one stopped guest. */
async function measureStopped(mode: string, model: PagingModel, cr3: number, ramPath: string, rsp: RspClient, qmp: QmpClient): Promise<Row> {
  const ram = new GuestMemory([new RamFileTier(ramPath)]);
  const gdbstub = new GuestMemory([new GdbstubTier(rsp)]);
  // Each walk starts cold: the memory's per-stop page cache is dropped first.
  const walk = (m: GuestMemory) => () => {
    m.invalidate();
    // The walk every whole-space view uses (the level-0 snapshot): into mapping runs, no object per page.
    return walkMappings(model, cr3, new TableCache((a, n) => m.readPhys(Number(a), n)));
  };
  const space = await walk(ram)();
  const row: Row = {
    mode, pages: space.pages + space.shared.reduce((n, x) => n + x.pages, 0), tables: space.tablesRead,
    ramMs: await timed(RUNS, walk(ram)),
    gdbstubMs: await timed(RUNS, walk(gdbstub)),
    tlbMs: await timed(RUNS, () => qmp.humanMonitorCommand('info tlb', 30_000)),
  };
  // QEMU 7.2 prints nothing for `info mem` in 5-level mode, after ~30 s (docs/page-walker.md).
  if (model.kind !== 'x86-64-la57') row.memMs = await timed(RUNS, () => qmp.humanMonitorCommand('info mem', 30_000));
  return row;
}

async function measure(mode: (typeof PAGING_MODES)[number], dir: string): Promise<Row> {
  const qemu = await launchQemu({ kernel: buildPagingKernel(mode, dir), memoryMiB: 32, qemuBinary: 'qemu-system-x86_64', extraArgs: ['-cpu', 'max'] });
  const session = await QemuSession.attachTo(qemu);
  try {
    const qmp = session.qmp;
    const rsp = session.rsp;
    if (!qmp || !rsp) throw new Error('the session has no QMP or gdbstub');
    await rsp.resume('continue');
    await qemu.waitForSerial(PAGING_READY, 30_000);
    await rsp.interrupt();
    const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    const model = pagingModel({ cr0: regs.get('cr0') ?? 0, cr4: regs.get('cr4') ?? 0, efer: regs.get('efer') ?? 0 });
    return await measureStopped(mode, model, regs.get('cr3') ?? 0, qemu.ramPath as string, rsp, qmp);
  } finally {
    await session.detach().catch(() => undefined);
    await qemu.shutdown(500);
  }
}

/** A Linux guest: booted, its workload run for a second, then stopped by the gdbstub connecting. */
async function measureLinux(mode: LinuxMode): Promise<Row & { kernel: string }> {
  const { qemu, qmp, guest } = await bootLinuxGuest(mode);
  let rsp: RspClient | undefined;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    rsp = await RspClient.connect(qemu.gdb, { timeoutMs: 10_000 });
    const { model, cr3 } = await pagingRegisters(qmp);
    // With PTI, the stop is in a process's user tables (CR3 bit 12) or its kernel tables.
    const label = mode.pti ? `${mode.mode}, stopped in ${cr3 & 0x1000 ? 'user' : 'kernel'} tables` : mode.mode;
    return { ...(await measureStopped(label, model, cr3, qemu.ramPath as string, rsp, qmp)), kernel: `${guest.package} ${guest.version}` };
  } finally {
    rsp?.close();
    qmp.close();
    await qemu.shutdown(500);
  }
}

/** The level-0 snapshot (what `mmscope snapshot` shows of any kernel) of a Linux amd64 guest with 3 GiB: time and memory. */
async function measureBigLinux(): Promise<{ mib: number; pages: number; runs: number; tables: number; ms: number; heapMiB: number; kernel: string }> {
  const mode = LINUX_MODES.find((m) => m.kind === 'x86-64') as LinuxMode;
  const mib = 3072;
  const { qemu, qmp, guest } = await bootLinuxGuest(mode, 300_000, mib);
  let rsp: RspClient | undefined;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    rsp = await RspClient.connect(qemu.gdb, { timeoutMs: 10_000 });
    const regs = await rsp.readRegisters();
    const registers = { cr0: regs.big('cr0'), cr3: regs.big('cr3'), cr4: regs.big('cr4'), efer: regs.big('efer') };
    const ram = new GuestMemory([new RamFileTier(qemu.ramPath as string)]);
    const snap = () => {
      ram.invalidate();
      return buildSnapshotDocument({ read: (a, n) => ram.readPhys(Number(a), n), registers, stop: 0 });
    };
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const kept = await snap();
    const heapMiB = (process.memoryUsage().heapUsed - heap0) / (1 << 20);
    const ms = await timed(RUNS, snap);
    const current = kept.spaces.find((x) => x.current);
    return { mib, pages: current?.pages ?? 0, runs: current?.mappings.length ?? 0, tables: current?.tablesRead ?? 0, ms, heapMiB, kernel: `${guest.package} ${guest.version}` };
  } finally {
    rsp?.close();
    qmp.close();
    await qemu.shutdown(500);
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-bench-paging-'));
  const rows: Row[] = [];
  const linux: (Row & { kernel: string })[] = [];
  let big: Awaited<ReturnType<typeof measureBigLinux>> | undefined;
  try {
    for (const mode of PAGING_MODES) rows.push(await measure(mode, dir));
    for (const mode of LINUX_MODES) linux.push(await measureLinux(mode));
    big = await measureBigLinux();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const f = (n: number): string => n.toFixed(2);
  const line = (r: Row): string => `| ${r.mode} | ${r.pages} | ${r.tables} | ${f(r.ramMs)} ms | ${f(r.gdbstubMs)} ms | ${f(r.tlbMs)} ms | ${r.memMs === undefined ? 'none (QEMU prints nothing)' : `${f(r.memMs)} ms`} | ${(r.tlbMs / r.ramMs).toFixed(1)}x |`;
  const section = [
    START,
    `## Page walks per paging mode, ${new Date().toISOString().slice(0, 10)}, median of ${RUNS} runs`,
    '',
    'Full walk of the current address space into mapping runs (`walkMappings`, what the level-0 snapshot and every whole-space view use:',
    'every entry decoded, flags, NX, non-present entries with content, findings) with the one',
    'page walker, against QEMU\'s `info tlb` and `info mem` over QMP on the same stopped guest. Kernels: the paging test kernels, one',
    'per mode (`qemu-bridge/test/fixtures/paging-kernel.S`), qemu-system-x86_64 `-cpu max`, TCG. Ratio = `info tlb` / walk from the RAM file.',
    '',
    '| mode | pages | tables | walk, RAM file | walk, gdbstub only | `info tlb` | `info mem` | ratio |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(line),
    '',
    `Debian's Linux kernels (\`scripts/linux-guests.sh\`: ${[...new Set(linux.map((r) => r.kernel))].join(', ')}), \`-m 256\`,`,
    `${LINUX_MODES.map((m) => `${m.mode}: ${m.qemuBinary} \`-cpu ${m.cpu}\``).join('; ')}; stopped (by the gdbstub connecting)`,
    '1 s after the busybox /init said it was ready, in whatever process ran then. In amd64, 65,536 of the pages are espfix64\'s one',
    'read-only stack page mapped every 64 KiB through shared page tables (hence few tables): each such table is decoded once.',
    '',
    '| mode | pages | tables | walk, RAM file | walk, gdbstub only | `info tlb` | `info mem` | ratio |',
    '|---|---|---|---|---|---|---|---|',
    ...linux.map(line),
    '',
    ...(big ? [
      `Level-0 snapshot (\`mmscope snapshot\` of a kernel without our descriptor: the walk into mapping runs, findings, non-present`,
      `entries) of ${big.kernel} with \`-m ${big.mib}\` (amd64, 4-level): ${big.pages} pages in ${big.runs} runs, ${big.tables} tables,`,
      `**${f(big.ms)} ms** from the RAM file (median of ${RUNS}); the snapshot held ${big.heapMiB.toFixed(1)} MiB of heap (after a GC, with --expose-gc).`,
      '',
    ] : []),
    'Command: `npm run bench:paging`.',
    END,
  ].join('\n');
  process.stdout.write(section + '\n');
  writeBenchmarkSection(process.argv, START, END, section);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
