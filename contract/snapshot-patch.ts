// Patches between two snapshot documents, as the live feed sends them: top-level fields replaced
// when they differ, chains and processes patched by key, the `blocks` object field by field with
// its one-character-per-block `map` string patched by splices. Pure (no Node or DOM), used by the
// server to make deltas and by every client (dashboard, webview, language server) to apply them.

import type { DocumentPatch, ItemKey, JsonObject, KeyedArrayPatch, StringPatch } from './live-protocol.js';

/** Which fields get a finer patch than "replace". */
export interface PatchPlan {
  /** Arrays of objects identified by a key field (a number or a string). */
  readonly keyed: { readonly [field: string]: string };
  /** Objects patched field by field; the listed string fields are patched by splices. */
  readonly objects: { readonly [field: string]: readonly string[] };
}

/** The plan for docs/snapshot-schema.md documents (schema 3; our guest's sections too). */
export const SNAPSHOT_PATCH_PLAN: PatchPlan = {
  keyed: { chains: 'id', processes: 'pid', spaces: 'id' },
  objects: { blocks: ['map'], frames: [] },
};

/** The document cannot take this patch (it was made against another snapshot). */
export class PatchMismatchError extends Error {
  constructor(detail: string) {
    super(`The delta does not fit the snapshot held: ${detail}; ask the feed for a full snapshot (send {"type":"resync"}).`);
    this.name = 'PatchMismatchError';
  }
}

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keyOf(item: unknown, key: string): ItemKey {
  const k = isObject(item) ? item[key] : undefined;
  if (typeof k !== 'number' && typeof k !== 'string') throw new PatchMismatchError(`an item has no "${key}" (a number or a string)`);
  return k;
}

/** Splices that turn string `a` into `b` (same length: changed runs; otherwise one splice of all of b). */
export function makeStringPatch(a: string, b: string, maxGap = 8): StringPatch {
  if (a.length !== b.length) return { length: b.length, splices: [[0, b]] };
  const splices: [number, string][] = [];
  let i = 0;
  while (i < b.length) {
    if (a.charCodeAt(i) === b.charCodeAt(i)) {
      i++;
      continue;
    }
    let end = i + 1;
    // Extend the run over short stretches of equal characters so splices stay few.
    for (let j = end; j < b.length && j - end <= maxGap; j++) if (a.charCodeAt(j) !== b.charCodeAt(j)) end = j + 1;
    splices.push([i, b.slice(i, end)]);
    i = end;
  }
  return { length: b.length, splices };
}

export function applyStringPatch(a: string, p: StringPatch): string {
  let s = a;
  for (const [offset, text] of p.splices) {
    if (offset < 0 || offset > s.length) throw new PatchMismatchError(`a splice at ${offset} lies outside a string of ${s.length}`);
    s = s.slice(0, offset) + text + s.slice(offset + text.length);
  }
  if (s.length !== p.length) s = s.slice(0, p.length);
  if (s.length !== p.length) throw new PatchMismatchError(`the patched string has ${s.length} characters, not ${p.length}`);
  return s;
}

/** Every item has the key, and no two the same one (a broken description may list a pid twice: then the array is replaced whole). */
function uniquelyKeyed(items: readonly unknown[], key: string): boolean {
  const keys = new Set<unknown>();
  for (const item of items) {
    const k = isObject(item) ? item[key] : undefined;
    if ((typeof k !== 'number' && typeof k !== 'string') || keys.has(k)) return false;
    keys.add(k);
  }
  return true;
}

function makeKeyedPatch(a: readonly unknown[], b: readonly unknown[], key: string): KeyedArrayPatch | undefined {
  const before = new Map<ItemKey, unknown>();
  for (const item of a) before.set(keyOf(item, key), item);
  const after = new Set<ItemKey>();
  const upsert: JsonObject[] = [];
  const order: ItemKey[] = [];
  for (const item of b) {
    const k = keyOf(item, key);
    after.add(k);
    order.push(k);
    if (!before.has(k) || !same(before.get(k), item)) upsert.push(item as JsonObject);
  }
  const remove = [...before.keys()].filter((k) => !after.has(k));
  const sameOrder = a.length === b.length && a.every((item, i) => keyOf(item, key) === order[i]);
  if (!upsert.length && !remove.length && sameOrder) return undefined;
  return { key, upsert, remove, order };
}

