// Benchmark of the one diff of a stop (debug-adapter/src/live/stop-changes.ts): the documents' part
// (spaces with their new runs, processes, findings, allocators, heaps) that every published
// snapshot now gets on our guest too, against serialising the same document (which every published
// snapshot costs anyway: the snapshotReady event carries it), measured in the same run on the two
// documents recorded from the demo guest (extension/test/fixtures). Medians of many runs after warm-ups.
//   npm run bench:changes  (= tsc -p . && node out/bench/stop-changes.js --write docs/benchmarks.md)

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { diffDocuments } from '../debug-adapter/src/mm/model/diff';
import type { SnapshotJson } from '../debug-adapter/src/mm/model/snapshot-json';
import { writeBenchmarkSection } from './benchmarks-file';

const FIXTURES = path.resolve(__dirname, '..', '..', 'extension', 'test', 'fixtures');
const RUNS = Number(process.env.BENCH_RUNS ?? 201);
const load = (name: string): SnapshotJson => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as SnapshotJson;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

function medianMs(f: () => unknown): number {
  for (let i = 0; i < 20; i++) f();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

function main(): void {
  const before = load('demo-snapshot.json');
  const after = load('demo-snapshot-later.json');
  const runs = after.spaces.reduce((n, s) => n + s.mappings.length, 0);
  // Alternating the two measurements three times, the median of each.
  const diff: number[] = [];
  const serialise: number[] = [];
  for (let k = 0; k < 3; k++) {
    diff.push(medianMs(() => diffDocuments(before, after)));
    serialise.push(medianMs(() => JSON.stringify(after)));
  }
  const d = median(diff);
  const s = median(serialise);
  const section = [
    '<!-- stop-changes:start -->',
    '### The one diff of a stop (documents part)',
    '',
    `Made by \`npm run bench:changes\` (bench/stop-changes.ts): \`diffDocuments\` between the two recorded demo documents (${after.spaces.length} spaces, ${runs} runs, ${after.processes.length} processes),`,
    `against \`JSON.stringify\` of the same document in the same run (every published snapshot is serialised anyway), medians of ${RUNS} runs, three alternating rounds.`,
    '',
    '| step | median ms |',
    '| --- | ---: |',
    `| diffDocuments | ${d.toFixed(3)} |`,
    `| JSON.stringify of the document | ${s.toFixed(3)} |`,
    `| ratio diff / serialise | ${(d / s).toFixed(2)} |`,
    '',
    `Host: ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)} when measured (other work shared the machine: the ratio is the figure to compare).`,
    '<!-- stop-changes:end -->',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  writeBenchmarkSection(process.argv, '<!-- stop-changes:start -->', '<!-- stop-changes:end -->', section);
}

main();
