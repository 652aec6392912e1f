// Loading memory-model descriptions: the launch attribute's object, a file relative to the
// launch folder, a built-in name; one sentence per mistake (unknown keys, wrong types, missing
// keys) with the valid parts kept; the JSON schema and package.json's memoryModel attribute are
// generated from the same key tables; every example of docs/memory-model.md loads cleanly and
// passes the schema (ajv as the oracle), and the schema rejects what the loader rejects.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkMemoryModel, loadMemoryModel } from '../src/mm/model/memory-model-load';
import { memoryModelJsonSchema, memoryModelLaunchAttribute } from '../src/mm/model/memory-model-schema';
import { MMSCOPE_GUEST_DESCRIPTION } from '../src/mm/model/guest-description';
import { repoRoot } from './fixtures-c/compile';

/** The JSON examples of docs/memory-model.md, each made a whole description. */
function docExamples(): { text: string; description: unknown }[] {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'memory-model.md'), 'utf8');
  const out: { text: string; description: unknown }[] = [];
  for (const m of doc.matchAll(/```json\n([\s\S]*?)```/g)) {
    const text = m[1].trim();
    if (/\{ \}|\[ \]/.test(text)) continue; // the outline of the top level
    let description: unknown;
    if (/^"(processes|heaps|tracing)"/.test(text)) description = JSON.parse(`{${text}}`);
    else if (/^\{ *"name": "[^"]+", "shape"/.test(text)) description = { allocators: [JSON.parse(text)] };
    else description = JSON.parse(text);
    out.push({ text, description });
  }
  return out;
}

interface Validator {
  (data: unknown): boolean;
  errors?: unknown;
}

function schemaValidator(): Validator {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Ajv = require('ajv') as new (o: object) => { compile(s: object): Validator };
  return new Ajv({ strict: false, allErrors: true }).compile(memoryModelJsonSchema());
}

