// Types against the compiler's own answers: struct offsets and sizes read from globals the
// fixture initialises with offsetof/sizeof, bit fields extracted from an initialised struct,
// enum values from an array of the enumerators, and C type names against gdb's whatis.

import * as assert from 'assert';
import {
  ArrayType, byteSizeOf, DebugSymbols, DwarfType, EnumType, stripTypedefs, StructType, typeName,
} from '../src/symbols';
import { build, gdbBatch, readBytes } from './fixtures-c/compile';

/** The initial bytes of global `name` from the image's file contents. */
function globalBytes(symbols: DebugSymbols, name: string): Uint8Array {
  const sym = symbols.elf.symbolByName(name);
  assert.ok(sym, `no symbol ${name}`);
  const section = symbols.elf.sections[sym.sectionIndex];
  assert.ok(section, `${name} has no section`);
  const base = symbols.elf.header.type === 1 ? 0 : section.addr;
  const data = symbols.elf.sectionData(section);
  return data.subarray(sym.value - base, sym.value - base + sym.size);
}

function u32s(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) out.push(view.getUint32(i, true));
  return out;
}

function i32s(bytes: Uint8Array): number[] {
  return u32s(bytes).map((v) => v | 0);
}

function globalType(symbols: DebugSymbols, name: string): DwarfType {
  const g = symbols.globalsNamed(name)[0];
  assert.ok(g, `no global ${name}`);
  return g.type;
}

function structType(symbols: DebugSymbols, name: string): StructType {
  const t = symbols.findType(name);
  assert.ok(t && (t.kind === 'struct' || t.kind === 'union'), `${name} is not a struct`);
  return t;
}

