/* Where a container's cgroup lives and its life cycle: detect the host
 * layout, create the directories below berth's own cgroup, move the init in,
 * freeze, list, kill, remove. Resource files are written by apply.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/warn.h"
#include "cgroup.h"
#include "internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"

/* ---- host hierarchies ---- */

static bool is_skipped_option(const char *o)
{
  static const char *const skip[] = {"rw",
                                     "ro",
                                     "clone_children",
                                     "xattr",
                                     "noprefix",
                                     "nsdelegate",
                                     "cpuset_v2_mode",
                                     "favordynmods",
                                     "memory_recursiveprot",
                                     "memory_localevents",
                                     "memory_hugetlb_accounting"};
  if (strncmp(o, "release_agent=", 14) == 0)
    return true;
  for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (strcmp(o, skip[i]) == 0)
      return true;
  return false;
}

/* Covered mounts stay in mountinfo: when /sys/fs/cgroup is mounted over and
 * the hierarchies mounted again (as schedulers such as slurmd do), each
 * shows twice, and mounting both inside a container fails with EBUSY. Only
 * the mount visible at its path counts. */
static bool mount_visible(const char *mountpoint, const char *mount_id)
{
  struct statx stx;
  if (statx(AT_FDCWD, mountpoint, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) < 0 ||
      !(stx.stx_mask & STATX_MNT_ID))
    return true; /* cannot tell (before Linux 5.8): as listed */
  return stx.stx_mnt_id == strtoull(mount_id, NULL, 10);
}

int cgroup_foreach_hierarchy(int (*fn)(void *, const char *, const char *, const char *), void *arg,
                             struct berth_err **err)
{
  cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL)
    return berth_err_sys(err, "open /proc/self/mountinfo");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    char *fields[24];
    int nf = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \n", &save); t && nf < 24; t = strtok_r(NULL, " \n", &save))
      fields[nf++] = t;
    int sep = -1;
    for (int i = 6; i < nf && sep < 0; i++)
      if (strcmp(fields[i], "-") == 0)
        sep = i;
    if (sep < 0 || sep + 3 >= nf)
      continue;
    const char *mp = fields[4], *fstype = fields[sep + 1];
    if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
      continue;
    const char *name;
    if (strcmp(mp, CGROUP_ROOT) == 0)
      name = "";
    else if (strncmp(mp, CGROUP_ROOT "/", sizeof(CGROUP_ROOT)) == 0 &&
             !strchr(mp + sizeof(CGROUP_ROOT), '/'))
      name = mp + sizeof(CGROUP_ROOT);
    else
      continue;
    if (!mount_visible(mp, fields[0]))
      continue;
    /* Controller names and name= only: never release_agent= and the like. */
    char opts[512] = "";
    char *sv = NULL;
    for (char *o = strtok_r(fields[sep + 3], ",", &sv); o; o = strtok_r(NULL, ",", &sv)) {
      if (is_skipped_option(o))
        continue;
      size_t l = strlen(opts);
      snprintf(opts + l, sizeof(opts) - l, "%s%s", l ? "," : "", o);
    }
    if (fn(arg, name, opts, fstype) < 0)
      return -1;
  }
  return 0;
}

/* ---- our own cgroup ---- */

/* The path of this process's cgroup in the hierarchy with these
 * controllers ("" for v2), from /proc/self/cgroup (read once by the caller). */
static char *own_cgroup_path(const char *self_cgroup, const char *controllers, bool v2)
{
  size_t cl = strlen(controllers);
  for (const char *line = self_cgroup; line && *line;) {
    const char *eol = strchr(line, '\n');
    const char *c1 = memchr(line, ':', eol ? (size_t)(eol - line) : strlen(line));
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 && (!eol || c2 < eol)) {
      bool match = v2 ? (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1)
                      : ((size_t)(c2 - c1 - 1) == cl && strncmp(c1 + 1, controllers, cl) == 0);
      if (match)
        return eol ? strndup(c2 + 1, (size_t)(eol - c2 - 1)) : xstrdup(c2 + 1);
    }
    line = eol ? eol + 1 : NULL;
  }
  return NULL;
}

struct detect_arg {
  struct cgroup *cg;
  bool seen_v2_root;
};

