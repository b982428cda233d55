/* layer_unpack: one layer tar applied onto a directory (libarchive).
 *
 * Every entry's parent directory is opened with openat2(RESOLVE_IN_ROOT)
 * (unpack_fs.c) and the last component is created relative to that fd with
 * *at() calls that never follow a symlink, so neither a symlink from an
 * earlier layer nor one from this layer can send a write out of the root.
 * Names are cleaned as umoci does (absolute names are relative to the root)
 * but ".." that would climb above the root is refused rather than clamped.
 *
 * Kept xattrs: user.*, trusted.* and security.capability, except
 * trusted.overlay.* and user.overlay.*: overlayfs reads those as its own
 * metadata (opaque, redirect, metacopy) and these directories may become
 * overlay lower layers. security.selinux/ima/evm belong to the host's
 * policy, not to an image, and system.* (ACLs) is left out; all are skipped
 * silently and counted in skipped_xattrs.
 *
 * UNPACK_ROOTLESS (an ordinary user, no user namespace of its own): what
 * umoci --rootless does. Everything is owned by the user; an entry's owner
 * when not 0:0 is kept in the user.rootlesscontainers xattr (the
 * rootlesscontainers.io protobuf: Resource {uint32 uid = 1; uint32 gid = 2},
 * on files and directories, the only types that can have user.* xattrs);
 * devices are skipped (no CAP_MKNOD); trusted.* and security.capability,
 * which need privileges, are skipped and counted. Directories keep u+rwx,
 * so later entries and layers can be written into and removed from a
 * directory that is read-only in the image: in a rootless container root is
 * the user, so access inside is unchanged. */
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"

#define XATTRS_DEDUP 64

struct dir_time {
  char *path;
  struct timespec ts[2];
};

struct unpacker {
  int rootfd;
  int flags; /* UNPACK_OVERLAY */
  struct archive *tar;
  struct tar_stream *stream;
  struct unpack_stats *st;
  struct pathset mine; /* what this layer laid down: whiteouts spare it */
  struct dir_time *dirs;
  size_t ndirs, dircap;
  int cache_fd; /* the last parent directory opened, cache_dir */
  char cache_dir[PATH_MAX];
};

struct entry {
  struct archive_entry *ae;
  const char *raw;     /* the name in the tar, for messages */
  char path[PATH_MAX]; /* cleaned, relative to the root */
  char dir[PATH_MAX];
  const char *name; /* last component of path */
  int parent;       /* borrowed from the unpacker's cache */
};

/* What metadata is applied to: an open file/directory, else parent/name. */
struct target {
  int fd;
  int parent;
  const char *name;
  bool symlink;
};

static int tar_error(struct unpacker *u, const char *what, struct berth_err **err)
{
  const char *se = tar_stream_error(u->stream);
  if (se != NULL)
    return berth_err_set(err, 0, "%s: %s", what, se);
  const char *te = archive_error_string(u->tar);
  int e = archive_errno(u->tar);
  return berth_err_set(err, e > 0 ? e : 0, "%s: %s", what, te ? te : "unknown libarchive error");
}

/* ---- metadata ---- */

static void entry_times(struct archive_entry *ae, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime(ae);
  ts[1].tv_nsec = archive_entry_mtime_nsec(ae);
  ts[0] = ts[1]; /* no atime in the tar: the mtime, as umoci does */
  if (archive_entry_atime_is_set(ae)) {
    ts[0].tv_sec = archive_entry_atime(ae);
    ts[0].tv_nsec = archive_entry_atime_nsec(ae);
  }
}

