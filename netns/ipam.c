/* IPAM: address leases in a directory shared by every berth (and CNI)
 * process of one bridge. Host side, runtime's privileges; every call but
 * ipam_lock runs with dir/lock held (flock), which serialises them.
 *
 * dir/lock        the flock target
 * dir/<address>   one lease: the holder and a newline (inet_ntop name)
 * dir/last-4, -6  the address given last: allocation goes round-robin from
 *                 there, so a deleted container's address is not handed out
 *                 again at once (as CNI host-local does)
 *
 * Nothing in dir is followed if it is a symlink: the lease files are read
 * through O_NOFOLLOW and must be ours (read_file_trusted_at). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

/* An IPv6 /64 has 2^64 addresses: a search gives up after this many probes
 * from the last address given instead of walking the whole pool (IPv4 pools
 * larger than this, /15 and wider, too). */
#define IPAM_MAX_PROBES 65536u
#define LEASE_MAX 4096

static unsigned family_bits(int family)
{
  return family == AF_INET ? 32 : 128;
}

/* ---- address arithmetic ---- */

/* Are all bits of a past len clear (ones false) or set (ones true)? */
static bool host_bits_are(const struct net_prefix *a, unsigned len, bool ones)
{
  for (unsigned bit = len; bit < family_bits(a->family); bit++)
    if (((a->addr[bit / 8] >> (7 - bit % 8)) & 1) != ones)
      return false;
  return true;
}

/* Network, gateway (first host), IPv4 broadcast. For IPv6 the network
 * address is the subnet-router anycast address (RFC 4291 2.6.1). */
static bool addr_reserved(const struct net_prefix *a, const struct net_prefix *subnet)
{
  struct net_prefix gw;
  net_subnet_gateway(subnet, &gw);
  if (memcmp(a->addr, gw.addr, sizeof(a->addr)) == 0 || host_bits_are(a, subnet->len, false))
    return true;
  return a->family == AF_INET && host_bits_are(a, subnet->len, true);
}

static void subnet_network(const struct net_prefix *subnet, struct net_prefix *net)
{
  net_subnet_gateway(subnet, net);
  net->addr[net->family == AF_INET ? 3 : 15] &= (uint8_t)~1u;
}

/* a + 1, back to the subnet's network address past its end. */
static void addr_next(struct net_prefix *a, const struct net_prefix *subnet)
{
  for (int i = a->family == AF_INET ? 3 : 15; i >= 0; i--)
    if (++a->addr[i] != 0)
      break;
  if (!net_prefix_contains(subnet, a))
    subnet_network(subnet, a);
}

static unsigned pool_probes(const struct net_prefix *subnet)
{
  unsigned host_bits = family_bits(subnet->family) - subnet->len;
  return host_bits >= 16 ? IPAM_MAX_PROBES : 1u << host_bits;
}

static const char *addr_text(const struct net_prefix *a, char *buf, size_t n)
{
  return net_prefix_format(a, false, buf, n);
}

/* A lease file's name: an address in its text form. */
static bool lease_name_parse(const char *name, struct net_prefix *a)
{
  memset(a, 0, sizeof(*a));
  if (inet_pton(AF_INET, name, a->addr) == 1)
    a->family = AF_INET;
  else if (inet_pton(AF_INET6, name, a->addr) == 1)
    a->family = AF_INET6;
  else
    return false;
  a->len = family_bits(a->family);
  return true;
}

/* ---- the directory ---- */

static int lease_dir_open(const char *dir, struct berth_err **err)
{
  if (dir[0] != '/')
    return berth_err_set(err, 0, "lease directory \"%s\": not an absolute path", dir);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "open lease directory %s", dir);
  return fd;
}

int ipam_lock(const char *dir, struct berth_err **err)
{
  if (dir[0] != '/')
    return berth_err_set(err, 0, "lease directory \"%s\": not an absolute path", dir);
  if (mkdir_p(dir, 0700, err) < 0)
    return berth_err_wrap(err, "lease directory");
  cleanup_close int dfd = lease_dir_open(dir, err);
  if (dfd < 0)
    return -1;
  cleanup_close int fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_err_sys(err, "open %s/lock", dir);
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return berth_err_sys(err, "lock %s/lock", dir);
  return steal_fd(&fd);
}

enum lease_state { LEASE_FREE, LEASE_HELD, LEASE_FOREIGN };

/* What is at dir/name: nothing, a file of ours (its first line in *text), or
 * something else (a symlink, another owner's file, a fifo): that keeps its
 * address, and is never followed, taken over or removed. */
