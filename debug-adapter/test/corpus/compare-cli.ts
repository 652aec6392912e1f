#!/usr/bin/env node
// Runs one corpus comparison and prints its report:
//   node out/debug-adapter/test/corpus/compare-cli.js --style higher-half-c0 --opt O2 [--fp|--no-fp]
//        [--seed N] [--steps N (per kind)] [--sequence N] [--show N (differences)] [--json]
// Without --fp/--no-fp the matrix's (or X64_MATRIX's) variant for that style and level is used (docs/testing-corpus.md).

import { BOOT_MATRIX, CorpusVariant, isOptLevel, isStyle, STYLES } from './build';
import { compareVariant, DEFAULT_OPTIONS, formatReport } from './compare';

function usage(text: string): never {
  process.stderr.write(`${text}\nusage: compare-cli --style ${Object.keys(STYLES).join('|')} --opt O0|O1|O2|Os [--fp|--no-fp] [--seed N] [--steps N] [--sequence N] [--show N] [--json]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let style: string | undefined;
  let opt: string | undefined;
  let fp: boolean | undefined;
  const options = { ...DEFAULT_OPTIONS };
  let show = 12;
  let json = false;
  const num = (i: number): number => {
    const n = Number(argv[i]);
    if (!Number.isInteger(n) || n < 0) usage(`${argv[i - 1]} needs a whole number, got "${argv[i] ?? ''}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--style') style = argv[++i];
    else if (a === '--opt') opt = argv[++i];
    else if (a === '--fp') fp = true;
    else if (a === '--no-fp') fp = false;
    else if (a === '--seed') options.seed = num(++i);
    else if (a === '--steps') options.opsPerKind = num(++i);
    else if (a === '--sequence') options.sequenceLength = Math.max(1, num(++i));
    else if (a === '--show') show = num(++i);
    else if (a === '--json') json = true;
    else usage(`unknown argument "${a}"`);
  }
  if (!style || !isStyle(style)) usage(`--style must be one of ${Object.keys(STYLES).join(', ')}`);
  if (!opt || !isOptLevel(opt)) usage('--opt must be O0, O1, O2 or Os');
  const inMatrix = BOOT_MATRIX.find((v) => v.style === style && v.opt === opt && (fp === undefined || v.framePointer === fp));
  const variant: CorpusVariant = inMatrix ?? { style, opt, framePointer: fp ?? true };
  const report = await compareVariant(variant, options, show);
  if (json) process.stdout.write(JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v), 1) + '\n');
  else process.stdout.write(formatReport(report) + '\n');
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`compare-cli: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
