/* layers_unpack: the layers of an image applied in order onto one
 * directory (bundle create --copy), the next ones decompressed meanwhile.
 *
 * Applying a layer is bound by syscalls in one thread, decompressing it by
 * inflate + sha256 in another (unpack_stream.c); when one of the two
 * finishes its part of a layer early, its CPU would idle until the other
 * catches up. So while layer i is applied, layers i+1 .. i+UNPACK_AHEAD
 * are decompressed into unlinked temporary files (O_TMPFILE: nothing to
 * clean up, even after a crash), and applied from there, strictly in
 * order, when their turn comes. Memory stays bounded (the files are on
 * disk); the disk holds at most UNPACK_AHEAD uncompressed layers. The
 * prefetching threads run under SCHED_IDLE until their layer's turn: they
 * use the CPU time the current layer leaves, and never slow it down. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "unpack.h"

#define UNPACK_AHEAD 2

/* A stream for a layer to come: decompressing into a temporary file in
 * tmp_dirfd. NULL (and no error) when that is not possible here: the
 * layer then streams through the ring when its turn comes. */
static struct tar_stream *prefetch_start(int blob_fd, int tmp_dirfd)
{
  if (tmp_dirfd < 0)
    return NULL;
  int spill = openat(tmp_dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (spill < 0)
    return NULL;
  struct tar_stream *s = NULL;
  struct berth_err *err = NULL;
  if (tar_stream_start(blob_fd, spill, &s, &err) < 0) {
    berth_err_free(&err); /* the ring will say what is wrong with the blob */
    return NULL;
  }
  return s;
}

static void prefetch_ahead(const int *blob_fds, size_t n, size_t cur, int tmp_dirfd,
                           struct tar_stream **streams, bool *tried)
{
  for (size_t j = cur + 1; j < n && j <= cur + UNPACK_AHEAD; j++) {
    if (!tried[j])
      streams[j] = prefetch_start(blob_fds[j], tmp_dirfd);
    tried[j] = true;
  }
}

int layers_unpack(const int *blob_fds, size_t n, int dest_dirfd, int flags, int tmp_dirfd,
                  char (*diff_ids)[DIGEST_MAX], struct unpack_stats *stats, struct berth_err **err)
{
  struct tar_stream **streams = xcalloc(n ? n : 1, sizeof(struct tar_stream *));
  bool *tried = xcalloc(n ? n : 1, sizeof(*tried));
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < n; i++) {
    prefetch_ahead(blob_fds, n, i, tmp_dirfd, streams, tried);
    struct tar_stream *s = streams[i];
    streams[i] = NULL;
    if (s != NULL)
      tar_stream_boost(s);
    else if (tar_stream_start(blob_fds[i], -1, &s, err) < 0)
      ret = -1;
    if (ret == 0)
      ret = layer_unpack_stream(s, dest_dirfd, flags, diff_ids ? diff_ids[i] : NULL,
                                stats ? &stats[i] : NULL, err);
    if (ret < 0)
      berth_err_wrap(err, "layer %zu of %zu", i + 1, n);
  }
  for (size_t i = 0; i < n; i++)
    tar_stream_free(streams[i]); /* stops what was prefetched for nothing */
  free(streams);
  free(tried);
  return ret;
}
