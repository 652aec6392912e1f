// The DIE tree, locations and the function model against readelf --debug-dump=info:
// every DIE with the same offset, depth, tag and name; exprloc locations decoded the same;
// location lists where readelf shows them (-O2); inlined calls with their call lines.

import * as assert from 'assert';
import { DebugSymbols, formatExpression, InlinedCallInfo, ScopeInfo } from '../src/symbols';
import { DW_TAG } from '../src/symbols/dwarfConstants';

const DW_TAG_NAMES_FOR_TESTS = new Map<number, string>(Object.entries(DW_TAG).map(([k, v]) => [v, k]));
import { dieLocation } from '../src/symbols/locationLists';
import { build, readBytes, run } from './fixtures-c/compile';

interface ReadelfDie { offset: number; depth: number; tag: string; attrs: Map<string, string> }

function readelfDies(file: string): ReadelfDie[] {
  const dies: ReadelfDie[] = [];
  let current: ReadelfDie | undefined;
  for (const line of run('readelf', ['--debug-dump=info', '-W', file]).split('\n')) {
    const d = /^\s*<(\d+)><([0-9a-f]+)>: Abbrev Number: (\d+)(?: \((\w+)\))?/.exec(line);
    if (d) {
      current = undefined;
      if (d[3] !== '0') {
        current = { depth: Number(d[1]), offset: parseInt(d[2], 16), tag: d[4] ?? '', attrs: new Map() };
        dies.push(current);
      }
      continue;
    }
    const a = /^\s*<[0-9a-f]+>\s+(DW_AT_\w+)\s*:\s?(.*)$/.exec(line);
    if (a && current) current.attrs.set(a[1], a[2].trim());
  }
  return dies;
}

/** readelf -W prefixes values with their form and string sources: "(strp) (offset: 0x12): main". */
function readelfValue(value: string): string {
  let v = value;
  for (let i = 0; i < 4; i++) v = v.replace(/^\([^()]*\):?\s*/, '');
  return v;
}

function collectInlined(scope: ScopeInfo, out: InlinedCallInfo[]): void {
  for (const i of scope.inlined) {
    out.push(i);
    collectInlined(i, out);
  }
  for (const b of scope.blocks) collectInlined(b, out);
}

const variants: [string, string, string[], ('i386' | 'x86-64')?][] = [
  ['lines.c DWARF 5 -O0', 'lines.c', ['-O0']],
  ['lines.c DWARF 4 -O0', 'lines.c', ['-O0', '-gdwarf-4']],
  ['types.c DWARF 5 -O0', 'types.c', ['-O0']],
  ['optimized.c DWARF 5 -O2', 'optimized.c', ['-O2']],
  ['optimized.c DWARF 4 -O2', 'optimized.c', ['-O2', '-gdwarf-4']],
  ['lines.c x86-64 DWARF 5 -O0', 'lines.c', ['-O0'], 'x86-64'],
  ['types.c x86-64 DWARF 4 -O0', 'types.c', ['-O0', '-gdwarf-4'], 'x86-64'],
  ['optimized.c x86-64 DWARF 5 -O2', 'optimized.c', ['-O2'], 'x86-64'],
  ['optimized.c x86-64 DWARF 4 -O2 -gdwarf64', 'optimized.c', ['-O2', '-gdwarf-4', '-gdwarf64'], 'x86-64'],
];

