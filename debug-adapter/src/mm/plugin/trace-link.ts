// Joins a session's tracing extension to its memory-manager extension: the documents carry the
// tracing section (MmServiceOptions.tracing), every CR3 value a traced mov loaded becomes a
// 'traced' address space (MmSessionExtension.addTracedSpace), and traced allocations get the pid
// of the process whose page directory was loaded when they were made (from the last document's
// processes). One link per debug session; the two factories it hands out share it.

import type { SessionExtension, SessionExtensionFactory, StartArguments } from '../../session/session-extension';
import type { Target } from '../../session/target';
import type { TracingDescription } from '../model/described-state';
import type { MmExtensionKnowledge, MmSessionExtension } from './mm-extension';
import type { ProcessDocJson } from '../model/snapshot-document';
import { TraceSessionExtension, traceConfiguration } from './trace-extension';

export class TracingLink {
  /** `tracingOf`: the description's tracing part for a session's start arguments (the loaded `memoryModel`). */
  constructor(private readonly tracingOf: (target: Target, start: StartArguments | undefined) => TracingDescription | undefined) {}

  private trace: TraceSessionExtension | undefined;
  private mm: MmSessionExtension | undefined;
  /** Processes of the last document, by top-level table. */
  private processes = new Map<bigint, number>();

  /** The memory-manager extension's knowledge: the tracing section for every document. */
  knowledge(): MmExtensionKnowledge {
    return { tracing: () => this.trace?.tracing() };
  }

  /** mmExtensionFactory's onCreated. */
  attachMemoryManager(ext: MmSessionExtension): void {
    this.mm = ext;
  }

  /** The tracing extension's factory (before the memory manager's in the session's list: its stop handler runs first). */
  factory(): SessionExtensionFactory {
    return (target, start): SessionExtension | undefined => {
      const config = traceConfiguration(start ?? {}, this.tracingOf(target, start));
      if (config.tracing === undefined && !config.traceAddressSpaces && config.errors.length === 0) return undefined;
      const ext = new TraceSessionExtension(target, config);
      if (!ext.active) return undefined;
      this.trace = ext;
      ext.pidOf = (cr3) => this.processes.get(cr3 & ~0xfffn);
      ext.stopNumber = () => this.mm?.stop ?? 0;
      ext.physicalOf = async (address) => {
        const mm = this.mm;
        const physical = mm ? (await mm.service.translate(mm.stop, address)).physical : undefined;
        return physical === undefined ? undefined : BigInt(physical);
      };
      ext.onTracedSpaces = (spaces) => {
        const mm = this.mm;
        if (!mm) return;
        for (const s of spaces) mm.addTracedSpace(s.cr3, s.lastSeenStop);
      };
      ext.onStopped = () => {
        // The stop's document (built by the memory manager now) names the processes and their directories: the pids of later traced calls.
        const mm = this.mm;
        if (mm) setImmediate(() => mm.service.snapshot(mm.stop).then((snap) => this.noteProcesses(snap.document.processes), () => undefined));
      };
      void ext.start();
      return ext;
    };
  }

  private noteProcesses(processes: readonly ProcessDocJson[]): void {
    const next = new Map<bigint, number>();
    for (const p of processes) if (p.directory !== null) next.set(BigInt(p.directory) & ~0xfffn, p.pid);
    this.processes = next;
  }
}
