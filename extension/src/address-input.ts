// What the "translate an address" input box accepts: 0xc0100000, 3221225472, or pid:address.

export function parseAddressInput(text: string): { address: number; pid?: number } | undefined {
  const m = /^\s*(?:(\d+)\s*:\s*)?(0[xX][0-9a-fA-F]{1,8}|\d{1,10})\s*$/.exec(text);
  if (!m) return undefined;
  const address = Number(m[2]);
  if (address > 0xffffffff) return undefined;
  return { address, ...(m[1] !== undefined ? { pid: Number(m[1]) } : {}) };
}
