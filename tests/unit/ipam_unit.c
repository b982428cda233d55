/* Unit tests of netns/ipam.c: leases in a temporary directory under /tmp. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "../../netns/internal.h"
#include "check.h"

static char tmp_root[64];

/* The outcome of one lease: the address, or the error message. */
struct outcome {
  int rc;
  char text[2048];
};

static bool gone_dead(const char *holder)
{
  return strncmp(holder, "dead", 4) == 0;
}

static struct outcome lease(const char *dir, const char *holder, const char *subnet,
                            const char *want, bool (*gone)(const char *))
{
  struct outcome o = {0};
  struct net_prefix s, w = {0}, out;
  struct berth_err *err = NULL;
  if (net_prefix_parse(subnet, &s, &err) < 0 || (want && net_addr_parse(want, &w, &err) < 0))
    abort(); /* a typo in the test itself */
  int fd = ipam_lock(dir, &err);
  if (fd >= 0) {
    o.rc = ipam_lease(dir, holder, &s, &w, gone, &out, &err);
    close(fd);
  } else {
    o.rc = -1;
  }
  if (o.rc == 0)
    net_prefix_format(&out, true, o.text, sizeof(o.text));
  else
    snprintf(o.text, sizeof(o.text), "%s", err->msg);
  berth_err_free(&err);
  return o;
}

#define LEASE_IS(dir, holder, subnet, want, gone, expect)                                          \
  do {                                                                                             \
    struct outcome o_ = lease(dir, holder, subnet, want, gone);                                    \
    CHECK(strcmp(o_.text, expect) == 0, "%s in %s%s%s: got '%s', want '%s'", holder, subnet,       \
          want ? " asking " : "", want ? want : "", o_.text, expect);                              \
  } while (0)

static void release(const char *dir, const char *holder)
{
  struct berth_err *err = NULL;
  int fd = ipam_lock(dir, &err);
  CHECK(fd >= 0 && ipam_release(dir, holder, &err) == 0, "release %s: %s", holder,
        err ? err->msg : "");
  berth_err_free(&err);
  if (fd >= 0)
    close(fd);
}

static size_t count(const char *dir)
{
  size_t n = 0;
  struct berth_err *err = NULL;
  CHECK(ipam_count(dir, &n, &err) == 0, "count: %s", err ? err->msg : "");
  berth_err_free(&err);
  return n;
}

/* dir/name's contents, "" when it cannot be read. */
static const char *contents(const char *dir, const char *name)
{
  static char buf[512];
  char *text = NULL;
  struct berth_err *err = NULL;
  cleanup_free char *path = xasprintf("%s/%s", dir, name);
  buf[0] = '\0';
  if (read_file_at(AT_FDCWD, path, sizeof(buf) - 1, &text, NULL, &err) == 0)
    snprintf(buf, sizeof(buf), "%s", text);
  free(text);
  berth_err_free(&err);
  return buf;
}

/* A fresh lease directory (not made yet: ipam_lock makes it). */
static char *new_dir(const char *name)
{
  return xasprintf("%s/%s/leases", tmp_root, name);
}

static void test_paths_and_lock(void)
{
  struct berth_err *err = NULL;
  struct net_prefix s, out;
  size_t n;
  net_prefix_parse("10.88.0.0/16", &s, &err);
  CHECK(ipam_lock("run/leases", &err) < 0 && strstr(err->msg, "not an absolute path"),
        "relative lock dir");
  berth_err_free(&err);
  CHECK(ipam_lease("leases", "h", &s, NULL, NULL, &out, &err) < 0 &&
            strstr(err->msg, "not an absolute path"),
        "relative lease dir");
  berth_err_free(&err);
  CHECK(ipam_release("", "h", &err) < 0 && ipam_count(".", &n, &err) < 0, "relative dirs");
  berth_err_free(&err);

  cleanup_free char *dir = new_dir("lock");
  int fd = ipam_lock(dir, &err);
  CHECK(fd >= 0, "lock: %s", err ? err->msg : "");
  struct stat st;
  CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "dir made 0700");
  CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "lock fd is close-on-exec");
  cleanup_free char *lockpath = xasprintf("%s/lock", dir);
  int other = open(lockpath, O_RDONLY | O_CLOEXEC);
  CHECK(other >= 0 && flock(other, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
        "the lock is held");
  close(fd);
  CHECK(flock(other, LOCK_EX | LOCK_NB) == 0, "and free once closed");
  close(other);
  CHECK(count(dir) == 0, "lock file is not a lease");
}

