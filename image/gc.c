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

/* ROOT (made when missing), open for flock. */
static int store_open(const char *root, struct berth_err **err)
{
  if (mkdir_p(root, 0700, err) < 0)
    return berth_err_wrap(err, "store");
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "store: open %s", root);
  return fd;
}

static int lock_wait(int fd, int how, const char *root, struct berth_err **err)
{
  while (flock(fd, how) < 0)
    if (errno != EINTR)
      return berth_err_sys(err, "store: lock %s", root);
  return 0;
}

int store_lock(const char *root, bool exclusive, struct berth_err **err)
{
  cleanup_close int fd = store_open(root, err);
  if (fd < 0 || lock_wait(fd, exclusive ? LOCK_EX : LOCK_SH, root, err) < 0)
    return -1;
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
  /* No fsync (~10 ms, more than the rest of a cached bundle): the
   * bundle's own overlay does not survive a crash of the machine either. */
  return write_file_replace_at(dfd, strrchr(path, '/') + 1, text, strlen(text), 0600, false, err);
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

/* For each JSON file in ROOT/SUB: fn(dirfd, name, parsed JSON). */
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
    if (rec != NULL)
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

/* ---- what a pull that did not finish leaves, and its removal ---- */

int pull_journal_begin(const char *root, const char *mdigest, const struct manifest *m,
                       bool resumable, char **path, struct berth_err **err)
{
  cleanup_free char *dir = xasprintf("%s/pulls", root);
  if (mkdir_p(dir, 0700, err) < 0)
    return -1;
  json_t *digests = json_pack("[s,s]", mdigest, m->config.digest);
  for (size_t i = 0; i < m->n_layers; i++)
    json_array_append_new(digests, json_string(m->layers[i].digest));
  json_t *doc = json_pack("{s:o,s:b}", "digests", digests, "resumable", resumable);
  cleanup_free char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  cleanup_free char *file = xasprintf("%s/XXXXXX.json", dir);
  cleanup_close int fd = mkostemps(file, 5, O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "store: journal in %s", dir);
  if (write_all(fd, text, strlen(text)) < 0) {
    unlink(file);
    return berth_err_sys(err, "store: write %s", file);
  }
  *path = steal_ptr(&file);
  return 0;
}

void pull_journal_end(char *path)
{
  if (path)
    unlink(path);
  free(path);
}

/* Removes ROOT/SUB/<hex><suffix> when it is there. */
static void digest_entry_remove(const char *root, const char *sub, const char *hex,
                                const char *suffix)
{
  struct berth_err *e = NULL;
  cleanup_free char *path = xasprintf("%s/%s/%s%s", root, sub, hex, suffix);
  struct stat sb;
  if (lstat(path, &sb) < 0)
    return;
  if (S_ISDIR(sb.st_mode) ? tree_remove(path, true, NULL, &e) < 0 : unlink(path) < 0)
    berth_err_free(&e);
}

struct rollback {
  const char *root;
  json_t *keep;
};

/* One journal's blobs and layers that no image and no live bundle uses,
 * and its partial downloads unless they came from a registry (the next
 * pull resumes those). */
static void journal_rollback(int dirfd, const char *name, json_t *journal, void *arg)
{
  struct rollback *rb = arg;
  json_t *digests = json_object_get(journal, "digests"), *d;
  bool resumable = json_is_true(json_object_get(journal, "resumable"));
  size_t i;
  json_array_foreach (digests, i, d) {
    const char *s = json_string_value(d);
    if (s == NULL || !digest_valid(s) || json_object_get(rb->keep, s + 7))
      continue;
    digest_entry_remove(rb->root, "layers/sha256", s + 7, "");
    digest_entry_remove(rb->root, "layers/sha256", s + 7, ".lock");
    digest_entry_remove(rb->root, "blobs/sha256", s + 7, "");
    if (!resumable)
      digest_entry_remove(rb->root, "blobs/partial", s + 7, "");
  }
  unlinkat(dirfd, name, 0);
}

static bool dir_has_entries(const char *root, const char *sub)
{
  cleanup_free char *path = xasprintf("%s/%s", root, sub);
  cleanup_dir DIR *d = opendir(path);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      return true;
  return false;
}

/* Removes from ROOT/SUB what no process holds while the store is locked
 * exclusively: names holding one of marks; a "<hex>.lock" beside its
 * "<hex>" stays when keep_lock_beside (a cached layer keeps its lock). */
static void leftovers_sweep(const char *root, const char *sub, const char *const *marks,
                            bool keep_lock_beside)
{
  cleanup_free char *path = xasprintf("%s/%s", root, sub);
  cleanup_dir DIR *d = opendir(path);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    char hex[65];
    const char *suffix = "";
    bool hit = false;
    for (size_t i = 0; marks[i] && !hit; i++)
      hit = strstr(de->d_name, marks[i]) != NULL;
    if (!hit)
      continue;
    if (keep_lock_beside && entry_hex(de->d_name, hex, &suffix) && strcmp(suffix, ".lock") == 0 &&
        faccessat(dirfd(d), hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
      continue;
    digest_entry_remove(root, sub, de->d_name, "");
  }
}

void store_recover(const char *root)
{
  if (dir_has_entries(root, "pulls")) {
    json_t *keep = json_object();
    struct image_prune_stats st = {0};
    struct bundle_walk w = {keep, &st};
    records_each(root, "images", keep_image, keep);
    records_each(root, "bundles", keep_bundle, &w);
    struct rollback rb = {root, keep};
    records_each(root, "pulls", journal_rollback, &rb);
    json_decref(keep);
  }
  static const char *const layer_marks[] = {".tmp.", ".lock", NULL};
  static const char *const blob_marks[] = {".put.", ".lock", NULL};
  static const char *const record_marks[] = {".tmp.", NULL};
  static const char *const journal_marks[] = {".json", NULL}; /* unreadable ones */
  leftovers_sweep(root, "pulls", journal_marks, false);
  leftovers_sweep(root, "layers/sha256", layer_marks, true);
  leftovers_sweep(root, "blobs/partial", blob_marks, false);
  leftovers_sweep(root, "images", record_marks, false);
  cleanup_free char *tmp = xasprintf("%s/tmp", root);
  struct berth_err *e = NULL;
  if (tree_remove(tmp, true, NULL, &e) < 0)
    berth_err_free(&e);
}

int store_lock_for_pull(const char *root, struct berth_err **err)
{
  cleanup_close int fd = store_open(root, err);
  if (fd < 0)
    return -1;
  /* Nobody else in the store: a killed pull's leftovers can go. */
  if (flock(fd, LOCK_EX | LOCK_NB) == 0)
    store_recover(root);
  /* (from exclusive, a conversion: flock drops the lock, then takes it) */
  if (lock_wait(fd, LOCK_SH, root, err) < 0)
    return -1;
  return steal_fd(&fd);
}

void store_undo(const char *root, int lock)
{
  struct berth_err *e = NULL;
  if (lock_wait(lock, LOCK_EX, root, &e) == 0)
    store_recover(root);
  berth_err_free(&e);
  lock_wait(lock, LOCK_SH, root, &e);
  berth_err_free(&e);
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
  if (ret == 0) /* the journals of pulls that did not finish */
    ret = dir_sweep(root, "pulls", NULL, NULL, st, err);
  json_decref(keep);
  return ret;
}
