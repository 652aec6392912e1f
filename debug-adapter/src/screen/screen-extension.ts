// The Screen plugged into the debug session (session/session-extension.ts): `mmscope/screen`
// answers the guest's display as a PNG (and the VGA text console as text in text modes), and
// `mmscope/sendKey` types a key into the guest through QMP `send-key`. See docs/debug-protocol.md.

import type { QmpClient } from '../../../qemu-bridge/src';
import type { SessionExtension } from '../session/session-extension';
import type { Target } from '../session/target';
import { qcodesForKey } from './qcodes';
import { PhysicalReader, ScreenCapture } from './screen-capture';
import { DapRequest } from '../../../contract/dap';

export const SCREEN_REQUEST = DapRequest.screen;
export const SEND_KEY_REQUEST = DapRequest.sendKey;

/** What the screen needs of the session's target. */
export interface ScreenTarget {
  readonly bridge: { readonly qmp?: QmpClient; readonly memory: { readPhys: PhysicalReader } };
}

export class ScreenSessionExtension implements SessionExtension {
  readonly commands: readonly string[] = [SCREEN_REQUEST, SEND_KEY_REQUEST];
  private readonly capture: ScreenCapture;

  constructor(private readonly target: ScreenTarget) {
    this.capture = new ScreenCapture(() => target.bridge.qmp, (a, n) => target.bridge.memory.readPhys(a, n));
  }

  async customRequest(command: string, args: unknown): Promise<unknown> {
    if (command === SCREEN_REQUEST) return this.capture.capture();
    return this.sendKey((args ?? {}) as Record<string, unknown>);
  }

  /**
   * `{ code, shift?, ctrl?, alt?, meta? }` (a KeyboardEvent.code and its modifiers) or
   * `{ qcodes: [...] }`: presses the keys together, then releases them. A stopped guest reads them
   * when it runs again (they wait in the keyboard controller).
   */
  private async sendKey(a: Record<string, unknown>): Promise<{ qcodes: string[] }> {
    let qcodes: string[];
    if (Array.isArray(a.qcodes) && a.qcodes.length > 0 && a.qcodes.every((q) => typeof q === 'string')) qcodes = a.qcodes as string[];
    else if (typeof a.code === 'string') qcodes = qcodesForKey(a.code, { shift: a.shift === true, ctrl: a.ctrl === true, alt: a.alt === true, meta: a.meta === true });
    else throw new Error('mmscope/sendKey needs "code" (a KeyboardEvent.code such as "KeyA") or "qcodes" (QEMU key names)');
    const qmp = this.target.bridge.qmp;
    if (!qmp || qmp.closed) throw new Error('this session has no QMP connection to QEMU, so it cannot type into the guest');
    await qmp.execute('send-key', { keys: qcodes.map((data) => ({ type: 'qcode', data })) });
    return { qcodes };
  }

  dispose(): void {
    this.capture.dispose();
  }
}

/** The Screen for every session. */
export function screenExtensionFactory(): (target: Target) => SessionExtension {
  return (target) => {
    const ext = new ScreenSessionExtension(target);
    target.once('exited', () => ext.dispose());
    return ext;
  };
}
