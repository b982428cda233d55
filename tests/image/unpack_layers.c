/* Applies layer blobs in order onto DEST with layers_unpack, as bundle
 * create --copy does: the driver of tests/image/umoci_parity.sh and of the
 * unpack timings (tests/image/unpack_bench.sh, bench/image.sh).
 *
 *   unpack_layers DEST BLOB...
 *
 * The layers after the one being applied are decompressed meanwhile into
 * temporary files in $UNPACK_TMPDIR (default: DEST's parent directory);
 * UNPACK_TMPDIR=none applies them one after the other, each streamed, as
 * before the prefetch. Prints one line per layer: diff_id, entries,
 * uncompressed bytes, what was skipped. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../image/internal.h"

static int tmp_dir_open(const char *dest)
{
  const char *env = getenv("UNPACK_TMPDIR");
  if (env != NULL && strcmp(env, "none") == 0)
    return -1;
  char copy[4096];
  snprintf(copy, sizeof(copy), "%s", dest);
  return open(env ? env : dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: unpack_layers DEST BLOB...\n");
    return 2;
  }
  size_t n = (size_t)argc - 2;
  cleanup_close int destfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int tmpfd = tmp_dir_open(argv[1]);
  int *fds = calloc(n, sizeof(*fds));
  char(*ids)[DIGEST_MAX] = calloc(n, sizeof(*ids));
  struct unpack_stats *st = calloc(n, sizeof(*st));
  if (destfd < 0 || fds == NULL || ids == NULL || st == NULL) {
    perror(argv[1]);
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    if ((fds[i] = open(argv[i + 2], O_RDONLY | O_CLOEXEC)) < 0) {
      perror(argv[i + 2]);
      return 1;
    }
  struct berth_err *err = NULL;
  if (layers_unpack(fds, n, destfd, 0, tmpfd, ids, st, &err) < 0) {
    fprintf(stderr, "unpack_layers: %s\n", err->msg);
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    printf("%s %llu entries %llu bytes (skipped: %llu devices, %llu xattrs)\n", ids[i],
           (unsigned long long)st[i].entries, (unsigned long long)st[i].bytes,
           (unsigned long long)st[i].skipped_devices, (unsigned long long)st[i].skipped_xattrs);
  return 0;
}
