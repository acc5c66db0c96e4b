import { spawnSync } from 'node:child_process';
import { CairnError } from '../../lib/index.js';
import { chooseDriver, detectDrivers, packagesToInstall } from '../../runtime/index.js';
import { type Command, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'doctor',
  summary: 'Say which runtime drivers are usable here and why not; --install adds what is missing.',
  usage: 'cairn doctor [--install] [--output json]',
  description: `Checks runc (used when running as root), bubblewrap (rootless) and the process driver (isolates
nothing), and states the driver \`cairn up --driver auto\` will choose. With --install, as root on
Debian or Ubuntu, installs the missing packages with apt-get first.`,
  options: {
    install: { type: 'boolean', description: 'Install missing Debian/Ubuntu packages (needs root).' },
    output: OUTPUT_OPTION,
  },
  run(ctx) {
    let drivers = detectDrivers();
    const missing = packagesToInstall(drivers);
    if (ctx.options.install && missing.length > 0) {
      if (process.getuid?.() === 0) {
        install(missing, ctx.env, ctx.stderr);
        drivers = detectDrivers();
      } else {
        // Not an error: the best driver available still works; say so and carry on.
        ctx.stderr(
          `warning: not root, so ${missing.join(', ')} cannot be installed (sudo apt-get install -y ${missing.join(' ')})\n`,
        );
      }
    }
    const chosen = chooseDriver(drivers);
    if (ctx.output === 'json') {
      ctx.stdout(
        `${JSON.stringify({ drivers, chosen, missingPackages: packagesToInstall(drivers) }, null, 2)}\n`,
      );
      return 0;
    }
    for (const d of drivers) ctx.stdout(`${d.usable ? 'ok  ' : 'no  '} ${d.kind.padEnd(8)} ${d.detail}\n`);
    ctx.stdout(
      `cairn up will use the ${chosen} driver${chosen === 'process' ? ' — it isolates nothing: install runc or bubblewrap' : ''}\n`,
    );
    const still = packagesToInstall(drivers);
    if (still.length)
      ctx.stdout(
        `to install what is missing: cairn doctor --install (or apt-get install -y ${still.join(' ')})\n`,
      );
    return 0;
  },
};

function install(packages: string[], env: NodeJS.ProcessEnv, say: (t: string) => void): void {
  const run = (args: string[]) =>
    spawnSync('apt-get', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  say(`installing ${packages.join(', ')} with apt-get…\n`);
  if (run(['install', '-y', '-q', ...packages]) === 0) return;
  if (run(['update', '-q']) === 0 && run(['install', '-y', '-q', ...packages]) === 0) return;
  throw new CairnError('install_failed', `installing ${packages.join(', ')}: apt-get failed`, {
    hint: 'check the network and the apt sources, or install them yourself',
  });
}
