/* One container's VM, run by its supervisor process on the host (berth's
 * child, in the container's cgroup): virtiofsd serves the rootfs, QEMU
 * runs the guest, and this process speaks the control channel: SPEC after
 * READY, START when berth start writes the exec fifo, then stdio and
 * signals until EXIT. Every wait before the process runs has the boot
 * deadline; QEMU and virtiofsd die with this process (PDEATHSIG) and are
 * killed when it returns. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/signals.h"
#include "../common/fileutil.h"
#include "proto.h"
#include "vm.h"

enum phase { PH_BOOT, PH_PREPARE, PH_CREATED, PH_STARTING, PH_RUNNING };

/* Milliseconds since the session began, for the trace. */
enum mark { M_QEMU, M_READY, M_PREPARED, M_START, M_STARTED, M_EXIT, M_COUNT };
static const char *const mark_names[M_COUNT] = {"qemu_spawned", "guest_ready", "guest_prepared",
                                                "start",        "started",     "exited"};

struct sess {
  const struct vm_session *s;
  pid_t qemu, vfsd;
  int ctl, sigfd, start_fd;
  bool stdin_open;
  enum phase phase;
  int status;
  uint64_t t0, deadline;
  double mark[M_COUNT];
  char guest_times[128]; /* READY's and STARTED's payloads */
  long qemu_maxrss_kib;
  struct vm_reader rd;
  struct vm_mux mux; /* berth exec and ps */
};

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void mark(struct sess *x, enum mark m)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  x->mark[m] = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 - (double)x->t0;
}

/* The last non-empty line of a log in the work directory, for errors. */
static void log_tail(int dir, const char *name, char *out, size_t len)
{
  cleanup_free char *text = NULL;
  struct berth_err *e = NULL;
  out[0] = '\0';
  if (read_file_at(dir, name, 1 << 20, &text, NULL, &e) < 0) {
    berth_err_free(&e);
    return;
  }
  char *end = text + strlen(text);
  while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
    *--end = '\0';
  char *start = strrchr(text, '\n');
  snprintf(out, len, "%s", start ? start + 1 : text);
}

/* Child: keep[i] (-1: none) becomes fd 3 + i, inherited across exec;
 * moved out of the way first, so one cannot overwrite another. Returns
 * the first fd past them. */
static int fds_place(const int keep[2])
{
  int high[2] = {-1, -1}, next = 3;
  for (int i = 0; i < 2; i++)
    if (keep[i] >= 0 && (high[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 10)) < 0)
      _exit(127);
  for (int i = 0; i < 2; i++)
    if (high[i] >= 0 && dup2(high[i], next = 3 + i) < 0)
      _exit(127);
  return high[0] >= 0 || high[1] >= 0 ? next + 1 : 3;
}

/* How a helper process starts: keep[i] (-1: none) becomes fd 3 + i; in
 * new namespaces (unshare flags); with root_over_cwd, see root_copy. */
struct spawn_how {
  int keep[2];
  int unshare_flags;
  bool root_over_cwd;
};

/* Child, in a mount namespace of its own: a copy of the whole mount tree
 * over the working directory (the state dir), for virtiofsd to serve a
 * root of "/" (`sandbox --host`): it pivots into what it serves, and
 * pivot_root(".", ".") of the real root is EBUSY. Nothing shows on the
 * host; the cwd and the sockets in it stay the real directory's. */
