/**
 * The program of cairn's in-cluster gateway pods (`node /gateway/main.js`): reads the pod
 * contract from its environment, watches the ConfigMap `cairn-gateway` with the pod's
 * ServiceAccount, serves each good version with the built-in gateway on CAIRN_GATEWAY_LISTEN, and
 * answers the control plane on its admin listener. SIGTERM: stop accepting, finish in-flight
 * requests, exit 0. Logs are JSON lines on stderr.
 */
import { processLog } from '../../lib/index.js';
import { serveAdmin } from './admin-server.js';
import { ConfigMapWatch } from './configmap-watch.js';
import { GatewayPod } from './gateway-pod.js';
import { parsePodEnv } from './pod-env.js';

/** Time in-flight requests get to finish on SIGTERM (the pod's termination grace is longer). */
const STOP_GRACE_MS = 20_000;

const logLines = processLog(2, (text) => process.stderr.write(text));
const log = (fields: Record<string, unknown>) => logLines.line(fields);

function fail(msg: string, error: Error & { hint?: string }): never {
  log({ level: 'error', msg, error: error.message, ...(error.hint && { hint: error.hint }) });
  process.exit(1);
}

async function main(): Promise<void> {
  let env: ReturnType<typeof parsePodEnv>;
  try {
    env = parsePodEnv(process.env);
  } catch (error) {
    fail('gateway pod cannot start', error as Error);
  }
  const pod = new GatewayPod({
    listen: env.listen,
    log,
    onListenFailed: (error) => fail(`listening on ${env.listen}`, error),
  });
  const admin = await serveAdmin(env.adminHost, env.adminPort, pod).catch((error: Error) =>
    fail(`listening for admin requests on ${env.adminHost}:${env.adminPort}`, error),
  );
  const watch = new ConfigMapWatch(
    {
      apiserver: env.apiserver,
      namespace: env.namespace,
      name: env.configMap,
      serviceAccountDir: env.serviceAccountDir,
    },
    {
      onObject: (configMap, resourceVersion) => pod.offer(configMap, resourceVersion),
      onDeleted: () =>
        log({ level: 'warn', msg: 'the gateway ConfigMap was deleted; the last good version keeps serving' }),
      log,
    },
  );
  watch.start();
  log({
    msg: 'gateway pod started',
    namespace: env.namespace,
    configMap: env.configMap,
    admin: `${env.adminHost}:${env.adminPort}`,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ msg: 'gateway pod stopping', signal });
    watch.stop();
    await pod.stop(STOP_GRACE_MS);
    admin.close();
    log({ msg: 'gateway pod stopped' });
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stop(signal));
}

main().catch((error: Error) => fail('gateway pod failed', error));
