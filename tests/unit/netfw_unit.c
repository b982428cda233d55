/* Unit tests of netns/ (netfw): holder tags and the nftables rules as
 * built, compared through libnftnl's own text form of their expressions
 * (the form `nft --debug=netlink` prints). No socket, no root. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/rule.h>
#include <netinet/in.h>
#include <string.h>

#include "../../netns/internal.h"
#include "check.h"

static struct net_prefix prefix(int family, const char *addr, unsigned len)
{
  struct net_prefix p = {.family = family, .len = len};
  inet_pton(family, addr, p.addr);
  return p;
}

/* The rule's text form, or "" when there is no rule. */
static const char *rule_text(struct nftnl_rule *r, char *buf, size_t n)
{
  buf[0] = '\0';
  if (r)
    nftnl_rule_snprintf(buf, n, r, NFTNL_OUTPUT_DEFAULT, 0);
  return buf;
}

static void test_holder_tag(void)
{
  char tag[NETFW_TAG_SIZE], other[NETFW_TAG_SIZE], longest[256];
  netfw_holder_tag("a", tag);
  CHECK(strcmp(tag, "berth:af63dc4c8601ec8c") == 0, "FNV-1a 64 of \"a\": %s", tag);
  netfw_holder_tag("/run/berth/ctr1", tag);
  CHECK(strcmp(tag, "berth:b2e491d5d8d84088") == 0, "tag is stable across builds: %s", tag);
  netfw_holder_tag("/run/berth/ctr2", other);
  CHECK(strcmp(tag, other) != 0, "two holders, two tags");
  memset(longest, 'x', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = '\0';
  netfw_holder_tag(longest, tag);
  CHECK(strlen(tag) == NETFW_TAG_SIZE - 1, "a 255-byte holder: %zu-byte tag", strlen(tag));
}

static const char dnat4_tcp[] = "inet berth prerouting\n"
                                "  [ meta load nfproto => reg 1 ]\n"
                                "  [ cmp eq reg 1 0x00000002 ]\n"
                                "  [ fib daddr type => reg 1 ]\n"
                                "  [ cmp eq reg 1 0x00000002 ]\n"
                                "  [ meta load l4proto => reg 1 ]\n"
                                "  [ cmp eq reg 1 0x00000006 ]\n"
                                "  [ payload load 2b @ transport header + 2 => reg 1 ]\n"
                                "  [ cmp eq reg 1 0x0000901f ]\n"
                                "  [ immediate reg 1 0x0200580a ]\n"
                                "  [ immediate reg 2 0x00005000 ]\n"
                                "  [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]\n";

static void test_dnat_rules(void)
{
  char buf[4096];
  char tag[NETFW_TAG_SIZE];
  netfw_holder_tag("/run/berth/ctr1", tag);
  struct net_prefix a4 = prefix(AF_INET, "10.88.0.2", 16);
  struct net_prefix a6 = prefix(AF_INET6, "fd00::2", 64);
  struct net_port tcp = {8080, 80, IPPROTO_TCP}, udp = {5353, 53, IPPROTO_UDP};

  struct nftnl_rule *r = netfw_rule_dnat("prerouting", &a4, &tcp, tag);
  rule_text(r, buf, sizeof(buf));
  CHECK(strncmp(buf, dnat4_tcp, strlen(dnat4_tcp)) == 0, "dnat tcp 8080->10.88.0.2:80:\n%s", buf);
  CHECK(r && strcmp(netfw_rule_comment(r), tag) == 0, "dnat rule's comment is the holder's tag");
  nftnl_rule_free(r);

  r = netfw_rule_dnat("output", &a4, &udp, tag);
  rule_text(r, buf, sizeof(buf));
  CHECK(strncmp(buf, "inet berth output", 17) == 0, "the chain asked for: %s", buf);
  CHECK(strstr(buf, "[ meta load l4proto => reg 1 ]\n  [ cmp eq reg 1 0x00000011 ]") &&
            strstr(buf, "[ cmp eq reg 1 0x0000e914 ]") && strstr(buf, "reg 2 0x00003500 ]"),
        "udp 5353->53: l4proto 17, dport and port in network order:\n%s", buf);
  nftnl_rule_free(r);

  r = netfw_rule_dnat("prerouting", &a6, &tcp, tag);
  rule_text(r, buf, sizeof(buf));
  CHECK(strstr(buf, "[ meta load nfproto => reg 1 ]\n  [ cmp eq reg 1 0x0000000a ]") &&
            strstr(buf, "[ immediate reg 1 0x000000fd 0x00000000 0x00000000 0x02000000 ]") &&
            strstr(buf, "[ nat dnat ip6 addr_min reg 1 proto_min reg 2 flags 0x2 ]"),
        "dnat to [fd00::2]:80 is an ip6 dnat of 16 bytes:\n%s", buf);
  nftnl_rule_free(r);
}

static const char masq4[] = "inet berth postrouting\n"
                            "  [ meta load nfproto => reg 1 ]\n"
                            "  [ cmp eq reg 1 0x00000002 ]\n"
                            "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
                            "  [ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]\n"
                            "  [ cmp eq reg 1 0x0000580a ]\n"
                            "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
                            "  [ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]\n"
                            "  [ cmp neq reg 1 0x0000580a ]\n"
                            "  [ meta load oifname => reg 1 ]\n"
                            "  [ cmp neq reg 1 0x74726562 0x00003068 0x00000000 0x00000000 ]\n"
                            "  [ masq ]\n";

static void test_masq_rules(void)
{
  char buf[4096];
  struct net_prefix s4 = prefix(AF_INET, "10.88.3.4", 16); /* host bits: masked off */
  struct nftnl_rule *r = netfw_rule_masq(&s4, "berth0");
  rule_text(r, buf, sizeof(buf));
  CHECK(strncmp(buf, masq4, strlen(masq4)) == 0, "masquerade 10.88.0.0/16:\n%s", buf);
  CHECK(r && strcmp(netfw_rule_comment(r), "berth-masq:10.88.0.0/16") == 0, "masq comment: %s",
        r ? netfw_rule_comment(r) : "(no rule)");
  nftnl_rule_free(r);

  struct net_prefix s6 = prefix(AF_INET6, "fd00:1:2:3::", 60);
  r = netfw_rule_masq(&s6, "br-x");
  rule_text(r, buf, sizeof(buf));
  CHECK(strstr(buf, "[ cmp eq reg 1 0x0000000a ]") &&
            strstr(buf, "[ payload load 16b @ network header + 8 => reg 1 ]") &&
            strstr(buf, "[ payload load 16b @ network header + 24 => reg 1 ]") &&
            strstr(buf, "[ cmp neq reg 1 0x782d7262 0x00000000 0x00000000 0x00000000 ]"),
        "masquerade of an IPv6 subnet: nfproto ipv6, saddr and daddr, oifname:\n%s", buf);
  CHECK(strstr(buf, "& 0xffffffff 0xf0ffffff 0x00000000 0x00000000 )") &&
            strstr(buf, "[ cmp eq reg 1 0x010000fd 0x00000200 0x00000000 0x00000000 ]") &&
            strstr(buf, "[ cmp neq reg 1 0x010000fd 0x00000200 0x00000000 0x00000000 ]"),
        "/60: mask and network fd00:1:2::/60 (host bits off):\n%s", buf);
  CHECK(r && strcmp(netfw_rule_comment(r), "berth-masq:fd00:1:2::/60") == 0, "v6 comment: %s",
        r ? netfw_rule_comment(r) : "(no rule)");
  nftnl_rule_free(r);
}

static void test_refused(void)
{
  struct net_prefix a4 = prefix(AF_INET, "10.88.0.2", 16), none = {0};
  struct net_port sctp = {1, 1, IPPROTO_SCTP}, tcp = {1, 1, IPPROTO_TCP};
  errno = 0;
  CHECK(netfw_rule_dnat("prerouting", &a4, &sctp, "t") == NULL && errno == EINVAL, "sctp refused");
  CHECK(netfw_rule_dnat("prerouting", &none, &tcp, "t") == NULL, "no address family refused");
  CHECK(netfw_rule_masq(&a4, "a-name-of-16-chr") == NULL, "bridge name over IFNAMSIZ refused");
}

void netfw_unit_tests(void)
{
  test_holder_tag();
  test_dnat_rules();
  test_masq_rules();
  test_refused();
}
