// The fault injections of guest/kernel/inject.c (`demo inject=KIND`) and the findings each must
// produce, shared by the stopped and the live injection tests.

import { FindingKind } from '../src/mm/model/findings';

/** Injected kind → findings it must produce (the first is required; all must be among these). */
export const INJECTED_CASES: ReadonlyArray<readonly [string, readonly FindingKind[]]> = [
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
