/* layer_unpack tests: layers built in memory with libarchive's writer,
 * unpacked into mkdtemp directories. Each escape attempt must fail with a
 * message naming the entry (or, where RESOLVE_IN_ROOT semantics keep it
 * inside, land inside), and leave the sentinel directory beside the root
 * untouched. Run as root (owners, devices, trusted.* xattrs).
 * Prints "N passed, N failed"; exits non-zero on a failure. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "../../common/cleanup.h"
#include "../../image/internal.h"
#include "../../image/unpack.h"

#include "../unit/check.h"

int unit_passed, unit_failed;

/* ---- building layers ---- */

#define T_LINK 1u /* a hardlink: body is the target */

struct ent {
  const char *path;
  unsigned type; /* AE_IFREG, AE_IFDIR, ... or T_LINK */
  unsigned perm;
  const char *body; /* contents, symlink or hardlink target */
  unsigned uid, gid;
  long mtime;
  unsigned rmajor, rminor;
  const char *xname; /* one xattr */
  const void *xval;
  size_t xlen;
};

enum comp { C_NONE, C_GZIP, C_ZSTD };

static char sentinel[4096]; /* "@S" in a path or body is replaced by it */

static const char *subst(const char *s, char *buf, size_t size)
{
  const char *at = s ? strstr(s, "@S") : NULL;
  if (at == NULL)
    return s;
  snprintf(buf, size, "%.*s%s%s", (int)(at - s), s, sentinel, at + 2);
  return buf;
}

static void ent_fill(struct archive_entry *ae, const struct ent *e)
{
  char b1[8192], b2[8192];
  archive_entry_set_pathname(ae, subst(e->path, b1, sizeof(b1)));
  const char *body = subst(e->body, b2, sizeof(b2));
  archive_entry_set_filetype(ae, e->type == T_LINK ? AE_IFREG : e->type);
  archive_entry_set_perm(ae, e->perm ? e->perm : (e->type == AE_IFDIR ? 0755 : 0644));
  archive_entry_set_uid(ae, e->uid);
  archive_entry_set_gid(ae, e->gid);
  archive_entry_set_mtime(ae, e->mtime ? e->mtime : 1600000000, 0);
  if (e->type == AE_IFLNK)
    archive_entry_set_symlink(ae, body);
  if (e->type == T_LINK)
    archive_entry_set_hardlink(ae, body);
  if (e->type == AE_IFCHR || e->type == AE_IFBLK)
    archive_entry_set_rdev(ae, makedev(e->rmajor, e->rminor));
  if (e->type == AE_IFREG && body)
    archive_entry_set_size(ae, (la_int64_t)strlen(body));
  if (e->xname)
    archive_entry_xattr_add_entry(ae, e->xname, e->xval, e->xlen ? e->xlen : strlen(e->xval));
}

static struct archive *writer_new(enum comp c, int format, int fd)
{
  struct archive *a = archive_write_new();
  if (c == C_GZIP)
    archive_write_add_filter_gzip(a);
  else if (c == C_ZSTD)
    archive_write_add_filter_zstd(a);
  archive_write_set_format(a, format);
  archive_write_open_fd(a, fd);
  return a;
}

