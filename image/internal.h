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

/* ---- store.c, store_read.c: blobs/sha256/<hex> under the image root ---- */
/* ROOT/blobs/sha256 into *sha and ROOT/blobs/partial into *partial (only
 * when partial is not NULL), made when create is set. */
int store_dirs(const char *root, bool create, int *sha, int *partial, struct berth_err **err);
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
 * the layer: unpack into a fresh directory and discard it on failure.
 * flags: UNPACK_OVERLAY keeps a whiteout as overlayfs's (a 0:0 character
 * device; an opaque directory gets trusted.overlay.opaque=y) instead of
 * removing, so the layer is a lower directory of its own. */
#define UNPACK_OVERLAY 1
/* UNPACK_ROOTLESS: for an ordinary user: owners kept in the
 * user.rootlesscontainers xattr instead of chown, devices and privileged
 * xattrs skipped, directories u+rwx (see unpack.c). */
#define UNPACK_ROOTLESS 2
int layer_unpack(int blob_fd, int dest_dirfd, int flags, char diff_id[DIGEST_MAX],
                 struct unpack_stats *st, struct berth_err **err);
/* The n layers blob_fds[] applied in order onto dest_dirfd, as n
 * layer_unpack calls would, but each layer after the one being applied
 * (up to two ahead) is decompressed meanwhile into an unlinked temporary
 * file in tmp_dirfd (-1, or no O_TMPFILE there: no prefetch), so inflating
 * and hashing one layer overlaps applying another. diff_ids[i] and
 * stats[i] (either may be NULL) get layer i's. Stops at the first layer
 * that fails; the error names it ("layer 2 of 3: ..."). */
int layers_unpack(const int *blob_fds, size_t n, int dest_dirfd, int flags, int tmp_dirfd,
                  char (*diff_ids)[DIGEST_MAX], struct unpack_stats *stats, struct berth_err **err);

/* The uncompressed digest of a layer blob, nothing unpacked (rootless
 * pulls, where the cache holds no trees). */
int layer_diff_id(int blob_fd, char diff_id[DIGEST_MAX], struct berth_err **err);

/* ---- rootless.c ---- */
/* Not root: no overlay layer cache (see rootless.c). */
bool image_rootless(void);

/* ---- pull.c: the layer cache and image records ---- */
/* ROOT/layers/sha256/<hex> (dir) for the layer blob digest, unpacked
 * once (the blob must be in the store). want_diff_id (NULL: any): what
 * the image config says it unpacks to; another one is an error and
 * nothing enters the cache. */
int layer_cache_ensure(const char *root, const char *digest, const char *want_diff_id, char *dir,
                       size_t n, struct berth_err **err);
/* The whole of an open file (a stored blob), at most max bytes. */
int fd_read_all(int fd, size_t max, char **out, struct berth_err **err);
/* ROOT/images/<sha256 of name>.json */
int image_record_path(const char *root, const char *name, char *out, size_t n);

/* ---- additions (isrc): digest helpers, manifests, index resolution ---- */
/* sha256 of a buffer, as "sha256:<hex>". */
void digest_buf(const void *buf, size_t n, char out[DIGEST_MAX]);
/* 0 when s is digest_valid; otherwise an error naming `what` and s, saying
 * "only sha256 digests are supported" for another algorithm. */
int digest_check_syntax(const char *what, const char *s, struct berth_err **err);

/* Manifests are capped at 4 MiB, as registries do. */
#define MANIFEST_MAX (4 << 20)

/* manifest.c: OCI image manifests and indexes, docker schema 2 manifests
 * and manifest lists (schema 1 is refused with a message saying so). */
struct descriptor {
  char media_type[128];
  char digest[DIGEST_MAX];
  int64_t size;
};
struct platform {
  char os[32];
  char arch[32];
  char variant[32];
};
struct manifest {
  struct descriptor config;
  size_t n_layers;
  struct descriptor *layers;
};
struct index_entry {
  struct descriptor d;
  bool has_platform;
  struct platform p;
  char ref_name[256]; /* annotation org.opencontainers.image.ref.name, or "" */
};
struct image_index {
  size_t n;
  struct index_entry *e;
};
enum manifest_kind { MANIFEST_IMAGE, MANIFEST_INDEX };

/* Whether text is an image manifest or an index: by its mediaType field,
 * else by media_type (the source's word, may be NULL), else by its shape
 * (manifests[] or not). */
int manifest_kind(const char *text, size_t len, const char *media_type, enum manifest_kind *kind,
                  struct berth_err **err);
int manifest_parse(const char *text, size_t len, struct manifest *m, struct berth_err **err);
void manifest_free(struct manifest *m);
int index_parse(const char *text, size_t len, struct image_index *ix, struct berth_err **err);
void index_free(struct image_index *ix);
/* "OS/ARCH[/VARIANT]"; NULL or "" = the host (uname). */
int platform_parse(const char *s, struct platform *p, struct berth_err **err);
/* The entry of ix for p: os and arch equal, variant equal when both name
 * one (arm64 "" = "v8"); an exact variant wins over an entry without one. */