static int detect_one(void *arg, const char *name, const char *opts, const char *fstype)
{
  struct detect_arg *a = arg;
  struct cgroup *cg = a->cg;
  bool v2 = strcmp(fstype, "cgroup2") == 0;
  /* Named hierarchies (name=systemd) too: runc puts the container in its
   * own group there as well, below the caller's, and clients check it. */
  if (cg->n == CGROUP_MAX_HIER)
    return 0;
  struct cgroup_dir *d = &cg->h[cg->n++];
  d->v2 = v2;
  d->controllers = xstrdup(v2 ? "" : opts);
  d->mountpoint = xasprintf(CGROUP_ROOT "%s%s", name[0] ? "/" : "", name);
  if (v2 && name[0] == '\0')
    a->seen_v2_root = true;
  return 0;
}

static int detect(struct cgroup *cg, struct berth_err **err)
{
  struct statfs sf;
  if (statfs(CGROUP_ROOT, &sf) < 0)
    return berth_err_sys(err, "cgroup: statfs " CGROUP_ROOT);
  struct detect_arg a = {cg, false};
  if (cgroup_foreach_hierarchy(detect_one, &a, err) < 0)
    return -1;
  if (sf.f_type == CGROUP2_SUPER_MAGIC)
    cg->layout = CGROUP_LAYOUT_V2;
  else
    cg->layout = cgroup_find(cg, "", true) ? CGROUP_LAYOUT_HYBRID : CGROUP_LAYOUT_V1;
  if (cg->n == 0)
    return berth_err_set(err, ENOENT, "cgroup: no cgroup hierarchy is mounted below " CGROUP_ROOT);
  return 0;
}

struct cgroup_dir *cgroup_find(const struct cgroup *cg, const char *controller, bool v2)
{
  for (size_t i = 0; i < cg->n; i++) {
    struct cgroup_dir *d = (struct cgroup_dir *)&cg->h[i];
    if (d->v2 != v2)
      continue;
    if (v2 || cgroup_controllers_have(d->controllers, controller))
      return d;
  }
  return NULL;
}

bool cgroup_controllers_have(const char *list, const char *controller)
{
  /* list is "cpu" or "cpu,cpuacct": match a whole word. */
  size_t l = strlen(controller);
  for (const char *p = list; (p = strstr(p, controller)) != NULL; p += l)
    if ((p == list || p[-1] == ',') && (p[l] == '\0' || p[l] == ','))
      return true;
  return false;
}

/* ---- placement ---- */

static int pids_collect(const char *dir, pid_t **pids, size_t *n, size_t *cap);

static int path_check(const char *p, struct berth_err **err)
{
  if (strchr(p, ':'))
    return berth_err_set(err, 0,
                         "linux.cgroupsPath: \"%s\": systemd-style paths (slice:prefix:name) "
                         "are not supported; use a path",
                         p);
  if (path_has_dotdot(p))
    return berth_err_set(err, 0, "linux.cgroupsPath: \"%s\" must not contain \"..\"", p);
  return 0;
}

/* Directory of the container in hierarchy d; d->base is set too. */
static char *container_dir(struct cgroup_dir *d, const char *self_cgroup, const char *id,
                           const char *cgroups_path)
{
  if (cgroups_path && cgroups_path[0] == '/') {
    d->base = xstrdup(d->mountpoint);
    return xasprintf("%s%s", d->mountpoint, cgroups_path);
  }
  char *own = own_cgroup_path(self_cgroup, d->controllers, d->v2);
  const char *base = own && strcmp(own, "/") != 0 ? own : "";
  d->base = xasprintf("%s%s", d->mountpoint, base);
  char *dir = cgroups_path && cgroups_path[0] ? xasprintf("%s/%s", d->base, cgroups_path)
                                              : xasprintf("%s/berth/%s", d->base, id);
  free(own);
  return dir;
}

/* mkdir -p, remembering the first directory we created (to undo); with
 * exclusive, the last level must be new. v1
 * cpuset children start with empty cpus/mems and refuse tasks: copy them
 * down from the parent at every level below the base where they are empty. */
