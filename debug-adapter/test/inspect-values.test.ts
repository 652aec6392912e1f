// The C expression parser, evaluator and value formatter on a small C program compiled in the
// test (gcc -m32 -g -O0 -ffreestanding), read from the linked image's bytes. gdb is the oracle:
// `gdb -batch -ex 'p EXPR'` on the same file must print the same text for every expression.

import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import { DebugSymbols } from '../src/symbols';
import { ExpressionSyntaxError, Inspector, InspectError, StaleReferenceError } from '../src/inspect';
import { parseExpression } from '../src/inspect/c-syntax';
import { formatCharArray, formatEnum, formatFloat } from '../src/inspect/c-format';
import { decodeInstructions } from '../src/inspect/disassembler';
import { build, readBytes } from './fixtures-c/compile';
import { ImageAccess } from './inspect-image-access';

const FIXTURE = '../inspect-fixtures/values.c';

/** Prints each expression with gdb on `file`; undefined where gdb reports an error. */
function gdbPrint(file: string, expressions: string[]): (string | undefined)[] {
  const args = ['-batch', '-nx'];
  expressions.forEach((e, i) => args.push('-ex', `echo <<<${i}>>>\\n`, '-ex', `print ${e}`));
  args.push(file);
  // gdb -batch exits non-zero when a command failed; the errors go to stderr.
  const run = spawnSync('gdb', args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
  if (run.error) throw run.error;
  const out = run.stdout;
  const results: (string | undefined)[] = expressions.map(() => undefined);
  const blocks = out.split(/^<<<(\d+)>>>\n/m);
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const m = /^\$\d+ = ([^]*?)\n?$/.exec(blocks[i + 1]);
    if (m) results[Number(blocks[i])] = m[1];
  }
  return results;
}

/** Expressions whose printed value must equal gdb's, character for character. */
const ORACLE_EXPRESSIONS = [
  // globals of every shape
  'procs', 'current', '*current', 'current->name', 'procs[2].name', 'table', 'matrix', 'greeting', 'empty', 'filled',
  'byte', 'sbyte', 'letter', 'neg', 'big', 'ubig', 'yes', 'ratio', 'precise', 'favourite', 'rw', 'odd', 'fl', 'w',
  'table_ptr', 'null_ptr', 'opaque', 'matrix_row', 'file_static', 'zeros', 'procs[0].stack', 'procs[2].stack',
  'procs[0].entry', 'run_proc', 'procs[0].upd', 'procs[0].where', 'procs[2].colour', 'fl.delta', 'fl.frame', 'w.b',
  // address-of, indexing, member access, dereference
  '&procs[1]', '&procs[1].name', '&table[299]', '&fl', '&run_proc', '*run_proc', '&matrix', '*matrix', 'matrix[1]',
  'matrix[1][2]', '*table_ptr', 'table_ptr[1]', 'current->next->pid', '(*current).where.y', 'procs[0].name[1]',
  '*&procs[0].where', 'procs[1].next->name', '&current->where', 'current.pid', 'current.where.x',
  // casts
  '(char)65', '(u8)300', '(struct point *)&procs[0].where', '(char *)greeting', '(long)&table', '(enum colour)1',
  '(enum colour)5', '(unsigned char)-1', '(short)70000', '(int)precise', '(float)1/3', '(u32 *)opaque', '*(int *)opaque',
  '(unsigned long long)-1', '(_Bool)5', '(enum perm)3',
  // arithmetic, comparison, logic, sizeof, literals
  '1.0/3', '10/3', '-5 % 3', '-5 / 2', "'a'", '"ab"', '100000*100000', '1==2', '!5', '3 > 4 || 2', '1 == 1', 'ubig + 1',
  '~0', '-1U', '0x80000000', '2147483648', '1.5f', '2.5e3', '1.0', 'fl.frame * 2', 'letter + 1', 'GREEN + 1', 'RED',
  'sizeof(struct proc)', 'sizeof(int)', 'sizeof procs', 'sizeof(u32 *)', 'table + 1', '&table[5] - &table[1]',
  'table_ptr - 2', 'procs[0].entry == run_proc', '1 << 31', '-1 >> 1', '0xff & 0x0f | 0x100 ^ 3', 'byte * 2',
  'neg < 0 ? 7 : 8', '1 ? greeting : 0', '010 + 0x10', 'big * 2', 'sbyte', '-sbyte', '~byte', 'ratio * 2', 'precise + 1',
  '3 >= 3 && 2 <= 1', '5 != 6', 'current == &procs[1]', 'null_ptr == 0', '!null_ptr', 'fl.tail', 'matrix[0][1] * matrix[1][2]',
];

