import { spawnSync } from 'node:child_process';
import type { ClusterCheck } from '../../kubernetes/index.js';
import { CairnError } from '../../lib/index.js';
import {
  chooseDriver,
  detectDrivers,
  hostNetworkSupport,
  packagesToInstall,
  toolPath,
} from '../../runtime/index.js';
import { findSpecFile, loadSpec } from '../../spec/index.js';
import { ENV_OPTION } from '../client.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

export const command: Command = {
  name: 'doctor',
  summary: 'Say which runtime drivers are usable here and why not; --install adds what is missing.',
  usage: 'cairn doctor [--install] [--env ENV] [-f FILE] [--output json]',
  description: `Checks runc (used when running as root), bubblewrap (rootless) and the process driver (isolates
nothing), and states the driver \`cairn up --driver auto\` will choose. Then checks network
isolation: with runc, as root, with iproute2 and nftables, each instance gets its own network
namespace that only the gateway reaches; bubblewrap and process instances share the host network.
With --install, as root on Debian or Ubuntu, installs the missing packages with apt-get first.
See docs/runtime.md.

In a project whose cairn.yaml has environments in a Kubernetes cluster, checks each (or only
--env ENV): the apiserver answers and its version, every permission cairn needs there (one
SelfSubjectAccessReview per verb), and that ValidatingAdmissionPolicy is served. See
docs/kubernetes.md.`,
  options: {
    install: { type: 'boolean', description: 'Install missing Debian/Ubuntu packages (needs root).' },
    env: ENV_OPTION,
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
  },
  async run(ctx) {
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
    const kubernetes = await clusterChecks(ctx);
    if (ctx.output === 'json') {
      const k8s = Object.keys(kubernetes).length > 0 ? { kubernetes } : {};
      ctx.stdout(
        `${JSON.stringify({ drivers, chosen, network, missingPackages: still, ...k8s }, null, 2)}\n`,
      );
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
    for (const [env, checks] of Object.entries(kubernetes))
      for (const c of checks)
        ctx.stdout(`${c.ok ? 'ok  ' : 'no  '} ${env}: ${c.check.padEnd(18)} ${c.detail}\n`);
    return 0;
  },
};

/** The Kubernetes environments of the project's cairn.yaml (or `--env`), each checked; none without a spec. */
async function clusterChecks(ctx: CommandContext): Promise<Record<string, ClusterCheck[]>> {
  let specFile: string;
  try {
    specFile = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  } catch {
    return {};
  }
  let loaded: ReturnType<typeof loadSpec>;
  try {
    loaded = loadSpec(specFile);
  } catch (error) {
    ctx.stderr(`warning: ${(error as Error).message}: its Kubernetes environments are not checked\n`);
    return {};
  }
  const only = ctx.options.env as string | undefined;
  const targets = Object.entries(loaded.spec.environments).filter(
    ([name, e]) => e.kubernetes && (only === undefined || name === only),
  );
  if (targets.length === 0) return {};
  const { checkCluster } = await import('../../kubernetes/index.js');
  const out: Record<string, ClusterCheck[]> = {};
  for (const [env, e] of targets)
    out[env] = await checkCluster({ env, target: e.kubernetes!, specDir: loaded.dir });
  return out;
}

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