static int mkdir_levels(struct cgroup_dir *d, bool enable_v2, bool exclusive,
                        struct berth_err **err)
{
  char p[4096];
  snprintf(p, sizeof(p), "%s", d->dir);
  size_t blen = strlen(d->base);
  bool cpuset = !d->v2 && cgroup_find_in(d, "cpuset");
  /* v2: a level only offers its children what its parent enabled for it,
   * so enable from our own cgroup (never above it) down to the leaf's parent. */
  enable_v2 = enable_v2 && d->v2;
  if (enable_v2 && cgroup_v2_enable_controllers(d->base, true, err) < 0)
    return -1;
  int retries = 8;
  for (char *s = p + blen + 1;; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    char saved = *s;
    *s = '\0';
    if (mkdir(p, 0755) == 0) {
      if (d->created == NULL)
        d->created = xstrdup(p);
    } else if (errno == ENOENT && retries-- > 0) {
      /* A level found a moment ago is gone: the last container of the
       * shared <own>/berth level was deleted meanwhile. Again from the top. */
      snprintf(p, sizeof(p), "%s", d->dir);
      s = p + blen;
      continue;
    } else if (errno != EEXIST) {
      return berth_err_sys(err, "cgroup: mkdir %s", p);
    } else if (saved == '\0' && exclusive) {
      return berth_err_set(err, EEXIST,
                           "cgroup %s already exists: a container with this ID under another "
                           "--root, or one left behind (rmdir it if it is empty)",
                           p);
    }
    /* Found levels too: one made earlier (by another container of a pod,
     * or by hand) may still have an empty cpuset. Only empty values are
     * filled in; nothing with processes can have one. */
    if (cpuset && cgroup_cpuset_inherit(p, err) < 0)
      return -1;
    if (saved == '\0')
      break;
    if (enable_v2 && cgroup_v2_enable_controllers(p, true, err) < 0)
      return -1;
    *s = saved;
  }
  return 0;
}

static void rmdir_tree(const char *path)
{
  /* Sub-cgroups a workload made are rare: look for them only when asked to. */
  if (rmdir(path) == 0 || (errno != EBUSY && errno != ENOTEMPTY))
    return;
  cleanup_dir DIR *dir = opendir(path);
  struct dirent *de;
  while (dir && (de = readdir(dir)) != NULL) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.')
      continue;
    cleanup_free char *sub = xasprintf("%s/%s", path, de->d_name);
    rmdir_tree(sub);
  }
  rmdir(path);
}

/* Undo mkdir_levels: remove from the leaf up to the first level we made. */
static void undo_levels(const struct cgroup_dir *d)
{
  if (d->created == NULL)
    return;
  cleanup_free char *p = xstrdup(d->dir);
  size_t stop = strlen(d->created);
  while (strlen(p) >= stop) {
    rmdir_tree(p);
    char *slash = strrchr(p, '/');
    if (slash == NULL)
      break;
    *slash = '\0';
  }
}

int cgroup_validate(const char *cgroups_path, const struct cgroup_resources *r,
                    struct berth_err **err)
{
  if (cgroups_path && path_check(cgroups_path, err) < 0)
    return -1;
  struct cgroup *cg = xcalloc(1, sizeof(*cg));
  int ret = detect(cg, err) < 0 || cgroup_check_host(cg, r, err) < 0 ? -1 : 0;
  cgroup_free(cg);
  return ret;
}

/* Each hierarchy costs about 0.15 ms of a container start (mkdir, join,
 * rmdir), but clients rely on the container having its own group in each. */
/* A v1 memory or cpu hierarchy a setting needs. */
static bool accounting_limited(const struct cgroup_dir *d, const struct cgroup_resources *r)
{
  bool mem = r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap ||
             r->has_mem_swappiness || r->disable_oom_killer;
  bool cpu = r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period || r->has_cpu_burst ||
             r->has_cpu_idle || r->has_cpu_rt_runtime || r->has_cpu_rt_period;
  return (mem && cgroup_find_in(d, "memory")) || (cpu && cgroup_find_in(d, "cpu"));
}

/* CGROUP_CREATE_NEEDED_ONLY (berth sandbox, which no client inspects):
 * on v1, only the hierarchies berth itself uses (the device list, pids to
 * find every process, freezing to kill them; accounting unless
 * CGROUP_CREATE_NO_ACCOUNTING) and those a setting needs. */
