/* `run` in the foreground, parent side (berth on the host): waits for the
 * container's init, forwards signals to it and relays its output. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"

static bool is_stream(int fd, struct stat *st)
{
  return fstat(fd, st) == 0 && (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode));
}

static void close_child_ends(struct relay *r)
{
  for (int i = 2; i >= 0; i--) {
    if (r->child[i] >= 0 && (i == 0 || r->child[i] != r->child[i - 1]))
      close(r->child[i]);
    r->child[i] = -1;
  }
}

int relay_open(struct relay *r, struct berth_err **err)
{
  *r = (struct relay)RELAY_NONE;
  struct stat st[2];
  bool stream[2] = {is_stream(1, &st[0]), is_stream(2, &st[1])};
  bool shared =
      stream[0] && stream[1] && st[0].st_dev == st[1].st_dev && st[0].st_ino == st[1].st_ino;
  for (int i = 0; i < 2; i++) {
    if (!stream[i] || (i == 1 && shared))
      continue;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
      relay_finish(r);
      return berth_err_sys(err, "pipe for the container's fd %d", i + 1);
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    r->from[i] = p[0];
    r->child[i + 1] = p[1];
  }
  if (shared)
    r->child[2] = r->child[1];
  return 0;
}

void relay_child_ends_close(struct relay *r)
{
  close_child_ends(r);
}

/* Copies what is readable on stream i: 1 when something was, 0 when
 * nothing is now, -1 when done. At EOF, or when the caller stopped reading
 * (EPIPE), berth's end closes: the container's next write fails as it
 * would have on the caller's own pipe. */
static int pump(struct relay *r, int i)
{
  char buf[65536];
  ssize_t n;
  do
    n = read(r->from[i], buf, sizeof(buf));
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return 0;
  if (n > 0 && write_all(r->to[i], buf, (size_t)n) == 0)
    return 1;
  close(r->from[i]);
  r->from[i] = -1;
  return -1;
}

/* Reaps children (berth is the subreaper of what the container leaves);
 * true once the init is among them. */
static bool reap(pid_t init, int *exit_status)
{
  int ws;
  pid_t p;
  bool exited = false;
  while ((p = waitpid(-1, &ws, WNOHANG)) > 0) {
    if (p != init)
      continue;
    *exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    exited = true;
  }
  return exited;
}

/* Forwards the pending signals; true once the init has exited. Not the
 * ones berth raised itself (SIGPIPE from a write to a closed caller). */
static bool signals_handle(int sfd, pid_t init, int pidfd, int *exit_status)
{
  struct signalfd_siginfo si;
  bool exited = false;
  while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    if (si.ssi_signo == SIGCHLD)
      exited = reap(init, exit_status) || exited;
    else if (si.ssi_pid != (uint32_t)getpid())
      syscall(SYS_pidfd_send_signal, pidfd, (int)si.ssi_signo, NULL, 0);
  }
  return exited;
}

void relay_wait(struct relay *r, pid_t init, int pidfd, const sigset_t *set, int *exit_status)
{
  /* Without a signalfd (out of fds) nothing is forwarded, but the exit
   * still shows on the pidfd. */
  cleanup_close int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
  for (bool exited = false; !exited;) {
    struct pollfd p[4] = {
        {.fd = sfd, .events = POLLIN},
        {.fd = pidfd, .events = POLLIN},
        {.fd = r->from[0], .events = POLLIN},
        {.fd = r->from[1], .events = POLLIN},
    };
    if (poll(p, 4, -1) < 0)
      continue; /* EINTR, or ENOMEM: try again */
    for (int i = 0; i < 2; i++)
      if (p[i + 2].revents && r->from[i] >= 0)
        pump(r, i);
    if (p[0].revents & POLLIN)
      exited = signals_handle(sfd, init, pidfd, exit_status);
    if (!exited && (p[1].revents & POLLIN))
      exited = reap(init, exit_status);
  }
}

void relay_finish(struct relay *r)
{
  close_child_ends(r);
  for (int i = 0; i < 2; i++) {
    while (r->from[i] >= 0 && pump(r, i) > 0)
      ;
    if (r->from[i] >= 0)
      close(r->from[i]);
    r->from[i] = -1;
  }
}
