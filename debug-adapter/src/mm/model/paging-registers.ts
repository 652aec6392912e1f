// The registers that select and locate the paging structures of any x86 kernel, exact.

/** The registers that select and locate the paging structures (EFER reads as 0 when absent). */
export interface PagingRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}