static bool hierarchy_needed_only(const struct cgroup *cg, const struct cgroup_dir *d,
                                  const struct cgroup_resources *r)
{
  if (d->v2)
    return r->n_unified > 0 || (r->n_hugepages > 0 && !cgroup_find(cg, "hugetlb", false));
  static const char *const always[] = {"pids", "freezer", "devices"};
  static const char *const accounting[] = {"memory", "cpu", "cpuacct"};
  for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
    if (cgroup_find_in(d, always[i]))
      return true;
  for (size_t i = 0; i < sizeof(accounting) / sizeof(accounting[0]); i++)
    if (cgroup_find_in(d, accounting[i]))
      return !cg->no_accounting || accounting_limited(d, r);
  if (cgroup_find_in(d, "cpuset"))
    return r->cpus || r->mems;
  if (cgroup_find_in(d, "hugetlb"))
    return r->n_hugepages > 0;
  bool blkio = r->has_blkio_weight || r->has_blkio_leaf_weight || r->n_weight_devices;
  for (int i = 0; i < 4; i++)
    blkio = blkio || r->n_throttle[i];
  return cgroup_find_in(d, "blkio") && blkio;
}

/* Each hierarchy costs about 0.15 ms of a container start (mkdir, join,
 * rmdir), but clients rely on the container having its own group in each. */
static bool hierarchy_needed(const struct cgroup *cg, const struct cgroup_dir *d,
                             const struct cgroup_resources *r)
{
  if (cg->layout == CGROUP_LAYOUT_V2)
    return true;
  if (cg->needed_only)
    return hierarchy_needed_only(cg, d, r);
  /* Every hierarchy, as runc does, the v2 side of a hybrid host included
   * (its controllers are enabled only when a setting needs them): clients
   * (podman, containerd) expect the container in its own group everywhere,
   * not in theirs (a cpuset or blkio group of conmon's, say). */
  return true;
}

/* Creates the directory in hierarchy i (already in cg->h) and applies
 * nothing; undo with undo_levels. */
static int hierarchy_make(struct cgroup *cg, size_t i, const struct cgroup_resources *r,
                          struct berth_err **err)
{
  /* On a hybrid host the v2 mount is a side hierarchy: change its
   * controllers only when the config asks for something only it has. */
  bool enable_v2 = cg->layout == CGROUP_LAYOUT_V2 || r->n_hugepages > 0 || r->n_unified > 0;
  return mkdir_levels(&cg->h[i], enable_v2, cg->exclusive, err);
}

/* Moves h[i] to the planned-for-later list. */
static void hierarchy_defer(struct cgroup *cg, size_t i)
{
  cg->later[cg->n_later++] = cg->h[i];
  memmove(&cg->h[i], &cg->h[i + 1], (cg->n - i - 1) * sizeof(cg->h[0]));
  cg->n--;
}

/* Detects the host and fills cg->h with the container's directory in every
 * hierarchy (nothing is created). */
static int plan(struct cgroup *cg, const char *id, const char *cgroups_path, struct berth_err **err)
{
  cleanup_free char *self = NULL;
  if (detect(cg, err) < 0 ||
      read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &self, NULL, err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n; i++)
    cg->h[i].dir = container_dir(&cg->h[i], self, id, cgroups_path);
  return 0;
}

int cgroup_join_missing(struct cgroup *cg, const struct cgroup_resources *r, struct berth_err **err)
{
  for (size_t i = 0; i < cg->n_later;) {
    struct cgroup_dir *d = &cg->later[i];
    if (!hierarchy_needed(cg, d, r)) {
      i++;
      continue;
    }
    /* Not joined at create: make it and move the container's processes in
     * (a migration costs a grace period; `update` can afford it). */
    if (mkdir_levels(d, cg->layout == CGROUP_LAYOUT_V2 || r->n_hugepages || r->n_unified, false,
                     err) < 0) {
      undo_levels(d);
      return -1;
    }
    pid_t *pids;
    size_t n;
    if (cgroup_pids(cg, &pids, &n, err) < 0)
      return -1;
    char buf[32];
    int ret = 0;
    for (size_t k = 0; k < n && ret == 0; k++) {
      snprintf(buf, sizeof(buf), "%d", pids[k]);
      struct berth_err *e = NULL;
      if (cgroup_write(d, "cgroup.procs", buf, &e) < 0 && e->errnum != ESRCH)
        ret = berth_err_set(err, e->errnum, "%s", e->msg);
      berth_err_free(&e);
    }
    free(pids);
    if (ret < 0) {
      undo_levels(d);
      return -1;
    }
    cg->h[cg->n++] = *d;
    memmove(d, d + 1, (cg->n_later - i - 1) * sizeof(*d));
    cg->n_later--;
  }
  return 0;
}

