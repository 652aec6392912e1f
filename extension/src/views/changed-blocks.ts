// Which blocks changed between two snapshots: a different state character in the block map or a
// different owning chain. The Physical memory view outlines them.

import { SnapshotJson } from '../../../debug-adapter/src/mm/snapshot-json';

export function changedBlocks(snap: SnapshotJson, previous: SnapshotJson | undefined): number[] {
  if (!previous) return [];
  const owner = (s: SnapshotJson): Int32Array => {
    const o = new Int32Array(s.blocks.map.length).fill(-1);
    for (const c of s.chains) for (const b of c.blocks) if (b < o.length) o[b] = c.owner.seq;
    return o;
  };
  const a = owner(previous);
  const b = owner(snap);
  const out: number[] = [];
  for (let i = 0; i < snap.blocks.map.length; i++) if (snap.blocks.map[i] !== previous.blocks.map[i] || a[i] !== b[i]) out.push(i);
  return out;
}
