/* A bundle from an image, pulled first when it is not in the store:
 * rootfs (an overlay of the cached layers with a private upper directory,
 * or a full copy) and config.json from the image config. The parts that
 * need neither libarchive nor libcurl are in bundle_overlay.c. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

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
  image_record_path(o->root, ref.name, path, sizeof(path));
  if (access(path, F_OK) < 0) {
    char digest[80];
    if (image_pull(o, refstr, digest, err) < 0)
      return NULL;
  }
  if ((*lock = store_lock(o->root, false, err)) < 0)
    return NULL;
  return image_record_read(o->root, ref.name, err);
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
static int rootfs_copy(const char *root, json_t *layers, const char *dir, const char *rootfs,
                       struct berth_err **err)
{
  (void)dir;
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

/* Every layer in the layer cache (unpacked now when it is not). */
static int layers_ensure(const char *root, json_t *layers, struct berth_err **err)
{
  for (size_t i = 0; i < json_array_size(layers); i++) {
    char ldir[4096];
    if (layer_cache_ensure(root, json_string_value(json_array_get(layers, i)), NULL, ldir,
                           sizeof(ldir), err) < 0)
      return -1;
  }
  return 0;
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
  /* Rootless: no overlay (its layer cache needs root), a copy. */
  if (image_rootless())
    flags |= IMAGE_BUNDLE_COPY;
  int ret = 0;
  if (!(flags & IMAGE_BUNDLE_COPY))
    ret = layers_ensure(o->root, json_object_get(rec, "layers"), err);
  if (ret == 0)
    ret = bundle_assemble(o->root, rec, dir, args, flags,
                          flags & IMAGE_BUNDLE_COPY ? rootfs_copy : bundle_fill_overlay, err);
  json_decref(rec);
  return ret;
}
