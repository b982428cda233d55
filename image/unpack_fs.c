/* Paths inside the destination of a layer unpack: cleaning tar names,
 * opening directories with openat2(RESOLVE_IN_ROOT) so no symlink (laid down
 * by this layer or an earlier one) can lead a write out of the root, and
 * removing trees by directory fd without ever following a symlink. */
#include "unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"

int path_clean(const char *in, char *out, size_t size)
{
  size_t len = 0;
  for (const char *p = in; *p;) {
    while (*p == '/')
      p++;
    const char *end = strchrnul(p, '/');
    size_t n = (size_t)(end - p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (len == 0) {
        errno = EXDEV;
        return -1;
      }
      char *slash = memrchr(out, '/', len);
      len = slash ? (size_t)(slash - out) : 0;
    } else if (n > 0 && !(n == 1 && p[0] == '.')) {
      if (len + 1 + n + 1 > size) {
        errno = ENAMETOOLONG;
        return -1;
      }
      if (len > 0)
        out[len++] = '/';
      memcpy(out + len, p, n);
      len += n;
    }
    p = end;
  }
  out[len] = '\0';
  return 0;
}

void path_split(const char *path, char *dir, const char **name)
{
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  memcpy(dir, path, n);
  dir[n] = '\0';
  *name = slash ? slash + 1 : path;
}

/* RESOLVE_IN_ROOT treats rootfd as "/" for every absolute symlink and clamps
 * ".." at it; NO_MAGICLINKS keeps /proc-style links (which could name any
 * file on the host) out. EAGAIN means a concurrent rename raced the lookup:
 * the kernel asks for a retry. */
static int openat2_in_root(int rootfd, const char *path, int flags, uint64_t resolve)
{
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve};
  long fd;
  int tries = 0;
  do
    fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
  while (fd < 0 && errno == EAGAIN && ++tries < 100);
  return (int)fd;
}

int open_in_root(int rootfd, const char *path, int flags, struct berth_err **err)
{
  int fd = openat2_in_root(rootfd, path, flags | O_NOFOLLOW, 0);
  if (fd < 0)
    return berth_err_sys(err, "open /%s", path);
  return fd;
}

/* The next component of dir, a directory below cur: opened without
 * following a symlink; a symlink is resolved from the root (in it); a
 * missing one is made unless a dangling symlink stands there. */
static int dir_step(int rootfd, int cur, const char *prefix, const char *name,
                    struct berth_err **err)
{
  int fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  struct stat st;
  if (errno == ENOENT) {
    if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
      return berth_err_sys(err, "mkdir /%s", prefix);
    fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd >= 0 ? fd : berth_err_sys(err, "open /%s", prefix);
  }
  if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
    return berth_err_set(err, ENOTDIR, "/%s", prefix);
  fd = openat2_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
  if (fd < 0 && errno == ENOENT)
    return berth_err_set(err, ENOENT, "/%s is a symlink to nothing: not making its target", prefix);
  return fd >= 0 ? fd : berth_err_sys(err, "open /%s", prefix);
}

static int dir_create_walk(int rootfd, const char *dir, struct berth_err **err)
{
  char prefix[PATH_MAX];
  cleanup_close int cur = openat2_in_root(rootfd, "", O_PATH | O_DIRECTORY, 0);
  if (cur < 0)
    return berth_err_sys(err, "open the root");
  for (const char *p = dir; *p;) {
    const char *end = strchrnul(p, '/');
    size_t n = (size_t)(end - dir);
    memcpy(prefix, dir, n); /* dir is cleaned and shorter than PATH_MAX */
    prefix[n] = '\0';
    int next = dir_step(rootfd, cur, prefix, prefix + (p - dir), err);
    if (next < 0)
      return -1;
    close(cur);
    cur = next;
    p = *end ? end + 1 : end;
  }
  return steal_fd(&cur);
}

int dir_open_in_root(int rootfd, const char *dir, bool create, bool no_symlinks,
                     struct berth_err **err)
{
  int fd =
      openat2_in_root(rootfd, dir, O_PATH | O_DIRECTORY, no_symlinks ? RESOLVE_NO_SYMLINKS : 0);
  if (fd >= 0)
    return fd;
  if (errno == ENOENT && create)
    return dir_create_walk(rootfd, dir, err);
  if (errno == ELOOP && no_symlinks)
    return berth_err_set(err, ELOOP, "/%s goes through a symlink", dir);
  if (errno == ENOSYS) /* no safe fallback without openat2 */
    return berth_err_sys(err, "openat2 (Linux >= 5.6 is needed to unpack safely)");
  return berth_err_sys(err, "open /%s", dir);
}

