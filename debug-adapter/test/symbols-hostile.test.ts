// Hostile input: truncated images, garbage sections, bad abbreviation codes, references out
// of bounds, and a seeded fuzz of mutated images. Every failure must be a typed SymbolsError;
// nothing may hang or throw anything else.

import * as assert from 'assert';
import { DebugSymbols, DwarfFormatError, SymbolsError, typeName } from '../src/symbols';
import { DW_AT, DW_FORM } from '../src/symbols/dwarfConstants';
import { seededRandom } from '../../qemu-bridge/test/seeded-random';
import { build, readBytes } from './fixtures-c/compile';
import { buildX64Kernel } from './fixtures-x64/build64';


const noMemory = { readRegister: (): number => 0x1000, readMemory: (_a: number, n: number): Uint8Array => new Uint8Array(n), callFrameCfa: (): number => 0x2000 };

/** Uses every part of the reader the adapter uses. Throws whatever the reader throws. */
async function exercise(bytes: Uint8Array): Promise<void> {
  const s = new DebugSymbols(bytes);
  s.elf.symbolAt(s.elf.header.entry);
  s.elf.virtualToLoad(s.elf.header.entry);
  for (const cu of s.compileUnits) void cu.lineTable?.sequences.length;
  for (const g of s.globals) {
    typeName(g.type);
    await s.locateVariable(g, 0, noMemory);
  }
  for (const f of s.functions.slice(0, 6)) {
    s.addressToLine(f.lowPc);
    s.framesAt(f.lowPc);
    s.unwindRowAt(f.lowPc);
    for (const v of s.variablesAt(f.lowPc)) {
      typeName(v.type);
      await s.locateVariable(v, f.lowPc, noMemory);
    }
  }
  s.lineToAddresses('lines.c', 20);
  s.findType('struct pcb');
  s.findType('struct region');
  for (let pc = s.elf.header.entry, n = 0; n < 64; n++, pc++) {
    s.framesAt(pc);
    s.unwindRowAt(pc);
  }
}

async function expectTypedOrSuccess(bytes: Uint8Array, label: string): Promise<'ok' | 'error'> {
  try {
    await exercise(bytes);
    return 'ok';
  } catch (e) {
    if (!(e instanceof SymbolsError)) {
      assert.fail(`${label}: untyped ${e instanceof Error ? e.stack : String(e)}`);
    }
    assert.ok(e.message.length > 20 && /\.$/.test(e.message), `${label}: message "${e.message}" should be a sentence`);
    return 'error';
  }
}

