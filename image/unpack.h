/* Private to image/unpack*.c: the decompressing tar stream (unpack_stream.c)
 * and the in-root path handling (unpack_fs.c) that layer_unpack (unpack.c)
 * is built from. */
#ifndef BERTH_IMAGE_UNPACK_H
#define BERTH_IMAGE_UNPACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

/* ---- unpack_stream.c: blob -> uncompressed tar bytes, in a thread ---- */

/* A layer whose tar stream grows past UNPACK_MIN_LIMIT and past
 * UNPACK_MAX_RATIO times its compressed size is refused (see there). */
#define UNPACK_MIN_LIMIT (1ULL << 30)
#define UNPACK_MAX_RATIO 100

struct tar_stream;
/* Starts decompressing blob_fd (gzip, zstd or none, detected) in a thread:
 * into a ring of chunks the reader takes (spill_fd -1), or appended to
 * spill_fd, a temporary file the stream owns from here on (closed by
 * tar_stream_free, even when this fails), the thread never waiting for
 * the reader. */
int tar_stream_start(int blob_fd, int spill_fd, struct tar_stream **out, struct berth_err **err);
/* The next chunk of the tar stream (valid until the next call): its length,
 * 0 at the end, -1 on error (see tar_stream_error). A libarchive read
 * callback in all but name. */
ssize_t tar_stream_read(struct tar_stream *s, const void **buf);
/* A spill stream's thread runs under SCHED_IDLE (prefetch: it only takes
 * idle CPU time); this gives it normal priority, when its layer's turn
 * comes. */
void tar_stream_boost(struct tar_stream *s);
/* The decompressor's error, or NULL. */
const char *tar_stream_error(struct tar_stream *s);
/* Reads what the tar reader left (padding after the end marker) so the
 * digest covers the whole stream; the diff_id and uncompressed size. */
int tar_stream_finish(struct tar_stream *s, char diff_id[DIGEST_MAX], uint64_t *bytes,
                      struct berth_err **err);
/* Stops the thread (if running) and frees s. */
void tar_stream_free(struct tar_stream *s);

/* ---- unpack.c ---- */

/* layer_unpack on a started stream, which it frees. */
int layer_unpack_stream(struct tar_stream *stream, int dest_dirfd, int flags,
                        char diff_id[DIGEST_MAX], struct unpack_stats *st, struct berth_err **err);

/* ---- unpack_fs.c: paths inside the destination root ---- */

/* Cleans a tar entry name into a path relative to the root, in out (size
 * PATH_MAX): "/" prefixes dropped (absolute names are relative to the root,
 * as umoci takes them), "." and empty components dropped, ".." applied
 * lexically. Returns -1 when ".." would climb above the root or the result
 * does not fit; "" is the root itself. */
int path_clean(const char *in, char *out, size_t size);
/* Splits a cleaned path at its last '/': dir ("" for the root; room for
 * strlen(path) + 1) and name (pointing into path). */
void path_split(const char *path, char *dir, const char **name);

/* Opens the directory `dir` (cleaned, relative) inside root with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): symlinks are followed
 * but can never lead out. With create, missing components are made (0755,
 * like tar); a dangling symlink is not followed into a new directory. With
 * no_symlinks, any symlink on the way is an error (hardlink targets). */
int dir_open_in_root(int rootfd, const char *dir, bool create, bool no_symlinks,
                     struct berth_err **err);
/* openat2 inside root, flags for the final open (O_NOFOLLOW added). */
int open_in_root(int rootfd, const char *path, int flags, struct berth_err **err);
/* Removes dirfd/name and, for a directory, everything below it, never
 * following a symlink. ENOENT is not an error. */
int remove_tree_at(int dirfd, const char *name, struct berth_err **err);

/* A set of cleaned paths: what the current layer has laid down. */
struct pathset {
  char **slot;
  size_t cap, n;
};
void pathset_add(struct pathset *s, const char *path);
bool pathset_has(const struct pathset *s, const char *path);
void pathset_free(struct pathset *s);

/* Removes dirfd/name (path is its cleaned path) unless this layer put it
 * there; recurses into this layer's directories to remove what earlier
 * layers left in them. Whiteouts and opaque markers go through this. */
int remove_lower_at(int dirfd, const char *name, char *path, size_t size,
                    const struct pathset *mine, struct berth_err **err);
/* remove_lower_at for every child of dirfd (path is the directory's). */
int remove_lower_children(int dirfd, char *path, size_t size, const struct pathset *mine,
                          struct berth_err **err);

#endif
