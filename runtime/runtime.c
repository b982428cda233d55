/* The verbs: each one locks the container's state directory, derives its
 * status, and hands the work to the container's backend. */
#include "runtime.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/signals.h"
#include "../common/fileutil.h"
#include "../common/testhook.h"
#include "../common/treerm.h"
#include "../common/warn.h"
#include "backend.h"
#include "linux.h"
#include "relay.h"
#include "spec.h"
#include "state.h"

#define ID_MAX 255

void runtime_set_warn(void (*fn)(const char *msg))
{
  berth_warn_set_sink(fn);
}

/* poststart and poststop: a failure is a warning, and the remaining hooks
 * still run (runtime-spec 1.2, lifecycle steps 9 and 13). */
static void hooks_run_warn(json_t *hooks_json, enum hook_kind k, const struct state *st,
                           const char *status, pid_t pid)
{
  if (hooks_json == NULL)
    return;
  struct hooks h;
  struct berth_err *e = NULL;
  if (hooks_parse(hooks_json, &h, &e) < 0) {
    berth_warn("%s", e->msg);
    berth_err_free(&e);
    return;
  }
  cleanup_free char *state =
      hooks_state_json(st->oci_version, st->id, status, pid, st->bundle, st->annotations);
  for (size_t i = 0; i < h.n[k]; i++) {
    struct hooks one = {0};
    one.list[k] = &h.list[k][i];
    one.n[k] = 1;
    if (hooks_run(&one, k, state, &e) < 0) {
      /* hooks_run counted from this one: name its real index. */
      char prefix[64], msg[sizeof(e->msg)];
      int n = snprintf(prefix, sizeof(prefix), "hook %s[0] ", hook_kind_name(k));
      if (strncmp(e->msg, prefix, (size_t)n) == 0)
        snprintf(msg, sizeof(msg), "hook %s[%zu] %.1900s", hook_kind_name(k), i, e->msg + n);
      else
        snprintf(msg, sizeof(msg), "%.2000s", e->msg);
      berth_warn("%s", msg);
      berth_err_free(&e);
    }
  }
  hooks_free(&h);
}

int runtime_validate_id(const char *id, struct berth_err **err)
{
  size_t n = strlen(id);
  bool ok = n > 0 && n <= ID_MAX && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
  for (size_t i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)id[i]) || strchr("_+-.", id[i]) != NULL;
  if (!ok)
    return berth_err_set(err, 0,
                         "invalid container ID \"%s\": use 1-%d characters from "
                         "[A-Za-z0-9_+.-], not \".\" or \"..\"",
                         id, ID_MAX);
  return 0;
}

int runtime_parse_signal(const char *s, int *sig, struct berth_err **err)
{
  if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) {
    /* 0 checks that the process exists, as kill(1) and runc take it. */
    long v = strtol(s, NULL, 10);
    if (v < 0 || v > SIGRTMAX)
      return berth_err_set(err, 0, "invalid signal \"%s\"", s);
    *sig = (int)v;
    return 0;
  }
  char up[32];
  size_t n = strlen(s);
  if (n == 0 || n >= sizeof(up))
    return berth_err_set(err, 0, "invalid signal \"%s\"", s);
  for (size_t i = 0; i <= n; i++)
    up[i] = (char)toupper((unsigned char)s[i]);
  const char *name = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
  for (int i = 1; i < NSIG; i++) {
    const char *abbrev = sigabbrev_np(i);
    if (abbrev && strcmp(abbrev, name) == 0) {
      *sig = i;
      return 0;
    }
  }
  /* RTMIN, RTMAX, RTMIN+N, RTMAX-N */
  if (strncmp(name, "RTMIN", 5) == 0 || strncmp(name, "RTMAX", 5) == 0) {
    bool min = name[4] == 'N';
    const char *rest = name + 5;
    long off = 0;
    if (*rest != '\0') {
      char *end;
      if (*rest != (min ? '+' : '-') || !isdigit((unsigned char)rest[1]))
        return berth_err_set(err, 0, "invalid signal \"%s\"", s);
      off = strtol(rest + 1, &end, 10);
      if (*end != '\0' || off > SIGRTMAX - SIGRTMIN)
        return berth_err_set(err, 0, "invalid signal \"%s\"", s);
    }
    *sig = min ? SIGRTMIN + (int)off : SIGRTMAX - (int)off;
    return 0;
  }
  return berth_err_set(err, 0, "invalid signal \"%s\"", s);
}

/* Opens, locks and reads a container. Returns the locked dirfd. */
static int container_open(const char *root, const char *id, bool exclusive, struct state *st,
                          enum status *status, const struct backend_ops **ops,
                          struct berth_err **err)
{
  if (runtime_validate_id(id, err) < 0)
    return -1;
  cleanup_close int dirfd = state_dir_open(root, id, exclusive, err);
  if (dirfd < 0)
    return -1;
  if (state_read(dirfd, id, st, err) < 0)
    return -1;
  *status = state_status(dirfd, st);
  if ((*ops = backend_lookup(st->backend, err)) == NULL) {
    state_clear(st);
    return -1;
  }
  return steal_fd(&dirfd);
}

