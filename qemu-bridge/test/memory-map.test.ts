// The parser of QEMU's flat memory map (`info mtree -f`) on output captured from QEMU 7.2 after
// SeaBIOS assigned the PCI BARs: qemu-system-i386 -M pc -m 16, qemu-system-x86_64 -M pc -m 3584
// (RAM above 4 GiB), -M q35 -m 3584 (the lower 2 GiB below the MMCONFIG window), and -M pc with
// a memory backend named `ram` (how mmscope launches QEMU). The live test against QEMU itself is
// memory-map.qemu.test.ts.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parseFlatMemoryMap, PhysicalRegion } from '../src';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'qemu-bridge', 'test', 'fixtures', 'mtree');
const load = (name: string): PhysicalRegion[] => parseFlatMemoryMap(fs.readFileSync(path.join(FIXTURES, `${name}.txt`), 'utf8'));
const MIB = 1 << 20;
const kinds = (rs: PhysicalRegion[], kind: PhysicalRegion['kind']): string[] => rs.filter((r) => r.kind === kind).map((r) => `${r.base.toString(16)}+${r.size.toString(16)} ${r.name}`);

describe('QEMU memory map: info mtree -f', () => {
  it('i386 pc, 16 MiB: RAM below the VGA window and above 1 MiB, the BIOS shadow as ROM, devices, no I/O ports', () => {
    const rs = load('i386-pcboot-16');
    assert.deepStrictEqual(kinds(rs, 'ram'), ['0+a0000 pc.ram', 'cb000+3000 pc.ram', 'e8000+8000 pc.ram', '100000+f00000 pc.ram']);
    assert.deepStrictEqual(kinds(rs, 'rom'), ['c0000+b000 pc.ram', 'ce000+1a000 pc.ram', 'f0000+10000 pc.ram', 'fffc0000+40000 pc.bios']);
    const dev = kinds(rs, 'device');
    assert.ok(dev.includes('a0000+20000 vga-lowmem'));
    assert.ok(dev.includes('fd000000+1000000 vga.vram'), 'device RAM (the framebuffer) is a device');
    assert.ok(dev.includes('fec00000+1000 ioapic') && dev.includes('fee00000+100000 apic-msi'));
    assert.ok(!rs.some((r) => r.name === 'dma-chan' || r.name === 'pic'), 'the I/O port space is not in the map');
    for (let i = 1; i < rs.length; i++) assert.ok(rs[i - 1].base + rs[i - 1].size <= rs[i].base, 'sorted, not overlapping');
    assert.deepStrictEqual(rs.find((r) => r.base === 0x100000)?.offset, 0x100000);
  });

  it('x86_64 pc, 3.5 GiB: 3 GiB below the PCI hole, 512 MiB at 4 GiB (offset 3 GiB into the RAM)', () => {
    const rs = load('x86_64-pcboot-3584');
    const ram = rs.filter((r) => r.kind === 'ram');
    assert.deepStrictEqual(ram[ram.length - 1], { base: 0x100000000, size: 512 * MIB, kind: 'ram', name: 'pc.ram', offset: 0xc0000000 });
    assert.strictEqual(ram.find((r) => r.base === 0x100000)?.size, 3072 * MIB - MIB);
  });

  it('x86_64 q35, 3.5 GiB: 2 GiB below the MMCONFIG window, 1.5 GiB at 4 GiB', () => {
    const rs = load('x86_64-q35boot-3584');
    const ram = rs.filter((r) => r.kind === 'ram');
    assert.deepStrictEqual(ram[ram.length - 1], { base: 0x100000000, size: 1536 * MIB, kind: 'ram', name: 'pc.ram', offset: 0x80000000 });
    assert.ok(kinds(rs, 'device').includes('b0000000+10000000 pcie-mmcfg-mmio'));
  });

  it('a memory backend: its id names the RAM', () => {
    const rs = load('x86_64-pcfile-3584');
    assert.deepStrictEqual(rs.filter((r) => r.kind === 'ram').map((r) => r.name), ['ram', 'ram', 'ram', 'ram', 'ram']);
    assert.strictEqual(rs.find((r) => r.name === 'vga.vram')?.kind, 'device');
  });

  it('text without the memory address space gives no regions', () => {
    assert.deepStrictEqual(parseFlatMemoryMap('unknown command: mtree'), []);
    assert.deepStrictEqual(parseFlatMemoryMap('FlatView #0\n AS "I/O", root: io\n Root memory region: io\n  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan\n'), []);
  });
});
