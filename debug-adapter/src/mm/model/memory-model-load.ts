// Loads a memory-model description (docs/memory-model.md) from the `memoryModel` launch attribute
// or `--model FILE`: an object, a path to a JSON file (relative to baseDir), or the name of a
// built-in description. Checks every key (unknown keys, wrong types, missing keys) and returns
// the valid parts with one DescriptionErrorJson sentence per mistake; never throws.

import * as fs from 'fs';
import * as path from 'path';
import type { DescriptionErrorJson } from './snapshot-document';
import type { AllocatorDescription, MemoryModelDescription } from './memory-model';
import { BUILTIN_DESCRIPTIONS } from './guest-description';
import { HEAP_SPEC, KeyKind, PROCESSES_SPEC, PartSpec, SHAPE_SPECS, TOP_KEYS, TRACING_ALLOC_SPEC, TRACING_FREE_SPEC } from './memory-model-keys';

export interface LoadedMemoryModel {
  readonly description?: MemoryModelDescription;
  readonly errors: DescriptionErrorJson[];
  /** Where it came from: the file's path, `builtin:<name>`, or `launch configuration`. */
  readonly source?: string;
}

const EXPR: KeyKind = { kind: 'expression', doc: '' };
const SHAPES = SHAPE_SPECS;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keyError(at: string, key: string, kind: KeyKind, value: unknown): string | undefined {
  switch (kind.kind) {
    case 'expression':
      if (typeof value === 'string') return value.trim() ? undefined : `${at}.${key} is an empty expression; write a C expression or remove the key.`;
      if (typeof value === 'number') return Number.isSafeInteger(value) ? undefined : `${at}.${key} is ${value}, which is not an exact integer; write large or fractional values as an expression string ("0x…").`;
      return `${at}.${key} must be an expression (a string) or a number, not ${typeOf(value)}.`;
    case 'string':
      return typeof value === 'string' && value.length > 0 ? undefined : `${at}.${key} must be a non-empty string, not ${typeOf(value)}.`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `${at}.${key} must be true or false, not ${typeOf(value)}.`;
    case 'number': {
      if (typeof value !== 'number') return `${at}.${key} must be a number, not ${typeOf(value)}.`;
      if (kind.values && !kind.values.includes(value)) return `${at}.${key} is ${value}; it must be one of ${kind.values.join(', ')}.`;
      const bad = !Number.isSafeInteger(value) ? 'an integer'
        : kind.multipleOf !== undefined && value % kind.multipleOf !== 0 ? `a multiple of ${kind.multipleOf}`
          : kind.minimum !== undefined && value < kind.minimum ? `at least ${kind.minimum}`
            : kind.maximum !== undefined && value > kind.maximum ? `at most ${kind.maximum}` : undefined;
      return bad ? `${at}.${key} is ${value}; it must be ${bad}.` : undefined;
    }
    case 'enum':
      return typeof value === 'string' && kind.values.includes(value) ? undefined : `${at}.${key} is ${JSON.stringify(value)}; it must be one of ${kind.values.map((v) => `"${v}"`).join(', ')}.`;
    case 'expressions':
      if (!Array.isArray(value) || value.length === 0) return `${at}.${key} must be a non-empty array of expressions (numbers or strings), not ${typeOf(value)}.`;
      for (let i = 0; i < value.length; i++) {
        const e = keyError(`${at}.${key}`, `[${i}]`, EXPR, value[i]);
        if (e) return e.replace(`${at}.${key}.[${i}]`, `${at}.${key}[${i}]`);
      }
      return undefined;
  }
}

/**
 * Checks one part against its spec. Returns the part with its valid keys (unknown keys and
 * wrongly typed optional keys dropped), or undefined when a required key is missing or wrong.
 */
