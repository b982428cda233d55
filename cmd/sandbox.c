/* berth sandbox [options] -- CMD...: CMD in a throwaway, limited, isolated
 * container; berth's exit status is CMD's. The config is built in memory
 * (sandbox_spec.c) and run by runtime_run like `berth run`, under a private
 * random ID; nothing of it is left afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/warn.h"
#include "../runtime/runtime.h"
#include "cmd.h"
#include "sandbox.h"

#define GRACE_DEFAULT_MS 2000

static struct sandbox_opts opts = {.net = "none", .grace_ms = GRACE_DEFAULT_MS};

enum {
  OPT_HOST = 256,
  OPT_ROOTFS,
  OPT_IMAGE,
  OPT_BIND,
  OPT_OVERLAY,
  OPT_TMPFS,
  OPT_WORKDIR,
  OPT_ENV,
  OPT_USER,
  OPT_MEMORY,
  OPT_CPUS,
  OPT_PIDS,
  OPT_TIMEOUT,
  OPT_GRACE,
  OPT_NET,
  OPT_STATS,
  OPT_BACKEND,
  OPT_CAP_ADD,
  OPT_GC,
};

static const struct option longopts[] = {
    {"host", no_argument, NULL, OPT_HOST},
    {"rootfs", required_argument, NULL, OPT_ROOTFS},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"bind", required_argument, NULL, OPT_BIND},
    {"overlay", required_argument, NULL, OPT_OVERLAY},
    {"tmpfs", required_argument, NULL, OPT_TMPFS},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"env", required_argument, NULL, OPT_ENV},
    {"user", required_argument, NULL, OPT_USER},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"net", required_argument, NULL, OPT_NET},
    {"stats", required_argument, NULL, OPT_STATS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"cap-add", required_argument, NULL, OPT_CAP_ADD},
    {"gc", no_argument, NULL, OPT_GC},
    {0},
};

/* ---- flags ---- */

static void strv_add(struct strv *s, const char *v)
{
  char **n = realloc(s->v, (s->n + 2) * sizeof(char *));
  if (n == NULL)
    abort();
  s->v = n;
  s->v[s->n++] = (char *)v;
  s->v[s->n] = NULL;
}

static int bad_value(const char *flag, const char *arg, const char *want)
{
  return cmd_usage_error(&verb_sandbox, "%s %s: %s", flag, arg, want);
}

static int root_opt(enum sandbox_root kind, const char *arg)
{
  static bool given;
  if (given)
    return cmd_usage_error(&verb_sandbox, "give one of --host, --rootfs and --image");
  given = true;
  opts.root_kind = kind;
  opts.root_arg = arg;
  return -1;
}

/* The flags that take a number. */
static int limit_opt(int opt, const char *arg)
{
  if (opt == OPT_MEMORY) {
    opts.has_memory = true;
    if (sandbox_parse_size(arg, &opts.memory) < 0)
      return bad_value("--memory", arg, "want a size like 512M or 2G");
  } else if (opt == OPT_CPUS) {
    opts.has_cpus = true;
    if (sandbox_parse_cpus(arg, &opts.cpu_quota) < 0)
      return bad_value("--cpus", arg, "want a number of CPUs like 0.5 or 2");
  } else if (opt == OPT_PIDS) {
    char *end;
    errno = 0;
    opts.pids = strtoll(arg, &end, 10);
    opts.has_pids = true;
    if (errno || *end || end == arg || opts.pids < 1)
      return bad_value("--pids", arg, "want a positive number");
  } else {
    uint64_t *ms = opt == OPT_TIMEOUT ? &opts.timeout_ms : &opts.grace_ms;
    if (sandbox_parse_duration(arg, ms) < 0)
      return bad_value(opt == OPT_TIMEOUT ? "--timeout" : "--grace", arg,
                       "want a duration like 60s, 1.5m or 500ms");
  }
  return -1;
}

