// Findings as diagnostics at the allocation site involved: a leaked chain, a double free or a
// frame used after it was freed shows in the Problems panel at the line that allocated it (the
// finding's own site, or for our guest the site of its chain). Findings without a known site are
// left to the Findings view.

import type { FindingDocJson, SiteJson } from '../../contract/snapshot-document';
import type { ViewSnapshot } from '../src/view-snapshot';

export interface SiteDiagnostic {
  /** The site's file as the snapshot names it. */
  readonly file: string;
  /** Zero-based line. */
  readonly line: number;
  readonly severity: 'error' | 'warning' | 'information';
  readonly message: string;
  readonly code: string;
}

export function findingDiagnostics(snap: ViewSnapshot): SiteDiagnostic[] {
  const site = (f: FindingDocJson): SiteJson | undefined =>
    f.site ?? (f.chain !== undefined ? snap.chains?.find((c) => c.id === f.chain)?.site ?? undefined : undefined);
  const out: SiteDiagnostic[] = [];
  for (const f of snap.findings) {
    const s = site(f);
    if (!s?.file || !s.line) continue;
    out.push({ file: s.file, line: s.line - 1, severity: f.severity === 'info' ? 'information' : f.severity, message: `mmscope: ${f.message}`, code: f.kind });
  }
  return out;
}
