/** The built-in gateway runs the TrafficRouter conformance suite every router implementation runs. */
import { createGateway } from '../../src/gateway/index.js';
import { describeTrafficRouter } from '../../src/gateway/testing/traffic-router-conformance.js';

describeTrafficRouter('builtin gateway', async () => {
  const gateway = createGateway({
    listen: '127.0.0.1:0',
    routes: [{ host: 'conformance.test', path: '/', service: 'web' }],
  });
  const address = await gateway.listen();
  return { router: gateway, address, close: () => gateway.close(1000) };
});

describeTrafficRouter('haproxy engine', async () => {
  const gateway = createGateway({
    engine: 'haproxy',
    listen: '127.0.0.1:0',
    routes: [{ host: 'conformance.test', path: '/', service: 'web' }],
  });
  const address = await gateway.listen();
  return { router: gateway, address, close: () => gateway.close(1000) };
});
