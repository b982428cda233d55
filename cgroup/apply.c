/* Writing linux.resources into the cgroup files, v1 and v2. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

int cgroup_read(const struct cgroup_dir *d, const char *file, char *buf, size_t len)
{
  buf[0] = '\0';
  cleanup_free char *path = xasprintf("%s/%s", d->dir, file);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, len - 1);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

int cgroup_write(const struct cgroup_dir *d, const char *file, const char *value,
                 struct berth_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s", d->dir, file);
  struct berth_err *e = NULL;
  if (write_string_at(AT_FDCWD, path, value, &e) < 0) {
    if (err)
      berth_err_set(err, e->errnum, "cgroup: write \"%s\" to %s", value, path);
    berth_err_free(&e);
    return -1;
  }
  return 0;
}

static int writef(const struct cgroup_dir *d, const char *file, struct berth_err **err,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int writef(const struct cgroup_dir *d, const char *file, struct berth_err **err,
                  const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return cgroup_write(d, file, buf, err);
}

static bool has_file(const struct cgroup_dir *d, const char *file)
{
  cleanup_free char *path = xasprintf("%s/%s", d->dir, file);
  return access(path, F_OK) == 0;
}

/* ---- checks against this host, before anything is created ---- */

static int cpulist_within(const char *want, const char *have)
{
  /* Every id in want must be in have; both are "0-3,5" lists. */
  unsigned char in[4096] = {0};
  for (const char *s = have; *s;) {
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (*end == '-')
      b = strtoul(end + 1, &end, 10);
    for (unsigned long i = a; i <= b && i < sizeof(in); i++)
      in[i] = 1;
    s = *end == ',' ? end + 1 : end;
    if (end == s && *s != '\0')
      break;
    if (*end == '\0' || *end == '\n')
      break;
  }
  for (const char *s = want; *s;) {
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (*end == '-')
      b = strtoul(end + 1, &end, 10);
    for (unsigned long i = a; i <= b; i++)
      if (i >= sizeof(in) || !in[i])
        return (int)i + 1;
    if (*end != ',')
      break;
    s = end + 1;
  }
  return 0;
}

static int check_cpuset(const char *field, const char *want, const char *sysfile,
                        struct berth_err **err)
{
  cleanup_free char *have = NULL;
  if (read_file_at(AT_FDCWD, sysfile, 4096, &have, NULL, err) < 0)
    return berth_err_wrap(err, "linux.resources.%s", field);
  have[strcspn(have, "\n")] = '\0';
  int bad = cpulist_within(want, have);
  if (bad)
    return berth_err_set(err, 0, "linux.resources.%s: %d is not available on this host (%s)", field,
                         bad - 1, have);
  return 0;
}

/* Settings only a v1 controller has: refused on v2, and on a v1 or hybrid
 * host that does not mount the controller (or whose kernel lacks the file),
 * before anything is created. */
static int check_v1_only(const struct cgroup *cg, const struct cgroup_resources *r,
                         struct berth_err **err)
{
  static const struct {
    const char *field, *controller, *file, *what;
  } need[] = {
      {"network.classID", "net_cls", "net_cls.classid", "net_cls controller"},
      {"network.priorities", "net_prio", "net_prio.ifpriomap", "net_prio controller"},
      {"cpu.realtimePeriod", "cpu", "cpu.rt_period_us", "real-time group scheduling"},
      {"cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", "real-time group scheduling"},
  };
  bool set[] = {r->has_net_classid, r->n_net_prios > 0, r->has_cpu_rt_period,
                r->has_cpu_rt_runtime};
  for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
    if (!set[i])
      continue;
    if (cg->layout == CGROUP_LAYOUT_V2)
      return berth_err_set(err, 0, "linux.resources.%s: cgroup v2 has no %s (a v1 feature)",
                           need[i].field, need[i].what);
    const struct cgroup_dir *d = cgroup_find(cg, need[i].controller, false);
    cleanup_free char *f = d ? xasprintf("%s/%s", d->mountpoint, need[i].file) : NULL;
    if (d == NULL)
      return berth_err_set(err, 0, "linux.resources.%s: this host does not mount the v1 %s",
                           need[i].field, need[i].what);
    if (access(f, F_OK) < 0)
      return berth_err_set(err, 0, "linux.resources.%s: this kernel has no %s (no %s)",
                           need[i].field, need[i].what, f);
  }
  return 0;
}

