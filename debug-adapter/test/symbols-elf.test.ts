// ELF32 (i386) and ELF64 (x86-64) reader against readelf and nm: sections, program headers,
// symbols, the virtual <-> load address mapping of a higher-half link (0xC0100000 and
// 0xffffffff80100000), and typed errors on other files.

import * as assert from 'assert';
import * as fs from 'fs';
import { AddressWidth, formatAddress, parseAddress } from '../../qemu-bridge/src/address';
import * as os from 'os';
import * as path from 'path';
import { ElfFile, ElfFormatError, SymbolsError } from '../src/symbols';
import { readDwarfSections } from '../src/symbols/dwarfSections';
import { build, readBytes, run } from './fixtures-c/compile';
import { buildX64Kernel } from './fixtures-x64/build64';

interface ReadelfSection { name: string; addr: number; offset: number; size: number }

const HEX = '([0-9a-f]{16}|[0-9a-f]{8})';

function readelfSections(file: string, width: AddressWidth): ReadelfSection[] {
  const out = run('readelf', ['-S', '-W', file]);
  const result: ReadelfSection[] = [];
  for (const line of out.split('\n')) {
    const m = new RegExp(`^\\s*\\[\\s*(\\d+)\\]\\s+(\\S*)\\s+(\\S+)\\s+${HEX}\\s+([0-9a-f]{6,})\\s+([0-9a-f]{6,})`).exec(line);
    if (m && m[1] !== '0') result.push({ name: m[2], addr: parseAddress(`0x${m[4]}`, width), offset: parseInt(m[5], 16), size: parseInt(m[6], 16) });
  }
  return result;
}

function readelfLoads(file: string, width: AddressWidth = 32): { offset: number; vaddr: number; paddr: number; filesz: number; memsz: number }[] {
  const out = run('readelf', ['-l', '-W', file]);
  const result = [];
  for (const line of out.split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/.exec(line);
    if (m) result.push({ offset: parseInt(m[1], 16), vaddr: parseAddress(`0x${m[2]}`, width), paddr: parseAddress(`0x${m[3]}`, width), filesz: parseInt(m[4], 16), memsz: parseInt(m[5], 16) });
  }
  return result;
}

function nmSymbols(file: string, width: AddressWidth): { value: number; size: number | undefined; letter: string; name: string }[] {
  const out = run('nm', ['-S', file]);
  const result = [];
  for (const line of out.split('\n')) {
    const m = new RegExp(`^${HEX}(?: ${HEX})? (\\w) (\\S+)$`).exec(line.trim());
    if (m) result.push({ value: parseAddress(`0x${m[1]}`, width), size: m[2] ? parseInt(m[2], 16) : undefined, letter: m[3], name: m[4] });
  }
  return result;
}

