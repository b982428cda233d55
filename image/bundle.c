/* A bundle from an image: rootfs (an overlay of the cached layers with a
 * private upper directory, or a full copy) and config.json from the image
 * config. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/treerm.h"
#include "internal.h"

#define RECORD_MAX ((size_t)1 << 20)
#define CONFIG_MAX ((size_t)16 << 20)

/* The record of a pulled image (pulled now when there is none), read
 * under the store lock taken shared into *lock: a prune waits until the
 * bundle has recorded the layers it uses. */
static json_t *record_load(const struct image_opts *o, const char *refstr, int *lock,
                           struct berth_err **err)
{
  struct image_ref ref;
  if (image_ref_parse(refstr, &ref, err) < 0)
    return NULL;
  char path[4096];
  cleanup_free char *text = NULL;
  image_record_path(o->root, ref.name, path, sizeof(path));
  if (access(path, F_OK) < 0) {
    char digest[80];
    if (image_pull(o, refstr, digest, err) < 0)
      return NULL;
  }
  if ((*lock = store_lock(o->root, false, err)) < 0)
    return NULL;
  if (read_file_at(AT_FDCWD, path, RECORD_MAX, &text, NULL, err) < 0) {
    berth_err_wrap(err, "image %s", ref.name); /* removed meanwhile */
    return NULL;
  }
  json_t *rec = json_loads(text, 0, NULL);
  if (!json_is_object(rec))
    berth_err_set(err, 0, "image record %s: not JSON (remove it and pull again)", path);
  return rec;
}

/* ROOT/tmp, where layers_unpack puts its (unlinked) prefetch files; -1
 * when it cannot be made: then the layers are not prefetched. */
static int tmp_dir_open(const char *root)
{
  cleanup_free char *tmp = xasprintf("%s/tmp", root);
  if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
    return -1;
  return open(tmp, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* Copy: every layer applied in order onto rootfs, whiteouts removing, the
 * next layers decompressed meanwhile (layers_unpack); rootless, as
 * UNPACK_ROOTLESS says. */
static int rootfs_copy(const char *root, json_t *layers, const char *rootfs, struct berth_err **err)
{
  cleanup_close int dest = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dest < 0)
    return berth_err_sys(err, "open %s", rootfs);
  size_t n = json_array_size(layers);
  int *blobs = xcalloc(n + 1, sizeof(*blobs));
  int ret = 0;
  for (size_t i = 0; i < n; i++)
    blobs[i] = -1;
  for (size_t i = 0; ret == 0 && i < n; i++)
    if ((blobs[i] = store_blob_open(root, json_string_value(json_array_get(layers, i)), err)) < 0)
      ret = -1;
  cleanup_close int tmp = ret < 0 ? -1 : tmp_dir_open(root);
  if (ret == 0)
    ret =
        layers_unpack(blobs, n, dest, image_rootless() ? UNPACK_ROOTLESS : 0, tmp, NULL, NULL, err);
  for (size_t i = 0; i < n; i++)
    if (blobs[i] >= 0)
      close(blobs[i]);
  free(blobs);
  return ret;
}

/* Overlay: the cached layers, last one on top, under DIR/upper. */
static int rootfs_overlay(const char *root, json_t *layers, const char *dir, const char *rootfs,
                          struct berth_err **err)
{
  cleanup_free char *lower = NULL;
  for (size_t i = json_array_size(layers); i-- > 0;) {
    char ldir[4096];
    if (layer_cache_ensure(root, json_string_value(json_array_get(layers, i)), ldir, sizeof(ldir),
                           err) < 0)
      return -1;
    char *next = xasprintf("%s%s%s/rootfs", lower ? lower : "", lower ? ":" : "", ldir);
    free(lower);
    lower = next;
  }
  cleanup_free char *upper = xasprintf("%s/upper", dir), *work = xasprintf("%s/work", dir);
  if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0)
    return berth_err_sys(err, "make %s/upper and work", dir);
  cleanup_free char *opts =
      xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off", lower, upper, work);
  if (mount("overlay", rootfs, "overlay", 0, opts) < 0)
    return berth_err_sys(err, "mount overlay on %s (use --copy where overlayfs is missing)",
                         rootfs);
  return 0;
}

int image_bundle_remove(const char *root, const char *dir, struct berth_err **err)
{
  bundle_record_drop(root, dir);
  /* Rootless: no mount of ours to undo (a copy), and umount2 would say
   * EPERM; a mount made by root inside still stops tree_remove. */
  if (image_rootless())
    return tree_remove(dir, false, NULL, err);
  return bundle_dir_remove(dir, false, err);
}

static int bundle_config(const char *root, json_t *rec, const char *rootfs, char *const *args,
                         bool writable, const char *dir, struct berth_err **err)
{
  cleanup_free char *cfg = NULL, *spec = NULL;
  cleanup_close int blob =
      store_blob_open(root, json_string_value(json_object_get(rec, "config")), err);
  if (blob < 0 || fd_read_all(blob, CONFIG_MAX, &cfg, err) < 0)
    return -1;
  cleanup_close int rfd = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  cleanup_close int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (rfd < 0 || dfd < 0)
    return berth_err_sys(err, "open %s", dir);
  if (image_spec_json(cfg, args, rfd, &spec, err) < 0)
    return -1;
  if (writable) {
    json_t *doc = json_loads(spec, 0, NULL);
    json_object_set_new(json_object_get(doc, "root"), "readonly", json_false());
    free(spec);
    spec = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
  }
  return write_file_atomic_at(dfd, "config.json", spec, strlen(spec), 0644, err);
}

/* The overlay's layers, recorded for prune before they are mounted. */
static int rootfs_overlay_recorded(const char *root, json_t *layers, const char *dir,
                                   const char *rootfs, struct berth_err **err)
{
  if (bundle_record_write(root, dir, layers, err) < 0)
    return -1;
  return rootfs_overlay(root, layers, dir, rootfs, err);
}

int image_bundle_create(const struct image_opts *o, const char *ref, const char *dir,
                        char *const *args, unsigned flags, struct berth_err **err)
{
  if (access(dir, F_OK) == 0) /* before any pull */
    return berth_err_set(err, EEXIST, "bundle %s", dir);
  cleanup_close int lock = -1;
  json_t *rec = record_load(o, ref, &lock, err);
  if (rec == NULL)
    return -1;
  cleanup_free char *rootfs = xasprintf("%s/rootfs", dir);
  int ret = mkdir(dir, 0755) < 0 ? berth_err_sys(err, "bundle %s", dir) : 0;
  bool made = ret == 0; /* only what we made is removed on failure */
  if (ret == 0 && mkdir(rootfs, 0755) < 0)
    ret = berth_err_sys(err, "bundle %s", rootfs);
  json_t *layers = json_object_get(rec, "layers");
  /* Rootless: no overlay (its layer cache needs root), a copy. */
  if (image_rootless())
    flags |= IMAGE_BUNDLE_COPY;
  if (ret == 0)
    ret = flags & IMAGE_BUNDLE_COPY ? rootfs_copy(o->root, layers, rootfs, err)
                                    : rootfs_overlay_recorded(o->root, layers, dir, rootfs, err);
  if (ret == 0)
    ret = bundle_config(o->root, rec, rootfs, args, flags & IMAGE_BUNDLE_WRITABLE, dir, err);
  if (ret < 0 && made) {
    struct berth_err *e2 = NULL;
    image_bundle_remove(o->root, dir, &e2);
    berth_err_free(&e2);
  }
  json_decref(rec);
  return ret;
}