/* The layer as a memfd at offset 0; ents ends at a NULL path. */
static int layer_make(enum comp c, int format, const struct ent *ents)
{
  /* The writer in UTF-8 (pax names are UTF-8); layer_unpack runs in the
   * process's C locale, as berth-image would. */
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  locale_t prev = uselocale(utf8);
  int fd = memfd_create("layer", MFD_CLOEXEC);
  struct archive *a = writer_new(c, format, fd);
  for (const struct ent *e = ents; e->path; e++) {
    struct archive_entry *ae = archive_entry_new();
    ent_fill(ae, e);
    if (archive_write_header(a, ae) < ARCHIVE_WARN) /* WARN: a non-UTF-8 name, kept */
      printf("# writer: %s: %s\n", e->path, archive_error_string(a));
    if (e->type == AE_IFREG && e->body)
      archive_write_data(a, e->body, strlen(e->body));
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  lseek(fd, 0, SEEK_SET);
  uselocale(prev);
  freelocale(utf8);
  return fd;
}

/* ---- the fixture: base/root (the destination) and base/sentinel ---- */

struct fx {
  char base[64];
  char root[128];
  int rootfd;
};

static void fx_init(struct fx *f)
{
  snprintf(f->base, sizeof(f->base), "/tmp/unpack-test-XXXXXX");
  if (mkdtemp(f->base) == NULL)
    abort();
  snprintf(f->root, sizeof(f->root), "%s/root", f->base);
  snprintf(sentinel, sizeof(sentinel), "%s/sentinel", f->base);
  mkdir(f->root, 0755);
  mkdir(sentinel, 0750);
  char p[4200];
  snprintf(p, sizeof(p), "%s/file", sentinel);
  FILE *s = fopen(p, "w");
  fputs("sentinel", s);
  fclose(s);
  f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void fx_done(struct fx *f)
{
  char cmd[256];
  close(f->rootfd);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", f->base);
}

static size_t dir_count(const char *path)
{
  cleanup_dir DIR *d = opendir(path);
  size_t n = 0;
  for (struct dirent *de; d && (de = readdir(d));)
    n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  return n;
}

/* base holds root and sentinel only; sentinel holds file, unchanged. */
static bool sentinel_intact(const struct fx *f)
{
  char p[4200], buf[64] = "";
  struct stat st;
  snprintf(p, sizeof(p), "%s/file", sentinel);
  cleanup_close int fd = open(p, O_RDONLY | O_NOFOLLOW);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
  return dir_count(f->base) == 2 && dir_count(sentinel) == 1 && n == 8 &&
         strncmp(buf, "sentinel", 8) == 0 && stat(sentinel, &st) == 0 &&
         (st.st_mode & 07777) == 0750 && st.st_uid == 0;
}

static int unpack(struct fx *f, int blob, char *diff_id, struct unpack_stats *st, char *msg,
                  size_t msgsize)
{
  struct berth_err *err = NULL;
  int r = layer_unpack(blob, f->rootfd, 0, diff_id, st, &err);
  close(blob);
  snprintf(msg, msgsize, "%s", err ? err->msg : "");
  berth_err_free(&err);
  return r;
}

#define MKLAYER(c, fmt, ...) layer_make(c, fmt, (const struct ent[]){__VA_ARGS__, {NULL}})

/* ---- helpers for checks ---- */

static bool at_stat(struct fx *f, const char *path, struct stat *st)
{
  return fstatat(f->rootfd, path, st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool has(struct fx *f, const char *path)
{
  struct stat st;
  return at_stat(f, path, &st);
}

static bool content_is(struct fx *f, const char *path, const char *want)
{
  char buf[256] = "";
  cleanup_close int fd = openat(f->rootfd, path, O_RDONLY | O_NOFOLLOW);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
  return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static bool link_is(struct fx *f, const char *path, const char *want)
{
  char buf[256];
  ssize_t n = readlinkat(f->rootfd, path, buf, sizeof(buf) - 1);
  return n >= 0 && (buf[n] = '\0', strcmp(buf, want) == 0);
}

static ssize_t xattr_get(struct fx *f, const char *path, const char *name, char *buf, size_t size)
{
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", f->root, path);
  return lgetxattr(p, name, buf, size);
}

/* sha256 of the blob decompressed by the tools, for the diff_id. */
static void tool_digest(int fd, const char *tool, char out[DIGEST_MAX])
{
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "%s < /proc/%d/fd/%d | sha256sum", tool, getpid(), fd);
  FILE *p = popen(cmd, "r");
  char hex[65] = "";
  if (fscanf(p, "%64s", hex) != 1)
    hex[0] = '\0';
  pclose(p);
  lseek(fd, 0, SEEK_SET);
  snprintf(out, DIGEST_MAX, "sha256:%s", hex);
}

/* ---- pure: names ---- */

static void test_path_clean(void)
{
  static const struct {
    const char *in, *out; /* out NULL: refused */
  } cases[] = {
      {"a/b", "a/b"},       {"./a//b/", "a/b"}, {"/etc/passwd", "etc/passwd"},
      {"a/../b", "b"},      {".", ""},          {"/", ""},
      {"a/b/../../c", "c"}, {"..", NULL},       {"../x", NULL},
      {"a/../../x", NULL},  {"/../x", NULL},    {"./../sentinel/", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[PATH_MAX];
    int r = path_clean(cases[i].in, out, sizeof(out));
    if (cases[i].out == NULL)
      CHECK(r < 0, "path_clean(%s) accepted as %s", cases[i].in, out);
    else
      CHECK(r == 0 && strcmp(out, cases[i].out) == 0, "path_clean(%s) = %s", cases[i].in,
            r == 0 ? out : "refused");
  }
}

/* ---- every entry type, in one gzip pax layer ---- */

/* security.capability v2: cap_net_raw in permitted, effective flag set */
static const unsigned char cap_net_raw[20] = {0x01, 0, 0, 0x02, 0, 0x20};

static int types_layer(void)
{
  return MKLAYER(
      C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"./", AE_IFDIR, 0751},
      {"etc", AE_IFDIR, 0755, .mtime = 1000000000},
      {"etc/hello", AE_IFREG, 0640, "hello\n", 1000, 1001, 1111111111}, {"bin", AE_IFDIR},
      {"bin/busybox", AE_IFREG, 04755, "#!bb", 0, 0},
      {"bin/sh", AE_IFLNK, 0777, "busybox", 5, 6, 1222222222}, {"bin/ls", T_LINK, 0, "bin/busybox"},
      {"shared", AE_IFDIR, 02775, .gid = 50}, {"tmp", AE_IFDIR, 01777},
      {"run/fifo", AE_IFIFO, 0620}, {"dev/null", AE_IFCHR, 0666, .rmajor = 1, .rminor = 3},
      {"dev/loop0", AE_IFBLK, 0660, .rmajor = 7, .rminor = 0},
      {"etc/user", AE_IFREG, 0644, "x", .xname = "user.color", .xval = "blue"},
      {"bin/ping", AE_IFREG, 0755, "ping", .xname = "security.capability", .xval = cap_net_raw,
       .xlen = 20},
      {"etc/trusted", AE_IFDIR, .xname = "trusted.note", .xval = "t"},
      {"etc/selinux", AE_IFREG, .body = "s", .xname = "security.selinux", .xval = "etc_t"},
      {"etc/ovl", AE_IFDIR, .xname = "trusted.overlay.opaque", .xval = "y"},
      {"café/naïve", AE_IFREG, 0644, "utf8"}, {"latin1-\xe9", AE_IFREG, 0644, "bytes"},
      {"deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/"
       "a-name-long-enough-to-need-a-pax-path-record-in-ustar-terms",
       AE_IFREG, 0644, "deep"},
      {"empty", AE_IFREG, 0600, ""}, {"etc/late", AE_IFREG, 0644, "late"});
}

static void check_modes(struct fx *f)
{
  static const struct {
    const char *path;
    mode_t mode; /* type | perm */
    uid_t uid;
    gid_t gid;
  } want[] = {
      {".", S_IFDIR | 0751, 0, 0},
      {"etc", S_IFDIR | 0755, 0, 0},
      {"etc/hello", S_IFREG | 0640, 1000, 1001},
      {"bin/busybox", S_IFREG | 04755, 0, 0},
      {"bin/sh", S_IFLNK | 0777, 5, 6},
      {"shared", S_IFDIR | 02775, 0, 50},
      {"tmp", S_IFDIR | 01777, 0, 0},
      {"run", S_IFDIR | 0755, 0, 0},
      {"run/fifo", S_IFIFO | 0620, 0, 0},
      {"dev/null", S_IFCHR | 0666, 0, 0},
      {"dev/loop0", S_IFBLK | 0660, 0, 0},
      {"empty", S_IFREG | 0600, 0, 0},
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    struct stat st = {0};
    bool ok = at_stat(f, want[i].path, &st) || fstat(f->rootfd, &st) == 0;
    CHECK(ok && st.st_mode == want[i].mode && st.st_uid == want[i].uid && st.st_gid == want[i].gid,
          "%s: mode 0%o uid %u gid %u", want[i].path, st.st_mode, st.st_uid, st.st_gid);
  }
}

static void check_types(struct fx *f, const struct unpack_stats *st)
{
  struct stat a, b;
  CHECK(content_is(f, "etc/hello", "hello\n") && content_is(f, "café/naïve", "utf8") &&
            content_is(f, "latin1-\xe9", "bytes"),
        "contents, names as bytes");
  CHECK(content_is(f,
                   "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/"
                   "a-name-long-enough-to-need-a-pax-path-record-in-ustar-terms",
                   "deep"),
        "long pax name");
  CHECK(link_is(f, "bin/sh", "busybox"), "symlink target");
  CHECK(at_stat(f, "bin/ls", &a) && at_stat(f, "bin/busybox", &b) && a.st_ino == b.st_ino &&
            a.st_nlink == 2,
        "hardlink");
  CHECK(at_stat(f, "dev/null", &a) && a.st_rdev == makedev(1, 3), "char device numbers");
  CHECK(at_stat(f, "etc", &a) && a.st_mtime == 1000000000, "dir mtime after its contents: %ld",
        (long)a.st_mtime);
  CHECK(at_stat(f, "etc/hello", &a) && a.st_mtime == 1111111111, "file mtime");
  CHECK(at_stat(f, "bin/sh", &a) && a.st_mtime == 1222222222, "symlink mtime");
  char buf[64];
  CHECK(xattr_get(f, "etc/user", "user.color", buf, sizeof(buf)) == 4, "user.* xattr");
  CHECK(xattr_get(f, "bin/ping", "security.capability", buf, sizeof(buf)) == 20,
        "security.capability");
  CHECK(xattr_get(f, "etc/trusted", "trusted.note", buf, sizeof(buf)) == 1, "trusted.* xattr");
  CHECK(xattr_get(f, "etc/selinux", "security.selinux", buf, sizeof(buf)) < 0 ||
            strncmp(buf, "etc_t", 5) != 0,
        "security.selinux is not taken from the image");
  CHECK(xattr_get(f, "etc/ovl", "trusted.overlay.opaque", buf, sizeof(buf)) < 0,
        "trusted.overlay.* is not kept");
  CHECK(st->skipped_xattrs == 2 && st->skipped_devices == 0 && st->entries == 22,
        "stats: %llu entries, %llu xattrs skipped", (unsigned long long)st->entries,
        (unsigned long long)st->skipped_xattrs);
}

static void test_types(void)
{
  struct fx f;
  fx_init(&f);
  int blob = types_layer();
  char want[DIGEST_MAX], got[DIGEST_MAX] = "", msg[2048];
  tool_digest(blob, "gzip -dc", want);
  struct unpack_stats st;
  int r = unpack(&f, blob, got, &st, msg, sizeof(msg));
  CHECK(r == 0, "types layer: %s", msg);
  CHECK(strcmp(got, want) == 0, "diff_id %s, gzip -dc | sha256sum says %s", got, want);
  check_modes(&f);
  check_types(&f, &st);
  CHECK(sentinel_intact(&f), "sentinel");
  fx_done(&f);
}

/* The diff_id of the other compressions and formats, and a sparse file. */
static void test_formats(void)
{
  static const struct {
    enum comp c;
    int format;
    const char *tool;
  } cases[] = {
      {C_NONE, ARCHIVE_FORMAT_TAR_USTAR, "cat"},
      {C_ZSTD, ARCHIVE_FORMAT_TAR_GNUTAR, "zstd -dc"},
      {C_GZIP, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, "gzip -dc"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fx f;
    fx_init(&f);
    int blob = MKLAYER(cases[i].c, cases[i].format, {"d", AE_IFDIR}, {"d/f", AE_IFREG, 0600, "f"},
                       {"d/l", AE_IFLNK, 0777, "f"});
    char want[DIGEST_MAX], got[DIGEST_MAX] = "", msg[2048];
    tool_digest(blob, cases[i].tool, want);
    int r = unpack(&f, blob, got, NULL, msg, sizeof(msg));
    CHECK(r == 0 && strcmp(got, want) == 0 && content_is(&f, "d/f", "f"), "%s: %s %s %s",
          cases[i].tool, msg, got, want);
    fx_done(&f);
  }
}

static int sparse_layer(void)
{
  int fd = memfd_create("layer", MFD_CLOEXEC);
  struct archive *a = writer_new(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, fd);
  struct archive_entry *ae = archive_entry_new();
  const size_t hole = 8u << 20;
  archive_entry_set_pathname(ae, "sparse");
  archive_entry_set_filetype(ae, AE_IFREG);
  archive_entry_set_perm(ae, 0644);
  archive_entry_set_size(ae, (la_int64_t)hole + 4);
  archive_entry_sparse_add_entry(ae, (la_int64_t)hole, 4);
  archive_write_header(a, ae);
  char *data = calloc(1, hole + 4);
  memcpy(data + hole, "tail", 4);
  archive_write_data(a, data, hole + 4);
  free(data);
  archive_entry_free(ae);
  archive_write_close(a);
  archive_write_free(a);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static void test_sparse(void)
{
  struct fx f;
  fx_init(&f);
  char msg[2048], tail[5] = "";
  int r = unpack(&f, sparse_layer(), NULL, NULL, msg, sizeof(msg));
  struct stat st;
  cleanup_close int fd = openat(f.rootfd, "sparse", O_RDONLY);
  CHECK(r == 0 && fstat(fd, &st) == 0 && st.st_size == (8 << 20) + 4 &&
            pread(fd, tail, 4, 8 << 20) == 4 && strcmp(tail, "tail") == 0,
        "sparse file: %s", msg);
  CHECK(st.st_blocks < 1024, "the hole stays a hole (%ld blocks)", (long)st.st_blocks);
  fx_done(&f);
}

/* ---- whiteouts and opaque directories over three layers ---- */

static int whiteout_layer(int n)
{
  if (n == 1)
    return MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"a", AE_IFDIR},
                   {"a/x", AE_IFREG, 0, "x"}, {"a/y", AE_IFREG, 0, "y"}, {"a/sub", AE_IFDIR},
                   {"a/sub/z", AE_IFREG, 0, "z"}, {"b", AE_IFDIR}, {"b/keep", AE_IFREG, 0, "k"},
                   {"c", AE_IFREG, 0, "c"}, {"d", AE_IFDIR}, {"d/old", AE_IFREG, 0, "o"},
                   {"d/sub/deep", AE_IFREG, 0, "d"}, {"e", AE_IFLNK, 0777, "a"},
                   {"f/inner/most", AE_IFREG, 0, "i"}, {"h/lower", AE_IFREG, 0, "l"});
  if (n == 2)
    return MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_GNUTAR, {"a/.wh.x", AE_IFREG}, {".wh.c", AE_IFREG},
                   {"d", AE_IFDIR}, {"d/new", AE_IFREG, 0, "n"}, {"d/.wh..wh..opq", AE_IFREG},
                   {".wh.e", AE_IFREG}, {"b/.wh.nonexistent", AE_IFREG}, {".wh.f", AE_IFREG},
                   {"g", AE_IFREG, 0, "g"}, {".wh.g", AE_IFREG}, {"nothere/.wh.y", AE_IFREG},
                   {"h", AE_IFDIR, 0700}, {"h/upper", AE_IFREG, 0, "u"});
  return MKLAYER(C_ZSTD, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"d/.wh..wh..opq", AE_IFREG},
                 {"d/newer", AE_IFREG, 0, "n"}, {"a", AE_IFREG, 0, "now a file"},
                 {"b/keep", AE_IFDIR}, {"b/keep/inside", AE_IFREG, 0, "in"});
}

static void check_layer2(struct fx *f)
{
  struct stat st;
  CHECK(!has(f, "a/x") && has(f, "a/y") && has(f, "a/sub/z"), ".wh.x removes a/x only");
  CHECK(!has(f, "c") && !has(f, "f"), "whiteouts of a file and a tree");
  CHECK(has(f, "d/new") && !has(f, "d/old") && !has(f, "d/sub"),
        "opaque after entries of its layer keeps them, removes the lower ones");
  CHECK(!has(f, "e") && at_stat(f, "a", &st) && S_ISDIR(st.st_mode), ".wh.e removes the link");
  CHECK(has(f, "g"), "a whiteout spares what its own layer adds");
  CHECK(has(f, "h/lower") && has(f, "h/upper") && at_stat(f, "h", &st) &&
            (st.st_mode & 07777) == 0700,
        "an existing dir keeps its contents, takes the new mode");
  CHECK(!has(f, "nothere"), "a whiteout makes no parent");
}

static void check_layer3(struct fx *f)
{
  struct stat st;
  CHECK(content_is(f, "a", "now a file"), "a file replaces a directory tree");
  CHECK(!has(f, "d/new") && has(f, "d/newer"), "opaque before entries of its layer");
  CHECK(at_stat(f, "b/keep", &st) && S_ISDIR(st.st_mode) && has(f, "b/keep/inside"),
        "a directory replaces a file");
}

static void test_whiteouts(void)
{
  struct fx f;
  fx_init(&f);
  char msg[2048];
  for (int n = 1; n <= 3; n++) {
    CHECK(unpack(&f, whiteout_layer(n), NULL, NULL, msg, sizeof(msg)) == 0, "layer %d: %s", n, msg);
    if (n == 2)
      check_layer2(&f);
  }
  check_layer3(&f);
  CHECK(sentinel_intact(&f), "sentinel");
  fx_done(&f);
}

/* UNPACK_OVERLAY (a layer of the cache, an overlayfs lower directory of
 * its own): a whiteout becomes a 0:0 character device, an opaque marker the
 * trusted.overlay.opaque xattr on its directory, nothing is removed. */
static void test_overlay_whiteouts(void)
{
  struct fx f;
  fx_init(&f);
  struct berth_err *err = NULL;
  int blob = MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"d", AE_IFDIR},
                     {"d/.wh..wh..opq", AE_IFREG}, {"d/new", AE_IFREG, 0, "n"},
                     {"e/.wh.gone", AE_IFREG}, {".wh.top", AE_IFREG});
  int r = layer_unpack(blob, f.rootfd, UNPACK_OVERLAY, NULL, NULL, &err);
  close(blob);
  CHECK(r == 0, "overlay layer: %s", err ? err->msg : "");
  berth_err_free(&err);
  struct stat st;
  CHECK(at_stat(&f, "e/gone", &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) &&
            at_stat(&f, "top", &st) && S_ISCHR(st.st_mode),
        "whiteouts as 0:0 character devices");
  char path[4200], val[8] = "";
  snprintf(path, sizeof(path), "%s/d", f.root);
  CHECK(getxattr(path, "trusted.overlay.opaque", val, sizeof(val)) == 1 && val[0] == 'y' &&
            has(&f, "d/new") && !has(&f, "d/.wh..wh..opq"),
        "opaque directory: trusted.overlay.opaque=y, its own entries kept");
  CHECK(sentinel_intact(&f), "sentinel");
  fx_done(&f);
}