/* The mount id of path (statx), 0 when unknown. */
static uint64_t mount_id_of(const char *path)
{
  struct statx sx;
  if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &sx) < 0 || !(sx.stx_mask & STATX_MNT_ID))
    return 0;
  return sx.stx_mnt_id;
}

static bool path_within(const char *inner, const char *outer)
{
  size_t n = strlen(outer);
  if (strcmp(outer, "/") == 0)
    return true;
  return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

/* Can the container write the state root through bind mount m? The state
 * holds what berth acts on as root on the host (poststop hooks, cgroup
 * paths), so no container may reach it writable. */
static bool state_root_writable_through(const struct spec_mount *m, const char *state)
{
  char src[PATH_MAX];
  if (!m->bind || m->source == NULL || realpath(m->source, src) == NULL)
    return false;
  bool ro_all = m->rec_attr_set & MOUNT_ATTR_RDONLY; /* rro */
  bool ro_top = (m->flags & MS_RDONLY) || ro_all;
  if (path_within(src, state)) /* the state itself, or a container's */
    return !ro_top;
  if (!path_within(state, src))
    return false;
  bool same_mount = mount_id_of(state) == mount_id_of(src);
  if (!(m->flags & MS_REC))
    return same_mount && !ro_top;
  /* rbind: "ro" covers the top mount only, not the submounts; rro all. */
  return !ro_top || (!same_mount && !ro_all);
}

static int state_root_guard(const char *root, const struct spec *s, struct berth_err **err)
{
  char state[PATH_MAX];
  if (realpath(root, state) == NULL)
    return berth_err_sys(err, "state root %s", root);
  for (size_t i = 0; i < s->n_mounts; i++)
    if (state_root_writable_through(&s->mounts[i], state))
      return berth_err_set(err, 0,
                           "config.json: mounts[%zu]: %s would let the container write berth's "
                           "state root %s (hooks and cgroup paths berth acts on as root): "
                           "use another --root, or mount it read-only (recursively: rro)",
                           i, s->mounts[i].destination, state);
  return 0;
}

static int create_in_dir(const char *root, const char *id, const struct spec *spec,
                         const struct runtime_create_opts *o, const sigset_t *orig_mask, bool keep,
                         struct backend_created *out, struct berth_err **err)
{
  const struct backend_ops *ops = backend_lookup(spec->backend, err);
  if (ops == NULL)
    return -1;
  cleanup_close int dirfd = state_dir_create(root, id, err);
  if (dirfd < 0)
    return -1;
  TEST_POINT("create:state-dir");
  if (state_root_guard(root, spec, err) < 0 ||
      ops->create(dirfd, id, spec, o, orig_mask, keep, out, err) < 0) {
    struct berth_err *e2 = NULL;
    state_dir_remove(root, id, dirfd, &e2); /* best effort: the first error matters */
    berth_err_free(&e2);
    return -1;
  }
  return 0;
}

/* Before berth opens anything: else one of its own fds could pass for a
 * preserved one (and reach the container). */
static int preserved_fds_check(unsigned n, struct berth_err **err)
{
  for (unsigned fd = 3; fd < 3 + n; fd++)
    if (fcntl((int)fd, F_GETFD) < 0)
      return berth_err_set(err, EBADF, "--preserve-fds %u: fd %u is not open", n, fd);
  return 0;
}

/* Compiled seccomp programs are shared by every container of this user. */
static const char *seccomp_cache_dir(void)
{
  return geteuid() == 0 ? "/run/berth-seccomp-cache" : NULL;
}

/* Socket activation: fds 3..3+N-1 handed to us by systemd (LISTEN_PID is
 * ours) go to the container first, before any --preserve-fds, as in runc. */
static unsigned listen_fds(void)
{
  const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
  if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid())
    return 0;
  char *end;
  unsigned long n = strtoul(fds, &end, 10);
  return *end == '\0' && n > 0 && n < 1024 ? (unsigned)n : 0;
}

static void env_set(char ***envp, const char *kv)
{
  size_t klen = (size_t)(strchr(kv, '=') - kv) + 1, n = 0;
  char **env = *envp;
  for (; env[n]; n++)
    if (strncmp(env[n], kv, klen) == 0) {
      free(env[n]);
      env[n] = xstrdup(kv);
      return;
    }
  env = realloc(env, (n + 2) * sizeof(char *));
  if (env == NULL)
    abort();
  env[n] = xstrdup(kv);
  env[n + 1] = NULL;
  *envp = env;
}

/* LISTEN_PID=1: the container's process is pid 1 of its namespace (runc
 * sets the same). */
static void listen_env(struct spec *s, unsigned n)
{
  char kv[64];
  snprintf(kv, sizeof(kv), "LISTEN_FDS=%u", n);
  env_set(&s->env, kv);
  env_set(&s->env, "LISTEN_PID=1");
}

/* attach: `run` in the foreground, which can relay a terminal itself. */
static int terminal_check(const struct spec *spec, const char *console_socket, bool attach,
                          struct berth_err **err)
{
  if (spec == NULL || !spec->terminal)
    return 0;
  if (console_socket)
    return tty_check_socket(console_socket, err);
  if (!attach)
    return berth_err_set(err, 0,
                         "process.terminal is true but nothing would hold the terminal: "
                         "give --console-socket");
  return 0;
}

