// The debug adapter's entry point: `node out/debug-adapter/src/adapter.js` speaks the Debug
// Adapter Protocol on stdin/stdout for debug type `mmscope`. With `--server=PORT` it serves DAP on
// 127.0.0.1:PORT instead (for debugging the adapter itself).

import * as net from 'net';
import { Event, OutputEvent } from '@vscode/debugadapter';
import { MmscopeSession } from './session/session';
import { EXTENSION_REFERENCE_BASE, StartArguments } from './session/session-extension';
import { MM_EXCEPTION_FILTERS, mmExtensionFactory } from './mm/plugin/mm-extension';
import { describeErrorsText, MemoryModelKnowledge, startArgumentsKnowledge } from './mm/plugin/memory-model-knowledge';
import { CPU_EXCEPTION_FILTERS, cpuExceptionExtensionFactory } from './exceptions/exception-extension';
import { screenExtensionFactory } from './screen/screen-extension';
import { TRACE_EXCEPTION_FILTERS } from './mm/plugin/trace-filters';
import { TracingLink } from './mm/plugin/trace-link';
import type { DebugSymbols } from './symbols';

/** A session with the memory-manager extension (custom requests, scope, allocation breakpoints), the CPU exception filters, the Screen and tracing. */
function newSession(): MmscopeSession {
  // The `memoryModel` launch attribute (relative to the launch's cwd, the workspace folder), loaded once per start.
  let loaded: { start: StartArguments | undefined; model: MemoryModelKnowledge | undefined } | undefined;
  const memoryModel = (start: StartArguments | undefined, symbols: DebugSymbols): MemoryModelKnowledge | undefined => {
    if (!loaded || loaded.start !== start) {
      loaded = { start, model: startArgumentsKnowledge(start, symbols) };
      const text = loaded.model ? describeErrorsText(loaded.model) : '';
      if (text) session.sendEvent(new OutputEvent(text, 'important'));
    }
    return loaded.model;
  };
  // Level 2: the description's `tracing` and `traceAddressSpaces`.
  const tracing = new TracingLink((target, start) => memoryModel(start, target.symbols)?.tracing);
  const session: MmscopeSession = new MmscopeSession(
    [
      // Before the memory manager's: at each stop, the CR3 values traced reach its documents first.
      tracing.factory(),
      mmExtensionFactory({
        referenceBase: EXTENSION_REFERENCE_BASE,
        emit: (event, body) => session.sendEvent(new Event(event, body)),
        // Level 1: the description's evaluator; level 2: the tracing section.
        knowledge: (target, start) => {
          const model = memoryModel(start, target.symbols);
          return { ...(model ? { describe: model.describe, descriptionSource: model.descriptionSource } : {}), ...tracing.knowledge() };
        },
        onCreated: (ext) => tracing.attachMemoryManager(ext),
      }),
      cpuExceptionExtensionFactory(),
      screenExtensionFactory(),
    ],
    [...MM_EXCEPTION_FILTERS, ...TRACE_EXCEPTION_FILTERS, ...CPU_EXCEPTION_FILTERS],
  );
  return session;
}

function serverPort(argv: readonly string[]): number | undefined {
  const arg = argv.find((a) => a.startsWith('--server='));
  if (!arg) return undefined;
  const port = Number(arg.slice('--server='.length));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

const port = serverPort(process.argv.slice(2));
if (port === undefined) {
  const session = newSession();
  process.on('SIGTERM', () => session.shutdown());
  session.start(process.stdin, process.stdout);
} else {
  const server = net.createServer((socket) => {
    const session = newSession();
    session.setRunAsServer(true);
    session.start(socket, socket);
  });
  server.listen(port, '127.0.0.1');
}
