/* Unit tests of netns/config.c: the dev.berth.net* annotations. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "../../netns/netns.h"
#include "check.h"

static const char *fmt(const struct net_prefix *p, bool with_len)
{
  static char buf[4][64];
  static int i;
  i = (i + 1) % 4;
  return net_prefix_format(p, with_len, buf[i], sizeof(buf[i]));
}

/* Setting key=val on c succeeds. */
static void set_ok(struct net_config *c, const char *key, const char *val, int line)
{
  struct berth_err *err = NULL;
  CHECK(netns_config_set(c, key, val, &err) == 0, "line %d: %s=%s rejected: %s", line, key, val,
        err ? err->msg : "");
  berth_err_free(&err);
}

/* Setting key=val on a default config fails with exactly `want`. */
static void set_bad(const char *key, const char *val, const char *want, int line)
{
  struct net_config c;
  struct berth_err *err = NULL;
  netns_config_init(&c);
  int r = netns_config_set(&c, key, val, &err);
  CHECK(r < 0 && err && strcmp(err->msg, want) == 0, "line %d: %s=%s: got '%s', want '%s'", line,
        key, val, err ? err->msg : "(accepted)", want);
  berth_err_free(&err);
}

/* Setting the pairs (NULL-terminated) passes, then the check fails with want
 * (NULL: the check passes). */
static void check_cfg(const char *const *kv, const char *want, int line)
{
  struct net_config c;
  struct berth_err *err = NULL;
  netns_config_init(&c);
  for (size_t i = 0; kv[i]; i += 2)
    set_ok(&c, kv[i], kv[i + 1], line);
  int r = netns_config_check(&c, &err);
  if (want == NULL)
    CHECK(r == 0, "line %d: check failed: %s", line, err ? err->msg : "");
  else
    CHECK(r < 0 && err && strcmp(err->msg, want) == 0, "line %d: check: got '%s', want '%s'", line,
          err ? err->msg : "(passed)", want);
  berth_err_free(&err);
}

#define OK(c, k, v) set_ok(c, k, v, __LINE__)
#define BAD(k, v, want) set_bad(k, v, want, __LINE__)
#define CFG(want, ...) check_cfg((const char *const[]){__VA_ARGS__, NULL}, want, __LINE__)

