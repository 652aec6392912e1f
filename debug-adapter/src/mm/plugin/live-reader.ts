// LiveReader: the one way a snapshot is taken while the guest runs (the session's live
// snapshots in MmService and `mmscope serve`'s LiveRefresher), so that a live snapshot is never
// a torn read shown as findings.
//
// - Our guest with a generation (mm_debug_info version 3, generation_addr != 0): a seqlock read.
//   The generation is read, the pages the previous live build read are copied (PageImage: one
//   read per contiguous run, about a millisecond), the generation is read again through the same
//   PhysicalReader; the copy is kept only when both reads are the same even number, and the
//   snapshot is decoded from it (so the seqlock need not cover the decoding, which takes far
//   longer than the guest goes without a change). A build that needed pages the copy lacked is
//   redone with them. A torn copy is retried, at most `tries` times; if every try was torn the
//   snapshot is dropped (TornSnapshotError: counted, never shown).
//   A guest that changes its memory manager far more often than a copy takes (a CPU-bound
//   allocator: the generation moves every few microseconds) tears almost every copy. When the
//   caller can pause the guest (`GuestPause`: our guest's hold, see guestHold, or the refresher's
//   brief gdbstub stop), the reader
//   pauses it after OPTIMISTIC_TRIES torn copies, copies the image while it stands still (only the
//   copy: decoding runs after the guest resumed), and resumes it; a pause that lands inside an
//   update (odd generation) resumes at once and tries again.
// - Any kernel without one (level 0, level 1, a descriptor whose generation_addr is 0): a finding
//   of a live snapshot is shown only once the next live snapshot confirms it (the same finding in
//   two consecutive live snapshots); the others are held back (counted).
// Stop snapshots never come here: they are shown as built.

import type { FindingDocJson } from '../model/snapshot-document';
import type { Finding } from '../model/findings';
import { PhysicalReader, readDescriptor } from '../model/snapshot';
import { KernelKnowledge, SnapshotReadings, StopSnapshot, takeSnapshot } from './stop-snapshot';

/** Tries of one seqlock read before the live snapshot is dropped. */
export const LIVE_READ_TRIES = 16;
/** Builds whose pages the next copies take. */
const PAGE_MEMORY = 64;
/** Torn copies taken while the guest runs before a `GuestPause` (when given) is used. */
export const OPTIMISTIC_TRIES = 2;

/**
 * Makes the guest stand still; resolves with the function that lets it go on. `purpose`: for a
 * copy (a millisecond or so) or for a whole build (tens of milliseconds). The seqlock check
 * still decides whether what was read is kept: a pause is only a help.
 */
export type GuestPause = (purpose: 'copy' | 'build') => Promise<() => Promise<void>>;

/** Writes one 32-bit signal word to guest-physical memory while the guest runs (GuestMemory.signalPhys). */
export type SignalWriter = (address: number, value: number) => Promise<unknown>;

/** How long a hold request waits for the guest's next consistent point before the copy goes on without it. */
const HOLD_WAIT_MS = 5;

/**
 * The hold of our guest (guest/include/generation.h, mm_debug_info.hold_addr): a GuestPause that
 * stops no vCPU. It writes request = 1; the guest's next outermost mm_write_end, right after the
 * generation became even, waits with interrupts off (at most MM_HOLD_MAX_US) while `held` reads 1;
 * the resume writes request = 0. A guest that makes no memory-manager change within HOLD_WAIT_MS
 * is not held (its memory manager is idle: the copy is most likely consistent as it is).
 * Undefined when the descriptor names no hold.
 */