/* protobuf varint of field (wire type 0) into p; its length */
static size_t pb_varint(unsigned char *p, unsigned field, uint32_t v)
{
  size_t n = 0;
  p[n++] = (unsigned char)(field << 3);
  do {
    p[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  return n;
}

static int owner_record(struct unpacker *u, const struct target *t, uint32_t uid, uint32_t gid,
                        struct berth_err **err)
{
  unsigned char pb[16];
  size_t n = 0;
  if (uid == 0 && gid == 0) /* the user itself: no xattr, as umoci does */
    return 0;
  if (t->fd < 0) { /* symlinks, fifos: user.* xattrs are refused there */
    u->st->skipped_xattrs++;
    return 0;
  }
  if (uid != 0)
    n += pb_varint(pb + n, 1, uid);
  if (gid != 0)
    n += pb_varint(pb + n, 2, gid);
  if (fsetxattr(t->fd, "user.rootlesscontainers", pb, n, 0) == 0)
    return 0;
  if (errno != ENOTSUP)
    return berth_err_sys(err, "set xattr user.rootlesscontainers");
  u->st->skipped_xattrs++;
  return 0;
}

static int owner_apply(struct unpacker *u, const struct target *t, struct archive_entry *ae,
                       struct berth_err **err)
{
  la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
  if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
    return berth_err_set(err, 0, "owner %lld:%lld out of range", (long long)uid, (long long)gid);
  if (u->flags & UNPACK_ROOTLESS)
    return owner_record(u, t, (uint32_t)uid, (uint32_t)gid, err);
  int r = t->fd >= 0 ? fchown(t->fd, (uid_t)uid, (gid_t)gid)
                     : fchownat(t->parent, t->name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
  return r < 0 ? berth_err_sys(err, "chown %lld:%lld", (long long)uid, (long long)gid) : 0;
}

/* After the chown, which clears setuid/setgid. Without an fd the node was
 * just made by mknodat, so fchmodat cannot follow a symlink there. */
static int mode_apply(struct unpacker *u, const struct target *t, struct archive_entry *ae,
                      struct berth_err **err)
{
  mode_t mode = archive_entry_perm(ae) & 07777;
  if (t->symlink)
    return 0;
  if ((u->flags & UNPACK_ROOTLESS) && archive_entry_filetype(ae) == AE_IFDIR)
    mode |= 0700;
  int r = t->fd >= 0 ? fchmod(t->fd, mode) : fchmodat(t->parent, t->name, mode, 0);
  return r < 0 ? berth_err_sys(err, "chmod %04o", mode) : 0;
}

static bool xattr_kept(const char *name)
{
  if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0)
    return false;
  return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 ||
         strcmp(name, "security.capability") == 0;
}

static int xattr_set(const struct target *t, const char *name, const void *val, size_t size)
{
  if (t->fd >= 0)
    return fsetxattr(t->fd, name, val, size, 0);
  /* No fd for symlinks, fifos and devices (opening those has effects):
   * the trusted parent fd through /proc, the last component not followed. */
  char proc[64 + NAME_MAX];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", t->parent, t->name);
  return lsetxattr(proc, name, val, size, 0);
}

/* libarchive's pax writer records each xattr twice (LIBARCHIVE.xattr and
 * SCHILY.xattr) and its reader returns both. */
static bool xattr_seen(const char **seen, size_t *n, const char *name)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp(seen[i], name) == 0)
      return true;
  if (*n < XATTRS_DEDUP)
    seen[(*n)++] = name;
  return false;
}

static int xattrs_apply(struct unpacker *u, const struct target *t, struct archive_entry *ae,
                        struct berth_err **err)
{
  const char *name, *seen[XATTRS_DEDUP];
  const void *val;
  size_t size, nseen = 0;
  archive_entry_xattr_reset(ae);
  while (archive_entry_xattr_next(ae, &name, &val, &size) == ARCHIVE_OK) {
    if (xattr_seen(seen, &nseen, name))
      continue;
    if (!xattr_kept(name)) {
      u->st->skipped_xattrs++;
      continue;
    }
    if (xattr_set(t, name, val, size) == 0)
      continue;
    /* No user.* on symlinks (the kernel refuses), no trusted.* or
     * security.capability without privileges, or no xattrs on this
     * filesystem: the file is still right without. */
    bool unprivileged = errno == EPERM && (t->symlink || (u->flags & UNPACK_ROOTLESS));
    if (errno != ENOTSUP && !unprivileged)
      return berth_err_sys(err, "set xattr %s", name);
    u->st->skipped_xattrs++;
  }
  return 0;
}

static int dir_time_defer(struct unpacker *u, const char *path, struct archive_entry *ae)
{
  if (u->ndirs == u->dircap) {
    u->dircap = u->dircap ? 2 * u->dircap : 256;
    u->dirs = realloc(u->dirs, u->dircap * sizeof(*u->dirs));
    if (u->dirs == NULL)
      abort(); /* as xcalloc: no recovery from out of memory */
  }
  u->dirs[u->ndirs].path = xstrdup(path);
  entry_times(ae, u->dirs[u->ndirs].ts);
  u->ndirs++;
  return 0;
}

