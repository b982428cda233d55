/* config.json parsing and validation. Every error names the JSON path of the
 * offending value; unknown fields are ignored like runc, wrong types are not. */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/jsonfield.h"
#include "../vm/vm.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define SPEC_MAX_SIZE (4u << 20)

/* Builds a JSON path for a message; long paths are cut, never overflowed. */
static void jpath(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void jpath(char *buf, size_t n, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

static int bad(struct berth_err **err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct berth_err **err, const char *path, const char *fmt, ...)
{
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return berth_err_set(err, 0, "config.json: %s: %s", path, what);
}

static int unsupported(struct berth_err **err, const char *path)
{
  return berth_err_set(err, 0, "config.json: %s: not supported yet", path);
}

/* ---- typed accessors: absent is fine (returns 0, leaves *out), wrong type is not ---- */

/* config.json fields: errors read "config.json: <path>: must be ...". */
static int get_object(json_t *parent, const char *key, const char *path, json_t **out,
                      struct berth_err **err)
{
  return jf_object(parent, key, "config.json: ", path, out, err);
}

static int get_string(json_t *parent, const char *key, const char *path, char **out,
                      struct berth_err **err)
{
  return jf_string(parent, key, "config.json: ", path, out, err);
}

static int get_bool(json_t *parent, const char *key, const char *path, bool *out,
                    struct berth_err **err)
{
  return jf_bool(parent, key, "config.json: ", path, out, err);
}

/* Returns 1 when present. */
static int get_int(json_t *parent, const char *key, const char *path, long long min, long long max,
                   long long *out, struct berth_err **err)
{
  return jf_int(parent, key, "config.json: ", path, min, max, out, err);
}

static int get_array(json_t *parent, const char *key, const char *path, json_t **out,
                     struct berth_err **err)
{
  return jf_array(parent, key, "config.json: ", path, out, err);
}

/* Array of strings -> NULL-terminated vector. */
static int get_strv(json_t *parent, const char *key, const char *path, char ***out,
                    struct berth_err **err)
{
  return jf_strv(parent, key, "config.json: ", path, out, err);
}

/* ---- namespaces ---- */

static const struct {
  const char *name;
  int flag;
} ns_table[NS_COUNT] = {
    [NS_PID] = {"pid", CLONE_NEWPID},    [NS_NET] = {"network", CLONE_NEWNET},
    [NS_MNT] = {"mount", CLONE_NEWNS},   [NS_IPC] = {"ipc", CLONE_NEWIPC},
    [NS_UTS] = {"uts", CLONE_NEWUTS},    [NS_CGROUP] = {"cgroup", CLONE_NEWCGROUP},
    [NS_TIME] = {"time", CLONE_NEWTIME}, [NS_USER] = {"user", CLONE_NEWUSER},
};

const char *spec_ns_name(enum ns_kind k)
{
  return ns_table[k].name;
}

int spec_ns_clone_flag(enum ns_kind k)
{
  return ns_table[k].flag;
}

static int parse_namespaces(json_t *lx, struct spec *s, struct berth_err **err)
{
  json_t *arr = NULL;
  if (get_array(lx, "namespaces", "linux.namespaces", &arr, err) < 0)
    return -1;
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char path[256];
    jpath(path, sizeof(path), "linux.namespaces[%zu]", i);
    if (!json_is_object(e))
      return bad(err, path, "must be an object");
    json_t *type = json_object_get(e, "type");
    char tpath[300];
    jpath(tpath, sizeof(tpath), "%s.type", path);
    if (!json_is_string(type))
      return bad(err, tpath, "must be a string");
    const char *t = json_string_value(type);
    int k = -1;
    for (int j = 0; j < NS_COUNT; j++)
      if (strcmp(ns_table[j].name, t) == 0)
        k = j;
    if (k < 0)
      return bad(err, tpath, "unknown namespace type \"%s\"", t);
    if (s->ns[k].enabled)
      return bad(err, tpath, "duplicate namespace type \"%s\"", t);
    s->ns[k].enabled = true;
    char ppath[256];
    jpath(ppath, sizeof(ppath), "%s.path", path);
    if (get_string(e, "path", ppath, &s->ns[k].path, err) < 0)
      return -1;
    if (s->ns[k].path && s->ns[k].path[0] == '\0') {
      free(s->ns[k].path);
      s->ns[k].path = NULL;
    }
    if (s->ns[k].path && s->ns[k].path[0] != '/')
      return bad(err, ppath, "must be an absolute path");
  }
  return 0;
}

/* ---- process ---- */

static const struct {
  const char *name;
  int resource;
} rlimit_table[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int parse_rlimits(json_t *proc, struct spec *s, struct berth_err **err)
{
  json_t *arr = NULL;
  if (get_array(proc, "rlimits", "process.rlimits", &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  s->rlimits = xcalloc(json_array_size(arr), sizeof(*s->rlimits));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char path[256];
    jpath(path, sizeof(path), "process.rlimits[%zu]", i);
    if (!json_is_object(e))
      return bad(err, path, "must be an object");
    json_t *type = json_object_get(e, "type");
    char tpath[300];
    jpath(tpath, sizeof(tpath), "%s.type", path);
    if (!json_is_string(type))
      return bad(err, tpath, "must be a string");
    int res = -1;
    for (size_t j = 0; j < sizeof(rlimit_table) / sizeof(rlimit_table[0]); j++)
      if (strcmp(rlimit_table[j].name, json_string_value(type)) == 0)
        res = rlimit_table[j].resource;
    if (res < 0)
      return bad(err, tpath, "unknown rlimit \"%s\"", json_string_value(type));
    for (size_t j = 0; j < s->n_rlimits; j++)
      if (s->rlimits[j].resource == res)
        return bad(err, tpath, "duplicate rlimit \"%s\"", json_string_value(type));
    long long soft = 0, hard = 0;
    char sp[256], hp[80];
    jpath(sp, sizeof(sp), "%s.soft", path);
    jpath(hp, sizeof(hp), "%s.hard", path);
    int hs = get_int(e, "soft", sp, 0, LLONG_MAX, &soft, err);
    if (hs < 0)
      return -1;
    int hh = get_int(e, "hard", hp, 0, LLONG_MAX, &hard, err);
    if (hh < 0)
      return -1;
    if (!hs || !hh)
      return bad(err, path, "soft and hard must both be given");
    if (soft > hard)
      return bad(err, path, "soft limit %lld exceeds hard limit %lld", soft, hard);
    s->rlimits[s->n_rlimits++] = (struct spec_rlimit){res, (uint64_t)soft, (uint64_t)hard};
  }
  return 0;
}

static const char *cap_set_names[CAP_SET_COUNT] = {
    [CAP_SET_BOUNDING] = "bounding",   [CAP_SET_EFFECTIVE] = "effective",
    [CAP_SET_PERMITTED] = "permitted", [CAP_SET_INHERITABLE] = "inheritable",
    [CAP_SET_AMBIENT] = "ambient",
};

static int parse_cap_name(const char *name, cap_value_t *out)
{
  /* Only the spec's spelling: "CAP_" followed by the upper-case name. */
  if (strncmp(name, "CAP_", 4) != 0 || name[4] == '\0')
    return -1;
  char lower[64];
  size_t n = strlen(name);
  if (n >= sizeof(lower))
    return -1;
  for (size_t i = 0; i <= n; i++) {
    if (name[i] &&
        !(isupper((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_'))
      return -1;
    lower[i] = (char)tolower((unsigned char)name[i]);
  }
  if (cap_from_name(lower, out) < 0 || *out < 0 || *out > 63)
    return -1;
  return 0;
}

static int parse_caps(json_t *proc, struct spec *s, struct berth_err **err)
{
  json_t *caps = NULL;
  if (get_object(proc, "capabilities", "process.capabilities", &caps, err) < 0)
    return -1;
  if (caps == NULL)
    return 0;
  s->has_caps = true;
  for (int set = 0; set < CAP_SET_COUNT; set++) {
    char path[256];
    jpath(path, sizeof(path), "process.capabilities.%s", cap_set_names[set]);
    json_t *arr = NULL;
    if (get_array(caps, cap_set_names[set], path, &arr, err) < 0)
      return -1;
    size_t i;
    json_t *e;
    json_array_foreach (arr, i, e) {
      char ipath[256];
      jpath(ipath, sizeof(ipath), "%s[%zu]", path, i);
      if (!json_is_string(e))
        return bad(err, ipath, "must be a string");
      cap_value_t v;
      if (parse_cap_name(json_string_value(e), &v) < 0)
        return bad(err, ipath, "unknown capability \"%s\"", json_string_value(e));
      s->caps[set] |= UINT64_C(1) << v;
    }
  }
  return 0;
}

static int parse_user(json_t *proc, struct spec *s, struct berth_err **err)
{
  json_t *user = NULL;
  if (get_object(proc, "user", "process.user", &user, err) < 0)
    return -1;
  if (user == NULL)
    return 0;
  long long v = 0;
  if (get_int(user, "uid", "process.user.uid", 0, UINT32_MAX - 1, &v, err) < 0)
    return -1;
  s->uid = (uid_t)v;
  v = 0;
  if (get_int(user, "gid", "process.user.gid", 0, UINT32_MAX - 1, &v, err) < 0)
    return -1;
  s->gid = (gid_t)v;
  int has = get_int(user, "umask", "process.user.umask", 0, 0777, &v, err);
  if (has < 0)
    return -1;
  s->has_umask = has;
  s->umask = (mode_t)v;

  json_t *arr = NULL;
  if (get_array(user, "additionalGids", "process.user.additionalGids", &arr, err) < 0)
    return -1;
  s->additional_gids = xcalloc(json_array_size(arr), sizeof(gid_t));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    if (!json_is_integer(e) || json_integer_value(e) < 0 ||
        json_integer_value(e) > UINT32_MAX - 1) {
      char path[256];
      jpath(path, sizeof(path), "process.user.additionalGids[%zu]", i);
      return bad(err, path, "must be a non-negative integer");
    }
    s->additional_gids[s->n_additional_gids++] = (gid_t)json_integer_value(e);
  }
  return 0;
}

static int parse_process(json_t *root, struct spec *s, struct berth_err **err)
{
  json_t *proc = NULL;
  if (get_object(root, "process", "process", &proc, err) < 0)
    return -1;
  if (proc == NULL)
    return 0;
  s->has_process = true;

  if (get_bool(proc, "terminal", "process.terminal", &s->terminal, err) < 0)
    return -1;
  json_t *cs = NULL;
  if (get_object(proc, "consoleSize", "process.consoleSize", &cs, err) < 0)
    return -1;
  if (cs) {
    long long h = 0, w = 0;
    if (get_int(cs, "height", "process.consoleSize.height", 0, 65535, &h, err) < 0 ||
        get_int(cs, "width", "process.consoleSize.width", 0, 65535, &w, err) < 0)
      return -1;
    s->console_height = (unsigned)h;
    s->console_width = (unsigned)w;
  }

  json_t *args = json_object_get(proc, "args");
  if (!json_is_array(args) || json_array_size(args) == 0)
    return bad(err, "process.args", "must be a non-empty array");
  size_t n = json_array_size(args);
  s->args = xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    json_t *a = json_array_get(args, i);
    if (!json_is_string(a)) {
      char path[256];
      jpath(path, sizeof(path), "process.args[%zu]", i);
      return bad(err, path, "must be a string");
    }
    s->args[i] = xstrdup(json_string_value(a));
  }
  if (s->args[0][0] == '\0')
    return bad(err, "process.args[0]", "must not be empty");

  if (get_strv(proc, "env", "process.env", &s->env, err) < 0)
    return -1;
  for (size_t i = 0; s->env && s->env[i]; i++) {
    const char *eq = strchr(s->env[i], '=');
    if (eq == NULL || eq == s->env[i]) {
      char path[256];
      jpath(path, sizeof(path), "process.env[%zu]", i);
      return bad(err, path, "must be of the form KEY=VALUE, got \"%s\"", s->env[i]);
    }
  }
  if (s->env == NULL)
    s->env = xcalloc(1, sizeof(char *));

  if (get_string(proc, "cwd", "process.cwd", &s->cwd, err) < 0)
    return -1;
  if (s->cwd == NULL || s->cwd[0] == '\0') {
    free(s->cwd);
    s->cwd = xstrdup("/");
  }
  if (s->cwd[0] != '/')
    return bad(err, "process.cwd", "must be an absolute path, got \"%s\"", s->cwd);

  if (parse_user(proc, s, err) < 0 || parse_rlimits(proc, s, err) < 0 ||
      parse_caps(proc, s, err) < 0)
    return -1;
  if (get_bool(proc, "noNewPrivileges", "process.noNewPrivileges", &s->no_new_privileges, err) < 0)
    return -1;
  long long oom = 0;
  int has = get_int(proc, "oomScoreAdj", "process.oomScoreAdj", -1000, 1000, &oom, err);
  if (has < 0)
    return -1;
  s->has_oom_score_adj = has;
  s->oom_score_adj = (int)oom;

  static const char *const later[] = {"apparmorProfile", "selinuxLabel", "ioPriority", "scheduler",
                                      "execCPUAffinity"};
  for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
    json_t *v = json_object_get(proc, later[i]);
    if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0)) {
      char path[256];
      jpath(path, sizeof(path), "process.%s", later[i]);
      return unsupported(err, path);
    }
  }
  return 0;
}

/* ---- mounts ---- */

static const struct {
  const char *name;
  unsigned long set, clear;
} mount_flag_table[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"remount", MS_REMOUNT, 0},
    {"mand", MS_MANDLOCK, 0},
    {"nomand", 0, MS_MANDLOCK},
    {"atime", 0, MS_NOATIME},
    {"noatime", MS_NOATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"nostrictatime", 0, MS_STRICTATIME},
    {"lazytime", MS_LAZYTIME, 0},
    {"nolazytime", 0, MS_LAZYTIME},
    {"silent", MS_SILENT, 0},
    {"loud", 0, MS_SILENT},
    {"defaults", 0, 0},
};

static const struct {
  const char *name;
  unsigned long flag;
} propagation_table[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* runc's recursive options: mount_setattr(AT_RECURSIVE) over the whole
 * tree once it is mounted. The atime modes are one field (clear all of
 * MOUNT_ATTR__ATIME, set one). */
static const struct {
  const char *name;
  uint64_t set, clear;
} rec_attr_table[] = {
    {"rro", MOUNT_ATTR_RDONLY, 0},
    {"rrw", 0, MOUNT_ATTR_RDONLY},
    {"rnosuid", MOUNT_ATTR_NOSUID, 0},
    {"rsuid", 0, MOUNT_ATTR_NOSUID},
    {"rnodev", MOUNT_ATTR_NODEV, 0},
    {"rdev", 0, MOUNT_ATTR_NODEV},
    {"rnoexec", MOUNT_ATTR_NOEXEC, 0},
    {"rexec", 0, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", MOUNT_ATTR_NODIRATIME, 0},
    {"rdiratime", 0, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW},
    {"rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
    {"ratime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rnorelatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rnostrictatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
};

static bool rec_attr_option(const char *opt, struct spec_mount *m)
{
  for (size_t i = 0; i < sizeof(rec_attr_table) / sizeof(rec_attr_table[0]); i++) {
    if (strcmp(rec_attr_table[i].name, opt) != 0)
      continue;
    uint64_t set = rec_attr_table[i].set, clear = rec_attr_table[i].clear;
    if (clear & MOUNT_ATTR__ATIME)
      m->rec_attr_set &= ~(uint64_t)MOUNT_ATTR__ATIME; /* the last atime mode wins */
    m->rec_attr_set = (m->rec_attr_set | set) & ~(clear & ~(uint64_t)MOUNT_ATTR__ATIME);
    m->rec_attr_clr = (m->rec_attr_clr | clear) & ~set;
    if (clear & MOUNT_ATTR__ATIME)
      m->rec_attr_clr |= MOUNT_ATTR__ATIME;
    return true;
  }
  return false;
}

static void data_append(char **data, const char *opt)
{
  char *n = *data ? xasprintf("%s,%s", *data, opt) : xstrdup(opt);
  free(*data);
  *data = n;
}

int spec_mount_option(const char *opt, struct spec_mount *m)
{
  if (strcmp(opt, "bind") == 0 || strcmp(opt, "rbind") == 0) {
    m->bind = true;
    m->flags |= MS_BIND | (opt[0] == 'r' ? MS_REC : 0);
    return 1;
  }
  for (size_t i = 0; i < sizeof(mount_flag_table) / sizeof(mount_flag_table[0]); i++) {
    if (strcmp(mount_flag_table[i].name, opt) == 0) {
      m->flags = (m->flags | mount_flag_table[i].set) & ~mount_flag_table[i].clear;
      m->clear_flags = (m->clear_flags | mount_flag_table[i].clear) & ~mount_flag_table[i].set;
      return 1;
    }
  }
  for (size_t i = 0; i < sizeof(propagation_table) / sizeof(propagation_table[0]); i++) {
    if (strcmp(propagation_table[i].name, opt) == 0) {
      m->propagation = propagation_table[i].flag;
      return 1;
    }
  }
  if (rec_attr_option(opt, m))
    return 1;
  if (strcmp(opt, "tmpcopyup") == 0) {
    m->tmpcopyup = true;
    return 1;
  }
  data_append(&m->data, opt);
  return 0;
}

static int parse_idmap_at(json_t *lx, const char *where, const char *key, struct spec_idmap **out,
                          size_t *n, struct berth_err **err);

/* idmap/ridmap options and per-mount mappings (runtime-spec 1.2). */
static int parse_mount_idmap(json_t *e, const char *path, char **opts, struct spec_mount *m,
                             struct berth_err **err)
{
  for (size_t j = 0; opts && opts[j]; j++) {
    if (strcmp(opts[j], "idmap") == 0)
      m->idmap = true;
    else if (strcmp(opts[j], "ridmap") == 0)
      m->idmap = m->ridmap = true;
  }
  if (parse_idmap_at(e, path, "uidMappings", &m->uid_map, &m->n_uid_map, err) < 0 ||
      parse_idmap_at(e, path, "gidMappings", &m->gid_map, &m->n_gid_map, err) < 0)
    return -1;
  char p2[320];
  if ((m->n_uid_map > 0) != (m->n_gid_map > 0)) {
    jpath(p2, sizeof(p2), "%s.uidMappings", path);
    return bad(err, p2, "uidMappings and gidMappings go together");
  }
  if (m->n_uid_map)
    m->idmap = true;
  if (m->idmap && !m->bind) {
    jpath(p2, sizeof(p2), "%s.options", path);
    return bad(err, p2, "idmap and ridmap are for bind mounts only");
  }
  return 0;
}

static int parse_mounts(json_t *root, struct spec *s, struct berth_err **err)
{
  json_t *arr = NULL;
  if (get_array(root, "mounts", "mounts", &arr, err) < 0)
    return -1;
  s->mounts = xcalloc(json_array_size(arr), sizeof(*s->mounts));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char path[256], p2[300];
    jpath(path, sizeof(path), "mounts[%zu]", i);
    if (!json_is_object(e))
      return bad(err, path, "must be an object");
    struct spec_mount *m = &s->mounts[s->n_mounts++];
    jpath(p2, sizeof(p2), "%s.destination", path);
    if (get_string(e, "destination", p2, &m->destination, err) < 0)
      return -1;
    if (m->destination == NULL || m->destination[0] != '/')
      return bad(err, p2, "must be an absolute path");
    if (path_has_dotdot(m->destination))
      return bad(err, p2, "must not contain \"..\"");
    jpath(p2, sizeof(p2), "%s.type", path);
    if (get_string(e, "type", p2, &m->type, err) < 0)
      return -1;
    jpath(p2, sizeof(p2), "%s.source", path);
    if (get_string(e, "source", p2, &m->source, err) < 0)
      return -1;
    jpath(p2, sizeof(p2), "%s.options", path);
    char **opts = NULL;
    if (get_strv(e, "options", p2, &opts, err) < 0)
      return -1;
    for (size_t j = 0; opts && opts[j]; j++)
      if (strcmp(opts[j], "idmap") != 0 && strcmp(opts[j], "ridmap") != 0)
        spec_mount_option(opts[j], m);
    if (m->type && strcmp(m->type, "bind") == 0 && !m->bind) {
      m->bind = true;
      m->flags |= MS_BIND;
    }
    int idr = parse_mount_idmap(e, path, opts, m, err);
    jf_strv_free(opts);
    if (idr < 0)
      return -1;
    if (m->type && strcmp(m->type, "bind") == 0 && !m->bind) {
      m->bind = true;
      m->flags |= MS_BIND;
    }
    if (m->bind) {
      jpath(p2, sizeof(p2), "%s.source", path);
      if (m->source == NULL || m->source[0] == '\0')
        return bad(err, p2, "a bind mount needs a source");
      if (m->source[0] != '/') {
        char *abs = xasprintf("%s/%s", s->bundle, m->source);
        free(m->source);
        m->source = abs;
      }
    } else if (m->type == NULL || m->type[0] == '\0') {
      jpath(p2, sizeof(p2), "%s.type", path);
      return bad(err, p2, "must be given unless the mount is a bind mount");
    }
  }
  return 0;
}

/* An idmap mount without mappings of its own takes the container's. */
static int check_mount_idmaps(struct spec *s, struct berth_err **err)
{
  for (size_t i = 0; i < s->n_mounts; i++) {
    struct spec_mount *m = &s->mounts[i];
    if (!m->idmap || m->n_uid_map)
      continue;
    if (!s->n_uid_mappings) {
      char p[64];
      jpath(p, sizeof(p), "mounts[%zu].options", i);
      return bad(err, p, "idmap without uidMappings needs a user namespace with mappings");
    }
  }
  return 0;
}

/* ---- linux ---- */

int spec_sysctl_ns(const char *key)
{
  static const char *const ipc_keys[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                         "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                         "kernel.shmmni", "kernel.shm_rmid_forced"};
  char norm[256];
  jpath(norm, sizeof(norm), "%s", key);
  for (char *p = norm; *p; p++)
    if (*p == '/')
      *p = '.';
  for (size_t i = 0; i < sizeof(ipc_keys) / sizeof(ipc_keys[0]); i++)
    if (strcmp(norm, ipc_keys[i]) == 0)
      return NS_IPC;
  if (strncmp(norm, "fs.mqueue.", 10) == 0)
    return NS_IPC;
  if (strncmp(norm, "net.", 4) == 0)
    return NS_NET;
  if (strcmp(norm, "kernel.hostname") == 0 || strcmp(norm, "kernel.domainname") == 0)
    return NS_UTS;
  return -1;
}

int spec_check_sysctl(const char *key, const struct spec_ns ns[NS_COUNT], struct berth_err **err)
{
  if (key[0] == '\0' || key[0] == '.' || key[0] == '/' || path_has_dotdot(key))
    return berth_err_set(err, 0, "invalid sysctl name \"%s\"", key);
  for (const char *p = key; *p; p++)
    if (!(isalnum((unsigned char)*p) || strchr("._-/", *p)))
      return berth_err_set(err, 0, "invalid sysctl name \"%s\"", key);
  int k = spec_sysctl_ns(key);
  if (k < 0)
    return berth_err_set(err, 0, "sysctl \"%s\" is not namespaced: it would change the host", key);
  if (!ns[k].enabled)
    return berth_err_set(err, 0, "sysctl \"%s\" needs %s %s namespace", key,
                         k == NS_IPC ? "an" : "a", spec_ns_name(k));
  return 0;
}

static int parse_sysctl(json_t *lx, struct spec *s, struct berth_err **err)
{
  json_t *obj = NULL;
  if (get_object(lx, "sysctl", "linux.sysctl", &obj, err) < 0)
    return -1;
  s->sysctl = xcalloc(json_object_size(obj), sizeof(*s->sysctl));
  const char *key;
  json_t *v;
  json_object_foreach (obj, key, v) {
    char path[300];
    jpath(path, sizeof(path), "linux.sysctl[\"%s\"]", key);
    if (!json_is_string(v))
      return bad(err, path, "must be a string");
    if (spec_check_sysctl(key, s->ns, err) < 0)
      return berth_err_wrap(err, "config.json: %s", path);
    s->sysctl[s->n_sysctl].key = xstrdup(key);
    s->sysctl[s->n_sysctl++].value = xstrdup(json_string_value(v));
  }
  return 0;
}

static int parse_devices(json_t *lx, struct spec *s, struct berth_err **err)
{
  json_t *arr = NULL;
  if (get_array(lx, "devices", "linux.devices", &arr, err) < 0)
    return -1;
  s->devices = xcalloc(json_array_size(arr), sizeof(*s->devices));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char path[256], p2[300];
    jpath(path, sizeof(path), "linux.devices[%zu]", i);
    if (!json_is_object(e))
      return bad(err, path, "must be an object");
    struct spec_device *d = &s->devices[s->n_devices++];
    jpath(p2, sizeof(p2), "%s.path", path);
    if (get_string(e, "path", p2, &d->path, err) < 0)
      return -1;
    if (d->path == NULL || d->path[0] != '/')
      return bad(err, p2, "must be an absolute path");
    if (path_has_dotdot(d->path) || strcmp(d->path, "/") == 0)
      return bad(err, p2, "must name a file, without \"..\"");
    jpath(p2, sizeof(p2), "%s.type", path);
    char *type = NULL;
    if (get_string(e, "type", p2, &type, err) < 0)
      return -1;
    cleanup_free char *t = type;
    if (t == NULL || strlen(t) != 1 || strchr("cbup", t[0]) == NULL)
      return bad(err, p2, "must be one of \"c\", \"b\", \"u\", \"p\"");
    d->type = t[0];
    long long v = 0;
    jpath(p2, sizeof(p2), "%s.major", path);
    int hmaj = get_int(e, "major", p2, 0, 0xfff, &v, err);
    if (hmaj < 0)
      return -1;
    d->major = v;
    jpath(p2, sizeof(p2), "%s.minor", path);
    int hmin = get_int(e, "minor", p2, 0, 0xfffff, &v, err);
    if (hmin < 0)
      return -1;
    d->minor = v;
    if (d->type != 'p' && (!hmaj || !hmin))
      return bad(err, path, "major and minor are required for type \"%c\"", d->type);
    jpath(p2, sizeof(p2), "%s.fileMode", path);
    /* Type bits may come along (podman writes 020666, S_IFCHR|0666):
     * only the permission bits count, as with runc. */
    int hm = get_int(e, "fileMode", p2, 0, S_IFMT | 07777, &v, err);
    if (hm < 0)
      return -1;
    d->has_file_mode = hm;
    d->file_mode = (mode_t)v & 07777;
    v = 0;
    jpath(p2, sizeof(p2), "%s.uid", path);
    if (get_int(e, "uid", p2, 0, UINT32_MAX - 1, &v, err) < 0)
      return -1;
    d->uid = (uid_t)v;
    v = 0;
    jpath(p2, sizeof(p2), "%s.gid", path);
    if (get_int(e, "gid", p2, 0, UINT32_MAX - 1, &v, err) < 0)
      return -1;
    d->gid = (gid_t)v;
  }
  return 0;
}

static int parse_path_list(json_t *lx, const char *key, char ***out, struct berth_err **err)
{
  char path[256];
  jpath(path, sizeof(path), "linux.%s", key);
  if (get_strv(lx, key, path, out, err) < 0)
    return -1;
  for (size_t i = 0; *out && (*out)[i]; i++) {
    if ((*out)[i][0] != '/' || path_has_dotdot((*out)[i])) {
      char ip[256];
      jpath(ip, sizeof(ip), "%s[%zu]", path, i);
      return bad(err, ip, "must be an absolute path without \"..\", got \"%s\"", (*out)[i]);
    }
  }
  return 0;
}

static int parse_time_offsets(json_t *lx, struct spec *s, struct berth_err **err)
{
  json_t *obj = NULL;
  if (get_object(lx, "timeOffsets", "linux.timeOffsets", &obj, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  const char *key;
  json_t *v;
  json_object_foreach (obj, key, v) {
    char path[256];
    jpath(path, sizeof(path), "linux.timeOffsets.%s", key);
    int64_t *secs;
    uint32_t *nsecs;
    if (strcmp(key, "boottime") == 0) {
      secs = &s->boottime_secs;
      nsecs = &s->boottime_nsecs;
    } else if (strcmp(key, "monotonic") == 0) {
      secs = &s->monotonic_secs;
      nsecs = &s->monotonic_nsecs;
    } else {
      return bad(err, path, "unknown clock (use boottime or monotonic)");
    }
    if (!json_is_object(v))
      return bad(err, path, "must be an object");
    long long n = 0;
    char p2[256];
    jpath(p2, sizeof(p2), "%s.secs", path);
    if (get_int(v, "secs", p2, LLONG_MIN / 2, LLONG_MAX / 2, &n, err) < 0)
      return -1;
    *secs = n;
    n = 0;
    jpath(p2, sizeof(p2), "%s.nanosecs", path);
    if (get_int(v, "nanosecs", p2, 0, 999999999, &n, err) < 0)
      return -1;
    *nsecs = (uint32_t)n;
    s->has_time_offsets = true;
  }
  if (s->has_time_offsets && (!s->ns[NS_TIME].enabled || s->ns[NS_TIME].path))
    return bad(err, "linux.timeOffsets", "needs a new time namespace in linux.namespaces");
  return 0;
}

/* linux.personality: {"domain": "LINUX"|"LINUX32", "flags": [...]}; the
 * flags are personality(2)'s own names (the runtime-spec defines none). */
static int parse_personality_flags(json_t *pers, unsigned long *out, struct berth_err **err)
{
  static const struct {
    const char *name;
    unsigned long flag;
  } table[] = {
      {"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE}, {"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
      {"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},   {"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
      {"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},       {"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
      {"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC}, {"SHORT_INODE", SHORT_INODE},
      {"STICKY_TIMEOUTS", STICKY_TIMEOUTS},     {"UNAME26", UNAME26},
      {"WHOLE_SECONDS", WHOLE_SECONDS},
  };
  char **flags = NULL;
  if (get_strv(pers, "flags", "linux.personality.flags", &flags, err) < 0)
    return -1;
  for (size_t i = 0; flags && flags[i]; i++) {
    size_t k = 0, n = sizeof(table) / sizeof(table[0]);
    while (k < n && strcmp(table[k].name, flags[i]) != 0)
      k++;
    if (k == n) {
      char p[64];
      jpath(p, sizeof(p), "linux.personality.flags[%zu]", i);
      bad(err, p, "unknown flag \"%s\"", flags[i]);
      jf_strv_free(flags);
      return -1;
    }
    *out |= table[k].flag;
  }
  jf_strv_free(flags);
  return 0;
}

static int parse_personality(json_t *lx, struct spec *s, struct berth_err **err)
{
  json_t *pers = NULL;
  if (get_object(lx, "personality", "linux.personality", &pers, err) < 0)
    return -1;
  if (pers == NULL)
    return 0;
  char *domain = NULL;
  if (get_string(pers, "domain", "linux.personality.domain", &domain, err) < 0)
    return -1;
  cleanup_free char *d = domain;
  if (d == NULL)
    return bad(err, "linux.personality.domain", "is required");
  if (strcmp(d, "LINUX") == 0)
    s->personality = PER_LINUX;
  else if (strcmp(d, "LINUX32") == 0)
    s->personality = PER_LINUX32;
  else
    return bad(err, "linux.personality.domain", "must be LINUX or LINUX32, got \"%s\"", d);
  s->has_personality = true;
  return parse_personality_flags(pers, &s->personality, err);
}

/* Fields whose feature lands in a later piece of work: refuse, never ignore. */
static int refuse_unsupported_linux(json_t *lx, struct berth_err **err)
{
  static const char *const later[] = {"intelRdt", "mountLabel", "memoryPolicy", "netDevices"};
  for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
    json_t *v = json_object_get(lx, later[i]);
    if (v == NULL || json_is_null(v))
      continue;
    if ((json_is_array(v) && json_array_size(v) == 0) ||
        (json_is_object(v) && json_object_size(v) == 0) ||
        (json_is_string(v) && json_string_length(v) == 0))
      continue;
    char path[256];
    jpath(path, sizeof(path), "linux.%s", later[i]);
    return unsupported(err, path);
  }

  return 0;
}

static int parse_idmap_at(json_t *lx, const char *where, const char *key, struct spec_idmap **out,
                          size_t *n, struct berth_err **err)
{
  char path[320];
  jpath(path, sizeof(path), "%s.%s", where, key);
  json_t *arr = NULL;
  if (get_array(lx, key, path, &arr, err) < 0)
    return -1;
  /* The kernel takes at most 340 lines per map. */
  if (json_array_size(arr) > 340)
    return bad(err, path, "at most 340 entries");
  *out = xcalloc(json_array_size(arr), sizeof(**out));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char p[96], f[128];
    jpath(p, sizeof(p), "%s[%zu]", path, i);
    if (!json_is_object(e))
      return bad(err, p, "must be an object");
    static const char *const fields[] = {"containerID", "hostID", "size"};
    long long v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
      jpath(f, sizeof(f), "%s.%s", p, fields[k]);
      int has = get_int(e, fields[k], f, k == 2 ? 1 : 0, UINT32_MAX, &v[k], err);
      if (has < 0)
        return -1;
      if (!has)
        return bad(err, f, "is required");
    }
    if (v[0] + v[2] > (long long)UINT32_MAX + 1 || v[1] + v[2] > (long long)UINT32_MAX + 1)
      return bad(err, p, "range overflows 32-bit ids");
    /* The kernel refuses overlapping ranges on either side (EINVAL). */
    for (size_t k = 0; k < *n; k++) {
      const struct spec_idmap *o = &(*out)[k];
      if (v[0] < (long long)o->container_id + o->size && o->container_id < v[0] + v[2])
        return bad(err, p, "containerID range overlaps entry %zu", k);
      if (v[1] < (long long)o->host_id + o->size && o->host_id < v[1] + v[2])
        return bad(err, p, "hostID range overlaps entry %zu", k);
    }
    (*out)[(*n)++] = (struct spec_idmap){(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
  }
  return 0;
}

static int parse_idmap(json_t *lx, const char *key, struct spec_idmap **out, size_t *n,
                       struct berth_err **err)
{
  return parse_idmap_at(lx, "linux", key, out, n, err);
}

static bool idmap_has(const struct spec_idmap *m, size_t n, uint32_t id)
{
  for (size_t i = 0; i < n; i++)
    if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
      return true;
  return false;
}

static int parse_userns(json_t *lx, struct spec *s, struct berth_err **err)
{
  if (parse_idmap(lx, "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0 ||
      parse_idmap(lx, "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0)
    return -1;
  bool maps = s->n_uid_mappings || s->n_gid_mappings;
  bool new_userns = s->ns[NS_USER].enabled && !s->ns[NS_USER].path;
  if (maps && !new_userns)
    return bad(err, "linux.uidMappings", "needs a new user namespace in linux.namespaces");
  if (new_userns && (!s->n_uid_mappings || !s->n_gid_mappings))
    return bad(err, "linux.namespaces", "a new user namespace needs uidMappings and gidMappings");
  /* The process's ids must exist there. Root need not: without it the
   * init sets up as the namespace's creator, with every capability there
   * (child.c: userns_become_root), as berth sandbox maps only the user. */
  if (new_userns && !idmap_has(s->uid_mappings, s->n_uid_mappings, s->uid))
    return bad(err, "linux.uidMappings", "must map container uid %u (process.user.uid)",
               (unsigned)s->uid);
  if (new_userns && !idmap_has(s->gid_mappings, s->n_gid_mappings, s->gid))
    return bad(err, "linux.gidMappings", "must map container gid %u (process.user.gid)",
               (unsigned)s->gid);
  return 0;
}

static int parse_cgroup(json_t *lx, struct spec *s, const char *seccomp_cache,
                        struct berth_err **err)
{
  if (get_string(lx, "cgroupsPath", "linux.cgroupsPath", &s->cgroups_path, err) < 0)
    return -1;
  if (s->cgroups_path && s->cgroups_path[0] == '\0') {
    free(s->cgroups_path);
    s->cgroups_path = NULL;
  }
  if (cgroup_resources_parse(json_object_get(lx, "resources"), "config.json: linux.resources",
                             &s->resources, err) < 0)
    return -1;
  return seccomp_compile_cached(json_object_get(lx, "seccomp"), "config.json: linux.seccomp",
                                seccomp_cache, &s->seccomp, err);
}

static int parse_linux(json_t *root, struct spec *s, const char *seccomp_cache,
                       struct berth_err **err)
{
  json_t *lx = NULL;
  if (get_object(root, "linux", "linux", &lx, err) < 0)
    return -1;
  if (lx == NULL)
    return 0;
  if (parse_namespaces(lx, s, err) < 0 || refuse_unsupported_linux(lx, err) < 0 ||
      parse_cgroup(lx, s, seccomp_cache, err) < 0 || parse_userns(lx, s, err) < 0 ||
      parse_sysctl(lx, s, err) < 0 || parse_devices(lx, s, err) < 0 ||
      parse_path_list(lx, "maskedPaths", &s->masked_paths, err) < 0 ||
      parse_path_list(lx, "readonlyPaths", &s->readonly_paths, err) < 0 ||
      parse_time_offsets(lx, s, err) < 0 || parse_personality(lx, s, err) < 0)
    return -1;

  char *prop = NULL;
  if (get_string(lx, "rootfsPropagation", "linux.rootfsPropagation", &prop, err) < 0)
    return -1;
  cleanup_free char *p = prop;
  if (p && p[0]) {
    for (size_t i = 0; i < sizeof(propagation_table) / sizeof(propagation_table[0]); i++)
      if (strcmp(propagation_table[i].name, p) == 0)
        s->rootfs_propagation = propagation_table[i].flag;
    if (s->rootfs_propagation == 0)
      return bad(err, "linux.rootfsPropagation",
                 "must be one of shared, slave, private, unbindable (or r-prefixed), got \"%s\"",
                 p);
  }
  return 0;
}

/* ---- annotations ---- */

static int annotation_backend(const char *path, const char *val, struct berth_err **err)
{
  if (strcmp(val, "linux") == 0)
    return 0;
  if (strcmp(val, "microvm") == 0)
    return 0;
  return bad(err, path, "must be linux or microvm, got \"%s\"", val);
}

/* dev.berth.root.readonly=recursive: the rootfs and every mount below it
 * read-only before the config's mounts go on top (mount_setattr
 * AT_RECURSIVE); root.readonly alone covers the top mount only, as in runc. */
static int annotation_root_readonly(struct spec *s, const char *path, const char *val,
                                    struct berth_err **err)
{
  if (strcmp(val, "recursive") == 0 || strcmp(val, "top") == 0) {
    s->root_readonly_recursive = strcmp(val, "recursive") == 0;
    return 0;
  }
  return bad(err, path, "must be recursive or top, got \"%s\"", val);
}

/* The host's root as the rootfs (berth sandbox --host) only when nothing
 * below it can be written: a writable "/" would hand the host to the
 * container. */
static int root_check(const struct spec *s, struct berth_err **err)
{
  if (strcmp(s->rootfs, "/") != 0)
    return 0;
  if (!s->root_readonly_recursive || !s->ns[NS_MNT].enabled)
    return bad(err, "root.path",
               "the host's root directory needs a mount namespace and "
               "dev.berth.root.readonly=recursive");
  return 0;
}

/* One dev.berth.* annotation (k without the prefix). */
static int annotation_berth(struct spec *s, const char *path, const char *k, const char *val,
                            struct berth_err **err)
{
  if (strcmp(k, "backend") == 0)
    return annotation_backend(path, val, err);
  if (netns_config_is_key(k)) {
    if (netns_config_set(&s->net, k, val, err) < 0)
      return berth_err_wrap(err, "config.json: %s", path);
    return 0;
  }
  if (strcmp(k, "root.readonly") == 0)
    return annotation_root_readonly(s, path, val, err);
  if (vm_option_is_key(k)) {
    if (vm_option_check(k, val, err) < 0)
      return berth_err_wrap(err, "config.json");
    return 0;
  }
  return bad(err, path, "unknown berth annotation (a typo?)");
}

/* Built-in networking wires a network namespace berth made: a joined one
 * belongs to someone else, and without one the host's would be rewired. */
static int net_check(const struct spec *s, struct berth_err **err)
{
  /* Settings that need a network (a port, an address) are refused without one. */
  if (netns_config_check(&s->net, err) < 0)
    return berth_err_wrap(err, "config.json: dev.berth.net");
  if (s->net.mode == NET_MODE_NONE)
    return 0;
  const char *mode = s->net.mode == NET_MODE_BRIDGE ? "bridge" : "slirp";
  if (!s->ns[NS_NET].enabled)
    return berth_err_set(err, 0,
                         "config.json: dev.berth.net=%s needs a network namespace "
                         "(add {\"type\":\"network\"} to linux.namespaces)",
                         mode);
  if (s->ns[NS_NET].path)
    return berth_err_set(err, 0,
                         "config.json: dev.berth.net=%s: the network namespace %s is joined, "
                         "and berth leaves a joined one alone (drop its path, or dev.berth.net)",
                         mode, s->ns[NS_NET].path);
  return 0;
}

static int parse_annotations(json_t *root, struct spec *s, struct berth_err **err)
{
  json_t *obj = NULL;
  if (get_object(root, "annotations", "annotations", &obj, err) < 0)
    return -1;
  netns_config_init(&s->net);
  const char *key;
  json_t *v;
  json_object_foreach (obj, key, v) {
    char path[300];
    jpath(path, sizeof(path), "annotations[\"%s\"]", key);
    if (!json_is_string(v))
      return bad(err, path, "must be a string");
    if (strncmp(key, "dev.berth.", 10) == 0 &&
        annotation_berth(s, path, key + 10, json_string_value(v), err) < 0)
      return -1;
  }
  const char *backend = json_string_value(json_object_get(obj, "dev.berth.backend"));
  s->backend = xstrdup(backend ? backend : "linux");
  return net_check(s, err);
}

/* ---- top level ---- */

static int parse_hooks(json_t *root, struct spec *s, struct berth_err **err)
{
  json_t *h = NULL;
  if (get_object(root, "hooks", "hooks", &h, err) < 0)
    return -1;
  return hooks_parse(h, &s->hooks, err);
}

char *spec_path_clean(const char *abs)
{
  /* Lexically, as filepath.Clean: "//", "." and a trailing "/" go, ".."
   * takes back one component (never above "/"). One spelling per
   * directory, so the child's parent/base split works for "." too. */
  size_t n = strlen(abs);
  char *out = xcalloc(n + 2, 1);
  size_t len = 0;
  for (const char *c = abs; *c;) {
    while (*c == '/')
      c++;
    size_t k = strcspn(c, "/");
    if (k == 0 || (k == 1 && c[0] == '.')) {
      c += k;
      continue;
    }
    if (k == 2 && c[0] == '.' && c[1] == '.') {
      while (len > 0 && out[len - 1] != '/')
        len--;
      if (len > 0)
        len--;
    } else {
      out[len++] = '/';
      memcpy(out + len, c, k);
      len += k;
    }
    c += k;
  }
  if (len == 0)
    out[len++] = '/';
  out[len] = '\0';
  return out;
}

static int parse_root(json_t *root, struct spec *s, struct berth_err **err)
{
  json_t *r = NULL;
  if (get_object(root, "root", "root", &r, err) < 0)
    return -1;
  if (r == NULL)
    return bad(err, "root", "must be an object");
  char *path = NULL;
  if (get_string(r, "path", "root.path", &path, err) < 0)
    return -1;
  cleanup_free char *p = path;
  if (p == NULL || p[0] == '\0')
    return bad(err, "root.path", "must be a non-empty string");
  cleanup_free char *abs = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", s->bundle, p);
  s->rootfs = spec_path_clean(abs);
  /* "/" only read-only all the way down (checked with the annotations). */
  return get_bool(r, "readonly", "root.readonly", &s->root_readonly, err);
}

/* Takes ownership of doc. */
static int spec_parse_doc(json_t *doc, const char *bundle, const char *seccomp_cache,
                          struct spec **out, struct berth_err **err)
{
  struct spec *s = xcalloc(1, sizeof(*s));
  s->bundle = xstrdup(bundle);
  s->json = doc;
  if (!json_is_object(s->json)) {
    spec_free(s);
    return berth_err_set(err, 0, "config.json: must be a JSON object");
  }
  json_t *root = s->json;
  json_t *ver = json_object_get(root, "ociVersion");
  int ret = -1;
  if (!json_is_string(ver)) {
    bad(err, "ociVersion", "must be a string");
    goto out;
  }
  s->oci_version = xstrdup(json_string_value(ver));

  if (parse_root(root, s, err) < 0 || parse_process(root, s, err) < 0 ||
      parse_mounts(root, s, err) < 0 || parse_linux(root, s, seccomp_cache, err) < 0 ||
      parse_hooks(root, s, err) < 0 || parse_annotations(root, s, err) < 0 ||
      root_check(s, err) < 0 || check_mount_idmaps(s, err) < 0)
    goto out;
  if (get_string(root, "hostname", "hostname", &s->hostname, err) < 0 ||
      get_string(root, "domainname", "domainname", &s->domainname, err) < 0)
    goto out;
  if (s->hostname && s->hostname[0] && !s->ns[NS_UTS].enabled) {
    bad(err, "hostname", "needs a uts namespace in linux.namespaces");
    goto out;
  }
  if (s->domainname && s->domainname[0] && !s->ns[NS_UTS].enabled) {
    bad(err, "domainname", "needs a uts namespace in linux.namespaces");
    goto out;
  }
  if (!s->ns[NS_MNT].enabled && s->n_mounts > 0) {
    bad(err, "linux.namespaces", "mounts need a mount namespace");
    goto out;
  }
  ret = 0;
out:
  if (ret < 0) {
    spec_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

int spec_parse(const char *text, const char *bundle, const char *seccomp_cache, struct spec **out,
               struct berth_err **err)
{
  json_error_t jerr;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return berth_err_set(err, 0, "config.json: invalid JSON at line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
  return spec_parse_doc(doc, bundle, seccomp_cache, out, err);
}

int spec_parse_exec(const char *config_text, const char *bundle, json_t *process, const char *label,
                    const char *seccomp_cache, struct spec **out, struct berth_err **err)
{
  json_error_t jerr;
  json_t *doc = json_loads(config_text, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return berth_err_set(err, 0, "config.json: invalid JSON at line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
  if (json_is_object(doc) && process)
    json_object_set(doc, "process", process);
  if (spec_parse_doc(doc, bundle, seccomp_cache, out, err) < 0) {
    /* "config.json: process.args: ..." -> "LABEL: args: ..." */
    static const char pre[] = "config.json: process.";
    if (label && strncmp((*err)->msg, pre, sizeof(pre) - 1) == 0) {
      char tail[sizeof((*err)->msg) / 2];
      snprintf(tail, sizeof(tail), "%s", (*err)->msg + sizeof(pre) - 1);
      char l[sizeof((*err)->msg) / 4];
      snprintf(l, sizeof(l), "%s", label);
      snprintf((*err)->msg, sizeof((*err)->msg), "%s: %s", l, tail);
    }
    return -1;
  }
  if (!(*out)->has_process) {
    spec_free(*out);
    *out = NULL;
    return berth_err_set(err, 0, "%s: must be a process object", label ? label : "process");
  }
  return 0;
}

/* Flags that set annotations (create --net bridge ...) win over the
 * config's, and are saved with it. */
static int annotations_override(json_t *doc, char *const *overrides, struct berth_err **err)
{
  if (overrides == NULL || overrides[0] == NULL || !json_is_object(doc))
    return 0;
  json_t *ann = json_object_get(doc, "annotations");
  if (ann == NULL) {
    ann = json_object();
    json_object_set_new(doc, "annotations", ann);
  }
  if (!json_is_object(ann))
    return bad(err, "annotations", "must be an object");
  for (size_t i = 0; overrides[i]; i++) {
    const char *eq = strchr(overrides[i], '=');
    if (eq == NULL)
      return berth_err_set(err, 0, "annotation \"%s\": must be KEY=VALUE", overrides[i]);
    cleanup_free char *key = strndup(overrides[i], (size_t)(eq - overrides[i]));
    json_object_set_new(ann, key, json_string(eq + 1));
  }
  return 0;
}

int spec_load(const char *bundle, const char *seccomp_cache, struct spec **out,
              struct berth_err **err)
{
  return spec_load_with(bundle, seccomp_cache, NULL, out, err);
}

int spec_load_with(const char *bundle, const char *seccomp_cache, char *const *overrides,
                   struct spec **out, struct berth_err **err)
{
  char abs[PATH_MAX];
  if (realpath(bundle, abs) == NULL)
    return berth_err_sys(err, "bundle %s", bundle);
  cleanup_free char *text = NULL;
  cleanup_free char *path = xasprintf("%s/config.json", abs);
  if (read_file_at(AT_FDCWD, path, SPEC_MAX_SIZE, &text, NULL, err) < 0)
    return berth_err_wrap(err, "config.json");
  return spec_load_text_with(text, abs, seccomp_cache, overrides, out, err);
}

int spec_load_text_with(const char *text, const char *bundle, const char *seccomp_cache,
                        char *const *overrides, struct spec **out, struct berth_err **err)
{
  json_error_t jerr;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return berth_err_set(err, 0, "config.json: invalid JSON at line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
  if (annotations_override(doc, overrides, err) < 0) {
    json_decref(doc);
    return -1;
  }
  struct spec *s = NULL;
  if (spec_parse_doc(doc, bundle, seccomp_cache, &s, err) < 0 || s == NULL)
    return -1;
  if (!s->has_process) {
    spec_free(s);
    return bad(err, "process", "must be an object");
  }
  struct stat st;
  if (stat(s->rootfs, &st) < 0) {
    berth_err_sys(err, "config.json: root.path: %s", s->rootfs);
    spec_free(s);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    bad(err, "root.path", "%s is not a directory", s->rootfs);
    spec_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void spec_free(struct spec *s)
{
  if (s == NULL)
    return;
  json_decref(s->json);
  free(s->bundle);
  free(s->oci_version);
  jf_strv_free(s->args);
  jf_strv_free(s->env);
  free(s->cwd);
  free(s->additional_gids);
  free(s->rlimits);
  free(s->rootfs);
  free(s->hostname);
  free(s->domainname);
  for (size_t i = 0; i < s->n_mounts; i++) {
    free(s->mounts[i].destination);
    free(s->mounts[i].type);
    free(s->mounts[i].source);
    free(s->mounts[i].data);
    free(s->mounts[i].uid_map);
    free(s->mounts[i].gid_map);
  }
  free(s->mounts);
  for (int i = 0; i < NS_COUNT; i++)
    free(s->ns[i].path);
  for (size_t i = 0; i < s->n_devices; i++)
    free(s->devices[i].path);
  free(s->devices);
  for (size_t i = 0; i < s->n_sysctl; i++) {
    free(s->sysctl[i].key);
    free(s->sysctl[i].value);
  }
  free(s->sysctl);
  jf_strv_free(s->masked_paths);
  jf_strv_free(s->readonly_paths);
  free(s->backend);
  free(s->cgroups_path);
  free(s->uid_mappings);
  free(s->gid_mappings);
  cgroup_resources_free(&s->resources);
  seccomp_filter_free(s->seccomp);
  hooks_free(&s->hooks);
  free(s);
}
