/* Parent side of the linux backend: `berth create` on the host. Prepares
 * the namespaces that must exist before the clone, clones the container
 * init, syncs with it, and records the state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/testhook.h"
#include "backend.h"
#include "linux.h"
#include "net.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Same layout as the kernel's struct clone_args (v2, with cgroup). */
struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  uint64_t set_tid, set_tid_size, cgroup;
};

static int pidfd_open_pid(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* cgroup_fd >= 0: born in that cgroup v2 directory (*into_cgroup says
 * whether that worked; kernels before 5.7 refuse the flag). */
static pid_t clone_init(unsigned long flags, int cgroup_fd, bool *into_cgroup, int *pidfd)
{
  struct clone3_args a = {
      .flags = flags | CLONE_PIDFD,
      .pidfd = (uint64_t)(uintptr_t)pidfd,
      .exit_signal = SIGCHLD,
  };
  *into_cgroup = false;
  if (cgroup_fd >= 0) {
    a.flags |= CLONE_INTO_CGROUP;
    a.cgroup = (uint64_t)cgroup_fd;
    pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
    if (pid >= 0) {
      *into_cgroup = true;
      return pid;
    }
    if (errno != EINVAL && errno != E2BIG && errno != ENOSYS)
      return pid;
    a.flags &= ~CLONE_INTO_CGROUP;
    a.cgroup = 0;
  }
  pid_t pid = (pid_t)syscall(SYS_clone3, &a, 64);
  if (pid < 0 && errno == ENOSYS) {
    pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid > 0)
      *pidfd = pidfd_open_pid(pid);
  }
  return pid;
}

/* The time namespace the init must be born into rather than join or
 * create itself (its offsets must be written before any process enters
 * it); ours is kept to go back to once the init is cloned (a sanitizer's
 * helper must not be born inside the container's). A pid namespace given
 * by path is entered by the child itself (pidns.c). */
struct ns_saved {
  int time;
};

static void ns_restore_in_parent(struct ns_saved *sv)
{
  if (sv->time >= 0) {
    setns(sv->time, CLONE_NEWTIME);
    close(sv->time);
  }
  sv->time = -1;
}

static int ns_prepare_in_parent(const struct spec *s, struct ns_saved *sv, struct berth_err **err)
{
  sv->time = s->ns[NS_TIME].enabled ? open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC) : -1;
  if (s->ns[NS_TIME].path) {
    cleanup_close int fd = open(s->ns[NS_TIME].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
      return berth_err_sys(err, "join time namespace %s", s->ns[NS_TIME].path);
  } else if (s->ns[NS_TIME].enabled) {
    if (unshare(CLONE_NEWTIME) < 0)
      return berth_err_sys(err, "create time namespace");
    if (s->has_time_offsets) {
      char buf[128];
      snprintf(buf, sizeof(buf), "monotonic %lld %u\nboottime %lld %u\n",
               (long long)s->monotonic_secs, s->monotonic_nsecs, (long long)s->boottime_secs,
               s->boottime_nsecs);
      if (write_string_at(AT_FDCWD, "/proc/self/timens_offsets", buf, err) < 0)
        return berth_err_wrap(err, "linux.timeOffsets");
    }
  }
  return 0;
}

static bool has_proc_mount(const struct spec *s)
{
  for (size_t i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].type && strcmp(s->mounts[i].type, "proc") == 0)
      return true;
  return false;
}

/* A pid namespace given by path: the child gets it open, and (with a
 * mount namespace of its own to mount procfs in) a procfs context made
 * there. With a new user namespace, the child is born in no new
 * namespace: it joins the pid namespace first, then unshares. */
