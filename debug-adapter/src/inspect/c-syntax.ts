// The C expression language of watch, hover, the debug console and breakpoint conditions:
// a tokenizer and a precedence-climbing parser that turn text into a CExpression tree. Pure:
// whether a name is a type (a typedef) is asked of a caller-supplied function.

import { ExpressionSyntaxError } from './errors';

/** A type written in a cast or sizeof: base name, pointer levels and array dimensions. */
export interface CTypeName {
  /** `int`, `unsigned int`, `struct pcb`, `enum proc_state`, `uint32_t`, `void`. */
  base: string;
  pointers: number;
  /** Array dimensions written after the pointers: `(char *[4])` is pointers 1, arrays [4]. */
  arrays: number[];
}

export type BinaryOperator =
  | '*' | '/' | '%' | '+' | '-' | '<<' | '>>' | '<' | '>' | '<=' | '>=' | '==' | '!='
  | '&' | '^' | '|' | '&&' | '||';

export type UnaryOperator = '-' | '+' | '!' | '~' | '*' | '&';

export type CExpression =
  | { kind: 'integer'; value: bigint; unsigned: boolean; longLong: boolean; text: string }
  | { kind: 'float'; value: number; single: boolean }
  | { kind: 'char'; value: number }
  | { kind: 'string'; bytes: Uint8Array }
  | { kind: 'identifier'; name: string }
  | { kind: 'register'; name: string }
  | { kind: 'member'; object: CExpression; member: string; arrow: boolean }
  | { kind: 'index'; array: CExpression; index: CExpression }
  | { kind: 'unary'; op: UnaryOperator; operand: CExpression }
  | { kind: 'cast'; type: CTypeName; operand: CExpression }
  | { kind: 'sizeofType'; type: CTypeName }
  | { kind: 'sizeofValue'; operand: CExpression }
  | { kind: 'binary'; op: BinaryOperator; left: CExpression; right: CExpression }
  | { kind: 'conditional'; test: CExpression; then: CExpression; otherwise: CExpression }
  | { kind: 'assign'; target: CExpression; value: CExpression };

type TokenKind = 'number' | 'char' | 'string' | 'identifier' | 'register' | 'punct' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  position: number;
  /** For char/string literals: the decoded bytes. */
  bytes?: Uint8Array;
}

const PUNCTUATORS = [
  '->', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||',
  '+', '-', '*', '/', '%', '<', '>', '&', '^', '|', '!', '~', '?', ':', '(', ')', '[', ']', '.', ',', '=',
];

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, e: 27, '\\': 92, "'": 39, '"': 34, '?': 63,
};

/** Splits `text` into tokens. Throws ExpressionSyntaxError on characters C does not allow. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    const start = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[uUlLfF]*/.exec(text.slice(i));
      if (!m) throw new ExpressionSyntaxError(`Invalid number at position ${i + 1}.`, i);
      tokens.push({ kind: 'number', text: m[0], position: start });
      i += m[0].length;
      if (/[A-Za-z_0-9]/.test(text[i] ?? '')) throw new ExpressionSyntaxError(`Invalid number "${text.slice(start, i + 1)}"; check its digits and suffix.`, start);
      continue;
    }
    if (/[A-Za-z_]/.test(c) || (c === '$' && /[A-Za-z_]/.test(text[i + 1] ?? ''))) {
      const m = /^\$?[A-Za-z_][A-Za-z_0-9]*/.exec(text.slice(i));
      const word = m ? m[0] : c;
      tokens.push({ kind: word.startsWith('$') ? 'register' : 'identifier', text: word, position: start });
      i += word.length;
      continue;
    }
    if (c === "'" || c === '"') {
      const bytes: number[] = [];
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') {
          const e = text[i + 1];
          if (e === undefined) break;
          if (e in SIMPLE_ESCAPES) { bytes.push(SIMPLE_ESCAPES[e]); i += 2; continue; }
          const oct = /^[0-7]{1,3}/.exec(text.slice(i + 1));
          if (oct) { bytes.push(parseInt(oct[0], 8) & 0xff); i += 1 + oct[0].length; continue; }
          const hex = /^x([0-9a-fA-F]+)/.exec(text.slice(i + 1));
          if (hex) { bytes.push(parseInt(hex[1], 16) & 0xff); i += 1 + hex[0].length; continue; }
          throw new ExpressionSyntaxError(`Unknown escape sequence \\${e} at position ${i + 1}.`, i);
        }
        for (const b of Buffer.from(text[i], 'utf8')) bytes.push(b);
        i++;
      }
      if (text[i] !== c) throw new ExpressionSyntaxError(`Unterminated ${c === '"' ? 'string' : 'character'} literal at position ${start + 1}.`, start);
      i++;
      if (c === "'" && bytes.length !== 1) throw new ExpressionSyntaxError(`A character literal holds exactly one character (position ${start + 1}).`, start);
      tokens.push({ kind: c === '"' ? 'string' : 'char', text: text.slice(start, i), position: start, bytes: Uint8Array.from(bytes) });
      continue;
    }
    const p = PUNCTUATORS.find((op) => text.startsWith(op, i));
    if (!p) throw new ExpressionSyntaxError(`Unexpected character "${c}" at position ${i + 1}.`, i);
    tokens.push({ kind: 'punct', text: p, position: start });
    i += p.length;
  }
  tokens.push({ kind: 'end', text: '', position: text.length });
  return tokens;
}

