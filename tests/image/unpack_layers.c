/* Applies layer blobs in order onto DEST with layer_unpack, as berth-image
 * will: the driver of tests/image/umoci_parity.sh and of the unpack timing.
 *
 *   unpack_layers DEST BLOB...
 *
 * Prints one line per layer: diff_id, entries, uncompressed bytes, seconds. */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../image/internal.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int apply(int destfd, const char *blob)
{
  struct berth_err *err = NULL;
  struct unpack_stats st;
  char diff_id[DIGEST_MAX];
  cleanup_close int fd = open(blob, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror(blob);
    return -1;
  }
  double t0 = now();
  if (layer_unpack(fd, destfd, 0, diff_id, &st, &err) < 0) {
    fprintf(stderr, "unpack_layers: %s: %s\n", blob, err->msg);
    berth_err_free(&err);
    return -1;
  }
  printf("%s %llu entries %llu bytes %.3f s (skipped: %llu devices, %llu xattrs)\n", diff_id,
         (unsigned long long)st.entries, (unsigned long long)st.bytes, now() - t0,
         (unsigned long long)st.skipped_devices, (unsigned long long)st.skipped_xattrs);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: unpack_layers DEST BLOB...\n");
    return 2;
  }
  cleanup_close int destfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (destfd < 0) {
    perror(argv[1]);
    return 1;
  }
  for (int i = 2; i < argc; i++)
    if (apply(destfd, argv[i]) < 0)
      return 1;
  return 0;
}
