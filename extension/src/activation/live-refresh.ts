// The "toggle live refresh" choice and telling each session's adapter about it
// (mmscope/liveRefresh): a session started while it was on learns it at its first stop.

import * as vscode from 'vscode';
import { DapRequest, type LiveRefreshArgs } from '../../../contract/dap';

export class LiveRefreshControl {
  private enabled = false;
  private readonly sent = new Set<string>();

  get on(): boolean {
    return this.enabled;
  }

  get rate(): number {
    return vscode.workspace.getConfiguration('mmscope').get<number>('liveRefreshRate', 2);
  }

  /** Flips the choice and tells `session` (when given); false (and a warning) when its adapter refused. */
  async toggle(session: vscode.DebugSession | undefined): Promise<boolean> {
    this.enabled = !this.enabled;
    void vscode.commands.executeCommand('setContext', 'mmscope.liveRefresh', this.enabled);
    return session ? this.send(session) : true;
  }

  /** A session stopped: tell it the choice if it has not heard it and it is on. */
  sessionStopped(session: vscode.DebugSession): void {
    if (this.enabled && !this.sent.has(session.id)) void this.send(session);
  }

  private async send(session: vscode.DebugSession): Promise<boolean> {
    this.sent.add(session.id);
    try {
      await session.customRequest(DapRequest.liveRefresh, { enabled: this.enabled, ratePerSecond: this.rate } satisfies LiveRefreshArgs);
      return true;
    } catch (e) {
      void vscode.window.showWarningMessage(`mmscope: the debug adapter did not turn live refresh ${this.enabled ? 'on' : 'off'} (${e instanceof Error ? e.message : String(e)}).`);
      return false;
    }
  }
}
