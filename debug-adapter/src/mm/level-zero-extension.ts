// Level 0 in the debug session: what mmscope offers on a kernel it knows nothing of (no
// mm_debug_info): `mmscope/translate` and the debug console's `vtop` in the current address space
// (the one CR3 names, in whatever paging mode the CPU is in), and where a pointer lands in a
// debug hover. The memory-manager views, scopes and allocation breakpoints need the descriptor.

import type { SessionExtension } from '../session/session-extension';
import { MmService } from './mm-service';
import { formatTranslation, formatTranslationNote } from './snapshot-text';
import { addressArgument, MmRequestError } from './mm-requests';

/** The pointer a debug hover's value denotes (data pointers only), or undefined. */
export function hoveredPointer(value: { readonly type?: string; readonly memoryReference?: string }): bigint | undefined {
  if (!value.type || !value.memoryReference) return undefined;
  // Pointers to data only: not function pointers, and not the address of a non-pointer variable.
  if (!/\*\s*$/.test(value.type) || /\(\s*\*\s*\)/.test(value.type)) return undefined;
  if (!/^\s*(0[xX][0-9a-fA-F]+|\d+)\s*$/.test(value.memoryReference)) return undefined;
  const address = BigInt(value.memoryReference.trim());
  return address === 0n ? undefined : address;
}

export class LevelZeroSessionExtension implements SessionExtension {
  readonly commands: readonly string[] = ['mmscope/translate'];
  private stopIndex = 0;
  private stopped = false;

  constructor(private readonly service: MmService) {}

  async customRequest(command: string, args: unknown): Promise<unknown> {
    if (command !== 'mmscope/translate') throw new MmRequestError(`${command} needs a kernel with mmscope's mm_debug_info descriptor`);
    if (!this.stopped) throw new MmRequestError('the guest is running; pause it to translate an address');
    const a = (args ?? {}) as Record<string, unknown>;
    if (a.pid !== undefined) throw new MmRequestError('this kernel has no mm_debug_info, so only the current address space is known; translate without a pid');
    return this.service.translate(this.stopIndex, addressArgument(a.address));
  }

  async hoverNote(value: { readonly result: string; readonly type?: string; readonly memoryReference?: string }): Promise<string | undefined> {
    const address = hoveredPointer(value);
    if (!this.stopped || address === undefined) return undefined;
    return formatTranslationNote(await this.service.translate(this.stopIndex, address));
  }

  async console(line: string): Promise<string | undefined> {
    const [cmd, arg, extra] = line.trim().split(/\s+/);
    if (cmd !== 'vtop') return undefined;
    if (!arg) return 'usage: vtop ADDR';
    if (extra !== undefined) return 'vtop ADDR: this kernel has no mm_debug_info, so only the current address space is known (no pid)';
    return formatTranslation(await this.service.translate(this.stopIndex, addressArgument(arg, 'vtop needs an address that'))).trimEnd();
  }

  onStop(): void {
    this.stopped = true;
    this.stopIndex++;
  }

  onThreadSelected(): void {
    this.stopIndex++;
  }

  onResume(): void {
    this.stopped = false;
  }
}

