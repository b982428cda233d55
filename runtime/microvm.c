/* The microvm backend: the backend table over vm/. `create` forks a
 * supervisor (berth's child, moved into the container's cgroup) that runs
 * the VM session; it is the container's pid on the host, holds the exec
 * fifo like the linux init does, and exits with the process's status. So
 * state, start, run's wait and delete work as for the linux backend;
 * kill signals the supervisor, which forwards to the process in the guest. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../vm/proto.h"
#include "../vm/vm.h"
#include "backend.h"
#include "linux.h"
#include "microvm.h"
#include "net.h"

/* ---- the process spec for the guest ---- */

static int mount_record(struct vm_buf *b, const struct spec_mount *m, size_t i,
                        struct berth_err **err)
{
  if (m->bind || m->type == NULL)
    return berth_err_set(err, 0,
                         "config.json: mounts[%zu] (%s): the microvm backend cannot bind host "
                         "paths yet",
                         i, m->destination);
  vm_rec_addf(b, "mount", "%s\x1f%s\x1f%lx\x1f%s", m->destination, m->type, m->flags,
              m->data ? m->data : "");
  return 0;
}

/* The seccomp filter compiled here (seccomp/), for the guest to install:
 * "FLAGS HEX". A notify profile needs its agent on this host: refused. */
static int seccomp_record(const struct spec *s, struct vm_buf *b, struct berth_err **err)
{
  size_t len;
  unsigned flags;
  bool notify;
  const unsigned char *p = seccomp_filter_bytes(s->seccomp, &len, &flags, &notify);
  if (notify)
    return berth_err_set(err, 0, "microvm: seccomp notify (SCMP_ACT_NOTIFY) is not supported");
  cleanup_free char *hex = xcalloc(1, 2 * len + 1);
  for (size_t i = 0; i < len; i++)
    snprintf(hex + 2 * i, 3, "%02x", p[i]);
  vm_rec_addf(b, "seccomp", "%x %s", flags, hex);
  return 0;
}

int microvm_process_records(const struct spec *s, struct vm_buf *b, struct berth_err **err)
{
  for (size_t i = 0; s->args[i]; i++)
    vm_rec_add(b, "arg", s->args[i]);
  for (size_t i = 0; s->env && s->env[i]; i++)
    vm_rec_add(b, "env", s->env[i]);
  vm_rec_add(b, "cwd", s->cwd ? s->cwd : "/");
  vm_rec_addf(b, "uid", "%u", (unsigned)s->uid);
  vm_rec_addf(b, "gid", "%u", (unsigned)s->gid);
  for (size_t i = 0; i < s->n_additional_gids; i++)
    vm_rec_addf(b, "gids", "%u", (unsigned)s->additional_gids[i]);
  if (s->has_umask)
    vm_rec_addf(b, "umask", "%o", (unsigned)s->umask);
  for (size_t i = 0; i < s->n_rlimits; i++)
    vm_rec_addf(b, "rlimit", "%d %llu %llu", s->rlimits[i].resource,
                (unsigned long long)s->rlimits[i].soft, (unsigned long long)s->rlimits[i].hard);
  if (s->has_caps)
    vm_rec_addf(b, "caps", "%llx %llx %llx %llx %llx",
                (unsigned long long)s->caps[CAP_SET_BOUNDING],
                (unsigned long long)s->caps[CAP_SET_EFFECTIVE],
                (unsigned long long)s->caps[CAP_SET_PERMITTED],
                (unsigned long long)s->caps[CAP_SET_INHERITABLE],
                (unsigned long long)s->caps[CAP_SET_AMBIENT]);
  if (s->no_new_privileges)
    vm_rec_add(b, "nnp", "1");
  if (s->terminal)
    vm_rec_add(b, "terminal", "1");
  if (s->console_height && s->console_width)
    vm_rec_addf(b, "console", "%u %u", s->console_height, s->console_width);
  return s->seccomp ? seccomp_record(s, b, err) : 0;
}

static int spec_records(const struct spec *s, struct vm_buf *b, struct berth_err **err)
{
  if (microvm_process_records(s, b, err) < 0)
    return -1;
  if (s->hostname)
    vm_rec_add(b, "hostname", s->hostname);
  vm_rec_add(b, "readonly", s->root_readonly ? "1" : "0");
  if (s->cgroups_path)
    vm_rec_add(b, "cgroups_path", s->cgroups_path);
  json_t *res = json_object_get(json_object_get(s->json, "linux"), "resources");
  if (res) {
    cleanup_free char *text = json_dumps(res, JSON_COMPACT);
    vm_rec_add(b, "resources", text);
  }
  for (size_t i = 0; i < s->n_mounts; i++)
    if (mount_record(b, &s->mounts[i], i, err) < 0)
      return -1;
  return 0;
}

