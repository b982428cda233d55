/* Usage figures for `events`, shaped like runc's so tools reading runc's
 * output read ours: cpu, memory, pids, blkio. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t read_u64(const struct cgroup_dir *d, const char *file)
{
  char buf[64];
  if (d == NULL || cgroup_read(d, file, buf, sizeof(buf)) < 0)
    return 0;
  if (strncmp(buf, "max", 3) == 0)
    return UINT64_MAX;
  return strtoull(buf, NULL, 10);
}

/* "key value" lines (cpu.stat, memory.stat, memory.events, ...) */
static uint64_t keyed(const char *text, const char *key)
{
  size_t l = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, key, l) == 0 && p[l] == ' ')
      return strtoull(p + l + 1, NULL, 10);
  return 0;
}

static json_t *keyed_map(const char *text)
{
  json_t *o = json_object();
  char *copy = strdup(text);
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *sp = strchr(line, ' ');
    if (sp == NULL)
      continue;
    *sp = '\0';
    json_object_set_new(o, line, json_integer((json_int_t)strtoull(sp + 1, NULL, 10)));
  }
  free(copy);
  return o;
}

static json_t *jint(uint64_t v)
{
  return json_integer(v == UINT64_MAX ? (json_int_t)-1 : (json_int_t)v);
}

static json_t *cpu_v1(const struct cgroup *cg)
{
  const struct cgroup_dir *acct = cgroup_find(cg, "cpuacct", false);
  const struct cgroup_dir *cpu = cgroup_find(cg, "cpu", false);
  json_t *usage = json_object();
  json_object_set_new(usage, "total", jint(read_u64(acct, "cpuacct.usage")));
  char buf[4096] = "";
  json_t *percpu = json_array();
  if (acct && cgroup_read(acct, "cpuacct.usage_percpu", buf, sizeof(buf)) == 0)
    for (char *s = buf, *end; *s && *s != '\n'; s = end) {
      uint64_t v = strtoull(s, &end, 10);
      if (end == s)
        break;
      json_array_append_new(percpu, jint(v));
    }
  json_object_set_new(usage, "percpu", percpu);
  /* cpuacct.stat counts USER_HZ (100/s) ticks; runc reports nanoseconds. */
  if (acct)
    cgroup_read(acct, "cpuacct.stat", buf, sizeof(buf));
  json_object_set_new(usage, "user", jint(keyed(buf, "user") * 10000000ull));
  json_object_set_new(usage, "kernel", jint(keyed(buf, "system") * 10000000ull));
  buf[0] = '\0';
  if (cpu)
    cgroup_read(cpu, "cpu.stat", buf, sizeof(buf));
  json_t *thr = json_pack("{s:o, s:o, s:o}", "periods", jint(keyed(buf, "nr_periods")),
                          "throttledPeriods", jint(keyed(buf, "nr_throttled")), "throttledTime",
                          jint(keyed(buf, "throttled_time")));
  return json_pack("{s:o, s:o}", "usage", usage, "throttling", thr);
}

static json_t *cpu_v2(const struct cgroup_dir *d)
{
  char buf[1024] = "";
  cgroup_read(d, "cpu.stat", buf, sizeof(buf));
  json_t *usage = json_pack("{s:o, s:o, s:o}", "total", jint(keyed(buf, "usage_usec") * 1000),
                            "user", jint(keyed(buf, "user_usec") * 1000), "kernel",
                            jint(keyed(buf, "system_usec") * 1000));
  json_t *thr = json_pack("{s:o, s:o, s:o}", "periods", jint(keyed(buf, "nr_periods")),
                          "throttledPeriods", jint(keyed(buf, "nr_throttled")), "throttledTime",
                          jint(keyed(buf, "throttled_usec") * 1000));
  return json_pack("{s:o, s:o}", "usage", usage, "throttling", thr);
}

static json_t *memory_stats(const struct cgroup_dir *d)
{
  char buf[8192] = "";
  bool v2 = d->v2;
  cgroup_read(d, "memory.stat", buf, sizeof(buf));
  json_t *usage;
  json_t *swap;
  if (v2) {
    char ev[512] = "";
    cgroup_read(d, "memory.events", ev, sizeof(ev));
    usage = json_pack("{s:o, s:o, s:o, s:o}", "usage", jint(read_u64(d, "memory.current")), "max",
                      jint(read_u64(d, "memory.peak")), "limit", jint(read_u64(d, "memory.max")),
                      "failcnt", jint(keyed(ev, "max")));
    swap = json_pack("{s:o, s:o}", "usage", jint(read_u64(d, "memory.swap.current")), "limit",
                     jint(read_u64(d, "memory.swap.max")));
  } else {
    usage = json_pack("{s:o, s:o, s:o, s:o}", "usage", jint(read_u64(d, "memory.usage_in_bytes")),
                      "max", jint(read_u64(d, "memory.max_usage_in_bytes")), "limit",
                      jint(read_u64(d, "memory.limit_in_bytes")), "failcnt",
                      jint(read_u64(d, "memory.failcnt")));
    swap = json_pack("{s:o, s:o}", "usage", jint(read_u64(d, "memory.memsw.usage_in_bytes")),
                     "limit", jint(read_u64(d, "memory.memsw.limit_in_bytes")));
  }
  return json_pack("{s:o, s:o, s:o, s:o}", "cache", jint(keyed(buf, v2 ? "file" : "cache")),
                   "usage", usage, "swap", swap, "raw", keyed_map(buf));
}