static void test_round_robin(void)
{
  cleanup_free char *dir = new_dir("rr");
  LEASE_IS(dir, "a", "10.88.0.0/24", NULL, NULL, "10.88.0.2/24");
  CHECK(strcmp(contents(dir, "10.88.0.2"), "a\n") == 0, "lease file holds the holder");
  LEASE_IS(dir, "b", "10.88.0.0/24", NULL, NULL, "10.88.0.3/24");
  CHECK(strcmp(contents(dir, "last-4"), "10.88.0.3\n") == 0, "last-4: %s", contents(dir, "last-4"));
  LEASE_IS(dir, "a", "10.88.0.0/24", NULL, NULL, "10.88.0.2/24"); /* retried: same one */
  release(dir, "a");
  CHECK(count(dir) == 1 && contents(dir, "10.88.0.2")[0] == '\0', "a's lease gone");
  LEASE_IS(dir, "c", "10.88.0.0/24", NULL, NULL, "10.88.0.4/24"); /* forward, not .2 */
  release(dir, "nobody");
  CHECK(count(dir) == 2, "releasing an unknown holder is fine and removes nothing");
  CHECK(strcmp(contents(dir, "last-4"), "10.88.0.4\n") == 0, "release keeps last-4");

  /* /29: .0 network, .1 gateway, .2-.6, .7 broadcast; wraps past the end. */
  cleanup_free char *d29 = new_dir("29");
  const char *h[] = {"h2", "h3", "h4", "h5", "h6"};
  for (int i = 0; i < 5; i++) {
    char want[32];
    snprintf(want, sizeof(want), "10.88.0.%d/29", i + 2);
    LEASE_IS(d29, h[i], "10.88.0.0/29", NULL, NULL, want);
  }
  LEASE_IS(d29, "h7", "10.88.0.0/29", NULL, NULL, "no free address in 10.88.0.0/29");
  release(d29, "h3");
  LEASE_IS(d29, "h8", "10.88.0.0/29", NULL, NULL, "10.88.0.3/29");
  CHECK(count(d29) == 5, "five leases in the /29");

  cleanup_free char *d30 = new_dir("30");
  LEASE_IS(d30, "x", "192.168.7.4/30", NULL, NULL, "192.168.7.6/30");
  LEASE_IS(d30, "y", "192.168.7.4/30", NULL, NULL, "no free address in 192.168.7.4/30");
  LEASE_IS(d30, "y", "192.168.7.4/30", "192.168.7.6", NULL, "address 192.168.7.6 is in use");
}

static void test_static(void)
{
  cleanup_free char *dir = new_dir("static");
  const char *net = "10.88.0.0/16";
  LEASE_IS(dir, "s", net, "10.88.0.3", NULL, "10.88.0.3/16");
  LEASE_IS(dir, "s", net, "10.88.0.3", NULL, "10.88.0.3/16"); /* idempotent */
  LEASE_IS(dir, "t", net, "10.88.0.3", NULL, "address 10.88.0.3 is in use");
  LEASE_IS(dir, "t", net, "10.89.0.3", NULL, "address 10.89.0.3 is not in 10.88.0.0/16");
  LEASE_IS(dir, "t", net, "fd88::3", NULL, "address fd88::3 is not in 10.88.0.0/16");
  static const char *const reserved[] = {"10.88.0.0", "10.88.0.1", "10.88.255.255"};
  for (size_t i = 0; i < 3; i++) {
    char want[128];
    snprintf(want, sizeof(want),
             "address %s is reserved in 10.88.0.0/16 (network, gateway or broadcast)", reserved[i]);
    LEASE_IS(dir, "t", net, reserved[i], NULL, want);
  }
  LEASE_IS(dir, "t", net, "10.88.255.254", NULL, "10.88.255.254/16");
  CHECK(contents(dir, "last-4")[0] == '\0', "a static lease does not move last-4");
  /* The walk steps over the static .3. */
  LEASE_IS(dir, "d1", net, NULL, NULL, "10.88.0.2/16");
  LEASE_IS(dir, "d2", net, NULL, NULL, "10.88.0.4/16");
  CHECK(count(dir) == 4, "four leases");
}

