#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

enum {
  OPT_RESOURCES = 'r',
  OPT_BLKIO_WEIGHT = 256,
  OPT_CPU_PERIOD,
  OPT_CPU_QUOTA,
  OPT_CPU_SHARES,
  OPT_CPU_RT_PERIOD,
  OPT_CPU_RT_RUNTIME,
  OPT_CPUSET_CPUS,
  OPT_CPUSET_MEMS,
  OPT_MEMORY,
  OPT_MEMORY_RESERVATION,
  OPT_MEMORY_SWAP,
  OPT_KERNEL_MEMORY,
  OPT_KERNEL_MEMORY_TCP,
  OPT_PIDS_LIMIT,
};

static const char *resources_file;
static json_t *flags; /* linux.resources built from the flags */

/* "-1", "1048576", "512k", "32m", "1g" (binary multiples, as runc/docker). */
static int parse_size(const char *flag, const char *s, json_int_t *out)
{
  if (strcmp(s, "-1") == 0) {
    *out = -1;
    return -1;
  }
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0)
    return cmd_usage_error(&verb_update, "%s: invalid size '%s'", flag, s);
  static const char units[] = "bkmgt";
  double mult = 1;
  if (*end) {
    const char *u = strchr(units, tolower((unsigned char)*end));
    if (u == NULL || (end[1] && !(tolower((unsigned char)end[1]) == 'b' && end[2] == '\0')))
      return cmd_usage_error(&verb_update, "%s: invalid size '%s'", flag, s);
    for (const char *p = units; p < u; p++)
      mult *= 1024;
  }
  *out = (json_int_t)(v * mult);
  return -1;
}

static int parse_int(const char *flag, const char *s, json_int_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return cmd_usage_error(&verb_update, "%s: invalid number '%s'", flag, s);
  *out = v;
  return -1;
}

static void set(const char *group, const char *key, json_t *v)
{
  json_t *g2 = json_object_get(flags, group);
  if (g2 == NULL) {
    g2 = json_object();
    json_object_set_new(flags, group, g2);
  }
  json_object_set_new(g2, key, v);
}

static int on_opt(int opt, const char *arg)
{
  static const struct {
    const char *flag, *group, *key;
    int opt;
    enum { NUM, SIZE, STR } kind;
  } map[] = {
      {"--blkio-weight", "blockIO", "weight", OPT_BLKIO_WEIGHT, NUM},
      {"--cpu-period", "cpu", "period", OPT_CPU_PERIOD, NUM},
      {"--cpu-quota", "cpu", "quota", OPT_CPU_QUOTA, NUM},
      {"--cpu-shares", "cpu", "shares", OPT_CPU_SHARES, NUM},
      {"--cpu-rt-period", "cpu", "realtimePeriod", OPT_CPU_RT_PERIOD, NUM},
      {"--cpu-rt-runtime", "cpu", "realtimeRuntime", OPT_CPU_RT_RUNTIME, NUM},
      {"--cpuset-cpus", "cpu", "cpus", OPT_CPUSET_CPUS, STR},
      {"--cpuset-mems", "cpu", "mems", OPT_CPUSET_MEMS, STR},
      {"--memory", "memory", "limit", OPT_MEMORY, SIZE},
      {"--memory-reservation", "memory", "reservation", OPT_MEMORY_RESERVATION, SIZE},
      {"--memory-swap", "memory", "swap", OPT_MEMORY_SWAP, SIZE},
      {"--kernel-memory", "memory", "kernel", OPT_KERNEL_MEMORY, SIZE},
      {"--kernel-memory-tcp", "memory", "kernelTCP", OPT_KERNEL_MEMORY_TCP, SIZE},
      {"--pids-limit", "pids", "limit", OPT_PIDS_LIMIT, NUM},
  };
  if (opt == OPT_RESOURCES) {
    resources_file = arg;
    return -1;
  }
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    if (map[i].opt != opt)
      continue;
    json_int_t v = 0;
    int r = map[i].kind == STR    ? -1
            : map[i].kind == SIZE ? parse_size(map[i].flag, arg, &v)
                                  : parse_int(map[i].flag, arg, &v);
    if (r >= 0)
      return r;
    set(map[i].group, map[i].key, map[i].kind == STR ? json_string(arg) : json_integer(v));
    return -1;
  }
  return cmd_usage_error(&verb_update, "unhandled option");
}

