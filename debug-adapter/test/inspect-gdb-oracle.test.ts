// The gdb oracle on the real guest: QEMU runs guest/build/kernel.elf (cmdline `demo`) paused;
// for each stop we connect our RSP client, break in a memory-manager function, and evaluate
// globals, struct members, array elements, locals and parameters (frame 0 and its caller,
// unwound through CFI) with the Inspector; then we drop our connection (the guest stays
// stopped) and gdb 13 attaches to the same QEMU at the same instruction: every value must print
// the same. One QEMU serves all stops; it never outlives the suite.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { launchQemu, QemuInstance, RspClient } from '../../qemu-bridge/src';
import { DebugSymbols, I386_DWARF_REGISTERS, unwindFrame } from '../src/symbols';
import { FrameContext, Inspector, TargetAccess } from '../src/inspect';
import { GUEST_KERNEL as KERNEL, requireGuestKernel } from '../../qemu-bridge/test/fixtures/guest-kernel';

/** Registers read for a frame: the general, segment and control registers the Inspector shows. */
const REGISTER_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4'];

/** TargetAccess over a connected RspClient (what the session's Target does, minus run control). */
class RspAccess implements TargetAccess {
  constructor(private readonly rsp: RspClient) {}
  readMemory(address: number, length: number): Promise<Buffer> {
    return this.rsp.readMemory(address, length, true);
  }
  writeMemory(address: number, data: Uint8Array): Promise<void> {
    return this.rsp.writeMemory(address, data);
  }
  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    const values = await this.rsp.readRegisters();
    const map = new Map<string, number>();
    for (const name of REGISTER_NAMES) if (values.bytes(name)) map.set(name, values.value(name));
    return map;
  }
  writeRegister(name: string, value: number): Promise<void> {
    return this.rsp.writeRegister(name, value);
  }
}

interface StopSpec {
  /** Function to stop in and a pattern for the source line (first match inside the function). */
  function: string;
  line: RegExp;
  /** Expressions evaluated in frame 0 besides its locals. */
  expressions: string[];
}

const GLOBAL_EXPRESSIONS = [
  'mm_debug_info', 'kpd[768]', 'kpd[769]', '*current', 'current->name', 'current', 'current->upd', 'current->pid',
  'mm_free_blocks', 'mm_block_count', 'mm_block_table', 'mm_block_table[1]', '(enum proc_state)current->state',
  '(enum mm_status)mm_last_error', 'mm_debug_info.block_count', '&mm_debug_info', 'mm_last_event', '*proc_list',
  'proc_list->next', '$pc', '$sp', '$eax', 'mm_mappings[0]', 'mm_owners[1]', 'kpd[768] & 0xfffff000', 'sizeof(struct pcb)',
];

