// The errors a user of qemu-bridge can meet. Each carries a stable `code` for programs and a
// message of one sentence saying what happened and what to do about it.

/** Base class of every error qemu-bridge throws on purpose. */
export class BridgeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The qemu-system-i386 binary could not be found or executed. */
export class QemuNotFoundError extends BridgeError {
  constructor(readonly binary: string) {
    super('QEMU_NOT_FOUND', `${binary} was not found; install it with "apt-get install -y --no-install-recommends qemu-system-x86" or pass the binary's path.`);
  }
}

/** The kernel image given to the launcher does not exist. */
export class KernelNotFoundError extends BridgeError {
  /** `remedy`: what the caller's user changes (a launch attribute, a command-line option). */
  constructor(readonly kernelPath: string, remedy = 'build it first or pass another path with --kernel') {
    super('KERNEL_NOT_FOUND', `The kernel file ${kernelPath} does not exist; ${remedy}.`);
  }
}

/** QEMU exited (or never became reachable) while starting. `stderr` is what QEMU printed. */
export class QemuStartupError extends BridgeError {
  constructor(readonly detail: string, readonly stderr: string) {
    super('QEMU_STARTUP_FAILED', `QEMU failed to start: ${detail}${stderr.trim() ? ` (QEMU said: ${firstLines(stderr, 3)})` : ''}; check the arguments and that QEMU runs on its own.`);
  }
}

/** A loopback port asked for explicitly is already taken by another program. */
export class PortInUseError extends BridgeError {
  constructor(readonly port: number) {
    super('PORT_IN_USE', `Port 127.0.0.1:${port} is already in use; choose another port or stop the program that holds it.`);
  }
}

/** Nothing listens at the address we tried to connect to. */
export class ConnectFailedError extends BridgeError {
  constructor(readonly what: string, readonly address: string, reason: string) {
    super('CONNECT_FAILED', `Could not connect to the ${what} at ${address} (${reason}); check that QEMU is running with that endpoint and that no other client holds it.`);
  }
}

/** The peer closed the connection (QEMU exited, was killed, or dropped us). */
export class ConnectionClosedError extends BridgeError {
  constructor(readonly what: string, readonly address: string, during?: string) {
    super('CONNECTION_CLOSED', `The ${what} connection to ${address} closed${during ? ` during ${during}` : ''}; QEMU probably exited, so restart it and attach again.`);
  }
}

/** A request was not answered in time; the connection is closed because its state is unknown. */
export class RequestTimeoutError extends BridgeError {
  constructor(readonly what: string, readonly request: string, readonly timeoutMs: number) {
    super('REQUEST_TIMEOUT', `The ${what} did not answer ${request} within ${timeoutMs} ms, so the connection was closed; check that QEMU is alive and attach again.`);
  }
}

/** The gdbstub sent bytes that are not valid GDB remote protocol. */
export class RspProtocolError extends BridgeError {
  constructor(detail: string) {
    super('RSP_PROTOCOL', `The gdbstub sent invalid data: ${detail}; the connection cannot be trusted, so attach again.`);
  }
}

/** The gdbstub answered a command with an error reply (`Exx`) or an empty "unsupported" reply. */
export class RspCommandError extends BridgeError {
  constructor(readonly request: string, readonly reply: string) {
    super('RSP_COMMAND_FAILED', `The gdbstub refused ${request} with ${reply === '' ? 'an empty reply (unsupported)' : `"${reply}"`}; check the address, length or register number.`);
  }
}

/** A command that needs a stopped guest was issued while the guest runs. */
export class GuestRunningError extends BridgeError {
  constructor(request: string) {
    super('GUEST_RUNNING', `Cannot send ${request} while the guest is running; interrupt it first.`);
  }
}

/** The QMP server sent something that is not a valid QMP message. */
export class QmpProtocolError extends BridgeError {
  constructor(detail: string) {
    super('QMP_PROTOCOL', `QMP sent invalid data: ${detail}; the connection cannot be trusted, so attach again.`);
  }
}

/** A QMP command answered with an error object. */
export class QmpCommandError extends BridgeError {
  constructor(readonly command: string, readonly errorClass: string, readonly description: string) {
    super('QMP_COMMAND_FAILED', `QMP refused "${command}": ${description} (${errorClass}); check the command's arguments.`);
  }
}

/** A virtual address has no present mapping in the page tables walked. */
export class PageNotPresentError extends BridgeError {
  readonly virtualAddress: number;
  readonly entry: number;
  constructor(
    virtual: number | bigint,
    /** 'directory' or 'table' in 32-bit paging; the level (PML5, PML4, PDPT, PD, PT) in the other modes. */
    readonly level: string,
    readonly entryAddress: number,
    entry: number | bigint,
  ) {
    const what = level === 'directory' || level === 'table' ? `page-${level}` : level;
    super('PAGE_NOT_PRESENT', `Virtual address 0x${BigInt(virtual).toString(16).padStart(8, '0')} is not mapped: the ${what} entry at physical ${hex(entryAddress)} (0x${BigInt(entry).toString(16).padStart(8, '0')}) is not present; check the address and the page directory (cr3).`);
    this.virtualAddress = Number(virtual);
    this.entry = Number(entry);
  }
}

/** A read or write was asked with an address or length outside what the bridge supports. */
export class InvalidRangeError extends BridgeError {
  constructor(detail: string) {
    super('INVALID_RANGE', `Invalid memory range: ${detail}.`);
  }
}

/** No memory tier of this session can serve the request. */
export class NoMemoryTierError extends BridgeError {
  constructor(what: string) {
    super('NO_MEMORY_TIER', `No way to ${what} in this session; attach with the gdbstub (--gdb), QMP (--qmp) or the RAM file (--ram).`);
  }
}

/** Formats a number as 0x-prefixed hex, at least 8 digits. */
export function hex(value: number): string {
  return '0x' + value.toString(16).padStart(8, '0');
}

function firstLines(text: string, count: number): string {
  return text.trim().split(/\r?\n/).slice(0, count).join(' / ');
}
