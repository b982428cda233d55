/* Shared inside cgroup/ only. */
#ifndef BERTH_CGROUP_INTERNAL_H
#define BERTH_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

#define CGROUP_MAX_HIER 16

struct cgroup_dir {
  bool v2;
  char *controllers; /* v1: "cpu" or "cpu,cpuacct"; v2: "" */
  char *mountpoint;  /* /sys/fs/cgroup/memory, /sys/fs/cgroup/unified, /sys/fs/cgroup */
  char *dir;         /* the container's directory */
  char *created;     /* first level cgroup_create made (undo point), or NULL:
                      * then the container's directory was found, not made,
                      * and berth never removes it (state.json keeps this) */
  char *base;        /* v2: controllers are enabled from here down (berth's own
                      * cgroup, or the root for an absolute cgroupsPath) */
};

struct cgroup {
  enum cgroup_layout layout;
  bool needed_only;   /* CGROUP_CREATE_NEEDED_ONLY (not saved: create only) */
  bool no_accounting; /* CGROUP_CREATE_NO_ACCOUNTING (the same) */
  size_t n;           /* joined: the container's processes are in these */
  struct cgroup_dir h[CGROUP_MAX_HIER];
  size_t n_later; /* planned at create, joined when a setting needs one */
  struct cgroup_dir later[CGROUP_MAX_HIER];
  bool exclusive; /* at create: the container's directories must be new */
};

/* The hierarchy holding a v1 controller, or the v2 one (controller ""). */
struct cgroup_dir *cgroup_find(const struct cgroup *cg, const char *controller, bool v2);

/* Does a comma-separated controller list ("cpu,cpuacct") hold this one? */
bool cgroup_controllers_have(const char *list, const char *controller);

/* Does v1 hierarchy d hold this controller? (A v2 directory holds them all.) */
static inline bool cgroup_find_in(const struct cgroup_dir *d, const char *controller)
{
  return d->v2 || cgroup_controllers_have(d->controllers, controller);
}

/* Read/write a file of the container's directory. Reads return 0 or -1
 * and leave buf "" on failure. */
int cgroup_read(const struct cgroup_dir *d, const char *file, char *buf, size_t len);
int cgroup_write(const struct cgroup_dir *d, const char *file, const char *value,
                 struct berth_err **err);

/* apply.c */
int cgroup_check_host(const struct cgroup *cg, const struct cgroup_resources *r,
                      struct berth_err **err);
int cgroup_cpuset_inherit(const char *dir, struct berth_err **err);
int cgroup_v2_enable_controllers(const char *dir, bool for_children, struct berth_err **err);

/* rt.c: v1 cpu.rt_period_us/cpu.rt_runtime_us of d (the cpu hierarchy),
 * raising the levels above it as needed. */
int cgroup_v1_rt_apply(const struct cgroup_dir *d, const struct cgroup_resources *r,
                       struct berth_err **err);

#endif
