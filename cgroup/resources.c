/* linux.resources -> struct cgroup_resources. Pure logic: validation errors
 * name the JSON path; nothing here touches the kernel. The same parser
 * serves config.json and `berth update --resources`. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fileutil.h"
#include "../common/jsonfield.h"
#include "../common/warn.h"
#include "cgroup.h"

struct ctx {
  const char *base; /* "linux.resources" */
  char prefix[128]; /* base + "." */
  struct berth_err **err;
};

static int bad(struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct ctx *c, const char *field, const char *fmt, ...)
{
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return berth_err_set(c->err, 0, "%s.%s: %s", c->base, field, what);
}

/* Integer field: absent/null -> 0 (has stays false); wrong type or range -> error. */
static int get_i64(struct ctx *c, json_t *o, const char *key, const char *field, int64_t min,
                   int64_t max, bool *has, int64_t *out)
{
  long long n = 0;
  int r = jf_int(o, key, c->prefix, field, min, max, &n, c->err);
  if (r <= 0)
    return r;
  *out = n;
  if (has)
    *has = true;
  return 0;
}

static int get_obj(struct ctx *c, json_t *o, const char *key, json_t **out)
{
  *out = NULL;
  return jf_object(o, key, c->prefix, key, out, c->err);
}

static int get_arr(struct ctx *c, json_t *o, const char *key, const char *field, json_t **out)
{
  *out = NULL;
  return jf_array(o, key, c->prefix, field, out, c->err);
}

/* A value that must be -1 (unlimited) or a positive byte count; 0 = unset. */
static int get_limit(struct ctx *c, json_t *o, const char *key, const char *field, bool *has,
                     int64_t *out)
{
  int64_t v = 0;
  bool h = false;
  if (get_i64(c, o, key, field, INT64_MIN, INT64_MAX, &h, &v) < 0)
    return -1;
  if (!h)
    return 0;
  if (v < -1)
    return bad(c, field, "must be -1 (unlimited) or a positive number, got %lld", (long long)v);
  if (v != 0) {
    *out = v;
    *has = true;
  }
  return 0;
}

static int parse_memory(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *m;
  if (get_obj(c, res, "memory", &m) < 0)
    return -1;
  if (m == NULL)
    return 0;
  if (get_limit(c, m, "limit", "memory.limit", &r->has_mem_limit, &r->mem_limit) < 0 ||
      get_limit(c, m, "reservation", "memory.reservation", &r->has_mem_reservation,
                &r->mem_reservation) < 0 ||
      get_limit(c, m, "swap", "memory.swap", &r->has_mem_swap, &r->mem_swap) < 0)
    return -1;
  int64_t v = 0;
  if (get_i64(c, m, "swappiness", "memory.swappiness", 0, 100, &r->has_mem_swappiness, &v) < 0)
    return -1;
  r->mem_swappiness = (uint64_t)v;
  json_t *oom = json_object_get(m, "disableOOMKiller");
  if (oom && !json_is_null(oom)) {
    if (!json_is_boolean(oom))
      return bad(c, "memory.disableOOMKiller", "must be a boolean");
    r->disable_oom_killer = json_is_true(oom);
  }
  static const char *const gone[] = {"kernel", "kernelTCP"};
  for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
    int64_t k = 0;
    bool has = false;
    char field[64];
    snprintf(field, sizeof(field), "memory.%s", gone[i]);
    if (get_i64(c, m, gone[i], field, INT64_MIN, INT64_MAX, &has, &k) < 0)
      return -1;
    /* Linux 6.x has no such files; runc ignores them too. */
    if (has && k != 0)
      berth_warn("%s.%s: ignored: kernel memory limits were removed from Linux", c->base, field);
  }
  if (r->has_mem_swap && r->mem_swap > 0 && r->has_mem_limit && r->mem_limit > 0 &&
      r->mem_swap < r->mem_limit)
    return bad(c, "memory.swap", "must be >= memory.limit (it limits memory+swap)");
  return 0;
}

/* "0-3,5,7-8": syntax only; which CPUs exist is checked when applying. */
static int cpuset_list_ok(const char *s)
{
  if (*s == '\0')
    return 0;
  while (*s) {
    if (!isdigit((unsigned char)*s))
      return 0;
    char *end;
    unsigned long a = strtoul(s, &end, 10);
    s = end;
    if (*s == '-') {
      s++;
      if (!isdigit((unsigned char)*s))
        return 0;
      unsigned long b = strtoul(s, &end, 10);
      if (b < a)
        return 0;
      s = end;
    }
    if (*s == ',')
      s++;
    else if (*s != '\0')
      return 0;
  }
  return 1;
}