int cgroup_check_host(const struct cgroup *cg, const struct cgroup_resources *r,
                      struct berth_err **err)
{
  if (r->cpus && check_cpuset("cpu.cpus", r->cpus, "/sys/devices/system/cpu/online", err) < 0)
    return -1;
  if (r->mems && check_cpuset("cpu.mems", r->mems, "/sys/devices/system/node/online", err) < 0)
    return -1;
  bool v2 = cg->layout == CGROUP_LAYOUT_V2;
  if (v2 && r->disable_oom_killer)
    return berth_err_set(err, 0,
                         "linux.resources.memory.disableOOMKiller: cgroup v2 has no such "
                         "switch");
  if (v2 && r->has_mem_swappiness)
    return berth_err_set(err, 0, "linux.resources.memory.swappiness: cgroup v2 has no such file");
  if (check_v1_only(cg, r, err) < 0)
    return -1;
  if (r->n_unified && cgroup_find(cg, "", true) == NULL)
    return berth_err_set(err, 0, "linux.resources.unified: this host has no cgroup v2 mount");
  return 0;
}

/* ---- levels ---- */

int cgroup_cpuset_inherit(const char *dir, struct berth_err **err)
{
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  for (size_t i = 0; i < 2; i++) {
    cleanup_free char *parent = xasprintf("%s/../%s", dir, files[i]);
    cleanup_free char *mine = xasprintf("%s/%s", dir, files[i]);
    cleanup_free char *val = NULL;
    if (read_file_at(AT_FDCWD, mine, 4096, &val, NULL, err) < 0)
      return -1;
    if (val[0] != '\n' && val[0] != '\0')
      continue;
    free(val);
    val = NULL;
    if (read_file_at(AT_FDCWD, parent, 4096, &val, NULL, err) < 0 ||
        write_string_at(AT_FDCWD, mine, val, err) < 0)
      return berth_err_wrap(err, "cgroup: cpuset of %s", dir);
  }
  return 0;
}

/* v2: a child can only use the controllers its parent enables for it in
 * cgroup.subtree_control. Enable all the parent has. */
int cgroup_v2_enable_controllers(const char *dir, bool for_children, struct berth_err **err)
{
  if (!for_children)
    return 0;
  cleanup_free char *cpath = xasprintf("%s/cgroup.controllers", dir);
  cleanup_free char *avail = NULL;
  if (read_file_at(AT_FDCWD, cpath, 4096, &avail, NULL, err) < 0)
    return -1;
  cleanup_free char *spath = xasprintf("%s/cgroup.subtree_control", dir);
  char *save = NULL;
  for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
    cleanup_free char *req = xasprintf("+%s", c);
    struct berth_err *e = NULL;
    if (write_string_at(AT_FDCWD, spath, req, &e) < 0) {
      int errnum = e->errnum;
      berth_err_free(&e);
      if (errnum == EBUSY)
        return berth_err_set(err, EBUSY,
                             "cgroup: cannot enable %s below %s: it holds processes "
                             "(cgroup v2 forbids both); give an absolute linux.cgroupsPath",
                             c, dir);
      return berth_err_set(err, errnum, "cgroup: enable %s in %s", c, spath);
    }
  }
  return 0;
}

/* ---- v1 ---- */

static int v1_memory(const struct cgroup *cg, const struct cgroup_resources *r,
                     struct berth_err **err)
{
  const struct cgroup_dir *d = cgroup_find(cg, "memory", false);
  bool any = r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap ||
             r->has_mem_swappiness || r->disable_oom_killer;
  if (!any)
    return 0;
  if (d == NULL)
    return berth_err_set(err, ENOTSUP, "linux.resources.memory: no memory controller here");
  if (r->has_mem_swap && !has_file(d, "memory.memsw.limit_in_bytes"))
    return berth_err_set(err, ENOTSUP,
                         "linux.resources.memory.swap: this kernel has no swap accounting");
  /* memory <= memory+swap must hold after each write: when raising the
   * limit past the current memsw value, raise memsw first. */
  char cur[64] = "";
  cgroup_read(d, "memory.memsw.limit_in_bytes", cur, sizeof(cur));
  long long cur_memsw = cur[0] ? strtoll(cur, NULL, 10) : -1;
  bool swap_first =
      r->has_mem_swap && (r->mem_swap == -1 || (r->has_mem_limit && r->mem_limit != -1 &&
                                                cur_memsw != -1 && r->mem_limit > cur_memsw));
  if (swap_first && writef(d, "memory.memsw.limit_in_bytes", err, "%" PRId64, r->mem_swap) < 0)
    return -1;
  if (r->has_mem_limit && writef(d, "memory.limit_in_bytes", err, "%" PRId64, r->mem_limit) < 0)
    return -1;
  if (r->has_mem_swap && !swap_first &&
      writef(d, "memory.memsw.limit_in_bytes", err, "%" PRId64, r->mem_swap) < 0)
    return -1;
  if (r->has_mem_reservation &&
      writef(d, "memory.soft_limit_in_bytes", err, "%" PRId64, r->mem_reservation) < 0)
    return -1;
  if (r->has_mem_swappiness &&
      writef(d, "memory.swappiness", err, "%" PRIu64, r->mem_swappiness) < 0)
    return -1;
  if (r->disable_oom_killer && cgroup_write(d, "memory.oom_control", "1", err) < 0)
    return -1;
  return 0;
}