/* A process born into (or moved into) a frozen cgroup stops at once, in
 * uninterruptible sleep: `run` would hang. The freezer state of a new
 * directory is its parent's, so this also catches a frozen parent. */
static bool dir_frozen(const struct cgroup_dir *d)
{
  char buf[256] = "";
  if (d->v2) {
    cgroup_read(d, "cgroup.events", buf, sizeof(buf));
    const char *f = strstr(buf, "frozen ");
    return (f && f[7] == '1') ||
           (cgroup_read(d, "cgroup.freeze", buf, sizeof(buf)) == 0 && buf[0] == '1');
  }
  if (!cgroup_find_in(d, "freezer") || cgroup_read(d, "freezer.state", buf, sizeof(buf)) < 0)
    return false;
  return buf[0] != '\0' && strncmp(buf, "THAWED", 6) != 0;
}

static int refuse_frozen(const struct cgroup *cg, struct berth_err **err)
{
  for (size_t i = 0; i < cg->n; i++)
    if (dir_frozen(&cg->h[i]))
      return berth_err_set(err, 0,
                           "linux.cgroupsPath: the container's cgroup %s is frozen; thaw it "
                           "or choose another path",
                           cg->h[i].dir);
  return 0;
}

/* A cgroup found with processes in it: they stay, and are none of the
 * container's (kill --all and delete leave them alone, see cgroup_filter). */
static void warn_occupied(const struct cgroup *cg)
{
  for (size_t i = 0; i < cg->n; i++) {
    const struct cgroup_dir *d = &cg->h[i];
    pid_t *pids = NULL;
    size_t n = 0, cap = 0;
    if (d->created == NULL)
      pids_collect(d->dir, &pids, &n, &cap);
    free(pids);
    if (n > 0) {
      berth_warn("linux.cgroupsPath: cgroup %s already holds %zu process%s; %s not part of "
                 "the container and will not be signalled",
                 d->dir, n, n == 1 ? "" : "es", n == 1 ? "it is" : "they are");
      return;
    }
  }
}

/* What mkdir_levels will make of d: the first level missing now (which
 * it will record as made), or NULL when the directory exists (found). */
static void predict_created(struct cgroup_dir *d)
{
  char p[4096];
  snprintf(p, sizeof(p), "%s", d->dir);
  free(d->created);
  d->created = NULL;
  for (char *s = p + strlen(d->base) + 1;; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    char saved = *s;
    *s = '\0';
    if (access(p, F_OK) < 0) {
      d->created = xstrdup(p);
      return;
    }
    if (saved == '\0')
      return;
    *s = saved;
  }
}

int cgroup_plan(const char *id, const char *cgroups_path, const struct cgroup_resources *r,
                unsigned flags, struct cgroup **out, struct berth_err **err)
{
  if (cgroups_path && path_check(cgroups_path, err) < 0)
    return -1;
  struct cgroup *cg = xcalloc(1, sizeof(*cg));
  cg->needed_only = flags & CGROUP_CREATE_NEEDED_ONLY;
  cg->no_accounting = flags & CGROUP_CREATE_NO_ACCOUNTING;
  if (plan(cg, id, cgroups_path, err) < 0 || cgroup_check_host(cg, r, err) < 0) {
    cgroup_free(cg);
    return -1;
  }
  /* berth's own naming (<own>/berth/<id>): a directory already there is
   * another root's container of the same ID, never one to share. */
  cg->exclusive = cgroups_path == NULL || cgroups_path[0] == '\0';
  for (size_t i = 0; i < cg->n;)
    if (hierarchy_needed(cg, &cg->h[i], r))
      i++;
    else
      hierarchy_defer(cg, i);
  for (size_t i = 0; i < cg->n; i++)
    predict_created(&cg->h[i]);
  *out = cg;
  return 0;
}