static void test_defaults(void)
{
  struct net_config c;
  netns_config_init(&c);
  CHECK(c.mode == NET_MODE_NONE && strcmp(c.bridge, "berth0") == 0 && c.nat, "defaults");
  CHECK(strcmp(fmt(&c.subnet4, true), "10.88.0.0/16") == 0 && c.subnet6.family == 0,
        "default subnet %s", fmt(&c.subnet4, true));
  CHECK(c.ip4.family == 0 && c.ip6.family == 0 && c.nports == 0 && c.mtu == 0, "no statics");
  static const char *const keys[] = {"net",      "net.bridge",  "net.subnet", "net.ip",
                                     "net.ipv6", "net.publish", "net.nat",    "net.mtu"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    CHECK(netns_config_is_key(keys[i]), "%s is a key", keys[i]);
  CHECK(!netns_config_is_key("net.foo") && !netns_config_is_key("network") &&
            !netns_config_is_key("dev.berth.net") && !netns_config_is_key(""),
        "not keys");
  BAD("net.foo", "x", "\"net.foo\": not a network key");
}

static void test_parsers(void)
{
  struct net_prefix p;
  struct berth_err *err = NULL;
  CHECK(net_prefix_parse("10.88.0.5/16", &p, &err) == 0 && p.family == AF_INET && p.len == 16 &&
            strcmp(fmt(&p, true), "10.88.0.5/16") == 0 && strcmp(fmt(&p, false), "10.88.0.5") == 0,
        "v4 prefix keeps host bits");
  CHECK(net_prefix_parse("FD88:0::5/64", &p, &err) == 0 && p.family == AF_INET6 &&
            strcmp(fmt(&p, true), "fd88::5/64") == 0,
        "v6 prefix canonical %s", fmt(&p, true));
  CHECK(net_prefix_parse("0.0.0.0/0", &p, &err) == 0 && p.len == 0, "/0");
  CHECK(net_addr_parse("::1", &p, &err) == 0 && p.len == 128, "addr v6 len 128");
  CHECK(net_addr_parse("192.168.1.1", &p, &err) == 0 && p.len == 32, "addr v4 len 32");
  static const char *const bad_prefix[][2] = {
      {"10.88.0.300/16", "\"10.88.0.300/16\": not an IPv4 or IPv6 prefix"},
      {"10.88.0.0", "\"10.88.0.0\": not an IPv4 or IPv6 prefix (ADDRESS/LENGTH)"},
      {"10.88.0.0/33", "\"10.88.0.0/33\": prefix length must be 0-32"},
      {"fd88::/129", "\"fd88::/129\": prefix length must be 0-128"},
      {"10.88.0.0/", "\"10.88.0.0/\": prefix length must be 0-32"},
      {"10.88.0.0/016", "\"10.88.0.0/016\": prefix length must be 0-32"},
      {"10.88.0.0/+16", "\"10.88.0.0/+16\": prefix length must be 0-32"},
      {"10.88.0.0/16 ", "\"10.88.0.0/16 \": prefix length must be 0-32"},
      {"/16", "\"/16\": not an IPv4 or IPv6 prefix"},
      {"10.88/16", "\"10.88/16\": not an IPv4 or IPv6 prefix"},
      {"fe80::1%eth0/64", "\"fe80::1%eth0/64\": not an IPv4 or IPv6 prefix"},
  };
  for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
    CHECK(net_prefix_parse(bad_prefix[i][0], &p, &err) < 0 &&
              strcmp(err->msg, bad_prefix[i][1]) == 0,
          "prefix %s: %s", bad_prefix[i][0], err ? err->msg : "(accepted)");
    berth_err_free(&err);
  }
  static const char *const bad_addr[] = {"", "10.0.0", "10.0.0.1/32", "1.2.3.4.5", "::g", " ::1"};
  for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
    CHECK(net_addr_parse(bad_addr[i], &p, &err) < 0 && strstr(err->msg, "not an IPv4 or IPv6"),
          "addr '%s' refused", bad_addr[i]);
    berth_err_free(&err);
  }
  memset(&p, 0, sizeof(p));
  CHECK(strcmp(fmt(&p, true), "") == 0, "unset formats empty");
}

static void test_subnet_math(void)
{
  struct net_prefix s, a, gw;
  struct berth_err *err = NULL;
  net_prefix_parse("10.88.0.0/16", &s, &err);
  net_subnet_gateway(&s, &gw);
  CHECK(strcmp(fmt(&gw, true), "10.88.0.1/16") == 0, "v4 gateway %s", fmt(&gw, true));
  net_prefix_parse("fd88::/64", &s, &err);
  net_subnet_gateway(&s, &gw);
  CHECK(strcmp(fmt(&gw, true), "fd88::1/64") == 0, "v6 gateway %s", fmt(&gw, true));
  net_prefix_parse("10.88.0.0/16", &s, &err);
  net_addr_parse("10.88.255.255", &a, &err);
  CHECK(net_prefix_contains(&s, &a), "last address inside");
  net_addr_parse("10.89.0.0", &a, &err);
  CHECK(!net_prefix_contains(&s, &a), "next subnet outside");
  net_addr_parse("fd88::1", &a, &err);
  CHECK(!net_prefix_contains(&s, &a), "other family outside");
  net_prefix_parse("10.88.0.0/17", &s, &err);
  net_addr_parse("10.88.128.1", &a, &err);
  CHECK(!net_prefix_contains(&s, &a), "/17: bit 17 matters");
  net_prefix_parse("fd88::/125", &s, &err);
  net_addr_parse("fd88::7", &a, &err);
  CHECK(net_prefix_contains(&s, &a), "/125 last");
  net_addr_parse("fd88::8", &a, &err);
  CHECK(!net_prefix_contains(&s, &a), "/125 past the end");
  CHECK(err == NULL, "no error in the math test");
}