describe('inspect: C values against gdb on a compiled program', function () {
  this.timeout(120_000);
  let file: string;
  let symbols: DebugSymbols;
  let access: ImageAccess;
  let inspector: Inspector;

  before(() => {
    file = build(FIXTURE, { flags: ['-O0'] });
    symbols = new DebugSymbols(readBytes(file));
    access = new ImageAccess(symbols);
    inspector = new Inspector(symbols, access);
  });

  it('prints every expression exactly as gdb prints it', async () => {
    const expected = gdbPrint(file, ORACLE_EXPRESSIONS);
    const mismatches: string[] = [];
    for (let i = 0; i < ORACLE_EXPRESSIONS.length; i++) {
      const e = ORACLE_EXPRESSIONS[i];
      assert.ok(expected[i] !== undefined, `gdb could not print ${e}`);
      let ours: string;
      try {
        ours = (await inspector.evaluate(e)).result;
      } catch (err) {
        ours = `<threw ${err instanceof Error ? err.message : String(err)}>`;
      }
      if (ours !== expected[i]) mismatches.push(`${e}\n   gdb: ${expected[i]}\n   ours: ${ours}`);
    }
    assert.deepStrictEqual(mismatches, [], `${mismatches.length} of ${ORACLE_EXPRESSIONS.length} differ:\n${mismatches.join('\n')}`);
  });

  it('rejects what gdb rejects, with a sentence that says what to do', async () => {
    const bad = ['no_such_variable', 'byte.x', 'byte->x', 'procs[0].nothing', '*byte', '1 / 0', '*opaque', '&3', 'fl.frame['];
    const expected = gdbPrint(file, bad);
    for (let i = 0; i < bad.length; i++) {
      assert.strictEqual(expected[i], undefined, `gdb accepted ${bad[i]}: ${expected[i]}`);
      await assert.rejects(inspector.evaluate(bad[i]), (err: unknown) => {
        assert.ok(err instanceof InspectError, `${bad[i]}: ${String(err)}`);
        assert.match(err.message, /^[A-Z"$*].*[.]$/, `${bad[i]}: message "${err.message}" is not one sentence`);
        return true;
      });
    }
  });

  it('expands structs, arrays and pointers with evaluate names that evaluate to the children', async () => {
    const cur = await inspector.evaluate('current');
    assert.ok(cur.variablesReference > 0, 'a pointer to a struct expands');
    assert.strictEqual(cur.memoryReference, '0x' + (symbols.elf.symbolByName('procs')!.value + 296).toString(16).padStart(8, '0'));
    const members = await inspector.variables(cur.variablesReference);
    assert.deepStrictEqual(members.map((m) => m.name), ['pid', 'name', 'colour', 'where', 'next', 'upd', 'stack', 'entry']);
    const name = members.find((m) => m.name === 'name')!;
    assert.strictEqual(name.evaluateName, 'current->name');
    assert.strictEqual(name.indexedVariables, 16);
    assert.strictEqual(name.value, (await inspector.evaluate('current->name')).result);
    const upd = members.find((m) => m.name === 'upd')!;
    const page = await inspector.variables(upd.variablesReference, 60, 4);
    assert.deepStrictEqual(page.map((p) => p.name), ['[60]', '[61]', '[62]', '[63]']);
    // Every child's evaluateName evaluates to the same text (one level down, every member).
    for (const m of members) {
      const again = await inspector.evaluate(m.evaluateName!);
      // Top-level pointers carry gdb's `(type) ` prefix that members do not.
      assert.ok(again.result === m.value || again.result.endsWith(`) ${m.value}`), `${m.evaluateName}: ${again.result} vs ${m.value}`);
    }
    const grid = await inspector.evaluate('matrix');
    const rows = await inspector.variables(grid.variablesReference);
    assert.deepStrictEqual(rows.map((r) => r.value), ['{1, -2, 3}', '{4, 5, -6}']);
    const row1 = await inspector.variables(rows[1].variablesReference);
    assert.deepStrictEqual(row1.map((r) => [r.evaluateName, r.value]), [['matrix[1][0]', '4'], ['matrix[1][1]', '5'], ['matrix[1][2]', '-6']]);
    const flags = await inspector.variables((await inspector.evaluate('fl')).variablesReference);
    assert.deepStrictEqual(flags.map((f) => `${f.name}=${f.value}`), ['present=1', 'writable=0', 'frame=703710', 'delta=-7', "tail=9 '\\t'"]);
    assert.strictEqual((await inspector.evaluate('current->stack')).variablesReference, 0, 'a null pointer does not expand');
    assert.strictEqual((await inspector.evaluate('greeting')).variablesReference, 0, 'a char pointer shows its string instead');
  });

  it('sets scalars, enum members, bit fields and pointers through setVariable and they read back as gdb would print them', async () => {
    const local = new Inspector(symbols, new ImageAccess(symbols));
    const p = await local.evaluate('procs[0]');
    let result = await local.setVariable(p.variablesReference, 'pid', '40 + 2');
    assert.strictEqual(result.value, '42');
    result = await local.setVariable(p.variablesReference, 'colour', 'BLUE');
    assert.strictEqual(result.value, 'BLUE');
    const f = await local.evaluate('fl');
    result = await local.setVariable(f.variablesReference, 'delta', '-16');
    assert.strictEqual(result.value, '-16');
    result = await local.setVariable(f.variablesReference, 'frame', '0xfffff');
    assert.strictEqual(result.value, String(0xfffff));
    // Neighbouring bit fields keep their values.
    assert.strictEqual((await local.evaluate('fl')).result, "{present = 1, writable = 0, frame = 1048575, delta = -16, tail = 9 '\\t'}");
    result = await local.setVariable(p.variablesReference, 'next', '&procs[2]');
    assert.match(result.value, /^0x[0-9a-f]+ <procs\+592>$/);
    await assert.rejects(local.setVariable(p.variablesReference, 'where', '1'), /only numbers, enums and pointers can be set/);
    assert.strictEqual((await local.evaluate('procs[0].next->pid')).result, '3');
    local.invalidate();
    await assert.rejects(local.variables(p.variablesReference), StaleReferenceError);
  });

  it('evaluates registers, conditions and log messages in a frame', async () => {
    const registers = new Map<string, number>([['eax', 0xfffffffe], ['eip', symbols.functionsNamed('run_proc')[0].lowPc + 3], ['esp', 0x1000], ['ebp', 0x1008], ['eflags', 0x246], ['cr0', 0x80010011]]);
    const frame = { pc: registers.get('eip')!, registers, frameIndex: 0 };
    assert.strictEqual((await inspector.evaluate('$eax', frame)).result, '-2');
    assert.strictEqual((await inspector.evaluate('$eax + 3', frame)).result, '1');
    assert.strictEqual((await inspector.evaluate('$pc', frame)).result, `(void (*)()) 0x${frame.pc.toString(16)} <run_proc+3>`);
    assert.strictEqual(await inspector.evaluateCondition('$eax == -2 && current->pid == 2', frame), true);
    assert.strictEqual(await inspector.evaluateCondition('procs[0].pid > 5', frame), false);
    assert.strictEqual(await inspector.interpolateLogMessage('pid={current->pid} name={current->name} bad={nope}', frame),
      'pid=2 name="init\\tone\\n\\000\\000\\000\\000\\000\\000" bad=<No symbol "nope" in the current context; check the spelling, or stop in the function that declares it.>');
    const scopes = await inspector.scopes(frame);
    assert.deepStrictEqual(scopes.map((s) => s.name), ['Locals', 'Registers', 'Globals']);
    const regs = await inspector.variables(scopes[1].variablesReference);
    const eflags = regs.find((r) => r.name === 'eflags')!;
    assert.strictEqual(eflags.value, '0x00000246 [ PF ZF IF ]');
    const bits = await inspector.variables(eflags.variablesReference);
    assert.strictEqual(bits.find((b) => b.name === 'ZF')?.value, '1');
    assert.strictEqual(bits.find((b) => b.name === 'CF')?.value, '0');
    const cr0 = regs.find((r) => r.name === 'cr0')!;
    assert.strictEqual(cr0.value, '0x80010011 [ PE ET WP PG ]');
    const globals = await inspector.variables(scopes[2].variablesReference);
    assert.ok(globals.some((g) => g.name === 'file_static' && g.value === '17'), 'the file static is among the globals');
    const locals = await inspector.variables(scopes[0].variablesReference);
    assert.deepStrictEqual(locals.map((l) => l.name), ['arg']);
    assert.deepStrictEqual(locals[0].presentationHint?.attributes, ['parameter']);
    const set = await inspector.setVariable(scopes[1].variablesReference, 'eax', '7');
    assert.strictEqual(set.value, '0x00000007');
    assert.strictEqual((await inspector.evaluate('$eax', frame)).result, '7');
    inspector.invalidate();
  });

  it('disassembles with the same instruction boundaries and mnemonics as objdump, with source lines', async () => {
    const fn = symbols.functionsNamed('_start')[0];
    const ours = await inspector.disassemble(fn.lowPc, 8);
    const dump = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=${fn.lowPc}`, `--stop-address=${fn.lowPc + 64}`, file], { encoding: 'utf8', timeout: 30_000 });
    const theirs = [...dump.matchAll(/^\s*([0-9a-f]+):\s+(\S+)/gm)].map((m) => [parseInt(m[1], 16), m[2]] as const);
    assert.ok(theirs.length >= 5, `objdump shows ${theirs.length} instructions of _start`);
    for (let i = 0; i < theirs.length; i++) {
      assert.strictEqual(parseInt(ours[i].address, 16), theirs[i][0], `instruction ${i} address`);
      assert.strictEqual(ours[i].instruction.split(/\s+/)[0], theirs[i][1], `instruction ${i} mnemonic`);
    }
    assert.strictEqual(ours[0].symbol, '_start');
    assert.ok(ours[0].location?.path.endsWith('values.c'), 'the first instruction names its source');
    assert.ok(ours.slice(0, theirs.length).every((i) => typeof i.line === 'number'), 'every instruction of _start has a line');
    const call = ours.find((i) => i.instruction.startsWith('call'));
    assert.ok(call && call.instruction.endsWith('<run_proc>'), `the call names its target: ${call?.instruction}`);
    // Going backwards lands on the same boundaries.
    const back = await inspector.disassemble(parseInt(ours[4].address, 16), 4, false, -4);
    assert.deepStrictEqual(back.map((i) => i.address), ours.slice(0, 4).map((i) => i.address));
    const unreadable = await inspector.disassemble(0x10, 2);
    assert.deepStrictEqual(unreadable.map((i) => i.presentationHint), ['invalid', 'invalid']);
  });
});

describe('inspect: C syntax and formatting rules', () => {
  it('parses precedence, casts, postfix chains and typedef casts', () => {
    const isType = (n: string): boolean => n === 'u32';
    assert.deepStrictEqual(parseExpression('a + b * c', isType), {
      kind: 'binary', op: '+', left: { kind: 'identifier', name: 'a' },
      right: { kind: 'binary', op: '*', left: { kind: 'identifier', name: 'b' }, right: { kind: 'identifier', name: 'c' } },
    });
    const cast = parseExpression('(u32 *)p->q[2]', isType);
    assert.strictEqual(cast.kind, 'cast');
    if (cast.kind === 'cast') {
      assert.deepStrictEqual(cast.type, { base: 'u32', pointers: 1, arrays: [] });
      assert.strictEqual(cast.operand.kind, 'index');
    }
    const paren = parseExpression('(x) - 1', isType);
    assert.strictEqual(paren.kind, 'binary', 'a parenthesised variable is not a cast');
    assert.deepStrictEqual(parseExpression('(unsigned)1', isType), { kind: 'cast', type: { base: 'unsigned int', pointers: 0, arrays: [] }, operand: { kind: 'integer', value: 1n, unsigned: false, longLong: false, text: '1' } });
    assert.strictEqual(parseExpression('$cr3 & ~0xfff').kind, 'binary');
    assert.strictEqual(parseExpression('a ? b : c ? d : e').kind, 'conditional');
  });

  it('reports syntax errors with their position', () => {
    for (const [text, position] of [['a +', 3], ['(int', 4], ['a[1', 3], ['1 @ 2', 2], ["'ab'", 0], ['"open', 0], ['', 0], ['a.', 2], ['0x', 0]] as const) {
      assert.throws(() => parseExpression(text), (e: unknown) => e instanceof ExpressionSyntaxError && e.position === position, text);
    }
  });

  it('formats strings, floats and enums as gdb does', () => {
    const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
    assert.strictEqual(formatCharArray(bytes('kernel\0\0\0\0\0\0\0\0\0\0'), false), '"kernel\\000\\000\\000\\000\\000\\000\\000\\000\\000"');
    assert.strictEqual(formatCharArray(bytes('x' + '\0'.repeat(15)), false), '"x", \'\\000\' <repeats 14 times>');
    assert.strictEqual(formatCharArray(bytes('a'.repeat(250)), false), "'a' <repeats 250 times>...");
    assert.strictEqual(formatCharArray(bytes('q"\\\x1b\xff'), false), '"q\\"\\\\\\033\\377"');
    assert.strictEqual(formatFloat(0.1, 8), '0.10000000000000001');
    assert.strictEqual(formatFloat(1e20, 8), '1e+20');
    assert.strictEqual(formatFloat(1.25e-7, 4), '1.25e-07');
    const perm = { kind: 'enum' as const, name: 'perm', byteSize: 4, underlying: undefined, enumerators: [{ name: 'R', value: 1n }, { name: 'W', value: 2n }] };
    assert.strictEqual(formatEnum(perm, 3n), '(R | W)');
    assert.strictEqual(formatEnum(perm, 5n), '(R | unknown: 0x4)');
    assert.strictEqual(formatEnum(perm, 0n), '0');
  });

  it('decodes i386 code with iced-x86 in AT&T syntax', () => {
    const list = decodeInstructions(Uint8Array.from([0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0x0f, 0x0b]), 0xc0100000);
    assert.deepStrictEqual(list.map((i) => i.text), ['push %ebp', 'mov %esp,%ebp', 'mov 0x8(%ebp),%eax', 'ud2']);
  });
});
