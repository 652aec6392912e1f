// The `mmscope` command: picks the subcommand, runs it, and turns errors into one clear line and
// an exit status (1 for failures a user can meet, 2 for a wrong command line).

import { BridgeError } from '../../../qemu-bridge/src';
import { DescriptorError } from '../mm/model/descriptor';
import { TranslateError } from '../mm/model/translate';
import { Command, CommandIo, parseCommandLine, UsageError } from './command-line';
import { bootCommand } from './boot-command';
import { readCommand } from './read-command';
import { snapshotCommand, translateCommand } from './snapshot-command';
import { serveCommand } from './serve-command';
import { demoCommand } from './demo-command';
import { recordCommand } from './record-command';

/** Every subcommand. Later issues add serve, demo, snapshot here. */
export const commands: Command[] = [bootCommand, readCommand, snapshotCommand, translateCommand, serveCommand, demoCommand, recordCommand];

/** Runs the CLI with `argv` (without node and the script). Resolves with the exit status. */
export async function runCli(argv: readonly string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    const parsed = parseCommandLine(argv, commands);
    if ('help' in parsed) {
      io.stdout.write(parsed.help);
      return 0;
    }
    return await parsed.command.run(parsed.options, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`mmscope: ${e.message}\n`);
      return 2;
    }
    if (e instanceof BridgeError || e instanceof DescriptorError || e instanceof TranslateError) {
      io.stderr.write(`mmscope: ${e.message}\n`);
      return 1;
    }
    io.stderr.write(`mmscope: unexpected error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