/* layers_unpack: the same three layers applied in order with the next ones
 * prefetched into temporary files: the same tree and diff_ids as one
 * layer_unpack after the other; a failing layer is named and stops the
 * rest; no temporary file is left either way. */
static size_t layers_run(struct fx *f, int tmpfd, const int *which, size_t n,
                         char (*ids)[DIGEST_MAX], char *msg, size_t msgsize)
{
  int fds[3];
  struct berth_err *err = NULL;
  for (size_t i = 0; i < n; i++)
    fds[i] = which[i] > 0 ? whiteout_layer(which[i])
                          : MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
                                    {"../escape", AE_IFREG, 0, "x"});
  int r = layers_unpack(fds, n, f->rootfd, 0, tmpfd, ids, NULL, &err);
  for (size_t i = 0; i < n; i++)
    close(fds[i]);
  snprintf(msg, msgsize, "%s", err ? err->msg : "");
  berth_err_free(&err);
  return (size_t)(r == 0);
}

static void test_layers_prefetch(void)
{
  struct fx f;
  fx_init(&f);
  char tmp[] = "/tmp/unpack-test-spill-XXXXXX", msg[2048], want[3][DIGEST_MAX], got[3][DIGEST_MAX];
  cleanup_close int tmpfd = mkdtemp(tmp) ? open(tmp, O_RDONLY | O_DIRECTORY) : -1;
  const int all[] = {1, 2, 3}, bad[] = {1, 0, 3};
  CHECK(layers_run(&f, -1, all, 3, want, msg, sizeof(msg)), "no prefetch: %s", msg);
  fx_done(&f);
  fx_init(&f);
  CHECK(tmpfd >= 0 && layers_run(&f, tmpfd, all, 3, got, msg, sizeof(msg)), "prefetch: %s", msg);
  check_layer3(&f);
  CHECK(sentinel_intact(&f), "sentinel");
  CHECK(memcmp(want, got, sizeof(want)) == 0 && strcmp(got[2], "sha256:") > 0,
        "the same diff_ids with and without prefetch");
  fx_done(&f);
  fx_init(&f);
  CHECK(!layers_run(&f, tmpfd, bad, 3, got, msg, sizeof(msg)) && strstr(msg, "layer 2 of 3") &&
            strstr(msg, "../escape") && has(&f, "a/x") && !has(&f, "d/newer"),
        "layer 2 refused and named, layer 3 not applied: %s", msg);
  CHECK(sentinel_intact(&f) && dir_count(tmp) == 0, "nothing left in the temporary directory");
  rmdir(tmp);
  fx_done(&f);
}

