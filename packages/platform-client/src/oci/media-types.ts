/** OCI and Docker media types the client negotiates. */
export const MediaTypes: Readonly<{
  ociManifest: 'application/vnd.oci.image.manifest.v1+json';
  ociIndex: 'application/vnd.oci.image.index.v1+json';
  ociEmpty: 'application/vnd.oci.empty.v1+json';
  ociLayer: 'application/vnd.oci.image.layer.v1.tar';
  ociConfig: 'application/vnd.oci.image.config.v1+json';
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json';
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json';
  octetStream: 'application/octet-stream';
}> = Object.freeze({
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  octetStream: 'application/octet-stream',
});

/**
 * The default `Accept` of manifest requests: OCI and Docker manifests and
 * indexes. Naming the OCI types explicitly matters: Debian's docker-registry
 * 2.8.2 answers 404 for an OCI manifest unless `Accept` names OCI types.
 */
export const MANIFEST_ACCEPT: readonly string[] = Object.freeze([
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
]);

/** The empty JSON config blob (`{}`) of artifacts, and its descriptor. */
export const EMPTY_CONFIG: Readonly<{ mediaType: string; digest: string; size: number; data: string }> = Object.freeze({
  mediaType: MediaTypes.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  // base64 of "{}", as the image spec suggests embedding it.
  data: 'e30=',
});

/** The annotation that names a layer's file (ORAS convention). */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** A content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly urls?: readonly string[];
  readonly data?: string;
}

/** An OCI image manifest (also used for artifacts). */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An OCI image index (also the answer of the referrers API). */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}
