/* Cache of compiled seccomp programs. Entry file: "BSC1", flags, key
 * length, program length (u32 each), then the key (canonical profile JSON,
 * libseccomp version and native architecture) and the program. The file
 * name is only a hash of the key; the key itself is compared in full, so a
 * collision can never hand out another profile's program. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"
#include "seccomp.h"

#define MAGIC "BSC1"

static char *cache_key(json_t *obj)
{
  char *canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  if (canon == NULL)
    return NULL;
  const struct scmp_version *v = seccomp_version();
  /* Everything that shapes the program: how berth asks (bump "b2" when the
   * compile options change), libseccomp, the architecture, the profile. */
  char *key = xasprintf("b4 libseccomp %u.%u.%u arch %u\n%s", v->major, v->minor, v->micro,
                        seccomp_arch_native(), canon);
  free(canon);
  return key;
}

static uint64_t fnv1a(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The directory, if it is ours alone (owned by us, 0700); else -1. */
static int cache_dir_open(const char *dir, bool create)
{
  if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
    return -1;
  int fd = open(dir, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

static struct seccomp_filter *cache_load(int dirfd, const char *name, const char *key)
{
  cleanup_free char *data = NULL;
  size_t len = 0;
  struct berth_err *e = NULL;
  if (read_file_at(dirfd, name, 8u << 20, &data, &len, &e) < 0) {
    berth_err_free(&e);
    return NULL;
  }
  uint32_t hdr[3];
  size_t klen = strlen(key);
  if (len < 16 || memcmp(data, MAGIC, 4) != 0)
    return NULL;
  memcpy(hdr, data + 4, sizeof(hdr));
  if (hdr[1] != klen || (size_t)16 + klen + hdr[2] != len || hdr[2] == 0 ||
      hdr[2] % sizeof(struct sock_filter) != 0 ||
      hdr[2] / sizeof(struct sock_filter) > BPF_MAXINSNS || memcmp(data + 16, key, klen) != 0)
    return NULL;
  struct seccomp_filter *f = xcalloc(1, sizeof(*f));
  f->flags = hdr[0];
  f->prog.len = (unsigned short)(hdr[2] / sizeof(struct sock_filter));
  f->prog.filter = xcalloc(hdr[2], 1);
  memcpy(f->prog.filter, data + 16 + klen, hdr[2]);
  return f;
}

static void cache_store(int dirfd, const char *name, const char *key,
                        const struct seccomp_filter *f)
{
  size_t klen = strlen(key), plen = f->prog.len * sizeof(struct sock_filter);
  size_t len = 16 + klen + plen;
  cleanup_free char *data = xcalloc(len, 1);
  uint32_t hdr[3] = {f->flags, (uint32_t)klen, (uint32_t)plen};
  /* A binary record, not strings: NUL terminators are not wanted. */
  memcpy(data, MAGIC, 4); // NOLINT(bugprone-not-null-terminated-result)
  memcpy(data + 4, hdr, sizeof(hdr));
  memcpy(data + 16, key, klen); // NOLINT(bugprone-not-null-terminated-result)
  memcpy(data + 16 + klen, f->prog.filter, plen);
  struct berth_err *e = NULL;
  write_file_atomic_at(dirfd, name, data, len, 0600, &e); /* a cache: failure only costs time */
  berth_err_free(&e);
}

int seccomp_compile_cached(json_t *obj, const char *path, const char *cache_dir,
                           struct seccomp_filter **out, struct berth_err **err)
{
  *out = NULL;
  if (obj == NULL || json_is_null(obj) || cache_dir == NULL || !json_is_object(obj))
    return seccomp_compile(obj, path, out, err);
  cleanup_free char *key = cache_key(obj);
  if (key == NULL)
    return seccomp_compile(obj, path, out, err);
  char name[32];
  snprintf(name, sizeof(name), "%016llx.bpf", (unsigned long long)fnv1a(key));
  cleanup_close int dirfd = cache_dir_open(cache_dir, false);
  if (dirfd >= 0 && (*out = cache_load(dirfd, name, key)) != NULL) {
    /* The listener is not part of the program: take it from the profile. */
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s.", path);
    if (seccomp_listener_parse(obj, prefix, *out, err) < 0) {
      seccomp_filter_free(*out);
      *out = NULL;
      return -1;
    }
    return 0;
  }
  if (seccomp_compile(obj, path, out, err) < 0)
    return -1;
  if (dirfd < 0)
    dirfd = cache_dir_open(cache_dir, true);
  if (dirfd >= 0)
    cache_store(dirfd, name, key, *out);
  return 0;
}
