/* The container init. Child of `berth create`, inside the new namespaces
 * (mount, uts, ipc, net, pid), still root, the host filesystem visible until
 * pivot_root. The recipe below is the order of operations; it matters for
 * security, so it stays on one screen. */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/signals.h"
#include "../common/fileutil.h"
#include "../common/testhook.h"
#include "../netns/netns.h"
#include "linux.h"

#define KEYCTL_JOIN_SESSION_KEYRING 1
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static void fds_close(int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0)
      close(fds[i]);
}

static int ns_join_paths(const struct spec *s, struct berth_err **err)
{
  /* Open every path first: once in another mount namespace, the paths
   * would resolve there. The mount namespace is joined last. */
  /* The user namespace first: it decides what the others may be joined as. */
  static const enum ns_kind order[] = {NS_USER, NS_IPC, NS_UTS, NS_NET, NS_CGROUP, NS_MNT};
  enum { N = sizeof(order) / sizeof(order[0]) };
  int fds[N] = {-1, -1, -1, -1, -1, -1};
  int ret = 0;
  for (size_t i = 0; i < N && ret == 0; i++) {
    const char *p = s->ns[order[i]].path;
    if (p && (fds[i] = open(p, O_RDONLY | O_CLOEXEC)) < 0)
      ret = berth_err_sys(err, "open %s namespace %s", spec_ns_name(order[i]), p);
  }
  for (size_t i = 0; i < N && ret == 0; i++)
    if (fds[i] >= 0 && setns(fds[i], spec_ns_clone_flag(order[i])) < 0)
      ret =
          berth_err_sys(err, "join %s namespace %s", spec_ns_name(order[i]), s->ns[order[i]].path);
  fds_close(fds, N);
  return ret;
}

static int uts_apply(const struct spec *s, struct berth_err **err)
{
  if (s->hostname && s->hostname[0] && sethostname(s->hostname, strlen(s->hostname)) < 0)
    return berth_err_sys(err, "sethostname %s", s->hostname);
  if (s->domainname && s->domainname[0] && setdomainname(s->domainname, strlen(s->domainname)) < 0)
    return berth_err_sys(err, "setdomainname %s", s->domainname);
  return 0;
}

static void session_keyring_join(const struct child_ctx *c)
{
  /* A fresh session keyring, so the container cannot read the host's keys.
   * Kernels without keyrings (ENOSYS) or denying it are not fatal, as in runc. */
  if (c->no_new_keyring)
    return;
  char name[300];
  snprintf(name, sizeof(name), "_ses.%s", c->id);
  syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
}

/* chdir into process.cwd and make sure we are still inside the root: a cwd
 * reached through a leaked host fd would show as "(unreachable)" here. */
static int cwd_enter(const struct spec *s, struct berth_err **err)
{
  if (chdir(s->cwd) < 0)
    return berth_err_sys(err, "chdir to cwd %s", s->cwd);
  char buf[PATH_MAX] = "";
  if (getcwd(buf, sizeof(buf)) == NULL && errno == ENOENT)
    return berth_err_set(
        err, 0, "cwd %s has been deleted (was the root filesystem removed on the host?)", s->cwd);
  if (buf[0] != '/')
    return berth_err_set(err, EPERM, "cwd %s is outside the container root", s->cwd);
  return 0;
}

/* close_range refused (a kernel before 5.11, or a filter berth itself
 * runs under): every open fd from first on, listed by procfs when /proc
 * is one, else probed up to the fd limit. */