static void test_mode_bridge_nat_mtu(void)
{
  struct net_config c;
  netns_config_init(&c);
  OK(&c, "net", "bridge");
  CHECK(c.mode == NET_MODE_BRIDGE, "bridge");
  OK(&c, "net", "slirp");
  CHECK(c.mode == NET_MODE_SLIRP, "slirp");
  OK(&c, "net", "none");
  CHECK(c.mode == NET_MODE_NONE, "none");
  BAD("net", "host", "\"host\": must be none, bridge or slirp");
  BAD("net", "Bridge", "\"Bridge\": must be none, bridge or slirp");
  BAD("net", "", "\"\": must be none, bridge or slirp");

  OK(&c, "net.bridge", "br-test_1.x");
  CHECK(strcmp(c.bridge, "br-test_1.x") == 0, "bridge name");
  OK(&c, "net.bridge", "abcdefghijklmno");
  CHECK(strcmp(c.bridge, "abcdefghijklmno") == 0, "15 chars");
  BAD("net.bridge", "abcdefghijklmnop",
      "\"abcdefghijklmnop\": interface name must be 1-15 characters");
  BAD("net.bridge", "", "\"\": interface name must be 1-15 characters");
  BAD("net.bridge", "a/b", "\"a/b\": interface name must not contain '/', ':' or white space");
  BAD("net.bridge", "br:0", "\"br:0\": interface name must not contain '/', ':' or white space");
  BAD("net.bridge", "br 0", "\"br 0\": interface name must not contain '/', ':' or white space");
  BAD("net.bridge", "br\t0", "\"br\t0\": interface name must not contain '/', ':' or white space");
  BAD("net.bridge", ".", "\".\": interface name must not be . or ..");
  BAD("net.bridge", "..", "\"..\": interface name must not be . or ..");

  OK(&c, "net.nat", "false");
  CHECK(!c.nat, "nat off");
  OK(&c, "net.nat", "true");
  CHECK(c.nat, "nat on");
  BAD("net.nat", "yes", "\"yes\": must be true or false");
  BAD("net.nat", "1", "\"1\": must be true or false");

  OK(&c, "net.mtu", "576");
  CHECK(c.mtu == 576, "mtu 576");
  OK(&c, "net.mtu", "65535");
  CHECK(c.mtu == 65535, "mtu max");
  OK(&c, "net.mtu", "9000");
  CHECK(c.mtu == 9000, "jumbo");
  static const char *const bad_mtu[] = {"575", "65536", "0", "", "1500x", "-1500", "01500", "1e3"};
  for (size_t i = 0; i < sizeof(bad_mtu) / sizeof(bad_mtu[0]); i++) {
    char want[64];
    snprintf(want, sizeof(want), "\"%s\": MTU must be 576-65535", bad_mtu[i]);
    BAD("net.mtu", bad_mtu[i], want);
  }
}