/* Owner, mode, xattrs in that order (a chown clears setuid bits and
 * security.capability), then the times; a directory's times wait until its
 * contents are in (dir_times_apply). */
static int meta_apply(struct unpacker *u, struct entry *e, const struct target *t,
                      struct berth_err **err)
{
  struct timespec ts[2];
  if (owner_apply(u, t, e->ae, err) < 0 || mode_apply(u, t, e->ae, err) < 0 ||
      xattrs_apply(u, t, e->ae, err) < 0)
    return -1;
  if (archive_entry_filetype(e->ae) == AE_IFDIR)
    return dir_time_defer(u, e->path, e->ae);
  entry_times(e->ae, ts);
  int r = t->fd >= 0 ? futimens(t->fd, ts) : utimensat(t->parent, t->name, ts, AT_SYMLINK_NOFOLLOW);
  return r < 0 ? berth_err_sys(err, "set times") : 0;
}

static int dir_times_apply(struct unpacker *u, struct berth_err **err)
{
  for (size_t i = 0; i < u->ndirs; i++) {
    struct berth_err *gone = NULL;
    cleanup_close int fd = open_in_root(u->rootfd, u->dirs[i].path, O_RDONLY | O_DIRECTORY, &gone);
    if (fd < 0) { /* removed or replaced later in the layer */
      berth_err_free(&gone);
      continue;
    }
    if (futimens(fd, u->dirs[i].ts) < 0)
      return berth_err_sys(err, "set times of /%s", u->dirs[i].path);
  }
  return 0;
}

/* ---- entry types ---- */

/* The name is taken by something else: remove it, a whole tree for a
 * directory, as tar does when a file replaces a directory. */
static int name_clear(struct entry *e, struct berth_err **err)
{
  return remove_tree_at(e->parent, e->name, err);
}

static int file_write(struct unpacker *u, struct entry *e, int fd, struct berth_err **err)
{
  const void *buf;
  size_t size;
  la_int64_t off, end = 0;
  int r;
  /* Blocks come with their offset: the holes of a sparse file stay holes. */
  while ((r = archive_read_data_block(u->tar, &buf, &size, &off)) == ARCHIVE_OK) {
    for (size_t done = 0; done < size;) {
      ssize_t n = pwrite(fd, (const char *)buf + done, size - done, off + (off_t)done);
      if (n <= 0 && errno != EINTR)
        return berth_err_set(err, n == 0 ? EIO : errno, "write");
      done += n > 0 ? (size_t)n : 0;
    }
    end = off + (la_int64_t)size;
  }
  if (r != ARCHIVE_EOF)
    return tar_error(u, "read", err);
  if (end < archive_entry_size(e->ae) && ftruncate(fd, archive_entry_size(e->ae)) < 0)
    return berth_err_sys(err, "truncate");
  return 0;
}

static int file_create(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  cleanup_close int fd = openat(e->parent, e->name, flags, 0600);
  if (fd < 0 && errno == EEXIST) {
    if (name_clear(e, err) < 0)
      return -1;
    fd = openat(e->parent, e->name, flags, 0600);
  }
  if (fd < 0)
    return berth_err_sys(err, "create");
  if (file_write(u, e, fd, err) < 0)
    return -1;
  struct target t = {.fd = fd, .parent = e->parent, .name = e->name};
  return meta_apply(u, e, &t, err);
}

/* An existing directory keeps its place (and what earlier layers put in
 * it); anything else there, a symlink to a directory included, goes. */
static int dir_create(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  struct stat st;
  int r = mkdirat(e->parent, e->name, 0700);
  if (r < 0 && errno == EEXIST && fstatat(e->parent, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode))
      r = 0;
    else if (name_clear(e, err) < 0)
      return -1;
    else
      r = mkdirat(e->parent, e->name, 0700);
  }
  if (r < 0)
    return berth_err_sys(err, "mkdir");
  cleanup_close int fd =
      openat(e->parent, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "open");
  struct target t = {.fd = fd, .parent = e->parent, .name = e->name};
  return meta_apply(u, e, &t, err);
}

