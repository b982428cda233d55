/* Terminals: the container's pty is made inside the container, from its own
 * devpts, so the slave belongs to it; the master goes to the caller, either
 * over --console-socket (SCM_RIGHTS, what conmon and containerd expect) or
 * kept by berth, which then relays the caller's terminal to it. */
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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fdpass.h"
#include "../common/fileutil.h"
#include "linux.h"

#define PTMX_MAJOR 5
#define PTMX_MINOR 2
#define PTS_MAJOR_FIRST 136 /* UNIX98_PTY_SLAVE_MAJOR, 8 majors */
#define PTS_MAJOR_LAST 143

static bool is_chr(int fd, unsigned maj_lo, unsigned maj_hi, int min)
{
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
    return false;
  unsigned maj = major(st.st_rdev);
  return maj >= maj_lo && maj <= maj_hi && (min < 0 || minor(st.st_rdev) == (unsigned)min);
}

int tty_setup_child(const struct spec *s, int *master_out, struct berth_err **err)
{
  /* /dev/ptmx is the container's (usually a symlink to pts/ptmx): whatever
   * it is, only the multiplexer device itself is accepted. */
  cleanup_close int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return berth_err_sys(err, "terminal: open /dev/ptmx");
  if (!is_chr(master, PTMX_MAJOR, PTMX_MAJOR, PTMX_MINOR))
    return berth_err_set(err, 0, "terminal: /dev/ptmx is not the pty multiplexer");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
    return berth_err_sys(err, "terminal: unlock pty");
  /* The peer by fd, never by a /dev/pts/N path the container could swap. */
  cleanup_close int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return berth_err_sys(err, "terminal: open pty peer");
  if (!is_chr(slave, PTS_MAJOR_FIRST, PTS_MAJOR_LAST, -1))
    return berth_err_set(err, 0, "terminal: pty peer is not a pts device");
  /* The process's own terminal, as with runc: its uid (the group stays
   * devpts's, "tty"), or it could not chmod it or run mesg/write. */
  if (fchown(slave, s->uid, (gid_t)-1) < 0)
    return berth_err_sys(err, "terminal: chown pty to uid %u", (unsigned)s->uid);
  if (s->console_height || s->console_width) {
    struct winsize ws = {.ws_row = (unsigned short)s->console_height,
                         .ws_col = (unsigned short)s->console_width};
    ioctl(master, TIOCSWINSZ, &ws);
  }
  if (setsid() < 0)
    return berth_err_sys(err, "terminal: setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return berth_err_sys(err, "terminal: make it the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0)
      return berth_err_sys(err, "terminal: dup to fd %d", fd);
  *master_out = steal_fd(&master);
  return 0;
}

int tty_send_to_socket(const char *path, int master, struct berth_err **err)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path))
    return berth_err_set(err, ENAMETOOLONG, "--console-socket %s", path);
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    return berth_err_sys(err, "--console-socket %s", path);
  static const char name[] = "/dev/ptmx";
  ssize_t n = fd_send(sock, name, sizeof(name) - 1, master);
  if (n < 0)
    return berth_err_sys(err, "--console-socket %s: send pty", path);
  return 0;
}

int tty_check_socket(const char *path, struct berth_err **err)
{
  struct stat st;
  if (stat(path, &st) < 0)
    return berth_err_sys(err, "--console-socket %s", path);
  if (!S_ISSOCK(st.st_mode))
    return berth_err_set(err, 0, "--console-socket %s: not a unix socket", path);
  return 0;
}

/* Copies what is readable from `from` to `to`; returns -1 at EOF/error. */
static int pump(int from, int to)
{
  char buf[8192];
  ssize_t n;
  do
    n = read(from, buf, sizeof(buf));
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return n < 0 && errno == EAGAIN ? 0 : -1;
  write_all(to, buf, (size_t)n);
  return 0;
}

static void winsize_copy(int from, int to)
{
  struct winsize ws;
  /* A terminal of unknown size (0x0) would only erase a known one. */
  if (ioctl(from, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
    ioctl(to, TIOCSWINSZ, &ws);
}

int tty_relay(int master, pid_t pid, int pidfd, const sigset_t *set, int *exit_status)
{
  struct termios saved;
  bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
  }
  if (isatty(0))
    winsize_copy(0, master);
  cleanup_close int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
  bool in_open = true, exited = false;
  while (!exited) {
    struct pollfd p[3] = {
        {.fd = sfd, .events = POLLIN},
        {.fd = master, .events = POLLIN},
        {.fd = in_open ? 0 : -1, .events = POLLIN},
    };
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
      if (pump(master, 1) < 0)
        p[1].fd = -1; /* EIO: every slave fd is closed; wait for the exit */
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
      if (pump(0, master) < 0)
        in_open = false;
    if (!(p[0].revents & POLLIN))
      continue;
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      int sig = (int)si.ssi_signo;
      if (sig == SIGWINCH) {
        winsize_copy(0, master);
      } else if (sig != SIGCHLD) {
        syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
      } else {
        int ws;
        pid_t r;
        while ((r = waitpid(-1, &ws, WNOHANG)) > 0)
          if (r == pid) {
            *exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            exited = true;
          }
      }
    }
  }
  /* What the process wrote just before exiting is still in the pty. */
  int fl = fcntl(master, F_GETFL);
  fcntl(master, F_SETFL, fl | O_NONBLOCK);
  struct pollfd p = {.fd = master, .events = POLLIN};
  while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) && pump(master, 1) == 0)
    ;
  if (raw)
    tcsetattr(0, TCSANOW, &saved);
  return 0;
}