/* UNPACK_ROOTLESS (as umoci --rootless): no chown, the image's owner in
 * user.rootlesscontainers (protobuf: uid field 1, gid field 2, varints;
 * none for 0:0), read-only directories kept u+rwx so later entries go in. */
static void test_rootless_owners(void)
{
  struct fx f;
  fx_init(&f);
  struct berth_err *err = NULL;
  int blob =
      MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"ro", AE_IFDIR, 0555, .uid = 7, .gid = 0},
              {"ro/theirs", AE_IFREG, 0640, "t", .uid = 1234, .gid = 5678},
              {"mine", AE_IFREG, 0644, "m"}, {"link", AE_IFLNK, 0777, "mine", .uid = 9});
  int r = layer_unpack(blob, f.rootfd, UNPACK_ROOTLESS, NULL, NULL, &err);
  close(blob);
  CHECK(r == 0, "rootless layer: %s", err ? err->msg : "");
  berth_err_free(&err);
  struct stat st;
  unsigned char pb[16];
  ssize_t n = xattr_get(&f, "ro/theirs", "user.rootlesscontainers", (char *)pb, sizeof(pb));
  CHECK(n == 6 && memcmp(pb, "\x08\xd2\x09\x10\xae\x2c", 6) == 0, "1234:5678 recorded (%zd)", n);
  n = xattr_get(&f, "ro", "user.rootlesscontainers", (char *)pb, sizeof(pb));
  CHECK(n == 2 && memcmp(pb, "\x08\x07", 2) == 0, "7:0: the uid only (%zd)", n);
  CHECK(xattr_get(&f, "mine", "user.rootlesscontainers", (char *)pb, sizeof(pb)) < 0,
        "0:0: no xattr");
  CHECK(at_stat(&f, "ro/theirs", &st) && st.st_uid == geteuid() && (st.st_mode & 07777) == 0640,
        "owned by the unpacking user, mode kept");
  CHECK(at_stat(&f, "ro", &st) && (st.st_mode & 07777) == 0755, "read-only dir u+rwx");
  fx_done(&f);
}