static int spec_check(const struct spec *s, struct berth_err **err)
{
  if (geteuid() != 0)
    return berth_err_set(err, 0, "microvm: needs root (QEMU, virtiofsd and a cgroup)");
  for (int k = HOOK_PRESTART; k <= HOOK_START_CONTAINER; k++)
    if (s->hooks.n[k] > 0)
      return berth_err_set(err, 0,
                           "microvm: %s hooks are not supported yet (only poststart, "
                           "poststop)",
                           hook_kind_name((enum hook_kind)k));
  if (s->net.mode == NET_MODE_SLIRP)
    return berth_err_set(err, 0, "microvm: dev.berth.net=slirp is not supported (use bridge)");
  if (!s->has_process || s->args == NULL)
    return berth_err_set(err, 0, "microvm: config.json has no process");
  return 0;
}

static int vm_for(const struct spec *s, struct vm_config *c, struct berth_err **err)
{
  const struct cgroup_resources *r = &s->resources;
  struct vm_limits lim = {
      .mem_limit = r->has_mem_limit ? r->mem_limit : 0,
      .cpu_quota = r->has_cpu_quota ? r->cpu_quota : 0,
      .cpu_period = r->has_cpu_period ? r->cpu_period : 0,
  };
  if (vm_config_build(json_object_get(s->json, "annotations"), &lim, c, err) < 0 ||
      vm_accel_resolve(c, err) < 0)
    return -1;
  return 0;
}

/* ---- the supervisor ---- */

struct supervisor {
  int sync_fd; /* to berth create: SYNC_READY, SYNC_ERROR; EOF once started */
};

static void sup_created(void *arg)
{
  struct supervisor *p = arg;
  sync_send(p->sync_fd, SYNC_READY, NULL);
}

static void sup_started(void *arg)
{
  struct supervisor *p = arg;
  close(p->sync_fd);
  p->sync_fd = -1;
}

static void sup_error(void *arg, struct berth_err *e)
{
  struct supervisor *p = arg;
  if (p->sync_fd >= 0 && sync_send(p->sync_fd, SYNC_ERROR, e) == 0)
    return;
  dprintf(2, "berth: %s\n", e->msg); /* after start: nobody else will say it */
}

/* Supervisor (berth's child, still root on the host): into the cgroup,
 * then the session. Never returns. */
_Noreturn static void supervisor_main(const struct spec *s, const struct vm_config *c,
                                      const struct cgroup *cg, int sync_fd, int fifo, int workdir,
                                      const struct vm_buf *rec, int tty_slave, int tap_fd)
{
  /* A session of its own, as the linux init has: a terminal's ^C or a
   * signal to berth's process group (timeout(1) sends one) must reach the
   * guest through berth's forwarding, not kill QEMU and virtiofsd. With
   * process.terminal the pty becomes that session's terminal. */
  if (tty_slave >= 0)
    microvm_pty_take(tty_slave);
  else
    setsid();
  int keep[] = {sync_fd, fifo, workdir, tap_fd};
  fds_close_except(0, keep, tap_fd >= 0 ? 4 : 3);
  struct supervisor p = {sync_fd};
  struct berth_err *e = NULL;
  if (cg && cgroup_enter_self(cg, false, &e) < 0) {
    sup_error(&p, e);
    _exit(1);
  }
  struct vm_session sess = {
      .cfg = c,
      .rootfs = s->rootfs,
      .workdir = workdir,
      .spec = rec->data,
      .spec_len = rec->len,
      .start_fd = fifo,
      .tap_fd = tap_fd,
      .trace = getenv("BERTH_VM_TRACE"),
      .tty = tty_slave >= 0,
      .on_created = sup_created,
      .on_started = sup_started,
      .on_error = sup_error,
      .arg = &p,
  };
  int status = vm_session_run(&sess);
  _exit(status < 0 ? 1 : status);
}

/* ---- create ---- */

