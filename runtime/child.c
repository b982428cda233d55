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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/signals.h"
#include "../common/fileutil.h"
#include "../netns/netns.h"
#include "linux.h"

#define KEYCTL_JOIN_SESSION_KEYRING 1

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
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == NULL || buf[0] != '/')
    return berth_err_set(err, EPERM, "cwd %s is outside the container root", s->cwd);
  return 0;
}

static int fds_prepare(unsigned preserve, struct berth_err **err)
{
  /* Everything above the preserved range closes at execve (CVE-2024-21626:
   * no host fd may reach the container). */
  if (syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    return berth_err_sys(err, "mark fds close-on-exec");
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

/* The rootfs, opened while still host root: its parents may be closed to
 * the container's mapped ids. *under names the directory, *parent the
 * directory holding it (to find the mount on top after the self-bind). */
static int rootfs_open_early(const char *rootfs, int *parent, int *under, struct berth_err **err)
{
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
  return 0;
}

/* In a new user namespace: become its root (mapped) before making any
 * file, or tmpfs and friends refuse ids they cannot map (EOVERFLOW). */
static int userns_become_root(const struct spec *s, struct berth_err **err)
{
  if (!s->ns[NS_USER].enabled || s->ns[NS_USER].path)
    return 0;
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    return berth_err_sys(err, "become root of the user namespace");
  if (setgroups(0, NULL) < 0 && errno != EPERM)
    return berth_err_sys(err, "setgroups in the user namespace");
  return 0;
}

/* Installs the filter; with seccomp notify, hands the listener fd and the
 * container's state to the agent over the socket connected earlier. */
static int seccomp_load(const struct spec *s, int sock, const char *id, pid_t pid,
                        struct berth_err **err)
{
  int listener = -1;
  if (seccomp_install(s->seccomp, &listener, err) < 0)
    return -1;
  if (listener < 0)
    return 0;
  cleanup_free char *state = hooks_state_json(s->oci_version, id, "created", pid, s->bundle,
                                              json_object_get(s->json, "annotations"));
  int r = seccomp_listener_send(sock, listener, s->seccomp, state, pid, err);
  close(listener);
  close(sock);
  return r;
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
};

/* The process's privileges, as the config asks, in this order: seccomp
 * (first when without no_new_privs, which then needs CAP_SYS_ADMIN, so the
 * profile must allow what follows, as with runc), user and capabilities,
 * no_new_privs. The init does this before it reports ready, so that a bad
 * user or capability set fails `create`, not the started container. */
static int privileges_drop(const struct spec *s, const struct final_step *f, struct berth_err **err)
{
  if (s->seccomp && !s->no_new_privileges &&
      seccomp_load(s, f->listener, f->id, f->host_pid, err) < 0)
    return -1;
  if (user_and_caps_apply(s, err) < 0)
    return -1;
  if (s->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berth_err_sys(err, "set no_new_privs");
  return 0;
}

/* The last steps of both recipes (init and exec), after privileges_drop:
 * umask, fds, signals, seccomp (last with no_new_privs: after it only
 * execve has to be allowed), execve. Returns only on failure. */
static void program_exec(const struct spec *s, const struct final_step *f, const char *exe,
                         char **env, struct berth_err **err)
{
  umask(s->has_umask ? s->umask : 022);
  if (fds_prepare(f->preserve_fds, err) < 0)
    return;
  signals_reset(f->mask);
  if (s->seccomp && s->no_new_privileges &&
      seccomp_load(s, f->listener, f->id, f->host_pid, err) < 0)
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
  return child_hooks_run(c, HOOK_CREATE_CONTAINER, "creating", err);
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
  if (uts_apply(s, err) < 0 || sysctl_apply(s, err) < 0)
    return -1;
  session_keyring_join(c);
  if (!s->ns[NS_MNT].enabled)
    return hooks_before_pivot(c, err);
  if (rootfs_prepare(s, underfd, err) < 0)
    return berth_err_wrap(err, "rootfs");
  /* Looked up again after the self-bind, so it names the new mount. */
  const char *base = strrchr(s->rootfs, '/') + 1;
  cleanup_close int rootfd = openat(parentfd, base, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (rootfd < 0)
    return berth_err_sys(err, "rootfs: open %s", s->rootfs);
  if (mounts_apply_all(s, c->idmap_trees, rootfd, err) < 0 || dev_setup(s, rootfd, err) < 0 ||
      rootfs_mkdir(rootfd, s->cwd, err) < 0)
    return berth_err_wrap(err, "rootfs");
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

_Noreturn void child_main(struct child_ctx *c)
{
  struct berth_err *err = NULL;
  const struct spec *s = c->spec;
  char *exe = NULL;

  umask(0);
  /* Parent first does its host-side work (ids, cgroup, network later). */
  if (sync_recv(c->sync_fd, &err) != SYNC_GO)
    _exit(1);
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
  int parentfd = -1, underfd = -1, rootfd = -1;
  if (s->ns[NS_MNT].enabled && rootfs_open_early(s->rootfs, &parentfd, &underfd, &err) < 0)
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
  char **env = exec_env(s);
  if (terminal_setup(s, c->sync_fd, &err) < 0)
    goto fail;
  /* Everything that can fail before the program does so here, before
   * `create` returns: privileges, then the program, as its user sees it. */
  struct final_step f = {c->id, c->host_pid, listener, c->preserve_fds, &c->orig_mask};
  if (privileges_drop(s, &f, &err) < 0 || exec_lookup(s, &exe, &err) < 0)
    goto fail;

  if (sync_send(c->sync_fd, SYNC_READY, NULL) < 0)
    _exit(1);
  if (wait_for_start(c->fifo_fd, &err) < 0)
    goto fail;
  /* fifo_fd stays open (close-on-exec): `start` waits for it to close,
   * which tells it the program has been executed. As in runc, the
   * startContainer hooks run with the process's user and capabilities. */
  if (child_hooks_run(c, HOOK_START_CONTAINER, "created", &err) < 0)
    goto fail;
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
 * decides what the others may be joined as), mount last. */
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
               {CLONE_NEWNET, "net"},   {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWNS, "mnt"}};
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

_Noreturn void exec_child_main(struct exec_ctx *c)
{
  struct berth_err *err = NULL;
  const struct spec *s = c->spec;
  char *exe = NULL;

  /* As for the init: until execve, the container must not be able to open
   * this process's /proc files (CVE-2019-5736, CVE-2016-9962). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (sync_recv(c->sync_fd, &err) != SYNC_GO)
    _exit(1);
  if (c->cg && cgroup_enter_self(c->cg, c->in_cgroup_v2, &err) < 0)
    goto fail;
  char self[32] = "";
  pid_t host_pid = 0;
  if (readlink("/proc/self", self, sizeof(self) - 1) > 0)
    host_pid = (pid_t)strtol(self, NULL, 10);
  int listener = listener_connect(s, &err);
  if (listener == -2)
    goto fail;
  if (exec_ns_join(c, &err) < 0)
    goto fail;
  close(c->pidfd);
  /* setns(mnt) left root and cwd at the namespace's root: the container's. */
  if (rlimits_apply(s, &err) < 0 || cwd_enter(s, &err) < 0)
    goto fail;
  char **env = exec_env(s);
  if (terminal_setup(s, c->sync_fd, &err) < 0)
    goto fail;
  struct final_step f = {c->id, host_pid, listener, c->preserve_fds, &c->orig_mask};
  if (privileges_drop(s, &f, &err) < 0 || exec_lookup(s, &exe, &err) < 0)
    goto fail;
  program_exec(s, &f, exe, env, &err);

fail:
  if (sync_send(c->sync_fd, SYNC_ERROR, err) < 0 && err)
    dprintf(2, "berth: %s\n", err->msg);
  _exit(127);
}