describe('symbols: DIE tree and program model', function () {
  this.timeout(60_000);
  for (const [label, source, flags, arch] of variants) {
    describe(label, () => {
      let symbols: DebugSymbols;
      let expected: ReadelfDie[];
      before(() => {
        const file = build(source, { flags, arch });
        symbols = new DebugSymbols(readBytes(file));
        expected = readelfDies(file);
      });

      it('has the same DIEs as readelf (offset, depth, tag, name)', () => {
        const mine = symbols.debugInfo.units.flatMap((u) => u.allDies);
        assert.strictEqual(mine.length, expected.length);
        mine.forEach((die, i) => {
          const e = expected[i];
          assert.strictEqual(die.offset, e.offset);
          let depth = 0;
          for (let p = die.parent; p; p = p.parent) depth++;
          assert.strictEqual(depth, e.depth, `depth at <${e.offset.toString(16)}>`);
          const tagName = DW_TAG_NAMES_FOR_TESTS.get(die.tag);
          if (tagName) assert.strictEqual(`DW_TAG_${tagName}`, e.tag, `tag at <${e.offset.toString(16)}>`);
          const name = e.attrs.get('DW_AT_name');
          if (name !== undefined) assert.strictEqual(die.name, readelfValue(name), `name at <${e.offset.toString(16)}>`);
        });
      });

      it('decodes locations as readelf does', () => {
        const mine = new Map(symbols.debugInfo.units.flatMap((u) => u.allDies).map((d) => [d.offset, d]));
        let expressions = 0;
        let lists = 0;
        for (const e of expected) {
          const text = e.attrs.get('DW_AT_location');
          if (text === undefined) continue;
          const die = mine.get(e.offset);
          assert.ok(die);
          const loc = dieLocation(die, 0x02);
          if (text.includes('location list')) {
            assert.strictEqual(loc.kind, 'list', `<${e.offset.toString(16)}>`);
            lists++;
            continue;
          }
          assert.strictEqual(loc.kind, 'expression', `<${e.offset.toString(16)}>`);
          const m = /\((DW_OP[^()]*)\)\s*$/.exec(text);
          if (m && loc.kind === 'expression') {
            assert.strictEqual(formatExpression(loc.expression, die.unit.addressSize, die.unit.offsetSize), m[1].trim(), `<${e.offset.toString(16)}>`);
            expressions++;
          }
        }
        assert.ok(expressions + lists > 3);
        if (flags.includes('-O2')) assert.ok(lists > 0, 'an -O2 build should have location lists');
      });

      it('lists functions, parameters and locals with their declarations', () => {
        const subprograms = expected.filter((e) => e.tag === 'DW_TAG_subprogram' && (e.attrs.has('DW_AT_low_pc') || e.attrs.has('DW_AT_ranges')));
        const names = symbols.functions.map((f) => f.name).sort();
        assert.strictEqual(names.length, subprograms.length);
        for (const f of symbols.functions) {
          const sym = symbols.elf.symbolsNamed(f.name).find((s) => s.type === 'func');
          assert.ok(sym, `${f.name} has no ELF symbol`);
          assert.strictEqual(f.lowPc, sym.value, f.name);
          assert.strictEqual(symbols.functionAt(sym.value + sym.size - 1)?.name, f.name);
          assert.ok(f.declFile?.endsWith(source) || f.declFile?.endsWith('.h'), `${f.name} declared in ${f.declFile}`);
          assert.ok((f.declLine ?? 0) > 0);
        }
        if (source === 'lines.c') {
          const sum = symbols.functionsNamed('sum_table')[0];
          assert.deepStrictEqual(sum.parameters.map((p) => p.name), ['t', 'n']);
          assert.deepStrictEqual(sum.parameters.map((p) => symbols.typeName(p.type)), ['const u32 *', 'int']);
          assert.ok(sum.variables.some((v) => v.name === 'total'));
          assert.ok(sum.blocks.some((b) => b.variables.some((v) => v.name === 'i')));
          const classify = symbols.functionsNamed('classify')[0];
          const block = classify.blocks.find((b) => b.variables.some((v) => v.name === 'local_in_block'));
          assert.ok(block && block.ranges.length > 0);
          const inBlock = block.ranges[0].start;
          assert.ok(symbols.variablesAt(inBlock).some((v) => v.name === 'local_in_block'));
          assert.ok(!symbols.variablesAt(classify.lowPc).some((v) => v.name === 'local_in_block'));
        }
      });

      it('finds inlined calls with their call lines', () => {
        const expectedLines = expected.filter((e) => e.tag === 'DW_TAG_inlined_subroutine').map((e) => Number(readelfValue(e.attrs.get('DW_AT_call_line') ?? ''))).sort();
        const mine: InlinedCallInfo[] = [];
        for (const f of symbols.functions) collectInlined(f, mine);
        assert.deepStrictEqual(mine.map((i) => i.callLine ?? 0).sort(), expectedLines);
        if (source === 'optimized.c') {
          assert.ok(mine.length > 0, '-O2 should inline mark_used');
          const call = mine.find((i) => i.name === 'block_index' && i.ranges.length > 0);
          assert.ok(call, 'block_index is inlined with code');
          const frames = symbols.framesAt(call.ranges[0].start);
          assert.deepStrictEqual(frames.map((f) => f.name), ['block_index', 'mark_used', 'fill']);
          assert.ok(frames[0].inlined && frames[1].inlined && !frames[2].inlined);
          assert.ok(frames[1].line === call.callLine && frames[1].file?.endsWith(source));
        }
      });
    });
  }
});
