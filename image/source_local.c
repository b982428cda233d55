/* Local image sources: an OCI image layout directory (oci:), a tar of one
 * (oci-archive:) and the `docker save` format (docker-archive:). Archives
 * are unpacked whole into a temporary directory first (archive_extract.c),
 * so all three read a directory; every file in it is opened with
 * openat2(RESOLVE_IN_ROOT), so no name or symlink inside leads out of it.
 *
 * get_manifest(want): want "" means "the one image" (index.json or
 * manifest.json must then hold exactly one; a layout whose entries carry
 * platforms but no names returns index.json itself, an index for
 * manifest_resolve to pick from), a tag selects by name, a digest reads
 * that blob. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define DOCKER_MANIFEST_MAX (16 << 20)

struct blob_path {
  char digest[DIGEST_MAX];
  int64_t size;
  char *path;
};

struct local {
  int dirfd;    /* the layout, or the unpacked archive */
  char *tmpdir; /* the unpacked archive, removed on close; NULL for oci: */
  char *index;  /* oci: index.json */
  size_t index_len;
  char *manifest; /* docker-archive: the synthesised OCI manifest */
  size_t manifest_len;
  char manifest_digest[DIGEST_MAX];
  struct blob_path *blobs; /* docker-archive: digest -> file */
  size_t n_blobs;
};

/* Opens path inside dirfd as if dirfd were "/": neither "..", an absolute
 * name nor a symlink gets out. */
static int open_in(int dirfd, const char *path, struct berth_err **err)
{
  struct open_how how = {
      .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  if (fd < 0)
    return berth_err_sys(err, "open %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return berth_err_set(err, 0, "%s: not a regular file", path);
  }
  return fd;
}

static int read_in(int dirfd, const char *path, size_t max, char **text, size_t *len,
                   struct berth_err **err)
{
  cleanup_close int fd = open_in(dirfd, path, err);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return -1;
  if ((size_t)st.st_size > max)
    return berth_err_set(err, 0, "%s: larger than %zu bytes", path, max);
  cleanup_free char *buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL)
    abort();
  size_t n = 0;
  while (n < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? berth_err_sys(err, "read %s", path)
                   : berth_err_set(err, 0, "%s: shrank", path);
    n += (size_t)r;
  }
  buf[n] = '\0';
  *len = n;
  *text = steal_ptr(&buf);
  return 0;
}

/* ---- OCI image layout ---- */

static int layout_load(struct local *l, struct berth_err **err)
{
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (read_in(l->dirfd, "oci-layout", 4096, &text, &len, err) < 0)
    return berth_err_wrap(err, "not an OCI image layout");
  json_t *root = json_loadb(text, len, 0, NULL);
  json_t *v = json_object_get(root, "imageLayoutVersion");
  bool ok = json_is_string(v) && strncmp(json_string_value(v), "1.", 2) == 0;
  json_decref(root);
  if (!ok)
    return berth_err_set(err, 0, "oci-layout: imageLayoutVersion must be 1.x");
  return read_in(l->dirfd, "index.json", MANIFEST_MAX, &l->index, &l->index_len, err);
}

/* Does an index entry's ref.name name tag? Either the tag itself, or a
 * full name ending in ":tag" (containerd and podman write those). */
static bool ref_name_matches(const char *name, const char *tag)
{
  if (strcmp(name, tag) == 0)
    return true;
  const char *colon = strrchr(name, ':');
  return colon != NULL && strchr(colon, '/') == NULL && strcmp(colon + 1, tag) == 0;
}

static void list_names(const struct image_index *ix, char *buf, size_t cap)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < ix->n && used < cap; i++)
    if (ix->e[i].ref_name[0])
      used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", ix->e[i].ref_name);
  if (used == 0)
    snprintf(buf, cap, "none");
}

/* The index.json entry for tag: -1 error, else its position; for tag ""
 * ix->n when index.json itself is to be returned. */
static int layout_pick(const struct image_index *ix, const char *tag, struct berth_err **err)
{
  char names[512];
  list_names(ix, names, sizeof(names));
  if (tag[0] == '\0') {
    if (ix->n == 1)
      return 0;
    if (ix->n > 1 && strcmp(names, "none") == 0)
      return (int)ix->n;
    return berth_err_set(err, 0, "index.json lists %zu images; name one with :TAG (tags: %s)",
                         ix->n, names);
  }
  int found = -1;
  for (size_t i = 0; i < ix->n; i++) {
    if (!ref_name_matches(ix->e[i].ref_name, tag))
      continue;
    if (found >= 0)
      return berth_err_set(err, 0, "tag %s is ambiguous in index.json (names: %s)", tag, names);
    found = (int)i;
  }
  if (found < 0)
    return berth_err_set(err, 0, "no image tagged %s in index.json (tags: %s)", tag, names);
  return found;
}

