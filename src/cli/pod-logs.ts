/**
 * `cairn logs` for pods: the output of instances of a Kubernetes environment is the kubelet's,
 * read through the apiserver (`pods/log`), each line prefixed with the pod's name as for
 * instances on this machine. With -f each pod's log is followed (`follow=true`) until Ctrl-C or
 * until the pod goes away; following a service picks up pods that start meanwhile.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../kubernetes/index.js';
import { loadSpec } from '../spec/index.js';
import type { CommandContext } from './command.js';
import { prefixedLines } from './prefixed-lines.js';

/** How often `logs SERVICE -f` looks for pods that started since (as for local instances). */
const NEW_PODS_POLL_MS = 1000;

export interface PodLogsTarget {
  env: string;
  pods: string[];
  tail: number | undefined;
  /** For `logs SERVICE --env ENV`: the service's live pods now (lines are prefixed; -f picks up new ones). */
  livePods?: () => string[];
}

/** Prints the logs of `pods` of Kubernetes environment `env`; false when `env` is not one. */
export async function podLogs(
  ctx: CommandContext,
  specFile: string,
  target: PodLogsTarget,
): Promise<boolean> {
  const loaded = loadSpec(specFile);
  const k8s = loaded.spec.environments[target.env]?.kubernetes;
  if (!k8s) return false;
  const { Cluster } = await import('../kubernetes/index.js');
  const cluster = await Cluster.open({ env: target.env, target: k8s, specDir: loaded.dir });
  if (ctx.options.follow) {
    await followPods(ctx, cluster, target);
    return true;
  }
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

/**
 * Follows every pod until Ctrl-C (SIGINT/SIGTERM); a single pod also ends when it goes away, a
 * service only on Ctrl-C (its pods come and go).
 */
async function followPods(ctx: CommandContext, cluster: Cluster, target: PodLogsTarget): Promise<void> {
  const controller = new AbortController();
  // One listener per pod followed: a service with more than 10 pods is no leak.
  setMaxListeners(0, controller.signal);
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const prefixed = target.livePods !== undefined || target.pods.length > 1;
  const following = new Map<string, Promise<void>>();
  const follow = (pod: string, tail: number | undefined) => {
    const out = prefixed ? prefixedLines(pod, ctx.stdout) : undefined;
    const run = cluster
      .followPodLog(pod, out ?? ctx.stdout, controller.signal, tail)
      .finally(() => out?.flush());
    following.set(pod, run);
    return run;
  };
  try {
    if (!target.livePods) {
      await Promise.all(target.pods.map((pod) => follow(pod, target.tail)));
      return;
    }
    // A pod that could not be followed (still starting, or gone) is tried again at the next look.
    const tryFollow = (pod: string, tail: number | undefined) =>
      follow(pod, tail).catch(() => following.delete(pod));
    for (const pod of target.pods) tryFollow(pod, target.tail);
    while (!controller.signal.aborted) {
      await sleep(NEW_PODS_POLL_MS, undefined, { signal: controller.signal }).catch(() => undefined);
      for (const pod of target.livePods())
        if (!following.has(pod) && !controller.signal.aborted) tryFollow(pod, undefined);
    }
    await Promise.allSettled(following.values());
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
