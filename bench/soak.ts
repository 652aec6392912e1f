// The soak benchmark: 10 minutes of live refresh at 10 per second on a 3 GiB guest running the
// demo, with the dashboard open in headless Chromium (bench/soak-run.ts says how it samples and
// compares). Writes the figures into docs/benchmarks.md.
//   npm run bench:soak   (SOAK_SECONDS, SOAK_MIB, SOAK_RATE, SOAK_CMDLINE override the defaults)

import * as os from 'os';
import { runSoak } from './soak-run';
import { writeBenchmarkSection } from './benchmarks-file';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const MIB = Number(process.env.SOAK_MIB ?? 3072);
const RATE = Number(process.env.SOAK_RATE ?? 10);
const CMDLINE = process.env.SOAK_CMDLINE ?? 'demo';

async function main(): Promise<void> {
  const r = await runSoak({ seconds: SECONDS, memoryMiB: MIB, rate: RATE, cmdline: CMDLINE, log: (l) => process.stderr.write(l + '\n') });
  const ok = r.checks.every((c) => c.ok) && r.maxAdapterRssMB < 200 && r.maxAdapterHeapMB < 200 && r.pageErrors.length === 0;
  const lines = [
    '<!-- soak:start -->',
    '## Soak: live refresh for a long time',
    '',
    `Command: \`npm run bench:soak\` (bench/soak.ts, bench/soak-run.ts; ${SECONDS} s at ${RATE}/s on a ${MIB} MiB guest running \`${CMDLINE}\`).`,
    '`mmscope serve` runs as its own process (with the inspector on loopback) and the dashboard page is open in headless',
    `Chromium. Every ${Math.round(r.seconds / Math.max(1, r.samples.length - 1))} s: the adapter's RSS (/proc) and V8 heap after a forced GC (inspector), the page's JS heap`,
    'after a forced GC and its DOM nodes (CDP Performance.getMetrics). After the warm-up (the first 20 %), the median of the last',
    'third of the samples is compared with the first third\'s: allowed is 10 % more plus 10 MB (RSS), 2 MB (heaps), 500 DOM nodes, 50 event listeners.',
    'The same run in `npm test` is debug-adapter/test/soak.test.ts (MMSCOPE_SOAK_SECONDS, 120 s by default).',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores shared with other work (load average ${os.loadavg()[0].toFixed(1)}): **measured under load**.`,
    '',
    `Snapshots published and shown by the page: ${r.deliveredPerSecond.toFixed(1)} per second over ${r.seconds.toFixed(0)} s.`,
    `Adapter at most: ${r.maxAdapterRssMB.toFixed(1)} MB RSS, ${r.maxAdapterHeapMB.toFixed(1)} MB heap (limit 200 MB). Page script errors: ${r.pageErrors.length}.`,
    '',
    '| figure | first third (median) | last third (median) | allowed | grows? |',
    '| --- | ---: | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.what} | ${c.first.toFixed(1)} | ${c.last.toFixed(1)} | ${c.limit.toFixed(1)} | ${c.ok ? 'no' : '**yes**'} |`),
    '',
    `Verdict: ${ok ? 'bounded' : '**NOT bounded**'}.`,
    '<!-- soak:end -->',
  ];
  const section = lines.join('\n');
  process.stdout.write(section + '\n');
  writeBenchmarkSection(process.argv, '<!-- soak:start -->', '<!-- soak:end -->', section);
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`soak: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