/* Symlinks at the last component are replaced, never written through. */
static void test_replace_symlinks(void)
{
  struct fx f;
  fx_init(&f);
  char msg[2048];
  struct stat st;
  int r = unpack(&f,
                 MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
                         {"victim", AE_IFLNK, 0777, "@S/file"}, {"d", AE_IFLNK, 0777, "@S"},
                         {"e", AE_IFLNK, 0777, "a"}, {"a/k", AE_IFREG, 0, "k"}),
                 NULL, NULL, msg, sizeof(msg));
  r |= unpack(&f,
              MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"victim", AE_IFREG, 0600, "mine"},
                      {"d", AE_IFDIR, 0777}, {"e", AE_IFDIR, 0700}),
              NULL, NULL, msg, sizeof(msg));
  CHECK(r == 0, "%s", msg);
  CHECK(content_is(&f, "victim", "mine") && at_stat(&f, "d", &st) && S_ISDIR(st.st_mode) &&
            at_stat(&f, "e", &st) && S_ISDIR(st.st_mode) && has(&f, "a/k"),
        "symlinks replaced by a file and directories");
  CHECK(sentinel_intact(&f), "sentinel untouched through the replaced symlinks");
  fx_done(&f);
}

/* ---- escapes: refused with the entry named, or kept inside the root ---- */