static int spec_load_opts(const struct runtime_create_opts *o, struct spec **spec,
                          struct berth_err **err)
{
  const char *bundle = o->bundle ? o->bundle : ".";
  if (o->config == NULL)
    return spec_load_with(bundle, seccomp_cache_dir(), o->annotations, spec, err);
  char abs[PATH_MAX];
  if (realpath(bundle, abs) == NULL) {
    berth_err_sys(err, "bundle %s", bundle);
    return -1;
  }
  return spec_load_text_with(o->config, abs, seccomp_cache_dir(), o->annotations, spec, err);
}

/* relay: `run` in the foreground (attach), which relays the output of a
 * container without a terminal (relay.h); NULL otherwise. */
static int create_common(const char *root, const char *id, const struct runtime_create_opts *o,
                         const sigset_t *orig_mask, bool keep, bool attach, struct relay *relay,
                         struct backend_created *out, struct berth_err **err)
{
  struct runtime_create_opts opts = *o;
  unsigned listen = listen_fds();
  opts.preserve_fds += listen;
  if (preserved_fds_check(opts.preserve_fds, err) < 0 || runtime_validate_id(id, err) < 0)
    return -1;
  struct spec *spec = NULL;
  if (spec_load_opts(o, &spec, err) < 0)
    return -1;
  if (listen)
    listen_env(spec, listen);
  int ret = terminal_check(spec, o->console_socket, attach, err);
  /* Opened only now: any earlier, a pipe could pass for a preserved fd. */
  if (ret == 0 && relay && !spec->terminal && (ret = relay_open(relay, err)) == 0)
    opts.stdio = relay->child;
  if (ret == 0)
    ret = create_in_dir(root, id, spec, &opts, orig_mask, keep, out, err);
  if (relay)
    relay_child_ends_close(relay);
  spec_free(spec);
  return ret;
}

int runtime_create(const char *root, const char *id, const struct runtime_create_opts *o,
                   struct berth_err **err)
{
  struct backend_created c = {.pty = -1};
  return create_common(root, id, o, NULL, false, false, NULL, &c, err);
}

int runtime_start(const char *root, const char *id, struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  cleanup_close int dirfd = container_open(root, id, true, &st, &status, &ops, err);
  if (dirfd < 0)
    return -1;
  int ret;
  if (status != STATUS_CREATED)
    ret = berth_err_set(err, 0, "cannot start container \"%s\": it is %s, not created", id,
                        status_name(status));
  else
    ret = ops->start(dirfd, &st, err);
  TEST_POINT("start:started");
  if (ret == 0)
    hooks_run_warn(st.hooks, HOOK_POSTSTART, &st, "running", st.pid);
  state_clear(&st);
  return ret;
}

int runtime_kill(const char *root, const char *id, int sig, bool all, struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  cleanup_close int dirfd = container_open(root, id, false, &st, &status, &ops, err);
  if (dirfd < 0)
    return -1;
  TEST_POINT("kill:opened");
  int ret;
  if (status == STATUS_STOPPED && !all)
    ret = berth_err_set(err, 0, "container \"%s\" is not running", id);
  else
    ret = ops->kill(&st, sig, all, err);
  TEST_POINT("kill:signalled");
  state_clear(&st);
  return ret;
}

/* Undoes what a container's records apart from state.json name: the
 * cgroup (cgroup.json) with every process in it, the network (net.json),
 * then the directory. In a cgroup berth found rather than made, the
 * container's processes cannot be told from others' without the state:
 * none is signalled and the cgroup stays. dirfd is locked. */
static int records_undo(const char *root, const char *id, int dirfd, struct berth_err **err)
{
  struct state st = {.id = (char *)id, .rootfs = (char *)"", .ns_key = (char *)""};
  st.cg = state_read_cgroup(dirfd);
  const struct backend_ops *ops = backend_lookup(NULL, err);
  int ret = st.cg && ops ? ops->destroy(&st, err) : 0;
  cgroup_free(st.cg);
  return ret < 0 ? -1 : state_dir_remove(root, id, dirfd, err);
}

/* delete --force of an ID whose create was killed before it wrote any
 * state: the directory alone (a fifo, a cgroup.json at most) would block
 * the ID forever. Not while a create holds it. */
