/* Pure conversions from the OCI linux.resources values (which are
 * cgroup v1 shaped) to what the cgroup files expect. No I/O. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fileutil.h"
#include "cgroup.h"

/* v1 cpu.shares is accepted by the kernel in [2, 262144]; v2 cpu.weight in
 * [1, 10000]. The mapping is runc's linear one, so that the same config
 * gives the same weight under both runtimes (1024, the v1 default, maps to
 * 39, not to the v2 default 100). */
#define SHARES_MIN 2
#define SHARES_MAX 262144
#define BLKIO_WEIGHT_MIN 10
#define BLKIO_WEIGHT_MAX 1000

/* The kernel's default CFS period, in microseconds. */
#define CPU_PERIOD_DEFAULT 100000

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
  if (shares == 0)
    return 0;
  if (shares < SHARES_MIN)
    shares = SHARES_MIN;
  if (shares > SHARES_MAX)
    shares = SHARES_MAX;
  return 1 + ((shares - SHARES_MIN) * 9999) / (SHARES_MAX - SHARES_MIN);
}

uint64_t cgroup_blkio_to_io_weight(uint16_t weight)
{
  uint64_t w = weight;

  if (w == 0)
    return 0;
  if (w < BLKIO_WEIGHT_MIN)
    w = BLKIO_WEIGHT_MIN;
  if (w > BLKIO_WEIGHT_MAX)
    w = BLKIO_WEIGHT_MAX;
  return 1 + ((w - BLKIO_WEIGHT_MIN) * 9999) / (BLKIO_WEIGHT_MAX - BLKIO_WEIGHT_MIN);
}

static int format_into(char *buf, size_t len, const char *s, struct berth_err **err)
{
  if ((size_t)snprintf(buf, len, "%s", s) >= len)
    return berth_err_set(err, 0, "linux.resources.memory.swap: buffer too small");
  return 0;
}

/* v1's memory.memsw.limit_in_bytes (what the spec's swap mirrors) bounds
 * memory+swap; v2's memory.swap.max bounds swap alone, so the value to
 * write is the difference. Like runc: 0 means "not set" (buf is "" and
 * nothing should be written), except that an unlimited memory limit with
 * swap unset makes swap unlimited too, as v1 would. */
int cgroup_swap_to_v2(int64_t limit, bool has_limit, int64_t swap, char *buf, size_t len,
                      struct berth_err **err)
{
  char num[32];

  if (!has_limit)
    limit = 0;
  if (swap == 0 && limit == -1)
    return format_into(buf, len, "max", err);
  if (swap == 0)
    return format_into(buf, len, "", err);
  if (swap == -1)
    return format_into(buf, len, "max", err);
  if (swap < -1)
    return berth_err_set(err, 0, "linux.resources.memory.swap: invalid value %" PRId64, swap);
  if (limit == 0 || limit == -1)
    return berth_err_set(err, 0, "linux.resources.memory.swap: needs a memory limit");
  if (limit < 0)
    return berth_err_set(err, 0, "linux.resources.memory.limit: invalid value %" PRId64, limit);
  if (swap < limit)
    return berth_err_set(err, 0,
                         "linux.resources.memory.swap: must be >= memory.limit (it is limit+swap)");
  snprintf(num, sizeof(num), "%" PRId64, swap - limit);
  return format_into(buf, len, num, err);
}

void cgroup_cpu_max(bool has_quota, int64_t quota, bool has_period, uint64_t period, char *buf,
                    size_t len)
{
  uint64_t p = has_period && period != 0 ? period : CPU_PERIOD_DEFAULT;

  if (has_quota && quota > 0)
    snprintf(buf, len, "%" PRId64 " %" PRIu64, quota, p);
  else
    snprintf(buf, len, "max %" PRIu64, p);
}

/* ---- io.max ---- */

/* One io.max line in the making: the kernel takes any subset of the four
 * keys per device and leaves the others as they were. */
struct io_max_dev {
  int64_t major, minor;
  bool has[4];
  uint64_t rate[4];
};

static const char *const io_max_keys[4] = {"rbps", "wbps", "riops", "wiops"};

static struct io_max_dev *io_max_find_or_add(struct io_max_dev *devs, size_t *n, int64_t major,
                                             int64_t minor)
{
  for (size_t i = 0; i < *n; i++)
    if (devs[i].major == major && devs[i].minor == minor)
      return &devs[i];
  devs[*n].major = major;
  devs[*n].minor = minor;
  return &devs[(*n)++];
}

static void io_max_write_line(FILE *f, const struct io_max_dev *d)
{
  fprintf(f, "%" PRId64 ":%" PRId64, d->major, d->minor);
  for (int k = 0; k < 4; k++) {
    if (!d->has[k])
      continue;
    /* A rate of 0 would throttle the device to a halt; runc (and the
     * spec's "0 = unset" reading) write "max", which lifts the limit. */
    if (d->rate[k] == 0)
      fprintf(f, " %s=max", io_max_keys[k]);
    else
      fprintf(f, " %s=%" PRIu64, io_max_keys[k], d->rate[k]);
  }
  fputc('\n', f);
}

char *cgroup_io_max_lines(const struct cgroup_resources *r)
{
  size_t total = 0, n = 0, size = 0;
  char *out = NULL;

  for (int k = 0; k < 4; k++)
    total += r->n_throttle[k];
  struct io_max_dev *devs = xcalloc(total, sizeof(*devs));
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < r->n_throttle[k]; i++) {
      const struct cgroup_throttle *t = &r->throttle[k][i];
      struct io_max_dev *d = io_max_find_or_add(devs, &n, t->major, t->minor);
      d->has[k] = true;
      d->rate[k] = t->rate;
    }
  }
  FILE *f = open_memstream(&out, &size);
  if (f == NULL)
    abort(); /* only fails on ENOMEM, like xasprintf */
  for (size_t i = 0; i < n; i++)
    io_max_write_line(f, &devs[i]);
  if (fclose(f) != 0)
    abort();
  free(devs);
  return out;
}

/* ---- net_prio ---- */

void cgroup_ifpriomap_line(const struct cgroup_net_prio *p, char *buf, size_t len)
{
  snprintf(buf, len, "%s %" PRIu32, p->ifname, p->priority);
}

/* ---- devices ---- */

static void format_dev_number(char *buf, size_t len, int64_t v)
{
  if (v < 0)
    snprintf(buf, len, "*");
  else
    snprintf(buf, len, "%" PRId64, v);
}

void cgroup_device_rule_line(const struct cgroup_device_rule *d, char *buf, size_t len)
{
  char major[24], minor[24];

  /* The v1 controller ignores numbers and access for "a": it switches the
   * default and drops all exceptions. Write it the canonical way. */
  if (d->type == 'a') {
    snprintf(buf, len, "a *:* rwm");
    return;
  }
  format_dev_number(major, sizeof(major), d->major);
  format_dev_number(minor, sizeof(minor), d->minor);
  snprintf(buf, len, "%c %s:%s %s", d->type, major, minor, d->access[0] ? d->access : "rwm");
}