/* Real-time bandwidth, as v1's cpu.rt_period_us and cpu.rt_runtime_us take
 * it: a period of 1 us .. 1 s (the kernel's bounds), a runtime of -1 (no
 * limit) or up to the period. 0 means unset, as in runc. */
static int parse_cpu_rt(struct ctx *c, json_t *cpu, struct cgroup_resources *r)
{
  int64_t v = 0;
  if (get_i64(c, cpu, "realtimePeriod", "cpu.realtimePeriod", 0, 1000000, &r->has_cpu_rt_period,
              &v) < 0)
    return -1;
  r->cpu_rt_period = (uint64_t)v;
  r->has_cpu_rt_period = r->has_cpu_rt_period && v != 0;
  if (get_i64(c, cpu, "realtimeRuntime", "cpu.realtimeRuntime", -1, 1000000, &r->has_cpu_rt_runtime,
              &r->cpu_rt_runtime) < 0)
    return -1;
  r->has_cpu_rt_runtime = r->has_cpu_rt_runtime && r->cpu_rt_runtime != 0;
  if (r->has_cpu_rt_runtime && r->has_cpu_rt_period && r->cpu_rt_runtime > (int64_t)v)
    return bad(c, "cpu.realtimeRuntime", "must not exceed cpu.realtimePeriod (%lld > %lld)",
               (long long)r->cpu_rt_runtime, (long long)v);
  return 0;
}

static int parse_cpu(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *cpu;
  if (get_obj(c, res, "cpu", &cpu) < 0)
    return -1;
  if (cpu == NULL)
    return 0;
  int64_t v = 0;
  if (get_i64(c, cpu, "shares", "cpu.shares", 0, 262144, &r->has_cpu_shares, &v) < 0)
    return -1;
  r->cpu_shares = (uint64_t)v;
  if (r->has_cpu_shares && v == 0)
    r->has_cpu_shares = false;
  if (get_i64(c, cpu, "quota", "cpu.quota", -1, INT64_MAX, &r->has_cpu_quota, &r->cpu_quota) < 0)
    return -1;
  if (r->has_cpu_quota && r->cpu_quota == 0)
    r->has_cpu_quota = false;
  if (r->has_cpu_quota && r->cpu_quota > 0 && r->cpu_quota < 1000)
    return bad(c, "cpu.quota", "must be -1 or at least 1000 (microseconds), got %lld",
               (long long)r->cpu_quota);
  v = 0;
  if (get_i64(c, cpu, "period", "cpu.period", 0, 1000000, &r->has_cpu_period, &v) < 0)
    return -1;
  if (r->has_cpu_period && v == 0)
    r->has_cpu_period = false;
  else if (r->has_cpu_period && v < 1000)
    return bad(c, "cpu.period", "must be between 1000 and 1000000 (microseconds)");
  r->cpu_period = (uint64_t)v;
  v = 0;
  if (get_i64(c, cpu, "burst", "cpu.burst", 0, INT64_MAX, &r->has_cpu_burst, &v) < 0)
    return -1;
  r->cpu_burst = (uint64_t)v;
  if (get_i64(c, cpu, "idle", "cpu.idle", 0, 1, &r->has_cpu_idle, &r->cpu_idle) < 0)
    return -1;
  if (parse_cpu_rt(c, cpu, r) < 0)
    return -1;
  static const char *const sets[] = {"cpus", "mems"};
  for (size_t i = 0; i < 2; i++) {
    json_t *x = json_object_get(cpu, sets[i]);
    if (x == NULL || json_is_null(x) || (json_is_string(x) && json_string_length(x) == 0))
      continue;
    char field[64];
    snprintf(field, sizeof(field), "cpu.%s", sets[i]);
    if (!json_is_string(x) || !cpuset_list_ok(json_string_value(x)))
      return bad(c, field, "must be a list like \"0-3,5\"");
    char **dst = i == 0 ? &r->cpus : &r->mems;
    free(*dst);
    *dst = xstrdup(json_string_value(x));
  }
  return 0;
}

static int parse_pids(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *p;
  if (get_obj(c, res, "pids", &p) < 0)
    return -1;
  if (p == NULL)
    return 0;
  return get_i64(c, p, "limit", "pids.limit", INT64_MIN, INT64_MAX, &r->has_pids_limit,
                 &r->pids_limit);
}