struct attack {
  const char *what;
  const struct ent *l1, *l2; /* l1 may be NULL */
  const char *names;         /* the error must contain this; NULL: success, contained */
  const char *inside;        /* with success: this must now exist inside the root */
};

#define ENTS(...) ((const struct ent[]){__VA_ARGS__, {NULL}})

static void attack_run(const struct attack *a)
{
  struct fx f;
  fx_init(&f);
  char msg[2048] = "", b1[8192], b2[8192];
  int r = 0;
  if (a->l1)
    r = unpack(&f, layer_make(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, a->l1), NULL, NULL, msg,
               sizeof(msg));
  CHECK(r == 0, "%s: first layer: %s", a->what, msg);
  r = unpack(&f, layer_make(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, a->l2), NULL, NULL, msg,
             sizeof(msg));
  const char *names = subst(a->names, b1, sizeof(b1));
  if (names)
    CHECK(r < 0 && strstr(msg, names) != NULL, "%s: wanted an error naming %s, got %d '%s'",
          a->what, names, r, msg);
  else
    CHECK(r == 0, "%s: %s", a->what, msg);
  const char *inside = subst(a->inside, b2, sizeof(b2));
  if (inside)
    CHECK(has(&f, inside + (*inside == '/')), "%s: %s is not inside the root", a->what, inside);
  CHECK(sentinel_intact(&f), "%s: the sentinel changed", a->what);
  if (getenv("VERBOSE"))
    printf("# %s: %s\n", a->what, r < 0 ? msg : "ok (inside)");
  fx_done(&f);
}

