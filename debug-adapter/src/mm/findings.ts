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
  | 'process-list-broken';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** One sentence a person can read. */
  readonly message: string;
  readonly chain?: number;
  readonly otherChain?: number;
  readonly block?: number;
  readonly virtual?: number;
  readonly pid?: number;
  /** Allocation site of the chain involved, when known. */
  readonly site?: SourceSite;
}

export interface SourceSite {
  readonly address: number;
  readonly function?: string;
  readonly file?: string;
  readonly line?: number;
}
