// The seam between the views and where memory-manager data comes from. Today the source is the
// debug session's custom requests (debug-session-source.ts); the live feed of the adapter can
// implement the same interface later without the views or the language server changing.

import { ViewSnapshot } from './view-snapshot';
import type { JsonAddress } from '../../contract/snapshot-document';
import type { ChangesView } from '../../contract/guest-document';
import type { SnapshotReadyBody } from '../../contract/dap';
import type { Translation } from '../../contract/translation';

export interface SnapshotPair {
  readonly snapshot: ViewSnapshot;
  /** The adapter's one diff of this snapshot (what its snapshotReady event carried). */
  readonly changes?: ChangesView;
}

/** What a debugger evaluation of an expression gave, for the hover. */
export interface EvaluatedValue {
  readonly expression: string;
  readonly value: string;
  readonly type?: string;
  /** The address the value denotes, when it is a pointer or an address (exact: hex above 2^53). */
  readonly pointer?: JsonAddress;
}

export interface MmDataSource {
  /** The snapshot at the current stop. */
  snapshot(): Promise<SnapshotPair>;
  /**
   * Walks `address` (exact: a number below 2^53, else hex) in `pid`'s address space or the one
   * whose top-level table `cr3` names, default the current one.
   */
  translate(address: JsonAddress, pid?: number, cr3?: JsonAddress): Promise<Translation>;
  /** Adds the address space `cr3` names to the session's known spaces ('named'); its SpaceJson id. */
  openSpace?(cr3: JsonAddress): Promise<string>;
  /** Evaluates a C expression in the selected stack frame; undefined when it cannot. */
  evaluate(expression: string): Promise<EvaluatedValue | undefined>;
}

/** The body of the adapter's mmscope/snapshotReady event (contract/dap.ts), with the views' document type. */
export type StopSummary = Omit<SnapshotReadyBody, 'snapshot'> & { readonly snapshot?: ViewSnapshot };

/**
 * Reads the first address out of a debugger's value text: "0xc0123456", "(char *) 0x1000 <buf>",
 * "4096", "0xffffffff81000000". Exact for any 64-bit value: a number below 2^53, else `0x` hex.
 */
export function pointerOf(value: string, type: string | undefined, memoryReference?: string): JsonAddress | undefined {
  const parse = (t: string): JsonAddress | undefined => {
    const m = /^\s*(?:\([^)]*\)\s*)?(0x[0-9a-fA-F]{1,16}|\d{1,20})\b/.exec(t);
    if (!m) return undefined;
    const n = BigInt(m[1]);
    if (n >= 1n << 64n) return undefined;
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : `0x${n.toString(16)}`;
  };
  if (memoryReference) {
    const n = parse(memoryReference);
    if (n !== undefined) return n;
  }
  const isPointer = (type !== undefined && /\*\s*$|\[\d*\]\s*$/.test(type)) || /^\s*(\([^)]*\*\)\s*)?0x[0-9a-fA-F]+/.test(value);
  return isPointer ? parse(value) : undefined;
}