static int on_opt(int opt, const char *arg)
{
  static const struct {
    int opt;
    struct strv *list;
  } lists[] = {{OPT_BIND, &opts.binds},
               {OPT_OVERLAY, &opts.overlays},
               {OPT_TMPFS, &opts.tmpfs},
               {OPT_ENV, &opts.env},
               {OPT_CAP_ADD, &opts.caps}};
  static const struct {
    int opt;
    const char **field;
  } strings[] = {{OPT_WORKDIR, &opts.workdir},
                 {OPT_USER, &opts.user},
                 {OPT_NET, &opts.net},
                 {OPT_STATS, &opts.stats_path},
                 {OPT_BACKEND, &opts.backend}};
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
    if (lists[i].opt == opt) {
      strv_add(lists[i].list, arg);
      return -1;
    }
  for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
    if (strings[i].opt == opt) {
      *strings[i].field = arg;
      return -1;
    }
  if (opt == OPT_GC) {
    opts.gc = true;
    return -1;
  }
  if (opt == OPT_HOST || opt == OPT_ROOTFS || opt == OPT_IMAGE)
    return root_opt(opt == OPT_HOST     ? SANDBOX_ROOT_HOST
                    : opt == OPT_ROOTFS ? SANDBOX_ROOT_DIR
                                        : SANDBOX_ROOT_IMAGE,
                    arg);
  return limit_opt(opt, arg);
}

/* --backend microvm: the guest has a network stack of its own and sees
 * the host only through its root (virtio-fs); the sandbox's host paths
 * (--bind, --overlay) cannot reach it yet. */
static int microvm_check(void)
{
  static const char *const why = "cannot reach a microVM yet (its root is shared, nothing else)";
  if (opts.binds.n > 0)
    return cmd_usage_error(&verb_sandbox, "--backend microvm: --bind %s", why);
  if (opts.overlays.n > 0)
    return cmd_usage_error(&verb_sandbox, "--backend microvm: --overlay %s", why);
  if (strcmp(opts.net, "host") == 0 || strcmp(opts.net, "slirp") == 0)
    return cmd_usage_error(&verb_sandbox,
                           "--backend microvm: --net %s: a microVM has its own network (use "
                           "none or bridge)",
                           opts.net);
  return -1;
}

/* Choices the parser cannot check one flag at a time. */
static int opts_check(void)
{
  static const char *const nets[] = {"none", "host", "bridge", "slirp"};
  bool net_ok = false;
  for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
    net_ok = net_ok || strcmp(opts.net, nets[i]) == 0;
  if (!net_ok)
    return bad_value("--net", opts.net, "want none, host, bridge or slirp");
  if (opts.backend && strcmp(opts.backend, "microvm") == 0)
    return microvm_check();
  if (opts.backend && strcmp(opts.backend, "linux") != 0)
    return bad_value("--backend", opts.backend, "want linux or microvm");
  return -1;
}

/* UID[:GID]: the caller's ids when not given. */
static int ids_parse(const char *user, uid_t *uid, gid_t *gid)
{
  *uid = geteuid();
  *gid = getegid();
  if (user == NULL)
    return 0;
  char *end;
  errno = 0;
  unsigned long u = strtoul(user, &end, 10), gv = u;
  if (end != user && *end == ':') {
    const char *gs = end + 1;
    gv = strtoul(gs, &end, 10);
    if (end == gs)
      return -1;
  }
  if (errno || end == user || *end || u > UINT32_MAX - 1 || gv > UINT32_MAX - 1)
    return -1;
  *uid = (uid_t)u;
  *gid = (gid_t)gv;
  return 0;
}

/* ---- the private pieces: ID, scratch directory, image bundle ---- */

static void id_make(char *id, size_t len)
{
  unsigned char r[8] = {0};
  if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t v = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    memcpy(r, &v, sizeof(r));
  }
  int n = snprintf(id, len, "sbx-");
  for (size_t i = 0; i < sizeof(r); i++)
    n += snprintf(id + n, len - (size_t)n, "%02x", r[i]);
}

static char *tmp_dir_path(const char *id)
{
  const char *base = getenv("TMPDIR");
  return xasprintf("%s/berth-%s", base && base[0] == '/' ? base : "/tmp", id);
}

