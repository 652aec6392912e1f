// Full walk of the current address space per paging mode with the one page walker, side by side
// in one run with QEMU's own `info tlb` and `info mem` over QMP on the same stopped state, and by
// memory tier (RAM file, gdbstub only). Kernels: the paging test kernels (qemu-bridge/test/
// fixtures/paging-kernel.S, one per mode, ~1000-2000 pages each) in qemu-system-x86_64 -cpu max.
//   npm run bench:paging  (= tsc -p . && node out/bench/paging-walk.js --write docs/benchmarks.md)

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GdbstubTier, GuestMemory, launchQemu, parseInfoRegisters, QemuSession, RamFileTier } from '../qemu-bridge/src';
import { TableCache, walkAddressSpace } from '../qemu-bridge/src/paging/page-table-walk';
import { pagingModel } from '../qemu-bridge/src/paging/paging-modes';
import { buildPagingKernel, PAGING_MODES, PAGING_READY, PagingTestMode } from '../qemu-bridge/test/fixtures/paging-kernel';
import { writeBenchmarkSection } from './benchmarks-file';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const START = '<!-- paging-walk:start -->';
const END = '<!-- paging-walk:end -->';

interface Row {
  mode: PagingTestMode;
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

async function measure(mode: PagingTestMode, dir: string): Promise<Row> {
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
    const cr3 = regs.get('cr3') ?? 0;
    const ram = new GuestMemory([new RamFileTier(qemu.ramPath as string)]);
    const gdbstub = new GuestMemory([new GdbstubTier(rsp)]);
    // Each walk starts cold: the memory's per-stop page cache is dropped first.
    const walk = (m: GuestMemory) => () => {
      m.invalidate();
      return walkAddressSpace(model, cr3, new TableCache((a, n) => m.readPhys(Number(a), n)));
    };
    const space = await walk(ram)();
    const row: Row = {
      mode, pages: space.leaves.length, tables: space.tablesRead,
      ramMs: await timed(RUNS, walk(ram)),
      gdbstubMs: await timed(RUNS, walk(gdbstub)),
      tlbMs: await timed(RUNS, () => qmp.humanMonitorCommand('info tlb')),
    };
    // QEMU 7.2 prints nothing for `info mem` in 5-level mode, after ~30 s (docs/page-walker.md).
    if (mode !== 'L5') row.memMs = await timed(RUNS, () => qmp.humanMonitorCommand('info mem', 20_000));
    return row;
  } finally {
    await session.detach().catch(() => undefined);
    await qemu.shutdown(500);
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-bench-paging-'));
  const rows: Row[] = [];
  try {
    for (const mode of PAGING_MODES) rows.push(await measure(mode, dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const f = (n: number): string => n.toFixed(2);
  const section = [
    START,
    `## Page walks per paging mode, ${new Date().toISOString().slice(0, 10)}, median of ${RUNS} runs`,
    '',
    'Full walk of the current address space (every leaf decoded: flags, NX, non-present entries with content, findings) with the one',
    'page walker, against QEMU\'s `info tlb` and `info mem` over QMP on the same stopped guest. Kernels: the paging test kernels, one',
    'per mode (`qemu-bridge/test/fixtures/paging-kernel.S`), qemu-system-x86_64 `-cpu max`, TCG. Ratio = `info tlb` / walk from the RAM file.',
    '',
    '| mode | pages | tables | walk, RAM file | walk, gdbstub only | `info tlb` | `info mem` | ratio |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.mode} | ${r.pages} | ${r.tables} | ${f(r.ramMs)} ms | ${f(r.gdbstubMs)} ms | ${f(r.tlbMs)} ms | ${r.memMs === undefined ? 'none (QEMU prints nothing)' : `${f(r.memMs)} ms`} | ${(r.tlbMs / r.ramMs).toFixed(1)}x |`),
    '',
    'Command: `npm run bench:paging`. The Linux guests of issue 12 (thousands of tables) are not measured yet.',
    END,
  ].join('\n');
  process.stdout.write(section + '\n');
  writeBenchmarkSection(process.argv, START, END, section);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
