// QMP framing and message classification on their own, including malformed input.

import * as assert from 'assert';
import { encodeQmpCommand, QmpLineDecoder } from '../src/qmp-framing';
import { classifyQmpMessage } from '../src/qmp-messages';

describe('qmp-framing', () => {
  it('splits lines across chunks and parses JSON', () => {
    const d = new QmpLineDecoder();
    const text = '{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": "x"}, "capabilities": ["oob"]}}\r\n{"return": {}, "id": 1}\r\n';
    const frames = [];
    for (const ch of Buffer.from(text)) frames.push(...d.push(Buffer.from([ch])));
    assert.strictEqual(frames.length, 2);
    const g = classifyQmpMessage(frames[0].kind === 'json' ? frames[0].value : null);
    assert.ok(typeof g !== 'string' && g.kind === 'greeting');
    assert.deepStrictEqual(g.version, { major: 7, minor: 2, micro: 22, package: 'x' });
    assert.deepStrictEqual(g.capabilities, ['oob']);
  });
  it('classifies returns, errors and events', () => {
    assert.deepStrictEqual(classifyQmpMessage({ return: { status: 'running' }, id: 3 }), { kind: 'return', id: 3, value: { status: 'running' } });
    assert.deepStrictEqual(classifyQmpMessage({ error: { class: 'CommandNotFound', desc: 'nope' }, id: 4 }), {
      kind: 'error',
      id: 4,
      errorClass: 'CommandNotFound',
      description: 'nope',
    });
    const e = classifyQmpMessage({ event: 'STOP', timestamp: { seconds: 10, microseconds: 500000 } });
    assert.ok(typeof e !== 'string' && e.kind === 'event');
    assert.strictEqual(e.timestampMs, 10500);
    assert.deepStrictEqual(e.data, {});
  });
  it('reports malformed lines, non-objects, unknown shapes and oversize lines', () => {
    const d = new QmpLineDecoder(100);
    const frames = d.push(Buffer.from('{"return": \r\n[1,2]\r\n' + 'x'.repeat(300) + '\r\n{"return":{},"id":1}\r\n'));
    assert.deepStrictEqual(frames.map((f) => f.kind), ['error', 'json', 'error', 'json']);
    assert.strictEqual(typeof classifyQmpMessage([1, 2]), 'string');
    assert.strictEqual(typeof classifyQmpMessage({ hello: 1 }), 'string');
    assert.strictEqual(typeof classifyQmpMessage({ error: 'text' }), 'string');
    assert.deepStrictEqual(d.push(Buffer.from('{"ret')), []);
    assert.strictEqual(d.end()[0].kind, 'error');
  });
  it('encodes commands with ids and arguments', () => {
    assert.strictEqual(encodeQmpCommand('stop', undefined, 7).toString(), '{"execute":"stop","id":7}\r\n');
    assert.deepStrictEqual(JSON.parse(encodeQmpCommand('pmemsave', { val: 4096, size: 16, filename: '/tmp/x' }, 8).toString()), {
      execute: 'pmemsave',
      id: 8,
      arguments: { val: 4096, size: 16, filename: '/tmp/x' },
    });
  });
});
