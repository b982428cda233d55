/* Unit tests of netns/ (netlink): each rtnetlink builder's bytes against a
 * message written out by hand from the kernel UAPI layout. Numbers are
 * literal on purpose (the constant's name beside them), so a wrong constant
 * in a builder shows up as well as a wrong length or padding.
 *   nlmsghdr 16: u32 len, u16 type, u16 flags, u32 seq, u32 pid
 *   ifinfomsg 16: u8 family, u8 pad, u16 type, s32 index, u32 flags, u32 change
 *   ifaddrmsg 8: u8 family, prefixlen, flags, scope, u32 index
 *   rtmsg 12: u8 family, dst_len, src_len, tos, table, protocol, scope, type, u32 flags
 *   nlattr 4: u16 len (header + payload, padding not counted), u16 type,
 *   payload padded to 4; nests carry NLA_F_NESTED (0x8000) in the type. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "../../netns/internal.h"
#include "check.h"

/* Host byte order, as netlink uses. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define U16(x) (uint8_t)((x)&0xff), (uint8_t)(((x) >> 8) & 0xff)
#define U32(x) U16((x)&0xffff), U16(((x) >> 16) & 0xffff)
#else
#define U16(x) (uint8_t)(((x) >> 8) & 0xff), (uint8_t)((x)&0xff)
#define U32(x) U16(((x) >> 16) & 0xffff), U16((x)&0xffff)
#endif
#define NLH(len, type, flags, seq) U32(len), U16(type), U16(flags), U32(seq), U32(0)
#define NLA(len, type) U16(len), U16(type)
#define IFI(index, flags, change) 0, 0, U16(0), U32(index), U32(flags), U32(change)
/* One row of an expected message (keeps clang-format from one byte a line). */
#define ROW(...) __VA_ARGS__

/* nlmsg_type */
#define T_NEWLINK 16
#define T_DELLINK 17
#define T_GETLINK 18
#define T_NEWADDR 20
#define T_NEWROUTE 24
/* nlmsg_flags: REQUEST 0x1 | ACK 0x4, + EXCL 0x200 | CREATE 0x400 */
#define F_ACK 0x005
#define F_NEW 0x605

static unsigned char buf[NL_BUF] __attribute__((aligned(4)));

/* The builders must not rely on a zeroed buffer (padding included). */
static void *dirty(void)
{
  memset(buf, 0xa5, sizeof(buf));
  return buf;
}

static void expect_msg(const char *what, const struct nlmsghdr *nlh, const uint8_t *want, size_t n)
{
  CHECK((const void *)nlh == buf, "%s: message not at buf", what);
  CHECK(nlh->nlmsg_len == n, "%s: nlmsg_len %u, want %zu", what, nlh->nlmsg_len, n);
  size_t len = nlh->nlmsg_len < n ? nlh->nlmsg_len : n;
  size_t i = 0;
  while (i < len && buf[i] == want[i])
    i++;
  CHECK(i == len, "%s: byte %zu is 0x%02x, want 0x%02x", what, i, i < len ? buf[i] : 0,
        i < len ? want[i] : 0);
}
#define EXPECT_MSG(what, nlh, want) expect_msg(what, nlh, want, sizeof(want))

static const uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x58, 0x00, 0x02};