static int tmp_dir_make(char **dir, struct berth_err **err)
{
  if (mkdir(*dir, 0700) == 0)
    return 0;
  berth_err_sys(err, "sandbox: scratch directory %s", *dir);
  free(*dir);
  *dir = NULL;
  return -1;
}

static int image_tool_run(char *const *args, struct berth_err **err)
{
  char path[PATH_MAX];
  cmd_image_path(path, sizeof(path));
  pid_t p = fork();
  if (p < 0)
    return berth_err_sys(err, "fork berth-image");
  if (p == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    dup2(2, 1); /* its chatter is not the command's output */
    execvp(path, args);
    fprintf(stderr, "berth: %s: %s\n", path, strerror(errno));
    _exit(127);
  }
  int ws;
  while (waitpid(p, &ws, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    return berth_err_set(err, 0, "sandbox --image: %s %s failed (see above)", path, args[3]);
  return 0;
}

int sandbox_image_bundle(bool create, const char *ref, const char *dir, struct berth_err **err)
{
  char *args[10];
  size_t k = 0;
  args[k++] = "berth-image";
  if (g.image_root) {
    args[k++] = "--image-root";
    args[k++] = (char *)g.image_root;
  }
  args[k++] = "bundle";
  args[k++] = create ? "create" : "rm";
  if (create) {
    args[k++] = "--image";
    args[k++] = (char *)ref;
  }
  args[k++] = (char *)dir;
  args[k] = NULL;
  return image_tool_run(args, err);
}

static int image_config(const char *bundle, json_t **cfg, struct berth_err **err)
{
  cleanup_free char *path = xasprintf("%s/config.json", bundle);
  json_error_t jerr;
  *cfg = json_load_file(path, 0, &jerr);
  if (*cfg == NULL)
    return berth_err_set(err, 0, "sandbox --image: %s: %s", path, jerr.text);
  return 0;
}

/* ---- one sandbox ---- */

struct sandbox {
  char id[32];
  struct sandbox_claim claim; /* held until everything else is gone */
  char *tmp_dir;              /* scratch: overlay upper dirs, the image bundle */
  char *bundle;               /* the image bundle inside it, or NULL */
  bool bundle_made;           /* berth-image made it: berth-image removes it */
  json_t *image_cfg;          /* its config.json */
  char cwd[PATH_MAX];
  char rootfs[PATH_MAX];
};

static int rootfs_pick(struct sandbox *sb, struct berth_err **err)
{
  if (opts.root_kind == SANDBOX_ROOT_HOST) {
    snprintf(sb->rootfs, sizeof(sb->rootfs), "/");
    return 0;
  }
  if (opts.root_kind == SANDBOX_ROOT_DIR) {
    if (realpath(opts.root_arg, sb->rootfs) == NULL)
      return berth_err_sys(err, "sandbox --rootfs %s", opts.root_arg);
    return 0;
  }
  sb->bundle = xasprintf("%s/bundle", sb->tmp_dir);
  if (sandbox_image_bundle(true, opts.root_arg, sb->bundle, err) < 0)
    return -1;
  sb->bundle_made = true;
  snprintf(sb->rootfs, sizeof(sb->rootfs), "%s/rootfs", sb->bundle);
  return image_config(sb->bundle, &sb->image_cfg, err);
}

/* An ID and the claim on it (sandbox_gc.c), naming the scratch directory
 * before it exists. */
static int sandbox_claim(struct sandbox *sb, struct berth_err **err)
{
  bool image = opts.root_kind == SANDBOX_ROOT_IMAGE;
  bool scratch = opts.overlays.n > 0 || image;
  for (int tries = 0;; tries++) {
    id_make(sb->id, sizeof(sb->id));
    sb->tmp_dir = scratch ? tmp_dir_path(sb->id) : NULL;
    if (sandbox_claim_take(g.root, sb->id, sb->tmp_dir, image, &sb->claim, err) == 0)
      return 0;
    free(sb->tmp_dir);
    sb->tmp_dir = NULL;
    if ((*err)->errnum != EAGAIN || tries == 2)
      return -1;
    berth_err_free(err);
  }
}

static int sandbox_prepare(struct sandbox *sb, char **argv, char **config, struct berth_err **err)
{
  if (getcwd(sb->cwd, sizeof(sb->cwd)) == NULL)
    return berth_err_sys(err, "sandbox: current directory");
  if (sandbox_claim(sb, err) < 0 || (sb->tmp_dir && tmp_dir_make(&sb->tmp_dir, err) < 0))
    return -1;
  if (rootfs_pick(sb, err) < 0)
    return -1;
  struct sandbox_ctx c = {.o = &opts,
                          .argv = argv,
                          .cwd = sb->cwd,
                          .rootfs = sb->rootfs,
                          .tmp_dir = sb->tmp_dir,
                          .image_cfg = sb->image_cfg,
                          .rootless = geteuid() != 0};
  if (ids_parse(opts.user, &c.uid, &c.gid) < 0)
    return berth_err_set(err, 0, "sandbox: --user %s: want UID[:GID] (numbers)", opts.user);
  if (c.rootless && opts.user == NULL)
    c.gid = getegid();
  return sandbox_spec(&c, config, err);
}

static void sandbox_cleanup(struct sandbox *sb)
{
  struct berth_err *err = NULL;
  if (sb->bundle_made && sandbox_image_bundle(false, NULL, sb->bundle, &err) < 0)
    cmd_fail(&err);
  if (sb->tmp_dir)
    sandbox_scratch_remove(sb->tmp_dir);
  free(sb->tmp_dir);
  free(sb->bundle);
  json_decref(sb->image_cfg);
  sandbox_claim_drop(&sb->claim);
}

/* ---- the outcome ---- */

static double seconds(const struct timeval *tv)
{
  return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static json_t *jget(json_t *o, const char *a, const char *b, const char *c)
{
  return json_object_get(json_object_get(json_object_get(o, a), b), c);
}

/* CPU and memory: the cgroup's when there is one, else the init's rusage. */
static void stats_usage(json_t *o, const struct runtime_report *r)
{
  json_t *cg = r->stats;
  if (cg) {
    json_object_set_new(o, "accounting", json_string("cgroup"));
    json_object_set_new(
        o, "cpu_user_seconds",
        json_real((double)json_integer_value(jget(cg, "cpu", "usage", "user")) / 1e9));
    json_object_set_new(
        o, "cpu_system_seconds",
        json_real((double)json_integer_value(jget(cg, "cpu", "usage", "kernel")) / 1e9));
    json_object_set_new(
        o, "cpu_total_seconds",
        json_real((double)json_integer_value(jget(cg, "cpu", "usage", "total")) / 1e9));
    json_object_set_new(o, "memory_peak_bytes", json_copy(jget(cg, "memory", "usage", "max")));
    return;
  }
  json_object_set_new(o, "accounting", json_string("rusage"));
  json_object_set_new(o, "cpu_user_seconds", json_real(seconds(&r->rusage.ru_utime)));
  json_object_set_new(o, "cpu_system_seconds", json_real(seconds(&r->rusage.ru_stime)));
  json_object_set_new(o, "cpu_total_seconds",
                      json_real(seconds(&r->rusage.ru_utime) + seconds(&r->rusage.ru_stime)));
  /* The largest single process's resident set, not the sandbox's total. */
  json_object_set_new(o, "memory_peak_bytes", json_integer((json_int_t)r->rusage.ru_maxrss * 1024));
}

static json_t *stats_json(const struct runtime_report *r, int status, double wall, const char *id,
                          const char *error)
{
  json_t *o = json_pack("{s:s, s:i, s:b, s:f}", "id", id, "exit_status", status, "timed_out",
                        r->timed_out, "wall_seconds", wall);
  json_object_set_new(o, "signal",
                      r->stop_signal ? json_sprintf("SIG%s", sigabbrev_np(r->stop_signal))
                                     : json_null());
  stats_usage(o, r);
  json_object_set_new(o, "pids_peak",
                      r->pids_peak ? json_integer((json_int_t)r->pids_peak) : json_null());
  json_object_set_new(o, "pids_peak_source",
                      json_string(r->pids_peak == 0 ? "none"
                                  : r->pids_sampled ? "sampled"
                                                    : "kernel"));
  json_object_set_new(o, "oom_kills", json_integer((json_int_t)r->oom_kills));
  if (error)
    json_object_set_new(o, "error", json_string(error));
  return o;
}

static void stats_write(const struct runtime_report *r, int status, double wall, const char *id,
                        const char *error)
{
  if (opts.stats_path == NULL)
    return;
  json_t *o = stats_json(r, status, wall, id, error);
  if (json_dump_file(o, opts.stats_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
    fprintf(stderr, "berth: sandbox --stats %s: %s\n", opts.stats_path, strerror(errno));
  json_decref(o);
}

/* berth's own failure: 125, or 126/127 when CMD itself cannot be run. */
static int failure_status(const struct berth_err *err)
{
  /* The runtime's "exec: \"CMD\": ..." / "exec CMD: ...", checked as CMD's user. */
  bool exec = err && (strncmp(err->msg, "exec:", 5) == 0 || strncmp(err->msg, "exec ", 5) == 0);
  if (!exec)
    return SANDBOX_EXIT_FAILURE;
  if (err->errnum == ENOENT)
    return SANDBOX_EXIT_NOTFOUND;
  return err->errnum == EACCES || err->errnum == ENOEXEC ? SANDBOX_EXIT_NOEXEC
                                                         : SANDBOX_EXIT_FAILURE;
}

/* Timeout 124; stopped by a signal to berth and killed after the grace:
 * 128+that signal; else CMD's own status. */
static int outcome_status(const struct runtime_report *r, int status)
{
  if (r->timed_out)
    return SANDBOX_EXIT_TIMEOUT;
  if (r->stop_signal && status == 128 + SIGKILL)
    return 128 + r->stop_signal;
  return status;
}

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sandbox_run(char **argv, const sigset_t *caller_mask)
{
  struct sandbox sb = {.claim = {.fd = -1}};
  struct berth_err *err = NULL;
  cleanup_free char *config = NULL;
  struct runtime_watch w = {.timeout_ms = opts.timeout_ms,
                            .stop_grace_ms = (unsigned)opts.grace_ms,
                            .child_mask = caller_mask,
                            .pids_peak = opts.stats_path != NULL,
                            .stats = opts.stats_path != NULL};
  struct runtime_run_opts ro = {.watch = &w};
  int status = 0;
  double t0 = now_seconds();
  /* Best effort: others' leftovers must not stop this run. */
  if (sandbox_gc(g.root, NULL, &err) < 0) {
    berth_warn("%s", err->msg);
    berth_err_free(&err);
  }
  int ret = sandbox_prepare(&sb, argv, &config, &err);
  if (ret == 0) {
    ro.create.config = config;
    ro.create.cgroup_needed_only = true;
    ro.create.cgroup_no_accounting = opts.stats_path == NULL;
    ro.create.ephemeral = true;
    ro.create.bundle = sb.bundle ? sb.bundle : "/";
    ret = runtime_run(g.root, sb.id, &ro, &status, &err);
  }
  double wall = now_seconds() - t0;
  status = ret < 0 ? failure_status(err) : outcome_status(&w.report, status);
  stats_write(&w.report, status, wall, sb.id, ret < 0 ? err->msg : NULL);
  json_decref(w.report.stats);
  if (ret < 0)
    cmd_fail(&err);
  sandbox_cleanup(&sb);
  return status;
}

static void gc_removed(const char *id)
{
  printf("removed stale sandbox %s\n", id);
}

/* --gc: the sandboxes of this --root whose berth is gone. */
static int sandbox_gc_only(void)
{
  struct berth_err *err = NULL;
  if (sandbox_gc(g.root, gc_removed, &err) < 0)
    return cmd_fail(&err);
  return 0;
}

static int run_sandbox(int argc, char **argv)
{
  /* Until the container runs, a SIGINT/SIGTERM/SIGHUP waits: the run
   * handles it (forwards it, cleans up), so nothing is left half made. */
  sigset_t stop, caller;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  sigprocmask(SIG_BLOCK, &stop, &caller);
  int r = cmd_getopt(&verb_sandbox, argc, argv, "", longopts, on_opt);
  if (r < 0)
    r = opts_check();
  if (r < 0 && opts.gc && optind < argc)
    r = cmd_usage_error(&verb_sandbox, "--gc takes no command");
  else if (r < 0 && opts.gc)
    r = sandbox_gc_only();
  else if (r < 0 && optind >= argc)
    r = cmd_usage_error(&verb_sandbox, "missing the command (berth sandbox [options] -- CMD...)");
  if (r >= 0)
    return r == 1 ? SANDBOX_EXIT_FAILURE : r;
  return sandbox_run(argv + optind, &caller);
}

const struct verb verb_sandbox = {
    "sandbox",
    "run a command in a throwaway, limited, isolated container",
    "Usage: berth sandbox [options] [--] CMD [ARG...]\n\n"
    "Runs CMD in a container made for it and removed afterwards: all namespaces\n"
    "(a user namespace when not root), the default seccomp profile, no new\n"
    "privileges, no capabilities, the caller's uid/gid inside. stdin, stdout and\n"
    "stderr are CMD's; signals are forwarded.\n\n"
    "Root:\n"
    "  --host                 the host's / read-only, recursively (the default),\n"
    "                         the current directory as the working directory\n"
    "  --rootfs DIR           DIR as the root, read-only\n"
    "  --image REF            an image's root (berth-image bundle create), a private\n"
    "                         overlay thrown away afterwards\n"
    "  Always private: /tmp, /run, /dev/shm (empty tmpfs), /dev (minimal), /proc.\n\n"
    "Mounts:\n"
    "  --bind SRC[:DST][:ro]  bind SRC (writable unless :ro); '--bind .' makes the\n"
    "                         current directory writable\n"
    "  --overlay DIR[:DST]    DIR copy-on-write: writes go to a private upper dir\n"
    "                         removed afterwards; DIR itself is never changed\n"
    "  --tmpfs DST            an empty tmpfs at DST\n\n"
    "Process:\n"
    "  --workdir DIR          working directory inside\n"
    "  --env K=V              set a variable (the caller's environment is passed)\n"
    "  --user UID[:GID]       ids inside (default: the caller's)\n"
    "  --cap-add CAP          grant a capability (default: none)\n\n"
    "Limits and accounting (need a cgroup: root, or one delegated to the user):\n"
    "  --memory SIZE          memory limit (512M, 2G); over it, the OOM killer\n"
    "  --cpus N               CPU bandwidth (0.5 = half a CPU)\n"
    "  --pids N               most processes at once\n"
    "  --timeout DURATION     kill everything after DURATION (60s, 1.5m, 500ms)\n"
    "  --grace DURATION       after berth gets SIGINT/SIGTERM/SIGHUP (forwarded to\n"
    "                         CMD) kill everything this long after (default 2s)\n"
    "  --stats FILE           write JSON at exit: wall time, user/system CPU, peak\n"
    "                         memory, peak pids, OOM kills, exit status, timed_out\n\n"
    "Other:\n"
    "  --gc                   only remove this --root's stale sandboxes (those whose\n"
    "                         berth was SIGKILLed); every sandbox run does it too\n"
    "  --net MODE             none (default: only lo), host, bridge (root), slirp\n"
    "  --backend linux|microvm  namespaces (default), or a QEMU microVM with its\n"
    "                         own kernel (root; no --bind/--overlay, --net none\n"
    "                         or bridge)\n\n"
    "Exit status: CMD's; 128+N when CMD was killed by signal N; 124 when the\n"
    "timeout fired; 128+N when berth got signal N (SIGINT, SIGTERM, SIGHUP) and\n"
    "CMD had to be killed; 125 when berth itself failed (nothing is left);\n"
    "126 when CMD is not executable, 127 when it is not found.\n",
    run_sandbox,
    .options_first = true,
};
