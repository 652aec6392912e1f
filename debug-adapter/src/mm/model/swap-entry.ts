// Our guest's swapped-out PTE (guest/include/paging.h, docs/chain-table.md "Swapped-out blocks"):
// not present (bit 0 clear), bit 1 set as the mark, the page within the block in bits 2..3, the
// slot in bits 12..31. Only for our guest: any other kernel's not-present entry stays "not present".

export const PTE_SWAP_MARK = 0x2;
export const PTE_SWAP_PAGE_SHIFT = 2;
export const PTE_SWAP_SLOT_SHIFT = 12;

/** The slot and page of a swapped-out PTE, or undefined when `entry` is not one. */
export function swappedEntry(entry: number, mark = PTE_SWAP_MARK, pageShift = PTE_SWAP_PAGE_SHIFT, slotShift = PTE_SWAP_SLOT_SHIFT): { slot: number; page: number } | undefined {
  const e = entry >>> 0;
  if (e & 1 || !(e & mark)) return undefined;
  return { slot: e >>> slotShift, page: (e >>> pageShift) & 3 };
}

/** How every view words a swapped-out page. */
export function swappedText(slot: number, entry: number): string {
  return `swapped out, slot ${slot} (PTE 0x${(entry >>> 0).toString(16).padStart(8, '0')})`;
}