static int pidns_prepare(const struct spec *s, struct child_ctx *ctx, unsigned long *flags,
                         struct berth_err **err)
{
  const char *path = s->ns[NS_PID].path;
  ctx->pidns_fd = ctx->procfs_ctx = -1;
  if (path == NULL)
    return 0;
  ctx->pidns_join = true;
  if ((ctx->pidns_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return berth_err_sys(err, "open pid namespace %s", path);
  if (s->ns[NS_MNT].enabled && has_proc_mount(s) &&
      (ctx->procfs_ctx = pidns_procfs_context(path, err)) < 0)
    return -1;
  if (s->ns[NS_USER].enabled && !s->ns[NS_USER].path) {
    ctx->late_userns = true;
    ctx->unshare_flags = *flags;
    *flags = 0;
  }
  return 0;
}

static void pidns_release(struct child_ctx *ctx)
{
  if (ctx->pidns_fd >= 0)
    close(ctx->pidns_fd);
  if (ctx->procfs_ctx >= 0)
    close(ctx->procfs_ctx);
  ctx->pidns_fd = ctx->procfs_ctx = -1;
}

static unsigned long clone_flags(const struct spec *s)
{
  /* The user namespace is made first by the kernel and owns the others. */
  static const enum ns_kind at_clone[] = {NS_USER, NS_MNT, NS_UTS, NS_IPC, NS_NET, NS_PID};
  unsigned long flags = 0;
  for (size_t i = 0; i < sizeof(at_clone) / sizeof(at_clone[0]); i++)
    if (s->ns[at_clone[i]].enabled && !s->ns[at_clone[i]].path)
      flags |= (unsigned long)spec_ns_clone_flag(at_clone[i]);
  /* With a new user namespace the ipc one is made by the child once it is
   * that namespace's root (child.c: userns_become_root): the ipc namespace's
   * mqueue root takes its creator's ids, which should be the container's
   * root, not the host's (unmapped, nobody). */
  if (flags & CLONE_NEWUSER)
    flags &= ~(unsigned long)CLONE_NEWIPC;
  return flags;
}

int pid_file_write(const char *path, pid_t pid, struct berth_err **err)
{
  cleanup_free char *d = xstrdup(path), *b = xstrdup(path);
  cleanup_close int dirfd = open(dirname(d), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dirfd < 0)
    return berth_err_sys(err, "pid file %s", path);
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d", pid);
  return write_file_atomic_at(dirfd, basename(b), buf, (size_t)n, 0644, err);
}

static void init_reap(pid_t pid, int pidfd)
{
  if (pidfd >= 0)
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  else
    kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* A map of exactly one id, ours. */
static bool map_is_own(const struct spec_idmap *m, size_t n, unsigned id)
{
  return n == 1 && m[0].size == 1 && m[0].host_id == id;
}

static int newidmap_run(const char *tool, pid_t pid, const struct spec_idmap *m, size_t n,
                        struct berth_err **err)
{
  char *argv[3 + 3 * 340 + 1];
  char nums[3 * 340][12];
  size_t k = 0, a = 0;
  argv[a++] = (char *)tool;
  snprintf(nums[k], sizeof(nums[k]), "%d", pid);
  argv[a++] = nums[k++];
  for (size_t i = 0; i < n && i < 340; i++) {
    const uint32_t v[3] = {m[i].container_id, m[i].host_id, m[i].size};
    for (int j = 0; j < 3; j++) {
      snprintf(nums[k], sizeof(nums[k]), "%u", v[j]);
      argv[a++] = nums[k++];
    }
  }
  argv[a] = NULL;
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0)
    return berth_err_sys(err, "pipe");
  pid_t p = fork();
  if (p < 0) {
    close(out[0]);
    close(out[1]);
    return berth_err_sys(err, "fork %s", tool);
  }
  if (p == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    execvp(tool, argv);
    dprintf(2, "exec: %s", strerror(errno));
    _exit(127);
  }
  close(out[1]);
  /* Its complaint becomes part of our one line. */
  char msg[512];
  size_t len = 0;
  ssize_t r;
  while ((r = read(out[0], msg + len, sizeof(msg) - 1 - len)) > 0 || (r < 0 && errno == EINTR))
    if (r > 0)
      len += (size_t)r;
  close(out[0]);
  msg[len] = '\0';
  while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
    msg[--len] = '\0';
  for (char *c = msg; *c; c++)
    if (*c == '\n')
      *c = ' ';
  int ws;
  while (waitpid(p, &ws, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    return berth_err_set(err, 0, "%s failed (status %d: %s): are the ids in /etc/sub%cid?", tool,
                         WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws),
                         len ? msg : "no message", tool[3] == 'u' ? 'u' : 'g');
  return 0;
}

/* Writes a whole map to /proc/PID/FILE in one write: the kernel takes a
 * map once, whole. */
static int map_write(pid_t pid, const char *file, const struct spec_idmap *m, size_t n,
                     struct berth_err **err)
{
  char buf[340 * 36] = "", path[64];
  size_t len = 0;
  for (size_t i = 0; i < n && i < 340; i++)
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
                            m[i].host_id, m[i].size);
  snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
  return write_string_at(AT_FDCWD, path, buf, err);
}

/* One map of the child's new user namespace. Root writes it; an ordinary
 * user may write a map of just their own id (setgroups denied first, for
 * gids, as the kernel requires); anything wider goes through the setuid
 * newuidmap/newgidmap, which check /etc/subuid. */
static int map_set(pid_t pid, bool gid, const struct spec_idmap *m, size_t n,
                   struct berth_err **err)
{
  const char *file = gid ? "gid_map" : "uid_map";
  int r;
  if (geteuid() == 0) {
    r = map_write(pid, file, m, n, err);
  } else if (map_is_own(m, n, gid ? (unsigned)getegid() : (unsigned)geteuid())) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
    r = gid ? write_string_at(AT_FDCWD, path, "deny", err) : 0;
    if (r == 0)
      r = map_write(pid, file, m, n, err);
  } else {
    r = newidmap_run(gid ? "newgidmap" : "newuidmap", pid, m, n, err);
  }
  return r < 0 ? berth_err_wrap(err, "linux.%s", gid ? "gidMappings" : "uidMappings") : 0;
}

/* A user namespace holding these maps, by fd: made by a throwaway child
 * that waits until we are done (idmapped mounts take one). */
static int userns_fd_with(const struct spec_idmap *u, size_t nu, const struct spec_idmap *g,
                          size_t ng, struct berth_err **err)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return berth_err_sys(err, "pipe");
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0) {
    char b;
    close(p[1]);
    while (read(p[0], &b, 1) < 0 && errno == EINTR)
      ;
    _exit(0);
  }
  close(p[0]);
  int fd = -1;
  if (pid < 0) {
    berth_err_sys(err, "clone a user namespace");
  } else {
    int k = map_write(pid, "uid_map", u, nu, err) == 0 && map_write(pid, "gid_map", g, ng, err) == 0
                ? 2
                : 0;
    if (k == 2) {
      char path[64];
      snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
      if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        berth_err_sys(err, "open %s", path);
    }
  }
  close(p[1]);
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  return fd;
}