static int remains_remove(const char *root, const char *id, struct berth_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s", root, id);
  cleanup_close int fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return 0;
  if (flock(fd, LOCK_EX | LOCK_NB) < 0)
    return berth_err_set(err, 0, "container \"%s\" is being created", id);
  if (faccessat(fd, STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0; /* a create finished meanwhile: not remains */
  if (records_undo(root, id, fd, err) < 0)
    return -1;
  berth_warn("removed the remains of an interrupted create of \"%s\" (%s)", id, path);
  return 0;
}

/* delete --force of a container whose state.json is there but unreadable
 * (truncated, garbage): see records_undo. */
static int unreadable_remove(const char *root, const char *id, struct berth_err **err)
{
  cleanup_free char *why = xstrdup((*err)->msg);
  berth_err_free(err);
  cleanup_close int dirfd = state_dir_open(root, id, true, err);
  if (dirfd < 0 || records_undo(root, id, dirfd, err) < 0)
    return berth_err_wrap(err, "%s; removing what else was recorded", why);
  berth_warn("%s: removed the container with its cgroup and network records", why);
  return 0;
}

int runtime_delete(const char *root, const char *id, bool force, struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  cleanup_close int dirfd = container_open(root, id, true, &st, &status, &ops, err);
  if (dirfd < 0) {
    if (force && strstr((*err)->msg, "does not exist")) {
      berth_err_free(err);
      return remains_remove(root, id, err);
    }
    if (force && (*err)->errnum == EBADMSG)
      return unreadable_remove(root, id, err);
    return -1;
  }
  TEST_POINT("delete:opened");
  int ret = 0;
  if (status == STATUS_RUNNING && !force)
    ret = berth_err_set(err, 0,
                        "cannot delete container \"%s\": it is running (stop it first or use "
                        "--force)",
                        id);
  else
    ret = ops->destroy(&st, err); /* also reaps what a stopped init left behind */
  TEST_POINT("delete:destroyed");
  /* Before the state goes: should the bundle refuse (a mount inside it),
   * the state still names it for the next delete. */
  if (ret == 0 && st.bundle_owned)
    ret = bundle_dir_remove(st.bundle, true, err);
  if (ret == 0)
    ret = state_dir_remove(root, id, dirfd, err);
  TEST_POINT("delete:state-removed");
  if (ret == 0)
    hooks_run_warn(st.hooks, HOOK_POSTSTOP, &st, "stopped", 0);
  state_clear(&st);
  return ret;
}

static char *dir_owner(int dirfd)
{
  struct stat sb;
  if (fstat(dirfd, &sb) < 0)
    return xstrdup("");
  /* /etc/passwd read directly: berth is linked statically, without NSS. */
  cleanup_fclose FILE *f = fopen("/etc/passwd", "re");
  struct passwd *pw;
  while (f && (pw = fgetpwent(f)) != NULL)
    if (pw->pw_uid == sb.st_uid)
      return xstrdup(pw->pw_name);
  return xasprintf("#%u", (unsigned)sb.st_uid);
}

static void info_fill(struct runtime_info *info, struct state *st, enum status status)
{
  info->id = steal_ptr(&st->id);
  info->pid = status == STATUS_STOPPED ? 0 : st->pid;
  info->status = status_name(status);
  info->bundle = steal_ptr(&st->bundle);
  info->rootfs = steal_ptr(&st->rootfs);
  info->created = steal_ptr(&st->created);
  info->oci_version = steal_ptr(&st->oci_version);
  info->annotations = steal_ptr(&st->annotations);
}

int runtime_state(const char *root, const char *id, struct runtime_info *info,
                  struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  cleanup_close int dirfd = container_open(root, id, false, &st, &status, &ops, err);
  if (dirfd < 0)
    return -1;
  info_fill(info, &st, status);
  info->owner = dir_owner(dirfd);
  state_clear(&st);
  return 0;
}

static int info_cmp_id(const void *a, const void *b)
{
  return strcmp(((const struct runtime_info *)a)->id, ((const struct runtime_info *)b)->id);
}

/* Sorted by ID (byte order), as runc lists them, not in directory order. */
int runtime_list(const char *root, struct runtime_info **list, size_t *n, struct berth_err **err)
{
  *list = NULL;
  *n = 0;
  cleanup_dir DIR *d = opendir(root);
  if (d == NULL) {
    if (errno == ENOENT)
      return 0;
    return berth_err_sys(err, "open state root %s", root);
  }
  size_t cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || de->d_type != DT_DIR)
      continue;
    struct state st;
    enum status status;
    const struct backend_ops *ops;
    struct berth_err *e = NULL;
    cleanup_close int dirfd = container_open(root, de->d_name, false, &st, &status, &ops, &e);
    if (dirfd < 0) {
      berth_err_free(&e); /* being created or deleted right now */
      continue;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      struct runtime_info *nl = realloc(*list, cap * sizeof(**list));
      if (nl == NULL)
        abort();
      *list = nl;
    }
    memset(&(*list)[*n], 0, sizeof(**list));
    (*list)[*n].owner = dir_owner(dirfd);
    info_fill(&(*list)[(*n)++], &st, status);
    state_clear(&st);
  }
  if (*n > 1)
    qsort(*list, *n, sizeof(**list), info_cmp_id);
  return 0;
}

void runtime_info_clear(struct runtime_info *info)
{
  free(info->id);
  free(info->bundle);
  free(info->rootfs);
  free(info->created);
  free(info->oci_version);
  json_decref(info->annotations);
  free(info->owner);
  memset(info, 0, sizeof(*info));
}

/* ---- cgroup verbs ---- */

static int not_running(const char *id, enum status status, struct berth_err **err)
{
  return berth_err_set(err, 0, "container \"%s\" is not running (it is %s)", id,
                       status_name(status));
}

