/* Guest PID 1: the network berth leased on the host. The SPEC's "net.*"
 * records (runtime/microvm_net.c) give the interface's MTU, addresses and
 * gateways and the text of /etc/hosts, hostname and resolv.conf; the
 * virtio-net device is eth0 (its MAC is the lease's), configured through
 * netns/'s rtnetlink code; the files are bind-mounted read-only into the
 * rootfs, as the linux backend does. lo comes up in every guest. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "../../netns/netns.h"
#include "../proto.h"
#include "guest.h"

#define ETC_STAGE "/etc-net" /* in the initramfs: the files' sources */

static int dec_mtu(struct guest_net *n, const char *v, struct berth_err **err)
{
  char *end;
  unsigned long mtu = strtoul(v, &end, 10);
  if (*end || mtu < 68 || mtu > 65535)
    return berth_err_set(err, 0, "spec: bad net.mtu \"%s\"", v);
  n->a.mtu = (unsigned)mtu;
  return 0;
}

static int dec_addr(struct guest_net *n, const char *v, struct berth_err **err)
{
  struct net_prefix p;
  if (net_prefix_parse(v, &p, err) < 0)
    return berth_err_wrap(err, "spec: net.addr");
  if (p.family == AF_INET)
    n->a.addr4 = p;
  else
    n->a.addr6 = p;
  return 0;
}

static int dec_gw(struct guest_net *n, const char *v, struct berth_err **err)
{
  struct net_prefix p;
  if (net_addr_parse(v, &p, err) < 0)
    return berth_err_wrap(err, "spec: net.gw");
  if (p.family == AF_INET)
    n->a.gw4 = p;
  else
    n->a.gw6 = p;
  return 0;
}

static int dec_etc(struct guest_net *n, const char *name, const char *v, struct berth_err **err)
{
  if (strchr(name, '/') || name[0] == '.' || n->n_etc == GUEST_NET_ETC_MAX)
    return berth_err_set(err, 0, "spec: bad net.etc.%s", name);
  n->etc_name[n->n_etc] = xstrdup(name);
  n->etc_text[n->n_etc++] = xstrdup(v);
  return 0;
}

static int dec_one(struct guest_net *n, const char *k, const char *v, struct berth_err **err)
{
  n->on = true;
  if (strcmp(k, "net.mtu") == 0)
    return dec_mtu(n, v, err);
  if (strcmp(k, "net.addr") == 0)
    return dec_addr(n, v, err);
  if (strcmp(k, "net.gw") == 0)
    return dec_gw(n, v, err);
  if (strncmp(k, "net.etc.", 8) == 0)
    return dec_etc(n, k + 8, v, err);
  return berth_err_set(err, 0, "spec: unknown key \"%s\"", k);
}

int guest_net_decode(const char *data, size_t len, struct guest_net *n, struct berth_err **err)
{
  memset(n, 0, sizeof(*n));
  snprintf(n->a.cont_if, sizeof(n->a.cont_if), "eth0");
  size_t off = 0;
  const char *k, *v;
  while (vm_rec_next(data, len, &off, &k, &v) == 1)
    if (strncmp(k, "net.", 4) == 0 && dec_one(n, k, v, err) < 0)
      return -1;
  return 0;
}

/* Creates path inside the rootfs (symlinks resolved there) empty: on a
 * read-only rootfs for that moment writable, as the linux backend makes
 * mount points before it remounts the root read-only. */
static int target_make(int rootfd, const char *path, bool readonly, struct berth_err **err)
{
  if (readonly && mount(NULL, GUEST_ROOT, NULL, MS_REMOUNT, NULL) < 0)
    return berth_err_sys(err, "make %s: remount the rootfs", path);
  struct open_how how = {
      .flags = O_CREAT | O_WRONLY | O_CLOEXEC, .mode = 0644, .resolve = RESOLVE_IN_ROOT};
  int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  int saved = errno;
  if (fd >= 0)
    close(fd); /* before the remount: a file open for writing keeps it busy */
  if (readonly && mount(NULL, GUEST_ROOT, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
    return berth_err_sys(err, "make %s: remount the rootfs read-only", path);
  errno = saved;
  return fd >= 0 ? 0 : berth_err_sys(err, "make %s", path);
}

/* The bind mount's target, an O_PATH fd inside the rootfs. */
static int target_open(int rootfd, const char *path, bool readonly, struct berth_err **err)
{
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
  int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  if (fd < 0 && errno == ENOENT && target_make(rootfd, path, readonly, err) == 0)
    fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  if (fd < 0 && (*err) == NULL)
    return berth_err_sys(err, "open %s", path);
  return fd;
}

static int etc_bind(int rootfd, const char *name, const char *text, bool readonly,
                    struct berth_err **err)
{
  cleanup_free char *src = xasprintf(ETC_STAGE "/%s", name);
  cleanup_free char *dst = xasprintf("/etc/%s", name);
  if (write_file_atomic_at(AT_FDCWD, src, text, strlen(text), 0644, err) < 0)
    return -1;
  cleanup_close int fd = target_open(rootfd, dst, readonly, err);
  if (fd < 0)
    return -1;
  /* Read-only before it is attached, onto the fd (no path to resolve again). */
  cleanup_close int tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                      MOUNT_ATTR_NOEXEC};
  if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0 ||
      move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return berth_err_sys(err, "bind %s", dst);
  return 0;
}

int guest_net_apply(const struct guest_net *n, bool readonly, struct berth_err **err)
{
  if (netns_loopback_up_in_child(err) < 0)
    return -1;
  if (!n->on)
    return 0;
  if (netns_attach_config_in_child(&n->a, err) < 0)
    return berth_err_wrap(err, "network");
  cleanup_close int rootfd = open(GUEST_ROOT, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (rootfd < 0 || (mkdir(ETC_STAGE, 0755) < 0 && errno != EEXIST))
    return berth_err_sys(err, "network files");
  for (size_t i = 0; i < n->n_etc; i++)
    if (etc_bind(rootfd, n->etc_name[i], n->etc_text[i], readonly, err) < 0)
      return berth_err_wrap(err, "network files");
  return 0;
}