static int layout_blob_read(struct local *l, const char *digest, char **text, size_t *len,
                            struct berth_err **err)
{
  char path[DIGEST_MAX + 16];
  if (digest_check_syntax("manifest", digest, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
  return read_in(l->dirfd, path, MANIFEST_MAX, text, len, err);
}

static int layout_by_tag(struct local *l, const char *tag, char **text, size_t *len,
                         char **media_type, struct berth_err **err)
{
  struct image_index ix;
  if (index_parse(l->index, l->index_len, &ix, err) < 0)
    return berth_err_wrap(err, "index.json");
  int pick = layout_pick(&ix, tag, err);
  int r = pick < 0 ? -1 : 0;
  if (pick == (int)ix.n) {
    *text = xstrdup(l->index);
    *len = l->index_len;
    *media_type = xstrdup(OCI_INDEX);
  } else if (pick >= 0) {
    const struct descriptor *d = &ix.e[pick].d;
    char got[DIGEST_MAX];
    r = layout_blob_read(l, d->digest, text, len, err);
    if (r == 0)
      digest_buf(*text, *len, got);
    if (r == 0 && (strcmp(got, d->digest) != 0 || (int64_t)*len != d->size))
      r = berth_err_set(err, 0, "manifest %s: content has digest %s (%zu bytes): mismatch",
                        d->digest, got, *len);
    if (r == 0)
      *media_type = xstrdup(d->media_type);
  }
  index_free(&ix);
  return r;
}

static int layout_get_manifest(struct local *l, const char *want, char **text, size_t *len,
                               char **media_type, struct berth_err **err)
{
  *media_type = NULL;
  if (strchr(want, ':') != NULL)
    return layout_blob_read(l, want, text, len, err);
  return layout_by_tag(l, want, text, len, media_type, err);
}

/* ---- docker save format ---- */

static void hash_fd(int fd, char digest[DIGEST_MAX], int64_t *size, unsigned char magic[4])
{
  struct digester *d = digester_new();
  char buf[65536];
  ssize_t n;
  *size = 0;
  memset(magic, 0, 4);
  while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n < 0)
      continue;
    if (*size == 0)
      memcpy(magic, buf, n < 4 ? (size_t)n : 4);
    digester_update(d, buf, (size_t)n);
    *size += n;
  }
  digester_finish(d, digest);
}

static const char *layer_type(const unsigned char m[4])
{
  if (m[0] == 0x1f && m[1] == 0x8b)
    return "application/vnd.oci.image.layer.v1.tar+gzip";
  if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
    return "application/vnd.oci.image.layer.v1.tar+zstd";
  return "application/vnd.oci.image.layer.v1.tar";
}

/* Hashes the archive file at path, remembers where the digest is served
 * from, and returns its descriptor (media type: config, or sniffed). */
static json_t *docker_blob(struct local *l, const char *path, bool config, struct berth_err **err)
{
  if (path[0] == '/' || path_has_dotdot(path)) {
    berth_err_set(err, 0, "%s: leaves the archive", path);
    return NULL;
  }
  cleanup_close int fd = open_in(l->dirfd, path, err);
  if (fd < 0)
    return NULL;
  struct blob_path *b = realloc(l->blobs, (l->n_blobs + 1) * sizeof(*b));
  if (b == NULL)
    abort();
  l->blobs = b;
  b = &l->blobs[l->n_blobs++];
  unsigned char magic[4];
  hash_fd(fd, b->digest, &b->size, magic);
  b->path = xstrdup(path);
  return json_pack("{s:s, s:s, s:I}", "mediaType", config ? OCI_CONFIG : layer_type(magic),
                   "digest", b->digest, "size", (json_int_t)b->size);
}

static bool repo_tags_match(json_t *entry, const char *tag)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get(entry, "RepoTags"), i, v) {
    if (json_is_string(v) && ref_name_matches(json_string_value(v), tag))
      return true;
  }
  return false;
}

