// Pure decoder of the guest's `bench` console output (see the guest contract): figure lines
// `bench NAME VALUE UNIT`, the closing `bench: done`, and CPU faults. No I/O here.

/** One `bench NAME VALUE UNIT` line. */
export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** The console line as printed. */
  line: string;
}

/** Everything a `bench` boot printed, decoded. */
export interface BenchReport {
  figures: BenchFigure[];
  /** True when the `bench: done` line was printed. */
  done: boolean;
  /** Lines starting with `bench ` (a space, not a colon) that are not figure lines. */
  malformed: string[];
  /** Lines starting with `FAULT:` (CPU exceptions, panics, failed self-checks). */
  faults: string[];
}

/** The figures the guest's bench mode prints, with their units, in order. */
export const GUEST_BENCH_FIGURES: ReadonlyArray<{ name: string; unit: string; what: string }> = [
  { name: 'alloc_1block', unit: 'ops/s', what: 'MmAllocateChain of 1-block chains' },
  { name: 'free_1block', unit: 'ops/s', what: 'MmFreeChain of 1-block chains' },
  { name: 'alloc_8block', unit: 'ops/s', what: 'MmAllocateChain of 8-block chains' },
  { name: 'free_8block', unit: 'ops/s', what: 'MmFreeChain of 8-block chains' },
  { name: 'map_unmap_1block', unit: 'ops/s', what: 'map (4 pages, KPD) + unmap pairs' },
  { name: 'defrag_64mib_time', unit: 'ms', what: 'MmDefragment of 64 MiB of scattered movable chains' },
  { name: 'defrag_64mib_moved', unit: 'blocks', what: 'blocks that defragmentation moved' },
  { name: 'defrag_64mib_copy', unit: 'MiB/s', what: 'moved data per second of defragmentation' },
  { name: 'hheap_compact_time', unit: 'ms', what: 'hh_compact of 8192 small blocks, 60% freed' },
  { name: 'hheap_compact_moved', unit: 'blocks', what: 'small blocks that compaction moved' },
  { name: 'hheap_compact_rate', unit: 'blocks/ms', what: 'small blocks moved per ms of compaction' },
  { name: 'hheap_compact_returned', unit: 'pages', what: 'pages compaction gave back to the chain' },
  { name: 'swap_out', unit: 'blocks/s', what: '16 KiB blocks swapped out to the IDE disk (dirty: written)' },
  { name: 'swap_in', unit: 'blocks/s', what: 'blocks brought back by a page fault (read from the disk)' },
  { name: 'swap_out_clean', unit: 'blocks/s', what: 'clean blocks swapped out again (page clean: no write)' },
];

const FIGURE = /^bench (\S+) (\d+(?:\.\d+)?) (\S+)$/;

/** Decodes the console lines of a `bench` boot. */
export function parseBench(lines: readonly string[]): BenchReport {
  const report: BenchReport = { figures: [], done: false, malformed: [], faults: [] };
  for (const raw of lines) {
    const line = raw.trimEnd();
    const m = FIGURE.exec(line);
    if (m) {
      report.figures.push({ name: m[1], value: Number(m[2]), unit: m[3], line });
    } else if (line === 'bench: done') {
      report.done = true;
    } else if (line.startsWith('bench ')) {
      report.malformed.push(line);
    } else if (line.startsWith('FAULT:')) {
      report.faults.push(line);
    }
  }
  return report;
}