static int symlink_create(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  const char *to = archive_entry_symlink(e->ae);
  if (to == NULL || *to == '\0')
    return berth_err_set(err, 0, "a symlink without a target");
  int r = symlinkat(to, e->parent, e->name);
  if (r < 0 && errno == EEXIST) {
    if (name_clear(e, err) < 0)
      return -1;
    r = symlinkat(to, e->parent, e->name);
  }
  if (r < 0)
    return berth_err_sys(err, "symlink to %s", to);
  struct target t = {.fd = -1, .parent = e->parent, .name = e->name, .symlink = true};
  return meta_apply(u, e, &t, err);
}

/* Character and block devices need CAP_MKNOD: without it (rootless) they
 * are skipped and counted, as umoci --rootless does. Fifos need nothing. */
static int node_create(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  mode_t type = archive_entry_filetype(e->ae);
  dev_t dev = archive_entry_rdev(e->ae);
  int r = mknodat(e->parent, e->name, type | 0600, dev);
  if (r < 0 && errno == EEXIST) {
    if (name_clear(e, err) < 0)
      return -1;
    r = mknodat(e->parent, e->name, type | 0600, dev);
  }
  if (r < 0 && errno == EPERM && type != AE_IFIFO) {
    u->st->skipped_devices++;
    return 0;
  }
  if (r < 0)
    return berth_err_sys(err, "mknod %u:%u", major(dev), minor(dev));
  struct target t = {.fd = -1, .parent = e->parent, .name = e->name};
  return meta_apply(u, e, &t, err);
}

/* The target must already be in the root (this layer or an earlier one),
 * named by a path that goes through no symlink: a link names an inode, and
 * resolving the target through a symlink is how hardlinks to host files
 * (/etc/shadow) were made in other unpackers. */
static int hardlink_create(struct unpacker *u, struct entry *e, const char *link,
                           struct berth_err **err)
{
  char tpath[PATH_MAX], tdir[PATH_MAX];
  const char *tname;
  if (path_clean(link, tpath, sizeof(tpath)) < 0 || *tpath == '\0')
    return berth_err_set(err, 0, "refusing a hardlink to \"%s\": outside the root", link);
  if (strcmp(tpath, e->path) == 0)
    return 0;
  path_split(tpath, tdir, &tname);
  cleanup_close int tfd = dir_open_in_root(u->rootfd, tdir, false, true, err);
  if (tfd < 0)
    return berth_err_wrap(err, "hardlink target \"%s\"", link);
  int r = linkat(tfd, tname, e->parent, e->name, 0);
  if (r < 0 && errno == EEXIST) {
    if (name_clear(e, err) < 0)
      return -1;
    r = linkat(tfd, tname, e->parent, e->name, 0);
  }
  return r < 0 ? berth_err_sys(err, "hardlink to \"%s\"", link) : 0;
}

/* ---- whiteouts ---- */

/* .wh.NAME removes NAME as earlier layers left it; .wh..wh..opq removes
 * everything earlier layers left in its directory. What this layer lays
 * down stays, whichever comes first in the tar (u->mine). */
/* A layer kept as an overlayfs lower directory of its own keeps its
 * whiteouts in overlayfs's form: a 0:0 character device for a name, the
 * trusted.overlay.opaque xattr for a directory (so it needs root). */
static int whiteout_overlay(struct unpacker *u, struct entry *e, bool opaque,
                            struct berth_err **err)
{
  if (u->cache_fd >= 0)
    close(u->cache_fd);
  u->cache_fd = -1;
  cleanup_close int fd = dir_open_in_root(u->rootfd, e->dir, true, false, err);
  if (fd < 0)
    return -1;
  if (opaque) {
    /* fd is O_PATH, on which fsetxattr fails (EBADF): the directory
     * itself, opened through it. */
    cleanup_close int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
      return berth_err_sys(err, "opaque directory %s", e->dir);
    return 0;
  }
  if (mknodat(fd, e->name + 4, S_IFCHR | 0, makedev(0, 0)) < 0 && errno != EEXIST)
    return berth_err_sys(err, "whiteout %s/%s", e->dir, e->name + 4);
  return 0;
}

