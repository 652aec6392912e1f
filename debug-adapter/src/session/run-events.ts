// The typed events of the runtime (the run-control Target) that the DAP session translates:
// why and where the guest stopped, how the session with QEMU ended, the guest's threads.

import type { UserBreakpoint } from './breakpoint-table';

export type StopReason = 'entry' | 'breakpoint' | 'data breakpoint' | 'step' | 'pause' | 'exception';

/** Why and where the guest stopped. */
export interface TargetStop {
  reason: StopReason;
  threadId: number;
  pc: number;
  /** The user breakpoints that caused the stop (for breakpoint and data breakpoint stops). */
  breakpoints: UserBreakpoint[];
  /** A short text for the UI (the watched address, the signal). */
  description?: string;
  /** For exception stops: the short label of what was caught (the StoppedEvent's text). */
  text?: string;
  /** For an internal-breakpoint stop an extension asked for: what to show instead. */
  exception?: { description: string; text?: string };
}

/** How the session with QEMU ended. */
export interface TargetExit {
  /** QEMU's exit status when it exited by itself. */
  exitCode?: number;
  /** One sentence for the user. */
  message: string;
  /** True when QEMU died or the connection broke (as opposed to the guest exiting). */
  unexpected: boolean;
}

export interface GuestThread {
  id: number;
  name: string;
}

export interface TargetEvents {
  stopped: [TargetStop];
  /** restart() reset the guest (hooks: per-run state of extensions). */
  reset: [];
  /** The guest's serial output. */
  output: [string];
  /** A line for the debug console (logpoints, conditions that could not be evaluated). */
  console: [string];
  exited: [TargetExit];
  /** The user now looks at another vCPU (its registers and address space): views follow it. */
  threadSelected: [number];
}