int index_select(const struct image_index *ix, const struct platform *p, size_t *pick,
                 struct berth_err **err);

/* Index resolution is the caller's: get_manifest returns what the
 * reference names, which may be an index (registries serve a manifest
 * list for a tag; an OCI layout's tag may point to a nested index). This
 * resolver, shared by all sources, follows indexes (at most 4 deep) by
 * platform with get_manifest(digest), verifies every text fetched by
 * digest (and the first one when the reference has a digest), and returns
 * the image manifest, its text and its digest. */
int manifest_resolve(struct image_source *src, const char *platform, struct manifest *m,
                     char **text, size_t *len, char digest[DIGEST_MAX], struct berth_err **err);

/* Local sources (source_local.c) take for get_manifest: "" = the one
 * image (index.json / manifest.json must hold exactly one; a layout whose
 * index.json lists only unnamed entries with platforms returns index.json
 * itself, to be resolved like any index), a tag (matched against ref.name
 * or RepoTags, exactly or as the part after the last ':'), or a digest. */

/* archive_extract.c: oci-archive: and docker-archive: are unpacked whole
 * into a fresh ROOT/tmp/archive-XXXXXX (regular files, dirs, symlinks,
 * hardlinks only; owner-only modes) and read from there; the source
 * removes it on close. */
int archive_extract_tmp(const char *file, const char *root, char **tmpdir, struct berth_err **err);
/* rm -rf that does not follow symlinks; NULL is a no-op. */
void tmpdir_remove(const char *dir);

/* ---- gc.c: the store lock, bundle records, prune ---- */
/* ROOT (made when missing) flock'ed shared (pull, bundle create) or
 * exclusive (prune); the fd, to close. */
int store_lock(const char *root, bool exclusive, struct berth_err **err);
/* ROOT/bundles/<sha256 of DIR's absolute path>.json: DIR (its dev and
 * inode: a record whose DIR is gone or another is stale) and the layer
 * digests its overlay mounts. */
int bundle_record_write(const char *root, const char *dir, json_t *layers, struct berth_err **err);
void bundle_record_drop(const char *root, const char *dir);
/* A pull's journal, ROOT/pulls/XXXXXX.json: the digests it may add
 * (manifest, config, layers), written once the manifest is known and
 * removed when the image is recorded (pull_journal_end frees path);
 * resumable: from a registry, whose partial downloads are kept. */
int pull_journal_begin(const char *root, const char *mdigest, const struct manifest *m,
                       bool resumable, char **path, struct berth_err **err);
void pull_journal_end(char *path);
/* With the store locked exclusively (no pull, no bundle create running):
 * the journals left by pulls that failed or were killed rolled back (their
 * blobs and cached layers that no image and no live bundle uses
 * removed), and the leftovers no process holds swept: temporary
 * directories (ROOT/tmp, a killed unpack's layers/sha256/<hex>.tmp.PID),
 * stale lock files, half-written blobs and records. A cut registry
 * download's partial file stays, for the next pull to resume (prune
 * removes it). */
void store_recover(const char *root);
/* The shared store lock for a pull, store_recover run first when no
 * other process is in the store. */
int store_lock_for_pull(const char *root, struct berth_err **err);
/* A failed pull (lock: its shared store lock): once the other pulls are
 * done, store_recover with the lock exclusive; the lock is shared again
 * on return. */
void store_undo(const char *root, int lock);
/* ---- bundle_overlay.c: bundles without libarchive or libcurl ---- */
/* The image's record (name, manifest, config, layers) from the store. */
json_t *image_record_read(const char *root, const char *name, struct berth_err **err);
/* Is every layer (digests) unpacked in the layer cache? */
bool image_layers_cached(const char *root, json_t *layers);
/* Fills DIR/rootfs from the layers (rootfs made, empty). */
typedef int (*bundle_fill_fn)(const char *root, json_t *layers, const char *dir, const char *rootfs,
                              struct berth_err **err);
/* The overlay of the cached layers (each must be there) with DIR/upper,
 * recorded under ROOT/bundles first. */
int bundle_fill_overlay(const char *root, json_t *layers, const char *dir, const char *rootfs,
                        struct berth_err **err);
/* DIR (must not exist), DIR/rootfs filled by fill, DIR/config.json from
 * the image config (rec's) with args and IMAGE_BUNDLE_WRITABLE; on
 * failure DIR is removed. */
int bundle_assemble(const char *root, json_t *rec, const char *dir, char *const *args,
                    unsigned flags, bundle_fill_fn fill, struct berth_err **err);

/* ---- progress.c: a pull's progress for image_opts.progress ---- */
struct pull_progress;
/* NULL when o->progress is NULL. Layers in the store count as done. */
struct pull_progress *pull_progress_begin(const struct image_opts *o, const struct manifest *m);
/* registry_progress_fn */
void pull_progress_bytes(void *pp, const char *digest, int64_t done, int64_t total);
/* Reports the end and frees pp (NULL: nothing). */
void pull_progress_end(struct pull_progress *pp, bool ok);

#endif
