/**
 * Gates at the cluster's door, as plain data: the apiserver itself refuses any pod of the
 * environment's namespace whose images are not releases that passed cairn's gates there.
 *
 * - `cairn-admitted` (a ConfigMap in the namespace) lists the digests cairn admitted, one key
 *   `sha256.<hex>` each, naming the release, its service and the admission policies that held.
 * - `cairn-gates.<namespace>` (a ValidatingAdmissionPolicy with that ConfigMap as its params, and
 *   its Binding, `validationActions: [Deny]`) refuses a pod with an image not by digest or not
 *   listed: an unsigned image, a digest whose gates failed, any tag.
 * - `cairn-policy.<namespace>.<policy>`: one per cairn policy that matches `admission`, refusing
 *   with the policy's own message a pod whose digest that policy did not admit. The expression is
 *   cairn's (it reads SBOM, signatures, scan and provenance, which a Pod does not carry): cairn
 *   evaluates it, the apiserver enforces the verdict by name.
 *
 * Pure: no client, no I/O.
 */
import { LABEL, type Manifest } from './manifests.js';

export const ADMITTED_CONFIGMAP = 'cairn-admitted';
/** Cluster-scoped objects cairn made for a namespace carry this label (listed to remove stale ones). */
export const NAMESPACE_LABEL = 'cairn.dev/namespace';
/** The reason the apiserver gives in an event when one of these policies refused a pod. */
export const REFUSAL_MARK = "ValidatingAdmissionPolicy 'cairn-";

const VAP_API = 'admissionregistration.k8s.io/v1';

/** A release whose image the cluster may run, and the admission policies that held for it. */
export interface AdmittedRelease {
  digest: string;
  releaseId: string;
  service: string;
  policies: string[];
}

/** A cairn policy that matches `admission` in the environment (what its VAP needs of it). */
export interface AdmissionPolicy {
  name: string;
  /** The first validation's message, or a default naming the policy. */
  message: string;
  /** Empty: every pod of the namespace. */
  services: string[];
}

/** The ConfigMap key of a digest: `sha256.<hex>` (keys allow `[-._a-zA-Z0-9]` only). */
export const admittedKey = (digest: string): string => digest.replace(':', '.');

const safe = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');

export const gatesPolicyName = (namespace: string): string => `cairn-gates.${namespace}`;
export const policyObjectName = (namespace: string, policy: string): string =>
  `cairn-policy.${namespace}.${safe(policy)}`.slice(0, 253);

/** The allow-list: one key per admitted digest (the value names release, service and policies). */
export function admittedManifest(namespace: string, releases: AdmittedRelease[]): Manifest {
  const data: Record<string, string> = {};
  for (const r of releases) {
    data[admittedKey(r.digest)] =
      `release=${r.releaseId} service=${r.service} policies=,${r.policies.join(',')},`;
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: ADMITTED_CONFIGMAP, namespace, labels: { [LABEL.managedBy]: 'cairn' } },
    data,
  };
}

/** Every image of the pod (containers, init and ephemeral containers), as CEL over `object`. */
const IMAGES =
  'object.spec.containers.map(c, c.image)' +
  ' + (has(object.spec.initContainers) ? object.spec.initContainers.map(c, c.image) : [])' +
  ' + (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers.map(c, c.image) : [])';

/** CEL: image `i` is by digest and that digest is a key of the params. */
const LISTED =
  "i.contains('@sha256:') && has(params.data) && ('sha256.' + i.split('@sha256:')[1]) in params.data";

/**
 * The digest allow-list as a VAP and its Binding, over the environment's namespace and, when the
 * environment's gateway runs in the cluster, its gateway namespace too (the gateway's digest is
 * on the same list).
 */
export function gatesManifests(namespace: string, env: string, gatewayNamespace?: string): Manifest[] {
  const refused = `variables.images.filter(i, !(${LISTED}))`;
  const covered = gatewayNamespace ? [namespace, gatewayNamespace] : [namespace];
  return vapPair(namespace, gatesPolicyName(namespace), covered, {
    variables: [
      { name: 'images', expression: IMAGES },
      { name: 'refused', expression: refused },
    ],
    validations: [
      {
        expression: 'size(variables.refused) == 0',
        messageExpression: `'image ' + variables.refused[0] + ${cel(
          ` is not a release that passed cairn's gates in environment ${env}: cairn deploy admits releases by digest`,
        )}`,
        reason: 'Forbidden',
      },
    ],
  });
}

/** One cairn admission policy as a VAP (and Binding) that enforces cairn's verdict per digest. */
export function policyManifests(namespace: string, env: string, policy: AdmissionPolicy): Manifest[] {
  // An image not on the list at all is the gates policy's to refuse (with its clearer message).
  const held = `!(${LISTED}) || params.data['sha256.' + i.split('@sha256:')[1]].contains(${cel(`,${policy.name},`)})`;
  const services = `[${policy.services.map(cel).join(', ')}]`;
  return vapPair(namespace, policyObjectName(namespace, policy.name), [namespace], {
    variables: [{ name: 'images', expression: IMAGES }],
    ...(policy.services.length > 0
      ? {
          matchConditions: [
            {
              name: 'service',
              expression: `has(object.metadata.labels) && ${cel(LABEL.service)} in object.metadata.labels && object.metadata.labels[${cel(LABEL.service)}] in ${services}`,
            },
          ],
        }
      : {}),
    validations: [
      {
        expression: `variables.images.all(i, ${held})`,
        message: `cairn policy ${policy.name} (environment ${env}): ${policy.message}`,
        reason: 'Forbidden',
      },
    ],
  });
}

function vapPair(
  namespace: string,
  name: string,
  covered: string[],
  spec: Record<string, unknown>,
): Manifest[] {
  const metadata = { name, labels: { [LABEL.managedBy]: 'cairn', [NAMESPACE_LABEL]: namespace } };
  return [
    {
      apiVersion: VAP_API,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['pods', 'pods/ephemeralcontainers'],
            },
          ],
        },
        ...spec,
      },
    },
    {
      apiVersion: VAP_API,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        paramRef: { name: ADMITTED_CONFIGMAP, namespace, parameterNotFoundAction: 'Deny' },
        matchResources: { namespaceSelector: namespaceSelector(covered) },
      },
    },
  ];
}

/** The namespaces by name (one: the form cairn wrote before gateway namespaces, kept so live Bindings stay in sync). */
function namespaceSelector(namespaces: string[]): Record<string, unknown> {
  const key = 'kubernetes.io/metadata.name';
  if (namespaces.length === 1) return { matchLabels: { [key]: namespaces[0] } };
  return { matchExpressions: [{ key, operator: 'In', values: namespaces }] };
}

/** A CEL string literal (single-quoted; backslashes and quotes escaped). */
function cel(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
