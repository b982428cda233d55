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
#include "internal.h"

#define RECORD_MAX ((size_t)1 << 20)
#define CONFIG_MAX ((size_t)16 << 20)

/* The record of a pulled image: pulled now when there is none. */
static json_t *record_load(const struct image_opts *o, const char *refstr, struct berth_err **err)
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
  if (read_file_at(AT_FDCWD, path, RECORD_MAX, &text, NULL, err) < 0)
    return NULL;
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

static int mnt_id_at(int dirfd, const char *name, uint64_t *id)
{
  struct statx sx;
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
    return -1;
  *id = sx.stx_mnt_id;
  return 0;
}

/* Removes the tree below dirfd without ever leaving its mount: a
 * directory on another mount (a bind of a host directory, even of the same
 * filesystem) stops the removal with an error and keeps every file in it;
 * symlinks are removed, never followed. */
static int tree_remove_at(int dirfd, uint64_t mnt, const char *where, struct berth_err **err)
{
  cleanup_dir DIR *d = fdopendir(dup(dirfd));
  if (d == NULL)
    return berth_err_sys(err, "read %s", where);
  struct dirent *de;
  int ret = 0;
  while (ret == 0 && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (unlinkat(dirfd, de->d_name, 0) == 0 || errno == ENOENT)
      continue;
    uint64_t id = 0;
    cleanup_close int sub =
        openat(dirfd, de->d_name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 || mnt_id_at(sub, "", &id) < 0)
      return berth_err_sys(err, "remove %s/%s", where, de->d_name);
    if (id != mnt)
      return berth_err_set(err, 0, "%s/%s is a mount point: unmount it first", where, de->d_name);
    cleanup_free char *sub_where = xasprintf("%s/%s", where, de->d_name);
    ret = tree_remove_at(sub, mnt, sub_where, err);
    if (ret == 0 && unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0)
      ret = berth_err_sys(err, "remove %s", sub_where);
  }
  return ret;
}

int image_bundle_remove(const char *dir, struct berth_err **err)
{
  cleanup_free char *rootfs = xasprintf("%s/rootfs", dir);
  /* An overlay rootfs is ours to unmount; anything mounted inside it
   * goes with it (detached), never file by file. */
  /* EPERM rootless: the user could not have mounted it (a mount made by
   * root stops the removal below, as any mount inside does). */
  if (umount2(rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT &&
      !(errno == EPERM && image_rootless()))
    return berth_err_sys(err, "unmount %s", rootfs);
  cleanup_close int fd = open(dir, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  uint64_t mnt = 0;
  if (fd < 0 || mnt_id_at(fd, "", &mnt) < 0)
    return berth_err_sys(err, "open bundle %s", dir);
  if (tree_remove_at(fd, mnt, dir, err) < 0)
    return -1;
  if (rmdir(dir) < 0)
    return berth_err_sys(err, "remove %s", dir);
  return 0;
}

static int bundle_config(const char *root, json_t *rec, const char *rootfs, char *const *args,
                         const char *dir, struct berth_err **err)
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
  return write_file_atomic_at(dfd, "config.json", spec, strlen(spec), 0644, err);
}

int image_bundle_create(const struct image_opts *o, const char *ref, const char *dir,
                        char *const *args, bool copy, struct berth_err **err)
{
  json_t *rec = record_load(o, ref, err);
  if (rec == NULL)
    return -1;
  cleanup_free char *rootfs = xasprintf("%s/rootfs", dir);
  int ret = mkdir(dir, 0755) < 0 ? berth_err_sys(err, "bundle %s", dir) : 0;
  bool made = ret == 0; /* only what we made is removed on failure */
  if (ret == 0 && mkdir(rootfs, 0755) < 0)
    ret = berth_err_sys(err, "bundle %s", rootfs);
  json_t *layers = json_object_get(rec, "layers");
  /* Rootless: no overlay (its layer cache needs root), a copy. */
  copy = copy || image_rootless();
  if (ret == 0)
    ret = copy ? rootfs_copy(o->root, layers, rootfs, err)
               : rootfs_overlay(o->root, layers, dir, rootfs, err);
  if (ret == 0)
    ret = bundle_config(o->root, rec, rootfs, args, dir, err);
  if (ret < 0 && made) {
    struct berth_err *e2 = NULL;
    image_bundle_remove(dir, &e2);
    berth_err_free(&e2);
  }
  json_decref(rec);
  return ret;
}
