// The names of the guest's own tests, read from its C sources: every `TEST(group, name)`
// in guest/**/*.c registers the test `group.name` (include/test.h). The selftest suite
// requires each of them by name, so a deleted or renamed test fails it.

import * as fs from 'fs';
import * as path from 'path';

/** `TEST(group, name)` at the start of a line (the definition, not the macro itself). */
const TEST_DEFINITION = /^[ \t]*TEST\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/gm;

/** The `group.name` of every TEST definition in one C source text, in order. Pure. */
export function parseTestNames(source: string): string[] {
  // Comments may mention TEST(...) in prose; drop them first (block and line comments).
  const code = source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const names: string[] = [];
  for (const m of code.matchAll(TEST_DEFINITION)) names.push(`${m[1]}.${m[2]}`);
  return names;
}

/** One test definition found in the sources. */
export interface GuestTestSource {
  name: string;
  /** Path of the C file, relative to the guest directory. */
  file: string;
}

/** Every `.c` file under `dir`, skipping build output. */
function cSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'build' && !entry.name.startsWith('.')) out.push(...cSources(full));
    } else if (entry.isFile() && entry.name.endsWith('.c')) {
      out.push(full);
    }
  }
  return out.sort();
}

/** Every guest test defined in the C sources under `guestDir` (guest/), sorted by name. */
export function guestTestsInSources(guestDir: string): GuestTestSource[] {
  const found: GuestTestSource[] = [];
  for (const file of cSources(guestDir)) {
    for (const name of parseTestNames(fs.readFileSync(file, 'utf8'))) {
      found.push({ name, file: path.relative(guestDir, file) });
    }
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
