/** cairn's command-line entry: finds the verb's module, parses its flags, runs it, maps errors to exit codes. */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Command, type CommandContext, outputFormat, parseCommandArgs, renderHelp } from './command.js';
import { EXIT_ERROR, errorJson, exitCodeFor, renderError } from './errors.js';
import { VERB_SUMMARIES } from './verb-list.js';

const VERBS_DIR = new URL('./verbs/', import.meta.url);

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

const processIo = (): Io => {
  surviveClosedPipes();
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    env: process.env,
  };
};

/**
 * `cairn audit log | head`: when the reader of stdout goes away, stop quietly with exit code 0, as
 * a Unix filter does, instead of dying on an unhandled EPIPE with a stack trace. A closed stderr is
 * ignored (there is no one left to tell). Other write errors still surface.
 */
export function surviveClosedPipes(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

/** The verbs there are, from the files in verbs/ (works from sources and from dist/). */
export function verbNames(): string[] {
  return readdirSync(fileURLToPath(VERBS_DIR))
    .filter((f) => /^[a-z-]+\.(js|ts)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.(js|ts)$/, ''))
    .sort();
}

export async function loadCommand(verb: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z-]*$/.test(verb) || !verbNames().includes(verb)) return undefined;
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const mod = (await import(new URL(`./verbs/${verb}.${ext}`, import.meta.url).href)) as { command: Command };
  return mod.command;
}

function overview(): string {
  const width = Math.max(...VERB_SUMMARIES.map(([verb]) => verb.length));
  return [
    'cairn — immutable-infrastructure deployment: build once, sign, promote the same digest, replace never patch.',
    '',
    'Usage: cairn <command> [options]',
    '',
    'Commands:',
    ...VERB_SUMMARIES.map(([verb, summary]) => `  ${verb.padEnd(width)}  ${summary}`),
    '',
    'Run `cairn <command> --help` for a command. Exit codes: 0 ok, 1 error, 2 changes or drift present',
    '(plan --detailed-exitcode, drift), 3 a gate denied or verification failed.',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    io.stdout(overview());
    return verb === undefined ? EXIT_ERROR : 0;
  }
  if (verb === '--version' || verb === '-v') {
    io.stdout(`${await version()}\n`);
    return 0;
  }
  const command = await loadCommand(verb);
  if (!command) {
    const { closest } = await import('../lib/index.js');
    const hint = closest(verb, verbNames());
    io.stderr(
      `error: unknown command "${verb}"\nhint: ${hint ? `did you mean \`cairn ${hint}\`? ` : ''}run \`cairn --help\` for the list\n`,
    );
    return EXIT_ERROR;
  }
  let json =
    rest.includes('--output=json') ||
    rest.join(' ').includes('-o json') ||
    rest.join(' ').includes('--output json');
  try {
    const parsed = parseCommandArgs(command, rest);
    if (parsed.options.help) {
      io.stdout(renderHelp(command));
      return 0;
    }
    const output = 'output' in command.options ? outputFormat(command, parsed.options) : 'text';
    json = output === 'json';
    const ctx: CommandContext = { ...parsed, output, ...io };
    return (await command.run(ctx)) ?? 0;
  } catch (error) {
    if (json) io.stdout(`${JSON.stringify(errorJson(error), null, 2)}\n`);
    io.stderr(renderError(error, io.env.CAIRN_DEBUG === '1'));
    return exitCodeFor(error);
  }
}

async function version(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `cairn ${pkg.version}`;
}
