/**
 * Why the instances of a release are not healthy, kept while the control plane runs: the last
 * failed health probe of each starting instance, and every start that failed (with whether its
 * cause can change). A rollout reads them to fail at once on a cause that cannot change, and
 * `deploy --wait` prints them as they happen.
 */
import { CairnError, diskFullError, ValidationError } from '../lib/index.js';

/** How many problems a rollout view carries (the newest). */
const MAX_PROBLEMS = 5;

/** One start that threw. */
interface StartFailure {
  atIso: string;
  reason: string;
  permanent: boolean;
}

/**
 * Whether a start failure will happen again on every retry: the image or its run spec cannot work
 * (a mount point that cannot be made, an entrypoint that is not there or not executable here).
 */
export function isPermanentStartFailure(error: unknown): boolean {
  if (error instanceof ValidationError) return true;
  if (!(error instanceof CairnError)) return false;
  return PERMANENT.some((re) => re.test(error.message));
}

const PERMANENT = [
  /mount path \S+ is not a folder/,
  /executable file not found/,
  /exec format error/,
  /no such file or directory/i,
  /permission denied/i,
  /cannot mount volumes/,
  /cannot mount configuration files/,
  /configuration file \S+ has no mount point/,
  /the workspace has no copy of/,
  /its pinned copy no longer hashes to/,
];

export class FailureNotes {
  private readonly probeErrors = new Map<string, { release: string; error: string }>();
  private readonly starts = new Map<string, StartFailure[]>();

  constructor(private readonly now: () => number) {}

  /** The latest probe of `instance` (of `release`) failed with `error`, or passed (undefined). */
  probe(instance: string, release: string, error: string | undefined): void {
    if (error === undefined) this.probeErrors.delete(instance);
    else this.probeErrors.set(instance, { release, error });
  }

  /** The last probe error of an instance, if its last probe failed. */
  probeError(instance: string): string | undefined {
    return this.probeErrors.get(instance)?.error;
  }

  forget(instance: string): void {
    this.probeErrors.delete(instance);
  }

  /** A start of `release` in `env` threw `error`; returns whether retrying is pointless. */
  startFailed(env: string, release: string, error: unknown): boolean {
    const permanent = isPermanentStartFailure(error);
    const key = `${env}/${release}`;
    // A full disk reads as one: "no space left on device", the file, the code.
    const reason = `starting an instance failed: ${diskFullError(error)?.message ?? (error as Error).message}`;
    const list = [...(this.starts.get(key) ?? []), { atIso: this.iso(), reason, permanent }];
    this.starts.set(key, list.slice(-MAX_PROBLEMS));
    return permanent;
  }

  /** Starts of `release` that threw since `sinceIso`. */
  startFailures(env: string, release: string, sinceIso: string): StartFailure[] {
    return (this.starts.get(`${env}/${release}`) ?? []).filter((f) => f.atIso >= sinceIso);
  }

  /** The cause that will not change, when the latest start since `sinceIso` failed for one. */
  permanent(env: string, release: string, sinceIso: string): string | undefined {
    const last = this.startFailures(env, release, sinceIso).at(-1);
    return last?.permanent ? last.reason : undefined;
  }

  /** Probe errors of instances of `release` now, as `<instance>: <error>`. */
  probeProblems(release: string): string[] {
    return [...this.probeErrors]
      .filter(([, p]) => p.release === release)
      .map(([id, p]) => `${id}: ${p.error}`);
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}