static int pause_or_resume(const char *root, const char *id, bool pause, struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  /* Shared: an exec --ignore-paused holds a shared lock until its process
   * runs, which needs this resume. The freezer itself serialises. */
  cleanup_close int dirfd = container_open(root, id, false, &st, &status, &ops, err);
  if (dirfd < 0)
    return -1;
  int ret;
  if (pause && status != STATUS_RUNNING)
    ret = not_running(id, status, err); /* runc's wording, paused included */
  else if (!pause && status != STATUS_PAUSED)
    ret =
        berth_err_set(err, 0, "container \"%s\" is not paused (it is %s)", id, status_name(status));
  else
    ret = ops->pause(&st, pause, err);
  state_clear(&st);
  return ret;
}

int runtime_pause(const char *root, const char *id, struct berth_err **err)
{
  return pause_or_resume(root, id, true, err);
}

int runtime_resume(const char *root, const char *id, struct berth_err **err)
{
  return pause_or_resume(root, id, false, err);
}

int runtime_update(const char *root, const char *id, json_t *resources, struct berth_err **err)
{
  struct cgroup_resources r;
  if (cgroup_resources_parse(resources, "update: resources", &r, err) < 0)
    return -1;
  if (cgroup_validate(NULL, &r, err) < 0) {
    cgroup_resources_free(&r);
    return berth_err_wrap(err, "update");
  }
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  int ret = -1;
  int dirfd = container_open(root, id, true, &st, &status, &ops, err);
  if (dirfd >= 0) {
    if (status == STATUS_STOPPED)
      ret = not_running(id, status, err);
    else
      ret = ops->update(&st, &r, err);
    /* The cgroup may have joined hierarchies it lacked: record them. */
    if (ret == 0 && st.cg)
      ret = state_write_cgroup(dirfd, st.cg, true, err);
    if (ret == 0)
      ret = state_write(dirfd, &st, err);
    state_clear(&st);
    close(dirfd);
  }
  cgroup_resources_free(&r);
  return ret;
}

/* The first column of a table after its header. */
static void table_pids(const char *table, pid_t **pids, size_t *n)
{
  const char *line = strchr(table, '\n');
  *n = 0;
  *pids = NULL;
  while (line && line[1]) {
    pid_t *p = realloc(*pids, (*n + 1) * sizeof(pid_t));
    if (p == NULL)
      abort();
    *pids = p;
    p[(*n)++] = (pid_t)strtol(line + 1, NULL, 10);
    line = strchr(line + 1, '\n');
  }
}

int runtime_ps(const char *root, const char *id, pid_t **pids, size_t *n, char **table,
               struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  *table = NULL;
  cleanup_close int dirfd = container_open(root, id, false, &st, &status, &ops, err);
  if (dirfd < 0)
    return -1;
  int ret = 0;
  *pids = NULL;
  *n = 0;
  if (ops->procs_table == NULL)
    ret = ops->procs(&st, pids, n, err);
  else if (status == STATUS_PAUSED) /* its guest is frozen with it */
    ret = berth_err_set(err, 0, "ps: container \"%s\" is paused", id);
  else if (status != STATUS_STOPPED && (ret = ops->procs_table(&st, dirfd, table, err)) == 0)
    table_pids(*table, pids, n);
  state_clear(&st);
  return ret;
}

int runtime_stats(const char *root, const char *id, json_t **stats, uint64_t *oom_kills,
                  bool *running, struct berth_err **err)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  cleanup_close int dirfd = container_open(root, id, false, &st, &status, &ops, err);
  if (dirfd < 0)
    return -1;
  *running = status != STATUS_STOPPED;
  int ret = ops->stats(&st, stats, oom_kills, err);
  state_clear(&st);
  return ret;
}

/* ---- run ---- */

/* ---- run with a deadline (berth sandbox) ---- */

struct watch {
  pid_t init;
  int pidfd;
  struct runtime_watch *w;
  struct cgroup *cg;          /* for the pids samples; NULL without one */
  bool sampling;              /* the kernel keeps no pids.peak: sample */
  uint64_t deadline, kill_at; /* CLOCK_MONOTONIC ms; 0: none */
};

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Killing the init kills its pid namespace; delete reaps the cgroup. */
static void watch_kill(struct watch *x)
{
  syscall(SYS_pidfd_send_signal, x->pidfd, SIGKILL, NULL, 0);
}

static void watch_sample(struct watch *x)
{
  struct runtime_report *r = &x->w->report;
  uint64_t cur, peak;
  if (x->cg == NULL || cgroup_pids_counts(x->cg, &cur, &peak) < 0)
    return;
  if (peak == 0)
    r->pids_sampled = x->sampling = true;
  if (peak > r->pids_peak)
    r->pids_peak = peak;
  if (cur > r->pids_peak)
    r->pids_peak = cur;
}