static int state_save(int dirfd, const char *id, const struct spec *s, pid_t pid, struct cgroup *cg,
                      struct berth_err **err)
{
  struct state st = {
      .id = (char *)id,
      .pid = pid,
      .start_time = proc_start_time(pid),
      .bundle = s->bundle,
      .rootfs = s->rootfs,
      .created = state_now_rfc3339(),
      .oci_version = s->oci_version,
      .backend = s->backend,
      .ns_key = (char *)"",
      .annotations = json_object_get(s->json, "annotations"),
      .cg = cg,
  };
  if (pid > 0 && s->hooks.n[HOOK_POSTSTART] + s->hooks.n[HOOK_POSTSTOP] > 0)
    st.hooks = json_object_get(s->json, "hooks");
  int r = state_write(dirfd, &st, err);
  free(st.created);
  return r;
}

static int config_save(int dirfd, const struct spec *s, struct berth_err **err)
{
  cleanup_free char *text = json_dumps(s->json, JSON_COMPACT);
  if (text == NULL)
    return berth_err_set(err, ENOMEM, "save config");
  return write_file_atomic_at(dirfd, CONFIG_FILE, text, strlen(text), 0600, err);
}

struct launch {
  pid_t pid;
  int pidfd, sync_fd;
  int tty_slave; /* the supervisor's stdio, or -1 */
};

