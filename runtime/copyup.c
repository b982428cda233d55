/* tmpcopyup: what the image has at a tmpfs mount's destination is copied
 * into the fresh tmpfs (files, directories, symlinks, device nodes and
 * fifos, with owners, modes, times and xattrs where the tmpfs takes them).
 * Child, inside the new mount namespace, before pivot_root. Everything is
 * reached by fd from the two directories, with O_NOFOLLOW: a symlink in
 * the image is copied as a symlink, never followed out of the rootfs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "linux.h"

#define COPYUP_MAX_DEPTH 128

static int copy_tree(int src, int dst, const char *where, int depth, struct berth_err **err);

/* Extended attributes of one open file, best effort: tmpfs refuses some
 * namespaces (and "security." may be the LSM's to set). */
static void xattrs_copy(int src, int dst)
{
  char names[4096], value[4096];
  ssize_t n = flistxattr(src, names, sizeof(names));
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
    ssize_t v = fgetxattr(src, names + off, value, sizeof(value));
    if (v >= 0)
      fsetxattr(dst, names + off, value, (size_t)v, 0);
  }
}

/* Owner, then mode (chown clears set-id bits), then times. */
static int attrs_copy(int dst, const char *name, const struct stat *st, const char *where,
                      struct berth_err **err)
{
  int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);
  /* EINVAL: an id the container's user namespace does not map. */
  if (fchownat(dst, name, st->st_uid, st->st_gid, flags) < 0 && errno != EINVAL)
    return berth_err_sys(err, "tmpcopyup %s/%s: chown", where, name);
  if (!S_ISLNK(st->st_mode) && fchmodat(dst, name[0] ? name : ".", st->st_mode & 07777, 0) < 0)
    return berth_err_sys(err, "tmpcopyup %s/%s: chmod", where, name);
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (utimensat(dst, name[0] ? name : ".", ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
    return berth_err_sys(err, "tmpcopyup %s/%s: set times", where, name);
  return 0;
}

static int file_copy(int src, int dst, const char *name, const struct stat *st, const char *where,
                     struct berth_err **err)
{
  cleanup_close int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int out =
      openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (in < 0 || out < 0)
    return berth_err_sys(err, "tmpcopyup %s/%s", where, name);
  for (off_t left = st->st_size; left > 0;) {
    ssize_t n = sendfile(out, in, NULL, (size_t)(left > (1 << 30) ? (1 << 30) : left));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return berth_err_sys(err, "tmpcopyup %s/%s: copy", where, name);
    if (n == 0)
      break; /* the file shrank meanwhile */
    left -= n;
  }
  xattrs_copy(in, out);
  return 0;
}

static int dir_copy(int src, int dst, const char *name, const char *where, int depth,
                    struct berth_err **err)
{
  if (mkdirat(dst, name, 0700) < 0)
    return berth_err_sys(err, "tmpcopyup %s/%s: mkdir", where, name);
  cleanup_close int in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0 || out < 0)
    return berth_err_sys(err, "tmpcopyup %s/%s", where, name);
  cleanup_free char *sub = xasprintf("%s/%s", where, name);
  if (copy_tree(in, out, sub, depth + 1, err) < 0)
    return -1;
  xattrs_copy(in, out);
  return 0;
}

static int entry_copy(int src, int dst, const char *name, const char *where, int depth,
                      struct berth_err **err)
{
  struct stat st;
  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_err_sys(err, "tmpcopyup %s/%s", where, name);
  int r = 0;
  if (S_ISDIR(st.st_mode)) {
    r = dir_copy(src, dst, name, where, depth, err);
  } else if (S_ISREG(st.st_mode)) {
    r = file_copy(src, dst, name, &st, where, err);
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
    if (n < 0)
      return berth_err_sys(err, "tmpcopyup %s/%s: readlink", where, name);
    target[n] = '\0';
    if (symlinkat(target, dst, name) < 0)
      return berth_err_sys(err, "tmpcopyup %s/%s: symlink", where, name);
  } else if (S_ISSOCK(st.st_mode)) {
    return 0; /* a socket is nothing without its listener */
  } else if (mknodat(dst, name, st.st_mode & (S_IFMT | 0600), st.st_rdev) < 0) {
    return berth_err_sys(err, "tmpcopyup %s/%s: mknod", where, name);
  }
  if (r < 0)
    return -1;
  return attrs_copy(dst, name, &st, where, err);
}

static int copy_tree(int src, int dst, const char *where, int depth, struct berth_err **err)
{
  if (depth > COPYUP_MAX_DEPTH)
    return berth_err_set(err, ELOOP, "tmpcopyup %s: too deep", where);
  int d = dup(src);
  cleanup_dir DIR *dir = d >= 0 ? fdopendir(d) : NULL;
  if (dir == NULL) {
    if (d >= 0)
      close(d);
    return berth_err_sys(err, "tmpcopyup %s: read directory", where);
  }
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (entry_copy(src, dst, de->d_name, where, depth, err) < 0)
      return -1;
  }
  return 0;
}

int tmpfs_copyup(int under, int top, const char *dest, bool mode_given, struct berth_err **err)
{
  /* under: the image's directory, still reachable below the new tmpfs. */
  cleanup_close int src = openat(under, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int dst = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (src < 0 || dst < 0 || fstat(src, &st) < 0)
    return berth_err_sys(err, "tmpcopyup %s", dest);
  if (copy_tree(src, dst, dest, 0, err) < 0)
    return -1;
  xattrs_copy(src, dst);
  /* The tmpfs's root takes the image directory's owner, mode and times,
   * unless the mount's options give a mode of its own. */
  return mode_given ? 0 : attrs_copy(dst, "", &st, dest, err);
}