static void test_subnet_key(void)
{
  struct net_config c;
  netns_config_init(&c);
  OK(&c, "net.subnet", "10.88.0.0/16,fd88::/64");
  CHECK(strcmp(fmt(&c.subnet4, true), "10.88.0.0/16") == 0 &&
            strcmp(fmt(&c.subnet6, true), "fd88::/64") == 0,
        "dual stack");
  OK(&c, "net.subnet", "fd99::/120");
  CHECK(c.subnet4.family == 0 && strcmp(fmt(&c.subnet6, true), "fd99::/120") == 0,
        "v6 only replaces both");
  OK(&c, "net.subnet", "fd88::/64,172.20.0.0/24");
  CHECK(strcmp(fmt(&c.subnet4, true), "172.20.0.0/24") == 0 && c.subnet6.family == AF_INET6,
        "either order");
  OK(&c, "net.subnet", "10.0.0.0/8");
  OK(&c, "net.subnet", "192.168.7.4/30");
  OK(&c, "net.subnet", "fd00::4/126");
  CHECK(c.subnet6.len == 126 && c.subnet4.family == 0, "v6 /126");

  BAD("net.subnet", "10.88.0.5/16", "\"10.88.0.5/16\": host bits set (did you mean 10.88.0.0/16?)");
  BAD("net.subnet", "fd88::1/64", "\"fd88::1/64\": host bits set (did you mean fd88::/64?)");
  BAD("net.subnet", "10.88.0.0/31",
      "\"10.88.0.0/31\": IPv4 subnet prefix length must be 8-30 (/31 and /32 leave no address "
      "for containers; a pool larger than /8 is not useful)");
  BAD("net.subnet", "10.0.0.0/7",
      "\"10.0.0.0/7\": IPv4 subnet prefix length must be 8-30 (/31 and /32 leave no address "
      "for containers; a pool larger than /8 is not useful)");
  BAD("net.subnet", "fd88::/48",
      "\"fd88::/48\": IPv6 subnet prefix length must be 64-126 (/127 and /128 leave no address "
      "for containers; a link is at most a /64)");
  BAD("net.subnet", "fd88::/127",
      "\"fd88::/127\": IPv6 subnet prefix length must be 64-126 (/127 and /128 leave no address "
      "for containers; a link is at most a /64)");
  BAD("net.subnet", "10.88.0.0/16,10.89.0.0/16",
      "\"10.88.0.0/16,10.89.0.0/16\": at most one IPv4 and one IPv6 subnet");
  BAD("net.subnet", "10.88.0.0/16,fd88::/64,10.9.0.0/16",
      "\"10.88.0.0/16,fd88::/64,10.9.0.0/16\": at most 2 comma-separated entries");
  BAD("net.subnet", "", "\"\": empty entry in the comma-separated list");
  BAD("net.subnet", "10.88.0.0/16,", "\"10.88.0.0/16,\": empty entry in the comma-separated list");
  BAD("net.subnet", "10.88.0/16", "\"10.88.0/16\": not an IPv4 or IPv6 prefix");
  BAD("net.subnet", "10.88.0.0", "\"10.88.0.0\": not an IPv4 or IPv6 prefix (ADDRESS/LENGTH)");
  BAD("net.subnet",
      "10.88.0.0/16,fd88:aaaa:bbbb:cccc:dddd:eeee:ffff:1111:2222:3333:4444:5555:6666::/64",
      "\"fd88:aaaa:bbbb:cccc:dddd:eeee:ffff:1111:2222:3333:4444:5555:6666::/64\": too long");
  /* A failed set leaves the config as it was. */
  struct berth_err *err = NULL;
  netns_config_init(&c);
  CHECK(netns_config_set(&c, "net.subnet", "fd88::/64,10.0.0.1/8", &err) < 0 &&
            c.subnet4.family == AF_INET && c.subnet6.family == 0,
        "failed set changes nothing");
  berth_err_free(&err);
}

static void test_ip_keys(void)
{
  struct net_config c;
  netns_config_init(&c);
  OK(&c, "net.ip", "10.88.0.5");
  CHECK(strcmp(fmt(&c.ip4, false), "10.88.0.5") == 0 && c.ip6.family == 0, "ip4");
  OK(&c, "net.ip", "fd88::5");
  CHECK(strcmp(fmt(&c.ip6, false), "fd88::5") == 0 && c.ip4.family == AF_INET, "net.ip v6");
  netns_config_init(&c);
  OK(&c, "net.ip", "fd88::5,10.88.0.5");
  CHECK(c.ip4.family == AF_INET && c.ip6.family == AF_INET6, "both in one");
  OK(&c, "net.ipv6", "fd88:0:0::5");
  CHECK(strcmp(fmt(&c.ip6, false), "fd88::5") == 0, "same v6 twice is fine");
  struct berth_err *err = NULL;
  CHECK(netns_config_set(&c, "net.ipv6", "fd88::6", &err) < 0 &&
            strcmp(err->msg, "\"fd88::6\": conflicts with the address fd88::5 already given") == 0,
        "net.ip and net.ipv6 disagree: %s", err ? err->msg : "");
  berth_err_free(&err);

  BAD("net.ip", "10.88.0.256", "\"10.88.0.256\": not an IPv4 or IPv6 address");
  BAD("net.ip", "10.88.0.5/16", "\"10.88.0.5/16\": not an IPv4 or IPv6 address");
  BAD("net.ip", "10.88.0.5,10.88.0.6",
      "\"10.88.0.5,10.88.0.6\": at most one IPv4 and one IPv6 address");
  BAD("net.ip", "fd88::5,fd88::6", "\"fd88::5,fd88::6\": at most one IPv4 and one IPv6 address");
  BAD("net.ip", "", "\"\": empty entry in the comma-separated list");
  BAD("net.ipv6", "10.88.0.5", "\"10.88.0.5\": not an IPv6 address");
  BAD("net.ipv6", "fd88::zz", "\"fd88::zz\": not an IPv4 or IPv6 address");
}

