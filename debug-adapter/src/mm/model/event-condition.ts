// Conditions on allocation breakpoints: small C-like expressions over the fields of the guest's
// last memory-manager event (`blocks >= 64`, `flags & CONTIGUOUS`, `pid == 2 && blocks > 1`).
// Names: chain, blocks, flags, arg, status, caller, pid, seq, kind; constants FROZEN, CONTIGUOUS,
// SWAPPABLE, USER (chain flags), MAP_KPD, MAP_UPD, MAP_READONLY. Operators, lowest first:
// || && | ^ & (== !=) (< <= > >=) (<< >>) (+ -) (* / %) and unary ! ~ -; parentheses; decimal
// and 0x numbers; "strings" compared with == and != to string fields (the traced-allocation
// filters' `function == "kalloc_page"`). Names may start with `$` (`$arg0` in a traced
// function's size expression). Parse errors are reported once, when the breakpoint is set.

export type EventFields = Readonly<Record<string, number | string>>;

export const CONDITION_CONSTANTS: Readonly<Record<string, number>> = {
  FROZEN: 0x10000000, CONTIGUOUS: 0x20000000, CONTIG: 0x20000000, SWAPPABLE: 0x40000000, USER: 0x80000000,
  MAP_KPD: 1, MAP_UPD: 2, MAP_READONLY: 4,
};

export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionError';
  }
}

type Node =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'name'; n: string }
  | { t: 'un'; op: string; a: Node }
  | { t: 'bin'; op: string; a: Node; b: Node };

const LEVELS: readonly (readonly string[])[] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(0[xX][0-9a-fA-F]+|\d+|\$?[A-Za-z_][A-Za-z0-9_]*|"[^"\\]*"|\|\||&&|==|!=|<=|>=|<<|>>|[-+*/%&|^<>!~()])/y;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new ConditionError(`cannot read the condition at "${text.slice(pos).trim()}"`);
    tokens.push(m[1]);
    pos = re.lastIndex;
  }
  return tokens;
}

/** A parsed condition; evaluate() returns true when the breakpoint should stop. */
export class EventCondition {
  private readonly root: Node;

  constructor(readonly text: string, private readonly names: readonly string[]) {
    const tokens = tokenize(text);
    let i = 0;
    const peek = (): string | undefined => tokens[i];
    const parseLevel = (level: number): Node => {
      if (level === LEVELS.length) return parseUnary();
      let left = parseLevel(level + 1);
      while (peek() !== undefined && LEVELS[level].includes(peek() as string)) {
        const op = tokens[i++];
        left = { t: 'bin', op, a: left, b: parseLevel(level + 1) };
      }
      return left;
    };
    const parseUnary = (): Node => {
      const tok = tokens[i++];
      if (tok === undefined) throw new ConditionError(`the condition "${text}" ends too early`);
      if (tok === '!' || tok === '~' || tok === '-') return { t: 'un', op: tok, a: parseUnary() };
      if (tok === '(') {
        const inner = parseLevel(0);
        if (tokens[i++] !== ')') throw new ConditionError(`a ")" is missing in "${text}"`);
        return inner;
      }
      if (/^(0[xX][0-9a-fA-F]+|\d+)$/.test(tok)) return { t: 'num', v: Number(tok) };
      if (tok.startsWith('"')) return { t: 'str', v: tok.slice(1, -1) };
      if (/^\$?[A-Za-z_]/.test(tok)) {
        if (!(tok in CONDITION_CONSTANTS) && !this.names.includes(tok)) {
          throw new ConditionError(`"${tok}" is not known here; use ${this.names.join(', ')} or a constant such as CONTIGUOUS`);
        }
        return { t: 'name', n: tok };
      }
      throw new ConditionError(`unexpected "${tok}" in "${text}"`);
    };
    if (!tokens.length) throw new ConditionError('the condition is empty');
    this.root = parseLevel(0);
    if (i < tokens.length) throw new ConditionError(`unexpected "${tokens[i]}" in "${text}"`);
  }

  evaluate(fields: EventFields): boolean {
    return this.value(this.root, fields) !== 0;
  }

  /** The expression's value (a size expression such as `$arg0 * 4096`). */
  evaluateNumber(fields: EventFields): number {
    return this.value(this.root, fields);
  }

  /** A string literal or a string field; undefined for anything else. */
  private textOf(n: Node, f: EventFields): string | undefined {
    if (n.t === 'str') return n.v;
    if (n.t === 'name' && typeof f[n.n] === 'string') return f[n.n] as string;
    return undefined;
  }

  private value(n: Node, f: EventFields): number {
    switch (n.t) {
      case 'num': return n.v;
      case 'str': return n.v.length;
      case 'name': {
        if (n.n in CONDITION_CONSTANTS) return CONDITION_CONSTANTS[n.n];
        const v = f[n.n];
        return typeof v === 'number' ? v : 0;
      }
      case 'un': {
        const a = this.value(n.a, f);
        return n.op === '!' ? Number(a === 0) : n.op === '~' ? ~a >>> 0 : -a;
      }
      case 'bin': {
        if (n.op === '&&') return Number(this.value(n.a, f) !== 0 && this.value(n.b, f) !== 0);
        if (n.op === '||') return Number(this.value(n.a, f) !== 0 || this.value(n.b, f) !== 0);
        if (n.op === '==' || n.op === '!=') {
          const ta = this.textOf(n.a, f);
          const tb = this.textOf(n.b, f);
          if (ta !== undefined || tb !== undefined) return Number((ta === tb) === (n.op === '=='));
        }
        const a = this.value(n.a, f);
        const b = this.value(n.b, f);
        switch (n.op) {
          case '|': return (a | b) >>> 0;
          case '^': return (a ^ b) >>> 0;
          case '&': return (a & b) >>> 0;
          case '==': return Number(a === b);
          case '!=': return Number(a !== b);
          case '<': return Number(a < b);
          case '<=': return Number(a <= b);
          case '>': return Number(a > b);
          case '>=': return Number(a >= b);
          case '<<': return (a << b) >>> 0;
          case '>>': return a >>> b;
          case '+': return a + b;
          case '-': return a - b;
          case '*': return a * b;
          case '/': return b === 0 ? 0 : Math.trunc(a / b);
          default: return b === 0 ? 0 : a % b;
        }
      }
    }
  }
}