/* The manifest.json entry for tag ("" = the only one). */
static json_t *docker_pick(json_t *arr, const char *tag, struct berth_err **err)
{
  if (!json_is_array(arr) || json_array_size(arr) == 0) {
    berth_err_set(err, 0, "manifest.json: must be a non-empty array");
    return NULL;
  }
  if (tag[0] == '\0') {
    if (json_array_size(arr) == 1)
      return json_array_get(arr, 0);
    berth_err_set(err, 0, "manifest.json lists %zu images; name one with :TAG",
                  json_array_size(arr));
    return NULL;
  }
  json_t *found = NULL;
  for (size_t i = 0; i < json_array_size(arr); i++) {
    if (!repo_tags_match(json_array_get(arr, i), tag))
      continue;
    if (found != NULL) {
      berth_err_set(err, 0, "manifest.json: tag %s is ambiguous", tag);
      return NULL;
    }
    found = json_array_get(arr, i);
  }
  if (found == NULL)
    berth_err_set(err, 0, "manifest.json: no image tagged %s", tag);
  return found;
}

static json_t *docker_layers(struct local *l, json_t *paths, struct berth_err **err)
{
  if (!json_is_array(paths)) {
    berth_err_set(err, 0, "manifest.json: Layers must be an array");
    return NULL;
  }
  json_t *layers = json_array();
  size_t i;
  json_t *v;
  json_array_foreach (paths, i, v) {
    json_t *d = json_is_string(v) ? docker_blob(l, json_string_value(v), false, err) : NULL;
    if (d == NULL) {
      if (!json_is_string(v))
        berth_err_set(err, 0, "manifest.json: Layers[%zu] must be a string", i);
      json_decref(layers);
      return NULL;
    }
    json_array_append_new(layers, d);
  }
  return layers;
}

/* manifest.json -> an OCI manifest over the archive's config and layers. */
static int docker_synthesise(struct local *l, json_t *entry, struct berth_err **err)
{
  json_t *cfg_path = json_object_get(entry, "Config");
  if (!json_is_string(cfg_path))
    return berth_err_set(err, 0, "manifest.json: Config must be a string");
  json_t *config = docker_blob(l, json_string_value(cfg_path), true, err);
  if (config == NULL)
    return -1;
  json_t *layers = docker_layers(l, json_object_get(entry, "Layers"), err);
  if (layers == NULL) {
    json_decref(config);
    return -1;
  }
  json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType", OCI_MANIFEST,
                        "config", config, "layers", layers);
  l->manifest = json_dumps(m, JSON_COMPACT);
  json_decref(m);
  if (l->manifest == NULL)
    abort();
  l->manifest_len = strlen(l->manifest);
  digest_buf(l->manifest, l->manifest_len, l->manifest_digest);
  return 0;
}

static int docker_load(struct local *l, const char *tag, struct berth_err **err)
{
  char *text = NULL;
  size_t len = 0;
  json_error_t je;
  if (read_in(l->dirfd, "manifest.json", DOCKER_MANIFEST_MAX, &text, &len, err) < 0)
    return berth_err_wrap(err, "not a docker-archive"); /* text is set only on success */
  json_t *arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  free(text);
  if (arr == NULL)
    return berth_err_set(err, 0, "manifest.json: line %d: %s", je.line, je.text);
  json_t *entry = docker_pick(arr, tag, err);
  int r = entry ? docker_synthesise(l, entry, err) : -1;
  json_decref(arr);
  return r;
}

static int docker_get_manifest(struct local *l, const char *want, const char *tag, char **text,
                               size_t *len, char **media_type, struct berth_err **err)
{
  if (want[0] != '\0' && strcmp(want, tag) != 0 && strcmp(want, l->manifest_digest) != 0)
    return berth_err_set(err, 0, "docker-archive: no manifest %s", want);
  *text = xstrdup(l->manifest);
  *len = l->manifest_len;
  *media_type = xstrdup(OCI_MANIFEST);
  return 0;
}

/* ---- the source ---- */

static int local_get_manifest(struct image_source *s, const char *want, char **text, size_t *len,
                              char **media_type, struct berth_err **err)
{
  struct local *l = s->priv;
  want = want ? want : "";
  int r = l->manifest ? docker_get_manifest(l, want, s->ref.tag, text, len, media_type, err)
                      : layout_get_manifest(l, want, text, len, media_type, err);
  return r < 0 ? berth_err_wrap(err, "%s", s->ref.name) : 0;
}

