/* A microVM's attachment, guest side: run by the guest init (vm/guest/,
 * root in the guest), which links this with rtnl.c, nlmsg.c and config.c
 * but none of the host side (no nftables, no IPAM). */
#include "internal.h"
#include "netns.h"

int netns_attach_config_in_child(const struct net_attachment *a, struct berth_err **err)
{
  struct rtnl r = {0};
  int ret = rtnl_open(&r, -1, err);
  if (ret == 0)
    ret = rtnl_link_setup(&r, a->cont_if, NULL, a->mtu, err);
  if (ret == 0)
    ret = rtnl_cont_config(&r, a->cont_if, &a->addr4, &a->addr6, &a->gw4, &a->gw6, err);
  rtnl_close(&r);
  return ret;
}