/* Between signals: the deadline, the grace after a stop signal, a sample. */
static void watch_tick(struct watch *x)
{
  uint64_t now = now_ms();
  if (x->deadline && now >= x->deadline) {
    x->w->report.timed_out = true;
    x->deadline = 0;
    watch_kill(x);
  }
  if (x->kill_at && now >= x->kill_at) {
    x->kill_at = 0;
    watch_kill(x);
  }
  if (x->sampling)
    watch_sample(x);
}

/* How long to sleep: until the next of those; NULL: until a signal. */
static struct timespec *watch_next(const struct watch *x, struct timespec *ts)
{
  uint64_t now = now_ms(), ms = x->sampling ? RUNTIME_PIDS_SAMPLE_MS : UINT64_MAX;
  const uint64_t at[] = {x->deadline, x->kill_at};
  for (size_t i = 0; i < 2; i++)
    if (at[i] && (at[i] > now ? at[i] - now : 0) < ms)
      ms = at[i] > now ? at[i] - now : 0;
  if (ms == UINT64_MAX)
    return NULL;
  ts->tv_sec = (time_t)(ms / 1000);
  ts->tv_nsec = (long)(ms % 1000) * 1000000;
  return ts;
}

/* Collects orphans too (we are the subreaper); true once the init is reaped. */
static bool watch_reap(struct watch *x, int *exit_status)
{
  int ws;
  struct rusage ru;
  pid_t p;
  while ((p = wait4(-1, &ws, WNOHANG, &ru)) > 0) {
    if (p != x->init)
      continue;
    *exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    x->w->report.rusage = ru;
    return true;
  }
  return false;
}

static bool is_stop_signal(int sig)
{
  return sig == SIGINT || sig == SIGTERM || sig == SIGHUP;
}

static void watch_wait(struct watch *x, const sigset_t *set, int *exit_status)
{
  struct runtime_report *r = &x->w->report;
  if (x->w->timeout_ms)
    x->deadline = now_ms() + x->w->timeout_ms;
  watch_sample(x);
  for (;;) {
    siginfo_t si;
    struct timespec ts;
    int sig = sigtimedwait(set, &si, watch_next(x, &ts));
    if (sig == SIGCHLD && watch_reap(x, exit_status))
      return;
    if (sig < 0 || sig == SIGCHLD) {
      watch_tick(x);
      continue;
    }
    /* A pid 1 ignores what it has no handler for: the grace ends that. */
    if (is_stop_signal(sig) && r->stop_signal == 0) {
      r->stop_signal = sig;
      x->kill_at = now_ms() + x->w->stop_grace_ms;
    }
    syscall(SYS_pidfd_send_signal, x->pidfd, sig, NULL, 0);
  }
}

/* The cgroup of a started container, for the samples (NULL: none). */
static struct cgroup *watch_cgroup(const char *root, const char *id)
{
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  struct berth_err *e = NULL;
  int dirfd = container_open(root, id, false, &st, &status, &ops, &e);
  berth_err_free(&e);
  if (dirfd < 0)
    return NULL;
  close(dirfd); /* delete takes the lock later */
  struct cgroup *cg = steal_ptr(&st.cg);
  state_clear(&st);
  return cg;
}

/* The figures the cgroup keeps, read before delete removes it. */
static void watch_report(const char *root, const char *id, struct runtime_report *r)
{
  struct berth_err *e = NULL;
  bool running;
  if (runtime_stats(root, id, &r->stats, &r->oom_kills, &running, &e) < 0)
    r->stats = NULL; /* no cgroup (rootless): rusage only */
  berth_err_free(&e);
}

static void run_watched(const char *root, const char *id, const struct runtime_run_opts *o,
                        const struct backend_created *c, const sigset_t *set, int *exit_status)
{
  struct watch x = {.init = c->pid, .pidfd = c->pidfd, .w = o->watch};
  x.cg = o->watch->pids_peak ? watch_cgroup(root, id) : NULL;
  watch_wait(&x, set, exit_status);
  watch_sample(&x); /* the kernel's peak, when it keeps one */
  if (o->watch->stats)
    watch_report(root, id, &o->watch->report);
  cgroup_free(x.cg);
}

