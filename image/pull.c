/* From a reference to an image in the store: manifest (resolved by
 * platform), config and layers fetched and verified, each layer unpacked
 * once into the layer cache, the image recorded under its name. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/testhook.h"
#include "internal.h"
#include "registry.h"

static int source_open(const struct image_ref *ref, const struct image_opts *o,
                       struct image_source **src, struct berth_err **err)
{
  if (ref->kind == REF_REGISTRY)
    return source_registry_open(ref, o, src, err);
  return source_local_open(ref, o, src, err);
}

/* ROOT/layers/sha256/<hex>: "rootfs" (the layer alone, whiteouts as
 * overlayfs's; not for a rootless pull) and "diff_id", made in a temporary
 * directory and renamed into place, under a per-layer lock: concurrent
 * pulls unpack once. */
static int layer_dir(const char *root, const char *digest, char *out, size_t n)
{
  return snprintf(out, n, "%s/layers/sha256/%s", root, digest + 7) < (int)n ? 0 : -1;
}

/* The layer into tmp/rootfs as an overlay lower directory; rootless, only
 * its diff_id (no overlay: bundles are copies made from the blobs). */
static int layer_unpack_tree(int blob, const char *tmp, char diff_id[DIGEST_MAX],
                             struct berth_err **err)
{
  if (image_rootless())
    return layer_diff_id(blob, diff_id, err);
  cleanup_free char *rootfs = xasprintf("%s/rootfs", tmp);
  if (mkdir(rootfs, 0755) < 0)
    return berth_err_sys(err, "make %s", rootfs);
  cleanup_close int dest = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  struct unpack_stats st = {0};
  if (dest < 0)
    return berth_err_sys(err, "open %s", rootfs);
  return layer_unpack(blob, dest, UNPACK_OVERLAY, diff_id, &st, err);
}

/* The config's diff_id for the layer, when it names one: a layer that
 * unpacks to another is not the image's and must not enter the cache. */
static int diff_id_expect(const char *want, const char *got, struct berth_err **err)
{
  if (want == NULL || strcmp(want, got) == 0)
    return 0;
  return berth_err_set(err, 0, "unpacks to %s, the config says %s", got, want);
}

