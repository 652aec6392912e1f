// Benchmark of how long booting takes per boot medium under TCG: from launchQemu() (QEMU spawned
// paused) through QMP `cont` until vgak (qemu-bridge/test/fixtures/vga-kernel) prints its last
// line on COM1 -- QEMU's -kernel loader with and without the default VGA adapter, a GRUB ISO as
// the CD-ROM, and the same hybrid ISO as a raw hard disk -- plus grub-mkrescue building the ISO.
// Median of several runs; prints a Markdown table and, with --write FILE, replaces the boot-media
// section of that file.
//   npx tsc -p . && node out/bench/boot-media.js --write docs/benchmarks.md

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { launchQemu, LaunchOptions, QmpClient } from '../qemu-bridge/src';
import { buildGrubIso, buildVgaKernel } from '../qemu-bridge/test/fixtures/boot-media';

const RUNS = 5;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Milliseconds from launch to `text` on the serial console. */
async function bootTime(options: LaunchOptions, text: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const qemu = await launchQemu({ memoryMiB: 64, ...options });
  try {
    const qmp = await QmpClient.connect(qemu.qmp);
    await qmp.cont();
    await qemu.waitForSerial(text, 120000);
    qmp.close();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } finally {
    await qemu.shutdown(1000);
  }
}

async function main(): Promise<void> {
  const writeIndex = process.argv.indexOf('--write');
  const target = writeIndex > 0 ? process.argv[writeIndex + 1] : undefined;
  const kernel = buildVgaKernel();
  const isoTimes: number[] = [];
  let iso = '';
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    iso = buildGrubIso(kernel);
    isoTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cases: { name: string; options: LaunchOptions; until: string }[] = [
    { name: '`-kernel` (multiboot), default VGA', options: { kernel }, until: 'vgak: done\n' },
    { name: '`-kernel`, `-vga none` (to the first banner)', options: { kernel, extraArgs: ['-vga', 'none'] }, until: 'vgak: banner\n' },
    { name: 'GRUB ISO as CD-ROM (`boot.iso`)', options: { boot: { kind: 'iso', file: iso } }, until: 'vgak: done\n' },
    { name: 'the same hybrid ISO as raw disk (`boot.disk`)', options: { boot: { kind: 'disk', file: iso } }, until: 'vgak: done\n' },
  ];
  const rows: string[] = [];
  for (const c of cases) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await bootTime(c.options, c.until));
    rows.push(`| ${c.name} | ${median(times).toFixed(0)} | ${Math.min(...times).toFixed(0)} | ${Math.max(...times).toFixed(0)} |`);
  }
  const qemuVersion = execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const lines = [
    '<!-- boot-media:start -->',
    '## Boot time per boot medium',
    '',
    `Command: \`npx tsc -p . && node out/bench/boot-media.js --write docs/benchmarks.md\` (bench/boot-media.ts). ${RUNS} runs each,`,
    'from launchQemu() through QMP `cont` to vgak\'s last serial line (BIOS, option ROM or GRUB, kernel).',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, ${qemuVersion}, TCG,`,
    `shared machine (load average ${os.loadavg()[0].toFixed(1)} at the end of the run: treat figures as orders of magnitude).`,
    '',
    '| boot | median (ms) | min (ms) | max (ms) |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    `| grub-mkrescue building the ISO (${(fs.statSync(iso).size / 1048576).toFixed(1)} MiB) | ${median(isoTimes).toFixed(0)} | ${Math.min(...isoTimes).toFixed(0)} | ${Math.max(...isoTimes).toFixed(0)} |`,
    '<!-- boot-media:end -->',
  ];
  const section = lines.join('\n');
  process.stdout.write(section + '\n');
  if (target) {
    const old = fs.readFileSync(target, 'utf8');
    const re = /<!-- boot-media:start -->[\s\S]*?<!-- boot-media:end -->/;
    fs.writeFileSync(target, re.test(old) ? old.replace(re, section) : old.trimEnd() + '\n\n' + section + '\n');
    process.stdout.write(`wrote ${target}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
