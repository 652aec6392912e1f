// mmscope's commands (translate an address, reveal a chain or a source site, open an address space,
// copy the snapshot, refresh, live refresh, pick a kernel, copy the screen's text, choose a process).

import * as vscode from 'vscode';
import type { JsonAddress } from '../../../contract/snapshot-document';
import { parseAddressInput } from '../address-input';
import { DebugSessionSource } from '../debug-session-source';
import { pickKernelCommand } from '../kernels/pick-kernel';
import { revealSource } from '../reveal';
import { SnapshotStore } from '../snapshot-store';
import { translateOnDocument, translationLines } from '../../server/translation-text';
import { spacePickItems } from '../views/address-space-model';
import { RevealTarget, ViewNode } from '../views/view-node';
import { LiveRefreshControl } from './live-refresh';
import { MmViews } from './views';

export function registerCommands(store: SnapshotStore, views: MmViews, live: LiveRefreshControl, output: vscode.OutputChannel): vscode.Disposable[] {
  const requireStopped = (): boolean => {
    if (store.state === 'none') void vscode.window.showWarningMessage('mmscope: start a debug session ("Boot guest kernel") first.');
    else if (!store.snapshot) void vscode.window.showWarningMessage('mmscope: the guest is running; pause it or wait for a breakpoint.');
    return store.snapshot !== undefined && store.state !== 'none';
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
      if (t.chain !== undefined) views.memoryMap.select(t.chain);
    } catch (e) {
      void vscode.window.showErrorMessage(`mmscope: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return [
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
      if (id !== undefined) await views.revealChain(id);
    }),
    vscode.commands.registerCommand('mmscope.reveal', async (target: RevealTarget) => {
      if (!target) return;
      if (target.kind === 'source') await revealSource(target.file, target.line);
      else if (target.kind === 'chain') await views.revealChain(target.id);
      else if (target.kind === 'space') views.openSpace(target.id);
      else if (target.kind === 'frame') {
        await vscode.commands.executeCommand('mmscope.physicalMemory.focus');
        views.memoryMap.selectFrame(Math.floor(target.physical / 4096));
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
      const src = store.dataSource;
      if (!(await live.toggle(src instanceof DebugSessionSource ? src.session : undefined))) return;
      void vscode.window.showInformationMessage(`mmscope: live refresh ${live.on ? `on (${live.rate} per second while running)` : 'off'}.`);
    }),
    vscode.commands.registerCommand('mmscope.pickKernel', () => pickKernelCommand()),
    vscode.commands.registerCommand('mmscope.copyScreenText', async () => {
      const text = views.screen.text;
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
      views.openSpace(pick.space);
    }),
    vscode.commands.registerCommand('mmscope.openAddressSpace', async (arg?: string) => {
      if (!requireStopped() || !store.snapshot) return;
      if (typeof arg === 'string') {
        views.openSpace(arg);
        return;
      }
      const other = { label: '$(add) Another CR3…', description: 'walk the page tables a CR3 value names', detail: '', id: '' };
      const pick = await vscode.window.showQuickPick([...spacePickItems(store.snapshot), other], { placeHolder: 'Address space to show (spaces only seen earlier may be stale)', matchOnDescription: true, matchOnDetail: true });
      if (!pick) return;
      if (pick !== other) {
        views.openSpace(pick.id);
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
        views.openSpace(id);
      } catch (e) {
        void vscode.window.showErrorMessage(`mmscope: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  ];
}
