/* Image config -> runtime spec, the way the OCI image spec's "conversion"
 * section reads: Entrypoint + Cmd, Env, WorkingDir, User, Labels,
 * ExposedPorts, StopSignal. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../runtime/spec.h"
#include "internal.h"

#define IDFILE_MAX ((size_t)4 * 1024 * 1024)

static json_t *strings_or_empty(json_t *v)
{
  return json_is_array(v) ? json_deep_copy(v) : json_array();
}

/* Entrypoint + (args or Cmd). */
static int process_args(json_t *cfg, char *const *args, json_t *proc, struct berth_err **err)
{
  json_t *argv = strings_or_empty(json_object_get(cfg, "Entrypoint"));
  if (args && args[0]) {
    for (size_t i = 0; args[i]; i++)
      json_array_append_new(argv, json_string(args[i]));
  } else {
    json_t *cmd = strings_or_empty(json_object_get(cfg, "Cmd"));
    json_array_extend(argv, cmd);
    json_decref(cmd);
  }
  if (json_array_size(argv) == 0) {
    json_decref(argv);
    return berth_err_set(err, 0, "the image has no Entrypoint or Cmd: give a command");
  }
  json_object_set_new(proc, "args", argv);
  return 0;
}

/* The image's Env over the default's, by name. */
static void process_env(json_t *cfg, json_t *proc)
{
  json_t *env = json_object_get(proc, "env");
  json_t *add = json_object_get(cfg, "Env");
  size_t i, j;
  json_t *e, *d;
  json_array_foreach (add, i, e) {
    const char *kv = json_string_value(e);
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (eq == NULL)
      continue;
    size_t klen = (size_t)(eq - kv) + 1;
    bool replaced = false;
    json_array_foreach (env, j, d)
      if (!replaced && strncmp(json_string_value(d), kv, klen) == 0) {
        json_array_set(env, j, e);
        replaced = true;
      }
    if (!replaced)
      json_array_append(env, e);
  }
}

/* A file of the image, resolved inside its root (a symlink in the image
 * cannot point us at the host's /etc/passwd). NULL when absent. */
static char *image_file(int rootfs_dirfd, const char *path)
{
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  cleanup_close int fd = (int)syscall(SYS_openat2, rootfs_dirfd, path, &how, sizeof(how));
  if (fd < 0)
    return NULL;
  char *text = NULL;
  struct berth_err *err = NULL;
  if (fd_read_all(fd, IDFILE_MAX, &text, &err) < 0) {
    berth_err_free(&err);
    return NULL;
  }
  return text;
}

/* In /etc/passwd or /etc/group text: the entry whose name is `key` (or,
 * by_id, whose id is); its id in *id and, for passwd, its group in *gid. */
static bool id_lookup(const char *text, const char *key, bool by_id, unsigned *id, unsigned *gid)
{
  cleanup_free char *copy = text ? xstrdup(text) : NULL;
  for (char *save = NULL, *l = copy ? strtok_r(copy, "\n", &save) : NULL; l;
       l = strtok_r(NULL, "\n", &save)) {
    char *f[4] = {NULL};
    char *p = l;
    for (int i = 0; i < 4 && p; i++)
      f[i] = strsep(&p, ":");
    if (f[2] == NULL || strcmp(by_id ? f[2] : f[0], key) != 0)
      continue;
    *id = (unsigned)strtoul(f[2], NULL, 10);
    if (gid && f[3])
      *gid = (unsigned)strtoul(f[3], NULL, 10);
    return true;
  }
  return false;
}

static bool numeric(const char *s, unsigned *v)
{
  char *end;
  if (s[0] < '0' || s[0] > '9')
    return false;
  unsigned long n = strtoul(s, &end, 10);
  if (*end || n > 0xffffffffUL)
    return false;
  *v = (unsigned)n;
  return true;
}

