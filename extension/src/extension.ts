// mmscope's VS Code side: the mmscope view container (Address space, Processes, Allocators (Chains
// on our guest), Findings, Physical memory, Screen), at every level of knowing the kernel, commands, the pick-a-kernel command, the status bar item, the debug configuration provider and the
// language client. It speaks only DAP (custom requests and events) and LSP; never to QEMU.

import * as fs from 'fs';
import * as vscode from 'vscode';
import { DebugSessionSource } from './debug-session-source';
import { DEBUG_TYPE, MmscopeAdapterFactory, MmscopeConfigurationProvider } from './debug-configuration';
import { MmLanguageClient } from './language-client';
import { StopSummary } from './mm-data-source';
import { revealSource } from './reveal';
import { parseAddressInput } from './address-input';
import { SnapshotStore } from './snapshot-store';
import { translationLines } from '../server/translation-text';
import { addressSpaceModel, shownSpace, spacePickItems } from './views/address-space-model';
import { allocatorsModel, allocatorsViewTitle } from './views/allocators-model';
import { translateOnDocument } from '../server/translation-text';
import type { JsonAddress } from '../../debug-adapter/src/mm/model/snapshot-document';
import { findingsModel, statusText, swapStatusLine } from './views/findings-model';
import { MemoryMapView } from './views/memory-map-view';
import { ScreenView } from './views/screen-view';
import { offeredConfigurations, pickKernelCommand } from './kernels/pick-kernel';
import { processesModel } from './views/processes-model';
import { findChainNode } from './views/tree-item-data';
import { MmTreeProvider } from './views/tree-provider';
import { RevealTarget, ViewNode } from './views/view-node';

const SNAPSHOT_EVENT = 'mmscope/snapshotReady';
const LIVE_FEED_EVENT = 'mmscope/liveFeed';

