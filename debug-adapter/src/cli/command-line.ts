// The CLI's argument parsing: a table of subcommands, each with its options, parsed with
// node:util's parseArgs. Later subcommands (serve, demo, snapshot) add an entry to the table.

import { parseArgs } from 'util';

/** How one option is written and what it means. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly description: string;
  readonly placeholder?: string;
  /** The option may be given more than once (a string option's values become an array). */
  readonly multiple?: boolean;
}

/** Where a command writes: stdout for results, stderr for console and diagnostics. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** The parsed options of one invocation. */
export type ParsedOptions = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;

/** A subcommand: its name, one-line summary, options and what it does. Resolves with the exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** One optional positional argument, stored under this option name (e.g. translate's ADDR). */
  readonly positional?: { readonly name: string; readonly placeholder: string };
  run(options: ParsedOptions, io: CommandIo): Promise<number>;
}

/** The command line is wrong (unknown command or option, missing value). Exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Splits argv (without node and script) into the command and its parsed options. */
export function parseCommandLine(argv: readonly string[], commands: readonly Command[]): { command: Command; options: ParsedOptions } | { help: string } {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return { help: usage(commands) };
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`Unknown command "${name}"; run "mmscope --help" for the list.`);
  if (rest.includes('--help') || rest.includes('-h')) return { help: commandUsage(command) };
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [key, o] of Object.entries(command.options)) spec[key] = o.multiple ? { type: o.type, multiple: true } : { type: o.type };
  try {
    const { values, positionals } = parseArgs({ args: [...rest], options: spec, strict: true, allowPositionals: true });
    const allowed = command.positional ? 1 : 0;
    if (positionals.length > allowed) throw new UsageError(`"${positionals[allowed]}" is not an option of "mmscope ${name}"; run "mmscope ${name} --help".`);
    const options: Record<string, string | boolean | readonly string[] | undefined> = { ...(values as ParsedOptions) };
    if (command.positional && positionals.length) options[command.positional.name] = positionals[0];
    return { command, options };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${(e as Error).message.split('\n')[0]}; run "mmscope ${name} --help".`);
  }
}

/** Parses a number written as decimal or 0x-hex. Throws UsageError naming the option. */
export function parseNumberOption(option: string, text: ParsedOptions[string]): number {
  if (typeof text !== 'string' || !/^(0[xX][0-9a-fA-F]+|\d+)$/.test(text.trim())) throw new UsageError(`--${option} needs a number (decimal or 0x-hex), got "${String(text)}".`);
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${option} is too large.`);
  return value;
}

/** An address option: decimal or 0x-hex, up to 64 bits, exact. */
export function parseAddressOption(option: string, text: ParsedOptions[string]): bigint {
  if (typeof text !== 'string' || !/^(0[xX][0-9a-fA-F]+|\d+)$/.test(text.trim())) throw new UsageError(`--${option} needs a number (decimal or 0x-hex), got "${String(text)}".`);
  const value = BigInt(text.trim());
  if (value >= 1n << 64n) throw new UsageError(`${text} does not fit 64 bits.`);
  return value;
}

export function usage(commands: readonly Command[]): string {
  const lines = ['usage: mmscope <command> [options]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run "mmscope <command> --help" for its options.');
  return lines.join('\n') + '\n';
}

export function commandUsage(c: Command): string {
  const lines = [`usage: mmscope ${c.name} [options]${c.positional ? ` ${c.positional.placeholder}` : ''}`, '', c.summary, '', 'options:'];
  for (const [key, o] of Object.entries(c.options)) {
    const left = `--${key}${o.type === 'string' ? ' ' + (o.placeholder ?? 'VALUE') : ''}`;
    lines.push(`  ${left.padEnd(24)} ${o.description}${o.multiple ? ' (may be repeated)' : ''}`);
  }
  return lines.join('\n') + '\n';
}