/* Where digest lives inside the directory. */
static int blob_path(struct local *l, const char *digest, char *path, size_t cap,
                     struct berth_err **err)
{
  if (digest_check_syntax("blob", digest, err) < 0)
    return -1;
  if (l->manifest == NULL) {
    snprintf(path, cap, "blobs/sha256/%s", digest + 7);
    return 0;
  }
  for (size_t i = 0; i < l->n_blobs; i++)
    if (strcmp(l->blobs[i].digest, digest) == 0) {
      snprintf(path, cap, "%s", l->blobs[i].path);
      return 0;
    }
  return berth_err_set(err, 0, "blob %s is not in the archive", digest);
}

/* Bytes [from, size) of in to out; a shorter file ends early, and the
 * store's size check reports it. */
static int copy_range(int in, int out, off_t from, int64_t size, struct berth_err **err)
{
  char buf[131072];
  while (from < size) {
    size_t want = (size_t)(size - from) < sizeof(buf) ? (size_t)(size - from) : sizeof(buf);
    ssize_t n = pread(in, buf, want, from);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return berth_err_sys(err, "read");
    if (n == 0)
      return 0;
    if (write_all(out, buf, (size_t)n) < 0)
      return berth_err_sys(err, "write");
    from += n;
  }
  return 0;
}

static int local_fetch_blob(struct image_source *s, const char *digest, int64_t size, int fd,
                            off_t from, struct berth_err **err)
{
  struct local *l = s->priv;
  char path[4096];
  if (blob_path(l, digest, path, sizeof(path), err) < 0)
    return -1;
  cleanup_close int in = open_in(l->dirfd, path, err);
  if (in < 0 || copy_range(in, fd, from, size, err) < 0)
    return berth_err_wrap(err, "%s", s->ref.name);
  return 0;
}

static void local_free(struct local *l)
{
  if (l->dirfd >= 0)
    close(l->dirfd);
  tmpdir_remove(l->tmpdir);
  free(l->tmpdir);
  free(l->index);
  free(l->manifest);
  for (size_t i = 0; i < l->n_blobs; i++)
    free(l->blobs[i].path);
  free(l->blobs);
  free(l);
}

static void local_close(struct image_source *s)
{
  if (s == NULL)
    return;
  local_free(s->priv);
  free(s);
}

static const struct image_source_ops local_ops = {
    .get_manifest = local_get_manifest,
    .fetch_blob = local_fetch_blob,
    .close = local_close,
};

static int open_dir(struct local *l, const char *path, struct berth_err **err)
{
  l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return l->dirfd < 0 ? berth_err_sys(err, "open %s", path) : 0;
}

static int open_layout(struct local *l, const struct image_ref *ref, const char *root,
                       struct berth_err **err)
{
  (void)root;
  return open_dir(l, ref->path, err) < 0 ? -1 : layout_load(l, err);
}

static int open_oci_archive(struct local *l, const struct image_ref *ref, const char *root,
                            struct berth_err **err)
{
  if (archive_extract_tmp(ref->path, root, &l->tmpdir, err) < 0 || open_dir(l, l->tmpdir, err) < 0)
    return -1;
  return layout_load(l, err);
}

static int open_docker_archive(struct local *l, const struct image_ref *ref, const char *root,
                               struct berth_err **err)
{
  if (archive_extract_tmp(ref->path, root, &l->tmpdir, err) < 0 || open_dir(l, l->tmpdir, err) < 0)
    return -1;
  return docker_load(l, ref->tag, err);
}

static const struct {
  enum image_ref_kind kind;
  int (*open)(struct local *l, const struct image_ref *ref, const char *root,
              struct berth_err **err);
} local_kinds[] = {
    {REF_OCI_LAYOUT, open_layout},
    {REF_OCI_ARCHIVE, open_oci_archive},
    {REF_DOCKER_ARCHIVE, open_docker_archive},
};

int source_local_open(const struct image_ref *ref, const struct image_opts *o,
                      struct image_source **out, struct berth_err **err)
{
  const char *root = o && o->root ? o->root : IMAGE_ROOT_DEFAULT;
  for (size_t i = 0; i < sizeof(local_kinds) / sizeof(local_kinds[0]); i++) {
    if (local_kinds[i].kind != ref->kind)
      continue;
    struct local *l = xcalloc(1, sizeof(*l));
    l->dirfd = -1;
    if (local_kinds[i].open(l, ref, root, err) < 0) {
      local_free(l);
      return berth_err_wrap(err, "%s", ref->name);
    }
    struct image_source *s = xcalloc(1, sizeof(*s));
    s->ops = &local_ops;
    s->ref = *ref;
    s->priv = l;
    *out = s;
    return 0;
  }
  return berth_err_set(err, 0, "%s: not a local image source", ref->name);
}
