// Finds the C expression under the cursor for the hover: an identifier with the member accesses
// and array indexes before it (`p->next->blocks[i]`), skipping keywords, numbers, comments and
// strings on that line.

export interface ExpressionAt {
  readonly expression: string;
  readonly line: number;
  readonly start: number;
  readonly end: number;
}

const KEYWORDS = new Set([
  'auto', 'break', 'case', 'char', 'const', 'continue', 'default', 'do', 'double', 'else', 'enum', 'extern', 'float', 'for', 'goto', 'if',
  'inline', 'int', 'long', 'register', 'restrict', 'return', 'short', 'signed', 'sizeof', 'static', 'struct', 'switch', 'typedef', 'union',
  'unsigned', 'void', 'volatile', 'while', '_Bool', 'bool', 'true', 'false', 'NULL', 'uint8_t', 'uint16_t', 'uint32_t', 'uint64_t', 'int8_t',
  'int16_t', 'int32_t', 'int64_t', 'size_t', 'uintptr_t',
]);

const isIdent = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

/** Where comments and string literals are on a line (so hovering inside them shows nothing). */
function masked(line: string): boolean[] {
  const m = new Array<boolean>(line.length).fill(false);
  let i = 0;
  while (i < line.length) {
    if (line.startsWith('//', i)) {
      for (let k = i; k < line.length; k++) m[k] = true;
      break;
    }
    if (line.startsWith('/*', i)) {
      const end = line.indexOf('*/', i + 2);
      const stop = end < 0 ? line.length : end + 2;
      for (let k = i; k < stop; k++) m[k] = true;
      i = stop;
      continue;
    }
    if (line[i] === '"' || line[i] === "'") {
      const q = line[i];
      let k = i + 1;
      while (k < line.length && line[k] !== q) k += line[k] === '\\' ? 2 : 1;
      for (let j = i; j <= Math.min(k, line.length - 1); j++) m[j] = true;
      i = k + 1;
      continue;
    }
    i++;
  }
  return m;
}

/** The expression at (line, character) of `text`, or undefined over anything that is not one. */
export function expressionAt(text: string, line: number, character: number): ExpressionAt | undefined {
  const src = text.split(/\r?\n/)[line];
  if (src === undefined) return undefined;
  const mask = masked(src);
  let s = character;
  let e = character;
  if (!isIdent(src[s])) {
    if (isIdent(src[s - 1])) s = e = character - 1;
    else return undefined;
  }
  if (mask[s]) return undefined;
  while (isIdent(src[s - 1])) s--;
  while (isIdent(src[e + 1])) e++;
  const word = src.slice(s, e + 1);
  if (/^\d/.test(word) || KEYWORDS.has(word)) return undefined;
  if (/^\s*#\s*include\b/.test(src)) return undefined;
  // Walk left over `.`, `->` and `[...]` that lead to this identifier.
  let start = s;
  for (;;) {
    let k = start;
    while (k > 0 && src[k - 1] === ' ') k--;
    let sep = 0;
    if (src[k - 1] === '.' && !/\d/.test(src[k - 2] ?? '')) sep = 1;
    else if (src[k - 1] === '>' && src[k - 2] === '-') sep = 2;
    if (!sep) break;
    let j = k - sep;
    while (j > 0 && src[j - 1] === ' ') j--;
    // Skip one index expression: name[...].
    while (src[j - 1] === ']') {
      let depth = 0;
      let q = j - 1;
      for (; q >= 0; q--) {
        if (src[q] === ']') depth++;
        else if (src[q] === '[' && --depth === 0) break;
      }
      if (q < 0) break;
      j = q;
    }
    if (!isIdent(src[j - 1])) break;
    let w = j - 1;
    while (isIdent(src[w - 1])) w--;
    if (/^\d/.test(src.slice(w, j))) break;
    start = w;
  }
  const expression = src.slice(start, e + 1).replace(/\s+/g, '');
  return { expression, line, start, end: e + 1 };
}
