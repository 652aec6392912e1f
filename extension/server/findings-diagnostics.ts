// Findings as diagnostics at the allocation site involved: a leaked chain shows in the Problems
// panel at the line that allocated it. Findings without a known site are left to the Findings view.

import { SnapshotJson } from '../../debug-adapter/src/mm/snapshot-json';
import { Finding } from '../../debug-adapter/src/mm/findings';

export interface SiteDiagnostic {
  /** The site's file as the snapshot names it. */
  readonly file: string;
  /** Zero-based line. */
  readonly line: number;
  readonly severity: 'error' | 'warning' | 'information';
  readonly message: string;
  readonly code: string;
}

export function findingDiagnostics(snap: SnapshotJson): SiteDiagnostic[] {
  const site = (f: Finding): Finding['site'] => f.site ?? (f.chain !== undefined ? snap.chains.find((c) => c.id === f.chain)?.site ?? undefined : undefined);
  const out: SiteDiagnostic[] = [];
  for (const f of snap.findings) {
    const s = site(f);
    if (!s?.file || !s.line) continue;
    out.push({ file: s.file, line: s.line - 1, severity: f.severity === 'info' ? 'information' : f.severity, message: `mmscope: ${f.message}`, code: f.kind });
  }
  return out;
}
