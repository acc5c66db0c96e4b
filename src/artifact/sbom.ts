/**
 * The SBOM of an image as CycloneDX 1.6 JSON (built and validated with `@cyclonedx/cyclonedx-library`),
 * and the check that an SBOM lists exactly what an image's layers contain. Pure: no fs, no processes.
 */
import { Enums, Models, Serialize, Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { digestHex } from '../lib/index.js';
import {
  type Inventory,
  type LibraryFile,
  type NpmPackage,
  PATH_PROPERTY,
  type RuntimeBinary,
} from './sbom-inventory.js';

export { PATH_PROPERTY };

export const SBOM_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
const DEBIAN_PROPERTY = 'cairn:debian:package';
const CDX_SPEC = Spec.Spec1dot6;

/** What dpkg says about a host file: its package, version and architecture. */
export interface DebianPackage {
  package: string;
  version: string;
  arch?: string;
  /** e.g. `debian-12`, the purl `distro` qualifier. */
  distro?: string;
  /** The source package (`glibc` for `libc6`), the purl `upstream` qualifier; OSV's Debian records name it. */
  source?: string;
}

export interface SbomOptions {
  /** The image the SBOM is about (the manifest digest). */
  imageDigest: string;
  /** How the image is called, e.g. the service name. */
  imageName: string;
  /** The build time, passed in so the SBOM is a pure function of its inputs. */
  timestamp: Date;
  /** Debian package of a file, by its path in the image. */
  debian?: Record<string, DebianPackage>;
  toolVersion?: string;
  /** The git commit the image was built from (a property of the image component, not of its bytes). */
  sourceCommit?: string;
}

/** The SBOM property naming the commit an image was built from. */
export const SOURCE_COMMIT_PROPERTY = 'cairn:source:commit';

/** The CycloneDX JSON text of an image's SBOM. */
export function buildSbom(inventory: Inventory, options: SbomOptions): string {
  const bom = new Models.Bom();
  bom.serialNumber = serialNumberFor(options.imageDigest);
  bom.metadata.timestamp = options.timestamp;
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'cairn', {
      version: options.toolVersion ?? '0.1.0',
    }),
  );
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, options.imageName, {
    bomRef: 'image',
    version: options.imageDigest,
  });
  if (options.sourceCommit)
    bom.metadata.component.properties.add(new Models.Property(SOURCE_COMMIT_PROPERTY, options.sourceCommit));
  const debian = options.debian ?? {};
  for (const p of inventory.npm) bom.components.add(npmComponent(p));
  for (const r of inventory.runtimes) bom.components.add(runtimeComponent(r, debian[r.path]));
  for (const l of inventory.libraries) bom.components.add(libraryComponent(l, debian[l.path]));
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(CDX_SPEC));
  return serializer.serialize(bom, { sortLists: true });
}

/** A UUID-shaped serial number derived from the image digest: same image, same SBOM bytes. */
function serialNumberFor(imageDigest: string): string {
  const h = digestHex(imageDigest);
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function withPath(component: Models.Component, path: string): Models.Component {
  component.properties.add(new Models.Property(PATH_PROPERTY, path));
  return component;
}

function npmComponent(p: NpmPackage): Models.Component {
  const [group, name] = p.name.startsWith('@')
    ? (p.name.split('/', 2) as [string, string])
    : [undefined, p.name];
  const c = new Models.Component(Enums.ComponentType.Library, name, {
    bomRef: `npm:${p.path}`,
    version: p.version,
    purl: new PackageURL('npm', group ?? null, name, p.version, null, null).toString(),
    ...(group ? { group } : {}),
  });
  const sha512 = p.integrity?.startsWith('sha512-') ? Buffer.from(p.integrity.slice(7), 'base64') : undefined;
  if (sha512?.length === 64) c.hashes.set(Enums.HashAlgorithm['SHA-512'], sha512.toString('hex'));
  if (p.license) c.properties.add(new Models.Property('cairn:npm:license', p.license));
  return withPath(c, p.path);
}

function runtimeComponent(r: RuntimeBinary, deb: DebianPackage | undefined): Models.Component {
  const c = new Models.Component(Enums.ComponentType.Application, r.name, {
    bomRef: `file:${r.path}`,
    ...(r.version ? { version: r.version } : {}),
    purl: new PackageURL('generic', null, r.name, r.version ?? null, null, null).toString(),
  });
  c.hashes.set(Enums.HashAlgorithm['SHA-256'], r.sha256);
  if (deb) c.properties.add(new Models.Property(DEBIAN_PROPERTY, `${deb.package}@${deb.version}`));
  return withPath(c, r.path);
}

function libraryComponent(l: LibraryFile, deb: DebianPackage | undefined): Models.Component {
  const name = l.path.slice(l.path.lastIndexOf('/') + 1);
  const qualifiers: Record<string, string> = {};
  if (deb?.arch) qualifiers.arch = deb.arch;
  if (deb?.distro) qualifiers.distro = deb.distro;
  if (deb?.source) qualifiers.upstream = deb.source;
  const c = new Models.Component(Enums.ComponentType.Library, name, {
    bomRef: `file:${l.path}`,
    ...(deb
      ? {
          version: deb.version,
          purl: new PackageURL('deb', 'debian', deb.package, deb.version, qualifiers, null).toString(),
        }
      : {}),
  });
  c.hashes.set(Enums.HashAlgorithm['SHA-256'], l.sha256);
  if (deb) c.properties.add(new Models.Property(DEBIAN_PROPERTY, `${deb.package}@${deb.version}`));
  return withPath(c, l.path);
}

/** Validates SBOM JSON text against the CycloneDX 1.6 schema (strict); the errors, or undefined. */
export async function validateSbom(json: string): Promise<string | undefined> {
  const errors = await new Validation.JsonStrictValidator(CDX_SPEC.version).validate(json);
  return errors === null ? undefined : JSON.stringify(errors);
}
