/* Every mount(2) of the linux backend. Runs in the child: inside the new
 * mount namespace, still root, host filesystem visible until pivot_root.
 * Destinations are resolved inside the rootfs with openat2(RESOLVE_IN_ROOT)
 * and mounted through /proc/self/fd/N, so a symlink in the rootfs cannot
 * redirect a mount onto the host (CVE-2021-30465 class). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../cgroup/cgroup.h"
#include "linux.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

enum mk_kind { MK_NONE, MK_DIR, MK_FILE };

static int open_in_root(int rootfd, const char *path, int flags)
{
  struct open_how how = {
      .flags = (unsigned long long)(flags | O_CLOEXEC),
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Opens PATH inside the root as O_PATH, creating what is missing. A
 * dangling symlink on the way is followed the way the kernel would inside
 * the root: its target is created (within the rootfs: RESOLVE_IN_ROOT
 * clamps ".." and absolute links to it), as runc does. */
static int rootfs_open_depth(int rootfd, const char *path, enum mk_kind kind, int depth,
                             struct berth_err **err)
{
  int fd = open_in_root(rootfd, path, O_PATH);
  if (fd >= 0 || errno != ENOENT || kind == MK_NONE) {
    if (fd < 0)
      return berth_err_sys(err, "open %s in rootfs", path);
    return fd;
  }
  if (depth > 40)
    return berth_err_set(err, ELOOP, "open %s in rootfs", path);
  cleanup_free char *p = xstrdup(path);
  char *end = p + strlen(p);
  for (char *s = p + 1; s <= end; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    char saved = *s;
    *s = '\0';
    cleanup_close int cur = open_in_root(rootfd, p, O_PATH);
    if (cur < 0 && errno == ENOENT) {
      char *slash = strrchr(p, '/');
      *slash = '\0';
      cleanup_close int parent = open_in_root(rootfd, p, O_PATH | O_DIRECTORY);
      *slash = '/';
      if (parent < 0)
        return berth_err_sys(err, "open parent of %s in rootfs", p);
      char link[PATH_MAX];
      ssize_t ln = readlinkat(parent, slash + 1, link, sizeof(link) - 1);
      if (ln > 0) {
        /* A dangling symlink: go on from where it points. */
        link[ln] = '\0';
        *slash = '\0';
        cleanup_free char *next =
            link[0] == '/' ? xasprintf("%s%s%s", link, saved ? "/" : "", saved ? s + 1 : "")
                           : xasprintf("%s/%s%s%s", p, link, saved ? "/" : "", saved ? s + 1 : "");
        return rootfs_open_depth(rootfd, next, kind, depth + 1, err);
      }
      int r;
      if (saved == '\0' && kind == MK_FILE) {
        r = openat(parent, slash + 1, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0)
          close(r);
      } else {
        r = mkdirat(parent, slash + 1, 0755);
      }
      if (r < 0)
        return berth_err_sys(err, "create %s in rootfs", p);
    } else if (cur < 0) {
      return berth_err_sys(err, "open %s in rootfs", p);
    }
    *s = saved;
  }
  fd = open_in_root(rootfd, path, O_PATH);
  if (fd < 0)
    return berth_err_sys(err, "open %s in rootfs", path);
  return fd;
}

static int rootfs_open(int rootfd, const char *path, enum mk_kind kind, struct berth_err **err)
{
  return rootfs_open_depth(rootfd, path, kind, 0, err);
}

int rootfs_mkdir(int rootfd, const char *path, struct berth_err **err)
{
  int fd = rootfs_open(rootfd, path, MK_DIR, err);
  if (fd < 0)
    return -1;
  close(fd);
  return 0;
}

