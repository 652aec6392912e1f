// Target descriptions on their own: includes, regnum, commented-out registers, errors.

import * as assert from 'assert';
import { buildRegisterLayout, parseDescriptionDocument, RegisterLayout } from '../src/target-description';

const TARGET = `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">
<target><architecture>i386</architecture><xi:include href="core.xml"/></target>`;
const CORE = `<?xml version="1.0"?>
<feature name="org.gnu.gdb.i386.core">
  <reg name="eax" bitsize="32" type="int32" regnum="0"/>
  <reg name="ecx" bitsize="32" type="int32"/>
  <!-- <reg name="ghost" bitsize="32" type="int32"/> -->
  <reg name="eip" bitsize="32" type="code_ptr"/>
  <reg name="st0" bitsize="80" type="i387_ext"/>
  <reg name="cr3" bitsize="32" type="int" regnum="21"/>
  <reg name="cr4" bitsize='32' type="int" group="system"/>
</feature>`;

describe('target-description', () => {
  it('follows includes, numbers registers and skips commented-out ones', () => {
    const layout = buildRegisterLayout('target.xml', new Map([['target.xml', TARGET], ['core.xml', CORE]]));
    assert.ok(layout instanceof RegisterLayout);
    assert.deepStrictEqual(layout.registers.map((r) => `${r.name}:${r.number}:${r.bitSize}`), ['eax:0:32', 'ecx:1:32', 'eip:2:32', 'st0:3:80', 'cr3:21:32', 'cr4:22:32']);
    assert.strictEqual(layout.get('ghost'), undefined);
    assert.strictEqual(layout.get('cr4')?.group, 'system');
    assert.strictEqual(layout.get('eax')?.feature, 'org.gnu.gdb.i386.core');
    assert.strictEqual(parseDescriptionDocument(TARGET).architecture, 'i386');
  });
  it('splits a g packet in register-number order until a gap', () => {
    const layout = buildRegisterLayout('t', new Map([['t', CORE]])) as RegisterLayout;
    const g = Buffer.alloc(4 * 3 + 10);
    g.writeUInt32LE(0x11, 0);
    g.writeUInt32LE(0x22, 4);
    g.writeUInt32LE(0x100108, 8);
    const regs = layout.splitGPacket(g);
    assert.strictEqual(regs.get('eip')?.readUInt32LE(0), 0x100108);
    assert.strictEqual(regs.get('st0')?.length, 10);
    assert.strictEqual(regs.has('cr3'), false);
  });
  it('reports missing includes, cycles and bad sizes', () => {
    assert.match(buildRegisterLayout('target.xml', new Map([['target.xml', TARGET]])) as string, /core.xml is missing/);
    assert.match(buildRegisterLayout('a', new Map([['a', '<xi:include href="a"/>']])) as string, /within itself/);
    assert.match(buildRegisterLayout('a', new Map([['a', '<reg name="x" bitsize="7"/>']])) as string, /bit size/);
    assert.match(buildRegisterLayout('a', new Map([['a', '<feature/>']])) as string, /no registers/);
  });
});
