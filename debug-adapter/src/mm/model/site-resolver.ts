// Turns a caller address from an owner record into a source site (function, file, line)
// through the kernel's symbols. A return address points after the call, so the line is looked
// up at address - 1, as debuggers do for caller frames.

import * as path from 'path';
import { DebugSymbols } from '../../symbols';
import { SourceSite } from './findings';

export function makeSiteResolver(symbols: DebugSymbols): (address: number) => SourceSite | undefined {
  const cache = new Map<number, SourceSite | undefined>();
  return (address: number) => {
    if (!cache.has(address)) {
      // The call's last byte (higher-half 64-bit addresses are negative numbers: see qemu-bridge's address.ts).
      const at = address !== 0 ? address - 1 : address;
      const fn = symbols.functionAt(at)?.name ?? symbols.symbolAt(at)?.name;
      const loc = symbols.hasDebugInfo ? symbols.addressToLine(at) : undefined;
      cache.set(address, fn || loc ? { address, function: fn, file: loc?.file, line: loc?.line } : undefined);
    }
    return cache.get(address);
  };
}

/** "demo_worker at demo.c:57", or the hex address when nothing is known. */
export function formatSite(site: SourceSite | undefined, address?: number): string {
  if (!site) return address !== undefined ? `0x${address.toString(16)}` : 'an unknown caller';
  const where = site.file ? ` at ${path.basename(site.file)}:${site.line}` : '';
  return `${site.function ?? `0x${site.address.toString(16)}`}${where}`;
}