static void fd_path(char buf[static 32], int fd)
{
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* Remount a bind mount with extra flags, keeping the per-mount flags it has
 * (the kernel refuses to drop nosuid/nodev/noexec locked by a user ns). */
static int remount_bind(const char *target, unsigned long set, unsigned long clear,
                        const char *what, struct berth_err **err)
{
  struct statvfs sv;
  if (statvfs(target, &sv) < 0)
    return berth_err_sys(err, "statvfs %s", what);
  unsigned long cur = 0;
  static const struct {
    unsigned long st, ms;
  } map[] = {{ST_RDONLY, MS_RDONLY},     {ST_NOSUID, MS_NOSUID},
             {ST_NODEV, MS_NODEV},       {ST_NOEXEC, MS_NOEXEC},
             {ST_NOATIME, MS_NOATIME},   {ST_NODIRATIME, MS_NODIRATIME},
             {ST_RELATIME, MS_RELATIME}, {ST_SYNCHRONOUS, MS_SYNCHRONOUS}};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (sv.f_flag & map[i].st)
      cur |= map[i].ms;
  cur = (cur | set) & ~clear;
  if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | cur, NULL) < 0)
    return berth_err_sys(err, "remount %s", what);
  return 0;
}

/* A recursive copy of the rootfs, read-only all the way down, stacked on
 * it (on "/" too, where no path could name the new mount: its fd does).
 * The config's mounts then go on top of it, writable as they ask. */