export function activate(context: vscode.ExtensionContext): void {
  const views: MmTreeProvider[] = [];
  let memoryMap: MemoryMapView | undefined;
  const anyVisible = (): boolean => views.some((v) => v.visible) || (memoryMap?.visible ?? false) || vscode.window.visibleTextEditors.some((e) => e.document.languageId === 'c');
  const store = new SnapshotStore(anyVisible);
  const output = vscode.window.createOutputChannel('mmscope');
  /** The SpaceJson id the Address space view shows (undefined: the current space). */
  let addressSpaceId: string | undefined;
  let liveRefresh = false;
  let lastRefreshMs: number | undefined;
  /** From the adapter's stop to every view's content being ready, across all processes (ms). */
  let stopToViewsMs: number | undefined;
  let lastStop: { reason?: string; description?: string; text?: string } | undefined;

  const addressSpace = new MmTreeProvider('mmscope.addressSpace', store, (s, p) => addressSpaceModel(s, addressSpaceId, p));
  const processes = new MmTreeProvider('mmscope.processes', store, processesModel);
  const chains = new MmTreeProvider('mmscope.chains', store, allocatorsModel);
  const findings = new MmTreeProvider('mmscope.findings', store, findingsModel);
  views.push(addressSpace, processes, chains, findings);
  for (const v of views) {
    const view = vscode.window.createTreeView(v.viewId, { treeDataProvider: v, showCollapseAll: true });
    v.view = view;
    view.onDidChangeVisibility((e) => {
      if (e.visible) void store.visible();
      syncViews();
    });
    context.subscriptions.push(view, v);
  }

  const revealChain = async (id: number): Promise<void> => {
    const node = findChainNode(chains.topLevel(), id);
    memoryMap?.select(id);
    if (!node) {
      void vscode.window.showWarningMessage(`mmscope: there is no chain ${id} at this stop.`);
      return;
    }
    await vscode.commands.executeCommand('mmscope.chains.focus');
    await chains.view?.reveal(node, { select: true, focus: true, expand: true });
  };

  memoryMap = new MemoryMapView(context.extensionUri, store, (id) => void revealChain(id), () => writeState());
  memoryMap.visibilityChanged = () => syncViews();
  context.subscriptions.push(vscode.window.registerWebviewViewProvider(MemoryMapView.viewId, memoryMap, { webviewOptions: { retainContextWhenHidden: false } }));
  const screen = new ScreenView(context.extensionUri, () => writeState());
  context.subscriptions.push(vscode.window.registerWebviewViewProvider(ScreenView.viewId, screen, { webviewOptions: { retainContextWhenHidden: false } }));

  const status = vscode.window.createStatusBarItem('mmscope.status', vscode.StatusBarAlignment.Left, 50);
  status.name = 'mmscope memory';
  status.command = 'mmscope.physicalMemory.focus';
  context.subscriptions.push(status, output);

  const client = new MmLanguageClient(context.extensionUri, store);
  context.subscriptions.push(client);

  /** For the end-to-end test: what each view shows, written when MMSCOPE_E2E_STATE names a file. */
  const stateFile = process.env.MMSCOPE_E2E_STATE;
  const describe = (nodes: readonly ViewNode[]): { label: string; description?: string; changed?: boolean }[] =>
    nodes.map((n) => ({ label: n.label, description: n.description, changed: n.changed }));
  type Described = { label: string; description?: string; changed?: boolean; children?: Described[] };
  const tree = (nodes: readonly ViewNode[], depth: number): Described[] =>
    nodes.map((n) => ({ label: n.label, description: n.description, changed: n.changed, ...(depth > 1 && n.children ? { children: tree(n.children(), depth - 1) } : {}) }));
  /** For the end-to-end test: the DAP traffic, one JSON line per message, beside the state file. */
  const traceDap = (direction: string, m: unknown): void => {
    if (!stateFile) return;
    try {
      fs.appendFileSync(`${stateFile}.dap.jsonl`, `${Date.now()} ${direction} ${JSON.stringify(m).slice(0, 2000)}\n`);
    } catch {
      // the trace is best effort
    }
  };
  function writeState(): void {
    if (!stateFile) return;
    const snap = store.snapshot;
    const state = {
      activated: true,
      state: store.state,
      stop: store.stop,
      lastRefreshMs,
      stopToViewsMs,
      lastStop,
      error: store.lastError,
      level: snap?.level,
      spaces: snap?.spaces.map((x) => ({ id: x.id, label: x.label, sources: x.sources, current: x.current, pages: x.pages })),
      addressSpaceShown: snap ? shownSpace(snap, addressSpaceId)?.id : undefined,
      chainsTitle: chains.view?.title,
      views: snap
        ? {
            chains: describe(chains.topLevel()),
            processes: describe(processes.topLevel()),
            findings: describe(findings.topLevel()),
            addressSpace: tree(addressSpace.topLevel(), 3),
          }
        : undefined,
      memoryMap: memoryMap?.rendered,
      screen: screen.rendered,
      status: status.text,
    };
    try {
      fs.writeFileSync(stateFile, JSON.stringify(state, null, 1));
    } catch {
      // the test reads what it can
    }
  }

  context.subscriptions.push(
    store.onDidChange((c) => {
      const t0 = Date.now();
      for (const v of views) v.refresh();
      if (chains.view && c.snapshot) chains.view.title = allocatorsViewTitle(c.snapshot);
      updateAddressSpaceTitle();
      memoryMap?.update();
      client.push();
      if (c.snapshot && c.state !== 'none') {
        status.text = statusText(c.snapshot);
        status.tooltip = `mmscope: ${c.state === 'running' ? 'live snapshot while running' : `stop ${c.stop ?? c.snapshot.stop}`}${c.fetchMs !== undefined ? `, snapshot fetched in ${c.fetchMs} ms` : ''}. Click for the physical memory map.${swapStatusLine(c.snapshot) ? `\n${swapStatusLine(c.snapshot)}` : ''}`;
        status.show();
      } else if (c.state === 'running') {
        status.text = '$(database) mmscope: running';
        status.show();
      } else {
        status.hide();
      }
      if (c.error) output.appendLine(`snapshot: ${c.error}`);
      // A stop without a snapshot (the memory manager not initialised yet, a corrupt structure):
      // every view says why instead of showing the last stop's data or "no findings".
      const unavailable = store.unavailable;
      for (const v of views) if (v.view) v.view.message = unavailable;
      // A kernel with nothing described has no allocator to show: say how to describe one.
      if (chains.view && !unavailable && c.snapshot && c.state !== 'none' && allocatorsViewTitle(c.snapshot) === 'Allocators' && !chains.topLevel().length) {
        chains.view.message = 'No allocator is described: a "memoryModel" in the launch configuration names the kernel\'s allocators, processes and heaps.';
      }
      void vscode.commands.executeCommand('setContext', 'mmscope.snapshotError', unavailable !== undefined);
      if (c.fetchMs !== undefined) lastRefreshMs = c.fetchMs + (Date.now() - t0);
      const stoppedAt = store.lastSummary?.stoppedAt;
      if (c.fetchMs !== undefined && c.snapshot && stoppedAt !== undefined) stopToViewsMs = Date.now() - stoppedAt;
      void vscode.commands.executeCommand('setContext', 'mmscope.stopped', c.state === 'stopped');
      writeState();
    }),
  );

  // Debug sessions of type mmscope feed the store.
  const isOurs = (s: vscode.DebugSession | undefined): s is vscode.DebugSession => s?.type === DEBUG_TYPE;
  /** The session the Screen view shows (the newest mmscope session). */
  let screenSession: vscode.DebugSession | undefined;
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new MmscopeConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, { provideDebugConfigurations: (folder) => offeredConfigurations(folder ?? vscode.workspace.workspaceFolders?.[0]) }, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new MmscopeAdapterFactory(context.extensionUri)),
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
      createDebugAdapterTracker: (session) => ({
        onDidSendMessage: (m: { type?: string; event?: string; body?: { reason?: string; description?: string; text?: string } }) => {
          traceDap('<', m);
          // Taken here, where the adapter's messages arrive, rather than as a custom event after
          // a round trip through the workbench: the views are ready sooner after a stop.
          if (m.type === 'event' && m.event === SNAPSHOT_EVENT) snapshotReady(session, m.body);
          // The adapter's memory manager exists from 'initialized' on: tell it what is visible before the first stop.
          if (m.type === 'event' && m.event === 'initialized') setTimeout(syncViews, 0);
          if (m.type === 'event' && m.event === 'continued') {
            store.running();
            if (session.id === screenSession?.id) screen.continued();
          }
          if (m.type === 'event' && m.event === 'stopped') {
            if (session.id === screenSession?.id) screen.stopped();
            lastStop = { reason: m.body?.reason, description: m.body?.description, text: m.body?.text };
            writeState();
          }
        },
        onWillReceiveMessage: (m: { type?: string; command?: string }) => {
          traceDap('>', m);
          if (m.type === 'request' && (m.command === 'continue' || m.command === 'next' || m.command === 'stepIn' || m.command === 'stepOut')) {
            store.running();
            if (session.id === screenSession?.id) screen.continued();
          }
        },
      }),
    }),
    vscode.debug.onDidStartDebugSession((s) => {
      if (!isOurs(s)) return;
      store.attach(new DebugSessionSource(s));
      screenSession = s;
      screen.setSession(s);
      void vscode.commands.executeCommand('setContext', 'mmscope.sessionActive', true);
      void client.start();
    }),
    vscode.debug.onDidTerminateDebugSession((s) => {
      if (s.id === screenSession?.id) {
        screenSession = undefined;
        screen.setSession(undefined);
      }
      const src = store.dataSource;
      if (!isOurs(s) || !(src instanceof DebugSessionSource) || src.session.id !== s.id) return;
      store.detach();
      client.liveFeed(null);
      void vscode.commands.executeCommand('setContext', 'mmscope.sessionActive', false);
    }),
    // The memory views follow the vCPU (thread) focused in the Call Stack view.
    vscode.debug.onDidChangeActiveStackItem((item) => {
      if (!item || !isOurs(item.session)) return;
      item.session.customRequest('mmscope/selectThread', { threadId: item.threadId }).then(undefined, () => undefined);
    }),
    vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
      if (isOurs(e.session) && e.event === LIVE_FEED_EVENT) client.liveFeed((e.body as { ws?: string } | undefined)?.ws ?? null);
    }),
    vscode.window.onDidChangeVisibleTextEditors(() => {
      void store.visible();
      syncViews();
    }),
  );

  /**
   * Tells the adapter whether a view shows the snapshot: while one does, snapshots come with the
   * snapshotReady event (one message through VS Code instead of three); while none does, nothing
   * is sent until a view opens.
   */
  let viewsSentFor: { session: string; visible: boolean } | undefined;
  const syncViews = (): void => {
    const src = store.dataSource;
    if (!(src instanceof DebugSessionSource)) return;
    const visible = anyVisible();
    if (viewsSentFor?.session === src.session.id && viewsSentFor.visible === visible) return;
    viewsSentFor = { session: src.session.id, visible };
    src.session.customRequest('mmscope/views', { visible }).then(undefined, () => (viewsSentFor = undefined));
  };

  /** The adapter's mmscope/snapshotReady: a stop (or a live snapshot) of the session the store follows. */
  const snapshotReady = (session: vscode.DebugSession, body: unknown): void => {
    const src = store.dataSource;
    if (!(src instanceof DebugSessionSource) || src.session.id !== session.id) return;
    // A session started while live refresh was on learns it at its first stop.
    if (liveRefresh && !liveRefreshSent.has(session.id)) void sendLiveRefresh(session);
    syncViews();
    void store.stopped((body ?? {}) as StopSummary);
  };

  /** Tells a session's adapter the live-refresh choice; false (and a warning) when it refused. */
  const liveRefreshSent = new Set<string>();
  const sendLiveRefresh = async (session: vscode.DebugSession): Promise<boolean> => {
    const rate = vscode.workspace.getConfiguration('mmscope').get<number>('liveRefreshRate', 2);
    liveRefreshSent.add(session.id);
    try {
      await session.customRequest('mmscope/liveRefresh', { enabled: liveRefresh, ratePerSecond: rate });
      return true;
    } catch (e) {
      void vscode.window.showWarningMessage(`mmscope: the debug adapter did not turn live refresh ${liveRefresh ? 'on' : 'off'} (${e instanceof Error ? e.message : String(e)}).`);
      return false;
    }
  };

  const requireStopped = (): boolean => {
    if (store.state === 'none') void vscode.window.showWarningMessage('mmscope: start a debug session ("Boot guest kernel") first.');
    else if (!store.snapshot) void vscode.window.showWarningMessage('mmscope: the guest is running; pause it or wait for a breakpoint.');
    return store.snapshot !== undefined && store.state !== 'none';
  };

  /** The Address space view's description says which space it shows. */
  const updateAddressSpaceTitle = (): void => {
    const snap = store.snapshot;
    if (!addressSpace.view) return;
    const shown = snap ? shownSpace(snap, addressSpaceId) : undefined;
    addressSpace.view.description = shown ? `${shown.label}${shown.current ? '' : ' (not current)'}` : undefined;
  };

  const openSpace = (id: string | undefined): void => {
    addressSpaceId = id;
    addressSpace.setModel((s, p) => addressSpaceModel(s, addressSpaceId, p));
    updateAddressSpaceTitle();
    void vscode.commands.executeCommand('mmscope.addressSpace.focus');
    writeState();
  };

  const showTranslation = async (address: JsonAddress, pid?: number, space?: string): Promise<void> => {
    const src = store.dataSource;
    if (!src) {
      requireStopped();
      return;
    }
    try {
      // A space that is not the current one: the adapter walks it from its CR3; when it cannot
      // (an adapter without that), what the document holds of it.
      const snap = store.snapshot;
      const other = space !== undefined && pid === undefined ? snap?.spaces.find((x) => x.id === space && !x.current) : undefined;
      const t = other && snap
        ? await src.translate(address, undefined, other.cr3).catch(() => translateOnDocument(snap, address, other.id))
        : await src.translate(address, pid);
      const lines = translationLines(t).map((l) => l.replace(/`/g, ''));
      output.appendLine(lines.join(' '));
      output.show(true);
      void vscode.window.showInformationMessage(lines.join(' '));
      if (t.chain !== undefined) memoryMap?.select(t.chain);
    } catch (e) {
      void vscode.window.showErrorMessage(`mmscope: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('mmscope.translateAddress', async (arg?: string | number) => {
      if (!requireStopped()) return;
      const text = typeof arg === 'number' ? String(arg) : arg ?? (await vscode.window.showInputBox({ prompt: 'Virtual address to translate (0x… or pid:0x…)', placeHolder: '0xc0100000' }));
      if (text === undefined) return;
      const parsed = parseAddressInput(text);
      if (!parsed) {
        void vscode.window.showErrorMessage(`mmscope: "${text}" is not an address; write it as 0xc0100000 or pid:0x400000.`);
        return;
      }
      await showTranslation(parsed.address, parsed.pid);
    }),
    vscode.commands.registerCommand('mmscope.revealChain', async (arg?: number | ViewNode) => {
      if (!requireStopped() || !store.snapshot) return;
      let id = typeof arg === 'number' ? arg : arg && typeof arg === 'object' ? Number(/^chain:(\d+):/.exec(arg.id)?.[1]) : undefined;
      if (id === undefined || Number.isNaN(id)) {
        const pick = await vscode.window.showQuickPick(
          (store.snapshot.chains ?? []).map((c) => ({ label: `chain ${c.id}`, description: `${c.blocks.length} blocks · ${c.flagNames.join(',')}`, id: c.id })),
          { placeHolder: 'Chain to reveal' },
        );
        id = pick?.id;
      }
      if (id !== undefined) await revealChain(id);
    }),
    vscode.commands.registerCommand('mmscope.reveal', async (target: RevealTarget) => {
      if (!target) return;
      if (target.kind === 'source') await revealSource(target.file, target.line);
      else if (target.kind === 'chain') await revealChain(target.id);
      else if (target.kind === 'space') openSpace(target.id);
      else if (target.kind === 'frame') {
        await vscode.commands.executeCommand('mmscope.physicalMemory.focus');
        memoryMap?.selectFrame(Math.floor(target.physical / 4096));
      } else await showTranslation(target.virtual, target.pid, target.space);
    }),
    vscode.commands.registerCommand('mmscope.revealSite', async (node: ViewNode) => {
      if (node?.reveal) await vscode.commands.executeCommand('mmscope.reveal', node.reveal);
    }),
    vscode.commands.registerCommand('mmscope.copySnapshot', async () => {
      if (!requireStopped() || !store.snapshot) return;
      await vscode.env.clipboard.writeText(JSON.stringify(store.snapshot, null, 2));
      void vscode.window.showInformationMessage(`mmscope: copied the snapshot of stop ${store.snapshot.stop} as JSON.`);
    }),
    vscode.commands.registerCommand('mmscope.refresh', async () => {
      if (store.state === 'none') return;
      await store.refresh();
    }),
    vscode.commands.registerCommand('mmscope.toggleLiveRefresh', async () => {
      liveRefresh = !liveRefresh;
      void vscode.commands.executeCommand('setContext', 'mmscope.liveRefresh', liveRefresh);
      const rate = vscode.workspace.getConfiguration('mmscope').get<number>('liveRefreshRate', 2);
      const src = store.dataSource;
      if (src instanceof DebugSessionSource && !(await sendLiveRefresh(src.session))) return;
      void vscode.window.showInformationMessage(`mmscope: live refresh ${liveRefresh ? `on (${rate} per second while running)` : 'off'}.`);
    }),
    vscode.commands.registerCommand('mmscope.pickKernel', () => pickKernelCommand()),
    vscode.commands.registerCommand('mmscope.copyScreenText', async () => {
      const text = screen.text;
      if (text === undefined) {
        void vscode.window.showWarningMessage('mmscope: the guest\'s screen is not in a text mode (or no session is running), so there is no text to copy.');
        return;
      }
      await vscode.env.clipboard.writeText(text);
      void vscode.window.showInformationMessage('mmscope: copied the guest\'s text console.');
    }),
    vscode.commands.registerCommand('mmscope.chooseProcess', async () => {
      if (!requireStopped() || !store.snapshot) return;
      if (!store.snapshot.processes.length) {
        await vscode.commands.executeCommand('mmscope.openAddressSpace');
        return;
      }
      const pick = await vscode.window.showQuickPick(
        store.snapshot.processes.map((p) => ({ label: `pid ${p.pid} ${p.name}`, description: `${p.state}${p.current ? ', current' : ''}${p.space === null ? ' · no address space' : ''}`, space: p.space })),
        { placeHolder: 'Process whose address space to show' },
      );
      if (!pick) return;
      if (pick.space === null) {
        void vscode.window.showWarningMessage(`mmscope: ${pick.label} has no address space the snapshot could read.`);
        return;
      }
      openSpace(pick.space);
    }),
    vscode.commands.registerCommand('mmscope.openAddressSpace', async (arg?: string) => {
      if (!requireStopped() || !store.snapshot) return;
      if (typeof arg === 'string') {
        openSpace(arg);
        return;
      }
      const other = { label: '$(add) Another CR3…', description: 'walk the page tables a CR3 value names', detail: '', id: '' };
      const pick = await vscode.window.showQuickPick([...spacePickItems(store.snapshot), other], { placeHolder: 'Address space to show (spaces only seen earlier may be stale)', matchOnDescription: true, matchOnDetail: true });
      if (!pick) return;
      if (pick !== other) {
        openSpace(pick.id);
        return;
      }
      const text = await vscode.window.showInputBox({ prompt: 'CR3 value (the physical address of the top-level page table)', placeHolder: '0x1234000' });
      const cr3 = text === undefined ? undefined : parseAddressInput(text);
      if (!cr3 || cr3.pid !== undefined) {
        if (text !== undefined) void vscode.window.showErrorMessage(`mmscope: "${text}" is not a CR3 value; write it as 0x1234000.`);
        return;
      }
      const src = store.dataSource;
      try {
        if (!src?.openSpace) throw new Error('this session cannot open other address spaces');
        const id = await src.openSpace(cr3.address);
        await store.refresh();
        openSpace(id);
      } catch (e) {
        void vscode.window.showErrorMessage(`mmscope: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );

  void vscode.commands.executeCommand('setContext', 'mmscope.sessionActive', isOurs(vscode.debug.activeDebugSession));
  if (isOurs(vscode.debug.activeDebugSession)) {
    store.attach(new DebugSessionSource(vscode.debug.activeDebugSession));
    screenSession = vscode.debug.activeDebugSession;
    screen.setSession(screenSession);
  }
  void client.start().catch((e: unknown) => output.appendLine(`language server: ${e instanceof Error ? e.message : String(e)}`));
  writeState();
}

export function deactivate(): void {
  // Disposables are released through the context.
}