void idmap_trees_free(int *trees, size_t n)
{
  for (size_t i = 0; trees && i < n; i++)
    if (trees[i] >= 0)
      close(trees[i]);
  free(trees);
}

/* Idmapped bind mounts, made here by host root as detached trees: the
 * init attaches them (by fd) where the config puts them. */
static int idmap_trees_make(const struct spec *s, int **out, struct berth_err **err)
{
  *out = NULL;
  bool any = false;
  for (size_t i = 0; i < s->n_mounts; i++)
    any = any || s->mounts[i].idmap;
  if (!any)
    return 0;
  int *t = xcalloc(s->n_mounts, sizeof(int));
  for (size_t i = 0; i < s->n_mounts; i++)
    t[i] = -1;
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct spec_mount *m = &s->mounts[i];
    if (!m->idmap)
      continue;
    bool own = m->n_uid_map > 0;
    cleanup_close int us = userns_fd_with(
        own ? m->uid_map : s->uid_mappings, own ? m->n_uid_map : s->n_uid_mappings,
        own ? m->gid_map : s->gid_mappings, own ? m->n_gid_map : s->n_gid_mappings, err);
    unsigned rec = (m->flags & MS_REC) || m->ridmap ? AT_RECURSIVE : 0;
    if (us >= 0)
      t[i] = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
    struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)us};
    if (us < 0 || t[i] < 0 ||
        mount_setattr(t[i], "", AT_EMPTY_PATH | (m->ridmap ? AT_RECURSIVE : 0), &a, sizeof(a)) <
            0) {
      if (us >= 0)
        berth_err_sys(err, "idmapped mount of %s", m->source);
      idmap_trees_free(t, s->n_mounts);
      return berth_err_wrap(err, "config.json: mounts[%zu]", i);
    }
  }
  *out = t;
  return 0;
}

/* Host side, before the child goes on: the uid/gid maps of its new user
 * namespace (root keeps setgroups allowed in it). */
static int userns_write_maps(pid_t pid, const struct spec *s, struct berth_err **err)
{
  if (!s->ns[NS_USER].enabled || s->ns[NS_USER].path)
    return 0;
  if (map_set(pid, true, s->gid_mappings, s->n_gid_mappings, err) < 0 ||
      map_set(pid, false, s->uid_mappings, s->n_uid_mappings, err) < 0)
    return -1;
  return 0;
}

/* The pty master the child sent: to the console socket, or kept. */
static int pty_route(int master, const char *console_socket, int *pty_out, struct berth_err **err)
{
  if (console_socket) {
    int r = tty_send_to_socket(console_socket, master, err);
    close(master);
    return r;
  }
  if (*pty_out >= 0)
    close(*pty_out);
  *pty_out = master;
  return 0;
}

/* Host side after the clone: wait for the child to finish its setup.
 * want: SYNC_READY (an init), or 0 (an exec: EOF once it exec'd). */
/* prestart and createRuntime, in the runtime namespace, while the init
 * waits between its mounts and pivot_root. */
static int hooks_runtime_ns(const struct spec *s, const char *id, pid_t pid, struct berth_err **err)
{
  cleanup_free char *state = hooks_state_json(s->oci_version, id, "creating", pid, s->bundle,
                                              json_object_get(s->json, "annotations"));
  if (hooks_run(&s->hooks, HOOK_PRESTART, state, err) < 0 ||
      hooks_run(&s->hooks, HOOK_CREATE_RUNTIME, state, err) < 0)
    return -1;
  TEST_POINT("create:hooks-run");
  return 0;
}

/* The process the parent syncs with: pid and pidfd change when the child
 * makes the init itself (SYNC_PID: a joined pid namespace, pidns.c). */
struct synced {
  pid_t pid;
  int pidfd;
  int ns_fds[2]; /* SYNC_NETNS: the child's network and user namespaces */
};

/* SYNC_PID: the first process made the init (as our child) and exits. */
static void synced_replace(struct synced *p, pid_t init)
{
  while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (p->pidfd >= 0)
    close(p->pidfd);
  p->pid = init;
  p->pidfd = pidfd_open_pid(init);
}

/* One request from the child during setup; 1 when handled, -1 on error. */
static int child_request(int sock, int type, int fd, int32_t val, struct synced *p,
                         const char *console_socket, int *pty, const struct spec *s, const char *id,
                         struct berth_err **err)
{
  if (type == SYNC_PID) {
    synced_replace(p, (pid_t)val);
    return 1;
  }
  if (type == SYNC_NETNS) {
    int *slot = p->ns_fds[0] < 0 ? &p->ns_fds[0] : &p->ns_fds[1];
    if (*slot >= 0)
      close(*slot);
    *slot = fd;
    return 1;
  }
  if (type == SYNC_PTY) {
    if (fd < 0)
      return berth_err_set(err, EPROTO, "terminal: no pty received");
    return pty_route(fd, console_socket, pty, err) < 0 ? -1 : 1;
  }
  if (s == NULL)
    return berth_err_set(err, EPROTO, "unexpected request from the process");
  if (type == SYNC_USERNS ? userns_write_maps(p->pid, s, err) < 0
                          : hooks_runtime_ns(s, id, p->pid, err) < 0)
    return -1;
  if (sync_send(sock, SYNC_GO, NULL) < 0)
    return berth_err_sys(err, "signal container process");
  return 1;
}