static void test_takeover(void)
{
  cleanup_free char *dir = new_dir("gone");
  const char *net = "10.88.0.0/30";
  LEASE_IS(dir, "dead-1", net, NULL, NULL, "10.88.0.2/30");
  LEASE_IS(dir, "alive", net, NULL, NULL, "no free address in 10.88.0.0/30");
  LEASE_IS(dir, "alive", net, NULL, gone_dead, "10.88.0.2/30");
  CHECK(strcmp(contents(dir, "10.88.0.2"), "alive\n") == 0, "taken over");
  LEASE_IS(dir, "dead-2", net, "10.88.0.2", gone_dead, "address 10.88.0.2 is in use");
  release(dir, "dead-1");
  CHECK(count(dir) == 1, "the old holder's release does not touch the new lease");

  cleanup_free char *d2 = new_dir("gone-static");
  LEASE_IS(d2, "dead-3", "10.88.0.0/16", "10.88.0.9", NULL, "10.88.0.9/16");
  LEASE_IS(d2, "new", "10.88.0.0/16", "10.88.0.9", NULL, "address 10.88.0.9 is in use");
  LEASE_IS(d2, "new", "10.88.0.0/16", "10.88.0.9", gone_dead, "10.88.0.9/16");
}

static void test_ipv6(void)
{
  cleanup_free char *dir = new_dir("v6");
  const char *net = "fd88::/64";
  LEASE_IS(dir, "a", net, NULL, NULL, "fd88::2/64");
  CHECK(strcmp(contents(dir, "fd88::2"), "a\n") == 0, "file named fd88::2");
  LEASE_IS(dir, "a", "10.88.0.0/16", NULL, NULL, "10.88.0.2/16");
  CHECK(strcmp(contents(dir, "last-6"), "fd88::2\n") == 0 &&
            strcmp(contents(dir, "last-4"), "10.88.0.2\n") == 0,
        "one last file per family");
  LEASE_IS(dir, "b", net, "fd88::", NULL,
           "address fd88:: is reserved in fd88::/64 (network, gateway or broadcast)");
  LEASE_IS(dir, "b", net, "fd88::1", NULL,
           "address fd88::1 is reserved in fd88::/64 (network, gateway or broadcast)");
  LEASE_IS(dir, "b", net, "fd88::ffff:ffff:ffff:ffff", NULL, "fd88::ffff:ffff:ffff:ffff/64");
  release(dir, "a");
  CHECK(count(dir) == 1, "both of a's leases released");

  /* The walk wraps from the last address of a /64 without visiting the rest. */
  struct berth_err *err = NULL;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK(write_file_atomic_at(dfd, "last-6", "fd88::ffff:ffff:ffff:fffe\n", 26, 0600, &err) == 0,
        "set last-6");
  berth_err_free(&err);
  close(dfd);
  LEASE_IS(dir, "c", net, NULL, NULL, "fd88::2/64");

  cleanup_free char *d126 = new_dir("126");
  LEASE_IS(d126, "x", "fd00::4/126", NULL, NULL, "fd00::6/126");
  LEASE_IS(d126, "y", "fd00::4/126", NULL, NULL, "fd00::7/126"); /* no broadcast in IPv6 */
  LEASE_IS(d126, "z", "fd00::4/126", NULL, NULL, "no free address in fd00::4/126");
}