const STOPS: StopSpec[] = [
  { function: 'MmAllocateChain', line: /int r = mm_allocate_chain\(/, expressions: [...GLOBAL_EXPRESSIONS, 'flags', 'blocks', 'id', 'blocks * 4'] },
  { function: 'mm_map_pages', line: /uint32_t total = MmChainBlocks\(id\)/, expressions: [...GLOBAL_EXPRESSIONS, 'flags', 'id', 'va', 'upd', 'mode', 'upd == current->upd', 'mm_block_table[id]'] },
  { function: 'window_map', line: /./, expressions: ['slot', 'phys', 'slot == WIN_PT', '(int)slot'] },
];

/** Source line of `pattern` inside function `name`, from the function's declaration onwards. */
function lineOf(symbols: DebugSymbols, name: string, pattern: RegExp): { file: string; line: number } {
  const fn = symbols.functionsNamed(name)[0];
  assert.ok(fn && fn.declFile && fn.declLine, `the kernel has a function ${name} with a source position`);
  const lines = fs.readFileSync(fn.declFile, 'utf8').split('\n');
  for (let i = fn.declLine; i < lines.length; i++) if (pattern.test(lines[i])) return { file: fn.declFile, line: i + 1 };
  throw new Error(`no line matching ${pattern} in ${name}`);
}

/** gdb's view of the stop: the printed expressions and the args/locals of frames 0 and 1. */
interface GdbView {
  values: (string | undefined)[];
  frames: Map<string, string>[];
  frameLines: string[];
}

function runGdb(port: number, expressions: string[]): GdbView {
  const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off', '-ex', `target remote 127.0.0.1:${port}`];
  expressions.forEach((e, i) => args.push('-ex', `echo <<<p${i}>>>\\n`, '-ex', `print ${e}`));
  for (const f of [0, 1]) args.push('-ex', `echo <<<f${f}>>>\\n`, '-ex', `frame ${f}`, '-ex', 'info args', '-ex', 'info locals');
  args.push('-ex', 'echo <<<end>>>\\n', KERNEL);
  const run = spawnSync('gdb', args, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error) throw run.error;
  if (process.env.MMSCOPE_GDB_LOG) fs.appendFileSync(process.env.MMSCOPE_GDB_LOG, run.stdout + run.stderr);
  const blocks = run.stdout.split(/^<<<(\w+)>>>\n/m);
  const view: GdbView = { values: expressions.map(() => undefined), frames: [new Map(), new Map()], frameLines: ['', ''] };
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const tag = blocks[i];
    const body = blocks[i + 1];
    if (tag.startsWith('p')) {
      const m = /^\$\d+ = ([^]*?)\n?$/.exec(body);
      if (m) view.values[Number(tag.slice(1))] = m[1];
    } else if (tag.startsWith('f')) {
      const f = Number(tag.slice(1));
      const lines = body.split('\n');
      view.frameLines[f] = lines[0] ?? '';
      for (const line of lines.slice(1)) {
        const m = /^([A-Za-z_]\w*) = (.*)$/.exec(line);
        // gdb lists inner blocks first; a shadowed outer variable keeps the inner one's value here.
        if (m && !view.frames[f].has(m[1])) view.frames[f].set(m[1], m[2]);
      }
    }
  }
  return view;
}