/* The --resources document, with the flags laid over it. */
static json_t *resources_load(struct berth_err **err)
{
  json_t *base;
  if (resources_file) {
    json_error_t jerr;
    FILE *f = strcmp(resources_file, "-") == 0 ? stdin : fopen(resources_file, "re");
    if (f == NULL) {
      berth_err_sys(err, "update: --resources %s", resources_file);
      return NULL;
    }
    base = json_loadf(f, 0, &jerr);
    if (f != stdin)
      fclose(f);
    if (base == NULL || !json_is_object(base)) {
      json_decref(base);
      berth_err_set(err, 0, "update: --resources %s: invalid JSON at line %d: %s", resources_file,
                    jerr.line, jerr.text);
      return NULL;
    }
  } else {
    base = json_object();
  }
  const char *group;
  json_t *fields;
  json_object_foreach (flags, group, fields) {
    json_t *dst = json_object_get(base, group);
    if (!json_is_object(dst)) {
      dst = json_object();
      json_object_set_new(base, group, dst);
    }
    json_object_update(dst, fields);
  }
  return base;
}

static int run_update(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"resources", required_argument, NULL, OPT_RESOURCES},
      {"blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT},
      {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
      {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
      {"cpu-share", required_argument, NULL, OPT_CPU_SHARES},
      {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
      {"cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD},
      {"cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME},
      {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
      {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
      {"memory", required_argument, NULL, OPT_MEMORY},
      {"memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION},
      {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
      {"kernel-memory", required_argument, NULL, OPT_KERNEL_MEMORY},
      {"kernel-memory-tcp", required_argument, NULL, OPT_KERNEL_MEMORY_TCP},
      {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
      {0},
  };
  flags = json_object();
  int r = cmd_getopt(&verb_update, argc, argv, "r:", longopts, on_opt);
  if (r < 0)
    r = cmd_want_args(&verb_update, argc, argv, 1, 1);
  if (r >= 0) {
    json_decref(flags);
    return r;
  }
  struct berth_err *err = NULL;
  json_t *res = resources_load(&err);
  json_decref(flags);
  if (res == NULL)
    return cmd_fail(&err);
  r = runtime_update(g.root, argv[optind], res, &err);
  json_decref(res);
  return r < 0 ? cmd_fail(&err) : 0;
}

const struct verb verb_update = {
    "update",
    "change a container's resource limits",
    "Usage: berth update [options] ID\n\n"
    "Changes the cgroup limits of container ID while it runs.\n\n"
    "Options:\n"
    "  -r, --resources FILE      linux.resources JSON from FILE ('-': stdin); flags override\n"
    "  --memory SIZE             memory limit (-1 unlimited; k, m, g suffixes)\n"
    "  --memory-reservation SIZE soft limit\n"
    "  --memory-swap SIZE        memory+swap limit\n"
    "  --cpu-shares N            relative weight (v2: converted to cpu.weight)\n"
    "  --cpu-quota N             microseconds per period (-1 unlimited)\n"
    "  --cpu-period N            period in microseconds\n"
    "  --cpu-rt-period N         real-time period in microseconds (v1)\n"
    "  --cpu-rt-runtime N        real-time runtime per period (v1; -1 unlimited)\n"
    "  --cpuset-cpus LIST        e.g. 0-1\n"
    "  --cpuset-mems LIST        e.g. 0\n"
    "  --pids-limit N            max tasks (-1 or 0 unlimited)\n"
    "  --blkio-weight N          10-1000\n",
    run_update,
};