static int whiteout_apply(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  const char *victim = e->name + 4;
  bool opaque = strcmp(victim, ".wh..opq") == 0;
  if (!opaque && (*victim == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0))
    return berth_err_set(err, 0, "refusing a whiteout of \"%s\"", victim);
  if (u->flags & UNPACK_OVERLAY)
    return whiteout_overlay(u, e, opaque, err);
  if (u->cache_fd >= 0) /* removals may take the cached directory away */
    close(u->cache_fd);
  u->cache_fd = -1;
  cleanup_close int fd = dir_open_in_root(u->rootfd, e->dir, false, false, err);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
    berth_err_free(err); /* nothing there to hide */
    return 0;
  }
  if (fd < 0)
    return -1;
  char path[PATH_MAX];
  if (opaque) {
    snprintf(path, sizeof(path), "%s", e->dir);
    return remove_lower_children(fd, path, sizeof(path), &u->mine, err);
  }
  if (snprintf(path, sizeof(path), "%s%s%s", e->dir, *e->dir ? "/" : "", victim) >= PATH_MAX)
    return berth_err_set(err, ENAMETOOLONG, "whiteout");
  return remove_lower_at(fd, victim, path, sizeof(path), &u->mine, err);
}

/* ---- entries ---- */

typedef int (*entry_fn)(struct unpacker *, struct entry *, struct berth_err **);

static const struct {
  unsigned int type;
  entry_fn create;
} entry_types[] = {
    {AE_IFREG, file_create}, {AE_IFDIR, dir_create},  {AE_IFLNK, symlink_create},
    {AE_IFCHR, node_create}, {AE_IFBLK, node_create}, {AE_IFIFO, node_create},
};

static entry_fn entry_type_fn(struct archive_entry *ae)
{
  for (size_t i = 0; i < sizeof(entry_types) / sizeof(entry_types[0]); i++)
    if (entry_types[i].type == archive_entry_filetype(ae))
      return entry_types[i].create;
  return NULL;
}

static int parent_get(struct unpacker *u, const char *dir, int *fd, struct berth_err **err)
{
  if (u->cache_fd < 0 || strcmp(u->cache_dir, dir) != 0) {
    if (u->cache_fd >= 0)
      close(u->cache_fd);
    u->cache_fd = dir_open_in_root(u->rootfd, dir, true, false, err);
    if (u->cache_fd < 0)
      return berth_err_wrap(err, "parent directory");
    snprintf(u->cache_dir, sizeof(u->cache_dir), "%s", dir);
  }
  *fd = u->cache_fd;
  return 0;
}

/* The root itself ("./"): its owner, mode, xattrs and times only; never
 * replaced (umoci's CVE-2021-29136: a layer turned the root into a symlink
 * and later entries were written through it). */
static int root_apply(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  if (archive_entry_filetype(e->ae) != AE_IFDIR || archive_entry_hardlink(e->ae) != NULL)
    return berth_err_set(err, 0, "refusing to replace the root with a non-directory");
  cleanup_close int fd = open_in_root(u->rootfd, "", O_RDONLY | O_DIRECTORY, err);
  if (fd < 0)
    return -1;
  struct target t = {.fd = fd, .parent = -1, .name = "."};
  return meta_apply(u, e, &t, err);
}

static bool dir_has_whiteout(const char *dir)
{
  for (const char *p = dir; *p != '\0'; p++)
    if ((p == dir || p[-1] == '/') && strncmp(p, ".wh.", 4) == 0)
      return true;
  return false;
}

static int entry_place(struct unpacker *u, struct entry *e, struct berth_err **err)
{
  if (path_clean(e->raw, e->path, sizeof(e->path)) < 0)
    return berth_err_set(err, 0,
                         errno == EXDEV ? "refused: \"..\" leads out of the root"
                                        : "refused: name too long");
  path_split(e->path, e->dir, &e->name);
  if (dir_has_whiteout(e->dir))
    return berth_err_set(err, 0, "refused: a whiteout (.wh.) as a directory");
  if (strncmp(e->name, ".wh.", 4) == 0)
    return whiteout_apply(u, e, err);
  if (*e->path == '\0')
    return root_apply(u, e, err);
  const char *link = archive_entry_hardlink(e->ae);
  entry_fn create = entry_type_fn(e->ae);
  if (link == NULL && create == NULL)
    return berth_err_set(err, 0, "unsupported entry type 0%o", archive_entry_filetype(e->ae));
  if (parent_get(u, e->dir, &e->parent, err) < 0)
    return -1;
  int r = link ? hardlink_create(u, e, link, err) : create(u, e, err);
  if (r == 0)
    pathset_add(&u->mine, e->path);
  return r;
}

