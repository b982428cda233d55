/* The microvm backend's network: what the linux backend does for
 * dev.berth.net=bridge (runtime/net.c: the record, the lease, the
 * hosts/hostname/resolv.conf files), but a tap on the bridge instead of a
 * veth, and the guest's half sent to the guest init as SPEC records
 * ("net.*"), which it applies inside the guest. Runs in berth create on
 * the host. Undone as for the linux backend: net_release from the record. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../vm/proto.h"
#include "net.h"

#define ETC_MAX ((size_t)64 * 1024)

static bool mounted_by_config(const struct spec *s, const char *dst)
{
  for (size_t i = 0; i < s->n_mounts; i++)
    if (strcmp(s->mounts[i].destination, dst) == 0)
      return true;
  return false;
}

/* "net.etc.NAME" = the file's text, for each file the config does not
 * mount itself: the guest bind-mounts it read-only over /etc/NAME. */
static int etc_records(int dirfd, const struct spec *s, struct vm_buf *rec, struct berth_err **err)
{
  static const char *const files[] = {"hosts", "hostname", "resolv.conf"};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    cleanup_free char *dst = xasprintf("/etc/%s", files[i]);
    cleanup_free char *text = NULL;
    if (mounted_by_config(s, dst))
      continue;
    if (read_file_trusted_at(dirfd, files[i], ETC_MAX, &text, err) < 0)
      return berth_err_wrap(err, "network files");
    cleanup_free char *key = xasprintf("net.etc.%s", files[i]);
    vm_rec_add(rec, key, text);
  }
  return 0;
}

static void prefix_record(struct vm_buf *rec, const char *key, const struct net_prefix *p,
                          bool with_len)
{
  char buf[64];
  if (p->family)
    vm_rec_add(rec, key, net_prefix_format(p, with_len, buf, sizeof(buf)));
}

/* The guest's interface: "net.mtu", "net.addr" (with its prefix length,
 * IPv4 and/or IPv6), "net.gw" (each family's gateway). */
static void iface_records(const struct net_attachment *a, struct vm_buf *rec)
{
  vm_rec_addf(rec, "net.mtu", "%u", a->mtu);
  prefix_record(rec, "net.addr", &a->addr4, true);
  prefix_record(rec, "net.addr", &a->addr6, true);
  prefix_record(rec, "net.gw", &a->gw4, false);
  prefix_record(rec, "net.gw", &a->gw6, false);
}

int net_prepare_vm(int dirfd, const struct spec *s, const char *id, struct net_vm *out,
                   struct berth_err **err)
{
  *out = (struct net_vm){.tap_fd = -1};
  if (s->net.mode == NET_MODE_NONE)
    return 0;
  if (s->net.mode != NET_MODE_BRIDGE)
    return berth_err_set(err, 0, "microvm: dev.berth.net: only bridge (or none) is supported");
  struct net_attachment a;
  if (net_prepare(dirfd, s, id, &a, err) < 0 || netns_attach_wire_tap(&a, &out->tap_fd, err) < 0)
    return -1;
  memcpy(out->mac, a.mac, sizeof(out->mac));
  iface_records(&a, &out->rec);
  if (etc_records(dirfd, s, &out->rec, err) < 0) {
    net_vm_free(out);
    return -1;
  }
  return 0;
}

void net_vm_free(struct net_vm *n)
{
  if (n->tap_fd >= 0)
    close(n->tap_fd);
  n->tap_fd = -1;
  vm_buf_free(&n->rec);
}
