// Matches the source files named in allocation sites (absolute paths from DWARF, possibly from
// another checkout) to documents: the same path, or the longest common path suffix.

import * as path from 'path';

/** The path of a file: URI. */
export function uriPath(uri: string): string {
  return decodeURIComponent(uri.replace(/^file:\/\//, ''));
}

export function pathUri(p: string): string {
  return `file://${p.split('/').map(encodeURIComponent).join('/')}`;
}

/** How many trailing path components two paths share. */
export function commonSuffix(a: string, b: string): number {
  const x = a.split(/[\\/]/).filter(Boolean);
  const y = b.split(/[\\/]/).filter(Boolean);
  let n = 0;
  while (n < x.length && n < y.length && x[x.length - 1 - n] === y[y.length - 1 - n]) n++;
  return n;
}

/** Whether `siteFile` names the document at `docPath`: the same path, or the same file name with its folder. */
export function sameSource(siteFile: string, docPath: string): boolean {
  if (path.resolve(siteFile) === path.resolve(docPath)) return true;
  const n = commonSuffix(siteFile, docPath);
  return n >= Math.min(2, siteFile.split(/[\\/]/).filter(Boolean).length);
}