static void test_attacks(void)
{
  const struct attack attacks[] = {
      {"..", NULL, ENTS({"../pwned", AE_IFREG, 0, "x"}), "../pwned"},
      {"a/../..", NULL, ENTS({"a/../../sentinel/pwned", AE_IFREG, 0, "x"}), "a/../../sentinel"},
      {"./.. dir", NULL, ENTS({"./../sentinel/", AE_IFDIR, 0777}), "./../sentinel/"},
      {"absolute is inside", NULL, ENTS({"@S/pwned", AE_IFREG, 0, "x"}), NULL, "@S/pwned"},
      {"symlink then file", ENTS({"evil", AE_IFLNK, 0777, "@S"}),
       ENTS({"evil/pwned", AE_IFREG, 0, "x"}), "evil/pwned"},
      {"symlink then file, one layer", NULL,
       ENTS({"evil", AE_IFLNK, 0777, "@S"}, {"evil/pwned", AE_IFREG, 0, "x"}), "evil/pwned"},
      {"relative symlink up", ENTS({"up", AE_IFLNK, 0777, "../sentinel"}),
       ENTS({"up/pwned", AE_IFREG, 0, "x"}), "up/pwned"},
      {"symlink .. chain",
       ENTS({"u1", AE_IFLNK, 0777, ".."}, {"u2", AE_IFLNK, 0777, "u1/../u1/.."},
            {"u3", AE_IFLNK, 0777, "u2/u2/u1/sentinel"}),
       ENTS({"u3/pwned", AE_IFREG, 0, "x"}), "u3/pwned"},
      {".. chain clamps at the root", ENTS({"up", AE_IFLNK, 0777, "../../../.."}),
       ENTS({"up/tmp/pwned", AE_IFREG, 0, "x"}), NULL, "tmp/pwned"},
      {"hardlink /etc/passwd", NULL, ENTS({"h", T_LINK, 0, "/etc/passwd"}), "\"h\""},
      {"hardlink ../", NULL, ENTS({"h", T_LINK, 0, "../sentinel/file"}), "\"h\""},
      {"hardlink through symlink out", ENTS({"s", AE_IFLNK, 0777, "@S"}),
       ENTS({"h", T_LINK, 0, "s/file"}), "\"h\""},
      {"hardlink through symlink in",
       ENTS({"real/f", AE_IFREG, 0, "f"}, {"s", AE_IFLNK, 0777, "real"}),
       ENTS({"h", T_LINK, 0, "s/f"}), "goes through a symlink"},
      {"hardlink to a directory", ENTS({"dd", AE_IFDIR}), ENTS({"h", T_LINK, 0, "dd"}), "\"h\""},
      {"whiteout ..", NULL, ENTS({"a/.wh...", AE_IFREG}), "a/.wh..."},
      {"whiteout .", NULL, ENTS({".wh..", AE_IFREG}), ".wh.."},
      {"whiteout as a directory", NULL, ENTS({".wh.x/y", AE_IFREG}), ".wh.x/y"},
      {"whiteout through symlink", ENTS({"s", AE_IFLNK, 0777, "@S"}),
       ENTS({"s/.wh.file", AE_IFREG}), NULL},
      {"opaque through symlink", ENTS({"s", AE_IFLNK, 0777, "@S"}),
       ENTS({"s/.wh..wh..opq", AE_IFREG}), NULL},
      {"absolute whiteout", NULL, ENTS({"@S/.wh.file", AE_IFREG}), NULL},
      {"root as a file", NULL, ENTS({".", AE_IFREG, 0, "x"}), "\".\""},
      {"file as a parent", ENTS({"f", AE_IFREG, 0, "f"}), ENTS({"f/x", AE_IFREG, 0, "x"}), "f/x"},
  };
  for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
    attack_run(&attacks[i]);
}

/* A tree `levels` deep under root/name, made directly. */
static void deep_tree(struct fx *f, const char *name, int levels)
{
  int fd = openat(f->rootfd, ".", O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < levels; i++) {
    const char *n = i == 0 ? name : "d";
    mkdirat(fd, n, 0755);
    int next = openat(fd, n, O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  close(fd);
}

/* Removal recurses with an fd per level: deep trees go, absurd ones are
 * refused cleanly (a layer can nest without bound through symlinks). */
static void test_deep_whiteout(void)
{
  struct fx f;
  fx_init(&f);
  char msg[2048];
  deep_tree(&f, "deep", 1000);
  deep_tree(&f, "deeper", 1100);
  int r = unpack(&f, MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_USTAR, {".wh.deep", AE_IFREG}), NULL, NULL,
                 msg, sizeof(msg));
  CHECK(r == 0 && !has(&f, "deep"), "1000 levels removed: %s", msg);
  r = unpack(&f, MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_USTAR, {".wh.deeper", AE_IFREG}), NULL, NULL,
             msg, sizeof(msg));
  CHECK(r < 0 && strstr(msg, ".wh.deeper") && strstr(msg, "deeper than"), "1100 levels: %s", msg);
  CHECK(sentinel_intact(&f), "sentinel");
  fx_done(&f);
}

/* ---- broken and hostile streams ---- */

static void test_truncated(void)
{
  struct fx f;
  fx_init(&f);
  size_t n = 1u << 20;
  char *noise = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    noise[i] = (char)('a' + (rand() % 26));
  noise[n] = '\0';
  int blob = MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, {"big", AE_IFREG, 0, noise});
  free(noise);
  struct stat st;
  fstat(blob, &st);
  if (ftruncate(blob, st.st_size / 2) < 0)
    abort();
  char msg[2048];
  int r = unpack(&f, blob, NULL, NULL, msg, sizeof(msg));
  CHECK(r < 0 && strstr(msg, "\"big\"") && strstr(msg, "truncated"), "truncated gzip: %d %s", r,
        msg);
  if (getenv("VERBOSE"))
    printf("# truncated: %s\n", msg);
  int junk = memfd_create("junk", MFD_CLOEXEC);
  if (write(junk, "this is no tar at all, not even close ........", 46) != 46)
    abort();
  lseek(junk, 0, SEEK_SET);
  CHECK(unpack(&f, junk, NULL, NULL, msg, sizeof(msg)) < 0, "garbage accepted");
  int bad = MKLAYER(C_NONE, ARCHIVE_FORMAT_TAR_USTAR, {"one", AE_IFREG, 0, "1"},
                    {"two", AE_IFREG, 0, "2"});
  if (pwrite(bad, "X", 1, 1024 + 1) != 1) /* in the second header: checksum off */
    abort();
  r = unpack(&f, bad, NULL, NULL, msg, sizeof(msg));
  CHECK(r < 0 && strstr(msg, "read the next entry") && has(&f, "one") && !has(&f, "tXo"),
        "damaged header: %d %s", r, msg);
  if (getenv("VERBOSE"))
    printf("# damaged header: %s\n", msg);
  CHECK(sentinel_intact(&f), "sentinel");
  fx_done(&f);
}