static void test_publish_key(void)
{
  struct net_config c;
  netns_config_init(&c);
  OK(&c, "net.publish", "8080:80");
  CHECK(c.nports == 1 && c.ports[0].host_port == 8080 && c.ports[0].cont_port == 80 &&
            c.ports[0].proto == IPPROTO_TCP,
        "default tcp");
  OK(&c, "net.publish", "1:65535/udp,65535:1/tcp,53:53/UDP,443:443/Tcp");
  CHECK(c.nports == 4 && c.ports[0].host_port == 1 && c.ports[0].cont_port == 65535 &&
            c.ports[0].proto == IPPROTO_UDP && c.ports[1].proto == IPPROTO_TCP &&
            c.ports[2].proto == IPPROTO_UDP && c.ports[3].proto == IPPROTO_TCP,
        "list, limits, both protocols, any case");
  OK(&c, "net.publish", "9090:90");
  CHECK(c.nports == 1, "a new list replaces the old");

  char many[NET_MAX_PORTS * 12 + 16] = "";
  for (int i = 0; i < NET_MAX_PORTS; i++)
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d:80", i ? "," : "", 1000 + i);
  OK(&c, "net.publish", many);
  CHECK(c.nports == NET_MAX_PORTS, "%d mappings", NET_MAX_PORTS);
  strcat(many, ",2000:80");
  struct berth_err *err = NULL;
  CHECK(netns_config_set(&c, "net.publish", many, &err) < 0 &&
            strstr(err->msg, "at most 64 comma-separated entries"),
        "65 mappings: %s", err ? err->msg : "(accepted)");
  berth_err_free(&err);

  BAD("net.publish", "8080:0/tcp", "\"8080:0/tcp\": container port must be 1-65535");
  BAD("net.publish", "8080:65536", "\"8080:65536\": container port must be 1-65535");
  BAD("net.publish", "8080:", "\"8080:\": container port must be 1-65535");
  BAD("net.publish", "0:80", "\"0:80\": host port must be 1-65535");
  BAD("net.publish", "http:80", "\"http:80\": host port must be 1-65535");
  BAD("net.publish", ":80", "\":80\": host port must be 1-65535");
  BAD("net.publish", "-1:80", "\"-1:80\": host port must be 1-65535");
  BAD("net.publish", "127.0.0.1:8080:80", "\"127.0.0.1:8080:80\": host port must be 1-65535");
  BAD("net.publish", "8080", "\"8080\": must be HOSTPORT:CPORT[/tcp|/udp]");
  BAD("net.publish", "8080:80/sctp", "\"sctp\": protocol must be tcp or udp");
  BAD("net.publish", "8080:80/", "\"\": protocol must be tcp or udp");
  BAD("net.publish", "8080:80,,9090:90",
      "\"8080:80,,9090:90\": empty entry in the comma-separated list");
  BAD("net.publish", "", "\"\": empty entry in the comma-separated list");
}