const BINARY_PRECEDENCE: Record<string, number> = {
  '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '>': 7, '<=': 7, '>=': 7,
  '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};

const TYPE_KEYWORDS = new Set([
  'void', 'char', 'short', 'int', 'long', 'signed', 'unsigned', 'float', 'double', '_Bool',
  'struct', 'union', 'enum', 'const', 'volatile',
]);

/** Parses one C expression. `isTypedefName` says whether an identifier names a type. */
export function parseExpression(text: string, isTypedefName: (name: string) => boolean = () => false): CExpression {
  const parser = new Parser(tokenize(text), isTypedefName);
  if (parser.peek().kind === 'end') throw new ExpressionSyntaxError('The expression is empty; type a C expression such as a variable name.', 0);
  const e = parser.assignment();
  const rest = parser.peek();
  if (rest.kind !== 'end') throw new ExpressionSyntaxError(`Unexpected "${rest.text}" at position ${rest.position + 1}.`, rest.position);
  return e;
}

/** Parses a C type name such as `struct pcb *` or `unsigned int`. */
export function parseTypeName(text: string, isTypedefName: (name: string) => boolean = () => false): CTypeName {
  const parser = new Parser(tokenize(text), isTypedefName);
  const t = parser.typeName();
  if (parser.peek().kind !== 'end') throw new ExpressionSyntaxError(`"${text}" is not a C type name.`, parser.peek().position);
  return t;
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[], private readonly isTypedefName: (name: string) => boolean) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.index++;
    return t;
  }

  private isPunct(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'punct' && t.text === text;
  }

  private expect(text: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) {
      throw new ExpressionSyntaxError(t.kind === 'end' ? `The expression ends early; "${text}" is missing.` : `Expected "${text}" but found "${t.text}" at position ${t.position + 1}.`, t.position);
    }
  }

  private startsType(offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'identifier' && (TYPE_KEYWORDS.has(t.text) || this.isTypedefName(t.text));
  }

  assignment(): CExpression {
    const left = this.conditional();
    if (this.isPunct('=')) {
      this.next();
      return { kind: 'assign', target: left, value: this.assignment() };
    }
    return left;
  }

  private conditional(): CExpression {
    const test = this.binary(1);
    if (!this.isPunct('?')) return test;
    this.next();
    const then = this.assignment();
    this.expect(':');
    return { kind: 'conditional', test, then, otherwise: this.conditional() };
  }

  private binary(minPrecedence: number): CExpression {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      const precedence = t.kind === 'punct' ? BINARY_PRECEDENCE[t.text] : undefined;
      if (precedence === undefined || precedence < minPrecedence) return left;
      this.next();
      const right = this.binary(precedence + 1);
      left = { kind: 'binary', op: t.text as BinaryOperator, left, right };
    }
  }

  private unary(): CExpression {
    const t = this.peek();
    if (t.kind === 'punct' && ['-', '+', '!', '~', '*', '&'].includes(t.text)) {
      this.next();
      return { kind: 'unary', op: t.text as UnaryOperator, operand: this.unary() };
    }
    if (t.kind === 'identifier' && t.text === 'sizeof') {
      this.next();
      if (this.isPunct('(') && this.startsType(1)) {
        this.next();
        const type = this.typeName();
        this.expect(')');
        return { kind: 'sizeofType', type };
      }
      return { kind: 'sizeofValue', operand: this.unary() };
    }
    if (this.isPunct('(') && this.startsType(1)) {
      this.next();
      const type = this.typeName();
      this.expect(')');
      return { kind: 'cast', type, operand: this.unary() };
    }
    return this.postfix();
  }

  private postfix(): CExpression {
    let e = this.primary();
    for (;;) {
      if (this.isPunct('[')) {
        this.next();
        const index = this.assignment();
        this.expect(']');
        e = { kind: 'index', array: e, index };
      } else if (this.isPunct('.') || this.isPunct('->')) {
        const arrow = this.next().text === '->';
        const name = this.next();
        if (name.kind !== 'identifier') throw new ExpressionSyntaxError(`A member name must follow "${arrow ? '->' : '.'}" (position ${name.position + 1}).`, name.position);
        e = { kind: 'member', object: e, member: name.text, arrow };
      } else {
        return e;
      }
    }
  }

  private primary(): CExpression {
    const t = this.next();
    switch (t.kind) {
      case 'number': return numberLiteral(t);
      case 'char': return { kind: 'char', value: t.bytes?.[0] ?? 0 };
      case 'string': return { kind: 'string', bytes: t.bytes ?? new Uint8Array(0) };
      case 'register': return { kind: 'register', name: t.text.slice(1) };
      case 'identifier':
        if (TYPE_KEYWORDS.has(t.text)) throw new ExpressionSyntaxError(`A type name ("${t.text}") can only appear in a cast or sizeof.`, t.position);
        return { kind: 'identifier', name: t.text };
      case 'punct':
        if (t.text === '(') {
          const e = this.assignment();
          this.expect(')');
          return e;
        }
        throw new ExpressionSyntaxError(`Unexpected "${t.text}" at position ${t.position + 1}.`, t.position);
      case 'end':
        throw new ExpressionSyntaxError('The expression ends early; an operand is missing.', t.position);
    }
  }

  /** specifier-qualifier list then an abstract declarator of `*`s and `[N]`s. */
  typeName(): CTypeName {
    const words: string[] = [];
    let tag: string | undefined;
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'identifier') break;
      if (t.text === 'const' || t.text === 'volatile') { this.next(); continue; }
      if (t.text === 'struct' || t.text === 'union' || t.text === 'enum') {
        this.next();
        const name = this.next();
        if (name.kind !== 'identifier') throw new ExpressionSyntaxError(`"${t.text}" must be followed by its tag name.`, name.position);
        tag = `${t.text} ${name.text}`;
        continue;
      }
      if (TYPE_KEYWORDS.has(t.text)) { words.push(this.next().text); continue; }
      if (words.length === 0 && tag === undefined && this.isTypedefName(t.text)) { tag = this.next().text; continue; }
      break;
    }
    if (tag === undefined && words.length === 0) {
      const t = this.peek();
      throw new ExpressionSyntaxError(`Expected a type name at position ${t.position + 1}.`, t.position);
    }
    let pointers = 0;
    for (;;) {
      if (this.isPunct('*')) { this.next(); pointers++; continue; }
      const t = this.peek();
      if (t.kind === 'identifier' && (t.text === 'const' || t.text === 'volatile')) { this.next(); continue; }
      break;
    }
    const arrays: number[] = [];
    while (this.isPunct('[')) {
      this.next();
      const n = this.next();
      const size = n.kind === 'number' ? numberLiteral(n) : undefined;
      if (!size || size.kind !== 'integer') throw new ExpressionSyntaxError('An array type in a cast needs a constant integer size.', n.position);
      arrays.push(Number(size.value));
      this.expect(']');
    }
    return { base: tag ?? canonicalBaseName(words), pointers, arrays };
  }
}

