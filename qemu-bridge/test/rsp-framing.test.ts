// RSP framing on its own: checksums, escapes, run lengths, acks, malformed input, and a seeded
// fuzz of the decoder with 100,000+ inputs (it must never throw and must round-trip valid packets).

import * as assert from 'assert';
import { decodeRspBody, encodeRspPacket, escapeRspPayload, RspFrame, RspFrameDecoder, rspChecksum } from '../src/rsp-framing';
import { SeededRandom } from './seeded-random';

function decodeAll(input: Buffer | string, limits?: { maxRawLength: number; maxDecodedLength: number }): RspFrame[] {
  const d = new RspFrameDecoder(limits);
  return [...d.push(Buffer.from(input as string, 'latin1')), ...d.end()];
}

function payloads(frames: RspFrame[]): string[] {
  return frames.filter((f) => f.kind === 'packet').map((f) => (f.kind === 'packet' ? f.payload.toString('latin1') : ''));
}

describe('rsp-framing', () => {
  it('computes the modulo-256 checksum', () => {
    assert.strictEqual(rspChecksum(Buffer.from('OK')), 0x9a);
    assert.strictEqual(rspChecksum(Buffer.from('qSupported')), 0x37);
    assert.strictEqual(rspChecksum(Buffer.alloc(0)), 0);
  });

  it('encodes packets as $payload#cc', () => {
    assert.strictEqual(encodeRspPacket('OK').toString('latin1'), '$OK#9a');
    assert.strictEqual(encodeRspPacket('').toString('latin1'), '$#00');
    assert.strictEqual(encodeRspPacket('g').toString('latin1'), '$g#67');
  });

  it('escapes $, #, } and * with } and xor 0x20', () => {
    assert.strictEqual(escapeRspPayload(Buffer.from('a$b#c}d*e')).toString('latin1'), 'a}\x04b}\x03c}]d}\x0ae');
    const pkt = encodeRspPacket(Buffer.from('a$b#c}d*e'));
    assert.deepStrictEqual(payloads(decodeAll(pkt)), ['a$b#c}d*e']);
  });

  it('expands run lengths: X*n repeats X n-29 more times', () => {
    // '0* ' = '0' + 3 more; ' ' is 32, 32-29 = 3
    const body = Buffer.from('0* 1');
    const pkt = `$${body.toString('latin1')}#${rspChecksum(body).toString(16).padStart(2, '0')}`;
    assert.deepStrictEqual(payloads(decodeAll(pkt)), ['00001']);
    const long = '7'.repeat(300) + 'abc' + 'f'.repeat(17);
    assert.deepStrictEqual(payloads(decodeAll(encodeRspPacket(long, { runLength: true }))), [long]);
    assert.ok(encodeRspPacket(long, { runLength: true }).length < 40);
  });

  it('reports acks, nacks and notifications', () => {
    const frames = decodeAll('+-$OK#9a%Stop:T05#' + rspChecksum(Buffer.from('Stop:T05')).toString(16));
    assert.deepStrictEqual(frames.map((f) => f.kind), ['ack', 'nack', 'packet', 'notification']);
  });

  it('decodes packets split at every possible byte boundary', () => {
    const stream = Buffer.concat([encodeRspPacket('m1000,4'), Buffer.from('+'), encodeRspPacket('1a2b}3c', { runLength: true })]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new RspFrameDecoder();
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut)), ...d.end()];
      assert.deepStrictEqual(payloads(frames), ['m1000,4', '1a2b}3c'], `cut at ${cut}`);
      assert.strictEqual(frames.filter((f) => f.kind === 'error').length, 0);
    }
  });

  describe('malformed input', () => {
    it('rejects a bad checksum', () => {
      const frames = decodeAll('$OK#00');
      assert.strictEqual(frames.length, 1);
      assert.strictEqual(frames[0].kind, 'error');
      assert.match(frames[0].kind === 'error' ? frames[0].message : '', /bad checksum/);
    });
    it('rejects non-hex checksum characters', () => {
      assert.strictEqual(decodeAll('$OK#zz')[0].kind, 'error');
      assert.strictEqual(decodeAll('$OK#9z')[0].kind, 'error');
    });
    it('reports bytes outside packets as garbage', () => {
      const frames = decodeAll('hello$OK#9a');
      assert.deepStrictEqual(frames.map((f) => f.kind), ['error', 'packet']);
    });
    it('reports a truncated packet at end of stream', () => {
      const d = new RspFrameDecoder();
      assert.deepStrictEqual(d.push(Buffer.from('$m1000,')), []);
      assert.ok(d.midPacket);
      const end = d.end();
      assert.strictEqual(end.length, 1);
      assert.match(end[0].kind === 'error' ? end[0].message : '', /middle of a packet/);
    });
    it('reports a packet restarted before it ended, then decodes the next one', () => {
      const frames = decodeAll('$abc$OK#9a');
      assert.deepStrictEqual(frames.map((f) => f.kind), ['error', 'packet']);
      assert.deepStrictEqual(payloads(frames), ['OK']);
    });
    it('refuses enormous packets without holding them', () => {
      const d = new RspFrameDecoder({ maxRawLength: 1000, maxDecodedLength: 4000 });
      const frames = d.push(Buffer.concat([Buffer.from('$'), Buffer.alloc(5000, 0x61)]));
      assert.strictEqual(frames[0].kind, 'error');
      assert.match(frames[0].kind === 'error' ? frames[0].message : '', /longer than 1000/);
    });
    it('refuses run lengths that expand past the decoded limit', () => {
      const body = Buffer.from('a*~'.repeat(100));
      const r = decodeRspBody(body, 1000);
      assert.strictEqual(typeof r, 'string');
    });
    it('refuses a run-length marker with nothing to repeat or no count, and a dangling escape', () => {
      assert.strictEqual(typeof decodeRspBody(Buffer.from('*#'), 100), 'string');
      assert.strictEqual(typeof decodeRspBody(Buffer.from('a*'), 100), 'string');
      assert.strictEqual(typeof decodeRspBody(Buffer.from('a*\x05'), 100), 'string');
      assert.strictEqual(typeof decodeRspBody(Buffer.from('ab}'), 100), 'string');
    });
  });

  it('fuzz: 120,000 seeded inputs never throw, and valid packets always round-trip', function () {
    this.timeout(60000);
    const rng = new SeededRandom(0x5eed1234);
    const alphabet = Buffer.from('$#}*+-%0123456789abcdefOKET:;,\x03 \x7f\xff');
    let packetsChecked = 0;
    for (let i = 0; i < 120000; i++) {
      const mode = rng.below(4);
      let input: Buffer;
      let expected: string | undefined;
      if (mode === 0) {
        input = rng.bytes(rng.below(64));
      } else if (mode === 1) {
        const n = rng.below(48);
        input = Buffer.alloc(n);
        for (let k = 0; k < n; k++) input[k] = alphabet[rng.below(alphabet.length)];
      } else {
        const payload = rng.bytes(rng.below(80));
        if (rng.below(2)) payload.fill(payload[0] ?? 0x30, 0, Math.min(payload.length, 40));
        const pkt = encodeRspPacket(payload, { runLength: rng.below(2) === 1 });
        if (mode === 2) {
          input = pkt;
          expected = payload.toString('latin1');
        } else {
          // mutate one byte, truncate or duplicate
          input = Buffer.from(pkt);
          const op = rng.below(3);
          if (op === 0 && input.length) input[rng.below(input.length)] ^= 1 << rng.below(8);
          else if (op === 1) input = input.subarray(0, rng.below(input.length + 1));
          else input = Buffer.concat([input, input.subarray(0, rng.below(input.length + 1))]);
        }
      }
      const d = new RspFrameDecoder({ maxRawLength: 4096, maxDecodedLength: 16384 });
      const frames: RspFrame[] = [];
      let at = 0;
      while (at < input.length) {
        const step = 1 + rng.below(16);
        frames.push(...d.push(input.subarray(at, at + step)));
        at += step;
      }
      frames.push(...d.end());
      for (const f of frames) {
        assert.ok(['ack', 'nack', 'packet', 'notification', 'error'].includes(f.kind));
        if (f.kind === 'packet' || f.kind === 'notification') assert.ok(f.payload.length <= 16384);
      }
      if (expected !== undefined) {
        assert.deepStrictEqual(payloads(frames), [expected], `input ${i}`);
        assert.strictEqual(frames.length, 1, `input ${i}`);
        packetsChecked++;
      }
    }
    assert.ok(packetsChecked > 20000);
  });
});
