// The live reader's rules without a guest: a kernel without a generation shows a live finding
// only once the next live snapshot confirms it (a level-1 description stands in for the kernel:
// a fake, since a real kernel cannot be made to show a chosen finding in one snapshot and not the
// next), and the page image a seqlock read decodes from serves what it copied and notes the rest.
// The seqlock itself is tested against the real guest in live-consistency.test.ts; here a
// hand-built image whose generation moves at every read while "running" (a fake for a guest that
// changes its memory manager every few microseconds, which the real guest does only now and then)
// shows the paused fallback: without a GuestPause every try is torn, with one the snapshot is
// kept, equal to the one built from the same memory standing still.

import * as assert from 'assert';
import { LiveReader, PageImage, TornSnapshotError, confirmedFindings } from '../src/mm/plugin/live-reader';
import { takeSnapshot } from '../src/mm/plugin/stop-snapshot';
import { GENERATION_PHYS, LAYOUT, MmImage, REGISTERS } from './fixtures/mm-image';
import type { DescribedState } from '../src/mm/model/described-state';
import type { FindingDocJson } from '../src/mm/model/snapshot-document';
import type { SnapshotReadings } from '../src/mm/plugin/stop-snapshot';

const finding = (kind: string, message = kind): FindingDocJson => ({ kind, severity: 'error', message });

/** Readings of a guest with paging off (nothing to walk): only the description's findings count. */
function readings(stop: number, live = true): SnapshotReadings {
  return { read: async (_a, n) => Buffer.alloc(n), registers: { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n }, stop, live };
}

/** A description (the fake) whose findings are given per call. */
function describing(rounds: FindingDocJson[][]): { describe: () => Promise<DescribedState> } {
  let i = 0;
  return { describe: async () => ({ processes: [], allocators: [], heaps: [], findings: rounds[i++] ?? [], errors: [] }) };
}

