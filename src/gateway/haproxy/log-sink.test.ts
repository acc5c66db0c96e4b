import { describe, expect, it } from 'vitest';
import { FrameReader, parseLogLine } from './log-sink.js';
import { parseShowStat } from './show-stat.js';

describe('parseLogLine', () => {
  it('reads the fields of LOG_FORMAT', () => {
    expect(parseLogLine('0\tweb.p1\te2\t200\t1289\tGET\tapp.test\t/x?y=1\t127.0.0.1\t154')).toEqual({
      route: '0',
      backend: 'web.p1',
      server: 'e2',
      status: 200,
      durationMs: 1.289,
      method: 'GET',
      host: 'app.test',
      path: '/x?y=1',
      client: '127.0.0.1',
      bytesOut: 154,
    });
  });

  it('reads a request the gateway answered itself, and one the client left', () => {
    expect(parseLogLine('-\tgateway\t<NOSRV>\t404\t80\tGET\t-\t/\t10.0.0.1\t90')).toMatchObject({
      route: '',
      server: '',
      status: 404,
      host: '',
    });
    expect(parseLogLine('0\tweb.p0\te1\t-1\t5000\tGET\tapp.test\t/\t10.0.0.1\t0')?.status).toBe(499);
    expect(parseLogLine('not a request line')).toBeUndefined();
  });

  it('reads the short line logged when there is no access log', () => {
    expect(parseLogLine('1\tweb.p0\te1\t503\t2500')).toMatchObject({
      route: '1',
      status: 503,
      durationMs: 2.5,
      method: '',
      bytesOut: 0,
    });
  });
});

describe('FrameReader', () => {
  it('splits octet-counted messages, across chunk boundaries too', () => {
    const reader = new FrameReader();
    const seen: string[] = [];
    reader.push('5 hello3 ab', (m) => seen.push(m));
    expect(seen).toEqual(['hello']);
    reader.push('c11 hello world', (m) => seen.push(m));
    expect(seen).toEqual(['hello', 'abc', 'hello world']);
  });
});

describe('parseShowStat', () => {
  it('counts streams in progress and queued per backend/server', () => {
    const csv = '# pxname,svname,qcur,qmax,scur,smax\nweb.p0,e1,1,0,2,5\nweb.p0,e2,0,0,0,1\n';
    expect(parseShowStat(csv)).toEqual(
      new Map([
        ['web.p0/e1', 3],
        ['web.p0/e2', 0],
      ]),
    );
  });
});
