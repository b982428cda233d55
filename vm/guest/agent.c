/* The guest init as the container's agent, once the main process runs:
 * relays its stdio and signals, starts the processes `berth exec` asks for
 * (frames tagged with an exec id, several at once) in its namespaces and
 * cgroup, relays theirs, and lists the container's processes for `berth
 * ps`. Single-threaded: one poll loop over the channel, the SIGCHLD
 * signalfd and every process's output. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "guest.h"

#define AGENT_PROCS 33 /* the main process (slot 0) and 32 execs */

struct agent_proc {
  bool used, exited, tty;
  uint32_t id; /* the exec id (slot 0: the main process, untagged frames) */
  int status;
  struct guest_proc p;
};

struct agent {
  int chan, sigfd;
  struct vm_reader *rd;
  const struct cgroup *cg;
  struct agent_proc procs[AGENT_PROCS];
};

static void fd_close(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Sends a frame about slot a: untagged for the main process, else tagged. */
static void send_for(struct agent *g, const struct agent_proc *a, enum vm_msg main_type,
                     enum vm_msg exec_type, const void *data, size_t len)
{
  if (a == &g->procs[0])
    vm_msg_send(g->chan, main_type, data, len);
  else
    vm_msg_send_tagged(g->chan, exec_type, a->id, data, len);
}

static void output_relay(struct agent *g, struct agent_proc *a, int *fd, bool err_stream)
{
  static char buf[VM_MSG_MAX - 4];
  ssize_t n = read(*fd, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0) {
    fd_close(fd); /* EOF, or EIO: a terminal whose every slave fd is closed */
    return;
  }
  send_for(g, a, err_stream ? VM_MSG_STDERR : VM_MSG_STDOUT,
           err_stream ? VM_MSG_EXEC_STDERR : VM_MSG_EXEC_STDOUT, buf, (size_t)n);
}

/* An exec'd process is done when it exits, with what it wrote by then:
 * anything it left running in the background may hold its pipes. */
static void exec_finish(struct agent *g, struct agent_proc *a)
{
  int *fds[2] = {&a->p.out, &a->p.err};
  for (int i = 0; i < 2; i++) {
    if (*fds[i] < 0)
      continue;
    fcntl(*fds[i], F_SETFL, fcntl(*fds[i], F_GETFL) | O_NONBLOCK);
    struct pollfd f = {*fds[i], POLLIN, 0};
    while (*fds[i] >= 0 && poll(&f, 1, 0) > 0)
      output_relay(g, a, fds[i], i == 1);
    fd_close(fds[i]);
  }
  fd_close(&a->p.in);
  unsigned char st[4];
  vm_u32_encode(st, (uint32_t)a->status);
  vm_msg_send_tagged(g->chan, VM_MSG_EXEC_EXIT, a->id, st, sizeof(st));
  *a = (struct agent_proc){0};
}

/* As PID 1 we reap every orphan; only our processes' statuses count. */
static void reap(struct agent *g)
{
  int ws;
  pid_t r;
  while ((r = waitpid(-1, &ws, WNOHANG)) > 0)
    for (int i = 0; i < AGENT_PROCS; i++) {
      struct agent_proc *a = &g->procs[i];
      if (!a->used || a->exited || a->p.pid != r)
        continue;
      a->exited = true;
      a->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      if (i == 0)
        fd_close(&a->p.in);
      else
        exec_finish(g, a);
    }
}

static void buf_add(struct vm_buf *b, const char *text)
{
  size_t n = strlen(text);
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->data = realloc(b->data, b->cap);
    if (b->data == NULL)
      abort();
  }
  memcpy(b->data + b->len, text, n);
  b->len += n;
}

static struct agent_proc *exec_find(struct agent *g, uint32_t id)
{
  for (int i = 1; i < AGENT_PROCS; i++)
    if (g->procs[i].used && g->procs[i].id == id)
      return &g->procs[i];
  return NULL;
}

static void exec_fail(struct agent *g, uint32_t id, const char *msg)
{
  vm_msg_send_tagged(g->chan, VM_MSG_EXEC_ERROR, id, msg, strlen(msg));
}

