// The debug adapter's entry point: `node out/debug-adapter/src/adapter.js` speaks the Debug
// Adapter Protocol on stdin/stdout for debug type `mmscope`. With `--server=PORT` it serves DAP on
// 127.0.0.1:PORT instead (for debugging the adapter itself).

import * as net from 'net';
import { Event } from '@vscode/debugadapter';
import { MmscopeSession } from './session/session';
import { EXTENSION_REFERENCE_BASE } from './session/session-extension';
import { MM_EXCEPTION_FILTERS, mmExtensionFactory } from './mm/mm-extension';
import { CPU_EXCEPTION_FILTERS, cpuExceptionExtensionFactory } from './exceptions/exception-extension';
import { screenExtensionFactory } from './screen/screen-extension';

/** A session with the memory-manager extension (custom requests, scope, allocation breakpoints), the CPU exception filters and the Screen. */
function newSession(): MmscopeSession {
  const session: MmscopeSession = new MmscopeSession(
    [
      mmExtensionFactory({ referenceBase: EXTENSION_REFERENCE_BASE, emit: (event, body) => session.sendEvent(new Event(event, body)) }),
      cpuExceptionExtensionFactory(),
      screenExtensionFactory(),
    ],
    [...MM_EXCEPTION_FILTERS, ...CPU_EXCEPTION_FILTERS],
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
