// Writes one benchmark's section into docs/benchmarks.md (the `--write FILE` argument): the text
// between its start and end markers is replaced, or the section is appended.

import * as fs from 'fs';

export function writeBenchmarkSection(argv: readonly string[], start: string, end: string, section: string): void {
  const writeIndex = argv.indexOf('--write');
  const target = writeIndex > 0 ? argv[writeIndex + 1] : undefined;
  if (!target) return;
  const text = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '# Benchmarks\n';
  const re = new RegExp(`${start}[\\s\\S]*?${end}`);
  fs.writeFileSync(target, re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`);
  process.stdout.write(`wrote ${target}\n`);
}