static int small_file_read(int dfd, const char *name, char **text, struct berth_err **err)
{
  *text = NULL;
  if (read_file_trusted_at(dfd, name, LEASE_MAX, text, err) < 0) {
    int e = (*err)->errnum;
    if (e != ENOENT && e != ELOOP && e != EPERM)
      return berth_err_wrap(err, "lease directory");
    berth_err_free(err);
    return e == ENOENT ? LEASE_FREE : LEASE_FOREIGN;
  }
  (*text)[strcspn(*text, "\n")] = '\0';
  return LEASE_HELD;
}

static int small_file_write(int dfd, const char *name, const char *text, struct berth_err **err)
{
  cleanup_free char *line = xasprintf("%s\n", text);
  if (write_file_atomic_at(dfd, name, line, strlen(line), 0600, err) < 0)
    return berth_err_wrap(err, "lease directory");
  return 0;
}

/* Calls fn for every lease in the directory until fn returns nonzero. */
typedef int lease_fn(int dfd, const char *name, const struct net_prefix *a, void *ctx,
                     struct berth_err **err);

static int lease_each(int dfd, lease_fn *fn, void *ctx, struct berth_err **err)
{
  int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return berth_err_sys(err, "lease directory: dup");
  cleanup_dir DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return berth_err_sys(err, "lease directory: opendir");
  }
  struct dirent *de;
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct net_prefix a;
    if (!lease_name_parse(de->d_name, &a))
      continue; /* lock, last-4/-6, temporary files */
    int r = fn(dfd, de->d_name, &a, ctx, err);
    if (r != 0)
      return r;
  }
  if (errno != 0)
    return berth_err_sys(err, "lease directory: readdir");
  return 0;
}

/* ---- leasing ---- */

/* Takes a for holder if it is free, already holder's, or held by someone
 * gone: 1 taken, 0 in use. */
static int lease_try(int dfd, const char *holder, const struct net_prefix *a,
                     bool (*holder_gone)(const char *holder), struct berth_err **err)
{
  char name[64];
  cleanup_free char *cur = NULL;
  addr_text(a, name, sizeof(name));
  int st = small_file_read(dfd, name, &cur, err);
  if (st < 0)
    return -1;
  if (st == LEASE_FOREIGN)
    return 0;
  if (st == LEASE_HELD && strcmp(cur, holder) == 0)
    return 1;
  if (st == LEASE_HELD && (holder_gone == NULL || !holder_gone(cur)))
    return 0;
  if (small_file_write(dfd, name, holder, err) < 0)
    return -1;
  return 1;
}

struct find_ctx {
  const char *holder;
  const struct net_prefix *subnet;
  struct net_prefix *out;
};

static int find_one(int dfd, const char *name, const struct net_prefix *a, void *ctx,
                    struct berth_err **err)
{
  struct find_ctx *f = ctx;
  cleanup_free char *cur = NULL;
  if (!net_prefix_contains(f->subnet, a))
    return 0;
  if (small_file_read(dfd, name, &cur, err) < 0)
    return -1;
  if (cur == NULL || strcmp(cur, f->holder) != 0)
    return 0;
  *f->out = *a;
  return 1;
}

/* The address of subnet holder holds already (a retried prepare gets the
 * same one instead of leaking a second): 1 found, 0 none. */
static int lease_find(int dfd, const char *holder, const struct net_prefix *subnet,
                      struct net_prefix *out, struct berth_err **err)
{
  struct find_ctx f = {holder, subnet, out};
  return lease_each(dfd, find_one, &f, err);
}

/* Where the round-robin walk starts: the last address given, or the
 * network address when there is none (or it is not of this subnet). */
static int last_read(int dfd, const struct net_prefix *subnet, struct net_prefix *start,
                     struct berth_err **err)
{
  cleanup_free char *text = NULL;
  if (small_file_read(dfd, subnet->family == AF_INET ? "last-4" : "last-6", &text, err) < 0)
    return -1;
  if (text && lease_name_parse(text, start) && net_prefix_contains(subnet, start))
    return 0;
  subnet_network(subnet, start);
  return 0;
}

static int lease_static(int dfd, const char *holder, const struct net_prefix *subnet,
                        const struct net_prefix *want, bool (*holder_gone)(const char *holder),
                        struct berth_err **err)
{
  char a[64], s[64];
  addr_text(want, a, sizeof(a));
  net_prefix_format(subnet, true, s, sizeof(s));
  if (!net_prefix_contains(subnet, want))
    return berth_err_set(err, 0, "address %s is not in %s", a, s);
  if (addr_reserved(want, subnet))
    return berth_err_set(err, 0, "address %s is reserved in %s (network, gateway or broadcast)", a,
                         s);
  int r = lease_try(dfd, holder, want, holder_gone, err);
  if (r == 0)
    return berth_err_set(err, 0, "address %s is in use", a);
  return r < 0 ? -1 : 0;
}

