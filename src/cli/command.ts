/**
 * The shape of a cairn command and the parsing every command shares. A verb is one file in
 * `verbs/` exporting `command`; `main.ts` finds it by name, so adding a verb touches nothing else.
 */
import { parseArgs } from 'node:util';
import { CairnError } from '../lib/index.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Placeholder shown in help, e.g. FILE. */
  value?: string;
  multiple?: boolean;
  default?: string | boolean;
}

export type OutputFormat = 'text' | 'json' | 'cyclonedx';

export interface CommandContext {
  /** Positional arguments after the verb. */
  args: string[];
  options: Record<string, string | boolean | string[] | undefined>;
  output: OutputFormat;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  summary: string;
  /** e.g. `cairn validate [-f FILE]` */
  usage: string;
  /** Longer help: what it does, exit codes, examples. */
  description?: string;
  options: Record<string, OptionSpec>;
  /** Takes `--output json`. */
  readsState?: boolean;
  /** Output formats beyond text and json this command writes (e.g. `cyclonedx`). */
  outputs?: OutputFormat[];
  run(ctx: CommandContext): Promise<number | undefined> | number | undefined;
}

/** Who runs a command, as its audit entries and store rows name them. */
export function actorOf(ctx: Pick<CommandContext, 'env'>): string {
  return ctx.env.USER ?? ctx.env.LOGNAME ?? 'cli';
}

/** Options every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'Show this help.' },
};

export const FILE_OPTION: OptionSpec = {
  type: 'string',
  short: 'f',
  value: 'FILE',
  description: 'The spec file (default: cairn.yaml in this folder or a parent).',
};

export const OUTPUT_OPTION: OptionSpec = {
  type: 'string',
  short: 'o',
  value: 'text|json',
  description: 'Output format.',
  default: 'text',
};

/** A usage error: wrong flags or arguments. Exit code 1, with the command's usage as the hint. */
export class UsageError extends CairnError {
  constructor(message: string, usage: string) {
    super('usage', message, { hint: `usage: ${usage} (see --help)` });
  }
}

export interface Parsed {
  args: string[];
  options: CommandContext['options'];
}

export function parseCommandArgs(command: Command, argv: string[]): Parsed {
  const all = { ...COMMON_OPTIONS, ...command.options };
  const config = Object.fromEntries(
    Object.entries(all).map(([name, o]) => [
      name,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: config,
      allowPositionals: true,
      strict: true,
    });
    const options = { ...values } as CommandContext['options'];
    for (const [name, o] of Object.entries(all)) {
      if (options[name] === undefined && o.default !== undefined) options[name] = o.default;
    }
    return { args: positionals, options };
  } catch (error) {
    throw new UsageError(
      `reading arguments of cairn ${command.name}: ${(error as Error).message}`,
      command.usage,
    );
  }
}

export function outputFormat(command: Command, options: CommandContext['options']): OutputFormat {
  const value = options.output ?? 'text';
  const allowed: string[] = ['text', 'json', ...(command.outputs ?? [])];
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new UsageError(
      `reading --output: "${String(value)}" is not ${allowed.join(' or ')}`,
      command.usage,
    );
  }
  return value as OutputFormat;
}

export function renderHelp(command: Command): string {
  const all = { ...command.options, ...COMMON_OPTIONS };
  const rows = Object.entries(all).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [
      flag,
      o.description + (o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : ''),
    ];
  });
  const width = Math.max(...rows.map(([f]) => f!.length));
  const lines = [`${command.summary}`, '', `Usage: ${command.usage}`];
  if (command.description) lines.push('', command.description.trim());
  lines.push('', 'Options:', ...rows.map(([f, d]) => `  ${f!.padEnd(width)}  ${d}`));
  return `${lines.join('\n')}\n`;
}
