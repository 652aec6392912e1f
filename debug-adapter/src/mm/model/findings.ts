// Findings: inconsistencies the model finds in the guest's memory manager, each with the
// places involved so the UI can reveal them.

export type FindingKind =
  | 'corrupt-entry'
  | 'flags-on-body'
  | 'chain-cycle'
  | 'dangling-link'
  | 'block-in-two-chains'
  | 'orphan-block'
  | 'contiguous-not-contiguous'
  | 'contiguous-not-frozen'
  | 'free-block-mapped'
  | 'stale-upd'
  | 'user-mapping-above-limit'
  | 'kernel-page-user-writable'
  | 'handle-to-freed-chain'
  | 'leaked-chain'
  | 'unreadable-page-table'
  | 'reserved-bits'
  | 'process-list-broken'
  // Our guest's swapping (docs/snapshot-schema.md): a frozen or contiguous chain with blocks out,
  // a slot held twice (two links, or PTEs of two different blocks), a slot free while in use.
  | 'swapped-frozen-chain'
  | 'swap-slot-shared'
  | 'swap-slot-free-in-use'
  // DOS tasks (docs/snapshot-schema.md): the DOS arena's MCB chain, a DOS task's first megabyte.
  | 'mcb-chain-broken'
  | 'v86-foreign-memory'
  // Level 0 and level 1 (docs/snapshot-schema.md): the snapshot document's generic findings, also on our guest.
  | 'writable-executable'
  | 'user-writable-kernel'
  | 'writable-code-alias'
  | 'user-maps-page-table'
  | 'mapping-outside-ram'
  | 'null-page-mapped'
  | 'walk-limit'
  | 'free-frame-mapped'
  | 'frame-leaked';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** One sentence a person can read. */
  readonly message: string;
  readonly chain?: number;
  readonly otherChain?: number;
  readonly block?: number;
  /** Swap slot involved (swap findings). */
  readonly slot?: number;
  readonly virtual?: number;
  readonly pid?: number;
  /** Physical address involved (level-0 findings). */
  readonly physical?: number;
  /** The snapshot document's space id the finding is about (level-0 findings). */
  readonly space?: string;
  /** Allocation site of the chain involved, when known. */
  readonly site?: SourceSite;
}

export interface SourceSite {
  readonly address: number;
  readonly function?: string;
  readonly file?: string;
  readonly line?: number;
}