static void test_veth(void)
{
  static const uint8_t full[] = {
      ROW(NLH(132, T_NEWLINK, F_NEW, 42)),
      ROW(IFI(0, 0, 0)),
      ROW(NLA(9, 3), 'b', 't', 'h', '1', 0, 0, 0, 0), /* IFLA_IFNAME, NUL + 3 pad */
      ROW(NLA(8, 4), U32(1400)),                      /* IFLA_MTU */
      ROW(NLA(80, 0x8000 | 18)),                      /* IFLA_LINKINFO: 4+12+64 */
      ROW(NLA(9, 1), 'v', 'e', 't', 'h', 0, 0, 0, 0), /*   IFLA_INFO_KIND */
      ROW(NLA(64, 0x8000 | 2)),                       /*   IFLA_INFO_DATA: 4+60 */
      ROW(NLA(60, 0x8000 | 1)),                       /*     VETH_INFO_PEER: 4+16+12+8+8+12 */
      ROW(IFI(0, 0, 0)),                              /*       the peer's ifinfomsg */
      ROW(NLA(9, 3), 'e', 't', 'h', '0', 0, 0, 0, 0), /*       IFLA_IFNAME */
      ROW(NLA(8, 28), U32(7)),                        /*       IFLA_NET_NS_FD */
      ROW(NLA(8, 4), U32(1400)),                      /*       IFLA_MTU */
      ROW(NLA(10, 1), 0x02, 0x42, 0x0a, 0x58, 0x00, 0x02, 0, 0), /* IFLA_ADDRESS + 2 pad */
  };
  EXPECT_MSG("veth", nlb_veth_add(dirty(), 42, "bth1", "eth0", 7, 1400, mac), full);

  /* No namespace, MTU or MAC: only the peer's name inside. "va" is 3 bytes
   * with its NUL: nla_len 7, padded to 8. */
  static const uint8_t bare[] = {
      ROW(NLH(88, T_NEWLINK, F_NEW, 1)),
      ROW(IFI(0, 0, 0)),
      ROW(NLA(7, 3), 'v', 'a', 0, 0),                 /* IFLA_IFNAME + 1 pad */
      ROW(NLA(48, 0x8000 | 18)),                      /* IFLA_LINKINFO: 4+12+32 */
      ROW(NLA(9, 1), 'v', 'e', 't', 'h', 0, 0, 0, 0), /*   IFLA_INFO_KIND */
      ROW(NLA(32, 0x8000 | 2)),                       /*   IFLA_INFO_DATA: 4+28 */
      ROW(NLA(28, 0x8000 | 1)),                       /*     VETH_INFO_PEER: 4+16+8 */
      ROW(IFI(0, 0, 0)),
      ROW(NLA(7, 3), 'v', 'b', 0, 0),
  };
  EXPECT_MSG("veth bare", nlb_veth_add(dirty(), 1, "va", "vb", -1, 0, NULL), bare);
}

static void test_bridge(void)
{
  static const uint8_t with_mtu[] = {
      ROW(NLH(68, T_NEWLINK, F_NEW, 7)),
      ROW(IFI(0, 0, 0)),
      ROW(NLA(11, 3), 'b', 'e', 'r', 't', 'h', '0', 0, 0), /* IFLA_IFNAME + 1 pad */
      ROW(NLA(8, 4), U32(1500)),                           /* IFLA_MTU */
      ROW(NLA(16, 0x8000 | 18)),                           /* IFLA_LINKINFO: 4+12 */
      ROW(NLA(11, 1), 'b', 'r', 'i', 'd', 'g', 'e', 0, 0), /*   IFLA_INFO_KIND */
  };
  EXPECT_MSG("bridge", nlb_bridge_add(dirty(), 7, "berth0", 1500), with_mtu);
  static const uint8_t no_mtu[] = {
      ROW(NLH(60, T_NEWLINK, F_NEW, 8)),
      ROW(IFI(0, 0, 0)),
      ROW(NLA(11, 3), 'b', 'e', 'r', 't', 'h', '0', 0, 0),
      ROW(NLA(16, 0x8000 | 18)),
      ROW(NLA(11, 1), 'b', 'r', 'i', 'd', 'g', 'e', 0, 0),
  };
  EXPECT_MSG("bridge no mtu", nlb_bridge_add(dirty(), 8, "berth0", 0), no_mtu);
}

static void test_link(void)
{
  static const uint8_t set_all[] = {
      ROW(NLH(48, T_NEWLINK, F_ACK, 9)), ROW(IFI(5, 1, 1)), /* IFF_UP in flags and change */
      ROW(NLA(8, 10), U32(3)),                              /* IFLA_MASTER */
      ROW(NLA(8, 4), U32(1400)),                            /* IFLA_MTU */
  };
  EXPECT_MSG("link set", nlb_link_set(dirty(), 9, 5, 3, 1400, true), set_all);
  static const uint8_t set_none[] = {ROW(NLH(32, T_NEWLINK, F_ACK, 10)), ROW(IFI(6, 0, 0))};
  EXPECT_MSG("link set nothing", nlb_link_set(dirty(), 10, 6, 0, 0, false), set_none);

  static const uint8_t del[] = {
      ROW(NLH(44, T_DELLINK, F_ACK, 11)),
      ROW(IFI(0, 0, 0)),
      ROW(NLA(9, 3), 'b', 't', 'h', '1', 0, 0, 0, 0),
  };
  EXPECT_MSG("link del", nlb_link_del(dirty(), 11, "bth1"), del);
  static const uint8_t get[] = {
      ROW(NLH(48, T_GETLINK, F_ACK, 12)), ROW(IFI(0, 0, 0)),
      ROW(NLA(16, 3), 'b', 't', 'h', '0', '1', '2', '3', '4', '5', '6', '7', 0), /* no pad */
  };
  EXPECT_MSG("link get", nlb_link_get(dirty(), 12, "bth01234567"), get);
}

