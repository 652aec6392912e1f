// Debug sessions of type mmscope feed the snapshot store, one way: the adapter pushes each stop's
// (and each live snapshot's) document with its changes in mmscope/snapshotReady, taken here where
// the adapter's messages arrive (a tracker) rather than after a round trip through the workbench.
// The extension tells the adapter nothing about which views are visible.

import * as vscode from 'vscode';
import { DapEvent, DapRequest } from '../../../contract/dap';
import { DebugSessionSource } from '../debug-session-source';
import { DEBUG_TYPE } from '../debug-configuration';
import { MmLanguageClient } from '../language-client';
import { StopSummary } from '../mm-data-source';
import { SnapshotStore } from '../snapshot-store';
import { LiveRefreshControl } from './live-refresh';
import { MmViews } from './views';

/** A DAP message the tracker saw: '<' from the adapter, '>' to it. */
export interface DapTraffic {
  readonly direction: '<' | '>';
  readonly message: unknown;
}

/** What the stopped event said of the last stop. */
export interface LastStop {
  readonly reason?: string;
  readonly description?: string;
  readonly text?: string;
}

export const isMmscopeSession = (s: vscode.DebugSession | undefined): s is vscode.DebugSession => s?.type === DEBUG_TYPE;

export class SessionWiring implements vscode.Disposable {
  private readonly trafficEmitter = new vscode.EventEmitter<DapTraffic>();
  private readonly stopEmitter = new vscode.EventEmitter<LastStop>();
  /** Every DAP message of an mmscope session (for a trace: see e2e-output.ts). */
  readonly onDidTraffic = this.trafficEmitter.event;
  /** A stopped event arrived (before its snapshot). */
  readonly onDidStop = this.stopEmitter.event;
  lastStop: LastStop | undefined;
  /** The session the Screen view shows (the newest mmscope session). */
  private screenSession: vscode.DebugSession | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly store: SnapshotStore, private readonly views: MmViews, private readonly client: MmLanguageClient, private readonly live: LiveRefreshControl) {
    const screen = views.screen;
    this.disposables.push(
      this.trafficEmitter,
      this.stopEmitter,
      vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
        createDebugAdapterTracker: (session) => ({
          onDidSendMessage: (m: { type?: string; event?: string; body?: { reason?: string; description?: string; text?: string } }) => {
            this.trafficEmitter.fire({ direction: '<', message: m });
            if (m.type !== 'event') return;
            if (m.event === DapEvent.snapshotReady) this.snapshotReady(session, m.body);
            else if (m.event === 'continued') {
              store.running();
              if (session.id === this.screenSession?.id) screen.continued();
            } else if (m.event === 'stopped') {
              if (session.id === this.screenSession?.id) screen.stopped();
              this.lastStop = { reason: m.body?.reason, description: m.body?.description, text: m.body?.text };
              this.stopEmitter.fire(this.lastStop);
            }
          },
          onWillReceiveMessage: (m: { type?: string; command?: string }) => {
            this.trafficEmitter.fire({ direction: '>', message: m });
            if (m.type === 'request' && (m.command === 'continue' || m.command === 'next' || m.command === 'stepIn' || m.command === 'stepOut')) {
              store.running();
              if (session.id === this.screenSession?.id) screen.continued();
            }
          },
        }),
      }),
      vscode.debug.onDidStartDebugSession((s) => {
        if (!isMmscopeSession(s)) return;
        this.follow(s);
        void client.start();
      }),
      vscode.debug.onDidTerminateDebugSession((s) => {
        if (s.id === this.screenSession?.id) {
          this.screenSession = undefined;
          screen.setSession(undefined);
        }
        const src = store.dataSource;
        if (!isMmscopeSession(s) || !(src instanceof DebugSessionSource) || src.session.id !== s.id) return;
        store.detach();
        void vscode.commands.executeCommand('setContext', 'mmscope.sessionActive', false);
      }),
      // The memory views follow the vCPU (thread) focused in the Call Stack view.
      vscode.debug.onDidChangeActiveStackItem((item) => {
        if (!item || !isMmscopeSession(item.session)) return;
        item.session.customRequest(DapRequest.selectThread, { threadId: item.threadId }).then(undefined, () => undefined);
      }),
    );
    void vscode.commands.executeCommand('setContext', 'mmscope.sessionActive', isMmscopeSession(vscode.debug.activeDebugSession));
    if (isMmscopeSession(vscode.debug.activeDebugSession)) this.follow(vscode.debug.activeDebugSession);
  }

  /** The store, the Screen view and the context keys follow session `s`. */
  private follow(s: vscode.DebugSession): void {
    this.store.attach(new DebugSessionSource(s));
    this.screenSession = s;
    this.views.screen.setSession(s);
    void vscode.commands.executeCommand('setContext', 'mmscope.sessionActive', true);
  }

  /** The adapter's mmscope/snapshotReady: a stop (or a live snapshot) of the session the store follows. */
  private snapshotReady(session: vscode.DebugSession, body: unknown): void {
    const src = this.store.dataSource;
    if (!(src instanceof DebugSessionSource) || src.session.id !== session.id) return;
    // A session started while live refresh was on learns it at its first stop.
    this.live.sessionStopped(session);
    void this.store.stopped((body ?? {}) as StopSummary);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
