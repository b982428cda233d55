/* Removing a directory tree that may hold mounts, without ever leaving it:
 * the removal of a container's bundle, of a cached layer. */
#ifndef BERTH_TREERM_H
#define BERTH_TREERM_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Removes dir and everything below it, never crossing into another mount
 * (a bind of a host directory, even of the same filesystem, stops the
 * removal with an error naming it and keeps every file in it) and never
 * following a symlink. A missing dir is an error unless missing_ok.
 * *bytes (when not NULL) grows by the disk space freed (st_blocks of
 * directories and of files' last links). */
int tree_remove(const char *dir, bool missing_ok, uint64_t *bytes, struct berth_err **err);

/* A bundle berth made: DIR/rootfs unmounted first (MNT_DETACH: whatever is
 * mounted inside the rootfs goes with it, never file by file), then
 * tree_remove(DIR). */
int bundle_dir_remove(const char *dir, bool missing_ok, struct berth_err **err);

#endif