static int v1_cpu(const struct cgroup *cg, const struct cgroup_resources *r, struct berth_err **err)
{
  const struct cgroup_dir *d = cgroup_find(cg, "cpu", false);
  bool any = r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period || r->has_cpu_burst ||
             r->has_cpu_idle;
  any |= r->has_cpu_rt_period || r->has_cpu_rt_runtime;
  if (any && d == NULL)
    return berth_err_set(err, ENOTSUP, "linux.resources.cpu: no cpu controller here");
  /* Real-time first, as runc: a process already SCHED_RR/FIFO cannot join
   * (or stay in) a group without RT runtime. */
  if (d && cgroup_v1_rt_apply(d, r, err) < 0)
    return -1;
  if (r->has_cpu_shares && writef(d, "cpu.shares", err, "%" PRIu64, r->cpu_shares) < 0)
    return -1;
  /* The period first: the kernel checks quota against the current period. */
  if (r->has_cpu_period && writef(d, "cpu.cfs_period_us", err, "%" PRIu64, r->cpu_period) < 0)
    return -1;
  if (r->has_cpu_quota && writef(d, "cpu.cfs_quota_us", err, "%" PRId64, r->cpu_quota) < 0)
    return -1;
  if (r->has_cpu_burst && writef(d, "cpu.cfs_burst_us", err, "%" PRIu64, r->cpu_burst) < 0)
    return -1;
  if (r->has_cpu_idle && writef(d, "cpu.idle", err, "%" PRId64, r->cpu_idle) < 0)
    return -1;
  return 0;
}

static int cpuset_apply(const struct cgroup_dir *d, const struct cgroup_resources *r,
                        struct berth_err **err)
{
  if (!r->cpus && !r->mems)
    return 0;
  if (d == NULL)
    return berth_err_set(err, ENOTSUP, "linux.resources.cpu.cpus: no cpuset controller here");
  if (r->cpus && cgroup_write(d, "cpuset.cpus", r->cpus, err) < 0)
    return -1;
  if (r->mems && cgroup_write(d, "cpuset.mems", r->mems, err) < 0)
    return -1;
  return 0;
}

static int pids_apply(const struct cgroup_dir *d, const struct cgroup_resources *r,
                      struct berth_err **err)
{
  if (!r->has_pids_limit)
    return 0;
  if (d == NULL)
    return berth_err_set(err, ENOTSUP, "linux.resources.pids: no pids controller here");
  if (r->pids_limit <= 0)
    return cgroup_write(d, "pids.max", "max", err);
  return writef(d, "pids.max", err, "%" PRId64, r->pids_limit);
}

