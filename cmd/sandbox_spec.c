/* The config.json `berth sandbox` runs: the host's root (or a rootfs, or
 * an image's) read-only all the way down, private /tmp /dev /proc /run, all
 * namespaces, the default seccomp profile, no capabilities, no new
 * privileges; the flags' mounts and limits on top. Pure: builds JSON from
 * the flags, touches nothing but stat(2) of mount destinations. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../seccomp/seccomp.h"
#include "sandbox.h"

extern char **environ;

/* ---- values ---- */

int sandbox_parse_size(const char *s, int64_t *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  static const char units[] = "bkmgt";
  const char *u = *end ? strchr(units, *end | 0x20) : units;
  /* 512M, 512m, 512MB, 512MiB; a bare number is bytes. */
  const char *rest = *end ? end + 1 : end;
  bool tail_ok =
      *rest == '\0' || (u != units && (strcasecmp(rest, "b") == 0 || strcasecmp(rest, "ib") == 0));
  if (errno || end == s || v <= 0 || u == NULL || !tail_ok)
    return -1;
  for (const char *k = units; k < u; k++)
    v *= 1024;
  if (v >= 9.2e18)
    return -1;
  *out = (int64_t)v;
  return 0;
}

int sandbox_parse_cpus(const char *s, int64_t *quota)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0.01) || v > 4096)
    return -1;
  *quota = (int64_t)(v * 100000 + 0.5);
  return 0;
}

int sandbox_parse_duration(const char *s, uint64_t *ms)
{
  static const struct {
    const char *suffix;
    double ms;
  } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !(v >= 0))
    return -1;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (strcmp(end, units[i].suffix) == 0 && v * units[i].ms < 1e15) {
      *ms = (uint64_t)(v * units[i].ms + 0.5);
      return 0;
    }
  return -1;
}

/* ---- mounts ---- */

static json_t *mount_new(const char *dst, const char *type, const char *src, const char *opts)
{
  json_t *o = json_array();
  cleanup_free char *copy = xstrdup(opts);
  char *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(o, json_string(t));
  return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
                   "options", o);
}

