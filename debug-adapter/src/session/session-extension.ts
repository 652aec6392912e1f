// The place where later features plug into the debug session without touching it: custom DAP
// requests (`mmscope/snapshot`, ...), extra scopes (a "Memory manager" scope), debug-console
// commands, and stop/resume notifications. An extension sees the stopped target through the
// same plain shapes as the inspector; it never sees DAP objects.

import type { FrameContext, InspectScope, InspectVariable } from '../inspect/target-access';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Target, TargetStop } from './target';

/** Variables references at or above this value belong to extensions (the Inspector's are below). */
export const EXTENSION_REFERENCE_BASE = 1 << 24;

export interface SessionExtension {
  /** Custom request commands this extension answers, e.g. `mmscope/snapshot`. */
  readonly commands: readonly string[];
  /** Answers one of `commands`; the result becomes the response body. Throw an Error for a failure. */
  customRequest?(command: string, args: unknown): Promise<unknown>;
  /** Scopes added after the inspector's (Locals, Registers, Globals) for a frame. */
  scopes?(frame: FrameContext): Promise<InspectScope[]>;
  /** Children of a reference this extension handed out (>= EXTENSION_REFERENCE_BASE); undefined if not its own. */
  variables?(reference: number, start?: number, count?: number): Promise<InspectVariable[] | undefined>;
  /** Answers a debug-console line if it is one of its commands; undefined otherwise. */
  console?(line: string): Promise<string | undefined>;
  /** Exception-breakpoint filters this extension offers (shown in the Breakpoints view). */
  readonly exceptionFilters?: readonly ExceptionFilter[];
  /**
   * The user's choice of filters (with conditions). Returns one verdict per option, in order.
   * The extension places its code breakpoints through `table.setInternalBreakpoints`.
   */
  setExceptionFilters?(options: readonly { filterId: string; condition?: string }[]): Promise<{ verified: boolean; message?: string }[]>;
  /**
   * Decides a hit of one of its internal breakpoints: undefined to resume silently, or the stop
   * to report (reason "exception" with a one-sentence description).
   */
  decideInternalHit?(pc: number): Promise<{ description: string; text?: string } | undefined>;
  /**
   * A short note appended to a hover's value (the editor's debug hover), e.g. where a pointer
   * lands in physical memory; undefined to add nothing. Called only while stopped.
   */
  hoverNote?(value: { readonly result: string; readonly type?: string; readonly memoryReference?: string }): Promise<string | undefined>;
  /** The body of the DAP exceptionInfo request when the current stop is this extension's exception. */
  exceptionInfo?(): Promise<DebugProtocol.ExceptionInfoResponse['body'] | undefined>;
  /** Called on every reported stop (e.g. to build a per-stop snapshot lazily). */
  onStop?(stop: TargetStop): void;
  /** Called when the user looks at another vCPU while stopped (its registers and CR3 now answer reads). */
  onThreadSelected?(thread: number): void;
    /** Called before the guest resumes: drop per-stop state and references. */
  onResume?(): void;
}

export interface ExceptionFilter {
  readonly filter: string;
  readonly label: string;
  readonly description?: string;
  readonly supportsCondition?: boolean;
  /** Whether the filter is on until the client says otherwise. */
  readonly default?: boolean;
  readonly conditionDescription?: string;
}

/** The launch or attach request's arguments as the client sent them (e.g. `memoryModel`, `cwd`). */
export type StartArguments = Readonly<Record<string, unknown>>;

/** Builds the extensions for a session once its target exists. */
export type SessionExtensionFactory = (target: Target, start?: StartArguments) => SessionExtension | undefined;
