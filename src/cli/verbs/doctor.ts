import { spawnSync } from 'node:child_process';
import { CairnError } from '../../lib/index.js';
import {
  chooseDriver,
  detectDrivers,
  hostNetworkSupport,
  packagesToInstall,
  toolPath,
} from '../../runtime/index.js';
import { type Command, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'doctor',
  summary: 'Say which runtime drivers are usable here and why not; --install adds what is missing.',
  usage: 'cairn doctor [--install] [--output json]',
  description: `Checks runc (used when running as root), bubblewrap (rootless) and the process driver (isolates
nothing), and states the driver \`cairn up --driver auto\` will choose. Then checks network
isolation: with runc, as root, with iproute2 and nftables, each instance gets its own network
namespace that only the gateway reaches; bubblewrap and process instances share the host network.
With --install, as root on Debian or Ubuntu, installs the missing packages with apt-get first.
See docs/runtime.md.`,
  options: {
    install: { type: 'boolean', description: 'Install missing Debian/Ubuntu packages (needs root).' },
    output: OUTPUT_OPTION,
  },
  run(ctx) {
    let drivers = detectDrivers();
    const missing = [...packagesToInstall(drivers), ...networkPackagesMissing()];
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
    const network = networkIsolation(chosen);
    const still = [...packagesToInstall(drivers), ...networkPackagesMissing()];
    if (ctx.output === 'json') {
      ctx.stdout(`${JSON.stringify({ drivers, chosen, network, missingPackages: still }, null, 2)}\n`);
      return 0;
    }
    for (const d of drivers) ctx.stdout(`${d.usable ? 'ok  ' : 'no  '} ${d.kind.padEnd(8)} ${d.detail}\n`);
    ctx.stdout(
      `cairn up will use the ${chosen} driver${chosen === 'process' ? ' — it isolates nothing: install runc or bubblewrap' : ''}\n`,
    );
    ctx.stdout(`${network.isolated ? 'ok  ' : 'no  '} network  ${network.detail}\n`);
    if (still.length)
      ctx.stdout(
        `to install what is missing: cairn doctor --install (or apt-get install -y ${still.join(' ')})\n`,
      );
    return 0;
  },
};

/** Whether instances of the chosen driver get their own network, and what that means. */
function networkIsolation(driver: string): { isolated: boolean; detail: string } {
  if (driver !== 'runc') {
    return {
      isolated: false,
      detail: `the ${driver} driver keeps the host network: an instance listening on 0.0.0.0 is reachable on its port (use runc as root to isolate)`,
    };
  }
  const support = hostNetworkSupport();
  return support.ok
    ? { isolated: true, detail: 'each instance has its own network namespace; only the gateway reaches it' }
    : { isolated: false, detail: `instances share the host network: ${support.reason}` };
}

/** iproute2 and nftables, when runc could isolate instances with them. */
function networkPackagesMissing(): string[] {
  if (process.getuid?.() !== 0) return [];
  const has = (tool: string) => toolPath(tool) !== tool;
  return [
    ...(has('ip') ? [] : ['iproute2']),
    ...(has('nft') ? [] : ['nftables']),
    ...(has('nsenter') ? [] : ['util-linux']),
  ];
}

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
