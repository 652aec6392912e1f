// Benchmark of the one snapshot-document builder (mm/model/system-snapshot.ts): what the schema-3
// document adds on top of the walk, for our guest (the `fill` workload, 64 MiB .. 3 GiB: the
// document from its MmSnapshot, with QEMU's memory map), for Debian's amd64 Linux kernel with
// 3 GiB of RAM (level 0 from the RAM file: the walk of the current space, its direct map and the
// frame map), and for a synthetic 4-level image with 256 Ki separate runs (the worst case of the
// interval sweep). Medians of several runs after warm-ups.
//   npm run bench:document  (= tsc -p . && make -C guest && node out/bench/snapshot-document.js --write docs/benchmarks.md)

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launchQemu, parseFlatMemoryMap, parseInfoRegisters, QmpClient, RamFileTier } from '../qemu-bridge/src';
import { bootLinuxGuest, LINUX_MODES } from '../qemu-bridge/test/fixtures/linux-guests';
import { buildSnapshot, MmSnapshot, PhysicalReader } from '../debug-adapter/src/mm/model/snapshot';
import { snapshotToJson } from '../debug-adapter/src/mm/model/snapshot-json';
import { buildSnapshotDocument } from '../debug-adapter/src/mm/model/system-snapshot';
import { ElfFile } from '../debug-adapter/src/symbols';
import { writeBenchmarkSection } from './benchmarks-file';

const KERNEL = path.resolve(__dirname, '..', '..', 'guest', 'build', 'kernel.elf');
const SIZES_MIB = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [64, 1024, 3072];
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function medianOf<T>(runs: number, f: () => Promise<T> | T): Promise<[number, T]> {
  for (let i = 0; i < 3; i++) await f();
  const times: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    last = await f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return [median(times), last as T];
}

async function guestRow(mib: number, descriptorPhys: number): Promise<string> {
  const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'fill', memoryMiB: mib, startupTimeoutMs: 60000 });
  const qmp = await QmpClient.connect(qemu.qmp);
  try {
    await qmp.cont();
    await qemu.waitForSerial(/fill: ready/, 600000);
    await qmp.stop();
    const regs = parseInfoRegisters(await qmp.humanMonitorCommand('info registers'));
    const registers = { cr0: regs.get('cr0') ?? 0, cr3: regs.get('cr3') ?? 0, cr4: regs.get('cr4') ?? 0 };
    const regions = parseFlatMemoryMap(await qmp.humanMonitorCommand('info mtree -f'));
    const ram = new RamFileTier(qemu.ramPath as string);
    const read: PhysicalReader = async (a, n) => ram.readSync(a, n);
    const [snapMs, snap] = await medianOf<MmSnapshot>(RUNS, () => buildSnapshot({ read, descriptorPhys, registers }));
    const [docMs, doc] = await medianOf(RUNS, () => snapshotToJson(snap, { regions }));
    const [jsonMs, text] = await medianOf(RUNS, () => JSON.stringify(doc));
    ram.close();
    const c = doc.frames.counts;
    return `| ${mib} MiB | ${doc.spaces.length} | ${doc.frames.mapping.length} | ${c.mapped + c.multi} / ${c.table} | ${snapMs.toFixed(1)} | ${docMs.toFixed(1)} | ${jsonMs.toFixed(1)} | ${(text.length / 1024).toFixed(0)} KiB |`;
  } finally {
    qmp.close();
    qemu.kill('SIGKILL');
    await qemu.exited;
  }
}

async function linuxRow(mib: number): Promise<string> {
  const mode = LINUX_MODES.find((m) => m.kind === 'x86-64') ?? LINUX_MODES[0];
  const { qemu, qmp } = await bootLinuxGuest(mode, 300_000, mib);
  try {
    await qmp.stop();
    const text = await qmp.humanMonitorCommand('info registers');
    const regs = parseInfoRegisters(text);
    const efer = /EFER=([0-9a-fA-F]+)/.exec(text);
    const registers = { cr0: BigInt(regs.get('cr0') ?? 0), cr3: BigInt(regs.get('cr3') ?? 0), cr4: BigInt(regs.get('cr4') ?? 0), efer: efer ? BigInt(`0x${efer[1]}`) : 0n };
    const regions = parseFlatMemoryMap(await qmp.humanMonitorCommand('info mtree -f'));
    const ram = new RamFileTier(qemu.ramPath as string);
    // The RAM file holds RAM by its offset; above 4 GiB on the pc machine the offset is 1 GiB lower.
    const read = async (a: bigint, n: number): Promise<Buffer> => ram.readSync(a >= 0x100000000n ? Number(a) - 0x40000000 : Number(a), n);
    const [ms, doc] = await medianOf(RUNS, () => buildSnapshotDocument({ read, registers, regions, stop: 1 }));
    ram.close();
    const s = doc.spaces[0];
    const c = doc.frames.counts;
    return `| Linux ${mode.guest} (${mode.kind}), ${mib} MiB | ${s.pages} | ${s.mappings.length} | ${s.tables.length} | ${c.mapped + c.multi} | ${doc.frames.mapping.length} | ${ms.toFixed(1)} |`;
  } finally {
    qmp.close();
    await qemu.shutdown();
  }
}

