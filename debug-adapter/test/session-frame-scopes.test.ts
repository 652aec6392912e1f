// Each source frame of the call stack carries its inline depth into the inspector: the Locals
// scope, evaluate and hover of a frame are those of the function or inlined call that frame
// names. At the stop pc, inlined calls that start there are not entered yet (CodeMap), so frame 0
// and breakpoint conditions (SourceStack.topContext) see the caller's variables. Offline, on a
// corpus kernel: every line-table address, as frame 0 and as a caller's return address.

import * as assert from 'assert';
import * as fs from 'fs';
import { CodeMap } from '../src/session/code-map';
import { SourceStack } from '../src/session/source-stack';
import { UnwoundStackFrame } from '../src/session/stack-unwinder';
import { DebugSymbols } from '../src/symbols';
import { buildKernel } from './corpus/build';

describe('session: source frames carry their inline depth to the inspector', function () {
  this.timeout(60_000);

  it('every shown frame lists the variables of the function or inlined call it names', () => {
    const symbols = new DebugSymbols(fs.readFileSync(buildKernel({ style: 'higher-half-c0', opt: 'O2', framePointer: true })));
    const codeMap = new CodeMap(symbols);
    const stack = new SourceStack(symbols, codeMap);
    const pcs = new Set<number>();
    for (const cu of symbols.compileUnits) for (const seq of cu.lineTable?.sequences ?? []) for (const row of seq.rows) if (row.address < seq.end) pcs.add(row.address);
    let inlinedFrames = 0;
    let notEntered = 0;
    for (const pc of pcs) {
      if (!symbols.scopeChainAt(pc)) continue;
      stack.clear();
      const top: UnwoundStackFrame = { index: 0, pc, symbolPc: pc, registers: new Map(), exactRegisters: new Map() };
      // A caller frame whose return address is just past `pc`: it is looked up at `pc` itself.
      const caller: UnwoundStackFrame = { index: 1, pc: pc + 1, symbolPc: pc + 1, registers: new Map(), exactRegisters: new Map() };
      const frames = stack.expand([top, caller]);
      const shownAtTop = codeMap.shownFrames(pc, true).length;
      if (shownAtTop < symbols.framesAt(pc).length) notEntered++;
      frames.forEach((frame, i) => {
        const { context } = stack.context(frame.id);
        const own = symbols.frameVariablesAt(pc, context.inlineDepth);
        assert.ok(own && context.inlineDepth !== undefined, `frame ${i} at 0x${pc.toString(16)}`);
        assert.strictEqual(own.scope.name, frame.name, `frame ${i} at 0x${pc.toString(16)}: depth ${context.inlineDepth} is ${own.scope.name}`);
        if (context.inlineDepth > 0) inlinedFrames++;
      });
      assert.strictEqual(stack.topContext(top).inlineDepth, stack.context(frames[0].id).context.inlineDepth, `top context at 0x${pc.toString(16)}`);
    }
    assert.ok(inlinedFrames > 100, `${inlinedFrames} inlined frames`);
    assert.ok(notEntered > 5, `${notEntered} pcs where an inlined call starts`);
  });
});
