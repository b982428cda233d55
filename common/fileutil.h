/* Small, policy-free file helpers. */
#ifndef BERTH_FILEUTIL_H
#define BERTH_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                 struct berth_err **err);

/* Writes data to dirfd/name through a temporary file and rename(2), so a
 * reader sees either the old or the new contents, never a torn write. */
/* read_file_at for files berth wrote itself (state): no symlink, a regular
 * file owned by our euid that no one else may write. */
int read_file_trusted_at(int dirfd, const char *name, size_t max, char **out,
                         struct berth_err **err);
/* write(2) until all of data is written (EINTR retried); -1 with errno. */
int write_all(int fd, const char *data, size_t len);

int write_file_atomic_at(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                         struct berth_err **err);

/* The same without the fsync: atomic if the process dies, not if the
 * machine does; for files a reboot makes moot anyway (a bundle's
 * config.json beside its overlay mount), where an fsync costs more than
 * the rest of the work (~10 ms on a disk). */
int write_file_replace_at(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                          struct berth_err **err);

/* Writes a short string to an existing file (procfs, sysfs knobs). */
int write_string_at(int dirfd, const char *path, const char *s, struct berth_err **err);

/* mkdir -p with the given mode for the components it creates. */
int mkdir_p(const char *path, mode_t mode, struct berth_err **err);

/* asprintf that aborts on allocation failure (there is no recovery). */
/* Does path p hold a ".." component? */
bool path_has_dotdot(const char *p);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);

#endif
