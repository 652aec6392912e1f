// Stop replies on their own: every kind QEMU sends, and malformed ones.

import * as assert from 'assert';
import { looksLikeStopReply, parseStopReply, parseThreadId } from '../src/rsp-stop-reply';

describe('rsp-stop-reply', () => {
  it('parses a breakpoint stop with a multiprocess thread id', () => {
    const s = parseStopReply('T05thread:p01.01;');
    assert.ok(typeof s !== 'string' && s.kind === 'signal');
    assert.strictEqual(s.signal, 5);
    assert.deepStrictEqual(s.thread, { pid: 1, tid: 1 });
    assert.strictEqual(s.watch, undefined);
  });
  it('parses an interrupt stop with a plain thread id', () => {
    const s = parseStopReply('T02thread:01;');
    assert.ok(typeof s !== 'string' && s.kind === 'signal');
    assert.strictEqual(s.signal, 2);
    assert.deepStrictEqual(s.thread, { tid: 1 });
  });
  it('parses watchpoint addresses of each kind', () => {
    for (const [name, kind] of [['watch', 'write'], ['rwatch', 'read'], ['awatch', 'access']] as const) {
      const s = parseStopReply(`T05thread:p01.01;${name}:100150;`);
      assert.ok(typeof s !== 'string' && s.kind === 'signal');
      assert.deepStrictEqual(s.watch, { kind, address: 0x100150 });
    }
  });
  it('parses register values, swbreak/hwbreak and unknown pairs', () => {
    const s = parseStopReply('T0508:08011000;04:00700000;hwbreak:;core:1;');
    assert.ok(typeof s !== 'string' && s.kind === 'signal');
    assert.strictEqual(s.registers.get(8)?.readUInt32LE(0), 0x00100108);
    assert.strictEqual(s.breakpoint, 'hardware');
    assert.strictEqual(s.extra.get('core'), '1');
  });
  it('parses S, W and X replies', () => {
    assert.deepStrictEqual(parseStopReply('S05'), { kind: 'signal', signal: 5, registers: new Map(), extra: new Map() });
    assert.deepStrictEqual(parseStopReply('W21'), { kind: 'exited', code: 0x21, pid: undefined });
    assert.deepStrictEqual(parseStopReply('X09;process:1'), { kind: 'terminated', code: 9, pid: 1 });
  });
  it('rejects malformed stop replies with a reason', () => {
    for (const bad of ['T', 'T5', 'TZZ', 'T05thread', 'T05thread:q;', 'T05watch:xyz;', 'T0508:123;', 'W21junk', 'S05x', 'Q05']) {
      assert.strictEqual(typeof parseStopReply(bad), 'string', bad);
    }
  });
  it('tells stop-shaped payloads from ordinary replies', () => {
    assert.ok(looksLikeStopReply('T02thread:01;'));
    assert.ok(looksLikeStopReply('W00'));
    assert.ok(!looksLikeStopReply('OK'));
    assert.ok(!looksLikeStopReply('00ff'));
    assert.ok(!looksLikeStopReply('E22'));
  });
  it('parses thread ids', () => {
    assert.deepStrictEqual(parseThreadId('p1.-1'), { pid: 1, tid: -1 });
    assert.deepStrictEqual(parseThreadId('p2'), { pid: 2, tid: -1 });
    assert.strictEqual(parseThreadId('px.1'), undefined);
  });
});
