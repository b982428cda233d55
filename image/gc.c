/* What the store may forget, and when: the store lock (a flock of ROOT
 * itself: pulls and bundle creation hold it shared, prune exclusively), the
 * records of live bundles (ROOT/bundles/<sha256 of the dir>.json: the
 * cached layers a bundle's overlay mounted), and prune itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/treerm.h"
#include "internal.h"

#define RECORD_MAX ((size_t)1 << 20)

int store_lock(const char *root, bool exclusive, struct berth_err **err)
{
  if (mkdir_p(root, 0700, err) < 0)
    return berth_err_wrap(err, "store");
  cleanup_close int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "store: open %s", root);
  while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    if (errno != EINTR)
      return berth_err_sys(err, "store: lock %s", root);
  return steal_fd(&fd);
}

/* ROOT/bundles/<sha256 of the absolute dir>.json */
static char *bundle_record_path(const char *root, const char *absdir)
{
  char d[DIGEST_MAX];
  digest_buf(absdir, strlen(absdir), d);
  return xasprintf("%s/bundles/%s.json", root, d + 7);
}

int bundle_record_write(const char *root, const char *dir, json_t *layers, struct berth_err **err)
{
  char abs[PATH_MAX];
  struct stat sb;
  if (realpath(dir, abs) == NULL || lstat(abs, &sb) < 0)
    return berth_err_sys(err, "bundle %s", dir);
  cleanup_free char *bdir = xasprintf("%s/bundles", root);
  cleanup_free char *path = bundle_record_path(root, abs);
  if (mkdir_p(bdir, 0700, err) < 0)
    return -1;
  json_t *rec = json_pack("{s:s,s:I,s:I,s:O}", "dir", abs, "dev", (json_int_t)sb.st_dev, "ino",
                          (json_int_t)sb.st_ino, "layers", layers);
  cleanup_free char *text = json_dumps(rec, JSON_INDENT(2));
  json_decref(rec);
  cleanup_close int dfd = open(bdir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0)
    return berth_err_sys(err, "open %s", bdir);
  return write_file_atomic_at(dfd, strrchr(path, '/') + 1, text, strlen(text), 0600, err);
}

void bundle_record_drop(const char *root, const char *dir)
{
  char abs[PATH_MAX];
  if (realpath(dir, abs) == NULL)
    return;
  cleanup_free char *path = bundle_record_path(root, abs);
  unlink(path);
}

/* A record is live while its directory is the one it was made for. */
static bool bundle_record_live(json_t *rec)
{
  struct stat sb;
  const char *dir = json_string_value(json_object_get(rec, "dir"));
  return dir && lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
         (json_int_t)sb.st_dev == json_integer_value(json_object_get(rec, "dev")) &&
         (json_int_t)sb.st_ino == json_integer_value(json_object_get(rec, "ino"));
}

static void keep_digest(json_t *keep, json_t *d)
{
  const char *s = json_string_value(d);
  if (s && digest_valid(s))
    json_object_set_new(keep, s + 7, json_true());
}

static void keep_layers(json_t *keep, json_t *rec)
{
  json_t *layers = json_object_get(rec, "layers"), *l;
  size_t i;
  json_array_foreach (layers, i, l) {
    keep_digest(keep, l);
  }
}

/* For each JSON record in ROOT/SUB: fn(dirfd, name, parsed record). */
static void records_each(const char *root, const char *sub,
                         void (*fn)(int, const char *, json_t *, void *), void *arg)
{
  cleanup_free char *dir = xasprintf("%s/%s", root, sub);
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
      continue;
    cleanup_free char *text = NULL;
    struct berth_err *e = NULL;
    if (read_file_at(dirfd(d), de->d_name, RECORD_MAX, &text, NULL, &e) < 0) {
      berth_err_free(&e);
      continue;
    }
    json_t *rec = json_loads(text, 0, NULL);
    if (json_is_object(rec))
      fn(dirfd(d), de->d_name, rec, arg);
    json_decref(rec);
  }
}

