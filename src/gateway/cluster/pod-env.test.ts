import { describe, expect, it } from 'vitest';
import { apiUrl } from './configmap-watch.js';
import { apiserverBase, DEFAULT_ADMIN_PORT, parsePodEnv } from './pod-env.js';

const env = {
  CAIRN_GATEWAY_LISTEN: '127.0.0.1:8443',
  CAIRN_POD_IP: '10.1.2.3',
  CAIRN_GATEWAY_NAMESPACE: 'hello-prod',
  KUBERNETES_SERVICE_HOST: '10.96.0.1',
  KUBERNETES_SERVICE_PORT: '443',
};

describe('the gateway pod contract', () => {
  it('reads the variables, with the defaults of the contract', () => {
    expect(parsePodEnv(env)).toMatchObject({
      listen: '127.0.0.1:8443',
      adminHost: '10.1.2.3',
      adminPort: DEFAULT_ADMIN_PORT,
      namespace: 'hello-prod',
      configMap: 'cairn-gateway',
      apiserver: 'https://10.96.0.1:443',
    });
  });

  it('prefers CAIRN_KUBE_APISERVER to the service address', () => {
    const parsed = parsePodEnv({ ...env, CAIRN_KUBE_APISERVER: 'https://127.0.0.1:6443/' });
    expect(parsed.apiserver).toBe('https://127.0.0.1:6443');
  });

  it('names every missing or bad variable in one error', () => {
    expect(() => parsePodEnv({ CAIRN_GATEWAY_ADMIN_PORT: '99999', CAIRN_GATEWAY_LISTEN: 'nope' })).toThrow(
      /CAIRN_GATEWAY_LISTEN "nope" is not host:port; CAIRN_POD_IP is not set; CAIRN_GATEWAY_ADMIN_PORT "99999".*CAIRN_GATEWAY_NAMESPACE is not set; neither CAIRN_KUBE_APISERVER/,
    );
  });
});

describe('CAIRN_KUBE_APISERVER', () => {
  it('accepts a kubeconfig server with a path prefix (an apiserver behind a proxy)', () => {
    const parsed = parsePodEnv({ ...env, CAIRN_KUBE_APISERVER: 'https://rancher.example/k8s/clusters/c1/' });
    expect(parsed.apiserver).toBe('https://rancher.example/k8s/clusters/c1');
    // The list and watch requests keep the prefix.
    expect(apiUrl(parsed.apiserver, '/api/v1/namespaces/ns/configmaps?watch=1').href).toBe(
      'https://rancher.example/k8s/clusters/c1/api/v1/namespaces/ns/configmaps?watch=1',
    );
    expect(apiUrl('https://127.0.0.1:6443', '/api/v1/x').href).toBe('https://127.0.0.1:6443/api/v1/x');
  });

  it('refuses plain http and what is not a URL', () => {
    expect(() => parsePodEnv({ ...env, CAIRN_KUBE_APISERVER: 'http://127.0.0.1:8080' })).toThrow(
      /CAIRN_KUBE_APISERVER "http:\/\/127.0.0.1:8080" is not https:\/\/host\[:port\]\[\/path\]/,
    );
    expect(apiserverBase('127.0.0.1:6443')).toBeUndefined();
  });
});