static int layer_unpack_into(const char *root, const char *digest, const char *want,
                             const char *dir, struct berth_err **err)
{
  cleanup_free char *tmp = xasprintf("%s.tmp.%d", dir, (int)getpid());
  if (mkdir(tmp, 0700) < 0)
    return berth_err_sys(err, "layer %s: make %s", digest, tmp);
  cleanup_close int blob = store_blob_open(root, digest, err);
  char diff_id[DIGEST_MAX];
  int ret = blob < 0 ? -1 : layer_unpack_tree(blob, tmp, diff_id, err);
  if (ret == 0)
    ret = diff_id_expect(want, diff_id, err);
  TEST_POINT("pull:unpacked");
  cleanup_close int tfd = open(tmp, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (ret == 0)
    ret = write_file_atomic_at(tfd, "diff_id", diff_id, strlen(diff_id), 0644, err);
  if (ret == 0 && rename(tmp, dir) < 0)
    ret = berth_err_sys(err, "layer %s: rename into the cache", digest);
  if (ret < 0)
    tmpdir_remove(tmp);
  return ret < 0 ? berth_err_wrap(err, "layer %s", digest) : 0;
}

int layer_cache_ensure(const char *root, const char *digest, const char *want_diff_id, char *dir,
                       size_t n, struct berth_err **err)
{
  if (layer_dir(root, digest, dir, n) < 0)
    return berth_err_set(err, ENAMETOOLONG, "image root %s", root);
  cleanup_free char *parent = xasprintf("%s/layers/sha256", root);
  if (mkdir_p(parent, 0700, err) < 0)
    return -1;
  cleanup_free char *lock = xasprintf("%s.lock", dir);
  cleanup_close int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
    return berth_err_sys(err, "lock %s", lock);
  struct stat sb;
  if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
    return 0; /* unpacked before, by us or a concurrent pull */
  return layer_unpack_into(root, digest, want_diff_id, dir, err);
}

/* The config's rootfs.diff_ids must be what the layers unpacked to:
 * otherwise the config describes another image than the one stored. */
static int diff_ids_check(const char *root, json_t *ids, const struct manifest *m,
                          struct berth_err **err)
{
  int ret = 0;
  if (json_array_size(ids) != m->n_layers)
    ret = berth_err_set(err, 0, "image config: %zu diff_ids for %zu layers", json_array_size(ids),
                        m->n_layers);
  for (size_t i = 0; ret == 0 && i < m->n_layers; i++) {
    char dir[4096];
    cleanup_free char *got = NULL;
    layer_dir(root, m->layers[i].digest, dir, sizeof(dir));
    cleanup_free char *path = xasprintf("%s/diff_id", dir);
    if (read_file_at(AT_FDCWD, path, DIGEST_MAX, &got, NULL, err) < 0)
      ret = -1;
    else if (strcmp(got, json_string_value(json_array_get(ids, i)) ?: "") != 0)
      ret = berth_err_set(err, 0, "layer %s: unpacks to %s, the config says %s",
                          m->layers[i].digest, got, json_string_value(json_array_get(ids, i)));
  }
  return ret;
}

static json_t *record_json(const struct image_ref *ref, const char *mdigest,
                           const struct manifest *m)
{
  json_t *layers = json_array();
  for (size_t i = 0; i < m->n_layers; i++)
    json_array_append_new(layers, json_string(m->layers[i].digest));
  char when[32];
  time_t now = time(NULL);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  return json_pack("{s:s,s:s,s:s,s:o,s:s}", "name", ref->name, "manifest", mdigest, "config",
                   m->config.digest, "layers", layers, "pulled", when);
}

static int record_save(const char *root, const struct image_ref *ref, const char *mdigest,
                       const struct manifest *m, struct berth_err **err)
{
  cleanup_free char *dir = xasprintf("%s/images", root);
  char path[4096];
  if (mkdir_p(dir, 0700, err) < 0 || image_record_path(root, ref->name, path, sizeof(path)) < 0)
    return -1;
  json_t *rec = record_json(ref, mdigest, m);
  cleanup_free char *text = json_dumps(rec, JSON_INDENT(2));
  json_decref(rec);
  cleanup_close int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  return write_file_atomic_at(dfd, strrchr(path, '/') + 1, text, strlen(text), 0600, err);
}

/* Layers go into the cache in threads, up to UNPACK_JOBS at once, while
 * the next blobs are fetched: each layer has its own directory, so they
 * need no order, and one layer's unpack (two threads, unpack_stream.c)
 * rarely keeps two CPUs busy on its own (its tar is bound by syscalls,
 * inflate waits for it) nor does a download. */
#define UNPACK_JOBS 2

struct layer_job {
  const char *root;
  const char *digest;
  const char *diff_id;
  pthread_t thread;
  bool started;
  int ret;
  struct berth_err *err;
};

static void *layer_job_run(void *arg)
{
  struct layer_job *j = arg;
  char dir[4096];
  j->ret = layer_cache_ensure(j->root, j->digest, j->diff_id, dir, sizeof(dir), &j->err);
  return NULL;
}

/* Waits for job j; its error goes to *err unless one is there already
 * (one error is reported, the first seen). */
static int layer_job_join(struct layer_job *j, struct berth_err **err)
{
  if (!j->started)
    return 0;
  pthread_join(j->thread, NULL);
  j->started = false;
  if (j->ret == 0)
    return 0;
  if (*err == NULL)
    *err = j->err;
  else
    berth_err_free(&j->err);
  return -1;
}

static int layer_job_start(struct layer_job *j, const char *root, const char *digest,
                           const char *diff_id, struct berth_err **err)
{
  *j = (struct layer_job){.root = root, .digest = digest, .diff_id = diff_id};
  int r = pthread_create(&j->thread, NULL, layer_job_run, j);
  if (r != 0)
    return berth_err_set(err, r, "layer %s: start an unpack thread", digest);
  j->started = true;
  return 0;
}

/* The layers, config first: its diff_ids say what each layer must unpack
 * to (diff_ids_check names a count that differs). */
static int fetch_all(const char *root, struct image_source *src, const struct manifest *m,
                     json_t *diff_ids, struct berth_err **err)
{
  struct layer_job *jobs = xcalloc(m->n_layers + 1, sizeof(*jobs));
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < m->n_layers; i++) {
    if (store_blob_fetch(root, src, m->layers[i].digest, m->layers[i].size, err) < 0)
      ret = -1;
    if (ret == 0 && i >= UNPACK_JOBS)
      ret = layer_job_join(&jobs[i - UNPACK_JOBS], err);
    TEST_POINT("pull:fetched");
    if (ret == 0)
      ret = layer_job_start(&jobs[i], root, m->layers[i].digest,
                            json_string_value(json_array_get(diff_ids, i)), err);
  }
  for (size_t i = 0; i < m->n_layers; i++)
    if (layer_job_join(&jobs[i], err) < 0)
      ret = -1;
  free(jobs);
  return ret;
}

