// Finds kernel candidates in a workspace folder: a bounded walk (depth, directories, files, size)
// that skips .git, node_modules and other dot folders and reads only each file's first 32 KiB.
// Node's fs only, no VS Code: the unit tests run it on folders they build.

import * as fs from 'fs';
import * as path from 'path';
import { KERNEL_HEAD_BYTES, KernelImage, isKernel, recogniseKernel } from './kernel-image';

export interface KernelCandidate extends KernelImage {
  /** Absolute path. */
  readonly path: string;
  /** Path relative to the folder searched, with forward slashes. */
  readonly relative: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface SearchLimits {
  /** Folder depth below the root (the root is 0). Default 8. */
  readonly maxDepth?: number;
  /** Directories visited at most. Default 5000. */
  readonly maxDirectories?: number;
  /** Files whose header is read at most. Default 20000. */
  readonly maxFilesRead?: number;
  /** Files larger than this are not read. Default 256 MiB. */
  readonly maxFileBytes?: number;
  /** Stop after this many candidates. Default 50. */
  readonly maxCandidates?: number;
}

export interface SearchResult {
  readonly candidates: KernelCandidate[];
  /** True when a limit ended the walk before every folder was seen. */
  readonly truncated: boolean;
  readonly filesRead: number;
}

const SKIPPED = new Set(['node_modules', '__pycache__']);
/** File names that are never kernels: sources, objects and archives are filtered before reading. */
const NOT_KERNEL = /\.(c|h|cc|cpp|hpp|s|S|asm|inc|ld|lds|o|a|d|mk|md|txt|json|ya?ml|toml|py|js|ts|map|sym|iso|img|png|jpg|gz|xz|zip|tar|sh|rs|go|lock)$/i;

/** Searches `root` for kernel ELFs, bootable ones first, then newest first. */
export function findKernels(root: string, limits: SearchLimits = {}): SearchResult {
  const maxDepth = limits.maxDepth ?? 8;
  const maxDirectories = limits.maxDirectories ?? 5000;
  const maxFilesRead = limits.maxFilesRead ?? 20000;
  const maxFileBytes = limits.maxFileBytes ?? 256 << 20;
  const maxCandidates = limits.maxCandidates ?? 50;
  const candidates: KernelCandidate[] = [];
  let directories = 0;
  let filesRead = 0;
  let truncated = false;
  const head = Buffer.alloc(KERNEL_HEAD_BYTES);
  const queue: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
  // Breadth first: a kernel near the top is found before the limits bite.
  while (queue.length) {
    const { dir, depth } = queue.shift() as { dir: string; depth: number };
    if (++directories > maxDirectories) {
      truncated = true;
      break;
    }
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable folder
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name.startsWith('.') || SKIPPED.has(e.name)) continue;
        if (depth + 1 > maxDepth) truncated = true;
        else queue.push({ dir: full, depth: depth + 1 });
        continue;
      }
      if (!e.isFile() || NOT_KERNEL.test(e.name)) continue;
      if (filesRead >= maxFilesRead || candidates.length >= maxCandidates) {
        truncated = true;
        queue.length = 0;
        break;
      }
      let fd: number | undefined;
      try {
        fd = fs.openSync(full, 'r');
        const st = fs.fstatSync(fd);
        if (st.size < 52 || st.size > maxFileBytes) continue;
        filesRead++;
        const n = fs.readSync(fd, head, 0, KERNEL_HEAD_BYTES, 0);
        const r = recogniseKernel(head.subarray(0, n));
        if (isKernel(r)) candidates.push({ ...r, path: full, relative: path.relative(root, full).split(path.sep).join('/'), size: st.size, mtimeMs: st.mtimeMs });
      } catch {
        // unreadable file: not a candidate
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
  }
  candidates.sort((a, b) => Number(b.bootableWithKernelOption) - Number(a.bootableWithKernelOption) || b.mtimeMs - a.mtimeMs || a.relative.localeCompare(b.relative));
  return { candidates, truncated, filesRead };
}
