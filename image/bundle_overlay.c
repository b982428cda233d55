/* The parts of a bundle that need neither libarchive nor libcurl: the
 * overlay rootfs of cached layers, config.json from the image config, the
 * removal; and the whole bundle of an image already in the store
 * (image_bundle_create_cached), which berth itself runs so that a second
 * container from a cached image costs no start of berth-image (its
 * dynamic loading alone is several times the work). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/treerm.h"
#include "internal.h"

#define RECORD_MAX ((size_t)1 << 20)
#define CONFIG_MAX ((size_t)16 << 20)

json_t *image_record_read(const char *root, const char *name, struct berth_err **err)
{
  char path[4096];
  cleanup_free char *text = NULL;
  json_t *rec = NULL;
  if (image_record_path(root, name, path, sizeof(path)) < 0)
    berth_err_set(err, ENAMETOOLONG, "image root %s", root);
  else if (read_file_at(AT_FDCWD, path, RECORD_MAX, &text, NULL, err) < 0)
    berth_err_wrap(err, "image %s", name); /* removed meanwhile */
  else if (!json_is_object(rec = json_loads(text, 0, NULL)) ||
           !json_is_array(json_object_get(rec, "layers")))
    berth_err_set(err, 0, "image record %s: not JSON (remove it and pull again)", path);
  else
    return rec;
  json_decref(rec);
  return NULL;
}

/* ROOT/layers/sha256/<hex>/rootfs of layer i, or NULL when not cached. */
static char *layer_rootfs(const char *root, json_t *layers, size_t i)
{
  const char *d = json_string_value(json_array_get(layers, i));
  if (d == NULL || !digest_valid(d))
    return NULL;
  char *path = xasprintf("%s/layers/sha256/%s/rootfs", root, d + 7);
  struct stat sb;
  if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return path;
  free(path);
  return NULL;
}

bool image_layers_cached(const char *root, json_t *layers)
{
  for (size_t i = 0; i < json_array_size(layers); i++) {
    cleanup_free char *p = layer_rootfs(root, layers, i);
    if (p == NULL)
      return false;
  }
  return true;
}

/* Overlay: the cached layers, last one on top, under DIR/upper; recorded
 * for prune before they are mounted. */
int bundle_fill_overlay(const char *root, json_t *layers, const char *dir, const char *rootfs,
                        struct berth_err **err)
{
  if (bundle_record_write(root, dir, layers, err) < 0)
    return -1;
  cleanup_free char *lower = NULL;
  for (size_t i = json_array_size(layers); i-- > 0;) {
    cleanup_free char *ldir = layer_rootfs(root, layers, i);
    if (ldir == NULL)
      return berth_err_set(err, 0, "layer %s is not in the layer cache",
                           json_string_value(json_array_get(layers, i)));
    char *next = xasprintf("%s%s%s", lower ? lower : "", lower ? ":" : "", ldir);
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
  return write_file_replace_at(dfd, "config.json", spec, strlen(spec), 0644, false, err);
}

int bundle_assemble(const char *root, json_t *rec, const char *dir, char *const *args,
                    unsigned flags, bundle_fill_fn fill, struct berth_err **err)
{
  cleanup_free char *rootfs = xasprintf("%s/rootfs", dir);
  if (mkdir(dir, 0755) < 0)
    return berth_err_sys(err, "bundle %s", dir);
  int ret = mkdir(rootfs, 0755) < 0 ? berth_err_sys(err, "bundle %s", rootfs) : 0;
  if (ret == 0)
    ret = fill(root, json_object_get(rec, "layers"), dir, rootfs, err);
  if (ret == 0)
    ret = bundle_config(root, rec, rootfs, args, flags & IMAGE_BUNDLE_WRITABLE, dir, err);
  if (ret < 0) { /* only what we made: dir did not exist */
    struct berth_err *e2 = NULL;
    image_bundle_remove(root, dir, &e2);
    berth_err_free(&e2);
  }
  return ret;
}

int image_bundle_create_cached(const struct image_opts *o, const char *refstr, const char *dir,
                               char *const *args, unsigned flags, struct berth_err **err)
{
  struct image_ref ref;
  char path[4096];
  if ((flags & IMAGE_BUNDLE_COPY) || image_rootless())
    return 1;
  if (image_ref_parse(refstr, &ref, err) < 0)
    return -1;
  if (image_record_path(o->root, ref.name, path, sizeof(path)) < 0 || access(path, F_OK) < 0)
    return 1; /* not pulled (or no store at all: nothing is made) */
  if (access(dir, F_OK) == 0)
    return berth_err_set(err, EEXIST, "bundle %s", dir);
  /* Shared: a prune waits until the bundle has recorded its layers. */
  cleanup_close int lock = store_lock(o->root, false, err);
  if (lock < 0)
    return -1;
  json_t *rec = image_record_read(o->root, ref.name, err);
  if (rec == NULL) { /* removed meanwhile, or unreadable: berth-image says */
    berth_err_free(err);
    return 1;
  }
  int ret = 1;
  if (image_layers_cached(o->root, json_object_get(rec, "layers")))
    ret = bundle_assemble(o->root, rec, dir, args, flags, bundle_fill_overlay, err);
  json_decref(rec);
  return ret;
}
