#include "fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "testhook.h"

char *xasprintf(const char *fmt, ...)
{
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0)
    abort();
  return s;
}

char *xstrdup(const char *s)
{
  char *d = strdup(s);
  if (d == NULL)
    abort();
  return d;
}

void *xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL)
    abort();
  return p;
}

static int read_fd(int fd, const char *path, size_t max, char **out, size_t *len,
                   struct berth_err **err);

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                 struct berth_err **err)
{
  cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "open %s", path);
  return read_fd(fd, path, max, out, len, err);
}

int read_file_trusted_at(int dirfd, const char *name, size_t max, char **out,
                         struct berth_err **err)
{
  cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return berth_err_sys(err, "open %s", name);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return berth_err_sys(err, "stat %s", name);
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
    return berth_err_set(err, EPERM,
                         "%s: not a regular file owned by uid %u and writable only by it: "
                         "refusing to trust it",
                         name, (unsigned)geteuid());
  return read_fd(fd, name, max, out, NULL, err);
}

static int read_fd(int fd, const char *path, size_t max, char **out, size_t *len,
                   struct berth_err **err)
{

  size_t cap = 4096, n = 0;
  cleanup_free char *buf = malloc(cap + 1);
  if (buf == NULL)
    abort();
  for (;;) {
    if (n == cap) {
      if (cap >= max)
        return berth_err_set(err, EFBIG, "read %s", path);
      cap *= 2;
      char *nb = realloc(buf, cap + 1);
      if (nb == NULL)
        abort();
      buf = nb;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return berth_err_sys(err, "read %s", path);
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  if (len)
    *len = n;
  *out = steal_ptr(&buf);
  return 0;
}

int write_all(int fd, const char *data, size_t len)
{
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    data += w;
    len -= (size_t)w;
  }
  return 0;
}

static int file_replace_at(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                           bool sync, struct berth_err **err)
{
  cleanup_free char *tmp = xasprintf(".%s.tmp.%d", name, getpid());
  cleanup_close int fd =
      openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return berth_err_sys(err, "create %s", tmp);
  /* fsync before the rename: on a disk-backed --root a crash of the
   * machine then leaves the old file or the new one, never a torn one (a
   * crash of the process alone cannot tear it: rename is atomic). Next to
   * nothing on tmpfs, where /run keeps it by default. */
  if (write_all(fd, data, len) < 0 || (sync && fsync(fd) < 0)) {
    berth_err_sys(err, "write %s", tmp);
    unlinkat(dirfd, tmp, 0);
    return -1;
  }
  TEST_POINT2("write", name);
  if (renameat(dirfd, tmp, dirfd, name) < 0) {
    berth_err_sys(err, "rename %s to %s", tmp, name);
    unlinkat(dirfd, tmp, 0);
    return -1;
  }
  return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                         struct berth_err **err)
{
  return file_replace_at(dirfd, name, data, len, mode, true, err);
}

int write_file_replace_at(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                          struct berth_err **err)
{
  return file_replace_at(dirfd, name, data, len, mode, false, err);
}

int write_string_at(int dirfd, const char *path, const char *s, struct berth_err **err)
{
  cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "open %s", path);
  if (write_all(fd, s, strlen(s)) < 0)
    return berth_err_sys(err, "write %s", path);
  return 0;
}

int mkdir_p(const char *path, mode_t mode, struct berth_err **err)
{
  char p[PATH_MAX];
  if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
    return berth_err_set(err, ENAMETOOLONG, "mkdir %s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, mode) < 0 && errno != EEXIST)
      return berth_err_sys(err, "mkdir %s", p);
    *s = '/';
  }
  if (mkdir(p, mode) < 0 && errno != EEXIST)
    return berth_err_sys(err, "mkdir %s", p);
  return 0;
}

bool path_has_dotdot(const char *p)
{
  for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
    if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
      return true;
  return false;
}