static struct net_prefix pfx(int family, const char *addr, unsigned len)
{
  struct net_prefix p = {.family = family, .len = len};
  inet_pton(family, addr, p.addr);
  return p;
}

#define FD88(last) 0xfd, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last

static void test_addr4(void)
{
  struct net_prefix a16 = pfx(AF_INET, "10.88.0.2", 16);
  static const uint8_t v4[] = {
      ROW(NLH(48, T_NEWADDR, F_NEW, 3)),
      ROW(2, 16, 0, 0, U32(4)),         /* AF_INET, /16, flags, universe, ifindex 4 */
      ROW(NLA(8, 2), 10, 88, 0, 2),     /* IFA_LOCAL */
      ROW(NLA(8, 1), 10, 88, 0, 2),     /* IFA_ADDRESS */
      ROW(NLA(8, 4), 10, 88, 255, 255), /* IFA_BROADCAST */
  };
  /* nodad means nothing for IPv4. */
  EXPECT_MSG("addr v4 /16", nlb_addr_add(dirty(), 3, 4, &a16, true), v4);

  struct net_prefix a25 = pfx(AF_INET, "192.168.7.130", 25);
  static const uint8_t v4_25[] = {
      ROW(NLH(48, T_NEWADDR, F_NEW, 4)), ROW(2, 25, 0, 0, U32(9)),
      ROW(NLA(8, 2), 192, 168, 7, 130),  ROW(NLA(8, 1), 192, 168, 7, 130),
      ROW(NLA(8, 4), 192, 168, 7, 255), /* host bits 0x7f set */
  };
  EXPECT_MSG("addr v4 /25", nlb_addr_add(dirty(), 4, 9, &a25, false), v4_25);

  struct net_prefix a31 = pfx(AF_INET, "10.0.0.0", 31);
  static const uint8_t v4_31[] = {
      ROW(NLH(40, T_NEWADDR, F_NEW, 5)), ROW(2, 31, 0, 0, U32(2)), ROW(NLA(8, 2), 10, 0, 0, 0),
      ROW(NLA(8, 1), 10, 0, 0, 0), /* and no broadcast on a /31 */
  };
  EXPECT_MSG("addr v4 /31", nlb_addr_add(dirty(), 5, 2, &a31, false), v4_31);
}

static void test_addr6(void)
{
  struct net_prefix a6 = pfx(AF_INET6, "fd88::2", 64);
  static const uint8_t nodad[] = {
      ROW(NLH(72, T_NEWADDR, F_NEW, 6)),
      ROW(10, 64, 0, 0, U32(4)), /* AF_INET6 */
      ROW(NLA(20, 2), FD88(2)),  /* IFA_LOCAL */
      ROW(NLA(20, 1), FD88(2)),  /* IFA_ADDRESS */
      ROW(NLA(8, 8), U32(2)),    /* IFA_FLAGS: IFA_F_NODAD */
  };
  EXPECT_MSG("addr v6 nodad", nlb_addr_add(dirty(), 6, 4, &a6, true), nodad);
  static const uint8_t dad[] = {
      ROW(NLH(64, T_NEWADDR, F_NEW, 7)),
      ROW(10, 64, 0, 0, U32(4)),
      ROW(NLA(20, 2), FD88(2)),
      ROW(NLA(20, 1), FD88(2)),
  };
  EXPECT_MSG("addr v6", nlb_addr_add(dirty(), 7, 4, &a6, false), dad);
}

