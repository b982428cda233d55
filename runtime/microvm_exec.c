/* `berth exec` into a microVM container: the guest init starts the process
 * in the container's namespaces and cgroup (vm/guest/agent.c); here berth
 * forks its stand-in, moved into the container's host cgroup (so delete
 * --force and pause reach it), which relays stdio, signals and the exit
 * status (vm/exec.c). With a terminal the guest's pty is the process's;
 * the stand-in holds the slave of a host pty, raw, whose master goes over
 * --console-socket or to runtime/'s relay, as the linux backend's does. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/signals.h"
#include "../common/fileutil.h"
#include "../vm/vm.h"
#include "linux.h"
#include "microvm.h"

/* The host end of the terminal: the master for the caller, the slave for
 * the stand-in, with the process's initial size. */
int microvm_pty_open(const struct spec *s, int *master, int *slave, struct berth_err **err)
{
  cleanup_close int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0 || unlockpt(m) < 0)
    return berth_err_sys(err, "terminal: open a pty");
  int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (sl < 0)
    return berth_err_sys(err, "terminal: open pty peer");
  if (s->console_height && s->console_width) {
    struct winsize ws = {.ws_row = (unsigned short)s->console_height,
                         .ws_col = (unsigned short)s->console_width};
    ioctl(m, TIOCSWINSZ, &ws);
  }
  *master = steal_fd(&m);
  *slave = sl;
  return 0;
}

/* The slave as stdio and controlling terminal (SIGWINCH tells us of a
 * resize), raw: the guest's pty does the line discipline. */
void microvm_pty_take(int slave)
{
  setsid();
  ioctl(slave, TIOCSCTTY, 0);
  struct termios t;
  if (tcgetattr(slave, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(slave, TCSANOW, &t);
  }
  for (int fd = 0; fd < 3; fd++)
    dup2(slave, fd);
  close(slave);
}

/* The stand-in, berth's child: never returns. */
_Noreturn static void standin_main(const struct state *st, int sock, struct vm_reader *rd,
                                   int slave)
{
  struct berth_err *e = NULL;
  /* Outside the cgroup it still ends with the VM (the socket's EOF). */
  if (st->cg && cgroup_enter_self(st->cg, false, &e) < 0)
    berth_err_free(&e);
  sigset_t set;
  signals_forward_set(&set);
  sigprocmask(SIG_SETMASK, &set, NULL);
  int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (slave >= 0)
    microvm_pty_take(slave);
  int keep[] = {sock, sigfd};
  fds_close_except(0, keep, 2);
  _exit(vm_exec_relay(sock, rd, sigfd, slave >= 0));
}

static int exec_check(const struct backend_exec_opts *o, struct berth_err **err)
{
  if (o->preserve_fds)
    return berth_err_set(err, 0, "microvm: --preserve-fds cannot pass host fds into the guest");
  if (o->cgroups && o->cgroups[0])
    return berth_err_set(err, 0, "microvm: exec --cgroup is not supported yet");
  return 0;
}

/* Starts the process in the guest: the connection to the supervisor once
 * it runs, and what came after its STARTED in rd. */
static int guest_start(const struct backend_exec_opts *o, const struct spec *s,
                       struct vm_reader *rd, struct berth_err **err)
{
  struct vm_buf rec = {0};
  int sock = -1;
  if (microvm_process_records(s, &rec, err) == 0)
    sock = vm_exec_request(o->dirfd, rec.data, rec.len, VM_BOOT_TIMEOUT_DEFAULT, rd, err);
  vm_buf_free(&rec);
  return sock;
}

int microvm_exec(const struct state *st, const struct spec *s, const struct backend_exec_opts *o,
                 struct backend_created *out, struct berth_err **err)
{
  out->pty = out->pidfd = out->sync_fd = -1;
  if (exec_check(o, err) < 0)
    return -1;
  cleanup_free struct vm_reader *rd = xcalloc(1, sizeof(*rd));
  cleanup_close int master = -1;
  cleanup_close int slave = -1;
  if (s->terminal && microvm_pty_open(s, &master, &slave, err) < 0)
    return -1;
  if (master >= 0 && o->console_socket && tty_send_to_socket(o->console_socket, master, err) < 0)
    return -1;
  /* From here a failure, or our death, closes the connection: the
   * supervisor then kills the process in the guest. */
  cleanup_close int sock = guest_start(o, s, rd, err);
  if (sock < 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0)
    standin_main(st, sock, rd, slave);
  if (pid < 0)
    return berth_err_sys(err, "fork");
  out->pid = pid;
  out->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (master >= 0 && o->console_socket == NULL)
    out->pty = steal_fd(&master);
  return 0;
}