static int parse_dev_numbers(struct ctx *c, json_t *e, const char *field, int64_t *major,
                             int64_t *minor)
{
  char f[128];
  bool has = false;
  snprintf(f, sizeof(f), "%s.major", field);
  if (get_i64(c, e, "major", f, 0, 0xfff, &has, major) < 0)
    return -1;
  if (!has)
    return bad(c, f, "is required");
  has = false;
  snprintf(f, sizeof(f), "%s.minor", field);
  if (get_i64(c, e, "minor", f, 0, 0xfffff, &has, minor) < 0)
    return -1;
  if (!has)
    return bad(c, f, "is required");
  return 0;
}

static int parse_throttle(struct ctx *c, json_t *blk, const char *key, int which,
                          struct cgroup_resources *r)
{
  char field[96];
  snprintf(field, sizeof(field), "blockIO.%s", key);
  json_t *arr;
  if (get_arr(c, blk, key, field, &arr) < 0)
    return -1;
  r->throttle[which] = xcalloc(json_array_size(arr), sizeof(struct cgroup_throttle));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char f[128];
    snprintf(f, sizeof(f), "%s[%zu]", field, i);
    if (!json_is_object(e))
      return bad(c, f, "must be an object");
    struct cgroup_throttle *t = &r->throttle[which][r->n_throttle[which]++];
    if (parse_dev_numbers(c, e, f, &t->major, &t->minor) < 0)
      return -1;
    int64_t rate = 0;
    char rf[160];
    snprintf(rf, sizeof(rf), "%s.rate", f);
    if (get_i64(c, e, "rate", rf, 0, INT64_MAX, NULL, &rate) < 0)
      return -1;
    t->rate = (uint64_t)rate;
  }
  return 0;
}

static int parse_weight(struct ctx *c, json_t *o, const char *key, const char *field, bool *has,
                        uint16_t *out)
{
  int64_t v = 0;
  if (get_i64(c, o, key, field, 0, 1000, has, &v) < 0)
    return -1;
  if (*has && v == 0)
    *has = false;
  else if (*has && v < 10)
    return bad(c, field, "must be between 10 and 1000");
  *out = (uint16_t)v;
  return 0;
}

static int parse_blkio(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *b;
  if (get_obj(c, res, "blockIO", &b) < 0)
    return -1;
  if (b == NULL)
    return 0;
  if (parse_weight(c, b, "weight", "blockIO.weight", &r->has_blkio_weight, &r->blkio_weight) < 0 ||
      parse_weight(c, b, "leafWeight", "blockIO.leafWeight", &r->has_blkio_leaf_weight,
                   &r->blkio_leaf_weight) < 0)
    return -1;
  json_t *arr;
  if (get_arr(c, b, "weightDevice", "blockIO.weightDevice", &arr) < 0)
    return -1;
  r->weight_devices = xcalloc(json_array_size(arr), sizeof(*r->weight_devices));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char f[96], f2[128];
    snprintf(f, sizeof(f), "blockIO.weightDevice[%zu]", i);
    if (!json_is_object(e))
      return bad(c, f, "must be an object");
    struct cgroup_weight_device *w = &r->weight_devices[r->n_weight_devices++];
    if (parse_dev_numbers(c, e, f, &w->major, &w->minor) < 0)
      return -1;
    snprintf(f2, sizeof(f2), "%s.weight", f);
    if (parse_weight(c, e, "weight", f2, &w->has_weight, &w->weight) < 0)
      return -1;
    snprintf(f2, sizeof(f2), "%s.leafWeight", f);
    if (parse_weight(c, e, "leafWeight", f2, &w->has_leaf_weight, &w->leaf_weight) < 0)
      return -1;
  }
  static const char *const keys[4] = {"throttleReadBpsDevice", "throttleWriteBpsDevice",
                                      "throttleReadIOPSDevice", "throttleWriteIOPSDevice"};
  for (int k = 0; k < 4; k++)
    if (parse_throttle(c, b, keys[k], k, r) < 0)
      return -1;
  return 0;
}

