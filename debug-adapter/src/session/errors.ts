// The errors a user of the debug session can meet that qemu-bridge and the symbols library do not
// already name. Each message is one sentence: what happened and what to do about it.

/** Base class of the session's own errors. */
export class SessionError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A launch or attach configuration is missing a field or has one of the wrong type. */
export class ConfigurationError extends SessionError {
  constructor(detail: string) {
    super('BAD_CONFIGURATION', `The debug configuration is not valid: ${detail}; fix it in launch.json.`);
  }
}

/** The kernel file exists but is not an ELF32 i386 image. */
export class KernelFormatError extends SessionError {
  constructor(kernel: string, detail: string) {
    super('KERNEL_NOT_ELF', `The kernel ${kernel} cannot be read as an ELF32 i386 image (${detail}); point "kernel" at the linked kernel ELF, not a raw binary.`);
  }
}

/** A request that needs a stopped guest arrived while it runs. */
export class TargetRunningError extends SessionError {
  constructor(what: string) {
    super('TARGET_RUNNING', `Cannot ${what} while the guest is running; pause it first.`);
  }
}

/** QEMU (or its gdbstub) went away while the session was using it. */
export class TargetGoneError extends SessionError {
  constructor(detail: string) {
    super('TARGET_GONE', `QEMU ${detail}, so the debug session ended; check QEMU's output above and start the session again.`);
  }
}

/** A breakpoint that cannot be placed (no code at or after the line, unknown function, bad address). */
export class BreakpointError extends SessionError {
  constructor(detail: string) {
    super('BREAKPOINT_UNRESOLVED', detail);
  }
}

/** The warning shown when the kernel has no DWARF: the session still works at symbol level. */
export function noDebugInfoWarning(kernel: string): string {
  return `The kernel ${kernel} has no debug information, so only function symbols and instructions are shown; build it with -g for source-level debugging.`;
}

/** One sentence for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