static int root_copy(void)
{
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    return -1;
  int tree = open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0 || move_mount(tree, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return -1;
  close(tree);
  return 0;
}

/* Child, before exec: dies with the supervisor, logs into the work dir,
 * keeps only stdio and how->keep (VM_CTL_FD, VM_TAP_FD). */
_Noreturn static void spawn_child(char **argv, const char *log, const struct spawn_how *how)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int null = open("/dev/null", O_RDONLY);
  int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (null < 0 || out < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
    _exit(127);
  close_range((unsigned)fds_place(how->keep), ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if ((how->unshare_flags && unshare(how->unshare_flags) < 0) ||
      (how->root_over_cwd && root_copy() < 0)) {
    dprintf(2, "%s: %s\n", how->root_over_cwd ? "copy the root" : "unshare", strerror(errno));
    _exit(127);
  }
  execvp(argv[0], argv);
  dprintf(2, "%s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static pid_t spawn(char **argv, const char *log, const struct spawn_how *how,
                   struct berth_err **err)
{
  pid_t pid = fork();
  if (pid < 0)
    return berth_err_sys(err, "fork %s", argv[0]);
  if (pid == 0)
    spawn_child(argv, log, how);
  return pid;
}

/* virtiofsd serves the socket we listen on (QEMU connects to it by
 * name); it takes the connection once it is ready. */
static int vfsd_start(struct sess *x, struct berth_err **err)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", VM_VFS_SOCK);
  unlinkat(x->s->workdir, VM_VFS_SOCK, 0);
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
    return berth_err_sys(err, "microvm: virtiofsd socket");
  struct spawn_how how = {{fd, -1}, 0, strcmp(x->s->rootfs, "/") == 0};
  char cwd[PATH_MAX];
  if (how.root_over_cwd && getcwd(cwd, sizeof(cwd)) == NULL)
    return berth_err_sys(err, "microvm: state directory");
  char **argv = vm_virtiofsd_argv(how.root_over_cwd ? cwd : x->s->rootfs);
  x->vfsd = spawn(argv, "virtiofsd.log", &how, err);
  vm_argv_free(argv);
  return x->vfsd < 0 ? -1 : 0;
}

/* QEMU in mount, IPC, UTS and network namespaces of its own (it needs no
 * network: the channel is an inherited socket, the rootfs a unix socket,
 * the guest's network a tap made in berth's namespace). */
static int qemu_start(struct sess *x, struct berth_err **err)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_err_sys(err, "socketpair");
  char **argv = vm_qemu_argv(x->s->cfg, x->s->cfg->accel == VM_ACCEL_TCG ? vm_tsc_khz() : 0);
  struct spawn_how how = {{sv[1], x->s->cfg->net ? x->s->tap_fd : -1},
                          CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET};
  x->qemu = spawn(argv, "vmm.log", &how, err);
  vm_argv_free(argv);
  close(sv[1]);
  x->ctl = sv[0];
  mark(x, M_QEMU);
  return x->qemu < 0 ? -1 : 0;
}

/* Why the guest is gone before it said EXIT: QEMU's own error, else the
 * guest console's last line (a panic, the init's complaint). */
static int guest_gone(struct sess *x, const char *what, struct berth_err **err)
{
  char vmm[512], console[512];
  log_tail(x->s->workdir, "vmm.log", vmm, sizeof(vmm));
  log_tail(x->s->workdir, VM_CONSOLE_LOG, console, sizeof(console));
  const char *why = vmm[0] ? vmm : console[0] ? console : "no output";
  return berth_err_set(err, 0, "microvm: %s (%s)", what, why);
}

static const char *gone_what(const struct sess *x)
{
  return x->phase == PH_BOOT ? "the guest stopped before its init was ready" : "the guest stopped";
}

/* With a terminal, our stdio is the slave of the host pty whose master
 * the caller holds: its size is the guest pty's. */
static void size_send(struct sess *x)
{
  struct winsize ws;
  if (!x->s->tty || ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return;
  unsigned char b[8];
  vm_u32_encode(b, ws.ws_row);
  vm_u32_encode(b + 4, ws.ws_col);
  vm_msg_send(x->ctl, VM_MSG_RESIZE, b, sizeof(b));
}

static int on_frame(struct sess *x, uint8_t type, const char *d, uint32_t len,
                    struct berth_err **err)
{
  size_t used = strlen(x->guest_times);
  switch (type) {
  case VM_MSG_READY:
    mark(x, M_READY);
    snprintf(x->guest_times + used, sizeof(x->guest_times) - used, "%.*s ",
             (int)(len > 60 ? 60 : len), d);
    x->phase = PH_PREPARE;
    return vm_msg_send(x->ctl, VM_MSG_SPEC, x->s->spec, x->s->spec_len) < 0
               ? berth_err_sys(err, "microvm: send the spec")
               : 0;
  case VM_MSG_PREPARED:
    mark(x, M_PREPARED);
    x->phase = PH_CREATED;
    x->s->on_created(x->s->arg);
    return 0;
  case VM_MSG_STARTED:
    mark(x, M_STARTED);
    snprintf(x->guest_times + used, sizeof(x->guest_times) - used, "%.*s",
             (int)(len > 30 ? 30 : len), d);
    x->phase = PH_RUNNING;
    close(x->start_fd);
    x->start_fd = -1;
    size_send(x);
    x->s->on_started(x->s->arg);
    return 0;
  case VM_MSG_STDOUT:
  case VM_MSG_STDERR:
    write_all(type == VM_MSG_STDOUT ? 1 : 2, d, len); /* a closed stdout is the caller's choice */
    return 0;
  case VM_MSG_EXIT:
    mark(x, M_EXIT);
    x->status = (int)(vm_u32_decode(d, len) & 0xff);
    return 0;
  case VM_MSG_ERROR:
    return berth_err_set(err, 0, "%.*s", (int)(len > 1500 ? 1500 : len), d);
  default:
    if (vm_msg_is_exec_reply(type)) {
      vm_mux_on_guest(&x->mux, x->ctl, type, d, len);
      return 0;
    }
    return berth_err_set(err, EPROTO, "microvm: unexpected message %u from the guest", type);
  }
}

static int on_control(struct sess *x, struct berth_err **err)
{
  long n = vm_reader_fill(&x->rd, x->ctl);
  if (n == 0 || (n < 0 && errno != EAGAIN))
    return guest_gone(x, gone_what(x), err);
  uint8_t type;
  const char *d;
  uint32_t len;
  int r;
  while (x->status < 0 && (r = vm_reader_next(&x->rd, &type, &d, &len)) == 1)
    if (on_frame(x, type, d, len, err) < 0)
      return -1;
  if (x->status < 0 && r < 0)
    return berth_err_set(err, EPROTO, "microvm: malformed frame from the guest");
  return 0;
}

/* Has QEMU exited (within wait_ms)? Reaps it. */
static bool qemu_reaped(struct sess *x, int wait_ms)
{
  struct rusage ru;
  for (int waited = 0; x->qemu > 0; waited += 10) {
    if (wait4(x->qemu, NULL, WNOHANG, &ru) == x->qemu) {
      x->qemu = 0;
      x->qemu_maxrss_kib = ru.ru_maxrss;
      return true;
    }
    if (waited >= wait_ms)
      break;
    usleep(10000);
  }
  return false;
}

/* A signal for the container: the process's once it runs; before that
 * the container ends as a killed process would (128+N). */
static int on_signal(struct sess *x, struct berth_err **err)
{
  struct signalfd_siginfo si;
  if (read(x->sigfd, &si, sizeof(si)) != sizeof(si))
    return 0;
  int sig = (int)si.ssi_signo;
  /* A write to an exec client that went away: ours, not the container's. */
  if (sig == SIGPIPE && si.ssi_pid == (uint32_t)getpid())
    return 0;
  if (sig == SIGCHLD) {
    if (qemu_reaped(x, 0))
      return guest_gone(x, gone_what(x), err);
    if (x->vfsd > 0 && waitpid(x->vfsd, NULL, WNOHANG) == x->vfsd) {
      x->vfsd = 0;
      /* virtiofsd ends when QEMU closes its socket: a QEMU on its way out
       * has the better reason. */
      if (qemu_reaped(x, 500))
        return guest_gone(x, gone_what(x), err);
      char tail[512];
      log_tail(x->s->workdir, "virtiofsd.log", tail, sizeof(tail));
      return berth_err_set(err, 0, "microvm: virtiofsd failed: %s", tail[0] ? tail : "no output");
    }
    return 0;
  }
  if (sig == SIGWINCH && x->s->tty) {
    if (x->phase == PH_RUNNING)
      size_send(x);
    return 0;
  }
  if (x->phase == PH_RUNNING || x->phase == PH_STARTING)
    return vm_msg_send_u32(x->ctl, VM_MSG_SIGNAL, (uint32_t)sig) < 0
               ? berth_err_sys(err, "microvm: forward signal")
               : 0;
  /* Ignored by default: they would not end a process either. */
  if (sig != SIGWINCH && sig != SIGURG)
    x->status = 128 + sig;
  return 0;
}

static void on_start(struct sess *x)
{
  char b;
  if (read(x->start_fd, &b, 1) != 1)
    return;
  mark(x, M_START);
  x->phase = PH_STARTING;
  x->deadline = now_ms() + (uint64_t)x->s->cfg->boot_timeout_s * 1000;
  vm_msg_send(x->ctl, VM_MSG_START, NULL, 0);
}

static void on_stdin(struct sess *x)
{
  char buf[16384];
  ssize_t n = read(0, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0) {
    x->stdin_open = false;
    vm_msg_send(x->ctl, VM_MSG_STDIN_EOF, NULL, 0);
    return;
  }
  vm_msg_send(x->ctl, VM_MSG_STDIN, buf, (size_t)n);
}

static int deadline_passed(struct sess *x, struct berth_err **err)
{
  char console[512];
  log_tail(x->s->workdir, VM_CONSOLE_LOG, console, sizeof(console));
  return berth_err_set(err, 0, "microvm: %s within %u s (dev.berth.vm.boot_timeout)%s%s%s",
                       x->phase == PH_STARTING ? "the process did not start"
                                               : "the guest did not boot",
                       x->s->cfg->boot_timeout_s, console[0] ? "; console: \"" : "", console,
                       console[0] ? "\"" : "");
}

static int poll_once(struct sess *x, struct berth_err **err)
{
  bool booting = x->phase == PH_BOOT || x->phase == PH_PREPARE || x->phase == PH_STARTING;
  struct pollfd f[4 + 1 + VM_MUX_CLIENTS] = {
      {x->ctl, POLLIN, 0},
      {x->sigfd, POLLIN, 0},
      {x->phase == PH_CREATED ? x->start_fd : -1, POLLIN, 0},
      {x->phase == PH_RUNNING && x->stdin_open ? 0 : -1, POLLIN, 0}};
  nfds_t n = 4 + vm_mux_pollfds(&x->mux, f + 4);
  uint64_t now = now_ms();
  int timeout = booting ? (now >= x->deadline ? 0 : (int)(x->deadline - now)) : -1;
  int r = poll(f, n, timeout);
  if (r < 0)
    return errno == EINTR ? 0 : berth_err_sys(err, "poll");
  if (r == 0 && booting)
    return deadline_passed(x, err);
  if (f[1].revents && on_signal(x, err) < 0)
    return -1;
  if (x->status >= 0)
    return 0;
  if (f[0].revents && on_control(x, err) < 0)
    return -1;
  if (f[2].revents)
    on_start(x);
  if (f[3].revents)
    on_stdin(x);
  vm_mux_on_poll(&x->mux, f + 4, x->ctl, x->phase == PH_RUNNING);
  return 0;
}

static void trace_write(const struct sess *x)
{
  if (x->s->trace == NULL)
    return;
  cleanup_fclose FILE *f = fopen(x->s->trace, "we");
  if (f == NULL)
    return;
  for (int i = 0; i < M_COUNT; i++)
    fprintf(f, "%s %.1f\n", mark_names[i], x->mark[i]);
  /* READY: "INIT_NS READY_NS", STARTED: "NS", all guest CLOCK_BOOTTIME. */
  unsigned long long g[3] = {0};
  const char *p = x->guest_times;
  for (int i = 0; i < 3 && *p; i++) {
    char *end;
    g[i] = strtoull(p, &end, 10);
    p = end;
  }
  fprintf(f, "guest_init %.1f\nguest_ready_at %.1f\nguest_started_at %.1f\n", (double)g[0] / 1e6,
          (double)g[1] / 1e6, (double)g[2] / 1e6);
  fprintf(f, "qemu_maxrss_kib %ld\naccel %s\n", x->qemu_maxrss_kib,
          x->s->cfg->accel == VM_ACCEL_KVM ? "kvm" : "tcg");
}

static void children_kill(struct sess *x)
{
  struct rusage ru;
  if (x->qemu > 0) {
    kill(x->qemu, SIGKILL);
    if (wait4(x->qemu, NULL, 0, &ru) == x->qemu)
      x->qemu_maxrss_kib = ru.ru_maxrss;
  }
  if (x->vfsd > 0) {
    kill(x->vfsd, SIGKILL);
    waitpid(x->vfsd, NULL, 0);
  }
}

static int signals_take(struct berth_err **err)
{
  sigset_t set;
  signals_forward_set(&set);
  sigprocmask(SIG_SETMASK, &set, NULL);
  int fd = signalfd(-1, &set, SFD_CLOEXEC);
  return fd < 0 ? berth_err_sys(err, "signalfd") : fd;
}

int vm_session_run(const struct vm_session *s)
{
  struct sess *x = xcalloc(1, sizeof(*x));
  *x = (struct sess){.s = s, .ctl = -1, .start_fd = s->start_fd, .stdin_open = true, .status = -1};
  x->mux.listen = -1;
  for (int i = 0; i < VM_MUX_CLIENTS; i++)
    x->mux.c[i].fd = -1;
  x->t0 = now_ms();
  x->deadline = x->t0 + (uint64_t)s->cfg->boot_timeout_s * 1000;
  struct berth_err *err = NULL;
  if (fchdir(s->workdir) < 0)
    berth_err_sys(&err, "microvm: enter the state directory");
  else if ((x->sigfd = signals_take(&err)) >= 0 && vm_mux_open(&x->mux, &err) == 0 &&
           vfsd_start(x, &err) == 0 && qemu_start(x, &err) == 0)
    while (x->status < 0 && poll_once(x, &err) == 0)
      ;
  vm_mux_close(&x->mux, x->ctl);
  children_kill(x);
  trace_write(x);
  int ret = err ? -1 : x->status;
  if (err) {
    s->on_error(s->arg, err);
    berth_err_free(&err);
  }
  free(x);
  return ret;
}
