// Unit tests of the pure `bench` output decoder, on console text written here.

import * as assert from 'assert';
import { parseBench } from './bench-output';

describe('guest bench output decoder', function () {
  it('decodes figure lines, the done line and faults, and ignores info lines', function () {
    const report = parseBench([
      'mm: 16376 blocks of 16 KiB, 16250 free',
      'bench: TSC runs at 2119 MHz against the timer',
      'bench alloc_1block 5719469 ops/s',
      'bench defrag_64mib_time 154.829 ms\r',
      'bench: done',
    ]);
    assert.deepStrictEqual(report.figures.map((f) => [f.name, f.value, f.unit]), [
      ['alloc_1block', 5719469, 'ops/s'],
      ['defrag_64mib_time', 154.829, 'ms'],
    ]);
    assert.strictEqual(report.done, true);
    assert.deepStrictEqual(report.malformed, []);
    assert.deepStrictEqual(report.faults, []);
  });

  it('reports malformed figure lines, a missing done line and FAULT lines', function () {
    const report = parseBench([
      'bench alloc_1block fast ops/s',
      'bench free_1block -3 ops/s',
      'bench map_unmap_1block 12',
      'FAULT: panic: bench: a frozen chain moved',
    ]);
    assert.strictEqual(report.figures.length, 0);
    assert.strictEqual(report.malformed.length, 3);
    assert.strictEqual(report.done, false);
    assert.deepStrictEqual(report.faults, ['FAULT: panic: bench: a frozen chain moved']);
  });
});
