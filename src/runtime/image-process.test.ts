import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/index.js';
import { imageProcess, mergeEnv, resolveUser } from './image-process.js';

const PASSWD =
  'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65533:nonroot:/home/nonroot:/sbin/nologin\n';
const GROUP = 'root:x:0:\nnonroot:x:65533:\napp:x:4000:\n';

describe('resolveUser', () => {
  it('takes numbers as they are and a missing gid from passwd, else equal to the uid', () => {
    expect(resolveUser('65532', PASSWD, GROUP, 'img')).toEqual({ uid: 65532, gid: 65533 });
    expect(resolveUser('1234', PASSWD, GROUP, 'img')).toEqual({ uid: 1234, gid: 1234 });
    expect(resolveUser('65532:4000', PASSWD, GROUP, 'img')).toEqual({ uid: 65532, gid: 4000 });
  });

  it('resolves names through the image files', () => {
    expect(resolveUser('nonroot:app', PASSWD, GROUP, 'img')).toEqual({ uid: 65532, gid: 4000 });
  });

  it('refuses root, explicitly or by default', () => {
    expect(() => resolveUser('', PASSWD, GROUP, 'img')).toThrow(/runs as root/);
    expect(() => resolveUser('root', PASSWD, GROUP, 'img')).toThrow(ValidationError);
    expect(() => resolveUser('0:0', PASSWD, GROUP, 'img')).toThrow(/non-root/);
  });

  it('names an unknown user', () => {
    expect(() => resolveUser('ghost', PASSWD, GROUP, 'img')).toThrow(
      /"ghost" is not in the image's \/etc\/passwd/,
    );
  });
});

describe('imageProcess', () => {
  it('joins entrypoint and cmd and adds a PATH when the image has none', () => {
    const p = imageProcess(
      {
        config: {
          User: '65532',
          Entrypoint: ['node'],
          Cmd: ['server.js'],
          Env: ['GREETING=hi'],
          WorkingDir: '/app',
        },
      },
      { passwd: PASSWD },
      'img',
    );
    expect(p.args).toEqual(['node', 'server.js']);
    expect(p.cwd).toBe('/app');
    expect(p.env[0]).toMatch(/^PATH=/);
    expect(p.env).toContain('GREETING=hi');
  });

  it('refuses an image with nothing to run', () => {
    expect(() => imageProcess({ config: { User: '1' } }, {}, 'img')).toThrow(/no entrypoint or cmd/);
  });
});

describe('mergeEnv', () => {
  it('lets injected values win and keeps order', () => {
    expect(mergeEnv(['A=1', 'PORT=80', 'B=x=y'], { PORT: '9000', C: '3' })).toEqual([
      'A=1',
      'PORT=9000',
      'B=x=y',
      'C=3',
    ]);
  });
});
