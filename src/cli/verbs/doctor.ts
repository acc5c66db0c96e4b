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
      if (process.getuid?.() !== 0) {
        throw new CairnError('not_root', `installing ${missing.join(', ')}: apt-get needs root`, {
          hint: `run: sudo apt-get install -y ${missing.join(' ')}`,
        });
      }
      ctx.stderr(`installing ${missing.join(', ')} with apt-get…\n`);
      const apt = spawnSync('apt-get', ['install', '-y', '-q', ...missing], {
        stdio: 'inherit',
        env: { ...ctx.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      if (apt.status !== 0)
        throw new CairnError(
          'install_failed',
          `installing ${missing.join(', ')}: apt-get exited ${apt.status}`,
          { hint: 'run `apt-get update` first, then try again' },
        );
      drivers = detectDrivers();
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
