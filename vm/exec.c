/* The host side of `berth exec` and `berth ps` for a microVM container:
 * a connection to the supervisor's exec socket (mux.c). For exec, the
 * process berth forks stands for the guest's process on the host: it
 * relays stdio (or a terminal) and the signals it gets, and exits with
 * the process's status, so runtime/ waits for it, signals it and hands
 * its pid out (--pid-file) as it does for a linux-backend exec. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "proto.h"
#include "vm.h"

static int mux_connect(int dirfd, struct berth_err **err)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  /* Through the directory fd: a state root may be longer than sun_path. */
  snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, VM_EXEC_SOCK);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    berth_err_sys(err, "microvm: connect to the container's supervisor");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* The first reply to a request, within timeout_s (a paused VM answers
 * nothing). Returns its type; *data stays valid until rd is filled again. */
static int reply_wait(int fd, struct vm_reader *rd, unsigned timeout_s, const char **data,
                      uint32_t *len, struct berth_err **err)
{
  uint8_t type;
  int r;
  while ((r = vm_reader_next(rd, &type, data, len)) == 0) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, (int)timeout_s * 1000);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      return berth_err_set(err, ETIMEDOUT, "microvm: no answer from the guest within %u s",
                           timeout_s);
    if (vm_reader_fill(rd, fd) <= 0)
      return berth_err_set(err, 0, "microvm: the container stopped");
  }
  if (r < 0)
    return berth_err_set(err, EPROTO, "microvm: malformed frame from the supervisor");
  if (type == VM_MSG_EXEC_ERROR)
    return berth_err_set(err, 0, "%.*s", (int)(*len > 1500 ? 1500 : *len), *data);
  return type;
}

int vm_exec_request(int dirfd, const void *rec, size_t len, unsigned timeout_s,
                    struct vm_reader *rd, struct berth_err **err)
{
  cleanup_close int fd = mux_connect(dirfd, err);
  if (fd < 0)
    return -1;
  if (vm_msg_send(fd, VM_MSG_EXEC, rec, len) < 0)
    return berth_err_sys(err, "microvm: send the exec request");
  const char *d;
  uint32_t n;
  int type = reply_wait(fd, rd, timeout_s, &d, &n, err);
  if (type < 0)
    return -1;
  if (type != VM_MSG_EXEC_STARTED)
    return berth_err_set(err, EPROTO, "microvm: unexpected answer %d to exec", type);
  return steal_fd(&fd);
}

int vm_ps_request(int dirfd, char **table, struct berth_err **err)
{
  cleanup_close int fd = mux_connect(dirfd, err);
  if (fd < 0)
    return -1;
  if (vm_msg_send(fd, VM_MSG_PS, NULL, 0) < 0)
    return berth_err_sys(err, "microvm: send the ps request");
  cleanup_free struct vm_reader *rd = xcalloc(1, sizeof(*rd));
  const char *d;
  uint32_t n;
  int type = reply_wait(fd, rd, 30, &d, &n, err);
  if (type < 0)
    return -1;
  if (type != VM_MSG_PS_REPLY)
    return berth_err_set(err, EPROTO, "microvm: unexpected answer %d to ps", type);
  *table = xasprintf("%.*s", (int)n, d);
  return 0;
}

/* ---- the relay (the exec's stand-in process on the host) ---- */

struct relay {
  int sock, sigfd;
  bool tty, in_open;
  int status;
  struct vm_reader *rd;
};

static void size_send(struct relay *r)
{
  struct winsize ws;
  if (!r->tty || ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return;
  unsigned char b[8];
  vm_u32_encode(b, ws.ws_row);
  vm_u32_encode(b + 4, ws.ws_col);
  vm_msg_send(r->sock, VM_MSG_EXEC_RESIZE, b, sizeof(b));
}

/* Signals for the process; SIGWINCH is the terminal's size changing. */
static void on_signal(struct relay *r)
{
  struct signalfd_siginfo si;
  while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    int sig = (int)si.ssi_signo;
    if (sig == SIGWINCH && r->tty)
      size_send(r);
    else if (sig != SIGCHLD && !(sig == SIGPIPE && si.ssi_pid == (uint32_t)getpid()))
      vm_msg_send_u32(r->sock, VM_MSG_EXEC_SIGNAL, (uint32_t)sig);
  }
}

static void on_stdin(struct relay *r)
{
  char buf[16384];
  ssize_t n = read(0, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0) {
    r->in_open = false;
    vm_msg_send(r->sock, VM_MSG_EXEC_STDIN_EOF, NULL, 0);
  } else {
    vm_msg_send(r->sock, VM_MSG_EXEC_STDIN, buf, (size_t)n);
  }
}

/* Frames from the supervisor; false once the process is gone. */
static bool on_frames(struct relay *r)
{
  uint8_t type;
  const char *d;
  uint32_t len;
  while (vm_reader_next(r->rd, &type, &d, &len) == 1) {
    if (type == VM_MSG_EXEC_STDOUT || type == VM_MSG_EXEC_STDERR)
      write_all(type == VM_MSG_EXEC_STDERR && !r->tty ? 2 : 1, d, len);
    if (type == VM_MSG_EXEC_EXIT) {
      r->status = (int)(vm_u32_decode(d, len) & 0xff);
      return false;
    }
  }
  return true;
}

int vm_exec_relay(int sock, struct vm_reader *rd, int sigfd, bool tty)
{
  /* The supervisor gone without a status: the VM was killed with the
   * container (delete --force), and the process with it. */
  struct relay r = {sock, sigfd, tty, true, 128 + SIGKILL, rd};
  size_send(&r);
  bool running = on_frames(&r);
  while (running) {
    struct pollfd p[3] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}, {r.in_open ? 0 : -1, POLLIN, 0}};
    if (poll(p, 3, -1) < 0)
      continue;
    if (p[1].revents)
      on_signal(&r);
    if (p[2].revents)
      on_stdin(&r);
    if (p[0].revents && vm_reader_fill(rd, sock) <= 0)
      break;
    running = on_frames(&r);
  }
  return r.status;
}