/* The private tree every sandbox gets, as the OCI default has it. */
static void mounts_base(json_t *m, bool rootless, bool own_net)
{
  json_array_append_new(m, mount_new("/proc", "proc", "proc", "nosuid,noexec,nodev"));
  json_array_append_new(m, mount_new("/dev", "tmpfs", "tmpfs",
                                     "nosuid,strictatime,mode=755,"
                                     "size=65536k"));
  json_array_append_new(m, mount_new("/dev/pts", "devpts", "devpts",
                                     rootless ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"
                                              : "nosuid,noexec,newinstance,ptmxmode=0666,"
                                                "mode=0620,gid=5"));
  json_array_append_new(m, mount_new("/dev/shm", "tmpfs", "shm",
                                     "nosuid,noexec,nodev,mode=1777,"
                                     "size=65536k"));
  json_array_append_new(m, mount_new("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
  /* sysfs belongs to the network namespace's owner: an ordinary user
   * sharing the host's network binds the host's, read-only. */
  json_array_append_new(m, rootless && !own_net
                               ? mount_new("/sys", "none", "/sys",
                                           "rbind,nosuid,noexec,nodev,"
                                           "ro,rro")
                               : mount_new("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
  json_array_append_new(m, mount_new("/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777"));
  json_array_append_new(m, mount_new("/run", "tmpfs", "tmpfs", "nosuid,nodev,mode=755"));
}

/* SRC made absolute against the caller's directory ("." is that). */
static char *path_abs(const char *cwd, const char *p)
{
  if (strcmp(p, ".") == 0)
    return xstrdup(cwd);
  return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", cwd, p);
}

/* Below one of the private mounts of mounts_base (hidden from the host's). */
static bool under_private(const char *path)
{
  static const char *const dirs[] = {"/tmp", "/run", "/dev", "/proc", "/sys"};
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    size_t n = strlen(dirs[i]);
    if (strncmp(path, dirs[i], n) == 0 && (path[n] == '/' || path[n] == '\0'))
      return true;
  }
  return false;
}

/* A read-only root cannot grow mount points: they must exist already
 * (below a private tmpfs they are made there). */
static int dest_check(const struct sandbox_ctx *c, const char *flag, const char *arg,
                      const char *dst, struct berth_err **err)
{
  if (c->o->root_kind == SANDBOX_ROOT_IMAGE || under_private(dst))
    return 0; /* the image's root is a private overlay */
  cleanup_free char *in_root =
      strcmp(c->rootfs, "/") == 0 ? xstrdup(dst) : xasprintf("%s%s", c->rootfs, dst);
  struct stat st;
  if (stat(in_root, &st) < 0)
    return berth_err_set(err, 0,
                         "%s %s: %s does not exist in the read-only root (create it first, or "
                         "pick another destination)",
                         flag, arg, dst);
  return 0;
}

/* --bind SRC[:DST][:ro] */
static int mount_bind(const struct sandbox_ctx *c, const char *arg, json_t *m,
                      struct berth_err **err)
{
  cleanup_free char *copy = xstrdup(arg);
  char *dst = strchr(copy, ':'), *mode = NULL;
  if (dst) {
    *dst++ = '\0';
    if ((mode = strchr(dst, ':')) != NULL)
      *mode++ = '\0';
    else if (strcmp(dst, "ro") == 0)
      mode = dst, dst = NULL;
  }
  if (mode && strcmp(mode, "ro") != 0)
    return berth_err_set(err, 0, "--bind %s: the third field can only be ro", arg);
  bool ro = mode != NULL;
  if (copy[0] == '\0' || (dst && dst[0] != '/'))
    return berth_err_set(err, 0, "--bind %s: want SRC[:DST][:ro] with an absolute DST", arg);
  cleanup_free char *src = path_abs(c->cwd, copy);
  char real[PATH_MAX];
  if (realpath(src, real) == NULL)
    return berth_err_sys(err, "--bind %s: %s", arg, src);
  if (dst == NULL)
    dst = real;
  if (dest_check(c, "--bind", arg, dst, err) < 0)
    return -1;
  json_array_append_new(
      m, mount_new(dst, "bind", real, ro ? "rbind,nosuid,nodev,ro,rro" : "rbind,nosuid,nodev"));
  return 0;
}

/* --overlay DIR[:DST]: DIR under a throwaway upper dir in the private
 * scratch directory (removed with the sandbox). */
static int mount_overlay(const struct sandbox_ctx *c, size_t i, const char *arg, json_t *m,
                         struct berth_err **err)
{
  cleanup_free char *copy = xstrdup(arg);
  char *dst = strchr(copy, ':');
  if (dst)
    *dst++ = '\0';
  if (copy[0] == '\0' || (dst && dst[0] != '/'))
    return berth_err_set(err, 0, "--overlay %s: want DIR[:DST] with an absolute DST", arg);
  cleanup_free char *src = path_abs(c->cwd, copy);
  char real[PATH_MAX];
  if (realpath(src, real) == NULL)
    return berth_err_sys(err, "--overlay %s: %s", arg, src);
  if (dest_check(c, "--overlay", arg, dst ? dst : real, err) < 0)
    return -1;
  cleanup_free char *upper = xasprintf("%s/overlay%zu/upper", c->tmp_dir, i);
  cleanup_free char *work = xasprintf("%s/overlay%zu/work", c->tmp_dir, i);
  if (mkdir_p(upper, 0700, err) < 0 || mkdir_p(work, 0700, err) < 0)
    return berth_err_wrap(err, "--overlay %s", arg);
  /* A user namespace may not write trusted.* xattrs: user.* ones instead. */
  cleanup_free char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s", real, upper, work,
                                      c->rootless ? ",userxattr" : "");
  json_array_append_new(m, mount_new(dst ? dst : real, "overlay", "overlay", opts));
  return 0;
}

static int mounts_build(const struct sandbox_ctx *c, json_t *m, struct berth_err **err)
{
  const struct sandbox_opts *o = c->o;
  mounts_base(m, c->rootless, strcmp(o->net, "host") != 0);
  /* --host: the current directory, read-only at its own path, also when a
   * private mount hides it (a checkout in /tmp); --bind/--overlay . go on
   * top. Elsewhere the root's read-only copy shows it already. */
  if (o->root_kind == SANDBOX_ROOT_HOST && under_private(c->cwd)) {
    if (o->backend && strcmp(o->backend, "microvm") == 0)
      return berth_err_set(err, 0,
                           "--backend microvm: the current directory %s is below a private "
                           "mount and cannot be shared with a microVM yet: run from another one",
                           c->cwd);
    json_array_append_new(m, mount_new(c->cwd, "bind", c->cwd, "rbind,nosuid,nodev,ro,rro"));
  }
  for (size_t i = 0; i < o->binds.n; i++)
    if (mount_bind(c, o->binds.v[i], m, err) < 0)
      return -1;
  for (size_t i = 0; i < o->overlays.n; i++)
    if (mount_overlay(c, i, o->overlays.v[i], m, err) < 0)
      return -1;
  for (size_t i = 0; i < o->tmpfs.n; i++) {
    const char *dst = o->tmpfs.v[i];
    if (dst[0] != '/')
      return berth_err_set(err, 0, "--tmpfs %s: must be an absolute path", dst);
    if (dest_check(c, "--tmpfs", dst, dst, err) < 0)
      return -1;
    json_array_append_new(m, mount_new(dst, "tmpfs", "tmpfs", "nosuid,nodev,mode=1777"));
  }
  return 0;
}

/* ---- process ---- */

static json_t *strv_to_json(char *const *v)
{
  json_t *a = json_array();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

/* KEY=VALUE into env, replacing KEY. */
static void env_put(json_t *env, const char *kv)
{
  size_t klen = (size_t)(strchr(kv, '=') - kv) + 1, i;
  json_t *e;
  json_array_foreach (env, i, e)
    if (strncmp(json_string_value(e), kv, klen) == 0) {
      json_array_set_new(env, i, json_string(kv));
      return;
    }
  json_array_append_new(env, json_string(kv));
}

/* The caller's environment (or the image's), then --env. */
static int env_build(const struct sandbox_ctx *c, json_t **out, struct berth_err **err)
{
  json_t *img = json_object_get(json_object_get(c->image_cfg, "process"), "env");
  json_t *env = json_is_array(img) ? json_deep_copy(img) : strv_to_json(environ);
  *out = env;
  for (size_t i = 0; i < c->o->env.n; i++) {
    const char *kv = c->o->env.v[i];
    if (strchr(kv, '=') == NULL || kv[0] == '=')
      return berth_err_set(err, 0, "--env %s: must be KEY=VALUE", kv);
    env_put(env, kv);
  }
  return 0;
}

/* No capabilities unless --cap-add: then in every set, ambient included
 * (a non-root user keeps only ambient ones across execve). */
static json_t *caps_build(const struct strv *caps)
{
  json_t *list = json_array();
  for (size_t i = 0; i < caps->n; i++) {
    bool has_prefix = strncasecmp(caps->v[i], "CAP_", 4) == 0;
    cleanup_free char *name = xasprintf("%s%s", has_prefix ? "" : "CAP_", caps->v[i]);
    for (char *p = name; *p; p++)
      *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    json_array_append_new(list, json_string(name));
  }
  json_t *o = json_object();
  static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable",
                                     "ambient"};
  for (size_t i = 0; i < 5; i++)
    json_object_set_new(o, sets[i], json_deep_copy(list));
  json_decref(list);
  return o;
}

static const char *image_cwd(const struct sandbox_ctx *c)
{
  const char *cwd =
      json_string_value(json_object_get(json_object_get(c->image_cfg, "process"), "cwd"));
  return cwd && cwd[0] == '/' ? cwd : "/";
}

static int process_build(const struct sandbox_ctx *c, json_t **out, struct berth_err **err)
{
  const struct sandbox_opts *o = c->o;
  const char *cwd = o->workdir                          ? o->workdir
                    : o->root_kind == SANDBOX_ROOT_HOST ? c->cwd
                    : c->image_cfg                      ? image_cwd(c)
                                                        : "/";
  if (cwd[0] != '/')
    return berth_err_set(err, 0, "--workdir %s: must be an absolute path", cwd);
  json_t *env = NULL;
  int r = env_build(c, &env, err);
  *out = json_pack("{s:b, s:o, s:o, s:s, s:{s:i, s:i}, s:o, s:b}", "terminal", 0, "args",
                   strv_to_json(c->argv), "env", env, "cwd", cwd, "user", "uid", (int)c->uid, "gid",
                   (int)c->gid, "capabilities", caps_build(&o->caps), "noNewPrivileges", 1);
  return r;
}

/* ---- linux ---- */

static json_t *resources_build(const struct sandbox_opts *o)
{
  json_t *r = json_object();
  if (o->has_memory)
    json_object_set_new(r, "memory", json_pack("{s:I}", "limit", (json_int_t)o->memory));
  if (o->has_cpus)
    json_object_set_new(
        r, "cpu",
        json_pack("{s:I, s:I}", "quota", (json_int_t)o->cpu_quota, "period", (json_int_t)100000));
  if (o->has_pids)
    json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids));
  return r;
}