describe('live reader', () => {
  it('confirmedFindings keeps only the findings the previous live snapshot had, none at the first', () => {
    const a = finding('free-frame-mapped', 'frame 0x1000 is free and mapped');
    const b = finding('frame-leaked');
    const prev = new Set([JSON.stringify(a)]);
    assert.deepStrictEqual(confirmedFindings([a, b], undefined), []);
    assert.deepStrictEqual(confirmedFindings([a, b], prev), [a]);
    assert.deepStrictEqual(confirmedFindings([{ ...a, message: 'frame 0x2000 is free and mapped' }], prev), []);
  });

  it('without a generation, shows a live finding only from its second consecutive live snapshot', async () => {
    const a = finding('free-frame-mapped');
    const b = finding('frame-leaked');
    const knowledge = describing([[a], [a, b], [b], [], [a]]);
    const reader = new LiveReader();
    const shown: string[][] = [];
    for (let i = 1; i <= 5; i++) shown.push((await reader.take(readings(-i), knowledge)).document.findings.map((f) => f.kind));
    assert.deepStrictEqual(shown, [[], ['free-frame-mapped'], ['frame-leaked'], [], []]);
    assert.strictEqual(reader.stats.kept, 5);
    assert.strictEqual(reader.stats.checked, 0);
    assert.strictEqual(reader.stats.unconfirmedHeld, 3); // a at 1, b at 2, a at 5
  });

  it('a stop between two live snapshots breaks the run: nothing is confirmed across it', async () => {
    const a = finding('free-frame-mapped');
    const knowledge = describing([[a], [a], [a]]);
    const reader = new LiveReader();
    await reader.take(readings(-1), knowledge);
    reader.resetConfirmation();
    assert.deepStrictEqual((await reader.take(readings(-2), knowledge)).document.findings, []);
    assert.deepStrictEqual((await reader.take(readings(-3), knowledge)).document.findings.map((f) => f.kind), ['free-frame-mapped']);
  });

  it('a page image serves the pages it copied and notes the ones it lacked', async () => {
    const memory = Buffer.alloc(4 * 4096);
    for (let i = 0; i < memory.length; i++) memory[i] = (i * 7) & 0xff;
    const reads: [number, number][] = [];
    const read = async (a: number, n: number): Promise<Buffer> => {
      reads.push([a, n]);
      return Buffer.from(memory.subarray(a, a + n));
    };
    const image = await PageImage.capture(read, new Set([1, 2]));
    assert.deepStrictEqual(reads, [[4096, 8192]], 'pages 1 and 2 are one run, read at once');
    memory.fill(0); // the guest changes its memory after the copy: the image does not
    const got = await image.reader(4096 + 10, 5000);
    assert.deepStrictEqual([...got.subarray(0, 4)], [0, 1, 2, 3].map((k) => ((4096 + 10 + k) * 7) & 0xff));
    assert.strictEqual(image.missing.size, 0);
    await image.reader(3 * 4096 + 4, 4);
    assert.deepStrictEqual([...image.missing], [3]);
    assert.deepStrictEqual([...image.touched].sort(), [1, 2, 3]);
  });

  describe('a guest that is always mid-update while it runs (fake: the generation moves at every read)', () => {
    function churningGuest(): { img: MmImage; readings: SnapshotReadings; pause: (purpose: 'copy' | 'build') => Promise<() => Promise<void>>; pauses: () => number } {
      const img = new MmImage(8, true);
      const a = img.addChain([200, 201]);
      img.mapChain(a, 0xd0000000);
      let running = true;
      let generation = 0;
      let pauses = 0;
      const read = async (address: number, n: number): Promise<Buffer> => {
        if (running && address <= GENERATION_PHYS && GENERATION_PHYS < address + n) {
          generation++; // odd, even, odd, ...: never the same twice while it runs
          img.mem.writeUInt32LE(generation, GENERATION_PHYS);
        }
        return Buffer.from(img.mem.subarray(address, address + n));
      };
      const registers = { cr0: BigInt(REGISTERS.cr0), cr3: BigInt(REGISTERS.cr3), cr4: BigInt(REGISTERS.cr4), efer: 0n };
      const pause = async (_purpose: 'copy' | 'build'): Promise<() => Promise<void>> => {
        pauses++;
        running = false;
        if (generation & 1) generation++; // it stops between updates
        img.mem.writeUInt32LE(generation, GENERATION_PHYS);
        return async () => {
          running = true;
        };
      };
      return { img, readings: { read, registers, stop: -1, live: true }, pause, pauses: () => pauses };
    }
    const knowledge = { descriptor: { descriptorPhys: LAYOUT.descriptor } };

    it('without a pause every try is torn and the live snapshot is dropped', async () => {
      const g = churningGuest();
      const reader = new LiveReader();
      await assert.rejects(reader.take(g.readings, knowledge), TornSnapshotError);
      assert.strictEqual(reader.stats.dropped, 1);
      assert.strictEqual(reader.stats.kept, 0);
    });

    it('with a pause it is kept: built while the guest stood still when the copy lacked pages, then from a paused copy', async () => {
      const g = churningGuest();
      const reader = new LiveReader();
      const first = await reader.take(g.readings, knowledge, g.pause);
      assert.strictEqual(reader.stats.kept, 1);
      assert.strictEqual(reader.stats.pausedBuilds, 1, 'the first copy knows no pages: the build runs paused');
      const still = await takeSnapshot({ ...g.readings, read: async (a, n) => Buffer.from(g.img.mem.subarray(a, a + n)), live: false }, knowledge);
      assert.deepStrictEqual(first.guest?.chains, still.guest?.chains);
      assert.deepStrictEqual(first.document.findings, still.document.findings);
      const pausesBefore = g.pauses();
      await reader.take(g.readings, knowledge, g.pause);
      assert.strictEqual(reader.stats.kept, 2);
      assert.strictEqual(reader.stats.pausedBuilds, 1, 'the second copy has every page: decoded after the guest resumed');
      assert.strictEqual(g.pauses() - pausesBefore, 1);
    });
  });
});