static void test_hostile_dir(void)
{
  cleanup_free char *dir = new_dir("links");
  cleanup_free char *victim = xasprintf("%s/victim", tmp_root);
  LEASE_IS(dir, "a", "10.88.0.0/24", NULL, NULL, "10.88.0.2/24");
  int fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && write(fd, "b\n", 2) == 2, "victim");
  close(fd);
  cleanup_free char *link = xasprintf("%s/10.88.0.3", dir);
  CHECK(symlink(victim, link) == 0, "symlink");
  /* Not followed, not taken over (even from a holder that is gone), not
   * removed: the symlink keeps its address. */
  LEASE_IS(dir, "b", "10.88.0.0/24", NULL, gone_dead, "10.88.0.4/24");
  LEASE_IS(dir, "dead", "10.88.0.0/24", "10.88.0.3", gone_dead, "address 10.88.0.3 is in use");
  release(dir, "b");
  CHECK(strcmp(contents(tmp_root, "victim"), "b\n") == 0, "victim untouched");
  struct stat st;
  CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "symlink left alone");
  cleanup_free char *last = xasprintf("%s/last-4", dir);
  CHECK(unlink(last) == 0 && symlink(victim, last) == 0, "last-4 as a symlink");
  LEASE_IS(dir, "e", "10.88.0.0/24", NULL, NULL, "10.88.0.4/24"); /* from the start */
  CHECK(strcmp(contents(tmp_root, "victim"), "b\n") == 0, "victim untouched by last-4");

  cleanup_free char *linkdir = xasprintf("%s/linkdir", tmp_root);
  CHECK(symlink(dir, linkdir) == 0, "symlink dir");
  struct net_prefix s, out;
  struct berth_err *err = NULL;
  net_prefix_parse("10.88.0.0/24", &s, &err);
  CHECK(ipam_lease(linkdir, "c", &s, NULL, NULL, &out, &err) < 0, "a symlinked lease dir");
  berth_err_free(&err);
  LEASE_IS(dir, "", "10.88.0.0/24", NULL, NULL, "lease holder \"\": must be one non-empty line");
  LEASE_IS(dir, "a\nb", "10.88.0.0/24", NULL, NULL,
           "lease holder \"a\nb\": must be one non-empty line");
}

/* 20 processes lease at once; every one gets its own address. */
static void test_concurrent(void)
{
  enum { N = 20 };
  cleanup_free char *dir = new_dir("race");
  int pipefd[2];
  if (pipe(pipefd) < 0)
    abort();
  for (int i = 0; i < N; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      char holder[16], line[80];
      snprintf(holder, sizeof(holder), "c%d", i);
      struct outcome o = lease(dir, holder, "10.88.0.0/24", NULL, NULL);
      int n = snprintf(line, sizeof(line), "%s\n", o.rc == 0 ? o.text : "error");
      _exit(write(pipefd[1], line, (size_t)n) == n && o.rc == 0 ? 0 : 1);
    }
  }
  close(pipefd[1]);
  int ok = 0, status;
  while (wait(&status) > 0)
    ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  char buf[N * 80 + 1];
  ssize_t len = 0, r;
  while ((r = read(pipefd[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
    len += r;
  close(pipefd[0]);
  buf[len < 0 ? 0 : len] = '\0';
  bool seen[256] = {false};
  int distinct = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    int last = 0;
    if (sscanf(line, "10.88.0.%d/24", &last) == 1 && last > 0 && last < 255 && !seen[last]) {
      seen[last] = true;
      distinct++;
    }
  }
  CHECK(ok == N && distinct == N, "%d of %d children leased, %d distinct addresses", ok, N,
        distinct);
  CHECK(count(dir) == N, "%d leases on disk", N);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

void ipam_unit_tests(void)
{
  snprintf(tmp_root, sizeof(tmp_root), "/tmp/berth-ipam-XXXXXX");
  if (mkdtemp(tmp_root) == NULL) {
    CHECK(false, "mkdtemp: %s", strerror(errno));
    return;
  }
  test_paths_and_lock();
  test_round_robin();
  test_static();
  test_takeover();
  test_ipv6();
  test_hostile_dir();
  test_concurrent();
  nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