/* Forks the supervisor and waits until the guest is prepared (or fails). */
static int supervisor_spawn(int dirfd, const struct spec *s, const struct vm_config *c,
                            const struct cgroup *cg, const struct vm_buf *rec, int tap_fd,
                            struct launch *l, struct berth_err **err)
{
  if (mkfifoat(dirfd, EXEC_FIFO, 0600) < 0)
    return berth_err_sys(err, "create exec fifo");
  cleanup_close int fifo = openat(dirfd, EXEC_FIFO, O_RDWR | O_CLOEXEC);
  /* A description of its own: the supervisor must not share our lock. */
  cleanup_free char *self = xasprintf("/proc/self/fd/%d", dirfd);
  cleanup_close int workdir = open(self, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int sv[2];
  if (fifo < 0 || workdir < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_err_sys(err, "microvm: prepare the supervisor");
  l->pid = fork();
  if (l->pid == 0)
    supervisor_main(s, c, cg, sv[1], fifo, workdir, rec, l->tty_slave, tap_fd);
  close(sv[1]);
  l->sync_fd = sv[0];
  if (l->pid < 0)
    return berth_err_sys(err, "fork");
  l->pidfd = (int)syscall(SYS_pidfd_open, l->pid, 0);
  int type = sync_recv(l->sync_fd, err);
  if (type == SYNC_READY)
    return 0;
  if (type == 0)
    berth_err_set(err, 0, "microvm: the supervisor exited during create");
  kill(l->pid, SIGKILL);
  waitpid(l->pid, NULL, 0);
  return -1;
}

/* The network's records ("net.*") after the process's. */
static void records_append(struct vm_buf *b, const struct vm_buf *more)
{
  size_t off = 0;
  const char *k, *v;
  while (vm_rec_next(more->data, more->len, &off, &k, &v) == 1)
    vm_rec_add(b, k, v);
}

static int microvm_launch(int dirfd, const char *id, const struct spec *s,
                          const struct runtime_create_opts *o, const struct vm_config *c,
                          struct cgroup *cg, const struct net_vm *net, bool keep,
                          struct backend_created *out, struct berth_err **err)
{
  struct vm_buf rec = {0};
  struct launch l = {-1, -1, -1, -1};
  cleanup_close int master = -1;
  int ret = spec_records(s, &rec, err);
  records_append(&rec, &net->rec);
  if (ret == 0 && s->terminal)
    ret = microvm_pty_open(s, &master, &l.tty_slave, err);
  if (ret == 0)
    ret = state_save(dirfd, id, s, 0, cg, err); /* delete finds the cgroup if we die */
  if (ret == 0)
    ret = supervisor_spawn(dirfd, s, c, cg, &rec, net->tap_fd, &l, err);
  vm_buf_free(&rec);
  if (l.tty_slave >= 0)
    close(l.tty_slave);
  if (ret == 0 && (state_save(dirfd, id, s, l.pid, cg, err) < 0 || config_save(dirfd, s, err) < 0 ||
                   (o->pid_file && pid_file_write(o->pid_file, l.pid, err) < 0) ||
                   (master >= 0 && o->console_socket &&
                    tty_send_to_socket(o->console_socket, master, err) < 0))) {
    kill(l.pid, SIGKILL);
    waitpid(l.pid, NULL, 0);
    ret = -1;
  }
  out->pid = l.pid;
  out->pty = ret == 0 && keep && !o->console_socket ? steal_fd(&master) : -1;
  out->pidfd = ret == 0 && keep ? steal_fd(&l.pidfd) : -1;
  out->sync_fd = ret == 0 && keep ? steal_fd(&l.sync_fd) : -1;
  if (l.pidfd >= 0)
    close(l.pidfd);
  if (l.sync_fd >= 0)
    close(l.sync_fd);
  return ret;
}

static int microvm_create(int dirfd, const char *id, const struct spec *s,
                          const struct runtime_create_opts *o, const sigset_t *orig_mask, bool keep,
                          struct backend_created *out, struct berth_err **err)
{
  (void)orig_mask;
  out->pty = -1;
  struct vm_config c = {0};
  struct cgroup *cg = NULL;
  struct net_vm net = {.tap_fd = -1};
  /* The host cgroup bounds the VMM: the container's limits (and its
   * cgroupsPath) apply inside the guest, on the guest's own cgroup v2. */
  const struct cgroup_resources none = {0};
  int ret = spec_check(s, err) < 0 || vm_for(s, &c, err) < 0 ? -1 : 0;
  if (ret == 0 && cgroup_create(id, NULL, &none, 0, &cg, err) < 0)
    ret = berth_err_wrap(err, "microvm");
  /* The lease and the tap: a failed create's state_dir_remove releases them. */
  if (ret == 0 && net_prepare_vm(dirfd, s, id, &net, err) < 0)
    ret = -1;
  c.net = net.tap_fd >= 0;
  memcpy(c.mac, net.mac, sizeof(c.mac));
  if (ret == 0)
    ret = microvm_launch(dirfd, id, s, o, &c, cg, &net, keep, out, err);
  net_vm_free(&net);
  if (ret < 0 && cg) {
    struct berth_err *e2 = NULL;
    cgroup_destroy(cg, NULL, &e2);
    berth_err_free(&e2);
  }
  cgroup_free(cg);
  vm_config_free(&c);
  return ret;
}

/* ---- the other verbs: the supervisor and the host cgroup ---- */

/* --all too goes to the supervisor: it forwards the signal to the guest,
 * whose processes are all the container's; QEMU must not get it. */
static int microvm_kill(const struct state *st, int sig, bool all, struct berth_err **err)
{
  cleanup_close int fd = state_pidfd(st);
  if (fd < 0)
    return all ? 0 : berth_err_set(err, 0, "container \"%s\" is not running", st->id);
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
    return berth_err_sys(err, "signal container \"%s\"", st->id);
  return 0;
}

/* The cgroup holds the supervisor, QEMU and virtiofsd: killing it leaves
 * nothing (QEMU would also die with the supervisor: PDEATHSIG). */
static int microvm_destroy(const struct state *st, struct berth_err **err)
{
  if (st->cg)
    return cgroup_destroy(st->cg, NULL, err);
  cleanup_close int fd = state_pidfd(st);
  return fd < 0 ? 0 : state_pidfd_kill_wait(st, fd, err);
}

static int microvm_update(const struct state *st, const struct cgroup_resources *r,
                          struct berth_err **err)
{
  (void)r;
  return berth_err_set(
      err, ENOTSUP, "container \"%s\": update is not supported by the microvm backend yet", st->id);
}

static int microvm_procs(const struct state *st, pid_t **pids, size_t *n, struct berth_err **err)
{
  return st->cg ? cgroup_pids(st->cg, pids, n, err) : state_no_cgroup(st, err);
}

static int microvm_procs_table(const struct state *st, int dirfd, char **table,
                               struct berth_err **err)
{
  if (vm_ps_request(dirfd, table, err) < 0)
    return berth_err_wrap(err, "ps %s", st->id);
  return 0;
}

static int microvm_stats(const struct state *st, json_t **stats, uint64_t *oom_kills,
                         struct berth_err **err)
{
  if (st->cg == NULL)
    return state_no_cgroup(st, err);
  *stats = cgroup_stats(st->cg);
  *oom_kills = cgroup_oom_kills(st->cg);
  return 0;
}

const struct backend_ops backend_microvm = {
    .name = "microvm",
    .create = microvm_create,
    .exec = microvm_exec, /* through the guest init as agent (microvm_exec.c) */
    .start = linux_start, /* the same exec fifo, held by the supervisor */
    .kill = microvm_kill,
    .destroy = microvm_destroy,
    .pause = state_freeze, /* the whole VMM: the guest stops with it */
    .update = microvm_update,
    .procs = microvm_procs,
    .procs_table = microvm_procs_table,
    .stats = microvm_stats,
};