static json_t *namespaces_build(const struct sandbox_ctx *c)
{
  static const char *const kinds[] = {"pid", "ipc", "uts", "mount", "cgroup", "network", "user"};
  json_t *a = json_array();
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    if (strcmp(kinds[i], "network") == 0 && strcmp(c->o->net, "host") == 0)
      continue;
    if (strcmp(kinds[i], "user") == 0 && !c->rootless)
      continue;
    json_array_append_new(a, json_pack("{s:s}", "type", kinds[i]));
  }
  return a;
}

/* The ids inside map to the caller's own: one id each, no root. */
static void idmaps_build(const struct sandbox_ctx *c, json_t *lx)
{
  if (!c->rootless)
    return;
  json_object_set_new(lx, "uidMappings",
                      json_pack("[{s:i,s:i,s:i}]", "containerID", (int)c->uid, "hostID",
                                (int)geteuid(), "size", 1));
  json_object_set_new(lx, "gidMappings",
                      json_pack("[{s:i,s:i,s:i}]", "containerID", (int)c->gid, "hostID",
                                (int)getegid(), "size", 1));
}

static json_t *linux_build(const struct sandbox_ctx *c)
{
  json_t *lx = json_pack(
      "{s:o, s:o, s:o, s:[s,s,s,s,s,s,s,s,s,s], s:[s,s,s,s,s]}", "resources", resources_build(c->o),
      "namespaces", namespaces_build(c), "seccomp", seccomp_default_profile(), "maskedPaths",
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
      "readonlyPaths", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
  idmaps_build(c, lx);
  return lx;
}

static json_t *annotations_build(const struct sandbox_ctx *c)
{
  json_t *a = json_pack("{s:s}", "dev.berth.root.readonly",
                        c->o->root_kind == SANDBOX_ROOT_IMAGE ? "top" : "recursive");
  const char *net = c->o->net;
  if (strcmp(net, "host") != 0)
    json_object_set_new(a, "dev.berth.net", json_string(net));
  if (c->o->backend)
    json_object_set_new(a, "dev.berth.backend", json_string(c->o->backend));
  return a;
}

int sandbox_spec(const struct sandbox_ctx *c, char **text, struct berth_err **err)
{
  json_t *mounts = json_array(), *process = NULL;
  if (mounts_build(c, mounts, err) < 0 || process_build(c, &process, err) < 0) {
    json_decref(mounts);
    json_decref(process);
    return -1;
  }
  /* An image's root is a private overlay: writable, thrown away. */
  bool ro = c->o->root_kind != SANDBOX_ROOT_IMAGE;
  json_t *doc =
      json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:o}", "ociVersion", "1.2.0", "process",
                process, "root", "path", c->rootfs, "readonly", ro, "hostname", "sandbox", "mounts",
                mounts, "linux", linux_build(c), "annotations", annotations_build(c));
  *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return *text ? 0 : berth_err_set(err, ENOMEM, "sandbox: config");
}