static void exec_start(struct agent *g, uint32_t id, const char *data, uint32_t len)
{
  struct agent_proc *a = NULL;
  for (int i = 1; i < AGENT_PROCS && a == NULL; i++)
    if (!g->procs[i].used)
      a = &g->procs[i];
  if (g->procs[0].exited)
    return exec_fail(g, id, "cannot exec in a stopped container");
  if (a == NULL || exec_find(g, id))
    return exec_fail(g, id, "exec: too many processes at once");
  struct guest_spec s = {0};
  struct berth_err *e = NULL;
  if (guest_spec_decode(data, len, &s, &e) == 0 &&
      guest_spawn(&s, g->cg, g->procs[0].p.pid, &a->p, &e) == 0) {
    *a = (struct agent_proc){.used = true, .tty = s.terminal, .id = id, .p = a->p};
    unsigned char pid[4];
    vm_u32_encode(pid, (uint32_t)a->p.pid);
    vm_msg_send_tagged(g->chan, VM_MSG_EXEC_STARTED, id, pid, sizeof(pid));
  } else {
    exec_fail(g, id, e->msg);
    berth_err_free(&e);
  }
  guest_spec_free(&s);
}

static void stdin_write(struct agent_proc *a, uint8_t type, const char *data, uint32_t len)
{
  if (a->p.in < 0)
    return;
  bool eof = type == VM_MSG_STDIN_EOF || type == VM_MSG_EXEC_STDIN_EOF;
  if (eof || write_all(a->p.in, data, len) < 0)
    fd_close(&a->p.in); /* EOF, or a reader that went away */
}

/* RESIZE: u32 rows, u32 cols for the process's terminal. */
static void resize(struct agent_proc *a, const char *data, uint32_t len)
{
  if (!a->tty || a->p.out < 0 || len < 8)
    return;
  struct winsize ws = {.ws_row = (unsigned short)vm_u32_decode(data, 4),
                       .ws_col = (unsigned short)vm_u32_decode(data + 4, 4)};
  ioctl(a->p.out, TIOCSWINSZ, &ws);
}

static void proc_control(struct agent_proc *a, uint8_t type, const char *data, uint32_t len)
{
  if (a == NULL || a->exited)
    return;
  if (type == VM_MSG_SIGNAL || type == VM_MSG_EXEC_SIGNAL)
    kill(a->p.pid, (int)vm_u32_decode(data, len));
  else if (type == VM_MSG_RESIZE || type == VM_MSG_EXEC_RESIZE)
    resize(a, data, len);
  else
    stdin_write(a, type, data, len);
}

/* ---- ps: the processes of the main process's pid namespace ---- */

struct ps_row {
  pid_t pid, ppid, nspid; /* pid, ppid: the guest's view; nspid: the container's */
  unsigned uid;
  char state;
};

/* /proc/PID/status: State, PPid, Uid, and the last NSpid (innermost). */
static bool ps_row_read(pid_t pid, struct ps_row *r)
{
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  cleanup_fclose FILE *f = fopen(path, "re");
  if (f == NULL)
    return false;
  *r = (struct ps_row){.pid = pid, .nspid = pid, .state = '?'};
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "State:", 6) == 0)
      sscanf(line + 6, " %c", &r->state);
    else if (strncmp(line, "PPid:", 5) == 0)
      r->ppid = (pid_t)strtol(line + 5, NULL, 10);
    else if (strncmp(line, "Uid:", 4) == 0)
      r->uid = (unsigned)strtoul(line + 4, NULL, 10);
    else if (strncmp(line, "NSpid:", 6) == 0) {
      char *last = strrchr(line, '\t') ? strrchr(line, '\t') : line + 6;
      r->nspid = (pid_t)strtol(last, NULL, 10);
    }
  }
  return true;
}

static void ps_cmdline(pid_t pid, char *out, size_t len)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;
  if (n <= 0)
    n = 0;
  out[n] = '\0';
  for (ssize_t i = 0; i < n; i++)
    if (i < n - 1 && out[i] == '\0')
      out[i] = ' ';
}

static bool same_pidns(pid_t pid, const char *want)
{
  char path[64], link[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  if (n <= 0)
    return false;
  link[n] = '\0';
  return strcmp(link, want) == 0;
}

/* "PID PPID UID STAT COMMAND" with the container's pids (what its own
 * ps and kill use); PPID 0 for its PID 1. */
static void agent_ps(const struct guest_proc *main_proc, struct vm_buf *out)
{
  static struct ps_row rows[1024];
  size_t n = 0;
  char path[64], want[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)main_proc->pid);
  ssize_t wl = readlink(path, want, sizeof(want) - 1);
  want[wl > 0 ? wl : 0] = '\0';
  cleanup_dir DIR *d = opendir("/proc");
  struct dirent *de;
  while (d && wl > 0 && n < 1024 && (de = readdir(d))) {
    pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
    if (pid > 0 && same_pidns(pid, want) && ps_row_read(pid, &rows[n]))
      n++;
  }
  char line[1024], cmd[768];
  snprintf(line, sizeof(line), "%7s %7s %5s %4s %s\n", "PID", "PPID", "UID", "STAT", "COMMAND");
  buf_add(out, line);
  for (size_t i = 0; i < n; i++) {
    pid_t ppid = 0;
    for (size_t k = 0; k < n; k++)
      if (rows[k].pid == rows[i].ppid)
        ppid = rows[k].nspid;
    ps_cmdline(rows[i].pid, cmd, sizeof(cmd));
    snprintf(line, sizeof(line), "%7d %7d %5u %4c %s\n", (int)rows[i].nspid, (int)ppid, rows[i].uid,
             rows[i].state, cmd);
    buf_add(out, line);
  }
}