static int lease_exhausted(const struct net_prefix *subnet, struct berth_err **err)
{
  char s[64];
  net_prefix_format(subnet, true, s, sizeof(s));
  if (family_bits(subnet->family) - subnet->len > 16)
    return berth_err_set(err, 0, "no free address in %s (searched the %u after the last one given)",
                         s, IPAM_MAX_PROBES);
  return berth_err_set(err, 0, "no free address in %s", s);
}

static int lease_dynamic(int dfd, const char *holder, const struct net_prefix *subnet,
                         bool (*holder_gone)(const char *holder), struct net_prefix *out,
                         struct berth_err **err)
{
  struct net_prefix cur;
  char a[64];
  int r = lease_find(dfd, holder, subnet, out, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  if (last_read(dfd, subnet, &cur, err) < 0)
    return -1;
  for (unsigned i = 0; i < pool_probes(subnet); i++) {
    addr_next(&cur, subnet);
    if (addr_reserved(&cur, subnet))
      continue;
    r = lease_try(dfd, holder, &cur, holder_gone, err);
    if (r < 0)
      return -1;
    if (r == 1) {
      *out = cur;
      return small_file_write(dfd, subnet->family == AF_INET ? "last-4" : "last-6",
                              addr_text(&cur, a, sizeof(a)), err);
    }
  }
  return lease_exhausted(subnet, err);
}

static int lease_args_check(const char *holder, const struct net_prefix *subnet,
                            const struct net_prefix *want, struct berth_err **err)
{
  char a[64], s[64];
  if (holder[0] == '\0' || strchr(holder, '\n') || strlen(holder) >= LEASE_MAX - 1)
    return berth_err_set(err, 0, "lease holder \"%s\": must be one non-empty line", holder);
  if (subnet->family != AF_INET && subnet->family != AF_INET6)
    return berth_err_set(err, 0, "lease: no subnet");
  net_prefix_format(subnet, true, s, sizeof(s));
  if (subnet->len + 2 > family_bits(subnet->family))
    return berth_err_set(err, 0, "subnet %s has no address for containers", s);
  if (want && want->family != 0 && want->family != subnet->family)
    return berth_err_set(err, 0, "address %s is not in %s", addr_text(want, a, sizeof(a)), s);
  return 0;
}

int ipam_lease(const char *dir, const char *holder, const struct net_prefix *subnet,
               const struct net_prefix *want, bool (*holder_gone)(const char *holder),
               struct net_prefix *out, struct berth_err **err)
{
  if (lease_args_check(holder, subnet, want, err) < 0)
    return -1;
  cleanup_close int dfd = lease_dir_open(dir, err);
  if (dfd < 0)
    return -1;
  if (want && want->family != 0) {
    if (lease_static(dfd, holder, subnet, want, holder_gone, err) < 0)
      return -1;
    *out = *want;
  } else if (lease_dynamic(dfd, holder, subnet, holder_gone, out, err) < 0) {
    return -1;
  }
  out->len = subnet->len;
  return 0;
}

static int release_one(int dfd, const char *name, const struct net_prefix *a, void *ctx,
                       struct berth_err **err)
{
  cleanup_free char *cur = NULL;
  (void)a;
  if (small_file_read(dfd, name, &cur, err) < 0)
    return -1;
  if (cur && strcmp(cur, ctx) == 0 && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
    return berth_err_sys(err, "lease directory: remove %s", name);
  return 0;
}

int ipam_release(const char *dir, const char *holder, struct berth_err **err)
{
  cleanup_close int dfd = lease_dir_open(dir, err);
  if (dfd < 0)
    return -1;
  return lease_each(dfd, release_one, (void *)holder, err);
}

static int count_one(int dfd, const char *name, const struct net_prefix *a, void *ctx,
                     struct berth_err **err)
{
  (void)dfd, (void)name, (void)a, (void)err;
  ++*(size_t *)ctx;
  return 0;
}

int ipam_count(const char *dir, size_t *n, struct berth_err **err)
{
  cleanup_close int dfd = lease_dir_open(dir, err);
  if (dfd < 0)
    return -1;
  *n = 0;
  return lease_each(dfd, count_one, n, err);
}