/** `unsigned` → `unsigned int`, `long unsigned` → `long unsigned int`, as gcc names DWARF base types. */
export function canonicalBaseName(words: string[]): string {
  const count = (w: string): number => words.filter((x) => x === w).length;
  const unsigned = count('unsigned') > 0;
  const signed = count('signed') > 0;
  const longs = count('long');
  if (words.includes('void')) return 'void';
  if (words.includes('_Bool')) return '_Bool';
  if (words.includes('float')) return 'float';
  if (words.includes('double')) return longs ? 'long double' : 'double';
  if (words.includes('char')) return unsigned ? 'unsigned char' : signed ? 'signed char' : 'char';
  if (words.includes('short')) return unsigned ? 'short unsigned int' : 'short int';
  if (longs >= 2) return unsigned ? 'long long unsigned int' : 'long long int';
  if (longs === 1) return unsigned ? 'long unsigned int' : 'long int';
  return unsigned ? 'unsigned int' : 'int';
}

function numberLiteral(t: Token): CExpression {
  const text = t.text;
  const isHex = /^0[xX]/.test(text);
  const isBinary = /^0[bB]/.test(text);
  const suffix = (isHex || isBinary ? /[uUlL]*$/ : /[uUlLfF]*$/).exec(text)?.[0] ?? '';
  const body = text.slice(0, text.length - suffix.length);
  if (!isHex && !isBinary && (/[.eE]/.test(body) || /[fF]/.test(suffix))) {
    const value = Number(body);
    if (!Number.isFinite(value) && !/inf/i.test(body)) throw new ExpressionSyntaxError(`Invalid number "${text}".`, t.position);
    return { kind: 'float', value, single: /[fF]/.test(suffix) };
  }
  if (/[fF]/.test(suffix)) throw new ExpressionSyntaxError(`Invalid suffix on "${text}".`, t.position);
  let value: bigint;
  if (isHex || isBinary) value = BigInt(body);
  else if (body.length > 1 && body.startsWith('0')) {
    if (!/^[0-7]+$/.test(body)) throw new ExpressionSyntaxError(`Invalid octal number "${text}".`, t.position);
    value = BigInt('0o' + body.slice(1));
  } else value = BigInt(body);
  const u = /[uU]/.test(suffix);
  const longLong = (suffix.match(/[lL]/g) ?? []).length >= 2;
  return { kind: 'integer', value, unsigned: u, longLong, text };
}