/* s and id: an init, whose hooks the parent runs on request; NULL: exec. */
static int child_sync(int sock, struct synced *p, int want, const char *console_socket, int *pty,
                      const struct spec *s, const char *id, struct berth_err **err)
{
  /* Host-side work on the child (uid maps, cgroup, network) goes here,
   * before the child is told to go on. */
  if (sync_send_val(sock, SYNC_GO, p->pid, NULL) < 0)
    return berth_err_sys(err, "signal container process");
  int type, fd = -1;
  int32_t val = 0;
  while ((type = sync_recv_val(sock, &fd, &val, err)) == SYNC_PTY || type == SYNC_HOOKS ||
         type == SYNC_PID || type == SYNC_USERNS || type == SYNC_NETNS) {
    int r = child_request(sock, type, fd, val, p, console_socket, pty, s, id, err);
    fd = -1;
    if (r < 0)
      return -1;
  }
  if (fd >= 0)
    close(fd);
  if (type == want)
    return 0;
  if (type == SYNC_ERROR || type < 0)
    return -1;
  int ws = 0;
  waitpid(p->pid, &ws, 0);
  return berth_err_set(err, 0, "container process exited during setup (%s %d)",
                       WIFSIGNALED(ws) ? "signal" : "status",
                       WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
}

/* "KIND:DEV:INO" of /proc/PID/ns/KIND, or NULL. */
static char *ns_key_of(pid_t pid, const char *kind)
{
  char path[64];
  struct stat st;
  snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
  if (stat(path, &st) < 0)
    return NULL;
  return xasprintf("%s:%lu:%lu", kind, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
}

static int state_record(int dirfd, const char *id, const struct spec *s, pid_t pid,
                        struct cgroup *cg, const struct runtime_create_opts *o,
                        struct berth_err **err)
{
  /* pid 0: before the clone, what a killed create leaves for delete. */
  char *key = NULL;
  if (pid > 0 && s->ns[NS_MNT].enabled && !s->ns[NS_MNT].path)
    key = ns_key_of(pid, "mnt");
  else if (pid > 0 && s->ns[NS_PID].enabled && !s->ns[NS_PID].path)
    key = ns_key_of(pid, "pid");
  struct state st = {
      .id = (char *)id,
      .pid = pid,
      .start_time = proc_start_time(pid),
      .bundle = s->bundle,
      .rootfs = s->rootfs,
      .created = state_now_rfc3339(),
      .oci_version = s->oci_version,
      .backend = s->backend,
      .ns_key = key ? key : (char *)"",
      .annotations = json_object_get(s->json, "annotations"),
      .cg = cg,
      .bundle_owned = o->bundle_owned,
      .ephemeral = o->ephemeral,
  };
  if (pid > 0 && s->hooks.n[HOOK_POSTSTART] + s->hooks.n[HOOK_POSTSTOP] > 0)
    st.hooks = json_object_get(s->json, "hooks");
  int r = pid > 0 && st.start_time == 0 ? berth_err_set(err, ESRCH, "container init vanished")
          : pid == 0 && state_write_cgroup(dirfd, cg, !o->ephemeral, err) < 0
              ? -1
              : state_write(dirfd, &st, err);
  free(st.created);
  free(key);
  return r;
}

/* The config as created, for exec: the bundle may change or go away. */
static int config_save(int dirfd, const struct spec *s, bool durable, struct berth_err **err)
{
  cleanup_free char *text = json_dumps(s->json, JSON_COMPACT);
  if (text == NULL)
    return berth_err_set(err, ENOMEM, "save config");
  return write_file_replace_at(dirfd, CONFIG_FILE, text, strlen(text), 0600, durable, err);
}

/* The device rules the cgroup gets: deny everything, then the config's
 * rules, then runc's default allow list (last, as runc does, so a config
 * cannot lock out /dev/null). linux.devices entries are created in /dev but
 * get no rule of their own: access to them is what linux.resources.devices
 * allows, as with runc (1.1.5 measured: a linux.devices /dev/kmsg under a
 * deny-all list is not writable). Allowing them here let a deny-all config
 * write to the host's kernel log through a listed /dev/kmsg (issue #9). */
static struct cgroup_device_rule *device_rules(const struct cgroup_resources *res, size_t *n)
{
  size_t max = 1 + res->n_devices + cgroup_n_default_devices;
  struct cgroup_device_rule *r = xcalloc(max, sizeof(*r));
  size_t k = 0;
  r[k++] = (struct cgroup_device_rule){false, 'a', -1, -1, "rwm"};
  for (size_t i = 0; i < res->n_devices; i++)
    r[k++] = res->devices[i];
  for (size_t i = 0; i < cgroup_n_default_devices; i++)
    r[k++] = cgroup_default_devices[i];
  *n = k;
  return r;
}

/* The cgroup is recorded (state and cgroup.json) before it is made, so
 * that delete finds it should this create be killed while making it. A
 * failed make leaves nothing and touches nothing else. */
static int cgroup_for(int dirfd, const char *id, const struct spec *s,
                      const struct runtime_create_opts *o, struct cgroup **cg,
                      struct berth_err **err)
{
  struct cgroup_resources r = s->resources;
  r.devices = device_rules(&s->resources, &r.n_devices);
  unsigned flags = (o->cgroup_needed_only ? CGROUP_CREATE_NEEDED_ONLY : 0) |
                   (o->cgroup_no_accounting ? CGROUP_CREATE_NO_ACCOUNTING : 0);
  int ret = cgroup_plan(id, s->cgroups_path, &r, flags, cg, err);
  if (ret == 0)
    ret = state_record(dirfd, id, s, 0, *cg, o, err);
  TEST_POINT("create:cgroup-recorded");
  if (ret == 0)
    ret = cgroup_make(*cg, &r, err);
  TEST_POINT("create:cgroup");
  if (ret < 0) {
    cgroup_free(*cg);
    *cg = NULL;
  }
  free(r.devices);
  return ret;
}

/* The init died during setup because the OOM killer chose it (a memory
 * limit below what setting up takes): say so rather than "signal 9". */
static void oom_explain(const struct spec *s, const struct cgroup *cg, struct berth_err **err)
{
  if (cg == NULL || cgroup_oom_kills(cg) == 0)
    return;
  berth_err_free(err);
  if (s->resources.has_mem_limit)
    berth_err_set(err, 0,
                  "container init was OOM-killed during setup: linux.resources.memory.limit "
                  "%lld is too low",
                  (long long)s->resources.mem_limit);
  else
    berth_err_set(err, 0, "container init was OOM-killed during setup");
}

/* Host side until the init is ready: maps, oom score, the sync dialogue,
 * the state. On failure the process (and a replacement) is killed. */
static int init_settle(int dirfd, int sock, struct synced *p, const char *id, const struct spec *s,
                       const struct runtime_create_opts *o, struct cgroup *cg,
                       const struct net_attachment *na, struct backend_created *out, bool late_maps,
                       struct berth_err **err)
{
  /* A bridge is wired before the hooks run (they may want the address),
   * from the namespace the init was cloned with; with a user namespace
   * made late (a joined pid namespace, pidns.c) and for slirp4netns (which
   * needs the namespaces' fds from the child), once the init is ready. */
  bool net_early = !late_maps && s->net.mode == NET_MODE_BRIDGE;
  TEST_POINT("create:cloned");
  if ((!late_maps && userns_write_maps(p->pid, s, err) < 0) ||
      oom_score_adj_apply(s, p->pid, err) < 0 ||
      (net_early && net_wire(dirfd, s, na, p->pid, NULL, err) < 0) ||
      TEST_POINT_STEP("create:net-wired") ||
      child_sync(sock, p, SYNC_READY, o->console_socket, &out->pty, s, id, err) < 0 ||
      TEST_POINT_STEP("create:child-ready") || state_record(dirfd, id, s, p->pid, cg, o, err) < 0 ||
      TEST_POINT_STEP("create:state-written") || config_save(dirfd, s, !o->ephemeral, err) < 0 ||
      (!net_early && net_wire(dirfd, s, na, p->pid, p->ns_fds, err) < 0) ||
      (o->pid_file && pid_file_write(o->pid_file, p->pid, err) < 0)) {
    init_reap(p->pid, p->pidfd);
    oom_explain(s, cg, err);
    if (out->pty >= 0)
      close(out->pty);
    out->pty = -1;
    return -1;
  }
  return 0;
}

/* Clones the init (or, joining a pid namespace, the process that makes
 * it) into its namespaces and cgroup and waits until it is ready to exec.
 * Nothing to undo but the process on failure. */
static int spawn_init(int dirfd, const char *id, const struct spec *s,
                      const struct runtime_create_opts *o, const sigset_t *orig_mask, bool keep,
                      struct cgroup *cg, const struct net_attachment *na,
                      struct backend_created *out, struct berth_err **err)
{
  if (mkfifoat(dirfd, EXEC_FIFO, 0600) < 0)
    return berth_err_sys(err, "create exec fifo");
  /* Opened read-write so the init can block in read() without a writer;
   * `start` opens it write-only and sends one byte. */
  cleanup_close int fifo = openat(dirfd, EXEC_FIFO, O_RDWR | O_CLOEXEC);
  if (fifo < 0)
    return berth_err_sys(err, "open exec fifo");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_err_sys(err, "socketpair");
  cleanup_close int sock = sv[0];
  cleanup_close int child_sock = sv[1];
  struct child_ctx ctx = {
      .spec = s,
      .id = id,
      .sync_fd = child_sock,
      .fifo_fd = fifo,
      .no_pivot = o->no_pivot,
      .no_new_keyring = o->no_new_keyring,
      .preserve_fds = o->preserve_fds,
      .stdio = o->stdio,
      .die_with_runtime = o->die_with_runtime,
      .cg = cg,
  };
  if (orig_mask)
    ctx.orig_mask = *orig_mask;
  else
    sigprocmask(SIG_SETMASK, NULL, &ctx.orig_mask);
  unsigned long flags = clone_flags(s);
  cleanup_close int cgfd = cg ? cgroup_open_v2(cg, err) : -1;
  int *trees = NULL;
  struct ns_saved saved = {-1};
  struct synced p = {-1, -1, {-1, -1}};
  if ((cgfd < 0 && *err) || pidns_prepare(s, &ctx, &flags, err) < 0 ||
      idmap_trees_make(s, &trees, err) < 0 || ns_prepare_in_parent(s, &saved, err) < 0)
    goto out;
  ctx.idmap_trees = trees;
  p.pid = clone_init(flags, cgfd, &ctx.in_cgroup_v2, &p.pidfd);
  if (p.pid == 0) {
    /* child: drop the parent's copies, above all the state-dir lock. */
    close(dirfd);
    close(sock);
    child_main(&ctx);
  }
  ns_restore_in_parent(&saved);
  if (p.pid < 0) {
    berth_err_sys(err, "clone container init");
    goto out;
  }
  /* The child has its copies. */
  idmap_trees_free(trees, s->n_mounts);
  trees = NULL;
  pidns_release(&ctx);
  close(steal_fd(&child_sock));
  if (init_settle(dirfd, sock, &p, id, s, o, cg, na, out, ctx.late_userns, err) < 0)
    goto out;
  out->pid = p.pid;
  out->pidfd = keep ? steal_fd(&p.pidfd) : -1;
  out->sync_fd = keep ? steal_fd(&sock) : -1;
out:
  ns_restore_in_parent(&saved);
  idmap_trees_free(trees, s->n_mounts);
  pidns_release(&ctx);
  if (p.pidfd >= 0)
    close(p.pidfd);
  for (int i = 0; i < 2; i++)
    if (p.ns_fds[i] >= 0)
      close(p.ns_fds[i]);
  return *err ? -1 : 0;
}

/* A filter that accepts no process. */
static bool no_member(pid_t pid, void *arg)
{
  (void)pid;
  (void)arg;
  return false;
}

/* Rootless (not root, or --rootless true as runc takes it): without a
 * cgroup delegated to us, a container that asks for no limits runs without
 * one, as with runc. */
static int rootless_without_cgroup(const struct spec *s, bool rootless, struct berth_err **err)
{
  if ((geteuid() == 0 && !rootless) || *err == NULL)
    return -1;
  int e = (*err)->errnum;
  if (e != EACCES && e != EPERM && e != EROFS)
    return -1;
  const struct cgroup_resources *r = &s->resources;
  bool limits = r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap ||
                r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_burst || r->has_cpu_idle ||
                r->cpus || r->mems || r->has_pids_limit || r->has_blkio_weight ||
                r->n_weight_devices || r->n_hugepages || r->n_unified || s->cgroups_path;
  for (int i = 0; i < 4; i++)
    limits = limits || r->n_throttle[i];
  if (limits)
    return berth_err_wrap(err, "rootless: cgroup limits need a cgroup delegated to uid %u",
                          (unsigned)geteuid());
  berth_err_free(err);
  return 0;
}

static int linux_create(int dirfd, const char *id, const struct spec *s,
                        const struct runtime_create_opts *o, const sigset_t *orig_mask, bool keep,
                        struct backend_created *out, struct berth_err **err)
{
  out->pty = -1;
  struct cgroup *cg = NULL;
  if (sysctl_check_unshared(s, err) < 0)
    return -1;
  if (cgroup_for(dirfd, id, s, o, &cg, err) < 0 &&
      rootless_without_cgroup(s, o->rootless, err) < 0) {
    /* No errno: the config asked for what this host cannot give. */
    if (*err && (*err)->errnum == 0)
      berth_err_wrap(err, "config.json");
    return -1;
  }
  /* Written before any process exists, so that delete finds the cgroup
   * should this create be killed half way: cgroup_for recorded a cgroup it
   * made; without one (rootless), what it may have recorded goes. */
  int ret = cg ? 0 : state_record(dirfd, id, s, 0, cg, o, err);
  TEST_POINT("create:state-preliminary");
  struct net_attachment na;
  struct spec with_net = *s; /* s with the network files' mounts */
  if (ret == 0)
    ret = net_prepare(dirfd, s, id, &na, err);
  TEST_POINT("create:net-prepared");
  if (ret == 0)
    ret = net_mounts(dirfd, s, &with_net, err);
  if (ret == 0)
    ret = spawn_init(dirfd, id, &with_net, o, orig_mask, keep, cg, &na, out, err);
  net_mounts_free(s, &with_net);
  if (ret < 0 && cg) {
    struct berth_err *e2 = NULL;
    /* The init is reaped; a cgroup found may hold others' processes. */
    const struct cgroup_filter none = {no_member, NULL};
    cgroup_destroy(cg, cgroup_adopted(cg) ? &none : NULL, &e2); /* best effort */
    berth_err_free(&e2);
  }
  cgroup_free(cg);
  return ret;
}

/* Returns once the init has taken the byte and let go of the fifo, which
 * it holds until execve (close-on-exec) or death: so when `start` returns
 * (and poststart hooks run) the user's program has been executed. We only
 * watch; reading could steal the byte. */
static void fifo_wait_exec(int rd)
{
  for (;;) {
    int avail = 0;
    ioctl(rd, FIONREAD, &avail);
    struct pollfd p = {.fd = rd, .events = POLLIN};
    int r = poll(&p, 1, avail > 0 ? 1 : -1);
    if (r < 0 && errno != EINTR)
      return;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
      return;
    if (avail > 0)
      usleep(50); /* the init has not read yet */
  }
}

int linux_start(int dirfd, const struct state *st, struct berth_err **err)
{
  (void)st;
  cleanup_close int rd = openat(dirfd, EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  cleanup_close int fd = openat(dirfd, EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || rd < 0) {
    if (errno == ENXIO)
      return berth_err_set(err, 0, "container init is gone");
    return berth_err_sys(err, "open exec fifo");
  }
  if (write(fd, "0", 1) != 1)
    return berth_err_sys(err, "write exec fifo");
  TEST_POINT("start:fifo-written");
  close(steal_fd(&fd));
  if (unlinkat(dirfd, EXEC_FIFO, 0) < 0)
    return berth_err_sys(err, "remove exec fifo");
  fifo_wait_exec(rd);
  return 0;
}

/* Who is the container's: the init (pid and start time), and every process
 * in the container's own namespace (see ns_key) whose root is the
 * container's rootfs. A namespace inode number can be reused once the
 * namespace is gone, so the inode alone could name another container's
 * processes. A host process never passes: the namespace was made for this
 * container. */
struct member_key {
  const struct state *st;
  bool has_ns;
  char kind[8];
  unsigned long dev, ino;
  struct stat root;
};

static void member_key_init(const struct state *st, struct member_key *k)
{
  *k = (struct member_key){.st = st};
  const char *key = st->ns_key;
  const char *colon = key ? strchr(key, ':') : NULL;
  if (colon == NULL || colon - key >= (long)sizeof(k->kind) || stat(st->rootfs, &k->root) < 0)
    return;
  memcpy(k->kind, key, (size_t)(colon - key));
  k->kind[colon - key] = '\0';
  char *end;
  k->dev = strtoul(colon + 1, &end, 10);
  if (*end != ':')
    return;
  k->ino = strtoul(end + 1, &end, 10);
  k->has_ns = *end == '\0';
}

static bool ns_member(pid_t pid, const struct member_key *k)
{
  char path[64];
  struct stat sb;
  snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, k->kind);
  if (!k->has_ns || stat(path, &sb) < 0 || sb.st_ino != k->ino || sb.st_dev != k->dev)
    return false;
  snprintf(path, sizeof(path), "/proc/%d/root", pid);
  return stat(path, &sb) == 0 && sb.st_ino == k->root.st_ino && sb.st_dev == k->root.st_dev;
}

static bool is_member(pid_t pid, void *arg)
{
  const struct member_key *k = arg;
  if (pid == k->st->pid && proc_start_time(pid) == k->st->start_time)
    return true;
  return ns_member(pid, k);
}

/* Signals every process other than the init that is a member (see
 * member_key), wherever it is. Returns how many were signalled. */
static int members_signal(const struct state *st, int sig)
{
  struct member_key k;
  member_key_init(st, &k);
  if (!k.has_ns)
    return 0;
  int n = 0;
  cleanup_dir DIR *d = opendir("/proc");
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    char *pend;
    long p = strtol(de->d_name, &pend, 10);
    if (*pend != '\0' || p <= 0 || p == st->pid || !ns_member((pid_t)p, &k))
      continue;
    if (kill((pid_t)p, sig) == 0)
      n++;
  }
  return n;
}

/* The processes of the container's cgroup that kill --all and delete may
 * signal: all of them in a cgroup berth made; in one it found (an existing
 * cgroupsPath, perhaps holding host processes), only the members. */
static const struct cgroup_filter *cgroup_members(const struct state *st, struct member_key *k,
                                                  struct cgroup_filter *f)
{
  if (!cgroup_adopted(st->cg))
    return NULL;
  member_key_init(st, k);
  *f = (struct cgroup_filter){is_member, k};
  return f;
}

static int linux_kill(const struct state *st, int sig, bool all, struct berth_err **err)
{
  cleanup_close int fd = state_pidfd(st);
  struct member_key k;
  struct cgroup_filter f;
  int n = 0;
  if (all)
    n = st->cg ? cgroup_signal_all(st->cg, sig, cgroup_members(st, &k, &f), err)
               : members_signal(st, sig);
  if (n < 0)
    return -1;
  if (fd < 0) {
    if (all)
      return 0; /* the init is gone; --all reached whatever it left (runc: no error) */
    return berth_err_set(err, 0, "container \"%s\" is not running", st->id);
  }
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
    return berth_err_sys(err, "signal container \"%s\"", st->id);
  return 0;
}

static int linux_destroy(const struct state *st, struct berth_err **err)
{
  if (st->cg) {
    struct member_key k;
    struct cgroup_filter f;
    return cgroup_destroy(st->cg, cgroup_members(st, &k, &f), err);
  }
  cleanup_close int fd = state_pidfd(st);
  /* Kill the others first: without a pid namespace they outlive the init. */
  for (int tries = 0; members_signal(st, SIGKILL) > 0 && tries < 100; tries++)
    usleep(1000);
  return fd < 0 ? 0 : state_pidfd_kill_wait(st, fd, err);
}

/* Device rules in an update replace the container's as at create: deny
 * all, the given rules, the default allow list last. containerd sends the
 * whole linux.resources on every update (CRI UpdateContainerResources),
 * whose devices list alone - deny all - would take /dev/null away. */
static int linux_update(const struct state *st, const struct cgroup_resources *r,
                        struct berth_err **err)
{
  if (st->cg == NULL)
    return state_no_cgroup(st, err);
  if (cgroup_join_missing(st->cg, r, err) < 0)
    return -1;
  if (r->n_devices == 0)
    return cgroup_apply(st->cg, r, err);
  struct cgroup_resources with_defaults = *r;
  with_defaults.devices = device_rules(r, &with_defaults.n_devices);
  int ret = cgroup_apply(st->cg, &with_defaults, err);
  free(with_defaults.devices);
  return ret;
}

static int linux_procs(const struct state *st, pid_t **pids, size_t *n, struct berth_err **err)
{
  return st->cg ? cgroup_pids(st->cg, pids, n, err) : state_no_cgroup(st, err);
}

static int linux_stats(const struct state *st, json_t **stats, uint64_t *oom_kills,
                       struct berth_err **err)
{
  if (st->cg == NULL)
    return state_no_cgroup(st, err);
  *stats = cgroup_stats(st->cg);
  *oom_kills = cgroup_oom_kills(st->cg);
  return 0;
}

/* Namespaces of the init that differ from ours: those are the ones to join. */
static int ns_differing(pid_t pid, int *flags)
{
  static const struct {
    const char *name;
    int flag;
  } kinds[] = {
      {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},    {"ipc", CLONE_NEWIPC},
      {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},   {"cgroup", CLONE_NEWCGROUP},
      {"pid", CLONE_NEWPID},   {"time", CLONE_NEWTIME},
  };
  *flags = 0;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    char path[64];
    struct stat theirs, ours;
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kinds[i].name);
    if (stat(path, &theirs) < 0) {
      if (errno == ENOENT)
        continue; /* a kernel without this namespace kind */
      return -1;
    }
    snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i].name);
    if (stat(path, &ours) < 0 || (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev))
      continue;
    *flags |= kinds[i].flag;
  }
  return 0;
}

