/* `exec --cgroup`: the exec'd process joins an existing sub-cgroup of the
 * container's own groups instead of the groups themselves. A value is PATH
 * (every hierarchy) or CTL[,CTL...]:PATH (v1: the hierarchies of those
 * controllers), PATH relative to the container's group, as runc takes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

static int sub_path_check(const char *value, const char *path, struct berth_err **err)
{
  if (path[0] == '\0' || path[0] == '/')
    return berth_err_set(
        err, 0, "exec --cgroup %s: the path must be relative to the container's cgroup", value);
  if (path_has_dotdot(path))
    return berth_err_set(err, 0, "exec --cgroup %s: the path must not contain \"..\"", value);
  return 0;
}

/* Which sub-path (or NULL: the container's own group) hierarchy d gets. */
static int sub_for(const struct cgroup_dir *d, char *const *subs, const char **out,
                   struct berth_err **err)
{
  *out = NULL;
  for (size_t i = 0; subs && subs[i]; i++) {
    const char *colon = strchr(subs[i], ':');
    const char *path = colon ? colon + 1 : subs[i];
    if (sub_path_check(subs[i], path, err) < 0)
      return -1;
    if (colon == NULL) {
      *out = path;
      continue;
    }
    if (d->v2)
      continue;
    cleanup_free char *ctls = xstrdup(subs[i]);
    ctls[colon - subs[i]] = '\0';
    char *save = NULL;
    for (char *c = strtok_r(ctls, ",", &save); c; c = strtok_r(NULL, ",", &save))
      if (cgroup_controllers_have(d->controllers, c))
        *out = path;
  }
  return 0;
}

/* A CTL:PATH value naming a controller this host has no hierarchy for. */
static int subs_validate(const struct cgroup *cg, char *const *subs, struct berth_err **err)
{
  for (size_t i = 0; subs && subs[i]; i++) {
    const char *colon = strchr(subs[i], ':');
    if (colon == NULL)
      continue;
    if (cg->layout == CGROUP_LAYOUT_V2)
      return berth_err_set(err, 0, "exec --cgroup %s: cgroup v2 takes a path only, no controller",
                           subs[i]);
    cleanup_free char *ctls = xstrdup(subs[i]);
    ctls[colon - subs[i]] = '\0';
    char *save = NULL;
    for (char *c = strtok_r(ctls, ",", &save); c; c = strtok_r(NULL, ",", &save))
      if (cgroup_find(cg, c, false) == NULL)
        return berth_err_set(err, 0, "exec --cgroup %s: no %s controller here", subs[i], c);
  }
  return 0;
}

int cgroup_enter_self_sub(const struct cgroup *cg, char *const *subs, struct berth_err **err)
{
  if (subs_validate(cg, subs, err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n; i++) {
    const struct cgroup_dir *d = &cg->h[i];
    const char *sub;
    if (sub_for(d, subs, &sub, err) < 0)
      return -1;
    cleanup_free char *dir = sub ? xasprintf("%s/%s", d->dir, sub) : xstrdup(d->dir);
    struct stat st;
    if (sub && (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
      return berth_err_set(err, 0, "exec --cgroup: %s: no such sub-cgroup", dir);
    cleanup_free char *file = xasprintf("%s/%s", dir, d->v2 ? "cgroup.procs" : "tasks");
    if (write_string_at(AT_FDCWD, file, "0", err) < 0)
      return berth_err_wrap(err, "exec --cgroup");
  }
  return 0;
}