static int parse_hugepages(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *arr;
  if (get_arr(c, res, "hugepageLimits", "hugepageLimits", &arr) < 0)
    return -1;
  r->hugepages = xcalloc(json_array_size(arr), sizeof(*r->hugepages));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char f[96], f2[128];
    snprintf(f, sizeof(f), "hugepageLimits[%zu]", i);
    if (!json_is_object(e))
      return bad(c, f, "must be an object");
    json_t *ps = json_object_get(e, "pageSize");
    const char *s = json_string_value(ps);
    char *end = NULL;
    if (s)
      strtoul(s, &end, 10);
    snprintf(f2, sizeof(f2), "%s.pageSize", f);
    if (s == NULL || end == s ||
        (strcmp(end, "KB") != 0 && strcmp(end, "MB") != 0 && strcmp(end, "GB") != 0))
      return bad(c, f2, "must be like \"2MB\" or \"1GB\"");
    int64_t limit = 0;
    snprintf(f2, sizeof(f2), "%s.limit", f);
    if (get_i64(c, e, "limit", f2, 0, INT64_MAX, NULL, &limit) < 0)
      return -1;
    r->hugepages[r->n_hugepages].pagesize = xstrdup(s);
    r->hugepages[r->n_hugepages++].limit = (uint64_t)limit;
  }
  return 0;
}

/* r, w and m in any order, repeats allowed ("mrw", "wr", "rrw"), as runc
 * reads them; stored as the kernel's canonical subset of "rwm". Absent
 * means all three. Empty is refused, as by runc, and so is any other
 * letter: runc drops unknown ones ("rwa" -> "rw") and fails on "a" alone,
 * but a rule that says less than it seems to is a typo to report. */
static int parse_device_access(struct ctx *c, json_t *acc, const char *field, char out[4])
{
  if (acc == NULL || json_is_null(acc)) {
    memcpy(out, "rwm", 4);
    return 0;
  }
  static const char letters[] = "rwm";
  const char *a = json_string_value(acc);
  if (a == NULL)
    return bad(c, field, "must be a string");
  if (a[0] == '\0')
    return bad(c, field, "must not be empty (r, w and m)");
  bool has[3] = {false, false, false};
  for (const char *p = a; *p; p++) {
    const char *at = strchr(letters, *p);
    if (at == NULL)
      return bad(c, field, "must be made of r, w and m, not \"%s\"", a);
    has[at - letters] = true;
  }
  size_t k = 0;
  for (size_t i = 0; i < 3; i++)
    if (has[i])
      out[k++] = letters[i];
  out[k] = '\0';
  return 0;
}

static int parse_devices(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *arr;
  if (get_arr(c, res, "devices", "devices", &arr) < 0)
    return -1;
  r->devices = xcalloc(json_array_size(arr), sizeof(*r->devices));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    char f[96], f2[128];
    snprintf(f, sizeof(f), "devices[%zu]", i);
    if (!json_is_object(e))
      return bad(c, f, "must be an object");
    struct cgroup_device_rule *d = &r->devices[r->n_devices++];
    json_t *allow = json_object_get(e, "allow");
    snprintf(f2, sizeof(f2), "%s.allow", f);
    if (!json_is_boolean(allow))
      return bad(c, f2, "must be a boolean");
    d->allow = json_is_true(allow);
    json_t *type = json_object_get(e, "type");
    const char *t = type && !json_is_null(type) ? json_string_value(type) : "a";
    snprintf(f2, sizeof(f2), "%s.type", f);
    if (t == NULL || strlen(t) != 1 || strchr("acb", t[0]) == NULL)
      return bad(c, f2, "must be \"a\", \"c\" or \"b\"");
    d->type = t[0];
    d->major = d->minor = -1;
    snprintf(f2, sizeof(f2), "%s.major", f);
    if (get_i64(c, e, "major", f2, -1, 0xfff, NULL, &d->major) < 0)
      return -1;
    snprintf(f2, sizeof(f2), "%s.minor", f);
    if (get_i64(c, e, "minor", f2, -1, 0xfffff, NULL, &d->minor) < 0)
      return -1;
    snprintf(f2, sizeof(f2), "%s.access", f);
    if (parse_device_access(c, json_object_get(e, "access"), f2, d->access) < 0)
      return -1;
  }
  return 0;
}

/* An interface name as net_prio.ifpriomap takes it: the kernel's IFNAMSIZ
 * less the NUL, and nothing that would split or escape the "NAME PRIO" line. */
static bool ifname_ok(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isgraph((unsigned char)s[i]) || s[i] == '/' || s[i] == ':')
      return false;
  return true;
}

