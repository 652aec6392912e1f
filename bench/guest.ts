// Guest-side memory-manager benchmark: boots the guest kernel with cmdline `bench` at -m 256
// three times, takes the median of each figure, prints a Markdown section and, with
// --write FILE, replaces the "Guest memory manager" section of that file (between
// <!-- guest-bench:start --> and <!-- guest-bench:end -->, appended if absent).
//   npm run bench:guest   (= tsc -p . && make -C guest && node out/bench/guest.js --write docs/benchmarks.md)

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { runGuest } from '../guest/test/qemu-run';
import { parseBench, GUEST_BENCH_FIGURES } from '../guest/test/bench-output';

const RUNS = 3;
const MEMORY_MIB = 256;
const LIMIT_MS = 300_000;
const START = '<!-- guest-bench:start -->';
const END = '<!-- guest-bench:end -->';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function qemuVersion(): string {
  try {
    return execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'qemu-system-i386 (version unknown)';
  }
}

function format(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(Number(value.toPrecision(4)));
}

/** Boots the bench once; returns figure name -> value and the informational lines. */
async function once(): Promise<{ values: Map<string, number>; info: string[] }> {
  const run = await runGuest({
    cmdline: 'bench',
    memoryMiB: MEMORY_MIB,
    timeLimitMs: LIMIT_MS,
    stopWhen: (line) => line.startsWith('FAULT:'),
  });
  const report = parseBench(run.lines);
  const tail = run.lines.slice(-8).join('\n');
  if (report.faults.length > 0) throw new Error(`the guest faulted: ${report.faults[0]}`);
  if (!report.done || run.exitCode !== 33) {
    throw new Error(`the bench boot did not finish (exit status ${run.exitCode ?? 'none'}); last lines:\n${tail}`);
  }
  const values = new Map(report.figures.map((f) => [f.name, f.value]));
  for (const want of GUEST_BENCH_FIGURES) {
    if (!values.has(want.name)) throw new Error(`the guest printed no "bench ${want.name}" line:\n${tail}`);
  }
  return { values, info: run.lines.filter((l) => l.startsWith('bench: ')) };
}

async function main(): Promise<void> {
  const writeIndex = process.argv.indexOf('--write');
  const target = writeIndex > 0 ? process.argv[writeIndex + 1] : undefined;
  const runs: Map<string, number>[] = [];
  let info: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    runs.push(r.values);
    info = r.info;
    process.stderr.write(`run ${i + 1}/${RUNS}: ${[...r.values].map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  }
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const rows = GUEST_BENCH_FIGURES.map((f) => {
    const values = runs.map((r) => r.get(f.name) as number);
    return `| ${f.name} | ${f.what} | ${format(median(values))} | ${f.unit} | ${values.map(format).join(', ')} |`;
  });
  const layout = info.find((l) => l.startsWith('bench: fragmented'));
  const hheap = info.find((l) => l.startsWith('bench: handle heap'));
  const section = [
    START,
    '## Guest memory manager',
    '',
    `Command: \`npm run bench:guest\` (bench/guest.ts), which boots \`qemu-system-i386 -kernel guest/build/kernel.elf`,
    `-append bench -m ${MEMORY_MIB} -nodefaults -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04`,
    `-no-reboot\` ${RUNS} times and takes the median of each figure (guest/kernel/bench.c prints them).`,
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${cpu}), ${qemuVersion()}, TCG,`,
    `shared machine (load average ${os.loadavg()[0].toFixed(1)} at the end): treat figures as orders of magnitude.`,
    '',
    '| figure | what | median | unit | runs |',
    '| --- | --- | ---: | --- | --- |',
    ...rows,
    '',
    'Rates run each operation for at least 300 ms (allocations in batches of up to 1024 chains, then',
    'freed). Durations use the TSC, calibrated against the 1 kHz PIT, because MmDefragment runs with',
    'interrupts off and the timer does not advance during it. The defragmentation layout: 64 MiB of',
    'movable 1-4 block chains with freed 1-4 block gaps between them and a frozen chain every 32 chains;',
    'the guest checks mm_check, every chain (found again by its owner sequence number) and a',
    'checksum of its contents before it prints the figures.',
    'The handle heap (hheap_*): 8192 blocks of 16-1024 bytes, 60% freed at random, 2% of the oldest',
    'quarter locked, then one hh_compact; the guest checks hh_check, every block\'s bytes and that no',
    'locked block moved before it prints the figures (pages returned = chain blocks given back x 4).',
    '',
    'Swapping (every boot gets a sparse 256 MiB swap disk on the primary IDE channel, ATA PIO by',
    'polling, one 32-sector command per 16 KiB block): a mapped 65-block swappable chain has its 64',
    'body blocks swapped out dirty (swap_out: one disk write each), read back by one page fault each',
    '(swap_in), and swapped out again without a write since nothing dirtied them (swap_out_clean: the',
    'page-clean path, only table and PTE updates); every page is checked after each round, and the',
    'write counters must show exactly the expected writes. PIO under TCG makes the disk rates small:',
    'each sector is 256 emulated port reads or writes.',
    ...(layout ? ['', `Last run: \`${layout}\``] : []),
    ...(hheap ? ['', `Handle heap: \`${hheap}\``] : []),
    END,
  ].join('\n');
  process.stdout.write(section + '\n');
  if (target) {
    const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '# Benchmarks\n';
    const re = /<!-- guest-bench:start -->[\s\S]*?<!-- guest-bench:end -->/;
    const updated = re.test(old) ? old.replace(re, () => section) : `${old.trimEnd()}\n\n${section}\n`;
    fs.writeFileSync(target, updated);
    process.stdout.write(`wrote ${target}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:guest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