function checkPart(value: unknown, at: string, spec: PartSpec, errors: DescriptionErrorJson[]): Record<string, unknown> | undefined {
  if (!isObject(value)) {
    errors.push({ path: at, message: `${at} must be an object describing ${spec.what}, not ${typeOf(value)}.` });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  let ok = true;
  for (const [key, v] of Object.entries(value)) {
    const kind = spec.keys[key];
    if (!kind) {
      errors.push({ path: at, message: `${at}: unknown key "${key}"; the keys of ${spec.what} are ${Object.keys(spec.keys).join(', ')}.` });
      continue;
    }
    const bad = keyError(at, key, kind, v);
    if (bad) {
      errors.push({ path: `${at}.${key}`, ...(typeof v === 'string' ? { expression: v } : {}), message: bad });
      if (spec.required.includes(key)) ok = false;
      continue;
    }
    out[key] = v;
  }
  for (const key of spec.required) {
    if (!(key in value)) {
      const hint = spec.hints?.[key];
      errors.push({ path: `${at}.${key}`, message: `${at}.${key} is missing${hint ? `; ${hint}` : `; ${spec.what} needs it`}.` });
      ok = false;
    }
  }
  for (const group of spec.oneOf ?? []) {
    const present = group.filter((k) => k in value);
    if (present.length !== 1) {
      errors.push({ path: at, message: present.length === 0
        ? `${at} needs one of ${group.map((k) => `"${k}"`).join(' or ')}.`
        : `${at} has both ${present.map((k) => `"${k}"`).join(' and ')}; give only one.` });
      ok = false;
    } else if (!(present[0] in out)) ok = false;
  }
  return ok ? out : undefined;
}

function checkTracing(value: unknown, errors: DescriptionErrorJson[]): MemoryModelDescription['tracing'] {
  const alloc = TRACING_ALLOC_SPEC;
  const free = TRACING_FREE_SPEC;
  if (!isObject(value)) {
    errors.push({ path: 'tracing', message: `tracing must be an object with "alloc" and "free", not ${typeOf(value)}.` });
    return undefined;
  }
  for (const key of Object.keys(value)) if (key !== 'alloc' && key !== 'free') errors.push({ path: 'tracing', message: `tracing: unknown key "${key}"; the keys of tracing are alloc, free.` });
  let ok = true;
  for (const key of ['alloc', 'free']) if (!(key in value)) { errors.push({ path: `tracing.${key}`, message: `tracing.${key} is missing; tracing needs both the allocation and the free function.` }); ok = false; }
  const a = 'alloc' in value ? checkPart(value.alloc, 'tracing.alloc', alloc, errors) : undefined;
  const f = 'free' in value ? checkPart(value.free, 'tracing.free', free, errors) : undefined;
  if (!ok || !a || !f) return undefined;
  return { alloc: a as unknown as NonNullable<MemoryModelDescription['tracing']>['alloc'], free: f as unknown as NonNullable<MemoryModelDescription['tracing']>['free'] };
}

/** Checks a parsed JSON value as a description. */
export function checkMemoryModel(value: unknown): { description?: MemoryModelDescription; errors: DescriptionErrorJson[] } {
  const errors: DescriptionErrorJson[] = [];
  if (!isObject(value)) {
    errors.push({ path: '', message: `A memory-model description must be a JSON object, not ${typeOf(value)}.` });
    return { errors };
  }
  const out: { -readonly [K in keyof MemoryModelDescription]: MemoryModelDescription[K] } = {};
  for (const key of Object.keys(value)) {
    if (!(key in TOP_KEYS)) errors.push({ path: '', message: `Unknown key "${key}" at the top of the description; the keys are ${Object.keys(TOP_KEYS).slice(1).join(', ')}.` });
  }
  if ('name' in value) {
    if (typeof value.name === 'string') out.name = value.name;
    else errors.push({ path: 'name', message: `name must be a string, not ${typeOf(value.name)}.` });
  }
  if ('directMapOffset' in value) {
    const bad = keyError('', 'directMapOffset', EXPR, value.directMapOffset);
    if (bad) errors.push({ path: 'directMapOffset', message: bad.replace(/^\./, '') });
    else out.directMapOffset = value.directMapOffset as string | number;
  }
  if ('processes' in value) {
    const p = checkPart(value.processes, 'processes', PROCESSES_SPEC, errors);
    if (p) out.processes = p as unknown as MemoryModelDescription['processes'];
  }
  if ('allocators' in value) {
    if (!Array.isArray(value.allocators)) errors.push({ path: 'allocators', message: `allocators must be an array of allocators, not ${typeOf(value.allocators)}.` });
    else {
      const list: AllocatorDescription[] = [];
      const names = new Set<string>();
      value.allocators.forEach((a: unknown, i: number) => {
        const at = `allocators[${i}]`;
        const shape = isObject(a) ? a.shape : undefined;
        if (isObject(a) && !('shape' in a)) {
          errors.push({ path: `${at}.shape`, message: `${at}.shape is missing; say which shape it is: ${Object.keys(SHAPES).join(', ')}.` });
          return;
        }
        const spec = typeof shape === 'string' ? SHAPES[shape as AllocatorDescription['shape']] : undefined;
        if (isObject(a) && !spec) {
          errors.push({ path: `${at}.shape`, message: `${at}.shape is ${JSON.stringify(shape)}; it must be one of ${Object.keys(SHAPES).join(', ')}.` });
          return;
        }
        const part = checkPart(a, at, spec ?? SHAPES.bitmap, errors);
        if (!part) return;
        if (names.has(part.name as string)) {
          errors.push({ path: `${at}.name`, message: `${at}.name "${String(part.name)}" is used by another allocator; give each a name of its own.` });
          return;
        }
        names.add(part.name as string);
        list.push(part as unknown as AllocatorDescription);
      });
      out.allocators = list;
    }
  }
  if ('heaps' in value) {
    if (!Array.isArray(value.heaps)) errors.push({ path: 'heaps', message: `heaps must be an array of heaps, not ${typeOf(value.heaps)}.` });
    else {
      out.heaps = value.heaps
        .map((h: unknown, i: number) => checkPart(h, `heaps[${i}]`, HEAP_SPEC, errors))
        .filter((h): h is Record<string, unknown> => h !== undefined) as unknown as MemoryModelDescription['heaps'];
    }
  }
  if ('tracing' in value) {
    const t = checkTracing(value.tracing, errors);
    if (t) out.tracing = t;
  }
  return { description: out, errors };
}

/**
 * The description the `memoryModel` launch attribute (or `--model`) names: an object, a path to
 * a JSON file (relative to baseDir), or `builtin:<name>`. Never throws: a file that cannot be
 * read or parsed is one error and no description.
 */
export function loadMemoryModel(value: unknown, baseDir: string): LoadedMemoryModel {
  if (typeof value === 'string') {
    if (value.startsWith('builtin:')) {
      const name = value.slice('builtin:'.length);
      const builtin = BUILTIN_DESCRIPTIONS[name];
      if (!builtin) return { errors: [{ path: '', message: `There is no built-in memory model "${name}"; the built-in ones are ${Object.keys(BUILTIN_DESCRIPTIONS).map((n) => `builtin:${n}`).join(', ')}.` }] };
      return { ...checkMemoryModel(builtin), source: value };
    }
    const file = path.resolve(baseDir, value);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { errors: [{ path: '', message: `The memory model file ${file} cannot be read (${code ?? String(e)}); check the memoryModel path (relative to ${baseDir}).` }], source: file };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return { errors: [{ path: '', message: `The memory model file ${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}).` }], source: file };
    }
    return { ...checkMemoryModel(parsed), source: file };
  }
  if (isObject(value)) return { ...checkMemoryModel(value), source: 'launch configuration' };
  return { errors: [{ path: '', message: `memoryModel must be a description object or the path of a JSON file holding one, not ${typeOf(value)}.` }] };
}