describe('describe: loading a memory-model description', () => {
  it('takes the object, a file relative to the launch folder, or a built-in name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-model-'));
    try {
      const object = { processes: { list: 'procs', next: 'next', pid: 'pid' } };
      fs.mkdirSync(path.join(dir, 'conf'));
      fs.writeFileSync(path.join(dir, 'conf', 'k.memory-model.json'), JSON.stringify(object));
      assert.deepStrictEqual(loadMemoryModel(object, dir), { description: object, errors: [], source: 'launch configuration' });
      assert.deepStrictEqual(loadMemoryModel('conf/k.memory-model.json', dir), { description: object, errors: [], source: path.join(dir, 'conf', 'k.memory-model.json') });
      assert.deepStrictEqual(loadMemoryModel('builtin:mmscope-guest', '/nowhere').description, MMSCOPE_GUEST_DESCRIPTION);
      fs.writeFileSync(path.join(dir, 'bad.json'), '{ "processes": ');
      const bad = loadMemoryModel('bad.json', dir);
      assert.strictEqual(bad.description, undefined);
      assert.match(bad.errors[0].message, /^The memory model file .*bad\.json is not valid JSON \(/);
      assert.match(loadMemoryModel('missing.json', dir).errors[0].message, /cannot be read \(ENOENT\); check the memoryModel path \(relative to /);
      assert.match(loadMemoryModel('builtin:linux', dir).errors[0].message, /There is no built-in memory model "linux"; the built-in ones are builtin:mmscope-guest\./);
      assert.match(loadMemoryModel(42, dir).errors[0].message, /^memoryModel must be a description object or the path of a JSON file holding one, not a number\.$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one sentence per mistake, and the valid parts are kept', () => {
    const { description, errors } = checkMemoryModel({
      nmae: 'typo',
      processes: { list: 'procs', next: 'next', pid: 'pid', fliter: 'state != 0', name: 7.5 },
      allocators: [
        { name: 'ok', shape: 'bitmap', bitmap: 'map', units: 64 },
        { name: 'b', shape: 'bitmap', bitmapp: 'map', units: 64 },
        { name: 'c', shape: 'free-list', head: 'h', units: true, next: 'next' },
        { name: 'd', shape: 'buddy', orders: 11, head: 'h', units: 8, next: 'next', nextOffset: 0 },
        { name: 'e', shape: 'slab' },
        { name: 'ok', shape: 'chain-table', table: 't', count: 'n' },
        { name: 'f', shape: 'free-stack', array: 'a', count: 'n', units: 4, holds: 'virt', unitBytes: 1000 },
      ],
      heaps: [{ name: 'h', first: 'first', size: 'size', used: 'used' }],
      tracing: { alloc: { function: 'kalloc' }, free: { function: 'kfree', argument: 9 } },
    });
    assert.deepStrictEqual(errors.map((e) => [e.path, e.message]), [
      ['', 'Unknown key "nmae" at the top of the description; the keys are name, directMapOffset, processes, allocators, heaps, tracing.'],
      ['processes', 'processes: unknown key "fliter"; the keys of processes are list, next, array, count, pid, name, state, directory, directoryHolds, filter, current.'],
      ['processes.name', 'processes.name is 7.5, which is not an exact integer; write large or fractional values as an expression string ("0x…").'],
      ['allocators[1]', 'allocators[1]: unknown key "bitmapp"; the keys of a bitmap allocator are name, shape, unitBytes, base, units, counter, bitmap, used, bitOrder, wordBytes.'],
      ['allocators[1].bitmap', 'allocators[1].bitmap is missing; a bitmap allocator needs it.'],
      ['allocators[2].units', 'allocators[2].units must be an expression (a string) or a number, not a boolean.'],
      ['allocators[3]', 'allocators[3] has both "next" and "nextOffset"; give only one.'],
      ['allocators[4].shape', 'allocators[4].shape is "slab"; it must be one of bitmap, free-list, free-stack, buddy, region-table, chain-table.'],
      ['allocators[5].name', 'allocators[5].name "ok" is used by another allocator; give each a name of its own.'],
      ['allocators[6].holds', 'allocators[6].holds is "virt"; it must be one of "virtual", "physical", "frame".'],
      ['allocators[6].unitBytes', 'allocators[6].unitBytes is 1000; it must be a multiple of 4096.'],
      ['heaps[0]', 'heaps[0] needs one of "next" or "end".'],
      ['tracing.alloc.returns', 'tracing.alloc.returns is missing; the allocation function needs it.'],
      ['tracing.free.argument', 'tracing.free.argument is 9; it must be at most 5.'],
    ]);
    assert.ok(description);
    // processes survive without the bad optional name; allocators 0 and 6 (without the bad optional keys) survive.
    assert.deepStrictEqual(description.processes, { list: 'procs', next: 'next', pid: 'pid' });
    assert.deepStrictEqual(description.allocators?.map((a) => a.name), ['ok', 'f']);
    assert.deepStrictEqual(description.allocators?.[1], { name: 'f', shape: 'free-stack', array: 'a', count: 'n', units: 4 });
    assert.deepStrictEqual(description.heaps, []);
    assert.strictEqual(description.tracing, undefined);
  });

  it('a missing pid says which member to name; a non-object says what it should be', () => {
    assert.deepStrictEqual(checkMemoryModel({ processes: { list: 'p', next: 'n' } }).errors.map((e) => e.message),
      ['processes.pid is missing; say which member holds the process id, e.g. "pid".']);
    assert.deepStrictEqual(checkMemoryModel({ allocators: {} }).errors.map((e) => e.message), ['allocators must be an array of allocators, not an object.']);
    assert.deepStrictEqual(checkMemoryModel([]).errors.map((e) => e.message), ['A memory-model description must be a JSON object, not an array.']);
    assert.deepStrictEqual(checkMemoryModel({ processes: { pid: 'pid' } }).errors.map((e) => e.message), ['processes needs one of "list" or "array".']);
  });

  it('the schema file and package.json\'s memoryModel attribute are generated from the loader\'s key tables', () => {
    const file = JSON.parse(fs.readFileSync(path.join(repoRoot, 'extension', 'schemas', 'memory-model.schema.json'), 'utf8'));
    assert.deepStrictEqual(file, memoryModelJsonSchema(), 'run: node out/debug-adapter/src/mm/model/memory-model-schema.js .');
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    const debuggers = pkg.contributes.debuggers as { configurationAttributes: Record<string, { properties: Record<string, unknown> }> }[];
    for (const request of ['launch', 'attach']) assert.deepStrictEqual(debuggers[0].configurationAttributes[request].properties.memoryModel, memoryModelLaunchAttribute(), request);
    assert.deepStrictEqual(pkg.contributes.jsonValidation, [{ fileMatch: '*.memory-model.json', url: './extension/schemas/memory-model.schema.json' }]);
  });

  it('every example of docs/memory-model.md loads without a mistake and passes the schema', () => {
    const examples = docExamples();
    assert.ok(examples.length >= 14, `${examples.length} examples`);
    const validate = schemaValidator();
    for (const e of examples) {
      assert.deepStrictEqual(checkMemoryModel(e.description).errors, [], e.text);
      assert.ok(validate(e.description), `${e.text}\n${JSON.stringify(validate.errors)}`);
    }
    assert.ok(validate(MMSCOPE_GUEST_DESCRIPTION));
  });

  it('every description file in the repository loads without a mistake and passes the schema', () => {
    const dir = path.join(repoRoot, 'debug-adapter', 'test', 'fixtures-mm');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.model.json'));
    assert.ok(files.length >= 5, files.join(', '));
    const validate = schemaValidator();
    for (const f of files) {
      const loaded = loadMemoryModel(f, dir);
      assert.deepStrictEqual(loaded.errors, [], f);
      assert.ok(validate(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))), `${f}: ${JSON.stringify(validate.errors)}`);
    }
  });

  it('the schema rejects what the loader rejects', () => {
    const validate = schemaValidator();
    const bad: unknown[] = [
      { nmae: 1 },
      { processes: { list: 'p', next: 'n', pid: 'pid', fliter: 'x' } },
      { processes: { list: 'p', next: 'n' } },
      { processes: { list: 'p', array: 'a', pid: 'pid' } },
      { allocators: [{ name: 'a', shape: 'bitmap', units: 4 }] },
      { allocators: [{ name: 'a', shape: 'slab', units: 4 }] },
      { allocators: [{ name: 'a', shape: 'free-list', head: 'h', units: 4, next: 'n', nextOffset: 0 }] },
      { allocators: [{ name: 'a', shape: 'free-stack', array: 'a', count: 'n', units: 4, holds: 'virt' }] },
      { allocators: [{ name: 'a', shape: 'bitmap', bitmap: 'b', units: 4, unitBytes: 1000 }] },
      { heaps: [{ name: 'h', first: 'f', size: 's', used: 'u' }] },
      { tracing: { alloc: { function: 'kalloc' }, free: { function: 'kfree' } } },
    ];
    for (const d of bad) {
      assert.notDeepStrictEqual(checkMemoryModel(d).errors, [], JSON.stringify(d));
      assert.strictEqual(validate(d), false, JSON.stringify(d));
    }
  });
});
