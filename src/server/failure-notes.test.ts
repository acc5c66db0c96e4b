import { describe, expect, it } from 'vitest';
import { DriverError, ValidationError } from '../lib/index.js';
import { FailureNotes, isPermanentStartFailure } from './failure-notes.js';

describe('start failures', () => {
  it('are permanent when retrying cannot help: a bad image, a missing entrypoint or mount point', () => {
    expect(isPermanentStartFailure(new ValidationError('preparing image x: it runs as root', []))).toBe(true);
    expect(
      isPermanentStartFailure(
        new DriverError(
          'starting ins-1: runc create failed: exec: "nodex": executable file not found in $PATH',
        ),
      ),
    ).toBe(true);
    expect(
      isPermanentStartFailure(new DriverError('starting ins-1: mount path /data is not a folder in image')),
    ).toBe(true);
    expect(
      isPermanentStartFailure(
        new DriverError(
          'starting ins-1: configuration file /etc/app/config.json has no mount point in image sha256:ab',
        ),
      ),
    ).toBe(true);
    expect(
      isPermanentStartFailure(new DriverError('starting ins-1: all 256 instance addresses are in use')),
    ).toBe(false);
    expect(isPermanentStartFailure(new Error('exec format error'))).toBe(false);
  });

  it('are remembered per environment and release, and the latest permanent one is the cause', () => {
    let now = Date.parse('2026-01-01T00:00:00.000Z');
    const notes = new FailureNotes(() => now);
    expect(notes.startFailed('dev', 'rel-a', new DriverError('addresses are in use'))).toBe(false);
    expect(notes.permanent('dev', 'rel-a', '2026-01-01T00:00:00.000Z')).toBeUndefined();
    now += 1000;
    expect(notes.startFailed('dev', 'rel-a', new DriverError('exec format error'))).toBe(true);
    expect(notes.permanent('dev', 'rel-a', '2026-01-01T00:00:00.000Z')).toBe(
      'starting an instance failed: exec format error',
    );
    expect(notes.permanent('dev', 'rel-a', '2026-01-01T00:00:02.000Z')).toBeUndefined();
    expect(notes.permanent('prod', 'rel-a', '2026-01-01T00:00:00.000Z')).toBeUndefined();
    expect(notes.startFailures('dev', 'rel-a', '2026-01-01T00:00:00.000Z')).toHaveLength(2);
  });

  it('keep the last probe error of each instance until it passes', () => {
    const notes = new FailureNotes(() => 0);
    notes.probe('ins-1', 'rel-a', 'GET http://10.0.0.2:3000/healthz: connection refused');
    notes.probe('ins-2', 'rel-b', 'GET http://10.0.0.6:3000/healthz: status 500');
    expect(notes.probeProblems('rel-a')).toEqual([
      'ins-1: GET http://10.0.0.2:3000/healthz: connection refused',
    ]);
    notes.probe('ins-1', 'rel-a', undefined);
    expect(notes.probeProblems('rel-a')).toEqual([]);
  });
});