static int v1_blkio(const struct cgroup *cg, const struct cgroup_resources *r,
                    struct berth_err **err)
{
  const struct cgroup_dir *d = cgroup_find(cg, "blkio", false);
  bool any = r->has_blkio_weight || r->has_blkio_leaf_weight || r->n_weight_devices;
  for (int k = 0; k < 4; k++)
    any |= r->n_throttle[k] > 0;
  if (!any)
    return 0;
  if (d == NULL)
    return berth_err_set(err, ENOTSUP, "linux.resources.blockIO: no blkio controller here");
  /* Without CFQ the weight lives in the bfq files. */
  const char *wfile = has_file(d, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
  if (r->has_blkio_weight && writef(d, wfile, err, "%u", r->blkio_weight) < 0)
    return -1;
  if (r->has_blkio_leaf_weight &&
      writef(d, "blkio.leaf_weight", err, "%u", r->blkio_leaf_weight) < 0)
    return -1;
  const char *wdev =
      has_file(d, "blkio.weight_device") ? "blkio.weight_device" : "blkio.bfq.weight_device";
  for (size_t i = 0; i < r->n_weight_devices; i++) {
    const struct cgroup_weight_device *w = &r->weight_devices[i];
    if (w->has_weight &&
        writef(d, wdev, err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor, w->weight) < 0)
      return -1;
  }
  static const char *const files[4] = {
      "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
      "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
  for (int k = 0; k < 4; k++)
    for (size_t i = 0; i < r->n_throttle[k]; i++) {
      const struct cgroup_throttle *t = &r->throttle[k][i];
      if (writef(d, files[k], err, "%" PRId64 ":%" PRId64 " %" PRIu64, t->major, t->minor,
                 t->rate) < 0)
        return -1;
    }
  return 0;
}

static int v1_network(const struct cgroup *cg, const struct cgroup_resources *r,
                      struct berth_err **err)
{
  const struct cgroup_dir *cls = cgroup_find(cg, "net_cls", false);
  if (r->has_net_classid &&
      (cls == NULL || writef(cls, "net_cls.classid", err, "%" PRIu32, r->net_classid) < 0))
    return cls ? -1
               : berth_err_set(err, ENOTSUP,
                               "linux.resources.network.classID: no net_cls controller here");
  const struct cgroup_dir *prio = cgroup_find(cg, "net_prio", false);
  if (r->n_net_prios && prio == NULL)
    return berth_err_set(err, ENOTSUP,
                         "linux.resources.network.priorities: no net_prio controller here");
  for (size_t i = 0; i < r->n_net_prios; i++) {
    char line[64];
    cgroup_ifpriomap_line(&r->net_prios[i], line, sizeof(line));
    if (cgroup_write(prio, "net_prio.ifpriomap", line, err) < 0)
      return berth_err_wrap(err, "linux.resources.network.priorities[%zu]", i);
  }
  return 0;
}

/* Rules in order: berth's caller already put "deny all" first and runc's
 * default allow list plus linux.devices last. */
static int v1_devices(const struct cgroup *cg, const struct cgroup_resources *r,
                      struct berth_err **err)
{
  if (r->n_devices == 0)
    return 0;
  const struct cgroup_dir *d = cgroup_find(cg, "devices", false);
  if (d == NULL)
    return 0; /* v2 part (eBPF) handles it, see v2_devices */
  for (size_t i = 0; i < r->n_devices; i++) {
    char line[64];
    cgroup_device_rule_line(&r->devices[i], line, sizeof(line));
    if (cgroup_write(d, r->devices[i].allow ? "devices.allow" : "devices.deny", line, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- v2 ---- */

static int v2_memory(const struct cgroup_dir *d, const struct cgroup_resources *r,
                     struct berth_err **err)
{
  if (r->has_mem_limit &&
      (r->mem_limit == -1 ? cgroup_write(d, "memory.max", "max", err)
                          : writef(d, "memory.max", err, "%" PRId64, r->mem_limit)) < 0)
    return -1;
  if (r->has_mem_reservation &&
      (r->mem_reservation == -1 ? cgroup_write(d, "memory.low", "max", err)
                                : writef(d, "memory.low", err, "%" PRId64, r->mem_reservation)) < 0)
    return -1;
  if (r->has_mem_swap) {
    char buf[32];
    if (cgroup_swap_to_v2(r->has_mem_limit ? r->mem_limit : 0, r->has_mem_limit, r->mem_swap, buf,
                          sizeof(buf), err) < 0)
      return -1;
    if (buf[0] && !has_file(d, "memory.swap.max"))
      return berth_err_set(err, ENOTSUP,
                           "linux.resources.memory.swap: this kernel has no swap accounting");
    if (buf[0] && cgroup_write(d, "memory.swap.max", buf, err) < 0)
      return -1;
  }
  return 0;
}

static int v2_cpu(const struct cgroup_dir *d, const struct cgroup_resources *r,
                  struct berth_err **err)
{
  if (r->has_cpu_shares) {
    uint64_t w = cgroup_shares_to_weight(r->cpu_shares);
    if (w && writef(d, "cpu.weight", err, "%" PRIu64, w) < 0)
      return -1;
  }
  if (r->has_cpu_quota || r->has_cpu_period) {
    char buf[64];
    cgroup_cpu_max(r->has_cpu_quota, r->cpu_quota, r->has_cpu_period, r->cpu_period, buf,
                   sizeof(buf));
    if (cgroup_write(d, "cpu.max", buf, err) < 0)
      return -1;
  }
  if (r->has_cpu_burst && writef(d, "cpu.max.burst", err, "%" PRIu64, r->cpu_burst) < 0)
    return -1;
  if (r->has_cpu_idle && writef(d, "cpu.idle", err, "%" PRId64, r->cpu_idle) < 0)
    return -1;
  return 0;
}

static int v2_io(const struct cgroup_dir *d, const struct cgroup_resources *r,
                 struct berth_err **err)
{
  if (r->has_blkio_weight) {
    const char *f = has_file(d, "io.bfq.weight") ? "io.bfq.weight" : "io.weight";
    uint64_t w =
        strcmp(f, "io.weight") == 0 ? cgroup_blkio_to_io_weight(r->blkio_weight) : r->blkio_weight;
    if (writef(d, f, err, "%" PRIu64, w) < 0)
      return -1;
  }
  for (size_t i = 0; i < r->n_weight_devices; i++) {
    const struct cgroup_weight_device *w = &r->weight_devices[i];
    if (w->has_weight && writef(d, "io.weight", err, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major,
                                w->minor, cgroup_blkio_to_io_weight(w->weight)) < 0)
      return -1;
  }
  cleanup_free char *lines = cgroup_io_max_lines(r);
  for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    if (cgroup_write(d, "io.max", l, err) < 0)
      return -1;
  return 0;
}

static int hugetlb_apply(const struct cgroup_dir *d, const struct cgroup_resources *r,
                         struct berth_err **err)
{
  for (size_t i = 0; i < r->n_hugepages; i++) {
    char file[64];
    snprintf(file, sizeof(file), d->v2 ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes",
             r->hugepages[i].pagesize);
    if (!has_file(d, file))
      return berth_err_set(err, ENOTSUP, "linux.resources.hugepageLimits[%zu]: no %s here", i,
                           file);
    if (writef(d, file, err, "%" PRIu64, r->hugepages[i].limit) < 0)
      return -1;
  }
  return 0;
}

static int v2_devices(const struct cgroup_dir *d, const struct cgroup_resources *r,
                      struct berth_err **err)
{
  if (r->n_devices == 0)
    return 0;
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  if (cgroup_devices_bpf_build(r->devices, r->n_devices, &prog, &n, err) < 0)
    return -1;
  cleanup_close int fd = open(d->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  int ret = fd < 0 ? berth_err_sys(err, "cgroup: open %s", d->dir)
                   : cgroup_devices_bpf_attach(fd, prog, n, err);
  free(prog);
  return ret;
}

static int unified_apply(const struct cgroup_dir *d, const struct cgroup_resources *r,
                         struct berth_err **err)
{
  for (size_t i = 0; i < r->n_unified; i++) {
    if (!has_file(d, r->unified[i].key))
      return berth_err_set(err, ENOENT, "linux.resources.unified[\"%s\"]: no such file in %s",
                           r->unified[i].key, d->dir);
    if (cgroup_write(d, r->unified[i].key, r->unified[i].value, err) < 0)
      return -1;
  }
  return 0;
}

int cgroup_apply(const struct cgroup *cg, const struct cgroup_resources *r, struct berth_err **err)
{
  const struct cgroup_dir *v2 = cgroup_find(cg, "", true);
  if (cg->layout == CGROUP_LAYOUT_V2) {
    return v2_memory(v2, r, err) < 0 || v2_cpu(v2, r, err) < 0 || cpuset_apply(v2, r, err) < 0 ||
                   pids_apply(v2, r, err) < 0 || v2_io(v2, r, err) < 0 ||
                   hugetlb_apply(v2, r, err) < 0 || v2_devices(v2, r, err) < 0 ||
                   unified_apply(v2, r, err) < 0
               ? -1
               : 0;
  }
  /* v1, or hybrid: v1 controllers, plus what only the v2 mount has here
   * (hugetlb on this kind of host) and the unified map. */
  const struct cgroup_dir *huge = cgroup_find(cg, "hugetlb", false);
  if (huge == NULL)
    huge = v2;
  if (r->n_hugepages && huge == NULL)
    return berth_err_set(err, ENOTSUP, "linux.resources.hugepageLimits: no hugetlb controller");
  return v1_memory(cg, r, err) < 0 || v1_cpu(cg, r, err) < 0 ||
                 cpuset_apply(cgroup_find(cg, "cpuset", false), r, err) < 0 ||
                 pids_apply(cgroup_find(cg, "pids", false), r, err) < 0 ||
                 v1_blkio(cg, r, err) < 0 || (r->n_hugepages && hugetlb_apply(huge, r, err) < 0) ||
                 v1_network(cg, r, err) < 0 || v1_devices(cg, r, err) < 0 ||
                 (v2 && unified_apply(v2, r, err) < 0)
             ? -1
             : 0;
}
