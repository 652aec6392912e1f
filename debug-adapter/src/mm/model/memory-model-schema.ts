// The JSON schema of memory-model descriptions, generated from the key tables the loader checks
// (memory-model-keys.ts): the file extension/schemas/memory-model.schema.json (for "$schema" in a
// description file) and the `memoryModel` launch attribute of package.json (completion in
// launch.json). Self-contained (no $ref), because VS Code merges debugger attributes into its
// own schema. Run this module with node to rewrite both files; a test checks they are current.

import type { KeyKind, PartSpec } from './memory-model-keys';
import { HEAP_SPEC, PROCESSES_SPEC, SHAPE_SPECS, TOP_KEYS, TRACING_ALLOC_SPEC, TRACING_FREE_SPEC } from './memory-model-keys';

type Schema = { readonly [key: string]: unknown };

function keySchema(kind: KeyKind): Schema {
  switch (kind.kind) {
    case 'expression': return { type: ['string', 'integer'], description: `${kind.doc} A C expression (string) or a number.` };
    case 'string': return { type: 'string', minLength: 1, description: kind.doc };
    case 'boolean': return { type: 'boolean', description: kind.doc };
    case 'number': return {
      type: 'integer', description: kind.doc,
      ...(kind.values ? { enum: kind.values } : {}),
      ...(kind.minimum !== undefined ? { minimum: kind.minimum } : {}),
      ...(kind.maximum !== undefined ? { maximum: kind.maximum } : {}),
      ...(kind.multipleOf !== undefined ? { multipleOf: kind.multipleOf } : {}),
    };
    case 'enum': return { type: 'string', enum: kind.values, description: kind.doc };
    case 'expressions': return { type: 'array', minItems: 1, items: { type: ['string', 'integer'] }, description: kind.doc };
  }
}

function partSchema(spec: PartSpec, description: string, overrides: Readonly<Record<string, Schema>> = {}, extra: Schema = {}): Schema {
  const properties: Record<string, Schema> = {};
  for (const [key, kind] of Object.entries(spec.keys)) properties[key] = overrides[key] ?? keySchema(kind);
  const oneOf = (spec.oneOf ?? []).map((group) => ({ oneOf: group.map((k) => ({ required: [k] })) }));
  return {
    type: 'object', description, additionalProperties: false, required: spec.required, properties,
    ...(oneOf.length === 1 ? oneOf[0] : oneOf.length > 1 ? { allOf: oneOf } : {}),
    ...extra,
  };
}

/** A completion snippet per shape (the worked examples of docs/memory-model.md, reduced). */
const SHAPE_SNIPPETS: Readonly<Record<string, Schema>> = {
  bitmap: { name: 'frames', shape: 'bitmap', bitmap: 'frame_map', units: 'nframes', used: 1 },
  'free-list': { name: 'kmem', shape: 'free-list', head: 'kmem.freelist', next: 'next', holds: 'virtual', units: 'nframes' },
  'free-stack': { name: 'stack', shape: 'free-stack', array: 'free_stack', count: 'free_top', holds: 'frame', units: 'nframes' },
  buddy: { name: 'buddy', shape: 'buddy', orders: 11, head: 'free_area[$order]', next: 'next', holds: 'virtual', units: 'nframes' },
  'region-table': { name: 'regions', shape: 'region-table', array: 'regions', count: 'nregions', start: 'base', length: 'len', type: 'type', free: [1] },
  'chain-table': { name: 'chains', shape: 'chain-table', table: 'mm_block_table', count: 'mm_block_count' },
};

/** The schema of one description object. */
export function descriptionSchema(): Schema {
  const allocators = Object.entries(SHAPE_SPECS).map(([shape, spec]) =>
    partSchema(spec, `${spec.what[0].toUpperCase()}${spec.what.slice(1)} (docs/memory-model.md#${shape}).`, { shape: { const: shape, description: `This allocator's shape: ${shape}.` } }));
  const tracing: Schema = {
    type: 'object', description: TOP_KEYS.tracing, additionalProperties: false, required: ['alloc', 'free'],
    properties: {
      alloc: partSchema(TRACING_ALLOC_SPEC, 'The allocation function.', { size: { type: ['string', 'integer'], description: (TRACING_ALLOC_SPEC.keys.size as KeyKind).doc } }),
      free: partSchema(TRACING_FREE_SPEC, 'The free function.'),
    },
  };
  return {
    type: 'object',
    description: 'A memory-model description: where the kernel keeps its processes, frame allocators and heaps, as C expressions over its globals (docs/memory-model.md).',
    additionalProperties: false,
    properties: {
      $schema: { type: 'string', description: TOP_KEYS.$schema },
      name: { type: 'string', description: TOP_KEYS.name },
      directMapOffset: { type: ['string', 'integer'], description: `${TOP_KEYS.directMapOffset} A C expression (string) or a number.` },
      processes: partSchema(PROCESSES_SPEC, TOP_KEYS.processes),
      allocators: {
        type: 'array', description: TOP_KEYS.allocators,
        items: { type: 'object', required: ['shape'], oneOf: allocators },
        defaultSnippets: Object.entries(SHAPE_SNIPPETS).map(([shape, body]) => ({ label: `${shape} allocator`, body: [body] })),
      },
      heaps: {
        type: 'array', description: TOP_KEYS.heaps,
        items: partSchema(HEAP_SPEC, 'A kernel heap as a list of block headers (docs/memory-model.md#heaps).'),
      },
      tracing,
    },
  };
}

/** extension/schemas/memory-model.schema.json. */
export function memoryModelJsonSchema(): Schema {
  return { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'https://mmscope.dev/schemas/memory-model.schema.json', title: 'mmscope memory-model description', ...descriptionSchema() };
}

/** package.json's debugger launch attribute `memoryModel`. */
export function memoryModelLaunchAttribute(): Schema {
  return {
    description: 'The kernel\'s memory model (docs/memory-model.md): a description object, the path of a JSON file holding one (relative to the workspace folder), or "builtin:mmscope-guest". Gives the views its processes, frame allocators and heaps.',
    anyOf: [
      { type: 'string', description: 'The path of a description file (JSON), relative to the workspace folder, or builtin:<name>.' },
      descriptionSchema(),
    ],
  };
}

/* istanbul ignore next: the generator, run by hand after a key changes. */
if (require.main === module) {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require('fs') as typeof import('fs');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const path = require('path') as typeof import('path');
  const root = process.argv[2] ?? process.cwd();
  fs.mkdirSync(path.join(root, 'extension', 'schemas'), { recursive: true });
  fs.writeFileSync(path.join(root, 'extension', 'schemas', 'memory-model.schema.json'), JSON.stringify(memoryModelJsonSchema(), null, 2) + '\n');
  const pkgFile = path.join(root, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  for (const d of pkg.contributes.debuggers) {
    for (const request of ['launch', 'attach']) {
      const attrs = d.configurationAttributes?.[request];
      if (!attrs?.properties) continue;
      // Right after the first attribute (kernel): others add theirs at the end, so merges stay clean.
      const entries = Object.entries(attrs.properties).filter(([k]) => k !== 'memoryModel');
      entries.splice(1, 0, ['memoryModel', memoryModelLaunchAttribute()]);
      attrs.properties = Object.fromEntries(entries);
    }
  }
  // package.json keeps non-ASCII characters escaped.
  fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n');
}
