/* Sandboxes whose berth is gone. A berth SIGKILLed (or a machine that
 * crashed) cannot clean up: its sandbox's state directory, cgroup, scratch
 * directory and image bundle stay. Each running sandbox therefore holds a
 * claim: <root>/.ID.sandbox, locked (flock) for as long as its berth lives
 * and naming the scratch directory. The kernel drops the lock when berth
 * dies however it dies, so a claim that can be locked is stale, and a live
 * sandbox's claim never is, whoever started it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../runtime/runtime.h"
#include "sandbox.h"

#define CLAIM_SUFFIX ".sandbox"

static char *claim_path(const char *root, const char *id)
{
  return xasprintf("%s/.%s" CLAIM_SUFFIX, root, id);
}

static int claim_write(int fd, const char *scratch, bool image_bundle, struct berth_err **err)
{
  json_t *o = json_pack("{s:s?, s:b}", "scratch", scratch, "image_bundle", image_bundle);
  cleanup_free char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (text == NULL || write_all(fd, text, strlen(text)) < 0)
    return berth_err_sys(err, "sandbox: write its claim");
  return 0;
}

int sandbox_claim_take(const char *root, const char *id, const char *scratch, bool image_bundle,
                       struct sandbox_claim *c, struct berth_err **err)
{
  if (mkdir_p(root, 0700, err) < 0)
    return -1;
  c->path = claim_path(root, id);
  c->fd = open(c->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  struct stat st;
  if (c->fd < 0 || flock(c->fd, LOCK_EX) < 0 || fstat(c->fd, &st) < 0) {
    berth_err_sys(err, "sandbox: claim %s", c->path);
    sandbox_claim_drop(c);
    return -1;
  }
  /* Between open and flock a collector could lock it, find it empty and
   * remove it: then this sandbox has no claim. */
  if (st.st_nlink == 0) {
    berth_err_set(err, EAGAIN, "sandbox: claim %s was removed by a concurrent cleanup", c->path);
    close(c->fd);
    c->fd = -1;
    free(c->path);
    c->path = NULL;
    return -1;
  }
  if (claim_write(c->fd, scratch, image_bundle, err) < 0) {
    sandbox_claim_drop(c);
    return -1;
  }
  return 0;
}

void sandbox_claim_drop(struct sandbox_claim *c)
{
  if (c->path)
    unlink(c->path);
  if (c->fd >= 0)
    close(c->fd);
  free(c->path);
  c->path = NULL;
  c->fd = -1;
}

/* ---- removing a scratch directory ---- */

/* Overlay work dirs the kernel leaves mode 000. */
static int tree_remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)ftw;
  if (flag == FTW_DNR)
    chmod(path, 0700);
  if (remove(path) < 0 && errno != ENOENT)
    fprintf(stderr, "berth: warning: sandbox cleanup: remove %s: %s\n", path, strerror(errno));
  return 0;
}

void sandbox_scratch_remove(const char *dir)
{
  /* Upper dirs hold what the command wrote; never cross into a mount. */
  cleanup_free char *pattern = xasprintf("%s/overlay*/work/work", dir);
  glob_t gl;
  if (glob(pattern, GLOB_NOSORT, NULL, &gl) == 0)
    for (size_t i = 0; i < gl.gl_pathc; i++)
      chmod(gl.gl_pathv[i], 0700);
  globfree(&gl);
  nftw(dir, tree_remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* ---- collecting ---- */

/* The scratch directory a claim names: only one named for its sandbox
 * (.../berth-ID), so a claim file cannot point the collector elsewhere. */
static char *claim_scratch(json_t *o, const char *id, bool *image_bundle)
{
  const char *s = json_string_value(json_object_get(o, "scratch"));
  *image_bundle = json_is_true(json_object_get(o, "image_bundle"));
  if (s == NULL || s[0] != '/' || path_has_dotdot(s))
    return NULL;
  const char *base = strrchr(s, '/') + 1;
  if (strncmp(base, "berth-", 6) != 0 || strcmp(base + 6, id) != 0)
    return NULL;
  return xstrdup(s);
}

static int stale_remove(const char *root, const char *id, int fd, struct berth_err **err)
{
  /* Empty or torn (its berth died writing it): the container alone. */
  json_t *o = json_loadfd(fd, 0, NULL);
  bool image_bundle = false;
  cleanup_free char *scratch = o ? claim_scratch(o, id, &image_bundle) : NULL;
  json_decref(o);
  /* The container first (its init, cgroup and state), then what it ran on. */
  if (runtime_delete(root, id, true, err) < 0 && strstr((*err)->msg, "does not exist") == NULL)
    return -1;
  berth_err_free(err);
  if (scratch == NULL)
    return 0;
  cleanup_free char *bundle = xasprintf("%s/bundle", scratch);
  if (image_bundle && access(bundle, F_OK) == 0 &&
      sandbox_image_bundle(false, NULL, bundle, err) < 0)
    return -1;
  sandbox_scratch_remove(scratch);
  return 0;
}

/* One claim: locked (its berth lives) -> 0; stale -> removed, 1. */
static int claim_collect(const char *root, const char *name, struct berth_err **err)
{
  size_t n = strlen(name), ns = strlen(CLAIM_SUFFIX);
  if (name[0] != '.' || n <= ns + 1 || strcmp(name + n - ns, CLAIM_SUFFIX) != 0)
    return 0;
  char id[NAME_MAX + 1];
  snprintf(id, sizeof(id), "%.*s", (int)(n - ns - 1), name + 1);
  if (strncmp(id, "sbx-", 4) != 0)
    return 0;
  cleanup_free char *path = claim_path(root, id);
  cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0)
    return 0; /* alive, or another collector has it */
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
    return 0; /* not one berth wrote for this user */
  if (stale_remove(root, id, fd, err) < 0)
    return berth_err_wrap(err, "stale sandbox %s", id);
  unlink(path);
  return 1;
}

int sandbox_gc(const char *root, void (*removed)(const char *id), struct berth_err **err)
{
  cleanup_dir DIR *d = opendir(root);
  if (d == NULL)
    return errno == ENOENT ? 0 : berth_err_sys(err, "sandbox: open state root %s", root);
  int count = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    int r = claim_collect(root, de->d_name, err);
    if (r < 0)
      return -1;
    if (r > 0 && removed) {
      char id[NAME_MAX + 1];
      snprintf(id, sizeof(id), "%.*s", (int)(strlen(de->d_name) - strlen(CLAIM_SUFFIX) - 1),
               de->d_name + 1);
      removed(id);
    }
    count += r;
  }
  return count;
}