function applyKeyedPatch(a: unknown, p: KeyedArrayPatch): JsonObject[] {
  if (!Array.isArray(a)) throw new PatchMismatchError(`a keyed field is not an array`);
  const items = new Map<ItemKey, JsonObject>();
  for (const item of a) items.set(keyOf(item, p.key), item as JsonObject);
  for (const k of p.remove) items.delete(k);
  for (const item of p.upsert) items.set(keyOf(item, p.key), item);
  return p.order.map((k) => {
    const item = items.get(k);
    if (!item) throw new PatchMismatchError(`item ${p.key}=${k} is neither held nor sent`);
    return item;
  });
}

/** The patch from `prev` to `next`. applyPatch(prev, makePatch(prev, next)) deep-equals next. */
export function makePatch(previous: object, nextDocument: object, plan: PatchPlan = SNAPSHOT_PATCH_PLAN): DocumentPatch {
  const prev = previous as JsonObject;
  const next = nextDocument as JsonObject;
  const set: Record<string, unknown> = {};
  const keyed: Record<string, KeyedArrayPatch> = {};
  const objects: Record<string, { set: JsonObject; strings: { [field: string]: StringPatch } }> = {};
  for (const field of Object.keys(next)) {
    const a = prev[field];
    const b = next[field];
    if (a === b) continue;
    const key = plan.keyed[field];
    const strings = plan.objects[field];
    if (key !== undefined && Array.isArray(a) && Array.isArray(b) && uniquelyKeyed(a, key) && uniquelyKeyed(b, key)) {
      const p = makeKeyedPatch(a, b, key);
      if (p) keyed[field] = p;
    } else if (strings !== undefined && isObject(a) && isObject(b)) {
      const oset: Record<string, unknown> = {};
      const ostrings: Record<string, StringPatch> = {};
      for (const f of Object.keys(b)) {
        const x = a[f];
        const y = b[f];
        if (strings.includes(f) && typeof x === 'string' && typeof y === 'string') {
          if (x !== y) ostrings[f] = makeStringPatch(x, y);
        } else if (!same(x, y)) {
          oset[f] = y;
        }
      }
      if (Object.keys(oset).length || Object.keys(ostrings).length) objects[field] = { set: oset, strings: ostrings };
    } else if (!same(a, b)) {
      set[field] = b;
    }
  }
  // Optional fields the next document no longer has (a description's errors fixed, tracing off).
  const unset = Object.keys(prev).filter((f) => !(f in next));
  return unset.length ? { set, keyed, objects, unset } : { set, keyed, objects };
}

/** Applies a patch to a document (the input is not modified). Throws PatchMismatchError. */
export function applyPatch<D extends object>(document: D, patch: DocumentPatch): D {
  const doc = document as unknown as JsonObject;
  const out: Record<string, unknown> = { ...doc, ...patch.set };
  for (const field of patch.unset ?? []) delete out[field];
  for (const [field, p] of Object.entries(patch.keyed)) out[field] = applyKeyedPatch(doc[field], p);
  for (const [field, p] of Object.entries(patch.objects)) {
    const base = doc[field];
    if (!isObject(base)) throw new PatchMismatchError(`field "${field}" is not an object`);
    const o: Record<string, unknown> = { ...base, ...p.set };
    for (const [f, sp] of Object.entries(p.strings)) {
      const s = base[f];
      if (typeof s !== 'string') throw new PatchMismatchError(`field "${field}.${f}" is not a string`);
      o[f] = applyStringPatch(s, sp);
    }
    out[field] = o;
  }
  return out as D;
}

/** True when the patch changes nothing. */
export function isEmptyPatch(p: DocumentPatch): boolean {
  return !Object.keys(p.set).length && !Object.keys(p.keyed).length && !Object.keys(p.objects).length && !p.unset?.length;
}