static int rootfs_bind_readonly(const struct spec *s, int underfd, struct berth_err **err)
{
  cleanup_close int tree =
      open_tree(underfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
  if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
    return berth_err_sys(err, "bind rootfs %s read-only", s->rootfs);
  if (move_mount(tree, "", underfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return berth_err_sys(err, "attach rootfs %s", s->rootfs);
  return steal_fd(&tree);
}

int rootfs_prepare(const struct spec *s, int parentfd, int underfd, struct berth_err **err)
{
  /* Nothing we mount may propagate back to the host: make the whole tree a
   * slave (or what rootfsPropagation asks for) before touching it. */
  unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : MS_SLAVE | MS_REC;
  if (prop & MS_SHARED)
    prop = MS_SLAVE | MS_REC; /* shared is applied after pivot_root */
  if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
    return berth_err_sys(err, "set propagation of /");
  if (s->root_readonly_recursive)
    return rootfs_bind_readonly(s, underfd, err);
  /* After that nothing is shared, as pivot_root requires; the self-bind
   * stays a slave, so host mounts below the rootfs still reach it. */
  char self[32];
  fd_path(self, underfd);
  if (mount(self, self, NULL, MS_BIND | MS_REC, NULL) < 0)
    return berth_err_sys(err, "bind rootfs %s", s->rootfs);
  /* Looked up again after the self-bind, so it names the new mount. */
  const char *base = strrchr(s->rootfs, '/') + 1;
  int rootfd = openat(parentfd, base, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (rootfd < 0)
    return berth_err_sys(err, "open %s", s->rootfs);
  return rootfd;
}

/* ---- cgroup mounts ---- */

/* The container init is single-threaded: a flag for the cgroup mounts. */
static bool cgroup_ns_in_use;

/* procfs and sysfs instances berth mounted, by destination: their mount
 * fds find the masked and read-only paths below them. */
static struct {
  char dest[64];
  int fd;
} special[4];
static size_t n_special;

static int procfs_context = -1;
static bool procfs_context_given;

void mounts_use_procfs_context(int fd)
{
  procfs_context = fd;
  procfs_context_given = fd >= 0;
}

/* A fresh fs context for m: the procfs one given (once), else our own. */
static int special_context(const struct spec_mount *m, struct berth_err **err)
{
  if (!procfs_context_given || strcmp(m->type, "proc") != 0)
    return fsopen(m->type, FSOPEN_CLOEXEC);
  if (procfs_context < 0)
    return berth_err_set(err, 0, "mount %s: one procfs mount only when joining a pid namespace",
                         m->destination);
  int fd = procfs_context;
  procfs_context = -1;
  return fd;
}

/* A new procfs or sysfs, detached, then attached on target by fd. */
static int special_mount(const struct spec_mount *m, int target, struct berth_err **err)
{
  cleanup_close int fs = special_context(m, err);
  if (fs < 0 && *err)
    return -1;
  if (fs < 0)
    return berth_err_sys(err, "fsopen %s", m->type);
  cleanup_free char *data = m->data ? xstrdup(m->data) : NULL;
  char *save = NULL;
  for (char *o = data ? strtok_r(data, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(o, '=');
    if (eq)
      *eq = '\0';
    if (fsconfig(fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, o, eq ? eq + 1 : NULL, 0) < 0)
      return berth_err_sys(err, "mount %s: option %s", m->destination, o);
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return berth_err_sys(err, "mount %s on %s", m->type, m->destination);
  unsigned attr = (m->flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
                  (m->flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
                  (m->flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
                  (m->flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
  int mfd = fsmount(fs, FSMOUNT_CLOEXEC, attr);
  if (mfd < 0 ||
      move_mount(mfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
    berth_err_sys(err, "mount %s on %s", m->type, m->destination);
    if (mfd >= 0)
      close(mfd);
    return -1;
  }
  if (n_special < sizeof(special) / sizeof(special[0]) &&
      strlen(m->destination) < sizeof(special[0].dest)) {
    snprintf(special[n_special].dest, sizeof(special[0].dest), "%s", m->destination);
    special[n_special++].fd = mfd;
  } else {
    close(mfd);
  }
  return 0;
}

struct cg_mount_arg {
  int dirfd;
  unsigned long flags;
  bool own; /* no cgroup namespace: bind our own groups, not whole trees */
  struct berth_err **err;
};

/* Without a cgroup namespace (as podman runs on v1), a cgroup mount would
 * show the host's whole tree: like runc, each hierarchy's entry is instead
 * a bind of the group the init is in there (it joined them all already). */
static char *self_cgroup_path(const char *opts, bool v2)
{
  cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  cleanup_free char *want = xasprintf(",%s,", opts);
  while (f && getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL)
      continue;
    *c2 = '\0';
    const char *ctrls = c1 + 1, *path = c2 + 1;
    if (v2 != (ctrls[0] == '\0'))
      continue;
    bool all = true;
    cleanup_free char *copy = xstrdup(ctrls);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && all; t = strtok_r(NULL, ",", &save)) {
      cleanup_free char *tok = xasprintf(",%s,", t);
      all = strstr(want, tok) != NULL;
    }
    if (all)
      return xstrdup(path);
  }
  return NULL;
}

static int cgroup_mount_one(void *arg, const char *name, const char *opts, const char *fstype)
{
  struct cg_mount_arg *a = arg;
  if (name[0] == '\0')
    return 0; /* a v2 root: handled by the caller */
  /* The hybrid layout's cgroup2 mount (unified): not offered inside, as
   * runc does not (the container's v1 groups are what it is limited by). */
  if (strcmp(fstype, "cgroup2") == 0)
    return 0;
  if (mkdirat(a->dirfd, name, 0755) < 0 && errno != EEXIST)
    return berth_err_sys(a->err, "mkdir cgroup %s", name);
  cleanup_close int fd = openat(a->dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(a->err, "open cgroup %s", name);
  char target[32];
  fd_path(target, fd);
  bool v2 = strcmp(fstype, "cgroup2") == 0;
  cleanup_free char *own = a->own ? self_cgroup_path(opts, v2) : NULL;
  if (own) {
    cleanup_free char *src = xasprintf("/sys/fs/cgroup/%s%s", name, own);
    if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
      return berth_err_sys(a->err, "bind cgroup %s", src);
    /* fd names the directory under the bind: look it up again. */
    cleanup_close int top = openat(a->dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0)
      return berth_err_sys(a->err, "open cgroup %s", name);
    fd_path(target, top);
    return remount_bind(target, a->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), 0, src,
                        a->err);
  }
  if (mount(fstype, target, fstype, a->flags, v2 ? NULL : opts) < 0)
    return berth_err_sys(a->err, "mount cgroup %s (%s)", name, opts);
  return 0;
}

static int mount_cgroup(const struct spec_mount *m, int rootfd, int destfd, struct berth_err **err)
{
  char target[32];
  fd_path(target, destfd);
  struct statfs sf;
  if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
    if (mount("cgroup2", target, "cgroup2", m->flags, NULL) < 0)
      return berth_err_sys(err, "mount cgroup2 on %s", m->destination);
    return 0;
  }
  /* v1 or hybrid: a tmpfs holding one mount per host hierarchy, as the
   * host lays them out (cgroup namespace roots them at our own cgroup). */
  unsigned long tmpfs_flags = (m->flags & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("tmpfs", target, "tmpfs", tmpfs_flags, "mode=755") < 0)
    return berth_err_sys(err, "mount tmpfs on %s", m->destination);
  /* destfd still names the directory under the tmpfs: look it up again. */
  cleanup_close int top = rootfs_open(rootfd, m->destination, MK_NONE, err);
  if (top < 0)
    return -1;
  cleanup_close int dirfd = openat(top, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dirfd < 0)
    return berth_err_sys(err, "open %s", m->destination);
  struct cg_mount_arg a = {dirfd, m->flags, !cgroup_ns_in_use, err};
  if (cgroup_foreach_hierarchy(cgroup_mount_one, &a, err) < 0)
    return berth_err_wrap(err, "mount %s", m->destination);
  /* Keep the host's aliases (cpu -> cpu,cpuacct and the like). */
  cleanup_dir DIR *d = opendir("/sys/fs/cgroup");
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    if (de->d_type != DT_LNK)
      continue;
    char link[256];
    cleanup_free char *p = xasprintf("/sys/fs/cgroup/%s", de->d_name);
    ssize_t n = readlink(p, link, sizeof(link) - 1);
    if (n <= 0 || memchr(link, '/', (size_t)n))
      continue;
    link[n] = '\0';
    if (symlinkat(link, dirfd, de->d_name) < 0 && errno != EEXIST)
      return berth_err_sys(err, "symlink %s/%s", m->destination, de->d_name);
  }
  if (m->flags & MS_RDONLY) {
    char t2[32];
    fd_path(t2, top);
    if (mount(NULL, t2, NULL, MS_REMOUNT | tmpfs_flags | MS_RDONLY, "mode=755") < 0)
      return berth_err_sys(err, "remount %s read-only", m->destination);
  }
  return 0;
}

/* ---- one mount ---- */

/* procfs and sysfs only on a real directory reached without symlinks: an
 * image whose /proc is a symlink would put procfs elsewhere, out from under
 * maskedPaths and readonlyPaths (CVE-2019-16884 / CVE-2019-19921 class). */
/* procfs and sysfs go only on a real directory reached without any
 * symlink; the fd returned is the one mounted on, so no swap can come
 * between the check and the mount. */
static int proc_sys_target_open(int rootfd, const char *dest, struct berth_err **err)
{
  struct open_how how = {
      .flags = O_PATH | O_CLOEXEC,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
  };
  const char *rel = dest;
  while (*rel == '/')
    rel++;
  cleanup_close int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
  struct stat st;
  if (fd < 0 && errno == ELOOP)
    return berth_err_set(err, 0, "mount %s: refusing: the target is reached through a symlink",
                         dest);
  if (fd < 0 || fstat(fd, &st) < 0)
    return berth_err_sys(err, "mount %s", dest);
  if (!S_ISDIR(st.st_mode))
    return berth_err_set(err, 0, "mount %s: refusing: the target is not a directory", dest);
  return steal_fd(&fd);
}

/* Files under /proc a mount may cover (what lxcfs provides), as runc allows. */
static bool proc_mount_allowed(const char *dest)
{
  static const char *const ok[] = {"/proc/cpuinfo", "/proc/diskstats",
                                   "/proc/meminfo", "/proc/stat",
                                   "/proc/swaps",   "/proc/uptime",
                                   "/proc/loadavg", "/proc/slabinfo",
                                   "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    if (strcmp(dest, ok[i]) == 0)
      return true;
  return false;
}

/* Nothing but procfs itself is mounted inside a procfs, however the
 * destination reached it (a symlink to /proc/self, say): a mount there
 * could stand in for /proc/self/fd and catch later masks. */
static int proc_target_refuse(const struct spec_mount *m, int fd, struct berth_err **err)
{
  struct statfs sf;
  if (fstatfs(fd, &sf) < 0)
    return berth_err_sys(err, "mount %s", m->destination);
  if (sf.f_type != PROC_SUPER_MAGIC || proc_mount_allowed(m->destination))
    return 0;
  /* A fresh procfs at /proc over the host's (a rootfs that is the host's
   * root, read-only): procfs where procfs belongs. */
  if (m->type && strcmp(m->type, "proc") == 0 && strcmp(m->destination, "/proc") == 0)
    return 0;
  return berth_err_set(err, 0, "mount %s: refusing: the target is inside /proc", m->destination);
}

/* Bind sources, by mount index (-1: resolve the path at mount time). */
static int *bind_srcs;
static size_t n_bind_srcs;

int mount_sources_open(const struct spec *s, struct berth_err **err)
{
  (void)err;
  bind_srcs = xcalloc(s->n_mounts ? s->n_mounts : 1, sizeof(int));
  n_bind_srcs = s->n_mounts;
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct spec_mount *m = &s->mounts[i];
    /* A source missing now may come from an earlier mount: by path later. */
    bind_srcs[i] = m->bind && !m->idmap ? open(m->source, O_PATH | O_CLOEXEC) : -1;
  }
  return 0;
}

static void mount_sources_close(void)
{
  for (size_t i = 0; i < n_bind_srcs; i++)
    if (bind_srcs[i] >= 0)
      close(bind_srcs[i]);
  free(bind_srcs);
  bind_srcs = NULL;
  n_bind_srcs = 0;
}

/* The mount now on top of m->destination, as an O_PATH fd. */
static int mount_top_open(int rootfd, const struct spec_mount *m, struct berth_err **err)
{
  return rootfs_open(rootfd, m->destination, MK_NONE, err);
}

static int mount_bind(const struct spec_mount *m, int tree, int src, int fd, int rootfd,
                      struct berth_err **err)
{
  char target[32], srcpath[32];
  fd_path(target, fd);
  if (src >= 0)
    fd_path(srcpath, src);
  if (tree >= 0) {
    /* idmapped: the tree the parent made, attached by fd */
    if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
      return berth_err_sys(err, "idmapped bind %s on %s", m->source, m->destination);
  } else if (mount(src >= 0 ? srcpath : m->source, target, NULL, MS_BIND | (m->flags & MS_REC),
                   NULL) < 0) {
    return berth_err_sys(err, "bind %s on %s", m->source, m->destination);
  }
  unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (!extra && !m->clear_flags)
    return 0;
  /* The fd still names the directory under the new mount: reopen. */
  cleanup_close int top = mount_top_open(rootfd, m, err);
  if (top < 0)
    return -1;
  char t2[32];
  fd_path(t2, top);
  return remount_bind(t2, extra, m->clear_flags, m->destination, err);
}

static bool mount_is_tmpfs(const struct spec_mount *m)
{
  return m->type && strcmp(m->type, "tmpfs") == 0;
}

static bool data_has_mode(const char *data)
{
  return data && (strncmp(data, "mode=", 5) == 0 || strstr(data, ",mode=") != NULL);
}

/* A tmpfs (or /dev) is mounted writable first: tmpcopyup fills it, and
 * /dev gets its nodes and submounts; then read-only if asked (/dev only
 * in rootfs_finish, after pivot_root, as runc does). */
static int mount_fs(const struct spec_mount *m, int fd, int rootfd, struct berth_err **err)
{
  char target[32];
  fd_path(target, fd);
  bool dev = strcmp(m->destination, "/dev") == 0;
  unsigned long flags = m->flags & ~MS_REC;
  if (mount_is_tmpfs(m) || dev)
    flags &= ~MS_RDONLY;
  if (mount(m->source ? m->source : m->type, target, m->type, flags, m->data) < 0)
    return berth_err_sys(err, "mount %s on %s", m->type, m->destination);
  if (!(m->tmpcopyup && mount_is_tmpfs(m)) && (flags == (m->flags & ~MS_REC) || dev))
    return 0;
  cleanup_close int top = mount_top_open(rootfd, m, err);
  if (top < 0)
    return -1;
  if (m->tmpcopyup && mount_is_tmpfs(m) &&
      tmpfs_copyup(fd, top, m->destination, data_has_mode(m->data), err) < 0)
    return -1;
  struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
  if ((m->flags & MS_RDONLY) && !dev && mount_setattr(top, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
    return berth_err_sys(err, "mount %s read-only", m->destination);
  return 0;
}

/* rro, rnosuid, ...: over the whole tree now at the destination. */
static int mount_rec_attrs(const struct spec_mount *m, int rootfd, struct berth_err **err)
{
  if (!m->rec_attr_set && !m->rec_attr_clr)
    return 0;
  cleanup_close int top = mount_top_open(rootfd, m, err);
  if (top < 0)
    return -1;
  struct mount_attr a = {.attr_set = m->rec_attr_set, .attr_clr = m->rec_attr_clr};
  if (mount_setattr(top, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
    return berth_err_sys(err, "mount %s: recursive options", m->destination);
  return 0;
}

static int mount_kind(const struct spec_mount *m, int src, enum mk_kind *kind,
                      struct berth_err **err)
{
  *kind = MK_DIR;
  if (!m->bind)
    return 0;
  struct stat st;
  if ((src >= 0 ? fstat(src, &st) : stat(m->source, &st)) < 0)
    return berth_err_sys(err, "mount %s: source %s", m->destination, m->source);
  *kind = S_ISDIR(st.st_mode) ? MK_DIR : MK_FILE;
  return 0;
}

static int mount_one(const struct spec_mount *m, int tree, int src, int rootfd,
                     struct berth_err **err)
{
  enum mk_kind kind;
  if (mount_kind(m, src, &kind, err) < 0)
    return -1;
  cleanup_close int fd = rootfs_open(rootfd, m->destination, kind, err);
  if (fd < 0)
    return berth_err_wrap(err, "mount %s", m->destination);
  bool kernfs = m->type && (strcmp(m->type, "proc") == 0 || strcmp(m->type, "sysfs") == 0);
  if (kernfs) {
    close(fd);
    if ((fd = proc_sys_target_open(rootfd, m->destination, err)) < 0)
      return -1;
  }
  if (proc_target_refuse(m, fd, err) < 0)
    return -1;

  int r;
  if (m->type && strcmp(m->type, "cgroup") == 0)
    r = mount_cgroup(m, rootfd, fd, err);
  else if (m->bind)
    r = mount_bind(m, tree, src, fd, rootfd, err);
  else if (kernfs)
    r = special_mount(m, fd, err);
  else
    r = mount_fs(m, fd, rootfd, err);
  if (r < 0)
    return -1;

  if (m->propagation) {
    cleanup_close int top = mount_top_open(rootfd, m, err);
    if (top < 0)
      return -1;
    char t2[32];
    fd_path(t2, top);
    if (mount(NULL, t2, NULL, m->propagation, NULL) < 0)
      return berth_err_sys(err, "set propagation of %s", m->destination);
  }
  return mount_rec_attrs(m, rootfd, err);
}

int mounts_apply_all(const struct spec *s, const int *trees, int rootfd, struct berth_err **err)
{
  cgroup_ns_in_use = s->ns[NS_CGROUP].enabled;
  int r = 0;
  for (size_t i = 0; i < s->n_mounts && r == 0; i++) {
    int src = i < n_bind_srcs ? bind_srcs[i] : -1;
    r = mount_one(&s->mounts[i], trees ? trees[i] : -1, src, rootfd, err);
  }
  mount_sources_close();
  return r;
}

/* ---- /dev ---- */

static bool dev_is_bind_mounted(const struct spec *s)
{
  for (size_t i = 0; i < s->n_mounts; i++)
    if (strcmp(s->mounts[i].destination, "/dev") == 0 && s->mounts[i].bind)
      return true;
  return false;
}

static bool has_mount_at(const struct spec *s, const char *dest)
{
  for (size_t i = 0; i < s->n_mounts; i++)
    if (strcmp(s->mounts[i].destination, dest) == 0)
      return true;
  return false;
}

static int dev_create(int rootfd, const struct spec_device *d, struct berth_err **err)
{
  cleanup_free char *dir = xstrdup(d->path);
  char *slash = strrchr(dir, '/');
  const char *base = d->path + (slash - dir) + 1;
  *slash = '\0';
  cleanup_close int pfd = rootfs_open(rootfd, dir[0] ? dir : "/", MK_DIR, err);
  if (pfd < 0)
    return berth_err_wrap(err, "device %s", d->path);
  cleanup_close int dfd = openat(pfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0)
    return berth_err_sys(err, "device %s: open parent", d->path);

  mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t perm = d->has_file_mode ? (d->file_mode & 07777) : 0666;
  dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
  if (mknodat(dfd, base, type | perm, dev) < 0) {
    if (errno == EEXIST)
      return 0; /* like runc: a node the rootfs ships is kept */
    if (errno != EPERM)
      return berth_err_sys(err, "mknod %s", d->path);
    /* No CAP_MKNOD (user namespace): bind the host's node instead. */
    int f = openat(dfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0)
      return berth_err_sys(err, "create %s", d->path);
    close(f);
    cleanup_close int tfd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    char target[32];
    fd_path(target, tfd);
    if (tfd < 0 || mount(d->path, target, NULL, MS_BIND, NULL) < 0)
      return berth_err_sys(err, "bind host device %s", d->path);
    return 0;
  }
  if (fchmodat(dfd, base, perm, 0) < 0)
    return berth_err_sys(err, "chmod %s", d->path);
  if (fchownat(dfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_err_sys(err, "chown %s", d->path);
  return 0;
}

int dev_setup(const struct spec *s, int rootfd, struct berth_err **err)
{
  if (dev_is_bind_mounted(s))
    return 0;
  static const struct spec_device defaults[] = {
      {"/dev/null", 'c', 1, 3, 0666, true, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, true, 0, 0},
      {"/dev/full", 'c', 1, 7, 0666, true, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, true, 0, 0},
      {"/dev/urandom", 'c', 1, 9, 0666, true, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, true, 0, 0},
  };
  for (size_t i = 0; i < s->n_devices; i++)
    if (dev_create(rootfd, &s->devices[i], err) < 0)
      return -1;
  for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
    if (dev_create(rootfd, &defaults[i], err) < 0)
      return -1;

  cleanup_close int devp = rootfs_open(rootfd, "/dev", MK_DIR, err);
  if (devp < 0)
    return -1;
  cleanup_close int devfd = openat(devp, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (devfd < 0)
    return berth_err_sys(err, "open /dev in rootfs");
  static const char *const links[][2] = {{"fd", "/proc/self/fd"},
                                         {"stdin", "/proc/self/fd/0"},
                                         {"stdout", "/proc/self/fd/1"},
                                         {"stderr", "/proc/self/fd/2"}};
  for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
    if (symlinkat(links[i][1], devfd, links[i][0]) < 0 && errno != EEXIST)
      return berth_err_sys(err, "symlink /dev/%s", links[i][0]);
  if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", devfd, "core") < 0 &&
      errno != EEXIST)
    return berth_err_sys(err, "symlink /dev/core");
  if (has_mount_at(s, "/dev/pts")) {
    /* The devpts instance's own ptmx, not the host's. */
    if (unlinkat(devfd, "ptmx", 0) < 0 && errno != ENOENT)
      return berth_err_sys(err, "remove /dev/ptmx");
    if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
      return berth_err_sys(err, "symlink /dev/ptmx");
  }
  return 0;
}

/* ---- pivot ---- */

int rootfs_pivot(int rootfd, bool no_pivot, struct berth_err **err)
{
  if (fchdir(rootfd) < 0)
    return berth_err_sys(err, "enter rootfs");
  if (no_pivot) {
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
      return berth_err_sys(err, "move rootfs to /");
    if (chroot(".") < 0)
      return berth_err_sys(err, "chroot");
    if (chdir("/") < 0)
      return berth_err_sys(err, "chdir /");
    return 0;
  }
  cleanup_close int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0)
    return berth_err_sys(err, "open old root");
  /* pivot_root(".", ".") stacks the old root on top of the new one; then
   * we detach it from there without ever naming a path in the rootfs. */
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return berth_err_sys(err, "pivot_root");
  if (fchdir(oldroot) < 0)
    return berth_err_sys(err, "enter old root");
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return berth_err_sys(err, "make old root slave");
  if (umount2(".", MNT_DETACH) < 0)
    return berth_err_sys(err, "detach old root");
  if (chdir("/") < 0)
    return berth_err_sys(err, "chdir /");
  return 0;
}

/* ---- after pivot ---- */

/* The container's /dev/null, if it really is the null device (1:3): an
 * image-controlled /dev/null must not become the mask (CVE-2025-31133). */
static int dev_null_open(int rootfd, struct berth_err **err)
{
  int fd = open_in_root(rootfd, "/dev/null", O_PATH | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    berth_err_sys(err, "maskedPaths: open /dev/null");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
    close(fd);
    return berth_err_set(err, 0,
                         "maskedPaths: refusing: the container's /dev/null is not the "
                         "null device (1:3)");
  }
  return fd;
}

/* Masks and read-only binds are made with the mount API on fds only, never
 * through "/proc/self/fd/N" strings: those would resolve through the
 * container's own /proc, which a swap of its rootfs directory can replace
 * (CVE-2025-52881 class). Paths below a procfs or sysfs that berth mounted
 * are found from that mount's own fd, whatever the rootfs names do. */
static int protected_open(int rootfd, const char *path)
{
  for (size_t i = 0; i < n_special; i++) {
    size_t n = strlen(special[i].dest);
    if (strncmp(path, special[i].dest, n) != 0 || path[n] != '/')
      continue;
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    const char *rel = path + n;
    while (*rel == '/')
      rel++;
    return (int)syscall(SYS_openat2, special[i].fd, rel[0] ? rel : ".", &how, sizeof(how));
  }
  return open_in_root(rootfd, path, O_PATH);
}

static int attach(int tree, int target)
{
  return move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

/* A fresh read-only tmpfs, detached: what masks a directory. */
static int tmpfs_ro_tree(void)
{
  cleanup_close int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return -1;
  return fsmount(fs, FSMOUNT_CLOEXEC,
                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

int paths_mask(char **paths, struct berth_err **err)
{
  cleanup_close int rootfd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  cleanup_close int nullfd = -1;
  for (size_t i = 0; paths && paths[i]; i++) {
    /* A symlink the image put there is followed, inside the root: the
     * protection must land on what the path names, not on the link. */
    cleanup_close int fd = protected_open(rootfd, paths[i]);
    if (fd < 0) {
      if (errno == ENOENT)
        continue;
      return berth_err_sys(err, "mask %s", paths[i]);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
      return berth_err_sys(err, "mask %s", paths[i]);
    if (!S_ISDIR(st.st_mode) && nullfd < 0 && (nullfd = dev_null_open(rootfd, err)) < 0)
      return -1;
    cleanup_close int tree =
        S_ISDIR(st.st_mode)
            ? tmpfs_ro_tree()
            : open_tree(nullfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0 || attach(tree, fd) < 0)
      return berth_err_sys(err, "mask %s", paths[i]);
  }
  return 0;
}

int paths_readonly(char **paths, struct berth_err **err)
{
  cleanup_close int rootfd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  for (size_t i = 0; paths && paths[i]; i++) {
    /* Followed inside the root, as for masks (CVE-2023-27561 class). */
    cleanup_close int fd = protected_open(rootfd, paths[i]);
    if (fd < 0) {
      if (errno == ENOENT)
        continue;
      return berth_err_sys(err, "readonly %s", paths[i]);
    }
    /* A recursive clone of what is there, made read-only (flags only
     * added: those a user namespace locks stay), put back on top. */
    cleanup_close int tree =
        open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                          MOUNT_ATTR_NOEXEC};
    if (tree < 0 ||
        mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 ||
        attach(tree, fd) < 0)
      return berth_err_sys(err, "readonly %s", paths[i]);
  }
  return 0;
}

/* A read-only /dev (not a bind) was mounted writable for its nodes and
 * submounts (/dev/pts, /dev/shm): read-only now, that mount only. */
static int dev_readonly(const struct spec *s, struct berth_err **err)
{
  bool ro = false;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (strcmp(s->mounts[i].destination, "/dev") == 0 && !s->mounts[i].bind)
      ro = (s->mounts[i].flags & MS_RDONLY) != 0;
  if (!ro)
    return 0;
  cleanup_close int rootfd = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
  cleanup_close int dev = rootfd < 0 ? -1 : open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
  struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
  if (dev < 0 || mount_setattr(dev, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
    return berth_err_sys(err, "remount /dev read-only");
  return 0;
}

int rootfs_finish(const struct spec *s, struct berth_err **err)
{
  if (dev_readonly(s, err) < 0)
    return -1;
  if (s->root_readonly && remount_bind("/", MS_RDONLY, 0, "/ read-only", err) < 0)
    return -1;
  if (s->rootfs_propagation && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
    return berth_err_sys(err, "set rootfs propagation");
  return 0;
}
