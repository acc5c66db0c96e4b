/**
 * The HAProxy child process of one gateway: started in the foreground (`-db`) from a config file,
 * ready once its admin socket answers, stopped softly (SIGUSR1: stop listening, finish in-flight
 * requests). Its pid is kept in the engine's folder, so a HAProxy left behind by a control plane
 * that died is stopped before a new one takes the port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError } from '../../lib/index.js';
import type { RuntimeApi } from './runtime-api.js';

const START_TIMEOUT_MS = 10_000;

export type ExitListener = (code: number | null, signal: string | null, output: string) => void;

export class HaproxyProcess {
  private child: ChildProcess | undefined;
  /** The last output of each child (a restart must not wipe what the previous one said). */
  private readonly outputs = new WeakMap<ChildProcess, string>();

  constructor(
    private readonly dir: string,
    private readonly api: RuntimeApi,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /**
   * Starts HAProxy on `haproxy.cfg` in the folder; resolves once its runtime API answers. A HAProxy
   * left running on this folder (its gateway process died) hands its listening sockets over
   * (`-x admin.sock -sf PID`: HAProxy's seamless reload) and finishes its requests, so the port is
   * never closed; if the handover fails, it is killed and HAProxy starts afresh.
   */
  async start(where: string, onExit: ExitListener): Promise<void> {
    const old = this.leftover();
    if (old !== undefined) {
      try {
        return await this.spawnAndWait(where, onExit, ['-x', this.adminSocket(), '-sf', String(old)]);
      } catch {
        this.child = undefined;
      }
    }
    await this.stopLeftover();
    rmSync(this.adminSocket(), { force: true });
    await this.spawnAndWait(where, onExit, []);
  }

  private async spawnAndWait(where: string, onExit: ExitListener, extra: string[]): Promise<void> {
    const child = spawn('haproxy', ['-db', '-f', join(this.dir, 'haproxy.cfg'), ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.outputs.set(child, ((this.outputs.get(child) ?? '') + d.toString()).slice(-4096));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const failed = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (failed)
      throw new DriverError(`start haproxy gateway: cannot run haproxy (${failed.message})`, {
        hint: 'install it (apt-get install haproxy) or set environments.<env>.gateway.engine: builtin',
      });
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.api.close();
      onExit(code, signal, (this.outputs.get(child) ?? '').slice(-800));
    });
    await this.waitForApi(child, where);
    writeFileSync(this.pidFile(), `${child.pid}\n`, { mode: 0o600 });
  }

  /**
   * Seamless reload on a rewritten config: a new HAProxy takes the listening sockets of the running
   * one (`-x`), which then stops accepting and finishes its requests (`-sf`). Not one connection is
   * refused. Without a running child, a plain start.
   */
  async reload(where: string, onExit: ExitListener): Promise<void> {
    const old = this.child?.pid;
    if (old === undefined) return this.start(where, onExit);
    this.api.close();
    await this.spawnAndWait(where, onExit, ['-x', this.adminSocket(), '-sf', String(old)]);
  }

  /** Soft stop, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGUSR1');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    this.api.close();
    rmSync(this.pidFile(), { force: true });
  }

  private pidFile(): string {
    return join(this.dir, 'haproxy.pid');
  }

  private adminSocket(): string {
    return join(this.dir, 'admin.sock');
  }

  /** The HAProxy a previous gateway process started on this folder's config, if it still runs. */
  private leftover(): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidFile(), 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.startsWith('haproxy\0') && cmdline.includes(join(this.dir, 'haproxy.cfg'))) return pid;
    } catch {
      // no pid file, or that process is gone
    }
    return undefined;
  }

  /** Kills the leftover HAProxy, if any. */
  private async stopLeftover(): Promise<void> {
    const pid = this.leftover();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private outputClosed(child: ChildProcess): Promise<void> {
    if (child.stdout?.closed && child.stderr?.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async waitForApi(child: ChildProcess, where: string): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await this.outputClosed(child); // its last words (a bind error) may still be in the pipe
        const output = (this.outputs.get(child) ?? '').trim().slice(-800);
        throw new DriverError(`start haproxy gateway: haproxy exited: ${output}`, {
          hint: `check that ${where} is free and the routes are valid`,
        });
      }
      try {
        // The socket path may still lead to the HAProxy handing over: only this child's answer counts.
        if ((await this.api.send('show info')).includes(`Pid: ${child.pid}\n`)) return;
        throw new Error('the previous haproxy answered');
      } catch {
        this.api.close();
        if (Date.now() > deadline)
          throw new DriverError('start haproxy gateway: its admin socket did not answer within 10 s', {
            hint: 'see the haproxy output in the cairn log',
          });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}
