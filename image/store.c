/* The blob store: ROOT/blobs/sha256/<hex>, each file's content hashing to
 * its name. Downloads land in ROOT/blobs/partial/<hex> and are renamed into
 * place only once their size and sha256 match; a per-blob lock file
 * (partial/<hex>.lock, flock) serialises fetches of the same blob across
 * processes.
 *
 * Every digest is checked (sha256:<64 lowercase hex>) before it becomes a
 * file name, and every open below ROOT is an openat on a directory fd with
 * O_NOFOLLOW: a symlink planted in the store is refused, never followed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

/* 1 when the blob is in place with the expected size, 0 when absent. */
static int blob_present(int sha, const char *digest, int64_t size, struct berth_err **err)
{
  struct stat st;
  if (fstatat(sha, digest + 7, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : berth_err_sys(err, "store: stat %s", digest);
  if (!S_ISREG(st.st_mode))
    return berth_err_set(err, 0, "store: %s is not a regular file", digest);
  if (st.st_size != size)
    return berth_err_set(err, 0, "store: %s has %lld bytes where %lld are expected", digest,
                         (long long)st.st_size, (long long)size);
  return 1;
}

static void lock_name(const char *digest, char name[80])
{
  snprintf(name, 80, "%s.lock", digest + 7);
}

/* Locks partial/<hex>.lock. The holder unlinks it when done, so a waiter
 * may wake up holding a lock on a file no longer there: it checks that
 * the name still leads to the file it locked, and tries again if not. */
static int lock_blob(int partial, const char *digest, struct berth_err **err)
{
  char name[80];
  lock_name(digest, name);
  for (;;) {
    cleanup_close int fd = openat(partial, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
      return berth_err_sys(err, "store: open lock %s", name);
    while (flock(fd, LOCK_EX) < 0)
      if (errno != EINTR)
        return berth_err_sys(err, "store: lock %s", name);
    struct stat locked, named;
    if (fstat(fd, &locked) < 0)
      return berth_err_sys(err, "store: stat lock %s", name);
    if (fstatat(partial, name, &named, AT_SYMLINK_NOFOLLOW) == 0 && named.st_dev == locked.st_dev &&
        named.st_ino == locked.st_ino)
      return steal_fd(&fd);
  }
}

/* Unlinks the lock file while still holding it (then closes it). */
static void unlock_blob(int partial, const char *digest, int fd)
{
  char name[80];
  lock_name(digest, name);
  unlinkat(partial, name, 0);
  close(fd);
}

/* Feeds bytes [from, to) of fd to d. */
static int hash_range(int fd, off_t from, off_t to, struct digester *d, struct berth_err **err)
{
  char buf[65536];
  while (from < to) {
    size_t want = (size_t)(to - from) < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
    ssize_t n = pread(fd, buf, want, from);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? berth_err_sys(err, "store: read") : berth_err_set(err, 0, "store: short read");
    digester_update(d, buf, (size_t)n);
    from += n;
  }
  return 0;
}

/* Opens (creating) the partial file; returns its fd and length in *have,
 * starting over when it is longer than the blob can be. */
static int partial_open(int partial, const char *hex, int64_t size, off_t *have,
                        struct berth_err **err)
{
  cleanup_close int fd = openat(partial, hex, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return berth_err_sys(err, "store: open partial %s", hex);
  if (!S_ISREG(st.st_mode))
    return berth_err_set(err, 0, "store: partial %s is not a regular file", hex);
  *have = st.st_size;
  if (*have > size) {
    if (ftruncate(fd, 0) < 0)
      return berth_err_sys(err, "store: truncate partial %s", hex);
    *have = 0;
  }
  return steal_fd(&fd);
}

/* The fetched file's length and digest against the expected ones; on a
 * mismatch the partial file goes, so nothing unverified stays. */
static int verify(int partial, int fd, const char *digest, int64_t size, struct digester *d,
                  off_t have, struct berth_err **err)
{
  struct stat st;
  char got[DIGEST_MAX];
  if (fstat(fd, &st) < 0) {
    digester_finish(d, got);
    return berth_err_sys(err, "store: stat partial %s", digest);
  }
  off_t end = st.st_size < size ? st.st_size : size;
  int r = hash_range(fd, have, end, d, err);
  digester_finish(d, got);
  if (r < 0)
    return -1;
  if (st.st_size == size && strcmp(got, digest) == 0)
    return 0;
  unlinkat(partial, digest + 7, 0);
  if (st.st_size != size)
    return berth_err_set(err, 0,
                         "blob %s: got %lld bytes, expected %lld: size mismatch, download removed",
                         digest, (long long)st.st_size, (long long)size);
  return berth_err_set(err, 0, "blob %s: content has digest %s: digest mismatch, download removed",
                       digest, got);
}

/* With the blob's lock held: resume or start the partial file, let the
 * source write the rest, verify, rename into place. */
static int fetch_locked(int sha, int partial, struct image_source *src, const char *digest,
                        int64_t size, struct berth_err **err)
{
  const char *hex = digest + 7;
  off_t have = 0;
  cleanup_close int fd = partial_open(partial, hex, size, &have, err);
  if (fd < 0)
    return -1;
  struct digester *d = digester_new();
  int r = hash_range(fd, 0, have, d, err);
  if (r == 0 && lseek(fd, have, SEEK_SET) < 0)
    r = berth_err_sys(err, "store: seek partial %s", hex);
  if (r == 0 && have < size && src->ops->fetch_blob(src, digest, size, fd, have, err) < 0)
    r = berth_err_wrap(err, "fetch %s", digest);
  if (r < 0) {
    char scratch[DIGEST_MAX];
    digester_finish(d, scratch);
    return -1;
  }
  if (verify(partial, fd, digest, size, d, have, err) < 0)
    return -1;
  if (fchmod(fd, 0444) < 0 || fdatasync(fd) < 0)
    return berth_err_sys(err, "store: sync %s", digest);
  if (renameat(partial, hex, sha, hex) < 0)
    return berth_err_sys(err, "store: rename %s into place", digest);
  fsync(sha);
  return 0;
}

int store_blob_fetch(const char *root, struct image_source *src, const char *digest, int64_t size,
                     struct berth_err **err)
{
  cleanup_close int sha = -1, partial = -1;
  if (digest_check_syntax("blob", digest, err) < 0)
    return -1;
  if (size < 0)
    return berth_err_set(err, 0, "blob %s: negative size", digest);
  if (store_dirs(root, true, &sha, &partial, err) < 0)
    return -1;
  int present = blob_present(sha, digest, size, err);
  if (present != 0)
    return present < 0 ? -1 : 0;
  int lock = lock_blob(partial, digest, err);
  if (lock < 0)
    return -1;
  /* Whoever held the lock before us may have fetched it meanwhile. */
  int r = blob_present(sha, digest, size, err);
  if (r == 0)
    r = fetch_locked(sha, partial, src, digest, size, err);
  unlock_blob(partial, digest, lock);
  return r < 0 ? -1 : 0;
}

int store_blob_put(const char *root, const char *text, size_t len, char digest[DIGEST_MAX],
                   struct berth_err **err)
{
  cleanup_close int sha = -1, partial = -1;
  digest_buf(text, len, digest);
  if (store_dirs(root, true, &sha, &partial, err) < 0)
    return -1;
  int present = blob_present(sha, digest, (int64_t)len, err);
  if (present != 0)
    return present < 0 ? -1 : 0;
  char tmp[96];
  snprintf(tmp, sizeof(tmp), "%s.put.%d", digest + 7, (int)getpid());
  cleanup_close int fd =
      openat(partial, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0)
    return berth_err_sys(err, "store: create %s", tmp);
  if (write_all(fd, text, len) < 0 || fdatasync(fd) < 0 ||
      renameat(partial, tmp, sha, digest + 7) < 0) {
    berth_err_sys(err, "store: put %s", digest);
    unlinkat(partial, tmp, 0);
    return -1;
  }
  return 0;
}