/* User "", "UID", "NAME", each optionally ":GID" or ":GROUP". */
static int process_user(const char *user, int rootfs_dirfd, json_t *proc, struct berth_err **err)
{
  unsigned uid = 0, gid = 0;
  cleanup_free char *u = xstrdup(user ? user : "");
  char *g = strchr(u, ':');
  if (g)
    *g++ = '\0';
  cleanup_free char *passwd = image_file(rootfs_dirfd, "/etc/passwd");
  bool by_id = numeric(u, &uid);
  /* A numeric uid needs no entry; when it has one, its group is the default. */
  if (u[0] && !id_lookup(passwd, u, by_id, &uid, &gid) && !by_id)
    return berth_err_set(err, 0, "image User \"%s\": no such user in the image's /etc/passwd",
                         user);
  cleanup_free char *group = g && g[0] ? image_file(rootfs_dirfd, "/etc/group") : NULL;
  if (g && g[0] && !numeric(g, &gid) && !id_lookup(group, g, false, &gid, NULL))
    return berth_err_set(err, 0, "image User \"%s\": no such group in the image's /etc/group",
                         user);
  json_t *ju = json_object_get(proc, "user");
  json_object_set_new(ju, "uid", json_integer(uid));
  json_object_set_new(ju, "gid", json_integer(gid));
  return 0;
}

/* Labels, then the image's own facts under org.opencontainers.image.*. */
static void annotations(json_t *cfg, json_t *spec)
{
  json_t *ann = json_object();
  json_t *labels = json_object_get(cfg, "Labels");
  const char *k;
  json_t *v;
  json_object_foreach (labels, k, v)
    if (json_is_string(v))
      json_object_set(ann, k, v);
  json_t *ports = json_object_get(cfg, "ExposedPorts");
  if (json_is_object(ports) && json_object_size(ports) > 0) {
    cleanup_free char *list = NULL;
    json_object_foreach (ports, k, v) {
      char *next = xasprintf("%s%s%s", list ? list : "", list ? "," : "", k);
      free(list);
      list = next;
    }
    json_object_set_new(ann, "org.opencontainers.image.exposedPorts", json_string(list));
  }
  json_t *stop = json_object_get(cfg, "StopSignal");
  if (json_is_string(stop))
    json_object_set(ann, "org.opencontainers.image.stopSignal", stop);
  json_object_set_new(spec, "annotations", ann);
}

/* Rootless: the user namespace maps the ids the process runs as (the
 * image's User, root when it names none) to the user's own, the only ids
 * an ordinary user may map without newuidmap. The copied rootfs belongs
 * to the user, so it is the image user's inside: a non-root User starts,
 * and owns what it finds (as with umoci unpack --rootless); root is then
 * not mapped. */
static void rootless_map_user(json_t *spec, json_t *proc)
{
  json_t *lx = json_object_get(spec, "linux"), *ju = json_object_get(proc, "user");
  json_int_t uid = json_integer_value(json_object_get(ju, "uid"));
  json_int_t gid = json_integer_value(json_object_get(ju, "gid"));
  json_object_set_new(
      lx, "uidMappings",
      json_pack("[{s:I,s:I,s:i}]", "containerID", uid, "hostID", (json_int_t)geteuid(), "size", 1));
  json_object_set_new(
      lx, "gidMappings",
      json_pack("[{s:I,s:I,s:i}]", "containerID", gid, "hostID", (json_int_t)getegid(), "size", 1));
}

int image_spec_json(const char *image_config, char *const *args, int rootfs_dirfd, char **out,
                    struct berth_err **err)
{
  json_t *img = json_loads(image_config, 0, NULL);
  /* For an ordinary user, `berth spec --rootless`'s: root inside is the
   * user, who owns the copied rootfs. */
  cleanup_free char *base =
      image_rootless() ? spec_default_json_for(true, (unsigned)geteuid(), (unsigned)getegid())
                       : spec_default_json();
  json_t *spec = json_loads(base, 0, NULL);
  json_t *cfg = json_object_get(img, "config");
  json_t *proc = json_object_get(spec, "process");
  int ret = -1;
  if (!json_is_object(img))
    berth_err_set(err, 0, "image config: not a JSON object");
  else if (process_args(cfg, args, proc, err) == 0 &&
           process_user(json_string_value(json_object_get(cfg, "User")), rootfs_dirfd, proc, err) ==
               0) {
    process_env(cfg, proc);
    if (image_rootless())
      rootless_map_user(spec, proc);
    const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
    json_object_set_new(proc, "cwd", json_string(wd && wd[0] ? wd : "/"));
    json_object_set_new(proc, "terminal", json_false());
    annotations(cfg, spec);
    *out = json_dumps(spec, JSON_INDENT(2));
    ret = 0;
  }
  json_decref(img);
  json_decref(spec);
  return ret;
}
