// Binary search over lists sorted by address, shared by every address-to-symbol lookup.

/** How many entries of `list` (sorted by ascending `key`) have `key(entry) <= address`. */
export function countAtOrBelowBy<T>(list: readonly T[], key: (entry: T) => number, address: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(list[mid]) <= address) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many entries of `list` (sorted by ascending `value`) have `value <= address`. */
export function countAtOrBelow(list: readonly { readonly value: number }[], address: number): number {
  return countAtOrBelowBy(list, (e) => e.value, address);
}
