/* Pure rtnetlink request builders: no socket, no syscall, so the unit tests
 * compare their bytes. Names are assumed to fit IFNAMSIZ (rtnl.c checks). */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>

#include "internal.h"

#define NLM_F_NEW (NLM_F_CREATE | NLM_F_EXCL)

static struct nlmsghdr *msg_start(void *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
  /* libmnl before 1.0.5 (Debian 12's, which the unit tests link) leaves
   * attribute padding as it finds it: stack garbage would go to the kernel. */
  memset(buf, 0, NL_BUF);
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = seq;
  return nlh;
}

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh)
{
  return mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
}

static size_t addr_len(int family)
{
  return family == AF_INET6 ? 16 : 4;
}

/* RTM_NEWLINK for a new device: ifinfomsg, IFLA_IFNAME, IFLA_MTU. */
static struct nlmsghdr *link_new(void *buf, uint32_t seq, const char *name, unsigned mtu)
{
  struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, NLM_F_NEW, seq);
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (mtu)
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  return nlh;
}

struct nlmsghdr *nlb_veth_add(void *buf, uint32_t seq, const char *name, const char *peer,
                              int peer_netns_fd, unsigned mtu, const uint8_t peer_mac[6])
{
  struct nlmsghdr *nlh = link_new(buf, seq, name, mtu);
  struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  /* VETH_INFO_PEER is not a plain nest: the peer's own ifinfomsg comes
   * first, then the peer's IFLA_* attributes. IFLA_NET_NS_FD here makes the
   * kernel create the peer directly in that namespace, so its final name
   * never has to be free in the host namespace. */
  struct nlattr *peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
  if (peer_netns_fd >= 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
  if (mtu)
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  if (peer_mac)
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
  mnl_attr_nest_end(nlh, peer_nest);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  return nlh;
}

struct nlmsghdr *nlb_bridge_add(void *buf, uint32_t seq, const char *name, unsigned mtu)
{
  struct nlmsghdr *nlh = link_new(buf, seq, name, mtu);
  struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  return nlh;
}

struct nlmsghdr *nlb_link_set(void *buf, uint32_t seq, int ifindex, int master, unsigned mtu,
                              bool up)
{
  struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0, seq);
  struct ifinfomsg *ifi = put_ifinfo(nlh);
  ifi->ifi_index = ifindex;
  /* Only the bits in ifi_change are applied; the rest of ifi_flags is ignored. */
  if (up) {
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
  }
  if (master > 0)
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
  if (mtu)
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  return nlh;
}

static struct nlmsghdr *link_by_name(void *buf, uint16_t type, uint32_t seq, const char *name)
{
  struct nlmsghdr *nlh = msg_start(buf, type, 0, seq);
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  return nlh;
}

struct nlmsghdr *nlb_link_del(void *buf, uint32_t seq, const char *name)
{
  return link_by_name(buf, RTM_DELLINK, seq, name);
}

struct nlmsghdr *nlb_link_get(void *buf, uint32_t seq, const char *name)
{
  return link_by_name(buf, RTM_GETLINK, seq, name);
}

/* The IPv4 broadcast address: the host bits of a set. */
static void put_broadcast4(struct nlmsghdr *nlh, const struct net_prefix *a)
{
  uint32_t brd;
  memcpy(&brd, a->addr, 4);
  brd |= htonl(0xffffffffu >> a->len);
  mnl_attr_put(nlh, IFA_BROADCAST, 4, &brd);
}

struct nlmsghdr *nlb_addr_add(void *buf, uint32_t seq, int ifindex, const struct net_prefix *a,
                              bool nodad)
{
  struct nlmsghdr *nlh = msg_start(buf, RTM_NEWADDR, NLM_F_NEW, seq);
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
  ifa->ifa_family = (uint8_t)a->family;
  ifa->ifa_prefixlen = (uint8_t)a->len;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (uint32_t)ifindex;
  /* IFA_ADDRESS differing from IFA_LOCAL would make it a point-to-point
   * peer; equal, it is the plain address of a broadcast link. */
  mnl_attr_put(nlh, IFA_LOCAL, addr_len(a->family), a->addr);
  mnl_attr_put(nlh, IFA_ADDRESS, addr_len(a->family), a->addr);
  /* /31 (RFC 3021) and /32 have no broadcast address. */
  if (a->family == AF_INET && a->len < 31)
    put_broadcast4(nlh, a);
  /* IFA_FLAGS (u32) overrides the u8 ifa_flags; without NODAD an IPv6
   * address stays tentative, unusable, for the ~1 s of duplicate detection. */
  if (a->family == AF_INET6 && nodad)
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  return nlh;
}

struct nlmsghdr *nlb_route_default(void *buf, uint32_t seq, int ifindex,
                                   const struct net_prefix *gw)
{
  struct nlmsghdr *nlh = msg_start(buf, RTM_NEWROUTE, NLM_F_NEW, seq);
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
  rtm->rtm_family = (uint8_t)gw->family;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(nlh, RTA_GATEWAY, addr_len(gw->family), gw->addr);
  mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
  return nlh;
}