static void test_route(void)
{
  struct net_prefix gw4 = pfx(AF_INET, "10.88.0.1", 16);
  static const uint8_t v4[] = {
      ROW(NLH(44, T_NEWROUTE, F_NEW, 5)),
      /* AF_INET, dst_len 0 (default), src_len, tos, main table 254,
       * RTPROT_BOOT 3, RT_SCOPE_UNIVERSE 0, RTN_UNICAST 1, flags */
      ROW(2, 0, 0, 0, 254, 3, 0, 1, U32(0)), ROW(NLA(8, 5), 10, 88, 0, 1), /* RTA_GATEWAY */
      ROW(NLA(8, 4), U32(4)),                                              /* RTA_OIF */
  };
  EXPECT_MSG("route v4", nlb_route_default(dirty(), 5, 4, &gw4), v4);

  struct net_prefix gw6 = pfx(AF_INET6, "fd88::1", 64);
  static const uint8_t v6[] = {
      ROW(NLH(56, T_NEWROUTE, F_NEW, 6)),
      ROW(10, 0, 0, 0, 254, 3, 0, 1, U32(0)),
      ROW(NLA(20, 5), FD88(1)),
      ROW(NLA(8, 4), U32(4)),
  };
  EXPECT_MSG("route v6", nlb_route_default(dirty(), 6, 4, &gw6), v6);
}

/* The first attribute of type in [from, end), or NULL. */
static const struct nlattr *attr_find(const void *from, const void *end, uint16_t type)
{
  const struct nlattr *a = from;
  while ((const char *)a + sizeof(*a) <= (const char *)end) {
    if (mnl_attr_get_type(a) == type)
      return a;
    a = (const void *)((const char *)a + MNL_ALIGN(a->nla_len));
  }
  return NULL;
}

/* Where the attributes in [from, ...) stop when walked up to end: equal to
 * end when the enclosing length is exactly the sum of its parts. */
static const void *attrs_stop(const void *from, const void *end)
{
  const char *p = from;
  while (p + sizeof(struct nlattr) <= (const char *)end)
    p += MNL_ALIGN(((const struct nlattr *)p)->nla_len);
  return p;
}

/* The end a nest claims: its nla_len, unaligned on purpose. */
static const void *attr_end(const struct nlattr *a)
{
  return (const char *)a + a->nla_len;
}

/* The veth request's nests, for names of every padding: each nest's length
 * covers exactly its attributes, the outermost ends the message. */
static void test_veth_nests(void)
{
  const char *names[] = {"a", "bth12", "bth1234", "bth0123456789ab"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    const char *n = names[i];
    struct nlmsghdr *nlh = nlb_veth_add(dirty(), 1, n, n, 3, 9000, mac);
    const void *msg_end = (const char *)nlh + nlh->nlmsg_len;
    const struct nlattr *info =
        attr_find((const char *)mnl_nlmsg_get_payload(nlh) + sizeof(struct ifinfomsg), msg_end, 18);
    CHECK(info && attr_end(info) == msg_end, "veth %s: IFLA_LINKINFO does not end it", n);
    if (!info)
      continue;
    const struct nlattr *data = attr_find(mnl_attr_get_payload(info), attr_end(info), 2);
    CHECK(data && attrs_stop(mnl_attr_get_payload(info), attr_end(info)) == attr_end(info),
          "veth %s: IFLA_LINKINFO length", n);
    if (!data)
      continue;
    const struct nlattr *peer = attr_find(mnl_attr_get_payload(data), attr_end(data), 1);
    CHECK(peer && attr_end(peer) == attr_end(data), "veth %s: IFLA_INFO_DATA length", n);
    if (!peer)
      continue;
    const char *peer_attrs = (const char *)mnl_attr_get_payload(peer) + sizeof(struct ifinfomsg);
    CHECK(attrs_stop(peer_attrs, attr_end(peer)) == attr_end(peer), "veth %s: PEER length", n);
    const struct nlattr *name = attr_find(peer_attrs, attr_end(peer), 3);
    CHECK(name && strcmp(mnl_attr_get_str(name), n) == 0, "veth %s: peer name", n);
  }
}

void netlink_unit_tests(void)
{
  test_veth();
  test_bridge();
  test_link();
  test_addr4();
  test_addr6();
  test_route();
  test_veth_nests();
}
