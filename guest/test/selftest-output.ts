// Pure decoders of the guest's console output (see the guest contract): the selftest
// plan, result and summary lines, the `mm: N blocks` line and demo heartbeats.
// No I/O here; qemu-run.ts produces the lines.

/** One `test NAME ... ok` or `test NAME ... FAIL: reason` line. */
export interface SelftestCase {
  name: string;
  ok: boolean;
  /** The failure reason (empty when ok or when the guest gave none). */
  reason: string;
  /** The console line as printed. */
  line: string;
}

/** Everything a selftest run printed, decoded. */
export interface SelftestReport {
  /** N from `selftest: plan N`, or null if that line is missing. */
  plan: number | null;
  cases: SelftestCase[];
  /** Lines starting with `test ` that do not follow the contract. */
  malformed: string[];
  /** P and F from `selftest: P passed, F failed`, or null if missing. */
  summary: { passed: number; failed: number } | null;
  /** Lines starting with `FAULT:` (CPU exceptions). */
  faults: string[];
}

const PLAN = /^selftest: plan (\d+)$/;
const CASE = /^test (\S+) \.\.\. (ok|FAIL(?::\s?(.*))?)$/;
const SUMMARY = /^selftest: (\d+) passed, (\d+) failed$/;
const MM_BLOCKS = /^mm: (\d+) blocks of 16 KiB, (\d+) free\b/;
const HEARTBEAT = /^heartbeat (\d+)(?:\s|$)/;

/** Decodes the console lines of a `selftest` boot. */
export function parseSelftest(lines: readonly string[]): SelftestReport {
  const report: SelftestReport = { plan: null, cases: [], malformed: [], summary: null, faults: [] };
  for (const raw of lines) {
    const line = raw.trimEnd();
    let m: RegExpExecArray | null;
    if ((m = PLAN.exec(line))) {
      report.plan = Number(m[1]);
    } else if ((m = SUMMARY.exec(line))) {
      report.summary = { passed: Number(m[1]), failed: Number(m[2]) };
    } else if ((m = CASE.exec(line))) {
      report.cases.push({ name: m[1], ok: m[2] === 'ok', reason: m[3] ?? '', line });
    } else if (line.startsWith('test ')) {
      report.malformed.push(line);
    } else if (line.startsWith('FAULT:')) {
      report.faults.push(line);
    }
  }
  return report;
}

/** The `mm: N blocks of 16 KiB, F free` line, decoded. */
export interface MmBlocksLine {
  blocks: number;
  free: number;
}

/** Returns the first `mm: N blocks of 16 KiB, F free[, anything more]` line, or null if there is none. */
export function parseMmBlocks(lines: readonly string[]): MmBlocksLine | null {
  for (const line of lines) {
    const m = MM_BLOCKS.exec(line.trimEnd());
    if (m) return { blocks: Number(m[1]), free: Number(m[2]) };
  }
  return null;
}

/** Returns N of a `heartbeat N ...` line, or null if the line is not a heartbeat. */
export function parseHeartbeat(line: string): number | null {
  const m = HEARTBEAT.exec(line);
  return m ? Number(m[1]) : null;
}

/** The last line that is not blank, or '' if there is none. */
export function lastNonBlankLine(lines: readonly string[]): string {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].trim() !== '') return lines[i].trimEnd();
  }
  return '';
}