int runtime_run(const char *root, const char *id, const struct runtime_run_opts *o,
                int *exit_status, struct berth_err **err)
{
  sigset_t set, orig;
  signals_forward_set(&set);
  sigprocmask(SIG_BLOCK, &set, &orig);
  if (!o->detach)
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  const sigset_t *child_mask = o->watch && o->watch->child_mask ? o->watch->child_mask : &orig;

  /* In the foreground the container is berth's: it dies with berth, even
   * killed by SIGKILL, and its output passes through berth (relay.h). */
  struct runtime_create_opts co = o->create;
  co.die_with_runtime = !o->detach;
  struct relay relay = RELAY_NONE;
  struct backend_created c = {.pidfd = -1, .sync_fd = -1, .pty = -1};
  int ret = create_common(root, id, &co, child_mask, true, !o->detach,
                          o->detach || o->watch ? NULL : &relay, &c, err);
  cleanup_close int pidfd = c.pidfd;
  cleanup_close int sync_fd = c.sync_fd;
  cleanup_close int pty = c.pty;
  if (ret < 0)
    goto out;
  if ((ret = runtime_start(root, id, err)) < 0)
    goto fail;
  /* EOF: the init exec'd the user's program; a message: it could not. */
  int type = sync_recv(sync_fd, err);
  if (type != 0) {
    if (type != SYNC_ERROR && type >= 0)
      berth_err_set(err, EPROTO, "unexpected message from container init");
    ret = -1;
    goto fail;
  }
  TEST_POINT("run:started");
  *exit_status = 0;
  if (!o->detach) {
    if (pty >= 0)
      tty_relay(pty, c.pid, pidfd, &set, exit_status);
    else if (o->watch)
      run_watched(root, id, o, &c, &set, exit_status);
    else
      relay_wait(&relay, c.pid, pidfd, &set, exit_status);
    TEST_POINT("run:exited");
    if (!o->keep)
      ret = runtime_delete(root, id, true, err);
  }
  goto out;
fail : {
  struct berth_err *e2 = NULL;
  runtime_delete(root, id, true, &e2);
  berth_err_free(&e2);
  while (waitpid(c.pid, NULL, 0) < 0 && errno == EINTR)
    ;
}
out:
  /* After delete, which killed whatever of the container was left. */
  relay_finish(&relay);
  sigprocmask(SIG_SETMASK, &orig, NULL);
  return ret;
}

/* ---- exec ---- */

static int strv_has(json_t *arr, const char *v)
{
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e)
    if (json_is_string(e) && strcmp(json_string_value(e), v) == 0)
      return 1;
  return 0;
}

static json_t *strv_json(char **v)
{
  json_t *a = json_array();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

/* The config's process with exec's flags applied, runc's way. */
static int exec_process_from_flags(const struct runtime_exec_opts *o, json_t *config, json_t **out,
                                   struct berth_err **err)
{
  json_t *base = json_object_get(config, "process");
  json_t *p = json_is_object(base) ? json_deep_copy(base) : json_object();
  *out = p;
  json_object_set_new(p, "args", strv_json(o->args));
  json_object_set_new(p, "terminal", json_boolean(o->tty));
  if (o->cwd)
    json_object_set_new(p, "cwd", json_string(o->cwd));
  if (o->no_new_privs)
    json_object_set_new(p, "noNewPrivileges", json_true());
  json_t *env = json_object_get(p, "env");
  if (!json_is_array(env)) {
    env = json_array();
    json_object_set_new(p, "env", env);
  }
  for (size_t i = 0; o->env && o->env[i]; i++) {
    const char *eq = strchr(o->env[i], '=');
    if (eq == NULL || eq == o->env[i])
      return berth_err_set(err, 0, "--env \"%s\": must be KEY=VALUE", o->env[i]);
    size_t klen = (size_t)(eq - o->env[i]) + 1, k;
    json_t *e;
    bool replaced = false;
    json_array_foreach (env, k, e) {
      if (json_is_string(e) && strncmp(json_string_value(e), o->env[i], klen) == 0) {
        json_array_set_new(env, k, json_string(o->env[i]));
        replaced = true;
        break;
      }
    }
    if (!replaced)
      json_array_append_new(env, json_string(o->env[i]));
  }
  json_t *user = json_object_get(p, "user");
  if (!json_is_object(user)) {
    user = json_object();
    json_object_set_new(p, "user", user);
  }
  if (o->user) {
    unsigned long uid, gid = 0;
    char *end;
    errno = 0;
    uid = strtoul(o->user, &end, 10);
    bool ok = end != o->user && errno == 0 && uid <= UINT32_MAX - 1;
    if (ok && *end == ':') {
      const char *g = end + 1;
      gid = strtoul(g, &end, 10);
      ok = end != g && errno == 0 && gid <= UINT32_MAX - 1;
    }
    if (!ok || *end != '\0')
      return berth_err_set(err, 0, "--user \"%s\": must be UID[:GID] (numbers)", o->user);
    json_object_set_new(user, "uid", json_integer((json_int_t)uid));
    json_object_set_new(user, "gid", json_integer((json_int_t)gid));
  }
  if (o->additional_gids) {
    json_t *gids = json_array();
    json_object_set_new(user, "additionalGids", gids);
    cleanup_free char *copy = xstrdup(o->additional_gids);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      char *end;
      errno = 0;
      unsigned long v = strtoul(t, &end, 10);
      if (*end != '\0' || end == t || errno || v > UINT32_MAX - 1)
        return berth_err_set(err, 0, "--additional-gids \"%s\": must be numbers", t);
      json_array_append_new(gids, json_integer((json_int_t)v));
    }
  }
  if (o->caps && o->caps[0]) {
    json_t *caps = json_object_get(p, "capabilities");
    if (!json_is_object(caps)) {
      caps = json_object();
      json_object_set_new(p, "capabilities", caps);
    }
    static const char *const sets[] = {"bounding", "effective", "permitted"};
    for (size_t k = 0; k < 3; k++) {
      json_t *arr = json_object_get(caps, sets[k]);
      if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(caps, sets[k], arr);
      }
      for (size_t i = 0; o->caps[i]; i++)
        if (!strv_has(arr, o->caps[i]))
          json_array_append_new(arr, json_string(o->caps[i]));
    }
  }
  return 0;
}

