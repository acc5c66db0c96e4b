#!/usr/bin/env node
// The HAProxy gateway engine in a process of its own, as `cairn up` runs it, for bench/gateway.mjs:
// its CPU time is then HAProxy's plus this process's (reading HAProxy's log), with nothing else
// mixed in. Like the built-in engine in the benchmark, it keeps metrics but no access log. Prints one JSON line {address, pid, haproxyPid}; then each stdin line is the weight
// (0-100) of release rel-a, answered with "ok" once applied. Usage: haproxy-engine.mjs A_ADDR B_ADDR
import { createInterface } from 'node:readline';
import { createGateway } from '../dist/gateway/index.js';

const [addressA, addressB] = process.argv.slice(2);
const gateway = createGateway({
  engine: 'haproxy',
  listen: '127.0.0.1:0',
  routes: [{ host: '*', path: '/', service: 'web' }],
});
const address = await gateway.listen();
const setWeight = (a) =>
  gateway.setPools('web', [
    { release: 'rel-a', weight: a, endpoints: [{ id: 'ins-rel-a', address: addressA }] },
    { release: 'rel-b', weight: 100 - a, endpoints: [{ id: 'ins-rel-b', address: addressB }] },
  ]);
await setWeight(100);
console.log(JSON.stringify({ address, pid: process.pid, haproxyPid: gateway.pid }));
for await (const line of createInterface({ input: process.stdin })) {
  await setWeight(Number(line));
  console.log('ok');
}
await gateway.close(1000);