export async function guestHold(read: PhysicalReader, signal: SignalWriter, descriptorPhys: number): Promise<GuestPause | undefined> {
  const info = await readDescriptor(read, descriptorPhys).catch(() => undefined);
  if (!info || !info.holdAddr) return undefined;
  const at = (info.holdAddr - info.kernelVbase) >>> 0;
  if (at >= info.lowmapEnd) return undefined;
  return async () => {
    await signal(at, 1);
    const deadline = Date.now() + HOLD_WAIT_MS;
    while ((await read(at + 4, 4)).readUInt32LE(0) !== 1 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    return async () => void (await signal(at, 0));
  };
}

export interface LiveReaderOptions {
  /** Tries per live snapshot (default LIVE_READ_TRIES). */
  readonly tries?: number;
  /**
   * Off: the generation is not looked at (every build is kept and counted as checked-off). Only
   * for showing what the check prevents (the consistency test); never set by the product.
   */
  readonly checkGeneration?: boolean;
}

export interface LiveReadStats {
  /** Live snapshots kept. */
  kept: number;
  /** Builds thrown away because the generation was odd or changed (each one retried). */
  tornRetries: number;
  /** Live snapshots given up after every try was torn (not shown). */
  dropped: number;
  /** Kept snapshots read under the seqlock (the rest: a kernel without a generation). */
  checked: number;
  /** Builds redone because they read pages the copied image lacked (not torn: the image grows). */
  imageMisses: number;
  /** Findings of unchecked live snapshots held back until the next one confirms them. */
  unconfirmedHeld: number;
  /** Copies taken with the guest paused (after OPTIMISTIC_TRIES torn copies). */
  pausedCopies: number;
  /** Kept snapshots built with the guest paused (a paused copy lacked pages the build read). */
  pausedBuilds: number;
  /** How long the last build from a copy took, ms (the decoding: what a paused build holds the guest for). */
  lastBuildMs: number;
}

/** Every try of a live snapshot caught the memory manager changing its structures. */
export class TornSnapshotError extends Error {
  constructor(readonly tries: number) {
    super(`the memory manager was changing its structures during each of ${tries} live reads; this live snapshot is dropped`);
    this.name = 'TornSnapshotError';
  }
}

/** A finding's identity across snapshots: everything it says (its site included). */
const findingKey = (f: FindingDocJson | Finding): string => JSON.stringify(f, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

/**
 * Keeps, of this snapshot's findings, those the previous live snapshot also had (pure). `previous`
 * undefined: none is confirmed yet.
 */
export function confirmedFindings<F extends FindingDocJson | Finding>(findings: readonly F[], previous: ReadonlySet<string> | undefined): F[] {
  return previous ? findings.filter((f) => previous.has(findingKey(f))) : [];
}

export class LiveReader {
  readonly stats: LiveReadStats = { kept: 0, tornRetries: 0, dropped: 0, checked: 0, imageMisses: 0, unconfirmedHeld: 0, pausedCopies: 0, pausedBuilds: 0, lastBuildMs: 0 };
  private readonly tries: number;
  private readonly check: boolean;
  /**
   * The 4 KiB pages the last PAGE_MEMORY builds read, each with the number of the last build
   * that read it: copied under the seqlock before the next build. A guest that keeps allocating
   * reads other owner records and page tables each time; a page dropped too soon costs a whole
   * build, one kept for ever grows without bound.
   */
  private readonly pages = new Map<number, number>();
  private builds = 0;
  /** The findings of the previous unchecked live snapshot (document and guest forms). */
  private previous: { document: Set<string>; guest: Set<string> } | undefined;

  constructor(options: LiveReaderOptions = {}) {
    this.tries = Math.max(1, options.tries ?? LIVE_READ_TRIES);
    this.check = options.checkGeneration ?? true;
  }

  /** A stop came between: the next live snapshot confirms nothing it did not see itself. */
  resetConfirmation(): void {
    this.previous = undefined;
  }

  /**
   * One live snapshot of these readings (readings.live should be true). Throws TornSnapshotError
   * when every try was torn; any other error of the build is the build's. `pauseGuest`: how to stop
   * the guest for a copy once OPTIMISTIC_TRIES copies were torn (none: every try runs live).
   */
  async take(readings: SnapshotReadings, knowledge: KernelKnowledge = {}, pauseGuest?: GuestPause): Promise<StopSnapshot> {
    const generationPhys = this.check ? await generationAddress(readings.read, knowledge) : undefined;
    if (generationPhys === undefined) {
      const snap = await takeSnapshot(readings, knowledge);
      this.stats.kept++;
      return this.check ? this.confirm(snap) : snap;
    }
    const generation = async (): Promise<number> => (await readings.read(generationPhys, 4)).readUInt32LE(0);
    // Modes, tried in order: a copy while the guest runs (OPTIMISTIC_TRIES times); with a
    // GuestPause, a copy while it stands still, decoded after it resumed; and, once such a
    // copy lacked pages (the guest keeps making new page tables), a build while it stands still
    // (its reads of pages the copy lacks are then as consistent as the copy).
    let buildPaused = false;
    for (let attempt = 0; attempt < this.tries; attempt++) {
      const paused = pauseGuest !== undefined && attempt >= OPTIMISTIC_TRIES;
      const resume = paused ? await pauseGuest(buildPaused ? 'build' : 'copy') : undefined;
      let image: PageImage | undefined;
      let snap: StopSnapshot | undefined;
      let failure: unknown;
      let consistent = false;
      try {
        // The seqlock covers the copy of the pages the build reads (a millisecond or so); the
        // decoding runs over that one consistent image.
        const before = await generation();
        image = before & 1 ? undefined : await PageImage.capture(readings.read, this.pages.keys());
        if (image && buildPaused) snap = await this.build(readings, image, knowledge).catch((e: unknown) => ((failure = e), undefined));
        consistent = image !== undefined && (await generation()) === before;
      } finally {
        await resume?.();
      }
      if (!image || !consistent) {
        this.stats.tornRetries++;
        await pause(attempt);
        continue;
      }
      if (paused) this.stats.pausedCopies++;
      if (!buildPaused) {
        try {
          snap = await this.build(readings, image, knowledge);
        } catch (e) {
          failure = e;
        }
      }
      this.remember(image.touched);
      if (image.missing.size && !buildPaused) {
        // The build read pages the image lacked (the first snapshot, or the structures grew): they
        // were read live, so this build is not kept; the next try copies them too, and a paused
        // next try builds while the guest stands still.
        this.stats.imageMisses++;
        buildPaused = paused || attempt + 1 >= OPTIMISTIC_TRIES;
        continue;
      }
      if (!snap) throw failure; // a consistent image that does not decode: a real error
      this.stats.kept++;
      this.stats.checked++;
      if (buildPaused) this.stats.pausedBuilds++;
      this.previous = undefined;
      return snap;
    }
    this.stats.dropped++;
    throw new TornSnapshotError(this.tries);
  }

  /** A snapshot decoded from `image` (timed: lastBuildMs). */
  private async build(readings: SnapshotReadings, image: PageImage, knowledge: KernelKnowledge): Promise<StopSnapshot> {
    const started = performance.now();
    try {
      return await takeSnapshot({ ...readings, read: image.reader }, knowledge);
    } finally {
      this.stats.lastBuildMs = performance.now() - started;
    }
  }

  /** Keeps `touched` among the pages the next copies take; forgets pages no build read for PAGE_MEMORY builds. */
  private remember(touched: ReadonlySet<number>): void {
    const build = ++this.builds;
    for (const p of touched) this.pages.set(p, build);
    if (build % 16 === 0) for (const [p, last] of this.pages) if (build - last > PAGE_MEMORY) this.pages.delete(p);
  }

  /** The unchecked rule: only findings the previous live snapshot also had are shown. */
  private confirm(snap: StopSnapshot): StopSnapshot {
    const prev = this.previous;
    this.previous = { document: new Set(snap.document.findings.map(findingKey)), guest: new Set((snap.guest?.findings ?? []).map(findingKey)) };
    const findings = confirmedFindings(snap.document.findings, prev?.document);
    this.stats.unconfirmedHeld += snap.document.findings.length - findings.length;
    const document = findings.length === snap.document.findings.length ? snap.document : { ...snap.document, findings };
    if (!snap.guest) return { document };
    const guestFindings = confirmedFindings(snap.guest.findings, prev?.guest);
    const guest = guestFindings.length === snap.guest.findings.length ? snap.guest : { ...snap.guest, findings: guestFindings };
    return { document, guest };
  }
}

const PAGE = 4096;

/**
 * A copy of some guest pages taken in one go, and a PhysicalReader over it: a read of a page the
 * copy lacks is served live and noted in `missing`; every page read is noted in `touched`.
 */
export class PageImage {
  readonly missing = new Set<number>();
  readonly touched = new Set<number>();
  private constructor(private readonly pages: ReadonlyMap<number, Buffer>, private readonly live: PhysicalReader) {}

  /** Copies `pages` (page numbers) through `read`, contiguous runs in one read each. */
  static async capture(read: PhysicalReader, pages: Iterable<number>): Promise<PageImage> {
    const sorted = [...pages].sort((a, b) => a - b);
    const runs: { first: number; count: number }[] = [];
    for (const p of sorted) {
      const last = runs[runs.length - 1];
      if (last && last.first + last.count === p) last.count++;
      else runs.push({ first: p, count: 1 });
    }
    const bufs = await Promise.all(runs.map((r) => read(r.first * PAGE, r.count * PAGE)));
    const map = new Map<number, Buffer>();
    runs.forEach((r, i) => {
      for (let k = 0; k < r.count; k++) map.set(r.first + k, bufs[i].subarray(k * PAGE, (k + 1) * PAGE));
    });
    return new PageImage(map, read);
  }

  readonly reader: PhysicalReader = async (address, length) => {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const a = address + done;
      const page = Math.floor(a / PAGE);
      const offset = a - page * PAGE;
      const n = Math.min(PAGE - offset, length - done);
      this.touched.add(page);
      let bytes = this.pages.get(page);
      if (!bytes) {
        this.missing.add(page);
        bytes = await this.live(page * PAGE, PAGE).catch(() => undefined);
        if (!bytes) {
          // outside what the live reader serves: let it say why, for the exact range
          (await this.live(a, n)).copy(out, done);
          done += n;
          continue;
        }
      }
      bytes.copy(out, done, offset, offset + n);
      done += n;
    }
    return out;
  };
}

/** Physical address of our guest's generation counter, or undefined (no descriptor, none in it, not yet filled in). */
async function generationAddress(read: PhysicalReader, knowledge: KernelKnowledge): Promise<number | undefined> {
  const d = knowledge.descriptor;
  return d ? generationPhysOf(read, d.descriptorPhys) : undefined;
}

/** Our guest's generation now (odd: the memory manager is changing its structures), or undefined when it keeps none. */
export async function readGeneration(read: PhysicalReader, descriptorPhys: number): Promise<number | undefined> {
  const at = await generationPhysOf(read, descriptorPhys);
  return at === undefined ? undefined : (await read(at, 4)).readUInt32LE(0);
}

async function generationPhysOf(read: PhysicalReader, descriptorPhys: number): Promise<number | undefined> {
  const info = await readDescriptor(read, descriptorPhys).catch(() => undefined);
  if (!info || info.generationAddr === 0) return undefined;
  const offset = (info.generationAddr - info.kernelVbase) >>> 0;
  return offset < info.lowmapEnd ? offset : undefined;
}

/** Lets the guest finish its update: no wait at the first retry, then 1 ms. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => (attempt === 0 ? setImmediate(resolve) : setTimeout(resolve, 1)));
}
