/**
 * Trust: signing keys, DSSE envelopes over in-toto statements, cosign-compatible signatures and
 * Sigstore bundles on images, and the verification that an image is what its signer built.
 */

export {
  type AttestOptions,
  type AttestResult,
  attestImage,
  type SignResult,
  signImage,
} from './attest-image.js';
export { type AttachedStatement, attachedStatements } from './attestations.js';
export {
  BUNDLE_MEDIA_TYPE,
  envelopeToBundle,
  type SerializedBundle,
  type VerifiedBundle,
  verifyBundle,
} from './bundle.js';
export {
  type Envelope,
  envelopePayload,
  INTOTO_PAYLOAD_TYPE,
  pae,
  parseEnvelope,
  signEnvelope,
  verifyEnvelope,
} from './dsse.js';
export {
  type AttachedTrust,
  addAttestation,
  addCosignSignature,
  listAttached,
  readReferrerBundle,
  readReferrersIndex,
  readSignatureManifest,
} from './image-attach.js';
export {
  type ImageEvidence,
  imageEvidence,
  type ProvenanceSummary,
  type SbomSummary,
} from './image-evidence.js';
export {
  DEFAULT_KEY_NAME,
  defaultSigningKeyFile,
  type KeyFiles,
  keyFilesFor,
  type LoadedSigningKey,
  loadPublicKey,
  loadSigningKey,
  workspaceKeysDir,
  writeKeyPair,
} from './key-files.js';
export {
  DEFAULT_KEY_TYPE,
  generateKeyPair,
  KEY_TYPES,
  KeyError,
  type KeyPairPem,
  type KeyType,
  keyIdOf,
  type PublicKeyInfo,
  parsePrivateKey,
  parsePublicKey,
  publicKeyOf,
  type SigningKey,
} from './key-pair.js';
export { findSigner, signBytes, verifyBytes } from './signature.js';
export { KEY_ID_ANNOTATION, PREDICATE_TYPE_ANNOTATION, referrersTag } from './signature-manifests.js';
export { pullSignatures, pushSignatures } from './signature-transfer.js';
export {
  COSIGN_SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureTag,
  signedDigest,
  simpleSigningPayload,
} from './simple-signing.js';
export {
  CYCLONEDX_PREDICATE_TYPE,
  imageStatement,
  isAbout,
  parseStatement,
  SIGN_PREDICATE_TYPE,
  SLSA_PROVENANCE_V1,
  type Statement,
  type Subject,
  subjectDigests,
} from './statement.js';
export {
  type EnvironmentVerdict,
  trustedKeysFor,
  verifyForEnvironment,
} from './trust-policy.js';
export { type Check, type VerifyReport, verifyImage } from './verify-image.js';