/* A tree deeper than this is refused rather than removed: each level holds
 * a directory fd and a stack frame, and a layer can build any depth by
 * going through symlinks. */
#define REMOVE_MAX_DEPTH 1024

static int remove_tree_depth(int dirfd, const char *name, int depth, struct berth_err **err);

static int remove_children(DIR *d, int depth, struct berth_err **err)
{
  struct dirent *de;
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (remove_tree_depth(dirfd(d), de->d_name, depth, err) < 0)
      return -1;
  }
  return errno ? berth_err_sys(err, "readdir") : 0;
}

static int remove_tree_depth(int dirfd, const char *name, int depth, struct berth_err **err)
{
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR)
    return berth_err_sys(err, "unlink %s", name);
  if (depth >= REMOVE_MAX_DEPTH)
    return berth_err_set(err, 0, "a directory tree deeper than %d levels", REMOVE_MAX_DEPTH);
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : berth_err_sys(err, "open %s", name);
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return berth_err_sys(err, "fdopendir %s", name);
  }
  int r = remove_children(d, depth + 1, err);
  closedir(d);
  if (r < 0)
    return depth == 0 ? berth_err_wrap(err, "remove %s", name) : -1;
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return berth_err_sys(err, "rmdir %s", name);
  return 0;
}

int remove_tree_at(int dirfd, const char *name, struct berth_err **err)
{
  return remove_tree_depth(dirfd, name, 0, err);
}

/* ---- pathset: open addressing, FNV-1a ---- */

static size_t path_hash(const char *s)
{
  uint64_t h = 14695981039346656037ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)h;
}

static char **pathset_find(char **slot, size_t cap, const char *path)
{
  size_t i = path_hash(path) & (cap - 1);
  while (slot[i] != NULL && strcmp(slot[i], path) != 0)
    i = (i + 1) & (cap - 1);
  return &slot[i];
}

static void pathset_grow(struct pathset *s)
{
  size_t cap = s->cap ? s->cap * 2 : 1024;
  char **slot = xcalloc(cap, sizeof(*slot));
  for (size_t i = 0; i < s->cap; i++)
    if (s->slot[i] != NULL)
      *pathset_find(slot, cap, s->slot[i]) = s->slot[i];
  free(s->slot);
  s->slot = slot;
  s->cap = cap;
}

void pathset_add(struct pathset *s, const char *path)
{
  if ((s->n + 1) * 2 > s->cap)
    pathset_grow(s);
  char **p = pathset_find(s->slot, s->cap, path);
  if (*p == NULL) {
    *p = xstrdup(path);
    s->n++;
  }
}

bool pathset_has(const struct pathset *s, const char *path)
{
  return s->cap > 0 && *pathset_find(s->slot, s->cap, path) != NULL;
}

void pathset_free(struct pathset *s)
{
  for (size_t i = 0; i < s->cap; i++)
    free(s->slot[i]);
  free(s->slot);
  *s = (struct pathset){0};
}

/* ---- removing what earlier layers laid down ---- */

int remove_lower_at(int dirfd, const char *name, char *path, size_t size,
                    const struct pathset *mine, struct berth_err **err)
{
  if (!pathset_has(mine, path))
    return remove_tree_at(dirfd, name, err);
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : berth_err_sys(err, "stat /%s", path);
  if (!S_ISDIR(st.st_mode))
    return 0;
  cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "open /%s", path);
  return remove_lower_children(fd, path, size, mine, err);
}

int remove_lower_children(int dirfd, char *path, size_t size, const struct pathset *mine,
                          struct berth_err **err)
{
  int dup_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0)
    return berth_err_sys(err, "open /%s", path);
  cleanup_dir DIR *d = fdopendir(dup_fd);
  if (d == NULL) {
    close(dup_fd);
    return berth_err_sys(err, "fdopendir /%s", path);
  }
  size_t len = strlen(path);
  struct dirent *de;
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    int n = snprintf(path + len, size - len, "%s%s", len ? "/" : "", de->d_name);
    if (n < 0 || (size_t)n >= size - len) {
      path[len] = '\0';
      return berth_err_set(err, ENAMETOOLONG, "/%s/%s", path, de->d_name);
    }
    int r = remove_lower_at(dirfd, de->d_name, path, size, mine, err);
    path[len] = '\0';
    if (r < 0)
      return -1;
  }
  return errno ? berth_err_sys(err, "readdir /%s", path) : 0;
}
