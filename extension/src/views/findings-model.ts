// The Findings view: every inconsistency the model found, each revealing its allocation site,
// chain or address.

import { SnapshotJson } from '../../../debug-adapter/src/mm/snapshot-json';
import { Finding } from '../../../debug-adapter/src/mm/findings';
import { RevealTarget, ViewNode } from './view-node';

export function findingTarget(f: Finding): RevealTarget | undefined {
  if (f.site?.file && f.site.line) return { kind: 'source', file: f.site.file, line: f.site.line };
  if (f.chain !== undefined) return { kind: 'chain', id: f.chain };
  if (f.virtual !== undefined) return { kind: 'address', virtual: f.virtual, pid: f.pid };
  return undefined;
}

export function findingsModel(snap: SnapshotJson, previous?: SnapshotJson): ViewNode[] {
  const old = new Set((previous?.findings ?? []).map((f) => `${f.kind}:${f.message}`));
  return snap.findings.map((f, i) => ({
    id: `finding:${i}:${f.kind}`,
    label: f.message,
    description: f.kind,
    tooltip: `${f.severity}: ${f.message}`,
    icon: f.severity === 'error' ? 'error' : f.severity === 'warning' ? 'warning' : 'info',
    warning: f.severity !== 'info',
    changed: previous !== undefined && !old.has(`${f.kind}:${f.message}`),
    contextValue: 'finding',
    reveal: findingTarget(f),
  }));
}

/** The status bar text: free/used blocks and fragmentation. */
export function statusText(snap: SnapshotJson): string {
  const b = snap.blocks;
  return `$(database) ${b.free} free / ${b.used} used blocks · frag ${b.fragmentationPercent}%${snap.findings.length ? ` · $(warning) ${snap.findings.length}` : ''}`;
}