static void ustar_header(char h[512], const char *name, unsigned long long size)
{
  memset(h, 0, 512);
  snprintf(h, 100, "%s", name);
  memcpy(h + 100, "0000644", 8);
  memcpy(h + 108, "0000000", 8);
  memcpy(h + 116, "0000000", 8);
  snprintf(h + 124, 12, "%011llo", size);
  snprintf(h + 136, 12, "%011o", 1600000000);
  memset(h + 148, ' ', 8);
  h[156] = '0';
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++)
    sum += (unsigned char)h[i];
  snprintf(h + 148, 8, "%06o", sum);
}

/* One gzip member of data (members concatenate into one gzip stream). */
static void gz_member(int fd, const void *data, size_t n)
{
  static unsigned char out[1 << 16];
  z_stream z = {0};
  deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
  z.next_in = (Bytef *)(uintptr_t)data;
  z.avail_in = (uInt)n;
  do {
    z.next_out = out;
    z.avail_out = sizeof(out);
    deflate(&z, Z_FINISH);
    if (write(fd, out, sizeof(out) - z.avail_out) < 0)
      abort();
  } while (z.avail_out == 0);
  deflateEnd(&z);
}

/* A tar of one 2 GiB file of zeros, gzip'd: ~2 MB on disk. */
static int bomb_layer(void)
{
  int fd = memfd_create("bomb", MFD_CLOEXEC);
  char h[512];
  ustar_header(h, "zeros", 2ULL << 30);
  gz_member(fd, h, sizeof(h));
  int zfd = memfd_create("zeros-member", MFD_CLOEXEC);
  char *zeros = calloc(1, 1 << 20);
  gz_member(zfd, zeros, 1 << 20);
  struct stat st;
  fstat(zfd, &st);
  char *member = malloc((size_t)st.st_size);
  if (pread(zfd, member, (size_t)st.st_size, 0) != st.st_size)
    abort();
  for (int i = 0; i < 2048; i++)
    if (write(fd, member, (size_t)st.st_size) != st.st_size)
      abort();
  gz_member(fd, zeros, 1024); /* the end-of-archive blocks */
  free(member);
  free(zeros);
  close(zfd);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static void test_bomb(void)
{
  struct fx f;
  fx_init(&f);
  char msg[2048];
  int blob = bomb_layer();
  struct stat st;
  fstat(blob, &st);
  printf("# bomb: 2 GiB of zeros in %lld bytes of gzip\n", (long long)st.st_size);
  int r = unpack(&f, blob, NULL, NULL, msg, sizeof(msg));
  CHECK(r < 0 && strstr(msg, "decompression bomb") && strstr(msg, "\"zeros\""), "bomb: %d %s", r,
        msg);
  CHECK(!at_stat(&f, "zeros", &st) || st.st_size <= (1LL << 30) + (16 << 20),
        "stopped near 1 GiB: %lld", (long long)st.st_size);
  if (getenv("VERBOSE"))
    printf("# bomb: %s\n", msg);
  fx_done(&f);
}

/* Without CAP_MKNOD (rootless): devices skipped and counted, fifo made. */
static void test_no_mknod(void)
{
  struct fx f;
  fx_init(&f);
  pid_t pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_MKNOD);
    syscall(SYS_capset, &h, d);
    struct unpack_stats st;
    char msg[2048];
    int r = unpack(&f,
                   MKLAYER(C_GZIP, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
                           {"dev/null", AE_IFCHR, 0666, .rmajor = 1, .rminor = 3},
                           {"dev/sda", AE_IFBLK, 0666, .rmajor = 8}, {"fifo", AE_IFIFO}),
                   NULL, &st, msg, sizeof(msg));
    _exit(r < 0 ? 255 : (int)st.skipped_devices);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2, "devices skipped: status %d",
        WEXITSTATUS(status));
  CHECK(!has(&f, "dev/null") && !has(&f, "dev/sda") && has(&f, "fifo"), "what was made");
  fx_done(&f);
}

int main(void)
{
  if (geteuid() != 0) {
    printf("unpack_test: needs root (owners, devices, trusted.* xattrs)\n0 passed, 1 failed\n");
    return 1;
  }
  test_path_clean();
  test_types();
  test_formats();
  test_sparse();
  test_whiteouts();
  test_overlay_whiteouts();
  test_layers_prefetch();
  test_rootless_owners();
  test_replace_symlinks();
  test_attacks();
  test_deep_whiteout();
  test_truncated();
  test_no_mknod();
  if (!getenv("UNPACK_TEST_NO_BOMB"))
    test_bomb();
  printf("%d passed, %d failed\n", unit_passed, unit_failed);
  return unit_failed ? 1 : 0;
}