static void test_check(void)
{
  CFG(NULL, "net", "none");
  CFG(NULL, "net", "bridge");
  CFG(NULL, "net", "bridge", "net.ip", "10.88.0.2");
  CFG(NULL, "net", "bridge", "net.ip", "10.88.255.254");
  CFG(NULL, "net", "bridge", "net.subnet", "10.88.0.0/16,fd88::/64", "net.ip", "10.88.0.9",
      "net.ipv6", "fd88::2");
  CFG(NULL, "net", "bridge", "net.subnet", "fd88::/64", "net.ipv6", "fd88::ffff:ffff:ffff:ffff");
  CFG(NULL, "net", "bridge", "net.publish", "8080:80,8080:80/udp,8081:80");
  CFG(NULL, "net", "bridge", "net.subnet", "fd88::/64", "net.mtu", "1280");
  CFG(NULL, "net", "bridge", "net.mtu", "576");

  CFG("net.ip: \"10.89.0.5\" is outside the subnet 10.88.0.0/16", "net", "bridge", "net.ip",
      "10.89.0.5");
  CFG("net.ip: \"10.88.0.0\" is the network address of 10.88.0.0/16", "net", "bridge", "net.ip",
      "10.88.0.0");
  CFG("net.ip: \"10.88.0.1\" is the gateway address of 10.88.0.0/16", "net", "bridge", "net.ip",
      "10.88.0.1");
  CFG("net.ip: \"10.88.255.255\" is the broadcast address of 10.88.0.0/16", "net", "bridge",
      "net.ip", "10.88.255.255");
  CFG("net.ip: \"10.88.0.5\": net.subnet has no IPv4 subnet", "net", "bridge", "net.subnet",
      "fd88::/64", "net.ip", "10.88.0.5");
  CFG("net.ip/net.ipv6: \"fd88::5\": net.subnet has no IPv6 subnet", "net", "bridge", "net.ipv6",
      "fd88::5");
  CFG("net.ip/net.ipv6: \"fd88::\" is the network address of fd88::/64", "net", "bridge",
      "net.subnet", "fd88::/64", "net.ipv6", "fd88::");
  CFG("net.ip/net.ipv6: \"fd88::1\" is the gateway address of fd88::/64", "net", "bridge",
      "net.subnet", "fd88::/64", "net.ip", "fd88::1");
  CFG("net.ip/net.ipv6: \"fd89::5\" is outside the subnet fd88::/64", "net", "bridge", "net.subnet",
      "fd88::/64", "net.ipv6", "fd89::5");
  CFG("net.ip: a static address needs net=bridge", "net.ip", "10.88.0.5");
  CFG("net.publish: needs net=bridge", "net.publish", "8080:80");
  CFG("net.publish: needs net=bridge", "net", "slirp", "net.publish", "8080:80");
  CFG("net.publish: host port 8080/tcp is published twice", "net", "bridge", "net.publish",
      "8080:80,8080:81/tcp");
  CFG("net.publish: host port 53/udp is published twice", "net", "bridge", "net.publish",
      "53:53/udp,54:54,53:5353/udp");
  CFG("net.mtu: 1279 is below 1280, the minimum of IPv6", "net", "bridge", "net.subnet",
      "10.88.0.0/16,fd88::/64", "net.mtu", "1279");

  /* Bridge mode with no subnet can only come from a caller building it. */
  struct net_config c;
  struct berth_err *err = NULL;
  netns_config_init(&c);
  c.mode = NET_MODE_BRIDGE;
  memset(&c.subnet4, 0, sizeof(c.subnet4));
  CHECK(netns_config_check(&c, &err) < 0 &&
            strcmp(err->msg, "net.subnet: bridge mode needs an IPv4 or IPv6 subnet") == 0,
        "no subnet: %s", err ? err->msg : "(passed)");
  berth_err_free(&err);
}

void netcfg_unit_tests(void)
{
  test_defaults();
  test_parsers();
  test_subnet_math();
  test_mode_bridge_nat_mtu();
  test_subnet_key();
  test_ip_keys();
  test_publish_key();
  test_check();
}
