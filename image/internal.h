/* Internal interface between the parts of image/: sources (OCI layout,
 * oci-archive, docker-archive: source_local.c; registry: registry.c), the
 * blob store (store.c), digests (digest.c) and layer unpacking (unpack.c).
 * Nothing outside image/ includes this. */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"

/* "sha256:" + 64 hex + NUL */
#define DIGEST_MAX 72

/* ---- digest.c: streaming sha256 (OpenSSL libcrypto EVP) ---- */
struct digester;
struct digester *digester_new(void);
void digester_update(struct digester *d, const void *buf, size_t n);
/* "sha256:<hex>" into out; frees d. */
void digester_finish(struct digester *d, char out[DIGEST_MAX]);
/* Is s "sha256:" + 64 lowercase hex? (other algorithms are refused with a
 * clear message by the callers) */
bool digest_valid(const char *s);

/* ---- sources: where manifests and blobs come from ---- */
struct image_source;
struct image_source_ops {
  /* The manifest (or index) text for the reference's tag/digest, and its
   * media type (may be NULL when the source does not say, e.g. a layout). */
  int (*get_manifest)(struct image_source *s, const char *ref_or_digest, char **text, size_t *len,
                      char **media_type, struct berth_err **err);
  /* Writes the blob to fd from offset `from` (resuming), at most `size`
   * bytes; the caller verifies the digest. */
  int (*fetch_blob)(struct image_source *s, const char *digest, int64_t size, int fd, off_t from,
                    struct berth_err **err);
  void (*close)(struct image_source *s);
};
struct image_source {
  const struct image_source_ops *ops;
  struct image_ref ref;
  void *priv;
};
/* Opens the local sources (oci:, oci-archive:, docker-archive:). For a
 * docker-archive, the source synthesises an OCI manifest + config from
 * manifest.json so callers see one shape. */
int source_local_open(const struct image_ref *ref, const struct image_opts *o,
                      struct image_source **out, struct berth_err **err);
/* The distribution API over HTTP(S) (libcurl): token and basic auth,
 * docker and OCI media types, resumable blob downloads (Range). */
int source_registry_open(const struct image_ref *ref, const struct image_opts *o,
                         struct image_source **out, struct berth_err **err);

/* ---- store.c: blobs/sha256/<hex> under the image root ---- */
/* Fetches digest (size bytes) from src into the store unless present,
 * verifying sha256 and size while writing to a partial file
 * (blobs/partial/<hex>, resumed from its length); renamed into place only
 * when it matches. A mismatch removes the partial file: nothing stays. */
int store_blob_fetch(const char *root, struct image_source *src, const char *digest, int64_t size,
                     struct berth_err **err);
/* Opens a stored blob read-only. */
int store_blob_open(const char *root, const char *digest, struct berth_err **err);
/* Stores text as a blob (manifests, configs), returns its digest. */
int store_blob_put(const char *root, const char *text, size_t len, char digest[DIGEST_MAX],
                   struct berth_err **err);

/* ---- unpack.c: one layer onto a directory (libarchive) ---- */
struct unpack_stats {
  uint64_t entries;
  uint64_t bytes;           /* of the uncompressed tar stream */
  uint64_t skipped_devices; /* char/block nodes, when mknod is not permitted */
  uint64_t skipped_xattrs;  /* names not kept (see unpack.c) or unsupported here */
};
/* Applies the layer tar read from blob_fd (gzip, zstd or plain, detected)
 * onto the directory dest_dirfd: files, dirs, symlinks, hardlinks, device
 * nodes, fifos, modes, owners, mtimes, xattrs; whiteouts (.wh.NAME) and
 * opaque dirs (.wh..wh..opq) remove from what earlier layers laid down.
 * Every path is resolved inside dest with openat2(RESOLVE_IN_ROOT); an
 * entry that would escape (absolute, "..", through a symlink or hardlink)
 * is refused and the error names it. Also computes the uncompressed
 * digest (diff_id) into diff_id when not NULL. On error dest holds part of
 * the layer: unpack into a fresh directory and discard it on failure. */
int layer_unpack(int blob_fd, int dest_dirfd, char diff_id[DIGEST_MAX], struct unpack_stats *st,
                 struct berth_err **err);

#endif