describe('inspect: gdb oracle on the guest kernel', function () {
  this.timeout(240_000);
  let qemu: QemuInstance | undefined;
  let symbols: DebugSymbols;
  let rsp: RspClient | undefined;

  before(function () {
    requireGuestKernel(KERNEL);
    symbols = new DebugSymbols(new Uint8Array(fs.readFileSync(KERNEL)));
  });

  after(async () => {
    rsp?.close();
    await qemu?.shutdown();
  });

  it('agrees with gdb on globals, structs, arrays, locals and parameters at every stop', async () => {
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
    const report: string[] = [];
    const entryValues: string[] = [];
    let compared = 0;
    for (const stop of STOPS) {
      const where = lineOf(symbols, stop.function, stop.line);
      const bp = stop.line.source === '.' ? symbols.functionsNamed(stop.function)[0].entryPc : symbols.lineToAddresses(where.file, where.line)?.addresses[0];
      assert.ok(bp !== undefined, `${stop.function}: no code for ${where.file}:${where.line}`);

      rsp = await RspClient.connect(qemu.gdb);
      await rsp.insertBreakpoint('software', bp);
      await rsp.continue();
      const reply = await rsp.waitForStop(120_000);
      assert.ok(reply, 'the guest stops');
      const access = new RspAccess(rsp);
      const registers = await access.readRegisters();
      assert.strictEqual(registers.get('eip'), bp, `${stop.function}: stopped at the breakpoint`);
      const inspector = new Inspector(symbols, access);
      // Each frame knows its caller, as the session's source stack gives it: gdb recovers some
      // parameters from the caller's call site (DW_OP_entry_value), and so must we.
      const frame2 = await callerFrame(symbols, access, await callerFrame(symbols, access, { pc: bp, registers, frameIndex: 0 }));
      const frame1 = { ...(await callerFrame(symbols, access, { pc: bp, registers, frameIndex: 0 })), caller: frame2 };
      const frame0: FrameContext = { pc: bp, registers, frameIndex: 0, caller: frame1 };

      const ours = { values: [] as string[], frames: [] as Map<string, string>[] };
      for (const e of stop.expressions) {
        try {
          ours.values.push((await inspector.evaluate(e, frame0)).result);
        } catch (err) {
          ours.values.push(`<threw: ${err instanceof Error ? err.message : String(err)}>`);
        }
      }
      for (const frame of [frame0, frame1]) {
        const scopes = await inspector.scopes(frame);
        const locals = await inspector.variables(scopes[0].variablesReference);
        ours.frames.push(new Map(locals.map((v) => [v.name, v.value])));
      }
      await rsp.removeBreakpoint('software', bp);
      // Leave without detaching: QEMU keeps the guest stopped for gdb.
      await rsp.disconnect();
      rsp = undefined;

      const gdb = runGdb(qemu.gdb.port, stop.expressions);
      for (let i = 0; i < stop.expressions.length; i++) {
        compared++;
        // Where gdb refuses (an optimized-out operand), we must refuse too.
        if (gdb.values[i] === undefined) {
          if (!ours.values[i].startsWith('<threw')) report.push(`${stop.function}: gdb refuses ${stop.expressions[i]} but we print ${ours.values[i]}`);
          continue;
        }
        if (ours.values[i] !== gdb.values[i]) report.push(`${stop.function}: ${stop.expressions[i]}\n   gdb:  ${gdb.values[i]}\n   ours: ${ours.values[i]}`);
      }
      for (const f of [0, 1]) {
        const theirs = gdb.frames[f];
        assert.ok(theirs.size > 0, `${stop.function} frame ${f}: gdb shows no locals or args (${gdb.frameLines[f]})`);
        for (const [name, value] of theirs) {
          const mine = ours.frames[f].get(name);
          // gdb recovers some parameters from the caller's call site (DW_OP_entry_value; its frame
          // line shows `name@entry=`): counted, and compared like the others.
          if (new RegExp(`\\b${name}@entry=`).test(gdb.frameLines[f])) entryValues.push(`${stop.function} frame ${f}: ${name} = ${value}`);
          compared++;
          if (mine !== value) report.push(`${stop.function} frame ${f} (${gdb.frameLines[f]}): ${name}\n   gdb:  ${value}\n   ours: ${mine}`);
        }
        const extra = [...ours.frames[f].keys()].filter((n) => !theirs.has(n.replace(/ \(line \d+\)$/, '')));
        if (extra.length) report.push(`${stop.function} frame ${f}: we show locals gdb does not: ${extra.join(', ')}`);
      }
    }
    assert.ok(compared > 60, `only ${compared} values compared`);
    if (entryValues.length) console.log(`      (${entryValues.length} of them entry values gdb resolves through the caller's call site: ${entryValues.join('; ')})`);
    assert.deepStrictEqual(report, [], `${report.length} of ${compared} values differ from gdb:\n${report.join('\n')}`);
  });
});

/** The caller's frame through CFI (what the session's unwinder hands the Inspector). */
async function callerFrame(symbols: DebugSymbols, access: TargetAccess, frame: FrameContext): Promise<FrameContext> {
  const row = symbols.unwindRowAt(frame.frameIndex > 0 ? frame.pc - 1 : frame.pc);
  assert.ok(row, `CFI covers 0x${frame.pc.toString(16)}`);
  const unwound = await unwindFrame(row, {
    addressSize: 4,
    readRegister: (n) => {
      const v = frame.registers.get(I386_DWARF_REGISTERS[n]);
      if (v === undefined) throw new Error(`no register ${n}`);
      return v;
    },
    readMemory: (address, size) => access.readMemory(address, size),
  });
  const registers = new Map(frame.registers);
  // Callee-saved registers the CFI does not mention keep their values; the others are unknown.
  for (const name of ['eax', 'ecx', 'edx']) registers.delete(name);
  for (const [n, v] of unwound.registers) registers.set(I386_DWARF_REGISTERS[n], v);
  assert.ok(unwound.returnAddress !== undefined, 'the return address is recovered');
  registers.set('eip', unwound.returnAddress);
  registers.set('esp', unwound.cfa);
  return { pc: unwound.returnAddress, registers, frameIndex: frame.frameIndex + 1 };
}