static int entries_apply(struct unpacker *u, struct berth_err **err)
{
  struct archive_entry *ae;
  for (;;) {
    int r = archive_read_next_header(u->tar, &ae);
    if (r == ARCHIVE_EOF)
      return 0;
    /* WARN: a name not in this locale's charset, kept as bytes. RETRY is
     * a damaged header (bad checksum): as fatal as FAILED here. */
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return tar_error(u, "read the next entry", err);
    struct entry e = {.ae = ae, .raw = archive_entry_pathname(ae)};
    if (e.raw == NULL)
      return berth_err_set(err, 0, "layer entry #%llu has no name",
                           (unsigned long long)u->st->entries + 1);
    if (entry_place(u, &e, err) < 0)
      return berth_err_wrap(err, "layer entry \"%s\"", e.raw);
    u->st->entries++;
  }
}

static la_ssize_t tar_read(struct archive *a, void *arg, const void **buf)
{
  struct tar_stream *s = arg;
  ssize_t n = tar_stream_read(s, buf);
  if (n < 0)
    archive_set_error(a, EIO, "%s", tar_stream_error(s));
  return n;
}

/* The tar reader takes the stream as it comes: the formats of the tar
 * family (ustar, pax, GNU, v7) and no decompression filter. */
static int tar_open(struct unpacker *u, struct berth_err **err)
{
  u->tar = archive_read_new();
  if (u->tar == NULL)
    return berth_err_set(err, ENOMEM, "archive_read_new");
  archive_read_support_format_tar(u->tar);
  if (archive_read_open(u->tar, u->stream, NULL, tar_read, NULL) != ARCHIVE_OK)
    return tar_error(u, "read the layer", err);
  return 0;
}

static void unpacker_free(struct unpacker *u)
{
  if (u->tar != NULL)
    archive_read_free(u->tar);
  tar_stream_free(u->stream);
  pathset_free(&u->mine);
  for (size_t i = 0; i < u->ndirs; i++)
    free(u->dirs[i].path);
  free(u->dirs);
  if (u->cache_fd >= 0)
    close(u->cache_fd);
}

int layer_unpack_stream(struct tar_stream *stream, int dest_dirfd, int flags,
                        char diff_id[DIGEST_MAX], struct unpack_stats *st, struct berth_err **err)
{
  struct unpack_stats local = {0};
  struct unpacker u = {.rootfd = dest_dirfd,
                       .flags = flags,
                       .stream = stream,
                       .cache_fd = -1,
                       .st = st ? st : &local};
  *u.st = (struct unpack_stats){0};
  int r = tar_open(&u, err);
  if (r == 0)
    r = entries_apply(&u, err);
  if (r == 0)
    r = tar_stream_finish(u.stream, diff_id, &u.st->bytes, err);
  if (r == 0)
    r = dir_times_apply(&u, err);
  unpacker_free(&u);
  return r < 0 ? berth_err_wrap(err, "unpack layer") : 0;
}

int layer_unpack(int blob_fd, int dest_dirfd, int flags, char diff_id[DIGEST_MAX],
                 struct unpack_stats *st, struct berth_err **err)
{
  struct tar_stream *stream = NULL;
  if (tar_stream_start(blob_fd, -1, &stream, err) < 0)
    return berth_err_wrap(err, "unpack layer");
  return layer_unpack_stream(stream, dest_dirfd, flags, diff_id, st, err);
}

int layer_diff_id(int blob_fd, char diff_id[DIGEST_MAX], struct berth_err **err)
{
  struct tar_stream *stream = NULL;
  uint64_t bytes = 0;
  int r = tar_stream_start(blob_fd, -1, &stream, err);
  if (r == 0)
    r = tar_stream_finish(stream, diff_id, &bytes, err);
  tar_stream_free(stream);
  return r < 0 ? berth_err_wrap(err, "read layer") : 0;
}
