// Which blocks changed between two snapshots: a different state character in the block map or a
// different owning chain. The Physical memory view outlines them.

import { ViewSnapshot } from '../view-snapshot';

export function changedBlocks(snap: ViewSnapshot, previous: ViewSnapshot | undefined): number[] {
  if (!previous?.blocks || !snap.blocks) return [];
  const owner = (s: ViewSnapshot): Int32Array => {
    const o = new Int32Array(s.blocks?.map.length ?? 0).fill(-1);
    for (const c of s.chains ?? []) for (const b of c.blocks) if (b < o.length) o[b] = c.owner.seq;
    return o;
  };
  const a = owner(previous);
  const b = owner(snap);
  const out: number[] = [];
  for (let i = 0; i < snap.blocks.map.length; i++) if (snap.blocks.map[i] !== previous.blocks?.map[i] || a[i] !== b[i]) out.push(i);
  return out;
}
