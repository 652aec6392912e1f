// The data source over a running mmscope debug session: the adapter's custom requests
// (mmscope/snapshot, mmscope/translate) and the DAP evaluate request in the selected frame (as a
// watch: the adapter's hover context adds a translation note the language hover shows in full).

import * as vscode from 'vscode';
import { ViewSnapshot } from './view-snapshot';
import type { JsonAddress } from '../../contract/snapshot-document';
import { DapRequest, type SnapshotResponseBody } from '../../contract/dap';
import type { Translation } from '../../contract/translation';
import { EvaluatedValue, MmDataSource, SnapshotPair, pointerOf } from './mm-data-source';

type SnapshotResponse = Omit<SnapshotResponseBody, 'snapshot'> & { readonly snapshot: ViewSnapshot };

interface EvaluateResponse {
  result: string;
  type?: string;
  memoryReference?: string;
}

export class DebugSessionSource implements MmDataSource {
  constructor(readonly session: vscode.DebugSession) {}

  async snapshot(): Promise<SnapshotPair> {
    const body = (await this.session.customRequest(DapRequest.snapshot, {})) as SnapshotResponse;
    if (!body || typeof body !== 'object' || !body.snapshot) throw new Error('the debug adapter answered mmscope/snapshot without a snapshot; is the guest stopped?');
    return { snapshot: body.snapshot, changes: body.diff };
  }

  async translate(address: JsonAddress, pid?: number, cr3?: JsonAddress): Promise<Translation> {
    const args = { address, ...(pid !== undefined ? { pid } : {}), ...(cr3 !== undefined ? { cr3 } : {}) };
    return (await this.session.customRequest(DapRequest.translate, args)) as Translation;
  }

  async openSpace(cr3: JsonAddress): Promise<string> {
    const body = (await this.session.customRequest(DapRequest.openSpace, { cr3 })) as { space?: { id?: string } } | undefined;
    if (!body?.space?.id) throw new Error('the debug adapter answered mmscope/openSpace without a space');
    return body.space.id;
  }

  async evaluate(expression: string): Promise<EvaluatedValue | undefined> {
    const item = vscode.debug.activeStackItem;
    const frameId = item instanceof vscode.DebugStackFrame && item.session.id === this.session.id ? item.frameId : undefined;
    try {
      const r = (await this.session.customRequest('evaluate', { expression, context: 'watch', ...(frameId !== undefined ? { frameId } : {}) })) as EvaluateResponse;
      return { expression, value: r.result, type: r.type, pointer: pointerOf(r.result, r.type, r.memoryReference) };
    } catch {
      return undefined;
    }
  }
}
