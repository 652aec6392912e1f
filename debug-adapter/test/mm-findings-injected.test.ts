// Every finding kind appears when the guest breaks the matching structure on purpose
// (`demo inject=KIND`, guest/kernel/inject.c), and only findings explained by it appear.

import * as assert from 'assert';
import { FindingKind } from '../src/mm/model/findings';
import { bootAndStop } from './guest-snapshot';

/** Injected kind → findings it must produce (the first is required; all must be among these). */
const CASES: ReadonlyArray<readonly [string, readonly FindingKind[]]> = [
  ['free-block-mapped', ['free-block-mapped']],
  ['block-in-two-chains', ['block-in-two-chains']],
  ['chain-cycle', ['chain-cycle']],
  ['dangling-link', ['dangling-link']],
  ['contiguous-not-contiguous', ['contiguous-not-contiguous']],
  ['contiguous-not-frozen', ['contiguous-not-frozen']],
  ['flags-on-body', ['flags-on-body']],
  ['stale-upd', ['stale-upd']],
  ['user-mapping-above-limit', ['user-mapping-above-limit']],
  ['kernel-page-user-writable', ['kernel-page-user-writable']],
  ['handle-to-freed-chain', ['handle-to-freed-chain']],
  ['leaked-chain', ['leaked-chain']],
  ['orphan-block', ['orphan-block']],
  ['corrupt-entry', ['corrupt-entry']],
  ['process-list-broken', ['process-list-broken']],
  ['swapped-frozen-chain', ['swapped-frozen-chain']],
  ['swap-slot-shared', ['swap-slot-shared']],
  ['swap-slot-free-in-use', ['swap-slot-free-in-use']],
  ['mcb-chain-broken', ['mcb-chain-broken']],
  ['v86-foreign-memory', ['v86-foreign-memory']],
];

describe('mm findings on deliberately broken guests', function () {
  this.timeout(90_000);
  for (const [kind, expected] of CASES) {
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
