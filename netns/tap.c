/* A microVM's attachment, host side: a tap device on the bridge instead
 * of a veth (the guest's side is iface.c, run by the guest init). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "internal.h"
#include "netns.h"

/* The tun driver makes taps only through /dev/net/tun (rtnetlink's
 * RTM_NEWLINK refuses kind "tun"). Not persistent: the device lives as
 * long as an fd is attached, so it goes with QEMU however that ends.
 * IFF_VNET_HDR lets QEMU pass virtio-net's offloads through. */
static int tap_open(const char *name, struct berth_err **err)
{
  cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "tap %s: open /dev/net/tun", name);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0)
    return berth_err_sys(err, "tap %s", name);
  return steal_fd(&fd);
}

int netns_attach_wire_tap(const struct net_attachment *a, int *tap_fd, struct berth_err **err)
{
  *tap_fd = -1;
  struct rtnl host = {0};
  cleanup_close int fd = tap_open(a->host_if, err);
  int ret = fd < 0 ? -1 : rtnl_open(&host, -1, err);
  if (ret == 0)
    ret = rtnl_bridge_ensure(&host, a->bridge, a->mtu, &a->gw4, &a->gw6, err);
  if (ret == 0)
    ret = rtnl_link_setup(&host, a->host_if, a->bridge, a->mtu, err);
  rtnl_close(&host);
  if (ret == 0)
    ret = attach_fw_add(a, err);
  if (ret < 0)
    return berth_err_wrap(err, "network %s", a->bridge);
  *tap_fd = steal_fd(&fd);
  return 0;
}
