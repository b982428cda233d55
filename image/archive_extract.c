/* oci-archive: and docker-archive: sources unpack the whole archive into a
 * private temporary directory under the image root (ROOT/tmp/archive-*)
 * and then read it like a directory; the directory goes when the source is
 * closed. Only directories, regular files, symlinks and hardlinks are
 * written, with owner-only permissions, never as another owner; names that
 * are absolute or hold ".." are refused, and nothing is written through a
 * symlink (ARCHIVE_EXTRACT_SECURE_SYMLINKS). Symlinks that the archive
 * holds (docker save links a repeated layer to its first copy) are only
 * ever followed with openat2(RESOLVE_IN_ROOT) by the readers, so they
 * cannot point outside the directory. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

#define EXTRACT_FLAGS (ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT)

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)st;
  (void)type;
  (void)ftw;
  remove(path);
  return 0;
}

void tmpdir_remove(const char *dir)
{
  if (dir != NULL)
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int entry_check(const char *file, const char *name, struct berth_err **err)
{
  if (name == NULL || name[0] == '/' || path_has_dotdot(name))
    return berth_err_set(err, 0, "%s: entry \"%s\" leaves the archive", file,
                         name ? name : "(null)");
  return 0;
}

/* Rewrites the entry's names below dir; 1 = write it, 0 = skip it. */
static int entry_place(const char *file, const char *dir, struct archive_entry *e,
                       struct berth_err **err)
{
  const char *name = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
  mode_t type = archive_entry_filetype(e);
  if (link == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
    return 0;
  if (entry_check(file, name, err) < 0 || (link && entry_check(file, link, err) < 0))
    return -1;
  cleanup_free char *full = xasprintf("%s/%s", dir, name);
  archive_entry_set_pathname(e, full);
  if (link != NULL) {
    cleanup_free char *full_link = xasprintf("%s/%s", dir, link);
    archive_entry_set_hardlink(e, full_link);
  }
  archive_entry_set_perm(e, type == AE_IFDIR ? 0700 : 0600);
  return 1;
}

static int copy_data(struct archive *in, struct archive *out, const char *file,
                     struct berth_err **err)
{
  for (;;) {
    const void *buf;
    size_t n;
    la_int64_t off;
    int r = archive_read_data_block(in, &buf, &n, &off);
    if (r == ARCHIVE_EOF)
      return 0;
    if (r < ARCHIVE_OK)
      return berth_err_set(err, 0, "%s: %s", file, archive_error_string(in));
    if (archive_write_data_block(out, buf, n, off) < ARCHIVE_OK)
      return berth_err_set(err, 0, "%s: write: %s", file, archive_error_string(out));
  }
}

static int extract_all(struct archive *in, struct archive *out, const char *file, const char *dir,
                       struct berth_err **err)
{
  struct archive_entry *e;
  int r;
  while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
    int place = entry_place(file, dir, e, err);
    if (place < 0)
      return -1;
    if (place == 0)
      continue;
    if (archive_write_header(out, e) < ARCHIVE_OK)
      return berth_err_set(err, 0, "%s: %s", file, archive_error_string(out));
    if (archive_entry_size(e) > 0 && copy_data(in, out, file, err) < 0)
      return -1;
    if (archive_write_finish_entry(out) < ARCHIVE_OK)
      return berth_err_set(err, 0, "%s: %s", file, archive_error_string(out));
  }
  if (r != ARCHIVE_EOF)
    return berth_err_set(err, 0, "%s: %s", file, archive_error_string(in));
  return 0;
}

static int extract_into(const char *file, const char *dir, struct berth_err **err)
{
  struct archive *in = archive_read_new(), *out = archive_write_disk_new();
  if (in == NULL || out == NULL)
    abort();
  archive_read_support_format_tar(in);
  archive_read_support_filter_all(in);
  archive_write_disk_set_options(out, EXTRACT_FLAGS);
  int r = 0;
  if (archive_read_open_filename(in, file, 65536) != ARCHIVE_OK)
    r = berth_err_set(err, archive_errno(in), "open %s: %s", file, archive_error_string(in));
  else
    r = extract_all(in, out, file, dir, err);
  archive_read_free(in);
  if (archive_write_free(out) != ARCHIVE_OK && r == 0)
    r = berth_err_set(err, 0, "%s: finishing extraction failed", file);
  return r;
}

int archive_extract_tmp(const char *file, const char *root, char **tmpdir, struct berth_err **err)
{
  cleanup_free char *base = xasprintf("%s/tmp", root);
  if (mkdir_p(base, 0700, err) < 0)
    return -1;
  /* Resolved once: libarchive refuses symlinks anywhere on the path it
   * writes to, the image root's own ancestors included. */
  char real[PATH_MAX];
  if (realpath(base, real) == NULL)
    return berth_err_sys(err, "realpath %s", base);
  cleanup_free char *dir = xasprintf("%s/archive-XXXXXX", real);
  if (mkdtemp(dir) == NULL)
    return berth_err_sys(err, "mkdtemp %s", dir);
  if (extract_into(file, dir, err) < 0) {
    tmpdir_remove(dir);
    return -1;
  }
  *tmpdir = steal_ptr(&dir);
  return 0;
}
