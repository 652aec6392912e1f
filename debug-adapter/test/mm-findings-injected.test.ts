// Every finding kind appears when the guest breaks the matching structure on purpose
// (`demo inject=KIND`, guest/kernel/inject.c), and only findings explained by it appear.

import * as assert from 'assert';
import { INJECTED_CASES } from './injected-cases';
import { bootAndStop } from './guest-snapshot';

describe('mm findings on deliberately broken guests', function () {
  this.timeout(90_000);
  for (const [kind, expected] of INJECTED_CASES) {
    it(`reports ${expected[0]} after inject=${kind}`, async function () {
      const guest = await bootAndStop(`demo inject=${kind}`, /heartbeat 1 t=\d+ms injected=/, 32);
      try {
        const snap = await guest.snapshot();
        const kinds = snap.findings.map((f) => f.kind);
        assert.ok(kinds.includes(expected[0]), `no ${expected[0]} finding; got ${JSON.stringify(snap.findings.map((f) => f.message))}`);
        const unexplained = snap.findings.filter((f) => !expected.includes(f.kind));
        assert.deepStrictEqual(unexplained.map((f) => f.message), [], 'findings the injection does not explain');
        assert.ok(snap.counters.faultInjected > 0, 'the guest says it injected a fault');
      } finally {
        await guest.close();
      }
    });
  }
});