static int parse_net_prio(struct ctx *c, json_t *e, size_t i, struct cgroup_net_prio *p)
{
  char f[96], f2[128];
  snprintf(f, sizeof(f), "network.priorities[%zu]", i);
  if (!json_is_object(e))
    return bad(c, f, "must be an object");
  const char *name = json_string_value(json_object_get(e, "name"));
  snprintf(f2, sizeof(f2), "%s.name", f);
  if (name == NULL || !ifname_ok(name))
    return bad(c, f2, "must be an interface name (1-15 characters, no blanks, '/' or ':')");
  int64_t prio = 0;
  snprintf(f2, sizeof(f2), "%s.priority", f);
  if (get_i64(c, e, "priority", f2, 0, UINT32_MAX, NULL, &prio) < 0)
    return -1;
  p->ifname = xstrdup(name);
  p->priority = (uint32_t)prio;
  return 0;
}

static int parse_network(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *net;
  if (get_obj(c, res, "network", &net) < 0)
    return -1;
  if (net == NULL)
    return 0;
  int64_t v = 0;
  if (get_i64(c, net, "classID", "network.classID", 0, UINT32_MAX, &r->has_net_classid, &v) < 0)
    return -1;
  r->net_classid = (uint32_t)v;
  json_t *arr;
  if (get_arr(c, net, "priorities", "network.priorities", &arr) < 0)
    return -1;
  r->net_prios = xcalloc(json_array_size(arr), sizeof(*r->net_prios));
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    if (parse_net_prio(c, e, i, &r->net_prios[i]) < 0)
      return -1;
    r->n_net_prios++;
  }
  return 0;
}

static int parse_unified(struct ctx *c, json_t *res, struct cgroup_resources *r)
{
  json_t *u;
  if (get_obj(c, res, "unified", &u) < 0)
    return -1;
  r->unified = xcalloc(json_object_size(u), sizeof(*r->unified));
  const char *key;
  json_t *v;
  json_object_foreach (u, key, v) {
    char f[300];
    snprintf(f, sizeof(f), "unified[\"%s\"]", key);
    if (!json_is_string(v))
      return bad(c, f, "must be a string");
    /* "controller.file" in the container's own directory, nothing else. */
    const char *dot = strchr(key, '.');
    if (dot == NULL || dot == key || strchr(key, '/') || strstr(key, "..") ||
        strncmp(key, "cgroup.", 7) == 0)
      return bad(c, f, "must name a controller file like \"memory.high\"");
    r->unified[r->n_unified].key = xstrdup(key);
    r->unified[r->n_unified++].value = xstrdup(json_string_value(v));
  }
  return 0;
}

int cgroup_resources_parse(json_t *obj, const char *path, struct cgroup_resources *out,
                           struct berth_err **err)
{
  struct ctx c = {.base = path, .err = err};
  snprintf(c.prefix, sizeof(c.prefix), "%s.", path);
  memset(out, 0, sizeof(*out));
  if (obj == NULL || json_is_null(obj))
    return 0;
  if (!json_is_object(obj))
    return berth_err_set(err, 0, "%s: must be an object", path);
  json_t *rdma = json_object_get(obj, "rdma");
  if (rdma && !json_is_null(rdma) && !(json_is_object(rdma) && json_object_size(rdma) == 0))
    return berth_err_set(err, 0, "%s.rdma: not supported yet", path);
  if (parse_memory(&c, obj, out) < 0 || parse_cpu(&c, obj, out) < 0 ||
      parse_pids(&c, obj, out) < 0 || parse_blkio(&c, obj, out) < 0 ||
      parse_hugepages(&c, obj, out) < 0 || parse_devices(&c, obj, out) < 0 ||
      parse_network(&c, obj, out) < 0 || parse_unified(&c, obj, out) < 0) {
    cgroup_resources_free(out);
    return -1;
  }
  return 0;
}

void cgroup_resources_free(struct cgroup_resources *r)
{
  free(r->cpus);
  free(r->mems);
  free(r->weight_devices);
  for (int k = 0; k < 4; k++)
    free(r->throttle[k]);
  for (size_t i = 0; i < r->n_hugepages; i++)
    free(r->hugepages[i].pagesize);
  free(r->hugepages);
  free(r->devices);
  for (size_t i = 0; i < r->n_net_prios; i++)
    free(r->net_prios[i].ifname);
  free(r->net_prios);
  for (size_t i = 0; i < r->n_unified; i++) {
    free(r->unified[i].key);
    free(r->unified[i].value);
  }
  free(r->unified);
  memset(r, 0, sizeof(*r));
}
