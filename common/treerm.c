#include "treerm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"

#define DIR_OPEN (O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)

static int mnt_id_of(int fd, uint64_t *id)
{
  struct statx sx;
  if (statx(fd, "", AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
    return -1;
  *id = sx.stx_mnt_id;
  return 0;
}

/* Disk space the removal of name frees: a file's only when it is its last link. */
static uint64_t freed_by(int dirfd, const char *name)
{
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
    return 0;
  return (uint64_t)st.st_blocks * 512;
}

static int contents_remove(int dirfd, uint64_t mnt, const char *where, uint64_t *bytes,
                           struct berth_err **err);

/* name, a directory below dirfd on mount mnt: its contents, then itself. */
static int subdir_remove(int dirfd, const char *name, uint64_t mnt, const char *where,
                         uint64_t *bytes, struct berth_err **err)
{
  uint64_t id = 0;
  cleanup_close int sub = openat(dirfd, name, DIR_OPEN);
  if (sub < 0 || mnt_id_of(sub, &id) < 0)
    return berth_err_sys(err, "remove %s/%s", where, name);
  if (id != mnt)
    return berth_err_set(err, 0, "%s/%s is a mount point: unmount it first", where, name);
  cleanup_free char *sub_where = xasprintf("%s/%s", where, name);
  if (contents_remove(sub, mnt, sub_where, bytes, err) < 0)
    return -1;
  uint64_t n = bytes ? freed_by(dirfd, name) : 0;
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return berth_err_sys(err, "remove %s", sub_where);
  if (bytes)
    *bytes += n;
  return 0;
}

static int contents_remove(int dirfd, uint64_t mnt, const char *where, uint64_t *bytes,
                           struct berth_err **err)
{
  cleanup_dir DIR *d = fdopendir(dup(dirfd));
  if (d == NULL)
    return berth_err_sys(err, "read %s", where);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    uint64_t n = bytes && de->d_type != DT_DIR ? freed_by(dirfd, de->d_name) : 0;
    if (unlinkat(dirfd, de->d_name, 0) == 0) {
      if (bytes)
        *bytes += n;
      continue;
    }
    if (errno == ENOENT)
      continue;
    if (errno != EISDIR && errno != EPERM)
      return berth_err_sys(err, "remove %s/%s", where, de->d_name);
    if (subdir_remove(dirfd, de->d_name, mnt, where, bytes, err) < 0)
      return -1;
  }
  return 0;
}

int tree_remove(const char *dir, bool missing_ok, uint64_t *bytes, struct berth_err **err)
{
  cleanup_close int fd = open(dir, DIR_OPEN);
  uint64_t mnt = 0;
  if (fd < 0 && errno == ENOENT && missing_ok)
    return 0;
  if (fd < 0 || mnt_id_of(fd, &mnt) < 0)
    return berth_err_sys(err, "open %s", dir);
  if (contents_remove(fd, mnt, dir, bytes, err) < 0)
    return -1;
  uint64_t n = bytes ? freed_by(AT_FDCWD, dir) : 0;
  if (rmdir(dir) < 0)
    return berth_err_sys(err, "remove %s", dir);
  if (bytes)
    *bytes += n;
  return 0;
}

int bundle_dir_remove(const char *dir, bool missing_ok, struct berth_err **err)
{
  cleanup_free char *rootfs = xasprintf("%s/rootfs", dir);
  /* An ordinary user's bundle is a copy (EPERM: not ours to unmount);
   * anything mounted in it still stops tree_remove. */
  if (umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT &&
      !(errno == EPERM && geteuid() != 0))
    return berth_err_sys(err, "unmount %s", rootfs);
  return tree_remove(dir, missing_ok, NULL, err);
}
