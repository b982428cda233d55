/* Reading the store without changing it: the blob and record paths and
 * opens, shared by berth-image and by berth itself (which makes the
 * overlay bundle of a cached image without starting berth-image, see
 * bundle_overlay.c), so nothing here needs libcurl, libarchive or the
 * EVP layer of libcrypto. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int subdir(int parent, const char *name, bool create, struct berth_err **err)
{
  if (create && mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
    return berth_err_sys(err, "store: mkdir %s", name);
  int fd = openat(parent, name, DIR_FLAGS);
  if (fd < 0)
    return berth_err_sys(err, "store: open %s", name);
  return fd;
}

/* ROOT/blobs/sha256 and ROOT/blobs/partial (the latter only when partial
 * is not NULL), created when create is set. */
int store_dirs(const char *root, bool create, int *sha, int *partial, struct berth_err **err)
{
  if (create && mkdir_p(root, 0700, err) < 0)
    return berth_err_wrap(err, "store");
  cleanup_close int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_err_sys(err, "store: open %s", root);
  cleanup_close int blobs = subdir(rootfd, "blobs", create, err);
  if (blobs < 0)
    return -1;
  *sha = subdir(blobs, "sha256", create, err);
  if (*sha < 0)
    return -1;
  if (partial != NULL && (*partial = subdir(blobs, "partial", create, err)) < 0)
    return -1;
  return 0;
}

int store_blob_open(const char *root, const char *digest, struct berth_err **err)
{
  cleanup_close int sha = -1;
  if (digest_check_syntax("blob", digest, err) < 0 || store_dirs(root, false, &sha, NULL, err) < 0)
    return -1;
  cleanup_close int fd = openat(sha, digest + 7, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return errno == ENOENT ? berth_err_set(err, 0, "blob %s is not in the store", digest)
                           : berth_err_sys(err, "store: open %s", digest);
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
    return berth_err_set(err, 0, "store: %s is not a regular file", digest);
  return steal_fd(&fd);
}

int fd_read_all(int fd, size_t max, char **out, struct berth_err **err)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  return read_file_at(AT_FDCWD, path, max, out, NULL, err);
}

int image_record_path(const char *root, const char *name, char *out, size_t n)
{
  char d[DIGEST_MAX];
  digest_buf(name, strlen(name), d);
  return snprintf(out, n, "%s/images/%s.json", root, d + 7) < (int)n ? 0 : -1;
}