static void control_frame(struct agent *g, uint8_t type, const char *data, uint32_t len)
{
  if (!vm_msg_is_exec_request(type))
    return proc_control(&g->procs[0], type, data, len);
  if (len < 4)
    return;
  uint32_t id = vm_u32_decode(data, 4);
  if (type == VM_MSG_EXEC)
    return exec_start(g, id, data + 4, len - 4);
  if (type == VM_MSG_PS) {
    struct vm_buf b = {0};
    agent_ps(&g->procs[0].p, &b);
    vm_msg_send_tagged(g->chan, VM_MSG_PS_REPLY, id, b.data,
                       b.len < VM_MSG_MAX - 4 ? b.len : VM_MSG_MAX - 4);
    vm_buf_free(&b);
    return;
  }
  proc_control(exec_find(g, id), type, data + 4, len - 4);
}

static void control_read(struct agent *g)
{
  if (vm_reader_fill(g->rd, g->chan) <= 0) {
    fprintf(stderr, "berth-init: control channel closed\n");
    guest_poweroff();
  }
  uint8_t type;
  const char *data;
  uint32_t len;
  while (vm_reader_next(g->rd, &type, &data, &len) == 1)
    control_frame(g, type, data, len);
}

/* The poll set: channel, SIGCHLD, then out and err of every process. */
static nfds_t poll_fill(const struct agent *g, struct pollfd *f, struct agent_proc **owner)
{
  nfds_t n = 0;
  f[n++] = (struct pollfd){g->chan, POLLIN, 0};
  f[n++] = (struct pollfd){g->sigfd, POLLIN, 0};
  for (int i = 0; i < AGENT_PROCS; i++) {
    const struct agent_proc *a = &g->procs[i];
    if (!a->used)
      continue;
    owner[n] = (struct agent_proc *)a;
    f[n++] = (struct pollfd){a->p.out, POLLIN, 0};
    owner[n] = (struct agent_proc *)a;
    f[n++] = (struct pollfd){a->p.err, POLLIN, 0};
  }
  return n;
}

static bool main_done(const struct agent *g)
{
  const struct agent_proc *m = &g->procs[0];
  return m->exited && m->p.out < 0 && m->p.err < 0;
}

/* Until the main process exits and its output is drained (what it left
 * running may hold the pipes: they get 200 ms once it is gone); its pid
 * namespace takes the execs with it, reported before it. */
int agent_run(int chan, struct vm_reader *rd, int sigfd, const struct cgroup *cg,
              struct guest_proc *main_proc)
{
  static struct agent g;
  g = (struct agent){.chan = chan, .sigfd = sigfd, .rd = rd, .cg = cg};
  g.procs[0] = (struct agent_proc){.used = true, .p = *main_proc};
  g.procs[0].tty = main_proc->err < 0;
  while (!main_done(&g)) {
    struct pollfd f[2 + 2 * AGENT_PROCS];
    struct agent_proc *owner[2 + 2 * AGENT_PROCS];
    nfds_t n = poll_fill(&g, f, owner);
    int r = poll(f, n, g.procs[0].exited ? 200 : -1);
    if (r == 0)
      break;
    if (r < 0)
      continue;
    if (f[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof(si)) > 0)
        reap(&g);
    }
    for (nfds_t i = 2; i < n; i++)
      if (f[i].revents && f[i].fd >= 0 && owner[i]->used && f[i].fd == owner[i]->p.out)
        output_relay(&g, owner[i], &owner[i]->p.out, false);
      else if (f[i].revents && f[i].fd >= 0 && owner[i]->used && f[i].fd == owner[i]->p.err)
        output_relay(&g, owner[i], &owner[i]->p.err, true);
    if (f[0].revents)
      control_read(&g);
  }
  for (int i = 1; i < AGENT_PROCS; i++)
    if (g.procs[i].used) {
      g.procs[i].status = 128 + SIGKILL; /* gone with the pid namespace */
      exec_finish(&g, &g.procs[i]);
    }
  return g.procs[0].status;
}
