/**
 * `cairn logs` for pods: the output of instances of a Kubernetes environment is the kubelet's,
 * read through the apiserver (`pods/log`), each line prefixed with the pod's name as for
 * instances on this machine. Following (-f) a pod is not supported yet: said, not ignored.
 */
import { loadSpec } from '../spec/index.js';
import type { CommandContext } from './command.js';
import { UsageError } from './command.js';
import { prefixedLines } from './prefixed-lines.js';

/** Prints the logs of `pods` of Kubernetes environment `env`; false when `env` is not one. */
export async function podLogs(
  ctx: CommandContext,
  specFile: string,
  target: { env: string; pods: string[]; tail: number | undefined; usage: string },
): Promise<boolean> {
  const loaded = loadSpec(specFile);
  const k8s = loaded.spec.environments[target.env]?.kubernetes;
  if (!k8s) return false;
  if (ctx.options.follow)
    throw new UsageError(
      `following the logs of pods in ${target.env}: not supported yet (cairn logs reads them once)`,
      target.usage,
    );
  const { Cluster } = await import('../kubernetes/index.js');
  const cluster = await Cluster.open({ env: target.env, target: k8s, specDir: loaded.dir });
  for (const pod of target.pods) {
    const out = target.pods.length > 1 ? prefixedLines(pod, ctx.stdout) : undefined;
    const text = await cluster.podLog(pod, target.tail);
    if (out) {
      out(text);
      out.flush();
    } else ctx.stdout(text);
  }
  return true;
}