int cgroup_create(const char *id, const char *cgroups_path, const struct cgroup_resources *r,
                  unsigned flags, struct cgroup **out, struct berth_err **err)
{
  if (cgroup_plan(id, cgroups_path, r, flags, out, err) < 0)
    return -1;
  if (cgroup_make(*out, r, err) == 0)
    return 0;
  cgroup_free(*out);
  *out = NULL;
  return -1;
}

int cgroup_make(struct cgroup *cg, const struct cgroup_resources *r, struct berth_err **err)
{
  for (size_t i = 0; i < cg->n; i++) {
    free(cg->h[i].created);
    cg->h[i].created = NULL;
  }
  size_t made = 0;
  for (; made < cg->n; made++)
    if (hierarchy_make(cg, made, r, err) < 0)
      break;
  if (made == cg->n && refuse_frozen(cg, err) == 0 && cgroup_apply(cg, r, err) == 0) {
    warn_occupied(cg);
    return 0;
  }
  /* The one that failed may have made levels too. */
  for (size_t i = 0; i < cg->n && i <= made; i++)
    undo_levels(&cg->h[i]);
  return -1;
}

int cgroup_open_v2(const struct cgroup *cg, struct berth_err **err)
{
  const struct cgroup_dir *d = cgroup_find(cg, "", true);
  if (d == NULL)
    return -1;
  int fd = open(d->dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "cgroup: open %s", d->dir);
  return fd;
}

int cgroup_enter_self(const struct cgroup *cg, bool skip_v2, struct berth_err **err)
{
  for (size_t i = 0; i < cg->n; i++) {
    if (cg->h[i].v2 && skip_v2)
      continue;
    if (cgroup_write(&cg->h[i], cg->h[i].v2 ? "cgroup.procs" : "tasks", "0", err) < 0)
      return -1;
  }
  return 0;
}

/* ---- freezing ---- */

static const struct cgroup_dir *freezer_dir(const struct cgroup *cg, bool *v2)
{
  const struct cgroup_dir *d = cgroup_find(cg, "freezer", false);
  *v2 = d == NULL;
  return d ? d : cgroup_find(cg, "", true);
}

bool cgroup_is_frozen(const struct cgroup *cg)
{
  bool v2;
  const struct cgroup_dir *d = freezer_dir(cg, &v2);
  if (d == NULL)
    return false;
  char buf[64] = "";
  cgroup_read(d, v2 ? "cgroup.freeze" : "freezer.state", buf, sizeof(buf));
  return v2 ? buf[0] == '1' : strncmp(buf, "FROZEN", 6) == 0;
}

int cgroup_freeze(const struct cgroup *cg, bool freeze, struct berth_err **err)
{
  bool v2;
  const struct cgroup_dir *d = freezer_dir(cg, &v2);
  if (d == NULL)
    return berth_err_set(err, ENOTSUP, "cgroup: no freezer on this host");
  const char *file = v2 ? "cgroup.freeze" : "freezer.state";
  const char *val = v2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED");
  /* v1 passes through FREEZING; v2 reports "frozen 1" in cgroup.events
   * once every task stopped. Wait (bounded) until the kernel says so. */
  for (int tries = 0; tries < 1000; tries++) {
    if (cgroup_write(d, file, val, err) < 0)
      return -1;
    char buf[256] = "";
    if (v2) {
      cgroup_read(d, "cgroup.events", buf, sizeof(buf));
      const char *f = strstr(buf, "frozen ");
      if (f && (f[7] == '1') == freeze)
        return 0;
    } else {
      cgroup_read(d, "freezer.state", buf, sizeof(buf));
      if (strncmp(buf, val, strlen(val)) == 0)
        return 0;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return berth_err_set(err, ETIMEDOUT, "cgroup: %s did not reach %s", d->dir, val);
}

/* ---- processes ---- */

static int pids_collect(const char *dir, pid_t **pids, size_t *n, size_t *cap)
{
  cleanup_free char *path = xasprintf("%s/cgroup.procs", dir);
  cleanup_free char *text = NULL;
  struct berth_err *e = NULL;
  if (read_file_at(AT_FDCWD, path, 1 << 22, &text, NULL, &e) < 0) {
    int errnum = e->errnum;
    berth_err_free(&e);
    errno = errnum;
    return errnum == ENOENT ? 0 : -1;
  }
  char *end;
  for (char *s = text;; s = end) {
    long p = strtol(s, &end, 10);
    if (end == s)
      break;
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      pid_t *np = realloc(*pids, *cap * sizeof(pid_t));
      if (np == NULL)
        abort();
      *pids = np;
    }
    (*pids)[(*n)++] = (pid_t)p;
  }
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.')
      continue;
    cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
    pids_collect(sub, pids, n, cap);
  }
  return 0;
}

