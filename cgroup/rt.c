/* v1 real-time CPU bandwidth (cpu.rt_period_us, cpu.rt_runtime_us).
 *
 * The kernel keeps RT bandwidth hierarchical: at every level the children's
 * runtime/period ratios must add up to no more than the level's own, and a
 * new group starts with a runtime of 0. So a container below an
 * intermediate group (berth's own <own>/berth, or a pod's /pod in
 * cgroupsPath /pod/ctr) can get no RT time until that group has some. Like
 * the daemons that set a parent's budget for their containers, berth raises
 * the levels between its base (its own cgroup, or the root for an absolute
 * cgroupsPath; never the base itself) and the container just enough for
 * the container's share plus its siblings'; it never lowers them. When the
 * base has no room the error names it and its budget. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

/* The kernel's fixed-point bandwidth unit (kernel/sched: BW_SHIFT). */
#define RT_BW_SHIFT 20
#define RT_BW_UNIT (1ULL << RT_BW_SHIFT)
#define RT_MAX_LEVELS 32

static uint64_t rt_ratio(int64_t runtime, uint64_t period)
{
  if (runtime < 0)
    return RT_BW_UNIT; /* -1: no limit counts as all of it */
  return period ? ((uint64_t)runtime << RT_BW_SHIFT) / period : 0;
}

static int64_t read_i64(const char *dir, const char *file)
{
  struct cgroup_dir d = {.dir = (char *)dir};
  char buf[64];
  if (cgroup_read(&d, file, buf, sizeof(buf)) < 0 || buf[0] == '\0')
    return 0;
  return strtoll(buf, NULL, 10);
}

static uint64_t dir_ratio(const char *dir)
{
  return rt_ratio(read_i64(dir, "cpu.rt_runtime_us"), (uint64_t)read_i64(dir, "cpu.rt_period_us"));
}

/* What the children of dir hold, with child `path_child` counted at
 * `child_ratio` instead of its current value. */
static uint64_t children_ratio(const char *dir, const char *path_child, uint64_t child_ratio)
{
  uint64_t sum = child_ratio;
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.')
      continue;
    cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
    if (strcmp(sub, path_child) != 0)
      sum += dir_ratio(sub);
  }
  return sum;
}

/* Levels strictly between base and the container's directory, top first. */
static size_t rt_levels(const struct cgroup_dir *d, char *levels[RT_MAX_LEVELS])
{
  size_t n = 0, blen = strlen(d->base);
  for (const char *s = d->dir + blen + 1; (s = strchr(s, '/')) != NULL && n < RT_MAX_LEVELS; s++)
    levels[n++] = strndup(d->dir, (size_t)(s - d->dir));
  return n;
}

static int raise_level(const char *dir, uint64_t need, int64_t want, struct berth_err **err)
{
  uint64_t period = (uint64_t)read_i64(dir, "cpu.rt_period_us");
  /* Round up: the kernel compares the rounded-down ratios. */
  uint64_t runtime = (need * period + RT_BW_UNIT - 1) >> RT_BW_SHIFT;
  struct cgroup_dir l = {.dir = (char *)dir};
  char val[32];
  snprintf(val, sizeof(val), "%" PRIu64, runtime);
  if (cgroup_write(&l, "cpu.rt_runtime_us", val, NULL) == 0)
    return 0;
  cleanup_free char *parent = strndup(dir, (size_t)(strrchr(dir, '/') - dir));
  return berth_err_set(err, 0,
                       "no real-time budget left for %" PRId64
                       " us: %s has cpu.rt_runtime_us %" PRId64 " (per %" PRId64
                       " us), too little for %s to get %" PRIu64 "; raise it there",
                       want, parent, read_i64(parent, "cpu.rt_runtime_us"),
                       read_i64(parent, "cpu.rt_period_us"), dir, runtime);
}

/* Gives every level above the container enough RT bandwidth for it to get
 * runtime/period next to its siblings. */
static int rt_make_room(const struct cgroup_dir *d, int64_t runtime, uint64_t period,
                        struct berth_err **err)
{
  char *levels[RT_MAX_LEVELS];
  size_t n = rt_levels(d, levels);
  uint64_t need[RT_MAX_LEVELS];
  size_t top = n; /* levels [top, n) must grow */
  uint64_t ratio = rt_ratio(runtime, period);
  for (size_t i = n; i-- > 0;) {
    ratio = children_ratio(levels[i], i + 1 < n ? levels[i + 1] : d->dir, ratio);
    if (ratio <= dir_ratio(levels[i]))
      break;
    need[i] = ratio;
    top = i;
  }
  int ret = 0;
  for (size_t i = top; i < n && ret == 0; i++)
    ret = raise_level(levels[i], need[i], runtime, err);
  for (size_t i = 0; i < n; i++)
    free(levels[i]);
  return ret;
}

int cgroup_v1_rt_apply(const struct cgroup_dir *d, const struct cgroup_resources *r,
                       struct berth_err **err)
{
  if (!r->has_cpu_rt_period && !r->has_cpu_rt_runtime)
    return 0;
  char val[32];
  /* The period first; but a shorter period than the current runtime is
   * refused (EINVAL) until the runtime is lowered: then retry it after. */
  bool period_pending = false;
  if (r->has_cpu_rt_period) {
    snprintf(val, sizeof(val), "%" PRIu64, r->cpu_rt_period);
    struct berth_err *e = NULL;
    if (cgroup_write(d, "cpu.rt_period_us", val, &e) < 0) {
      period_pending = e->errnum == EINVAL && r->has_cpu_rt_runtime;
      if (!period_pending) {
        berth_err_free(err);
        *err = e;
        return berth_err_wrap(err, "linux.resources.cpu.realtimePeriod");
      }
      berth_err_free(&e);
    }
  }
  if (r->has_cpu_rt_runtime) {
    uint64_t period =
        r->has_cpu_rt_period ? r->cpu_rt_period : (uint64_t)read_i64(d->dir, "cpu.rt_period_us");
    snprintf(val, sizeof(val), "%" PRId64, r->cpu_rt_runtime);
    if (rt_make_room(d, r->cpu_rt_runtime, period, err) < 0 ||
        cgroup_write(d, "cpu.rt_runtime_us", val, err) < 0)
      return berth_err_wrap(err, "linux.resources.cpu.realtimeRuntime");
  }
  if (period_pending) {
    snprintf(val, sizeof(val), "%" PRIu64, r->cpu_rt_period);
    if (cgroup_write(d, "cpu.rt_period_us", val, err) < 0)
      return berth_err_wrap(err, "linux.resources.cpu.realtimePeriod");
  }
  return 0;
}