describe('symbols: ELF32 and ELF64 reader', function () {
  this.timeout(60_000);
  const variants: [string, () => string, AddressWidth][] = [
    ['linked executable', () => build('lines.c'), 32],
    ['higher-half link', () => build('lines.c', { script: 'higher_half.ld' }), 32],
    ['relocatable object', () => build('types.c', { link: false }), 32],
    ['x86-64 kernel at 0xffffffff80100000', () => buildX64Kernel({ opt: 'O2', dwarf: 5, cfi: '.eh_frame' }), 64],
    ['x86-64 relocatable object (RELA)', () => buildX64Kernel({ opt: 'O0', dwarf: 4, cfi: '.debug_frame' }, true), 64],
  ];

  for (const [label, make, width] of variants) {
    describe(label, () => {
      let file: string;
      let elf: ElfFile;
      before(() => {
        file = make();
        elf = new ElfFile(readBytes(file));
      });

      it('has the class, architecture and address size of the file', () => {
        assert.strictEqual(elf.elfClass, width);
        assert.strictEqual(elf.addressWidth, width);
        assert.strictEqual(elf.addressSize, width / 8);
        assert.strictEqual(elf.arch, width === 64 ? 'x86-64' : 'i386');
      });

      it('reads the same sections as readelf -S', () => {
        const expected = readelfSections(file, width);
        assert.ok(expected.length > 5);
        for (const s of expected) {
          const mine = elf.sections.find((x) => x.name === s.name && x.offset === s.offset);
          assert.ok(mine, `section ${s.name} missing`);
          assert.strictEqual(mine.addr, s.addr, s.name);
          assert.strictEqual(mine.size, s.size, s.name);
        }
        assert.strictEqual(elf.sections.length - 1, expected.length);
      });

      it('reads the same symbols as nm', () => {
        const expected = nmSymbols(file, width).filter((s) => s.letter !== 'U');
        assert.ok(expected.length > 3);
        for (const s of expected) {
          const all = elf.symbolsNamed(s.name);
          const mine = all.find((x) => x.value === s.value);
          assert.ok(mine, `symbol ${s.name} at ${s.value.toString(16)} missing (have ${all.map((x) => x.value.toString(16))})`);
          if (s.size !== undefined) assert.strictEqual(mine.size, s.size, s.name);
          const isGlobal = s.letter === s.letter.toUpperCase();
          assert.strictEqual(mine.binding === 'global', isGlobal, `${s.name} binding`);
          if (/[Tt]/.test(s.letter)) assert.strictEqual(mine.type, 'func', `${s.name} type`);
          if (/[DdBbRr]/.test(s.letter) && mine.size > 0) assert.strictEqual(mine.type, 'object', `${s.name} type`);
        }
      });

      it('finds the symbol containing an address', () => {
        const sized = nmSymbols(file, width).filter((s) => s.size && /[TtDdBb]/.test(s.letter));
        assert.ok(sized.length > 0);
        for (const s of sized) {
          for (const a of [s.value, s.value + (s.size ?? 1) - 1]) {
            const hit = elf.symbolAt(a);
            assert.ok(hit, `nothing at ${a.toString(16)}`);
            assert.ok(hit.value <= a && a < hit.value + Math.max(hit.size, 1), `${hit.name} does not cover ${a.toString(16)}`);
            if (elf.header.type !== 1) assert.strictEqual(hit.name, s.name);
          }
        }
      });
    });
  }

  it('maps virtual to load addresses like the PT_LOAD segments say', () => {
    const file = build('lines.c', { script: 'higher_half.ld' });
    const elf = new ElfFile(readBytes(file));
    const loads = readelfLoads(file);
    assert.ok(loads.length > 0);
    assert.ok(loads.some((l) => l.vaddr !== l.paddr), 'the higher-half link should load below its virtual address');
    assert.deepStrictEqual(
      elf.programHeaders.filter((p) => p.type === 1).map((p) => ({ offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz })),
      loads,
    );
    for (const l of loads) {
      for (const delta of [0, 1, l.memsz - 1]) {
        assert.strictEqual(elf.virtualToLoad(l.vaddr + delta), l.paddr + delta);
        assert.strictEqual(elf.loadToVirtual(l.paddr + delta), l.vaddr + delta);
      }
    }
    const start = elf.symbolByName('_start');
    assert.ok(start && start.value >= 0xc0000000);
    const load = elf.virtualToLoad(start.value);
    assert.ok(load !== undefined && load < 0x40000000);
    assert.strictEqual(elf.virtualToLoad(0x12345), undefined);
    assert.strictEqual(elf.header.entry, start.value);
  });

  it('maps an x86-64 kernel\'s virtual addresses (the top 2 GiB, negative numbers) to its load addresses', () => {
    const file = buildX64Kernel({ opt: 'O2', dwarf: 5, cfi: '.eh_frame' });
    const elf = new ElfFile(readBytes(file));
    const loads = readelfLoads(file, 64);
    assert.ok(loads.length > 0);
    assert.deepStrictEqual(
      elf.programHeaders.filter((p) => p.type === 1).map((p) => ({ offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz })),
      loads,
    );
    for (const l of loads) {
      assert.ok(l.vaddr < 0 && l.paddr >= 0x100000, `${formatAddress(l.vaddr, 64)} loads at ${formatAddress(l.paddr, 64)}`);
      for (const delta of [0, 1, l.memsz - 1]) {
        assert.strictEqual(elf.virtualToLoad(l.vaddr + delta), l.paddr + delta);
        assert.strictEqual(elf.loadToVirtual(l.paddr + delta), l.vaddr + delta);
      }
      assert.strictEqual(elf.virtualToLoad(l.vaddr + l.memsz + 0x100000), undefined);
    }
    const kmain = elf.symbolByName('kmain');
    assert.ok(kmain);
    assert.strictEqual(formatAddress(kmain.value, 64).slice(0, 12), '0xffffffff80');
    assert.strictEqual(elf.header.entry, kmain.value);
    assert.strictEqual(elf.virtualToLoad(kmain.value), kmain.value + 0x80000000);
    assert.strictEqual(elf.symbolAt(kmain.value + 1), kmain);
  });

  it('inflates compressed debug sections (SHF_COMPRESSED and .zdebug_*) to what objcopy --decompress-debug-sections writes', () => {
    const images: [string, string][] = [
      ['x86-64 kernel, ld --compress-debug-sections=zlib', buildX64Kernel({ opt: 'Os', dwarf: 4, cfi: '.debug_frame', compressed: true })],
      ['x86-64 object, gcc -gz=zlib', build('lines.c', { flags: ['-O2', '-gz=zlib'], link: false, arch: 'x86-64' })],
      ['x86-64 object, gcc -gz=zlib-gnu (.zdebug_*)', build('optimized.c', { flags: ['-O2', '-gz=zlib-gnu'], link: false, arch: 'x86-64' })],
      ['i386 object, gcc -gz=zlib', build('types.c', { flags: ['-O0', '-gz=zlib'], link: false })],
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-zdebug-'));
    try {
      for (const [label, file] of images) {
        const plain = path.join(dir, `${path.basename(file)}.plain`);
        run('objcopy', ['--decompress-debug-sections', file, plain]);
        const compressed = new ElfFile(readBytes(file));
        assert.ok(compressed.sections.some((s) => (s.flags & 0x800) !== 0 || s.name.startsWith('.zdebug_')), `${label} has compressed sections`);
        const ours = readDwarfSections(compressed);
        const theirs = readDwarfSections(new ElfFile(readBytes(plain)));
        for (const key of ['info', 'abbrev', 'str', 'line', 'lineStr', 'loc', 'loclists', 'ranges', 'rnglists', 'frame'] as const) {
          assert.ok(Buffer.from(ours[key]).equals(Buffer.from(theirs[key])), `${label}: ${key} differs (${ours[key].length} vs ${theirs[key].length} bytes)`);
        }
        assert.ok(ours.info.length > 100 && ours.line.length > 50, label);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects files that are not ELF32 or ELF64 x86-64 little-endian with a typed error', () => {
    assert.throws(() => new ElfFile(new TextEncoder().encode('#!/bin/sh\necho hi\n')), (e: unknown) => e instanceof ElfFormatError && e.code === 'not-elf');
    // The host's own executable (an ELF64 x86-64 image) with its machine changed to AArch64 (183).
    const host = new Uint8Array(fs.readFileSync(process.execPath).subarray(0, 4096));
    assert.strictEqual(host[4], 2, 'the host runs a 64-bit ELF');
    host[18] = 183;
    host[19] = 0;
    assert.throws(() => new ElfFile(host), (e: unknown) => e instanceof SymbolsError && e.code === 'unsupported-elf' && /machine 183, not x86-64/.test(e.message));
    const badClass = new Uint8Array(host);
    badClass[4] = 3;
    assert.throws(() => new ElfFile(badClass), (e: unknown) => e instanceof SymbolsError && e.code === 'unsupported-elf');
    assert.throws(() => new ElfFile(new Uint8Array(0)), ElfFormatError);
  });
});