/* The hierarchy that sees every process: pids or memory on v1, else v2. */
static const struct cgroup_dir *procs_dir(const struct cgroup *cg)
{
  static const char *const pref[] = {"pids", "memory", "freezer", "cpu"};
  for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
    const struct cgroup_dir *d = cgroup_find(cg, pref[i], false);
    if (d)
      return d;
  }
  return cg->n ? &cg->h[0] : NULL;
}

int cgroup_pids(const struct cgroup *cg, pid_t **pids, size_t *n, struct berth_err **err)
{
  *pids = NULL;
  *n = 0;
  size_t cap = 0;
  const struct cgroup_dir *d = procs_dir(cg);
  if (d && pids_collect(d->dir, pids, n, &cap) < 0)
    return berth_err_sys(err, "cgroup: read %s/cgroup.procs", d->dir);
  return 0;
}

bool cgroup_adopted(const struct cgroup *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->h[i].created == NULL)
      return true;
  return false;
}

/* The cgroup's processes that f accepts (all without f). */
static int member_pids(const struct cgroup *cg, const struct cgroup_filter *f, pid_t **pids,
                       size_t *n, struct berth_err **err)
{
  if (cgroup_pids(cg, pids, n, err) < 0)
    return -1;
  size_t k = 0;
  for (size_t i = 0; i < *n; i++)
    if (f == NULL || f->is_member((*pids)[i], f->arg))
      (*pids)[k++] = (*pids)[i];
  *n = k;
  return 0;
}

int cgroup_signal_all(const struct cgroup *cg, int sig, const struct cgroup_filter *f,
                      struct berth_err **err)
{
  /* v2 kills a whole cgroup, forks racing or not, with one write. */
  const struct cgroup_dir *v2 = cgroup_find(cg, "", true);
  if (f == NULL && sig == SIGKILL && cg->layout == CGROUP_LAYOUT_V2 && v2 &&
      cgroup_write(v2, "cgroup.kill", "1", NULL) == 0)
    return 1;
  pid_t *pids;
  size_t n;
  if (member_pids(cg, f, &pids, &n, err) < 0)
    return -1;
  int sent = 0;
  for (size_t i = 0; i < n; i++)
    if (kill(pids[i], sig) == 0)
      sent++;
  free(pids);
  return sent;
}

/* Every process dies, including ones forking as fast as they can: v2 has
 * cgroup.kill; on v1 freeze first so nothing forks between read and kill.
 * A filtered kill touches only the members (freezing would stop the
 * others too): each round takes the ones forked since. */
static int kill_everything(const struct cgroup *cg, const struct cgroup_filter *f,
                           struct berth_err **err)
{
  const struct cgroup_dir *v2 = cgroup_find(cg, "", true);
  if (f == NULL && cg->layout == CGROUP_LAYOUT_V2 && v2 &&
      cgroup_write(v2, "cgroup.kill", "1", NULL) == 0)
    return 0;
  bool frozen = f == NULL && cgroup_freeze(cg, true, NULL) == 0;
  int r = cgroup_signal_all(cg, SIGKILL, f, err);
  if (frozen)
    cgroup_freeze(cg, false, NULL);
  return r < 0 ? -1 : 0;
}

/* The default placement's shared level, <own>/berth, goes with the last
 * container in it: berth leaves nothing behind in the cgroup it was started
 * in (a scheduler removes a step's cgroup only once it is empty). A create
 * that finds it gone makes it again (mkdir_levels). */
static void shared_level_remove(const struct cgroup_dir *d)
{
  cleanup_free char *shared = xasprintf("%s/berth", d->base);
  size_t l = strlen(shared);
  if (strncmp(d->dir, shared, l) == 0 && d->dir[l] == '/' && !strchr(d->dir + l + 1, '/'))
    rmdir(shared); /* EBUSY while other containers are in it */
}