static int fds_cloexec_slow(unsigned first, struct berth_err **err)
{
  struct rlimit rl = {1024, 1024};
  getrlimit(RLIMIT_NOFILE, &rl);
  unsigned last = rl.rlim_max > (1U << 20) ? (1U << 20) : (unsigned)rl.rlim_max;
  cleanup_dir DIR *d = opendir("/proc/self/fd");
  struct statfs sf;
  bool proc = d && fstatfs(dirfd(d), &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
  struct dirent *de;
  for (unsigned fd = first; proc ? (de = readdir(d)) != NULL : fd < last; fd++) {
    unsigned n = proc ? (unsigned)strtoul(de->d_name, NULL, 10) : fd;
    if (n < first || (proc && (int)n == dirfd(d)))
      continue;
    int fl = fcntl((int)n, F_GETFD);
    if (fl >= 0 && fcntl((int)n, F_SETFD, fl | FD_CLOEXEC) < 0)
      return berth_err_sys(err, "mark fd %u close-on-exec", n);
  }
  return 0;
}

static int fds_prepare(unsigned preserve, struct berth_err **err)
{
  /* Everything above the preserved range closes at execve (CVE-2024-21626:
   * no host fd may reach the container). */
  if (syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0 &&
      fds_cloexec_slow(3 + preserve, err) < 0)
    return berth_err_wrap(err, "mark fds close-on-exec");
  for (unsigned fd = 3; fd < 3 + preserve; fd++) {
    int fl = fcntl((int)fd, F_GETFD);
    if (fl >= 0 && fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
      return berth_err_sys(err, "preserve fd %u", fd);
  }
  return 0;
}

static void signals_reset(const sigset_t *mask)
{
  signals_default_all();
  sigprocmask(SIG_SETMASK, mask, NULL);
}

static int wait_for_start(int fifo_fd, struct berth_err **err)
{
  char b;
  ssize_t n;
  do
    n = read(fifo_fd, &b, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    return berth_err_sys(err, "wait for start");
  return 0;
}

/* The rootfs and the bind sources, opened while still host root: their
 * parents may be closed to the container's mapped ids. *under names the directory, *parent the
 * directory holding it (to find the mount on top after the self-bind). */
static int rootfs_open_early(const struct spec *s, int *parent, int *under, struct berth_err **err)
{
  const char *rootfs = s->rootfs;
  char p[PATH_MAX];
  snprintf(p, sizeof(p), "%s", rootfs);
  char *slash = strrchr(p, '/');
  if (slash == NULL)
    return berth_err_set(err, EINVAL, "rootfs %s is not absolute", rootfs);
  *slash = '\0';
  *parent = open(p[0] ? p : "/", O_DIRECTORY | O_PATH | O_CLOEXEC);
  *under = open(rootfs, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (*parent < 0 || *under < 0)
    return berth_err_sys(err, "open rootfs %s", rootfs);
  return mount_sources_open(s, err); /* the bind sources too */
}

/* In a new user namespace: become its root (mapped) before making any
 * file, or tmpfs and friends refuse ids they cannot map (EOVERFLOW). */
static bool maps_root(const struct spec_idmap *m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (m[i].container_id == 0)
      return true;
  return false;
}

/* Without a root in the maps (berth sandbox maps only the caller's own
 * ids) the init stays the id it is mapped to: as the namespace's creator
 * it holds every capability there all the same. */
static int userns_become_root(const struct spec *s, struct berth_err **err)
{
  if (!s->ns[NS_USER].enabled || s->ns[NS_USER].path)
    return 0;
  bool gid0 = maps_root(s->gid_mappings, s->n_gid_mappings);
  bool uid0 = maps_root(s->uid_mappings, s->n_uid_mappings);
  if ((gid0 && setresgid(0, 0, 0) < 0) || (uid0 && setresuid(0, 0, 0) < 0))
    return berth_err_sys(err, "become root of the user namespace");
  if (setgroups(0, NULL) < 0 && errno != EPERM)
    return berth_err_sys(err, "setgroups in the user namespace");
  /* Left out of the clone (linux.c: clone_flags), made now as its root. */
  if (s->ns[NS_IPC].enabled && !s->ns[NS_IPC].path && unshare(CLONE_NEWIPC) < 0)
    return berth_err_sys(err, "create ipc namespace");
  return 0;
}

/* Installs the filter; with seccomp notify, hands the listener fd and the
 * container's state to the agent over the socket connected earlier. The
 * message is made first: after the filter, only the hand-off and execve. */
static int seccomp_load(const struct spec *s, int sock, const char *id, pid_t pid,
                        struct berth_err **err)
{
  char *msg = NULL; /* not freed: free(3) may munmap, after the filter */
  if (sock >= 0) {
    cleanup_free char *state = hooks_state_json(s->oci_version, id, "created", pid, s->bundle,
                                                json_object_get(s->json, "annotations"));
    msg = seccomp_listener_message(s->seccomp, state, pid);
  }
  int listener = -1;
  if (seccomp_install(s->seccomp, &listener, err) < 0)
    return -1;
  /* Both close on exec: no close(2) the profile could notify. */
  if (listener < 0)
    return 0;
  return seccomp_listener_send(sock, listener, s->seccomp, msg, err);
}

/* The agent's socket (listenerPath) is a host path: connected while the
 * host's tree is still ours. -1: none; exits through fail on error. */
static int listener_connect(const struct spec *s, struct berth_err **err)
{
  return s->seccomp ? seccomp_listener_connect(s->seccomp, err) : -1;
}

/* process.terminal: a pty made here, its master sent to the parent. Else
 * a session of our own, without a controlling terminal: the caller's
 * terminal must not be the container's /dev/tty (TIOCSTI, signals). */
static int terminal_setup(const struct spec *s, int sync_fd, struct berth_err **err)
{
  if (!s->terminal)
    return setsid() < 0 ? berth_err_sys(err, "setsid") : 0;
  int master = -1;
  if (tty_setup_child(s, &master, err) < 0)
    return -1;
  int r = sync_send_fd(sync_fd, SYNC_PTY, master);
  close(master);
  if (r < 0)
    _exit(1); /* the parent is gone: nobody to tell */
  return 0;
}

struct final_step {
  const char *id;
  pid_t host_pid;
  int listener; /* seccomp notify agent's socket, or -1 */
  unsigned preserve_fds;
  const sigset_t *mask;
  struct child_ctx *init; /* the init (for its startContainer hooks), or NULL */
};

static int child_hooks_run(struct child_ctx *c, enum hook_kind k, const char *status,
                           struct berth_err **err);

/* The process's user, capabilities and no_new_privs, as the config asks.
 * The init does this before it reports ready, so that a bad user or
 * capability set fails `create`, not the started container. Without
 * no_new_privs the seccomp filter (loaded in program_exec) needs
 * CAP_SYS_ADMIN, which the user switch then keeps in the effective set;
 * execve recomputes the sets from bounding, inheritable and ambient, where
 * it is not unless the config asks. */
static int privileges_drop(const struct spec *s, struct berth_err **err)
{
  if (user_and_caps_apply(s, s->seccomp && !s->no_new_privileges, err) < 0)
    return -1;
  if (s->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berth_err_sys(err, "set no_new_privs");
  return 0;
}

/* The last steps of both recipes (init and exec), after privileges_drop:
 * personality, fds, umask, signals, then the seccomp filter, last, so
 * nothing berth needs can be refused by the profile: after it only the
 * listener hand-off (notify), the init's startContainer hooks and execve.
 * Returns only on failure. */
static void program_exec(const struct spec *s, const struct final_step *f, const char *exe,
                         char **env, struct berth_err **err)
{
  if (personality_apply(s, err) < 0 || fds_prepare(f->preserve_fds, err) < 0)
    return;
  umask(s->has_umask ? s->umask : 022);
  signals_reset(f->mask);
  if (s->seccomp && seccomp_load(s, f->listener, f->id, f->host_pid, err) < 0)
    return;
  /* startContainer: inside, as the process will run (user, capabilities,
   * seccomp), right before it is executed, as runc runs it. */
  if (f->init && child_hooks_run(f->init, HOOK_START_CONTAINER, "created", err) < 0)
    return;
  execve(exe, s->args, env);
  exec_error(exe, errno, err);
}

/* The container's hooks run by the init itself (createContainer,
 * startContainer): the state as the runtime namespace sees it. */
static int child_hooks_run(struct child_ctx *c, enum hook_kind k, const char *status,
                           struct berth_err **err)
{
  const struct spec *s = c->spec;
  if (s->hooks.n[k] == 0)
    return 0;
  cleanup_free char *state = hooks_state_json(s->oci_version, c->id, status, c->host_pid, s->bundle,
                                              json_object_get(s->json, "annotations"));
  return hooks_run(&s->hooks, k, state, err);
}

/* Mounts are made, pivot_root not yet: the parent runs prestart and
 * createRuntime (runtime namespace), then we run createContainer. */
static int hooks_before_pivot(struct child_ctx *c, struct berth_err **err)
{
  const struct hooks *h = &c->spec->hooks;
  if (h->n[HOOK_PRESTART] + h->n[HOOK_CREATE_RUNTIME] > 0) {
    if (sync_send(c->sync_fd, SYNC_HOOKS, NULL) < 0)
      return berth_err_sys(err, "ask for the createRuntime hooks");
    if (sync_recv(c->sync_fd, err) != SYNC_GO)
      _exit(1); /* the parent reports why */
  }
  /* createContainer runs in the container's root directory, as with runc
   * (after the self-bind, the path names the rootfs mount). */
  if (h->n[HOOK_CREATE_CONTAINER] > 0 && chdir(c->spec->rootfs) < 0)
    return berth_err_sys(err, "chdir %s for the createContainer hooks", c->spec->rootfs);
  return child_hooks_run(c, HOOK_CREATE_CONTAINER, "creating", err);
}

/* slirp4netns joins our network namespace as its owner; the parent cannot
 * open our /proc/PID/ns files when rootless (we are not dumpable). */
static int netns_fds_send(int sock, struct berth_err **err)
{
  static const char *const ns[] = {"/proc/self/ns/net", "/proc/self/ns/user"};
  for (size_t i = 0; i < 2; i++) {
    cleanup_close int fd = open(ns[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return berth_err_sys(err, "open %s", ns[i]);
    if (sync_send_fd(sock, SYNC_NETNS, fd) < 0)
      return berth_err_sys(err, "send %s", ns[i]);
  }
  return 0;
}

static int setup_before_pivot(struct child_ctx *c, int parentfd, int underfd, int *rootfd_out,
                              struct berth_err **err)
{
  const struct spec *s = c->spec;
  if (ns_join_paths(s, err) < 0)
    return -1;
  if (s->ns[NS_CGROUP].enabled && !s->ns[NS_CGROUP].path && unshare(CLONE_NEWCGROUP) < 0)
    return berth_err_sys(err, "unshare cgroup namespace");
  if (s->ns[NS_NET].enabled && !s->ns[NS_NET].path && netns_loopback_up_in_child(err) < 0)
    return -1;
  if (s->net.mode == NET_MODE_SLIRP && netns_fds_send(c->sync_fd, err) < 0)
    return -1;
  if (uts_apply(s, err) < 0 || sysctl_apply(s, err) < 0)
    return -1;
  session_keyring_join(c);
  if (!s->ns[NS_MNT].enabled)
    return hooks_before_pivot(c, err);
  cleanup_close int rootfd = rootfs_prepare(s, parentfd, underfd, err);
  if (rootfd < 0)
    return berth_err_wrap(err, "rootfs");
  if (mounts_apply_all(s, c->idmap_trees, rootfd, err) < 0 || dev_setup(s, rootfd, err) < 0 ||
      rootfs_mkdir(rootfd, s->cwd, err) < 0)
    return berth_err_wrap(err, "rootfs");
  TEST_POINT("child:mounts");
  if (hooks_before_pivot(c, err) < 0)
    return -1;
  *rootfd_out = steal_fd(&rootfd);
  return 0;
}

static int setup_after_pivot(struct child_ctx *c, struct berth_err **err)
{
  const struct spec *s = c->spec;
  if (paths_mask(s->masked_paths, err) < 0 || paths_readonly(s->readonly_paths, err) < 0 ||
      rootfs_finish(s, err) < 0)
    return -1;
  if (rlimits_apply(s, err) < 0 || cwd_enter(s, err) < 0)
    return -1;
  return 0;
}

/* The fds `run` gives the container in place of berth's 0-2 (relay.h). */
static int stdio_take(const int *stdio, struct berth_err **err)
{
  for (int i = 0; stdio && i < 3; i++) {
    if (stdio[i] < 0)
      continue;
    if (stdio[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(stdio[i], i) < 0)
      return berth_err_sys(err, "take the fd for %d", i);
  }
  return 0;
}

/* `run` in the foreground: the init dies with berth, SIGKILL included.
 * Set after the last change of credentials (which clears it) and before
 * SYNC_READY, which berth is still waiting for: it cannot be gone yet. */
static int die_with_runtime(struct berth_err **err)
{
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    return berth_err_sys(err, "set the parent-death signal");
  return 0;
}

_Noreturn void child_main(struct child_ctx *c)
{
  struct berth_err *err = NULL;
  const struct spec *s = c->spec;
  char *exe = NULL;

  umask(0);
  /* Parent first does its host-side work (ids, cgroup, network later). */
  if (sync_recv(c->sync_fd, &err) != SYNC_GO)
    _exit(1);
  if (stdio_take(c->stdio, &err) < 0)
    goto fail;
  mounts_use_procfs_context(c->procfs_ctx);
  if (c->late_userns && pidns_enter_early(c, &err) < 0)
    goto fail;
  /* Until execve (which resets it) nothing else may open this process's
   * /proc files: /proc/PID/exe is berth's binary (CVE-2019-5736 class),
   * its memory holds the config. Not before the parent's go-ahead: a
   * non-dumpable process's uid_map and setgroups belong to root, which an
   * unprivileged parent is not. Until then the child is alone in its new
   * namespaces and has run nothing of the container's. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Our pid in the runtime's namespace, for the hooks: the host's /proc is
   * still the one mounted here. */
  char self[32] = "";
  if (readlink("/proc/self", self, sizeof(self) - 1) > 0)
    c->host_pid = (pid_t)strtol(self, NULL, 10);
  int listener = listener_connect(s, &err);
  if (listener == -2)
    goto fail;
  /* Into the cgroup before anything else, above all anything the user controls. */
  if (c->cg && cgroup_enter_self(c->cg, c->in_cgroup_v2, &err) < 0)
    goto fail;
  TEST_POINT("child:cgroup");
  int parentfd = -1, underfd = -1, rootfd = -1;
  if (s->ns[NS_MNT].enabled && rootfs_open_early(s, &parentfd, &underfd, &err) < 0)
    goto fail;
  if (userns_become_root(s, &err) < 0 ||
      setup_before_pivot(c, parentfd, underfd, &rootfd, &err) < 0)
    goto fail;
  if (s->ns[NS_MNT].enabled && rootfs_pivot(rootfd, c->no_pivot, &err) < 0)
    goto fail;
  /* Nothing of the host's file tree may stay reachable from here on. */
  close(parentfd);
  close(underfd);
  close(rootfd);
  if (!s->ns[NS_MNT].enabled && chroot(s->rootfs) < 0) {
    berth_err_sys(&err, "chroot %s", s->rootfs);
    goto fail;
  }
  if (setup_after_pivot(c, &err) < 0)
    goto fail;
  /* Only now, with nothing of the host's reachable, may a process of ours
   * appear in a pid namespace shared with others. */
  int keep[] = {c->sync_fd, c->fifo_fd, listener};
  if (c->pidns_join && pidns_stage_init(c, keep, 3, &err) < 0)
    goto fail;
  char **env = exec_env(s);
  if (terminal_setup(s, c->sync_fd, &err) < 0)
    goto fail;
  /* Everything that can fail before the program does so here, before
   * `create` returns: privileges, then the program, as its user sees it. */
  struct final_step f = {c->id, c->host_pid, listener, c->preserve_fds, &c->orig_mask, c};
  if (privileges_drop(s, &err) < 0 || exec_lookup(s, &exe, &err) < 0 ||
      (c->die_with_runtime && die_with_runtime(&err) < 0))
    goto fail;

  if (sync_send(c->sync_fd, SYNC_READY, NULL) < 0)
    _exit(1);
  if (wait_for_start(c->fifo_fd, &err) < 0)
    goto fail;
  /* fifo_fd stays open (close-on-exec): `start` waits for it to close,
   * which tells it the program has been executed. */
  program_exec(s, &f, exe, env, &err);

fail:
  /* Whoever waits on the socket (create, or run after start) prints it;
   * with nobody listening, the container's stderr is the only witness. */
  if (sync_send(c->sync_fd, SYNC_ERROR, err) < 0 && err)
    dprintf(2, "berth: %s\n", err->msg);
  _exit(127);
}

/* Joins the container's namespaces: all at once through the init's pidfd
 * (Linux 5.8+), else one /proc/PID/ns file at a time, user first (it
 * decides what the others may be joined as), mount last. The pid and time
 * namespaces take effect for our children only. */
static int exec_ns_join(const struct exec_ctx *c, struct berth_err **err)
{
  if (c->ns_flags == 0)
    return 0;
  if (setns(c->pidfd, c->ns_flags) == 0)
    return 0;
  if (errno != EINVAL)
    return berth_err_sys(err, "join the container's namespaces");
  static const struct {
    int flag;
    const char *name;
  } order[] = {{CLONE_NEWUSER, "user"}, {CLONE_NEWIPC, "ipc"},       {CLONE_NEWUTS, "uts"},
               {CLONE_NEWNET, "net"},   {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWPID, "pid"},
               {CLONE_NEWTIME, "time"}, {CLONE_NEWNS, "mnt"}};
  enum { N = sizeof(order) / sizeof(order[0]) };
  int fds[N];
  int ret = 0;
  for (size_t i = 0; i < N; i++) {
    fds[i] = -1;
    if (ret == 0 && (c->ns_flags & order[i].flag)) {
      char path[64];
      snprintf(path, sizeof(path), "/proc/%d/ns/%s", c->init_pid, order[i].name);
      if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        ret = berth_err_sys(err, "open %s", path);
    }
  }
  for (size_t i = 0; i < N && ret == 0; i++)
    if (fds[i] >= 0 && setns(fds[i], order[i].flag) < 0)
      ret = berth_err_sys(err, "join the container's %s namespace", order[i].name);
  fds_close(fds, N);
  return ret;
}

static int int_cmp(const void *a, const void *b)
{
  return *(const int *)a - *(const int *)b;
}

/* Closes every fd but stdio, the preserved range and the n in keep: what
 * a process about to become visible inside the container may hold. */
void fds_close_except(unsigned preserve, int *keep, size_t n)
{
  qsort(keep, n, sizeof(int), int_cmp);
  unsigned from = 3 + preserve;
  for (size_t i = 0; i < n; i++) {
    if (keep[i] < 0 || (unsigned)keep[i] < from)
      continue;
    if ((unsigned)keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
      for (unsigned fd = from; fd < (unsigned)keep[i]; fd++)
        close((int)fd);
    from = (unsigned)keep[i] + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) < 0)
    for (unsigned fd = from; fd < 65536; fd++)
      close((int)fd);
}

/* Clones the next process of a recipe as the runtime's child (CLONE_PARENT:
 * it must outlive us and be waited for by berth), telling the runtime its
 * pid (SYNC_PID). Returns 0 in the new process, its pid in ours, -1 on error. */
pid_t clone_for_runtime(int sync_fd, struct berth_err **err)
{
  /* clone3 wants exit_signal 0 with CLONE_PARENT: the child gets ours. */
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  } a = {.flags = CLONE_PARENT};
  pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
  if (pid < 0 && errno == ENOSYS)
    pid = (pid_t)syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, NULL);
  if (pid == 0)
    return 0;
  if (pid < 0)
    return berth_err_sys(err, "clone");
  if (sync_send_val(sync_fd, SYNC_PID, pid, NULL) < 0)
    return berth_err_sys(err, "report the new process");
  return pid;
}

/* The intermediate step of `berth exec`: a short-lived child of berth, in
 * the runtime's pid namespace. It joins the cgroup, connects to the seccomp
 * agent (a host path), enters every namespace of the init, closes every fd
 * of berth's own, and only then makes the process: nothing inside the
 * container can see a process of ours while it has the host's root, cwd or
 * fds (a CAP_SYS_PTRACE holder inside could reach them through
 * /proc/PID/root, cwd and fd). */
_Noreturn void exec_helper_main(struct exec_ctx *c)
{
  struct berth_err *err = NULL;
  /* berth exec killed while we set up: we go too. We hold its shared lock
   * on the state directory (delete would wait for us) and nobody would
   * take the process we make. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != c->runtime_pid)
    _exit(1);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (c->cg && cgroup_enter_self_sub(c->cg, c->cgroup_subs, &err) < 0)
    goto fail;
  TEST_POINT("exec:helper-cgroup");
  c->listener = listener_connect(c->spec, &err);
  if (c->listener == -2 || exec_ns_join(c, &err) < 0)
    goto fail;
  TEST_POINT("exec:helper-joined");
  int keep[] = {c->sync_fd, c->listener};
  fds_close_except(c->preserve_fds, keep, 2);
  /* setns(mnt) left root and cwd at the namespace's root: the container's. */
  pid_t pid = clone_for_runtime(c->sync_fd, &err);
  if (pid == 0)
    exec_child_main(c);
  if (pid > 0)
    _exit(0);
  /* A pid namespace whose init is gone takes no new process. */
  if (err->errnum == ENOMEM && (c->ns_flags & CLONE_NEWPID)) {
    berth_err_free(&err);
    berth_err_set(&err, 0, "cannot exec in a stopped container");
  }
fail:
  if (sync_send(c->sync_fd, SYNC_ERROR, err) < 0 && err)
    dprintf(2, "berth: %s\n", err->msg);
  _exit(1);
}

/* The process exec'd into the container: born inside all its namespaces
 * and cgroup, holding no fd of the runtime's but the sync socket. */
_Noreturn void exec_child_main(struct exec_ctx *c)
{
  struct berth_err *err = NULL;
  const struct spec *s = c->spec;
  char *exe = NULL;
  int32_t host_pid = 0;

  if (sync_recv_val(c->sync_fd, NULL, &host_pid, &err) != SYNC_GO)
    _exit(1);
  TEST_POINT("exec:child-go");
  if (rlimits_apply(s, &err) < 0 || cwd_enter(s, &err) < 0)
    goto fail;
  char **env = exec_env(s);
  if (terminal_setup(s, c->sync_fd, &err) < 0)
    goto fail;
  struct final_step f = {c->id, (pid_t)host_pid, c->listener, c->preserve_fds, &c->orig_mask, NULL};
  if (privileges_drop(s, &err) < 0 || exec_lookup(s, &exe, &err) < 0)
    goto fail;
  program_exec(s, &f, exe, env, &err);

fail:
  if (sync_send(c->sync_fd, SYNC_ERROR, err) < 0 && err)
    dprintf(2, "berth: %s\n", err->msg);
  _exit(127);
}
