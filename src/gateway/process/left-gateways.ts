/** Gateway processes a control plane left running (it died, or `cairn down --keep-instances`). */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, waitGone } from './gateway-launch.js';
import { isGatewayProcess, readPidFile } from './state-file.js';

/** Pid and environment of each gateway process of the workspace whose `run/` folder is `runDir`. */
export function leftGateways(runDir: string): Array<{ env: string; pid: number }> {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const m = /^gateway-(.+)\.pid$/.exec(name);
    const pid = m ? readPidFile(join(runDir, name))?.pid : undefined;
    if (!m || !pid || !isAlive(pid) || !isGatewayProcess(pid, join(runDir, `gateway-${m[1]}.json`)))
      return [];
    return [{ env: m[1]!, pid }];
  });
}

/** Stops them (SIGTERM: in-flight requests finish; SIGKILL after `graceMs`) and removes their files. */
export async function stopLeftGateways(runDir: string, graceMs = 10_000): Promise<string[]> {
  const left = leftGateways(runDir);
  await Promise.all(
    left.map(async ({ env, pid }) => {
      process.kill(pid, 'SIGTERM');
      await waitGone(pid, graceMs);
      for (const ext of ['json', 'pid', 'sock'])
        rmSync(join(runDir, `gateway-${env}.${ext}`), { force: true });
    }),
  );
  return left.map((g) => g.env);
}