static void keep_image(int dirfd, const char *name, json_t *rec, void *keep)
{
  (void)dirfd;
  (void)name;
  keep_digest(keep, json_object_get(rec, "manifest"));
  keep_digest(keep, json_object_get(rec, "config"));
  keep_layers(keep, rec);
}

struct bundle_walk {
  json_t *keep;
  struct image_prune_stats *st;
};

static void keep_bundle(int dirfd, const char *name, json_t *rec, void *arg)
{
  struct bundle_walk *w = arg;
  if (bundle_record_live(rec)) {
    keep_layers(w->keep, rec);
  } else if (unlinkat(dirfd, name, 0) == 0) {
    w->st->stale_records++;
  }
}

/* Removes ROOT/SUB/NAME (a file or a tree), counting its bytes. */
static int entry_remove(int dirfd, const char *path, const char *name, uint64_t *count,
                        struct image_prune_stats *st, struct berth_err **err)
{
  struct stat sb;
  if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : berth_err_sys(err, "prune: stat %s/%s", path, name);
  if (S_ISDIR(sb.st_mode)) {
    cleanup_free char *full = xasprintf("%s/%s", path, name);
    if (tree_remove(full, true, &st->bytes, err) < 0)
      return berth_err_wrap(err, "prune");
  } else if (unlinkat(dirfd, name, 0) < 0) {
    return errno == ENOENT ? 0 : berth_err_sys(err, "prune: remove %s/%s", path, name);
  } else if (sb.st_nlink == 1) {
    st->bytes += (uint64_t)sb.st_blocks * 512;
  }
  if (count)
    (*count)++;
  return 0;
}

/* The hex digest an entry of layers/sha256 or blobs/sha256 is for:
 * "<hex>", "<hex>.lock", "<hex>.tmp.PID" (a killed unpack). */
static bool entry_hex(const char *name, char hex[65], const char **suffix)
{
  if (strspn(name, "0123456789abcdef") != 64)
    return false;
  memcpy(hex, name, 64);
  hex[64] = '\0';
  *suffix = name + 64;
  return true;
}

/* Every entry of ROOT/SUB whose digest keep does not hold (all of them
 * when keep is NULL). */
static int dir_sweep(const char *root, const char *sub, json_t *keep, uint64_t *count,
                     struct image_prune_stats *st, struct berth_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s", root, sub);
  cleanup_dir DIR *d = opendir(path);
  if (d == NULL)
    return errno == ENOENT ? 0 : berth_err_sys(err, "prune: read %s", path);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char hex[65];
    const char *suffix = "";
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (keep && (!entry_hex(de->d_name, hex, &suffix) || json_object_get(keep, hex)))
      continue;
    /* Counted: layers, blobs, partial downloads; not their lock files. */
    uint64_t *counter = strstr(de->d_name, ".lock") ? NULL : count;
    if (keep && strncmp(suffix, ".tmp.", 5) == 0)
      counter = &st->partials; /* a killed unpack */
    if (entry_remove(dirfd(d), path, de->d_name, counter, st, err) < 0)
      return -1;
  }
  return 0;
}

int image_prune(const char *root, struct image_prune_stats *st, struct berth_err **err)
{
  memset(st, 0, sizeof(*st));
  struct stat sb;
  if (stat(root, &sb) < 0)
    return errno == ENOENT ? 0 : berth_err_sys(err, "prune: %s", root);
  cleanup_close int lock = store_lock(root, true, err);
  if (lock < 0)
    return -1;
  json_t *keep = json_object();
  struct bundle_walk w = {keep, st};
  records_each(root, "images", keep_image, keep);
  records_each(root, "bundles", keep_bundle, &w);
  /* Under the exclusive lock no pull runs: every partial file and
   * temporary directory is a leftover. */
  int ret = dir_sweep(root, "layers/sha256", keep, &st->layers, st, err);
  if (ret == 0)
    ret = dir_sweep(root, "blobs/sha256", keep, &st->blobs, st, err);
  if (ret == 0)
    ret = dir_sweep(root, "blobs/partial", NULL, &st->partials, st, err);
  if (ret == 0)
    ret = dir_sweep(root, "tmp", NULL, &st->partials, st, err);
  json_decref(keep);
  return ret;
}