static json_t *blkio_entry(unsigned long maj, unsigned long min, const char *op, uint64_t v)
{
  return json_pack("{s:I, s:I, s:s, s:I}", "major", (json_int_t)maj, "minor", (json_int_t)min, "op",
                   op, "value", (json_int_t)v);
}

/* v1 "8:0 Read 4096" lines; v2 "8:0 rbytes=.. wbytes=.." lines. */
static json_t *blkio_stats(const struct cgroup_dir *d)
{
  char buf[8192] = "";
  json_t *a = json_array();
  if (d == NULL)
    return json_pack("{s:o}", "ioServiceBytesRecursive", a);
  cgroup_read(d, d->v2 ? "io.stat" : "blkio.throttle.io_service_bytes_recursive", buf, sizeof(buf));
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *p;
    unsigned long maj = strtoul(line, &p, 10), min;
    if (*p != ':')
      continue;
    min = strtoul(p + 1, &p, 10);
    if (*p != ' ')
      continue;
    char *rest = p + 1;
    if (!d->v2) {
      /* "Read 4096" */
      char *sp = strchr(rest, ' ');
      if (sp == NULL)
        continue;
      *sp = '\0';
      json_array_append_new(a, blkio_entry(maj, min, rest, strtoull(sp + 1, NULL, 10)));
      continue;
    }
    static const char *const keys[][2] = {{"rbytes=", "Read"}, {"wbytes=", "Write"}};
    for (size_t k = 0; k < 2; k++) {
      const char *v = strstr(rest, keys[k][0]);
      if (v)
        json_array_append_new(
            a, blkio_entry(maj, min, keys[k][1], strtoull(v + strlen(keys[k][0]), NULL, 10)));
    }
  }
  return json_pack("{s:o}", "ioServiceBytesRecursive", a);
}

json_t *cgroup_stats(const struct cgroup *cg)
{
  const struct cgroup_dir *v2 = cgroup_find(cg, "", true);
  bool pure = cg->layout == CGROUP_LAYOUT_V2;
  const struct cgroup_dir *mem = pure ? v2 : cgroup_find(cg, "memory", false);
  const struct cgroup_dir *pids = pure ? v2 : cgroup_find(cg, "pids", false);
  json_t *o = json_object();
  json_object_set_new(o, "cpu", pure ? cpu_v2(v2) : cpu_v1(cg));
  if (mem)
    json_object_set_new(o, "memory", memory_stats(mem));
  if (pids)
    json_object_set_new(o, "pids",
                        json_pack("{s:o, s:o}", "current", jint(read_u64(pids, "pids.current")),
                                  "limit", jint(read_u64(pids, "pids.max"))));
  json_object_set_new(o, "blkio", blkio_stats(pure ? v2 : cgroup_find(cg, "blkio", false)));
  return o;
}

uint64_t cgroup_oom_kills(const struct cgroup *cg)
{
  char buf[512] = "";
  const struct cgroup_dir *d = cgroup_find(cg, "memory", false);
  if (d)
    cgroup_read(d, "memory.oom_control", buf, sizeof(buf));
  else if ((d = cgroup_find(cg, "", true)) != NULL)
    cgroup_read(d, "memory.events", buf, sizeof(buf));
  return keyed(buf, "oom_kill");
}

int cgroup_pids_counts(const struct cgroup *cg, uint64_t *current, uint64_t *peak)
{
  const struct cgroup_dir *d =
      cg->layout == CGROUP_LAYOUT_V2 ? cgroup_find(cg, "", true) : cgroup_find(cg, "pids", false);
  char buf[32];
  *current = *peak = 0;
  if (d == NULL || cgroup_read(d, "pids.current", buf, sizeof(buf)) < 0)
    return -1;
  *current = strtoull(buf, NULL, 10);
  if (cgroup_read(d, "pids.peak", buf, sizeof(buf)) == 0)
    *peak = strtoull(buf, NULL, 10);
  return 0;
}