int cgroup_destroy(const struct cgroup *cg, const struct cgroup_filter *f, struct berth_err **err)
{
  for (int tries = 0; tries < 2000; tries++) {
    pid_t *pids;
    size_t n;
    if (member_pids(cg, f, &pids, &n, err) < 0)
      return -1;
    free(pids);
    if (n == 0)
      break;
    if (kill_everything(cg, f, err) < 0)
      return -1;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  int ret = 0;
  for (size_t i = 0; i < cg->n; i++) {
    if (cg->h[i].created == NULL)
      continue; /* found, not made: not ours to remove */
    rmdir_tree(cg->h[i].dir);
    if (access(cg->h[i].dir, F_OK) == 0 && ret == 0)
      ret = berth_err_sys(err, "cgroup: remove %s", cg->h[i].dir);
    else
      shared_level_remove(&cg->h[i]);
  }
  return ret;
}

/* ---- serialisation (state.json) ---- */

static json_t *dirs_to_json(const struct cgroup_dir *h, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s?}", "controllers",
                                       h[i].controllers, "mountpoint", h[i].mountpoint, "dir",
                                       h[i].dir, "base", h[i].base ? h[i].base : h[i].mountpoint,
                                       "v2", h[i].v2, "created", h[i].created));
  return a;
}

static size_t dirs_from_json(json_t *a, struct cgroup_dir *h)
{
  size_t n = 0;
  size_t i;
  json_t *e;
  json_array_foreach (a, i, e) {
    const char *c = json_string_value(json_object_get(e, "controllers"));
    const char *m = json_string_value(json_object_get(e, "mountpoint"));
    const char *d = json_string_value(json_object_get(e, "dir"));
    const char *b = json_string_value(json_object_get(e, "base"));
    if (!c || !m || !d || n == CGROUP_MAX_HIER)
      continue;
    h[n].controllers = xstrdup(c);
    h[n].mountpoint = xstrdup(m);
    h[n].dir = xstrdup(d);
    h[n].base = xstrdup(b ? b : m);
    /* "created": null (or absent from a later-joined entry's record made
     * before berth kept it) means found; a state.json written before the
     * field existed counts as made, as berth then treated it. */
    json_t *cr = json_object_get(e, "created");
    h[n].created = json_is_string(cr) ? xstrdup(json_string_value(cr))
                   : cr == NULL       ? xstrdup(d)
                                      : NULL;
    h[n++].v2 = json_is_true(json_object_get(e, "v2"));
  }
  return n;
}

json_t *cgroup_to_json(const struct cgroup *cg)
{
  json_t *o = json_object();
  static const char *const names[] = {"v2", "hybrid", "v1"};
  json_object_set_new(o, "layout", json_string(names[cg->layout]));
  json_object_set_new(o, "dirs", dirs_to_json(cg->h, cg->n));
  json_object_set_new(o, "later", dirs_to_json(cg->later, cg->n_later));
  return o;
}

struct cgroup *cgroup_from_json(json_t *o)
{
  if (!json_is_object(o))
    return NULL;
  struct cgroup *cg = xcalloc(1, sizeof(*cg));
  const char *layout = json_string_value(json_object_get(o, "layout"));
  cg->layout = layout && !strcmp(layout, "v2")       ? CGROUP_LAYOUT_V2
               : layout && !strcmp(layout, "hybrid") ? CGROUP_LAYOUT_HYBRID
                                                     : CGROUP_LAYOUT_V1;
  cg->n = dirs_from_json(json_object_get(o, "dirs"), cg->h);
  cg->n_later = dirs_from_json(json_object_get(o, "later"), cg->later);
  return cg;
}

static void dirs_free(struct cgroup_dir *h, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(h[i].controllers);
    free(h[i].mountpoint);
    free(h[i].dir);
    free(h[i].created);
    free(h[i].base);
  }
}

void cgroup_free(struct cgroup *cg)
{
  if (cg == NULL)
    return;
  dirs_free(cg->h, cg->n);
  dirs_free(cg->later, cg->n_later);
  free(cg);
}