/** gdb prints "struct pcb [8]" and "char * const"; C spacing differs only around * and [. */
// gdb also shortens the DWARF base type name "long long int" to "long long"; we print DWARF's name.
function normalizeTypeText(s: string): string {
  return s.replace(/\blong long int\b/g, 'long long').replace(/\s+/g, ' ').replace(/ ?\* ?/g, '*').replace(/ \[/g, '[').replace(/ \(/g, '(').trim();
}

const variants: [string, string[], boolean, ('i386' | 'x86-64')?][] = [
  ['DWARF 5', ['-O0'], true],
  ['DWARF 4', ['-O0', '-gdwarf-4'], true],
  ['DWARF 5 relocatable object', ['-O0'], false],
  // LP64: long and pointers are 8 bytes; the kernel is linked at 0xffffffff80100000.
  ['x86-64 DWARF 5', ['-O0'], true, 'x86-64'],
  ['x86-64 DWARF 4 -O2', ['-O2', '-gdwarf-4'], true, 'x86-64'],
  ['x86-64 DWARF 5 relocatable object', ['-O0'], false, 'x86-64'],
];

describe('symbols: types', function () {
  this.timeout(60_000);
  for (const [label, flags, link, arch] of variants) {
    describe(label, () => {
      let file: string;
      let symbols: DebugSymbols;
      before(() => {
        file = build('types.c', { flags, link, arch });
        symbols = new DebugSymbols(readBytes(file));
      });

      it('gives struct member offsets equal to offsetof', () => {
        const pcb = structType(symbols, 'struct pcb');
        assert.deepStrictEqual(pcb.members.map((m) => m.byteOffset), u32s(globalBytes(symbols, 'pcb_offsets')));
        assert.deepStrictEqual(pcb.members.map((m) => m.name), ['pid', 'name', 'next', 'state', 'page_directory', 'entry']);
        const matrix = structType(symbols, 'struct matrix');
        assert.deepStrictEqual(matrix.members.map((m) => m.byteOffset), u32s(globalBytes(symbols, 'matrix_offsets')));
        const bits = structType(symbols, 'struct bits');
        const e = bits.members.find((m) => m.name === 'e');
        assert.strictEqual(e?.byteOffset, u32s(globalBytes(symbols, 'bits_e_offset'))[0]);
        assert.strictEqual(e?.bitSize, undefined);
      });

      it('gives type sizes equal to sizeof', () => {
        const expected = u32s(globalBytes(symbols, 'type_sizes'));
        const mine = ['struct pcb', 'union word', 'struct bits', 'struct matrix', 'enum proc_state'].map((n) => {
          const t = symbols.findType(n);
          assert.ok(t, n);
          return byteSizeOf(t);
        });
        assert.deepStrictEqual(mine, expected);
        for (const name of ['procs', 'table', 'grid', 'a_word', 'big', 'bits_sample']) {
          assert.strictEqual(byteSizeOf(globalType(symbols, name)), symbols.elf.symbolByName(name)?.size, name);
        }
      });

      it('extracts every bit field of an initialised struct', () => {
        const bits = structType(symbols, 'struct bits');
        const bytes = globalBytes(symbols, 'bits_sample');
        let word = 0n;
        for (let i = bytes.length - 1; i >= 0; i--) word = (word << 8n) | BigInt(bytes[i]);
        const values = bits.members.map((m) => {
          const size = m.bitSize ?? byteSizeOf(m.type) * 8;
          const offset = m.bitOffset ?? m.byteOffset * 8;
          const raw = (word >> BigInt(offset)) & ((1n << BigInt(size)) - 1n);
          const t = stripTypedefs(m.type);
          const signed = t.kind === 'base' && (t.encoding === 5 || t.encoding === 6);
          return Number(signed ? BigInt.asIntN(size, raw) : raw);
        });
        assert.deepStrictEqual(values, i32s(globalBytes(symbols, 'bits_expected')));
        assert.ok(bits.members.filter((m) => m.bitSize !== undefined).length === 6);
      });

      it('reads enumerators with their values', () => {
        const t = symbols.findType('enum proc_state') as EnumType;
        assert.strictEqual(t.kind, 'enum');
        assert.deepStrictEqual(t.enumerators.map((e) => Number(BigInt.asIntN(32, e.value))), i32s(globalBytes(symbols, 'enum_expected')));
        assert.deepStrictEqual(t.enumerators.map((e) => e.name), ['PS_FREE', 'PS_READY', 'PS_RUNNING', 'PS_ZOMBIE']);
        const sample = u32s(globalBytes(symbols, 'state_sample'))[0];
        assert.strictEqual(t.enumerators.find((e) => e.value === BigInt(sample))?.name, 'PS_RUNNING');
      });

      it('reads array dimensions and unions', () => {
        const grid = stripTypedefs(structType(symbols, 'struct matrix').members[0].type) as ArrayType;
        assert.strictEqual(grid.kind, 'array');
        assert.deepStrictEqual(grid.dimensions.map((d) => d.count), [3, 4]);
        const word = structType(symbols, 'union word');
        assert.strictEqual(word.kind, 'union');
        assert.ok(word.members.every((m) => m.byteOffset === 0));
        // A self-referencing struct resolves to the same object.
        const pcb = structType(symbols, 'struct pcb');
        const next = stripTypedefs(pcb.members[2].type);
        assert.ok(next.kind === 'pointer' && next.target === pcb);
      });

      it('prints every global type like gdb whatis', () => {
        const globals = symbols.globals;
        assert.ok(globals.length > 15);
        const out = gdbBatch(file, globals.map((g) => `whatis ${g.name}`));
        const gdbTypes = out.split('\n').filter((l) => l.startsWith('type = ')).map((l) => l.slice('type = '.length));
        assert.strictEqual(gdbTypes.length, globals.length, out);
        globals.forEach((g, i) => {
          assert.strictEqual(normalizeTypeText(typeName(g.type)), normalizeTypeText(gdbTypes[i]), `type of ${g.name}`);
        });
        // And a few exactly as the C source writes them.
        assert.strictEqual(typeName(globalType(symbols, 'table')), 'unsigned int[64]');
        assert.strictEqual(typeName(globalType(symbols, 'greeting')), 'const char *');
        assert.strictEqual(typeName(globalType(symbols, 'current_proc')), 'pcb_t *');
        assert.strictEqual(typeName(globalType(symbols, 'handler')), 'int (*)(int, char)');
        assert.strictEqual(typeName(globalType(symbols, 'row_ptr')), 'char (*)[10]');
      });

      it('gives globals addresses equal to their ELF symbols', async () => {
        for (const g of symbols.globals) {
          const sym = symbols.elf.symbolByName(g.name);
          assert.ok(sym, g.name);
          const loc = await symbols.locateVariable(g, 0, { readRegister: () => 0, readMemory: () => new Uint8Array(0) });
          assert.deepStrictEqual(loc, { kind: 'memory', address: sym.value }, g.name);
        }
      });
    });
  }
});
