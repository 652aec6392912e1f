// Errors of a QEMU launch that QEMU reports in its own words on stderr (no window, an unknown
// CPU model or feature) or that the launcher finds before starting it (a missing boot image),
// each one sentence, and the function that recognises them in what QEMU printed.

import { BridgeError } from './errors';

/** A boot image or drive file given to the launcher does not exist. */
export class BootFileNotFoundError extends BridgeError {
  constructor(readonly what: string, readonly filePath: string) {
    super('BOOT_FILE_NOT_FOUND', `The ${what} ${filePath} does not exist; build it first or correct the path.`);
  }
}

/** QEMU could not open its own window (display "window"). */
export class DisplayUnavailableError extends BridgeError {
  constructor(readonly reason: string) {
    super('DISPLAY_UNAVAILABLE', `QEMU could not open its window ("display": "window") because ${reason}; start it where a graphical desktop is available, or set "display" to "none".`);
  }
}

/** QEMU does not know the CPU model asked for. */
export class CpuModelError extends BridgeError {
  constructor(readonly model: string, readonly binary: string) {
    super('UNKNOWN_CPU_MODEL', `QEMU (${binary}) does not know the CPU model "${model}"; choose one that "${binary} -cpu help" lists, for example qemu32, pentium3 or max.`);
  }
}

/** QEMU does not know a feature flag given with the CPU model. */
export class CpuFeatureError extends BridgeError {
  constructor(readonly feature: string, readonly model: string) {
    super('UNKNOWN_CPU_FEATURE', `QEMU's CPU model "${model}" has no feature "${feature}"; remove it from "cpu" or spell it as QEMU's "-cpu ${model},help" lists it.`);
  }
}

export interface StartupContext {
  readonly binary: string;
  readonly display?: string;
  readonly cpu?: string;
  /** The environment QEMU ran in (for the DISPLAY hint). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Recognises the failures above in QEMU's stderr; undefined when it is none of them. */
export function diagnoseStartup(stderr: string, context: StartupContext): BridgeError | undefined {
  const binary = context.binary.split('/').pop() ?? context.binary;
  const model = /unable to find CPU model '([^']*)'/.exec(stderr);
  if (model) return new CpuModelError(model[1], binary);
  const feature = /Property '([^'.]+?)-(?:i386|x86_64)-cpu\.([^']+)' not found/.exec(stderr);
  if (feature) return new CpuFeatureError(feature[2], feature[1]);
  if (/Display '(gtk|sdl)' is not available/.test(stderr)) return new DisplayUnavailableError('this QEMU has no GTK display module (install the Debian package qemu-system-gui)');
  if (/gtk initialization failed|Could not initialize SDL|cannot open display/i.test(stderr)) {
    const env = context.env ?? process.env;
    const unset = !env.DISPLAY && !env.WAYLAND_DISPLAY;
    return new DisplayUnavailableError(unset ? 'no graphical display is reachable (DISPLAY and WAYLAND_DISPLAY are not set)' : `the display ${env.DISPLAY ?? env.WAYLAND_DISPLAY} refused the connection`);
  }
  return undefined;
}
