/**
 * The OCI distribution client of `@provisioning/platform-client`: registry
 * auth (Basic and Bearer tokens), verified blobs and manifests, resumable
 * uploads, mounts, tags, referrers and ORAS-style artifacts.
 *
 * @example
 * ```ts
 * import { createOciClient } from '@provisioning/platform-client/oci';
 * const oci = createOciClient({ registry: 'http://127.0.0.1:5000' });
 * await oci.ping();
 * ```
 * @packageDocumentation
 */
export type {
  ArtifactFile,
  BlobUpload,
  ManifestResult,
  OciCallOptions,
  OciClient,
  OciClientOptions,
  ProgressCallback,
  PulledArtifact,
  PushArtifactInput,
  PushArtifactResult,
  PushBlobResult,
  TagPage,
} from './oci/client.js';
export { createOciClient, parseNextLink } from './oci/client.js';
export { assertDigest, DigestVerifier, digestOf, isDigest } from './oci/digest.js';
export type { AuthChallenge, OciCredentials } from './oci/http.js';
export { parseChallenge } from './oci/http.js';
export type { Descriptor, ImageIndex, ImageManifest } from './oci/media-types.js';
export { EMPTY_CONFIG, MANIFEST_ACCEPT, MediaTypes, TITLE_ANNOTATION } from './oci/media-types.js';
