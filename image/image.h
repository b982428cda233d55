/* Images: references, sources (OCI layout, oci-archive, docker-archive,
 * registries), digest-verified blob store, layer unpack into a
 * content-addressed layer cache, rootfs from the cached layers (overlay or
 * copy), image config -> runtime spec. */
#ifndef BERTH_IMAGE_H
#define BERTH_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"

#define IMAGE_ROOT_DEFAULT "/var/lib/berth"

enum image_ref_kind { REF_OCI_LAYOUT, REF_OCI_ARCHIVE, REF_DOCKER_ARCHIVE, REF_REGISTRY };

/* oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG],
 * [REGISTRY/]REPO[:TAG|@DIGEST] (docker.io and library/ added as docker
 * does; tag latest when none). */
struct image_ref {
  enum image_ref_kind kind;
  char path[4096]; /* local kinds */
  char registry[256];
  char repo[512];
  char tag[129];   /* "" when a digest is given; up to 128 characters */
  char digest[80]; /* "" unless @sha256:... */
  char name[1024]; /* canonical text, the name images are listed under */
};

/* A pull's progress, reported as blobs download (registry sources) and
 * once more when it ends (finished). Bytes count what this pull fetches;
 * layers already in the store count as done from the start. */
struct image_progress {
  size_t layers, layers_done;
  size_t layer;        /* index of the layer last heard of */
  int64_t layer_done;  /* its bytes so far (a resumed download: from its offset) */
  int64_t layer_size;  /* and its size */
  int64_t bytes_done;  /* this pull's downloads so far */
  int64_t bytes_total; /* what it has to download */
  double seconds;      /* since the pull began */
  bool finished;       /* the pull ended (successfully or not) */
  bool ok;             /* with finished: it succeeded */
};
typedef void (*image_progress_fn)(const struct image_progress *p, void *arg);

struct image_opts {
  const char *root;           /* IMAGE_ROOT_DEFAULT */
  const char *platform;       /* "linux/amd64" default: the host's */
  bool tls_verify;            /* default true */
  const char *creds;          /* "USER:PASS" or NULL */
  const char *authfile;       /* containers-auth.json / docker config.json, or NULL */
  bool quiet;                 /* no progress on stderr */
  image_progress_fn progress; /* NULL: none */
  void *progress_arg;
};

/* The default image root: IMAGE_ROOT_DEFAULT for root, else
 * ${XDG_DATA_HOME:-$HOME/.local/share}/berth. */
int image_root_default(char *buf, size_t n, struct berth_err **err);

int image_ref_parse(const char *s, struct image_ref *r, struct berth_err **err);

/* Pulls ref into the store under o->root: the manifest for o->platform,
 * config and layers verified, layers unpacked into the cache, the image
 * recorded under its name. *digest: the manifest's. */
int image_pull(const struct image_opts *o, const char *ref, char digest[80],
               struct berth_err **err);

/* berth bundle create: DIR (made; must not exist) with rootfs and
 * config.json for ref (pulled first when not in the store); rootfs is an
 * overlay of the cached layers with DIR/upper, or with copy a full copy.
 * args (NULL: the image's Cmd). Nothing is left on failure. */
#define IMAGE_BUNDLE_COPY 1     /* a full copy, not an overlay */
#define IMAGE_BUNDLE_WRITABLE 2 /* root.readonly false: writes go to DIR/upper */
/* An overlay bundle records, under o->root, which cached layers it
 * mounted (prune keeps them while DIR is there). */
int image_bundle_create(const struct image_opts *o, const char *ref, const char *dir,
                        char *const *args, unsigned flags, struct berth_err **err);
/* The same for an image already in the store with every layer cached, as
 * an overlay (not rootless, no IMAGE_BUNDLE_COPY), touching nothing but
 * DIR and its bundle record: what berth itself runs before handing over
 * to berth-image (no libarchive, libcurl or EVP here). 1: not so (nothing
 * was made; image_bundle_create does it), 0 done, -1 error. */
int image_bundle_create_cached(const struct image_opts *o, const char *ref, const char *dir,
                               char *const *args, unsigned flags, struct berth_err **err);
/* Unmounts DIR/rootfs and removes DIR, never crossing into a mount (a
 * bind mount inside refuses, and keeps its files); drops its record
 * under root. */
int image_bundle_remove(const char *root, const char *dir, struct berth_err **err);

/* berth image prune: under the store's exclusive lock (a pull or bundle
 * create in progress finishes first), removes the cached layers and blobs
 * that no image record names and no live bundle uses, every partial
 * download and temporary directory, and the records of bundles that are
 * gone. bytes: disk space freed. */
struct image_prune_stats {
  uint64_t layers, blobs, partials, stale_records, bytes;
};
int image_prune(const char *root, struct image_prune_stats *st, struct berth_err **err);

/* The store's images (their records: name, manifest, config, layers,
 * pulled), one record's JSON with the image config, removal of a name
 * (layers stay until a prune). */
int image_list(const char *root, json_t **out, struct berth_err **err);
int image_inspect(const char *root, const char *ref, char **out, struct berth_err **err);
int image_remove(const char *root, const char *ref, struct berth_err **err);

/* config.json text for a container of the image: berth's default spec
 * (`berth spec`) with the image config's Entrypoint + Cmd (args, when not
 * NULL, replace Cmd, as `docker run IMAGE ARGS` does), Env, WorkingDir,
 * User (names looked up in the rootfs's /etc/passwd and /etc/group, inside
 * rootfs_dirfd), Labels -> annotations, ExposedPorts and StopSignal ->
 * org.opencontainers.image.* annotations. Caller frees *out. */
int image_spec_json(const char *image_config, char *const *args, int rootfs_dirfd, char **out,
                    struct berth_err **err);

#endif