/* The config blob, fetched and verified, parsed. */
static json_t *config_fetch(const char *root, struct image_source *src, const struct manifest *m,
                            struct berth_err **err)
{
  cleanup_free char *text = NULL;
  if (store_blob_fetch(root, src, m->config.digest, m->config.size, err) < 0)
    return NULL;
  cleanup_close int fd = store_blob_open(root, m->config.digest, err);
  if (fd < 0 || fd_read_all(fd, (size_t)16 << 20, &text, err) < 0)
    return NULL;
  json_t *cfg = json_loads(text, 0, NULL);
  if (cfg == NULL)
    berth_err_set(err, 0, "image config %s: not JSON", m->config.digest);
  return cfg;
}

/* With the manifest resolved: what the image is made of, into the store
 * and the layer cache, then its record. */
static int pull_content(const struct image_opts *o, struct image_source *src,
                        const struct image_ref *ref, const struct manifest *m, const char *text,
                        size_t len, const char *mdigest, struct berth_err **err)
{
  char stored[DIGEST_MAX];
  if (store_blob_put(o->root, text, len, stored, err) < 0)
    return -1;
  TEST_POINT("pull:manifest");
  json_t *cfg = config_fetch(o->root, src, m, err);
  if (cfg == NULL)
    return -1;
  json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
  int ret = fetch_all(o->root, src, m, ids, err);
  if (ret == 0)
    ret = diff_ids_check(o->root, ids, m, err);
  TEST_POINT("pull:cached");
  if (ret == 0)
    ret = record_save(o->root, ref, mdigest, m, err);
  json_decref(cfg);
  return ret;
}

/* A pull that fails leaves the store as it found it (store_undo rolls
 * back its journal), but for a cut registry download's partial file. */
static int pull_locked(const struct image_opts *o, const char *refstr, int lock, char digest[80],
                       struct berth_err **err)
{
  struct image_ref ref;
  struct image_source *src = NULL;
  if (image_ref_parse(refstr, &ref, err) < 0 || source_open(&ref, o, &src, err) < 0)
    return -1;
  TEST_POINT("pull:source");
  struct manifest m = {0};
  cleanup_free char *text = NULL;
  char *journal = NULL;
  size_t len = 0;
  char mdigest[DIGEST_MAX];
  int ret = manifest_resolve(src, o->platform, &m, &text, &len, mdigest, err);
  struct pull_progress *pp = ret == 0 ? pull_progress_begin(o, &m) : NULL;
  if (pp)
    registry_set_progress(src, pull_progress_bytes, pp);
  if (ret == 0)
    ret = pull_journal_begin(o->root, mdigest, &m, ref.kind == REF_REGISTRY, &journal, err);
  if (ret == 0)
    ret = pull_content(o, src, &ref, &m, text, len, mdigest, err);
  if (ret == 0)
    snprintf(digest, 80, "%s", mdigest);
  pull_progress_end(pp, ret == 0);
  manifest_free(&m);
  src->ops->close(src);
  if (ret < 0 && journal)
    store_undo(o->root, lock);
  pull_journal_end(journal);
  return ret < 0 ? berth_err_wrap(err, "pull %s", ref.name) : 0;
}

/* Shared with other pulls and bundle creation; a prune waits. */
int image_pull(const struct image_opts *o, const char *refstr, char digest[80],
               struct berth_err **err)
{
  cleanup_close int lock = store_lock_for_pull(o->root, err);
  if (lock < 0)
    return -1;
  return pull_locked(o, refstr, lock, digest, err);
}