static int exec_process_from_file(const char *path, bool tty, json_t **out, struct berth_err **err)
{
  cleanup_free char *text = NULL;
  if (read_file_at(AT_FDCWD, path, 1u << 20, &text, NULL, err) < 0)
    return berth_err_wrap(err, "--process %s", path);
  json_error_t jerr;
  json_t *p = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (p == NULL)
    return berth_err_set(err, 0, "--process %s: invalid JSON at line %d column %d: %s", path,
                         jerr.line, jerr.column, jerr.text);
  *out = p;
  if (!json_is_object(p))
    return berth_err_set(err, 0, "--process %s: must be a JSON object", path);
  if (tty)
    json_object_set_new(p, "terminal", json_true());
  return 0;
}

/* proc: the --process object, already read (NULL: built from the flags). */
static int exec_spec(int dirfd, const struct state *st, const struct runtime_exec_opts *o,
                     json_t *proc, struct spec **spec, struct berth_err **err)
{
  cleanup_free char *text = NULL;
  if (read_file_trusted_at(dirfd, CONFIG_FILE, 4u << 20, &text, err) < 0)
    return berth_err_wrap(err, "container \"%s\": saved config", st->id);
  int ret = 0;
  cleanup_free char *label = NULL;
  if (proc) {
    label = xasprintf("--process %s", o->process_file);
    json_incref(proc);
  } else {
    json_error_t jerr;
    json_t *config = json_loads(text, 0, &jerr);
    ret = config ? exec_process_from_flags(o, config, &proc, err)
                 : berth_err_set(err, 0, "container \"%s\": saved config is not JSON", st->id);
    json_decref(config);
  }
  if (ret == 0)
    ret = spec_parse_exec(text, st->bundle, proc, label, seccomp_cache_dir(), spec, err);
  json_decref(proc);
  return ret;
}

int runtime_exec(const char *root, const char *id, const struct runtime_exec_opts *o,
                 int *exit_status, struct berth_err **err)
{
  if (preserved_fds_check(o->preserve_fds, err) < 0)
    return -2;
  if (o->process_file == NULL && (o->args == NULL || o->args[0] == NULL))
    return berth_err_set(err, 0, "exec: no command given (ARGS or --process)"), -2;
  /* Inputs first, while SIGTERM and SIGINT still work and no lock is held:
   * a --process FIFO nobody writes to must not make an exec that only
   * SIGKILL ends. */
  json_t *proc = NULL;
  if (o->process_file && exec_process_from_file(o->process_file, o->tty, &proc, err) < 0) {
    json_decref(proc);
    return -2;
  }
  sigset_t set, orig;
  signals_forward_set(&set);
  sigprocmask(SIG_BLOCK, &set, &orig);
  struct state st;
  enum status status;
  const struct backend_ops *ops;
  struct spec *spec = NULL;
  struct backend_created c = {.pidfd = -1, .sync_fd = -1, .pty = -1};
  int ret = -1;
  int dirfd = container_open(root, id, false, &st, &status, &ops, err);
  if (dirfd < 0)
    goto out;
  if (status == STATUS_STOPPED)
    berth_err_set(err, 0, "cannot exec in a stopped container");
  else if (status == STATUS_PAUSED && !o->ignore_paused)
    berth_err_set(err, 0, "cannot exec in a paused container");
  else if (ops->exec == NULL)
    berth_err_set(err, ENOTSUP, "backend %s cannot exec", ops->name);
  else if (exec_spec(dirfd, &st, o, proc, &spec, err) < 0)
    ret = o->process_file ? -2 : -1;
  else if (terminal_check(spec, o->console_socket, !o->detach, err) == 0) {
    struct backend_exec_opts bo = {.preserve_fds = o->preserve_fds,
                                   .console_socket = o->console_socket,
                                   .orig_mask = &orig,
                                   .cgroups = o->cgroups,
                                   .dirfd = dirfd};
    ret = ops->exec(&st, spec, &bo, &c, err);
  }
  state_clear(&st);
  /* The lock only guards the start: a long exec must not block delete. */
  close(dirfd);
  if (ret < 0)
    goto out;
  if (o->pid_file && (ret = pid_file_write(o->pid_file, c.pid, err)) < 0) {
    syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, NULL, 0);
    waitpid(c.pid, NULL, 0);
    goto out;
  }
  TEST_POINT("exec:ready");
  *exit_status = 0;
  if (!o->detach) {
    if (c.pty >= 0)
      tty_relay(c.pty, c.pid, c.pidfd, &set, exit_status);
    else
      relay_wait(&(struct relay)RELAY_NONE, c.pid, c.pidfd, &set, exit_status);
  }
out:
  if (c.pty >= 0)
    close(c.pty);
  if (c.pidfd >= 0)
    close(c.pidfd);
  spec_free(spec);
  json_decref(proc);
  sigprocmask(SIG_SETMASK, &orig, NULL);
  return ret;
}

char *runtime_default_spec(bool rootless)
{
  return spec_default_json_for(rootless, (unsigned)geteuid(), (unsigned)getegid());
}
