/* Rootless networking through Debian's slirp4netns: a user-mode TCP/IP
 * stack that needs no privilege, podman's default for rootless containers
 * (passt/pasta is faster but Debian 12's is a 2023 snapshot podman 4.3
 * does not use). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "netns.h"

#define SLIRP_READY_MS 10000

/* Grandchild: the daemon, with the namespaces at fds 3 (net) and 4
 * (user), and fd 5 for "1" from slirp4netns once tap0 is configured; its
 * stdio goes to /dev/null. */
static void __attribute__((noreturn)) slirp_exec(const int fds[3], unsigned mtu)
{
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  /* Above every fd the targets could be, then down into place (dup2
   * clears close-on-exec). */
  int hi[3];
  for (int i = 0; i < 3; i++)
    hi[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 10) : -1;
  for (int i = 0; i < 3; i++)
    if (hi[i] >= 0)
      dup2(hi[i], 3 + i);
  /* The daemon outlives berth: none of berth's fds (a state-dir lock
   * among them) may stay open in it. */
  close_range(6, ~0U, 0);
  char mtu_s[32];
  snprintf(mtu_s, sizeof(mtu_s), "--mtu=%u", mtu ? mtu : 65520);
  char *argv[] = {"slirp4netns",
                  "--configure",
                  "--disable-host-loopback",
                  mtu_s,
                  "--ready-fd=5",
                  "--netns-type=path",
                  "--userns-path=/proc/self/fd/4",
                  "/proc/self/fd/3",
                  "tap0",
                  NULL};
  if (fds[1] < 0) { /* no user namespace: no --userns-path */
    argv[6] = argv[7];
    argv[7] = argv[8];
    argv[8] = NULL;
  }
  execvp(argv[0], argv);
  _exit(127);
}

/* Child: a new session, then the daemon forked off; its pid goes back over
 * `report`. */
static void __attribute__((noreturn)) slirp_spawn(const int fds[3], unsigned mtu, int report)
{
  setsid();
  signal(SIGHUP, SIG_IGN);
  pid_t d = fork();
  if (d == 0)
    slirp_exec(fds, mtu);
  int32_t v = d;
  ssize_t w = write(report, &v, sizeof(v));
  _exit(w == sizeof(v) && d > 0 ? 0 : 1);
}

static int ready_wait(int rd, pid_t daemon, struct berth_err **err)
{
  struct pollfd p = {.fd = rd, .events = POLLIN};
  int r;
  do
    r = poll(&p, 1, SLIRP_READY_MS);
  while (r < 0 && errno == EINTR);
  char c = 0;
  if (r == 1 && read(rd, &c, 1) == 1 && c == '1')
    return 0;
  kill(daemon, SIGKILL);
  if (r == 0)
    return berth_err_set(err, ETIMEDOUT, "slirp4netns: not ready after %d ms", SLIRP_READY_MS);
  return berth_err_set(err, 0,
                       "slirp4netns: failed to start (is it installed? apt-get install "
                       "slirp4netns)");
}

int netns_slirp_start(int netns_fd, int userns_fd, unsigned mtu, pid_t *slirp_pid,
                      struct berth_err **err)
{
  int ready[2], report[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    return berth_err_sys(err, "slirp4netns: pipe");
  if (pipe2(report, O_CLOEXEC) < 0) {
    close(ready[0]);
    close(ready[1]);
    return berth_err_sys(err, "slirp4netns: pipe");
  }
  cleanup_close int ready_rd = ready[0], report_rd = report[0];
  pid_t c = fork();
  if (c == 0) {
    close(ready_rd);
    close(report_rd);
    const int fds[3] = {netns_fd, userns_fd, ready[1]};
    slirp_spawn(fds, mtu, report[1]);
  }
  close(ready[1]);
  close(report[1]);
  if (c < 0)
    return berth_err_sys(err, "slirp4netns: fork");
  int32_t d = -1;
  ssize_t n = read(report_rd, &d, sizeof(d));
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
    ;
  if (n != sizeof(d) || d <= 0)
    return berth_err_set(err, 0, "slirp4netns: could not start the daemon");
  *slirp_pid = d;
  return ready_wait(ready_rd, d, err);
}
