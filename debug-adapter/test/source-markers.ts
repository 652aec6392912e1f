// Source lines the tests put breakpoints on, found in the guest's sources instead of written as
// numbers: a line carries a comment marker `@dap:NAME` (e.g. `movl %edx, %cr3  /* @dap:load-cr3 */`),
// and markerLine() finds it. Editing the guest above a marker moves the marker with its line.

import * as fs from 'fs';

function sourceLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n');
}

/** The 1-based line of `file` carrying the marker `@dap:NAME`; throws unless there is exactly one. */
export function markerLine(file: string, name: string): number {
  const pattern = new RegExp(`@dap:${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
  const hits: number[] = [];
  sourceLines(file).forEach((text, i) => {
    if (pattern.test(text)) hits.push(i + 1);
  });
  if (hits.length !== 1) throw new Error(`${file} has ${hits.length === 0 ? 'no' : `${hits.length}`} @dap:${name} marker${hits.length > 1 ? `s (lines ${hits.join(', ')})` : ''}; the test needs exactly one.`);
  return hits[0];
}

/** The first line of the comment block right above the line matching `declaration`. */
export function commentAbove(file: string, declaration: RegExp): number {
  const lines = sourceLines(file);
  const at = lines.findIndex((l) => declaration.test(l));
  if (at < 0) throw new Error(`${file} has no line matching ${declaration}.`);
  let i = at - 1;
  while (i >= 0 && /^\s*(\/\*|\*)/.test(lines[i]) && !/^\s*\/\*/.test(lines[i])) i--;
  if (i < 0 || !/^\s*\/\*/.test(lines[i])) throw new Error(`${file}: no comment block ends right above line ${at + 1}.`);
  return i + 1;
}
