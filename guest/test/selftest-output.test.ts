// Unit tests of the console decoders in selftest-output.ts (pure functions, no QEMU).

import * as assert from 'assert';
import { parseSelftest, parseMmBlocks, parseHeartbeat, lastNonBlankLine } from './selftest-output';

describe('selftest console decoders', function () {
  it('decodes plan, ok and FAIL lines, summary and faults', function () {
    const report = parseSelftest([
      'mm: 4096 blocks of 16 KiB, 4000 free',
      'selftest: plan 3',
      'test boot.multiboot_memory ... ok',
      'test chain.alloc_free ... FAIL: chain 3 still allocated\r',
      'test chain.bare ... FAIL',
      'test broken line',
      'FAULT: #PF at 0xc0101234 cr2=0x0',
      'selftest: 1 passed, 2 failed',
    ]);
    assert.strictEqual(report.plan, 3);
    assert.deepStrictEqual(report.cases.map((c) => [c.name, c.ok, c.reason]), [
      ['boot.multiboot_memory', true, ''],
      ['chain.alloc_free', false, 'chain 3 still allocated'],
      ['chain.bare', false, ''],
    ]);
    assert.deepStrictEqual(report.malformed, ['test broken line']);
    assert.deepStrictEqual(report.faults, ['FAULT: #PF at 0xc0101234 cr2=0x0']);
    assert.deepStrictEqual(report.summary, { passed: 1, failed: 2 });
  });

  it('reports missing plan and summary as null', function () {
    const report = parseSelftest(['hello', 'test a.b ... ok']);
    assert.strictEqual(report.plan, null);
    assert.strictEqual(report.summary, null);
    assert.strictEqual(report.cases.length, 1);
  });

  it('decodes the mm blocks line and heartbeats', function () {
    assert.deepStrictEqual(parseMmBlocks(['x', 'mm: 1024 blocks of 16 KiB, 900 free']), { blocks: 1024, free: 900 });
    assert.deepStrictEqual(parseMmBlocks(['mm: 4088 blocks of 16 KiB, 3991 free, table at 0x00170000']),
      { blocks: 4088, free: 3991 });
    assert.strictEqual(parseMmBlocks(['mm: lots of blocks']), null);
    assert.strictEqual(parseMmBlocks(['mm: 12 blocks of 16 KiB, 3 freed']), null);
    assert.strictEqual(parseHeartbeat('heartbeat 17 free=12 chains=3'), 17);
    assert.strictEqual(parseHeartbeat('heartbeat 4'), 4);
    assert.strictEqual(parseHeartbeat('heartbeats 4'), null);
    assert.strictEqual(lastNonBlankLine(['a', 'b ', '', '  ']), 'b');
  });
});
