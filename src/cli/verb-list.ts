/**
 * Every verb with its one-line summary, for `cairn --help`: listing the commands must not load
 * them all (with them SQLite, CEL, the signature and SBOM libraries). `verb-list.test.ts` keeps this
 * table equal to the files in verbs/ and their `summary`.
 */
export const VERB_SUMMARIES: ReadonlyArray<readonly [verb: string, summary: string]> = [
  ['abort', 'Stop the rollout in progress and send all traffic back to the old release.'],
  [
    'apply',
    "Take cairn.yaml's routes and environments into the running gateways, in place (planned, audited).",
  ],
  ['audit', 'Read, prove, export and verify the tamper-evident audit log.'],
  ['build', 'Build reproducible OCI images of services into .cairn/store (no daemon needed).'],
  ['deploy', 'Roll out a new release of a service to an environment (builds first when given nothing).'],
  ['doctor', 'Say which runtime drivers are usable here and why not; --install adds what is missing.'],
  ['down', 'Stop the control plane and, unless --keep-instances, every instance it runs.'],
  ['drift', 'Check now that every instance is exactly the artifact it was started from.'],
  ['history', 'List past rollouts of a service in an environment, with outcome and duration.'],
  ['identity', "Print the workload CA's trust bundle, or create the CA of a workspace made before identity."],
  ['images', 'List the images in the workspace store (.cairn/store).'],
  ['init', 'Create the .cairn/ workspace: state database, image store, keys folder, API token.'],
  ['inspect', 'Show an image: manifest, config, layers, signatures and attestations.'],
  ['keygen', 'Create a signing key pair (private key at mode 0600, public key in PEM).'],
  ['logs', "Print an instance's output (stdout and stderr), or a service's with --env; -f follows it."],
  ['pause', 'Hold the rollout in progress where it is (weights and instances stay).'],
  ['plan', 'Show what would change: + create, -/+ replace, - destroy (never an in-place update).'],
  ['promote', 'Move the exact release that completed in one environment to the next, through its gates.'],
  ['promote-step', 'Finish the current canary step now (skip its pause or analysis).'],
  ['ps', 'List running instances: release, driver, endpoint, health, uptime.'],
  ['pull', 'Pull an image from a registry into .cairn/store, verifying every blob.'],
  ['push', 'Push an image from .cairn/store to a registry (OCI distribution API) or another OCI layout.'],
  ['resume', 'Continue a paused rollout (and pass an indefinite pause step).'],
  ['rollback', 'Send traffic back to the previous known-good release (a weight flip when it is still warm).'],
  ['scan', "Scan an image's SBOM against the local OSV database and print the findings."],
  ['schema', 'Print the JSON Schema of cairn.yaml, for editors.'],
  ['secret', 'Store, rotate, list and remove secrets (encrypted; values never printed).'],
  ['sign', 'Sign an image in the store (cosign .sig tag and a Sigstore bundle referrer).'],
  [
    'status',
    'Show each service: current release, rollout phase and step, weights, instances and health; drift checks and quarantined instances; a full disk.',
  ],
  ['token', 'Create, list and revoke per-user tokens for the API and the dashboard (viewer or operator).'],
  [
    'trace',
    'Trace an instance, release or image back to its signature, provenance and source, with its audit entries.',
  ],
  ['up', 'Start the control plane: API, gateways, supervision, rollouts (--detach for the background).'],
  ['validate', 'Check cairn.yaml and report every problem with file:line:column.'],
  ['verify', 'Verify an image: blobs, signature, attestations, SBOM against the layers, provenance.'],
  ['volume', 'List named volumes (size, services, instances mounting them) or remove one.'],
  ['vuln', 'Manage the local OSV vulnerability database the scan gate reads.'],
];