/* Forks the exec helper (child.c: exec_helper_main), which makes the
 * process as our child; returns its pid. child_sock is closed here so
 * that the helper's death reads as EOF. */
static pid_t exec_spawn(struct exec_ctx *ctx, int sock, int *child_sock, struct berth_err **err)
{
  ctx->runtime_pid = getpid();
  pid_t h = fork();
  if (h < 0)
    return berth_err_sys(err, "fork");
  if (h == 0) {
    close(sock);
    exec_helper_main(ctx);
  }
  close(steal_fd(child_sock));
  int32_t pid = -1;
  int type = sync_recv_val(sock, NULL, &pid, err);
  while (waitpid(h, NULL, 0) < 0 && errno == EINTR)
    ;
  if (type == SYNC_PID && pid > 0)
    return pid;
  if (*err == NULL)
    berth_err_set(err, EPROTO, "exec: the helper process died");
  return -1;
}

static int linux_exec(const struct state *st, const struct spec *s,
                      const struct backend_exec_opts *o, struct backend_created *out,
                      struct berth_err **err)
{
  out->pty = out->pidfd = out->sync_fd = -1;
  cleanup_close int initfd = state_pidfd(st);
  if (initfd < 0)
    return berth_err_set(err, 0, "cannot exec in a stopped container");
  int flags;
  if (ns_differing(st->pid, &flags) < 0)
    return berth_err_sys(err, "read the container's namespaces");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_err_sys(err, "socketpair");
  cleanup_close int sock = sv[0];
  cleanup_close int child_sock = sv[1];
  struct exec_ctx ctx = {
      .spec = s,
      .id = st->id,
      .sync_fd = child_sock,
      .pidfd = initfd,
      .init_pid = st->pid,
      .ns_flags = flags,
      .preserve_fds = o->preserve_fds,
      .cg = st->cg,
      .listener = -1,
      .cgroup_subs = o->cgroups,
  };
  if (o->cgroups && o->cgroups[0] && st->cg == NULL)
    return berth_err_set(err, 0, "exec --cgroup: container \"%s\" has no cgroup", st->id);
  if (o->orig_mask)
    ctx.orig_mask = *o->orig_mask;
  else
    sigprocmask(SIG_SETMASK, NULL, &ctx.orig_mask);
  pid_t pid = exec_spawn(&ctx, sock, &child_sock, err);
  if (pid < 0)
    return -1;
  TEST_POINT("exec:spawned");
  /* Our child (CLONE_PARENT), unwaited: the pid cannot be reused yet. */
  struct synced p = {pid, pidfd_open_pid(pid), {-1, -1}};
  if (oom_score_adj_apply(s, pid, err) < 0 ||
      child_sync(sock, &p, 0, o->console_socket, &out->pty, NULL, NULL, err) < 0) {
    init_reap(p.pid, p.pidfd);
    if (p.pidfd >= 0)
      close(p.pidfd);
    if (out->pty >= 0)
      close(out->pty);
    out->pty = -1;
    return -1;
  }
  out->pid = p.pid;
  out->pidfd = p.pidfd;
  return 0;
}

const struct backend_ops backend_linux = {
    .name = "linux",
    .exec = linux_exec,
    .create = linux_create,
    .start = linux_start,
    .kill = linux_kill,
    .destroy = linux_destroy,
    .pause = state_freeze,
    .update = linux_update,
    .procs = linux_procs,
    .stats = linux_stats,
};

const struct backend_ops *backend_lookup(const char *name, struct berth_err **err)
{
  if (name == NULL || name[0] == '\0' || strcmp(name, "linux") == 0)
    return &backend_linux;
  if (strcmp(name, "microvm") == 0)
    return &backend_microvm;
  berth_err_set(err, 0, "unknown backend \"%s\"", name);
  return NULL;
}
