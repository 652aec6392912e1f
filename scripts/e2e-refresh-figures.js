#!/usr/bin/env node
// Reads the stop-to-views timings of one or more end-to-end runs (`.artifacts/e2e/refresh-ms.json`
// as extension/test/e2e.test.ts writes it, format 2: one entry per stop with its session number
// and its stop number) and prints the docs/benchmarks.md section of the e2e refresh figures: the
// first stop after F5 (session 1's first stop), a session's first stop (later sessions), and later
// stops, median and max each. Every figure is tied to its (run, session, stop): a stop listed twice
// in a run is refused, so a stop cannot carry another's value.
//
//   node scripts/e2e-refresh-figures.js RUN1/refresh-ms.json [RUN2/refresh-ms.json ...] [--write docs/benchmarks.md] [--note TEXT]

'use strict';
const fs = require('fs');

const START = '<!-- e2e-refresh:start -->';
const END = '<!-- e2e-refresh:end -->';

function parseArgs(argv) {
  const files = [];
  let write;
  let note;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--write') write = argv[++i];
    else if (argv[i] === '--note') note = argv[++i];
    else files.push(argv[i]);
  }
  if (!files.length) throw new Error('give at least one refresh-ms.json (written by `npm run test:e2e` to .artifacts/e2e/)');
  return { files, write, note };
}

/** The stops of one run, checked: format 2, numbers, no (session, stop) twice. */
function readRun(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!data || data.format !== 2 || !Array.isArray(data.stops)) {
    throw new Error(`${file}: not format 2 (an older e2e wrote a bare list with no stop numbers; its figures cannot be tied to stops)`);
  }
  const seen = new Set();
  return data.stops.map((s, i) => {
    for (const k of ['session', 'stop', 'stopToViewsMs', 'fetchAndViewsMs']) {
      if (typeof s[k] !== 'number' || !Number.isFinite(s[k])) throw new Error(`${file}: entry ${i} has no number "${k}"`);
    }
    const key = `${s.session}:${s.stop}`;
    if (seen.has(key)) throw new Error(`${file}: session ${s.session} stop ${s.stop} is listed twice`);
    seen.add(key);
    return { run: file, ...s };
  });
}

/** Sorts a run's stops into the three kinds. */
function classify(stops) {
  const first = new Map();
  for (const s of stops) if (!first.has(s.session) || s.stop < first.get(s.session)) first.set(s.session, s.stop);
  const firstSession = Math.min(...stops.map((s) => s.session));
  const out = { afterF5: [], sessionFirst: [], later: [] };
  for (const s of stops) {
    if (s.stop !== first.get(s.session)) out.later.push(s);
    else if (s.session === firstSession) out.afterF5.push(s);
    else out.sessionFirst.push(s);
  }
  return out;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function row(name, stops, runs) {
  if (!stops.length) return `| ${name} | 0 | – | – | – |`;
  const ms = stops.map((s) => s.stopToViewsMs);
  const max = stops.reduce((a, b) => (b.stopToViewsMs > a.stopToViewsMs ? b : a));
  const where = `run ${runs.indexOf(max.run) + 1}, session ${max.session}, stop ${max.stop}`;
  return `| ${name} | ${stops.length} | ${median(ms).toFixed(0)} | ${max.stopToViewsMs.toFixed(0)} | ${where} |`;
}

function section(files, note) {
  const all = files.map(readRun);
  const kinds = { afterF5: [], sessionFirst: [], later: [] };
  for (const run of all) {
    const c = classify(run);
    for (const k of Object.keys(kinds)) kinds[k].push(...c[k]);
  }
  const lines = [
    START,
    '### Stop to views inside a real VS Code (`npm run test:e2e`)',
    '',
    'From the adapter\'s stop (`stoppedAt` in mmscope/snapshotReady) to every mmscope view having taken that stop\'s snapshot, inside',
    'code-server in chromium (extension/test/e2e.test.ts; each stop tied to its session and stop number in `.artifacts/e2e/refresh-ms.json`).',
    `Made by \`node scripts/e2e-refresh-figures.js ${files.length > 1 ? '<run 1> … <run N>' : '<run>'}\` from ${files.length} run${files.length > 1 ? 's' : ''}${note ? `, ${note}` : ''}. Target: ≤ 300 ms for every kind.`,
    '',
    '| stop | stops | median ms | max ms | max at |',
    '| --- | ---: | ---: | ---: | --- |',
    row('first stop after F5', kinds.afterF5, files),
    row('a later session\'s first stop', kinds.sessionFirst, files),
    row('later stops', kinds.later, files),
    END,
  ];
  const worst = Math.max(...[...kinds.afterF5, ...kinds.sessionFirst, ...kinds.later].map((s) => s.stopToViewsMs));
  return { text: lines.join('\n'), worst };
}

function main() {
  const { files, write, note } = parseArgs(process.argv.slice(2));
  const { text, worst } = section(files, note);
  if (write) {
    const doc = fs.readFileSync(write, 'utf8');
    const a = doc.indexOf(START);
    const b = doc.indexOf(END);
    const next = a >= 0 && b > a ? doc.slice(0, a) + text + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${text}\n`;
    fs.writeFileSync(write, next);
  }
  process.stdout.write(`${text}\n`);
  process.stderr.write(`worst stop to views: ${worst} ms (target 300 ms)\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`e2e-refresh-figures: ${e.message}\n`);
    process.exit(1);
  }
}

module.exports = { readRun, classify, section, median };