/** A 4-level image with `runs` 4 KiB pages of alternating access, each its own run, plus a direct map of them. */
async function syntheticRow(runs: number): Promise<string> {
  const tablesNeeded = Math.ceil(runs / 512) * 2 + 8;
  const mem = Buffer.alloc((tablesNeeded + 8) * 4096);
  let next = 0x1000;
  const alloc = (): number => ((next += 0x1000), next - 0x1000);
  const root = alloc();
  const child = (t: number, i: number): number => {
    const e = mem.readBigUInt64LE(t + i * 8);
    if (e & 1n) return Number(e & 0xffffffffff000n);
    const c = alloc();
    mem.writeBigUInt64LE(BigInt(c) | 7n, t + i * 8);
    return c;
  };
  const map = (va: bigint, pa: number, flags: bigint): void => {
    let t = root;
    for (const s of [39n, 30n, 21n]) t = child(t, Number((va >> s) & 511n));
    mem.writeBigUInt64LE(BigInt(pa) | flags | 1n, t + Number((va >> 12n) & 511n) * 8);
  };
  for (let i = 0; i < runs; i++) {
    map(0x10000000n + BigInt(i) * 0x1000n, 0x40000000 + i * 0x1000, i % 2 ? 2n | (1n << 63n) : 1n << 63n);
    map(0xffff888040000000n + BigInt(i) * 0x1000n, 0x40000000 + i * 0x1000, 2n | (1n << 63n) | (i % 2 ? 0x40n : 0n));
  }
  const read = async (a: bigint, n: number): Promise<Buffer> => mem.subarray(Number(a), Number(a) + n);
  const registers = { cr0: 0x80000011n, cr3: BigInt(root), cr4: 0x20n, efer: 0xd00n };
  const [ms, doc] = await medianOf(5, () => buildSnapshotDocument({ read, registers, stop: 1 }));
  return `| synthetic, ${runs * 2} runs over ${runs} frames | ${doc.spaces[0].pages} | ${doc.spaces[0].mappings.length} | ${doc.spaces[0].tables.length} | ${doc.frames.counts.multi} | ${doc.frames.mapping.length} | ${ms.toFixed(1)} |`;
}

async function main(): Promise<void> {
  const elf = new ElfFile(fs.readFileSync(KERNEL));
  const sym = elf.symbolByName('mm_debug_info');
  const descriptorPhys = sym ? elf.virtualToLoad(sym.value) : undefined;
  if (descriptorPhys === undefined) throw new Error(`${KERNEL} has no mm_debug_info; build the guest (make -C guest)`);
  const guest: string[] = [];
  for (const mib of SIZES_MIB) {
    guest.push(await guestRow(mib, descriptorPhys));
    process.stderr.write(`guest ${mib} MiB\n`);
  }
  const level0: string[] = [];
  for (const mib of (process.env.BENCH_LINUX_MIB ?? '256,3072').split(',').map(Number)) {
    level0.push(await linuxRow(mib));
    process.stderr.write(`linux ${mib} MiB\n`);
  }
  level0.push(await syntheticRow(1 << 17));
  const lines = [
    '<!-- snapshot-document:start -->',
    '## Snapshot document (schema 3)',
    '',
    'Command: `node out/bench/snapshot-document.js --write docs/benchmarks.md` (bench/snapshot-document.ts). Our guest runs `fill`',
    '(as in the snapshot benchmark), is stopped, and its MmSnapshot becomes the schema-3 document (spaces `kernel` and `pid:N`,',
    'the frame map over QEMU\'s memory map, the chain table as allocator layer, level-0 findings): `snapshotToJson`, on top of',
    `buildSnapshot. Median of ${RUNS} runs after 3 warm-ups. Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, Node ${process.version}, TCG,`,
    `load average ${os.loadavg()[0].toFixed(1)} at the end (a shared machine: orders of magnitude).`,
    '',
    '| guest RAM | spaces | frame-map runs | frames mapped / table | MmSnapshot (ms) | + document (ms) | JSON.stringify (ms) | JSON size |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...guest,
    '',
    'Level 0 (`buildSnapshotDocument`: the walk from the RAM file, the frame map, the findings), Debian\'s amd64 kernel stopped in its',
    'busybox workload, and a synthetic image whose pages all differ from their neighbours (every page its own run, each frame mapped twice):',
    '',
    '| kernel | pages | runs | tables | frames mapped | frame-map runs | document (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...level0,
    '<!-- snapshot-document:end -->',
  ];
  const section = lines.join('\n');
  process.stdout.write(section + '\n');
  writeBenchmarkSection(process.argv, '<!-- snapshot-document:start -->', '<!-- snapshot-document:end -->', section);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
