// What the "translate an address" input box accepts: 0xc0100000, 3221225472,
// 0xffffffff81000000 (any 64-bit value, kept exact), `_` or ``` ` ``` digit separators
// (0xffff_8880_0000_0000, 0xffffffff`81000000 as WinDbg writes them), or pid:address.

import type { JsonAddress } from '../../contract/snapshot-document';

export function parseAddressInput(text: string): { address: JsonAddress; pid?: number } | undefined {
  const m = /^\s*(?:(\d+)\s*:\s*)?(0[xX][0-9a-fA-F_`]+|\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const digits = m[2].replace(/[_`]/g, '');
  if (/^0[xX]$/.test(digits) || digits.length > 20) return undefined;
  const address = BigInt(digits);
  if (address >= 1n << 64n) return undefined;
  return { address: address <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(address) : `0x${address.toString(16)}`, ...(m[1] !== undefined ? { pid: Number(m[1]) } : {}) };
}
