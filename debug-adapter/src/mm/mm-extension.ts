// The memory manager plugged into the debug session (session/session-extension.ts): custom
// requests (mmscope/snapshot, translate, chain, console), a "Memory manager" scope, the debug
// console's vtop/chain/chains/pd, and a snapshotReady event at every stop. Snapshots are built
// lazily, once per stop; while the guest runs they come from the shared RAM file when the
// session has one (marked live: they may catch the guest mid-update).

import type { SessionExtension } from '../session/session-extension';
import type { Target, TargetStop } from '../session/target';
import type { FrameContext, InspectScope, InspectVariable } from '../inspect/target-access';
import { MmService } from './mm-service';
import { ControlRegisters } from './snapshot';
import { MM_REQUESTS, MmRequest, SNAPSHOT_EVENT, handleMmRequest, mmScopeVariables, snapshotEventBody } from './mm-requests';

/** Sends a custom DAP event (the session supplies it). */
export type EventSink = (event: string, body: unknown) => void;

export const MM_SCOPE_REFERENCE_OFFSET = 1;

export class MmSessionExtension implements SessionExtension {
  readonly commands: readonly string[] = MM_REQUESTS;
  readonly service: MmService;
  private stopIndex = 0;
  private liveIndex = 0;
  private stopped = false;
  private lastRegisters: ControlRegisters = { cr0: 0x80010011, cr3: 0, cr4: 0x10 };

  constructor(private readonly target: Target, private readonly referenceBase: number, private readonly emit?: EventSink) {
    this.service = new MmService(target.symbols, {
      readPhys: (address, length) => target.bridge.memory.readPhys(address, length),
      readControlRegisters: async () => {
        if (!this.stopped) return this.lastRegisters; // while running, CR3/CR4 of the last stop (the KPD never moves)
        const r = await target.readRegisters();
        this.lastRegisters = { cr0: r.get('cr0') ?? 0, cr3: r.get('cr3') ?? 0, cr4: r.get('cr4') ?? 0 };
        return this.lastRegisters;
      },
    });
  }

  /** The key of the snapshot to serve now: the stop, or a fresh live one while running. */
  private key(): number {
    if (this.stopped) return this.stopIndex;
    if (!this.target.bridge.memory.tiers.some((t) => t.name === 'ram-file')) {
      throw new Error('the guest is running and this session has no shared RAM file; pause it to see its memory manager');
    }
    return -++this.liveIndex;
  }

  async customRequest(command: string, args: unknown): Promise<unknown> {
    const body = await handleMmRequest(this.service, this.key(), command as MmRequest, (args ?? {}) as Record<string, unknown>);
    if (command === 'mmscope/snapshot' && !this.stopped) return { ...(body as object), live: true };
    return body;
  }

  async scopes(_frame: FrameContext): Promise<InspectScope[]> {
    return [{ name: 'Memory manager', presentationHint: 'mmscope', variablesReference: this.referenceBase + MM_SCOPE_REFERENCE_OFFSET, expensive: false }];
  }

  async variables(reference: number): Promise<InspectVariable[] | undefined> {
    if (reference !== this.referenceBase + MM_SCOPE_REFERENCE_OFFSET) return undefined;
    const snap = await this.service.snapshot(this.stopIndex);
    return mmScopeVariables(snap).map((v) => ({ name: v.name, value: v.value, variablesReference: 0 }));
  }

  console(line: string): Promise<string | undefined> {
    return this.service.console(this.stopIndex, line);
  }

  onStop(_stop: TargetStop): void {
    this.stopped = true;
    this.stopIndex++;
    if (!this.emit) return;
    const stop = this.stopIndex;
    this.service.snapshot(stop).then(
      (snap) => {
        if (stop === this.stopIndex) this.emit?.(SNAPSHOT_EVENT, snapshotEventBody(snap));
      },
      () => undefined,
    );
  }

  onResume(): void {
    this.stopped = false;
  }
}

/** Builds the extension when the kernel is an mmscope guest (it exports mm_debug_info). */
export function mmExtensionFactory(referenceBase: number, emit?: EventSink): (target: Target) => SessionExtension | undefined {
  return (target) => {
    const ext = new MmSessionExtension(target, referenceBase, emit);
    return ext.service.available ? ext : undefined;
  };
}