describe('symbols: hostile input', function () {
  this.timeout(300_000);
  let images: { label: string; bytes: Uint8Array }[];
  before(() => {
    images = [
      { label: 'types.c -O0', bytes: readBytes(build('types.c')) },
      { label: 'optimized.c -O2', bytes: readBytes(build('optimized.c', { flags: ['-O2'] })) },
      { label: 'lines.c DWARF 4 object', bytes: readBytes(build('lines.c', { flags: ['-O0', '-gdwarf-4'], link: false })) },
      // ELF64 x86-64: kernel-half addresses, .eh_frame and .debug_frame, the 64-bit DWARF format, RELA objects.
      { label: 'x86-64 -O2 DWARF 5', bytes: readBytes(buildX64Kernel({ opt: 'O2', dwarf: 5, cfi: '.eh_frame' })) },
      { label: 'x86-64 -O0 DWARF 4 .debug_frame', bytes: readBytes(buildX64Kernel({ opt: 'O0', dwarf: 4, cfi: '.debug_frame' })) },
      { label: 'x86-64 -Os DWARF 5 -gdwarf64', bytes: readBytes(buildX64Kernel({ opt: 'Os', dwarf: 5, cfi: '.debug_frame', dwarf64: true })) },
      { label: 'x86-64 -O2 DWARF 4 object', bytes: readBytes(buildX64Kernel({ opt: 'O2', dwarf: 4, cfi: '.eh_frame' }, true)) },
      { label: 'x86-64 -Os zlib-compressed debug sections', bytes: readBytes(buildX64Kernel({ opt: 'Os', dwarf: 4, cfi: '.debug_frame', compressed: true })) },
    ];
  });

  it('reads the unmodified images', async () => {
    for (const img of images) assert.strictEqual(await expectTypedOrSuccess(img.bytes, img.label), 'ok');
  });

  it('rejects truncated images with typed errors', async () => {
    for (const img of images) {
      const full = new DebugSymbols(img.bytes);
      const shEnd = full.elf.header.shoff + full.elf.header.shnum * full.elf.header.shentsize;
      for (let len = 0; len < img.bytes.length; len += 61) {
        const result = await expectTypedOrSuccess(img.bytes.subarray(0, len), `${img.label} cut at ${len}`);
        if (len < shEnd) assert.strictEqual(result, 'error', `${img.label} cut at ${len} should not load`);
      }
    }
  });

  it('survives garbage in every debug section', async () => {
    const random = seededRandom(1);
    for (const img of images) {
      const elf = new DebugSymbols(img.bytes).elf;
      for (const section of elf.sections.filter((s) => s.name.startsWith('.debug_') || s.name === '.eh_frame')) {
        const copy = new Uint8Array(img.bytes);
        for (let i = 0; i < section.size; i++) copy[section.offset + i] = Math.floor(random() * 256);
        await expectTypedOrSuccess(copy, `${img.label} garbage ${section.name}`);
      }
    }
  });

  it('reports an unknown abbreviation code', () => {
    const img = images[0];
    const good = new DebugSymbols(img.bytes);
    const info = good.elf.section('.debug_info');
    assert.ok(info);
    const copy = new Uint8Array(img.bytes);
    copy[info.offset + good.debugInfo.units[0].dieOffset] = 0x7e;
    assert.throws(() => new DebugSymbols(copy).compileUnits, (e: unknown) => e instanceof DwarfFormatError && /abbreviation code 126/.test(e.message));
  });

  it('reports a type reference that points out of bounds', () => {
    const img = images[0];
    const good = new DebugSymbols(img.bytes);
    const info = good.elf.section('.debug_info');
    assert.ok(info);
    const die = good.debugInfo.units[0].allDies.find((d) => d.attr(DW_AT.type)?.form === DW_FORM.ref4 && d.name === 'procs');
    const attr = die?.attr(DW_AT.type);
    assert.ok(attr);
    const copy = new Uint8Array(img.bytes);
    new DataView(copy.buffer).setUint32(info.offset + attr.offset, 0x7ffffff0, true);
    assert.throws(() => new DebugSymbols(copy).compileUnits, (e: unknown) => e instanceof DwarfFormatError && /no DIE starts/.test(e.message));
  });

  it('never hangs or crashes on 3000 seeded mutations', async () => {
    const random = seededRandom(20240601);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 3000; i++) {
      const img = images[i % images.length];
      const elf = new DebugSymbols(img.bytes).elf;
      const debug = elf.sections.filter((s) => s.name.startsWith('.debug_') || s.name === '.eh_frame' || s.name === '.symtab');
      const copy = new Uint8Array(img.bytes);
      const mutations = 1 + Math.floor(random() * 6);
      for (let m = 0; m < mutations; m++) {
        let at: number;
        if (random() < 0.8 && debug.length) {
          const s = debug[Math.floor(random() * debug.length)];
          at = s.offset + Math.floor(random() * s.size);
        } else {
          at = Math.floor(random() * copy.length);
        }
        const kind = random();
        copy[at] = kind < 0.4 ? Math.floor(random() * 256) : kind < 0.7 ? copy[at] ^ (1 << Math.floor(random() * 8)) : kind < 0.85 ? 0xff : 0;
      }
      const bytes = random() < 0.1 ? copy.subarray(0, Math.floor(random() * copy.length)) : copy;
      outcomes[await expectTypedOrSuccess(bytes, `${img.label} mutation #${i}`)]++;
    }
    console.log(`      fuzz outcomes: ${JSON.stringify(outcomes)}`);
    // Both outcomes must occur, or the fuzz is not reaching the parsers.
    assert.ok(outcomes.ok > 100 && outcomes.error > 100, JSON.stringify(outcomes));
  });
});
