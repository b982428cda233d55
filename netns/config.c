/* The dev.berth.net* annotations: parsing and cross-field checks. Pure: no
 * syscalls, so the unit tests cover every spelling without root. Errors name
 * the value and what is wrong with it; the caller prefixes the annotation. */
#include <arpa/inet.h>
#include <ctype.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "internal.h"
#include "netns.h"

/* Longest list entry: an IPv6 prefix ("ffff:…:255.255.255.255/128") or a
 * port mapping ("65535:65535/tcp"). */
#define ITEM_MAX 64

static size_t family_bytes(int family)
{
  return family == AF_INET ? 4 : 16;
}

static unsigned family_bits(int family)
{
  return family == AF_INET ? 32 : 128;
}

/* ---- addresses and prefixes ---- */

static bool addr_text_parse(const char *s, struct net_prefix *p)
{
  memset(p, 0, sizeof(*p));
  if (inet_pton(AF_INET, s, p->addr) == 1)
    p->family = AF_INET;
  else if (inet_pton(AF_INET6, s, p->addr) == 1)
    p->family = AF_INET6;
  else
    return false;
  p->len = family_bits(p->family);
  return true;
}

/* A decimal number without sign, spaces or leading zeros, at most max. */
static bool number_parse(const char *s, size_t n, unsigned max, unsigned *out)
{
  unsigned v = 0;
  if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
    return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

int net_addr_parse(const char *s, struct net_prefix *p, struct berth_err **err)
{
  if (!addr_text_parse(s, p))
    return berth_err_set(err, 0, "\"%s\": not an IPv4 or IPv6 address", s);
  return 0;
}

int net_prefix_parse(const char *s, struct net_prefix *p, struct berth_err **err)
{
  const char *slash = strchr(s, '/');
  char host[INET6_ADDRSTRLEN];
  size_t hn = slash ? (size_t)(slash - s) : 0;
  if (slash == NULL || hn >= sizeof(host))
    return berth_err_set(err, 0, "\"%s\": not an IPv4 or IPv6 prefix (ADDRESS/LENGTH)", s);
  memcpy(host, s, hn);
  host[hn] = '\0';
  struct net_prefix tmp;
  if (!addr_text_parse(host, &tmp))
    return berth_err_set(err, 0, "\"%s\": not an IPv4 or IPv6 prefix", s);
  unsigned bits = family_bits(tmp.family);
  if (!number_parse(slash + 1, strlen(slash + 1), bits, &tmp.len))
    return berth_err_set(err, 0, "\"%s\": prefix length must be 0-%u", s, bits);
  *p = tmp;
  return 0;
}

const char *net_prefix_format(const struct net_prefix *p, bool with_len, char *buf, size_t n)
{
  char a[INET6_ADDRSTRLEN];
  if (p->family == 0 || inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL) {
    snprintf(buf, n, "%s", "");
    return buf;
  }
  if (with_len)
    snprintf(buf, n, "%s/%u", a, p->len);
  else
    snprintf(buf, n, "%s", a);
  return buf;
}

/* p with every bit past its prefix length cleared. */
static void prefix_network(const struct net_prefix *p, struct net_prefix *net)
{
  *net = *p;
  for (unsigned bit = p->len; bit < family_bits(p->family); bit++)
    net->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

/* p with every bit past its prefix length set (the IPv4 broadcast). */
static void prefix_last(const struct net_prefix *p, struct net_prefix *last)
{
  *last = *p;
  for (unsigned bit = p->len; bit < family_bits(p->family); bit++)
    last->addr[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

static bool addr_equal(const struct net_prefix *a, const struct net_prefix *b)
{
  return a->family == b->family && memcmp(a->addr, b->addr, family_bytes(a->family)) == 0;
}

bool net_prefix_contains(const struct net_prefix *subnet, const struct net_prefix *addr)
{
  if (subnet->family == 0 || subnet->family != addr->family)
    return false;
  struct net_prefix a = *addr, n;
  a.len = subnet->len;
  prefix_network(&a, &a);
  prefix_network(subnet, &n);
  return addr_equal(&a, &n);
}

void net_subnet_gateway(const struct net_prefix *subnet, struct net_prefix *gw)
{
  prefix_network(subnet, gw);
  /* Host bits are at least 2 (/30, /126): the low bit is one of them. */
  gw->addr[family_bytes(gw->family) - 1] |= 1;
}

int net_subnet_parse(const char *s, struct net_prefix *p, struct berth_err **err)
{
  struct net_prefix tmp = {0}, net = {0};
  if (net_prefix_parse(s, &tmp, err) < 0)
    return -1;
  if (tmp.family == AF_INET && (tmp.len < 8 || tmp.len > 30))
    return berth_err_set(err, 0,
                         "\"%s\": IPv4 subnet prefix length must be 8-30 (/31 and /32 leave no "
                         "address for containers; a pool larger than /8 is not useful)",
                         s);
  if (tmp.family == AF_INET6 && (tmp.len < 64 || tmp.len > 126))
    return berth_err_set(err, 0,
                         "\"%s\": IPv6 subnet prefix length must be 64-126 (/127 and /128 leave "
                         "no address for containers; a link is at most a /64)",
                         s);
  prefix_network(&tmp, &net);
  if (!addr_equal(&tmp, &net)) {
    char buf[64];
    return berth_err_set(err, 0, "\"%s\": host bits set (did you mean %s?)", s,
                         net_prefix_format(&net, true, buf, sizeof(buf)));
  }
  *p = tmp;
  return 0;
}

/* ---- comma-separated lists ---- */

/* Splits val at commas into items (each shorter than ITEM_MAX), at most max. */
static int list_split(const char *val, char items[][ITEM_MAX], size_t max, size_t *n,
                      struct berth_err **err)
{
  const char *s = val;
  *n = 0;
  for (;;) {
    size_t len = strcspn(s, ",");
    if (len == 0)
      return berth_err_set(err, 0, "\"%s\": empty entry in the comma-separated list", val);
    if (len >= ITEM_MAX)
      return berth_err_set(err, 0, "\"%.*s\": too long", (int)len, s);
    if (*n == max)
      return berth_err_set(err, 0, "\"%s\": at most %zu comma-separated entries", val, max);
    memcpy(items[*n], s, len);
    items[(*n)++][len] = '\0';
    if (s[len] == '\0')
      return 0;
    s += len + 1;
  }
}

/* ---- ports ---- */

static int port_field(const char *item, const char *s, size_t n, const char *what, uint16_t *out,
                      struct berth_err **err)
{
  unsigned v;
  if (!number_parse(s, n, 65535, &v) || v == 0)
    return berth_err_set(err, 0, "\"%s\": %s port must be 1-65535", item, what);
  *out = (uint16_t)v;
  return 0;
}

static int port_parse(const char *item, struct net_port *p, struct berth_err **err)
{
  const char *colon = strchr(item, ':');
  if (colon == NULL)
    return berth_err_set(err, 0, "\"%s\": must be HOSTPORT:CPORT[/tcp|/udp]", item);
  const char *slash = strchr(colon, '/');
  const char *end = slash ? slash : colon + strlen(colon);
  if (port_field(item, item, (size_t)(colon - item), "host", &p->host_port, err) < 0 ||
      port_field(item, colon + 1, (size_t)(end - colon - 1), "container", &p->cont_port, err) < 0)
    return -1;
  p->proto = IPPROTO_TCP;
  if (slash == NULL || strcasecmp(slash + 1, "tcp") == 0)
    return 0;
  if (strcasecmp(slash + 1, "udp") == 0) {
    p->proto = IPPROTO_UDP;
    return 0;
  }
  return berth_err_set(err, 0, "\"%s\": protocol must be tcp or udp", slash + 1);
}

int net_ports_parse(const char *s, struct net_port *ports, size_t max, size_t *n,
                    struct berth_err **err)
{
  char items[NET_MAX_PORTS][ITEM_MAX];
  size_t count;
  if (max > NET_MAX_PORTS)
    max = NET_MAX_PORTS;
  if (list_split(s, items, max, &count, err) < 0)
    return -1;
  for (size_t i = 0; i < count; i++)
    if (port_parse(items[i], &ports[i], err) < 0)
      return -1;
  *n = count;
  return 0;
}

/* ---- one setter per key ---- */

static int set_mode(struct net_config *c, const char *val, struct berth_err **err)
{
  static const char *const names[] = {
      [NET_MODE_NONE] = "none", [NET_MODE_BRIDGE] = "bridge", [NET_MODE_SLIRP] = "slirp"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(val, names[i]) == 0) {
      c->mode = (enum net_mode)i;
      return 0;
    }
  }
  return berth_err_set(err, 0, "\"%s\": must be none, bridge or slirp", val);
}

const char *ifname_problem(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n >= IFNAMSIZ)
    return "must be 1-15 characters";
  if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return "must not be . or ..";
  for (size_t i = 0; i < n; i++)
    if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
      return "must not contain '/', ':' or white space";
  return NULL;
}

static int set_bridge(struct net_config *c, const char *val, struct berth_err **err)
{
  const char *why = ifname_problem(val);
  if (why)
    return berth_err_set(err, 0, "\"%s\": interface name %s", val, why);
  memcpy(c->bridge, val, strlen(val) + 1);
  return 0;
}

/* "A" or "A,B": up to one IPv4 and one IPv6 item, each through parse;
 * `what` names them in the error ("subnet", "address"). */
static int parse_pair(const char *val,
                      int (*parse)(const char *, struct net_prefix *, struct berth_err **),
                      const char *what, char items[2][ITEM_MAX], struct net_prefix p[2], size_t *n,
                      struct berth_err **err)
{
  if (list_split(val, items, 2, n, err) < 0)
    return -1;
  for (size_t i = 0; i < *n; i++)
    if (parse(items[i], &p[i], err) < 0)
      return -1;
  if (*n == 2 && p[0].family == p[1].family)
    return berth_err_set(err, 0, "\"%s\": at most one IPv4 and one IPv6 %s", val, what);
  return 0;
}

/* Both subnets are replaced: "fd88::/64" alone means IPv6 only. */
static int set_subnet(struct net_config *c, const char *val, struct berth_err **err)
{
  char items[2][ITEM_MAX];
  size_t n;
  struct net_prefix p[2] = {0};
  if (parse_pair(val, net_subnet_parse, "subnet", items, p, &n, err) < 0)
    return -1;
  memset(&c->subnet4, 0, sizeof(c->subnet4));
  memset(&c->subnet6, 0, sizeof(c->subnet6));
  for (size_t i = 0; i < n; i++)
    *(p[i].family == AF_INET ? &c->subnet4 : &c->subnet6) = p[i];
  return 0;
}

/* net.ip and net.ipv6 may both name the IPv6 address; which annotation comes
 * last must not decide, so two different ones are refused. */
static int set_static(struct net_config *c, const char *text, const struct net_prefix *a,
                      struct berth_err **err)
{
  struct net_prefix *dst = a->family == AF_INET ? &c->ip4 : &c->ip6;
  char buf[64];
  if (dst->family != 0 && !addr_equal(dst, a))
    return berth_err_set(err, 0, "\"%s\": conflicts with the address %s already given", text,
                         net_prefix_format(dst, false, buf, sizeof(buf)));
  *dst = *a;
  return 0;
}

static int set_ip(struct net_config *c, const char *val, struct berth_err **err)
{
  char items[2][ITEM_MAX];
  size_t n;
  struct net_prefix p[2] = {0};
  if (parse_pair(val, net_addr_parse, "address", items, p, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (set_static(c, items[i], &p[i], err) < 0)
      return -1;
  return 0;
}

static int set_ipv6(struct net_config *c, const char *val, struct berth_err **err)
{
  struct net_prefix p;
  if (net_addr_parse(val, &p, err) < 0)
    return -1;
  if (p.family != AF_INET6)
    return berth_err_set(err, 0, "\"%s\": not an IPv6 address", val);
  return set_static(c, val, &p, err);
}

static int set_publish(struct net_config *c, const char *val, struct berth_err **err)
{
  struct net_port ports[NET_MAX_PORTS];
  size_t n;
  if (net_ports_parse(val, ports, NET_MAX_PORTS, &n, err) < 0)
    return -1;
  memcpy(c->ports, ports, n * sizeof(ports[0]));
  c->nports = n;
  return 0;
}

static int set_nat(struct net_config *c, const char *val, struct berth_err **err)
{
  if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
    return berth_err_set(err, 0, "\"%s\": must be true or false", val);
  c->nat = val[0] == 't';
  return 0;
}

static int set_mtu(struct net_config *c, const char *val, struct berth_err **err)
{
  unsigned v;
  if (!number_parse(val, strlen(val), 65535, &v) || v < 576)
    return berth_err_set(err, 0, "\"%s\": MTU must be 576-65535", val);
  c->mtu = v;
  return 0;
}

static const struct net_key {
  const char *key;
  int (*set)(struct net_config *c, const char *val, struct berth_err **err);
} net_keys[] = {
    {"net", set_mode},    {"net.bridge", set_bridge}, {"net.subnet", set_subnet},
    {"net.ip", set_ip},   {"net.ipv6", set_ipv6},     {"net.publish", set_publish},
    {"net.nat", set_nat}, {"net.mtu", set_mtu},
};

static const struct net_key *net_key_find(const char *key)
{
  for (size_t i = 0; i < sizeof(net_keys) / sizeof(net_keys[0]); i++)
    if (strcmp(net_keys[i].key, key) == 0)
      return &net_keys[i];
  return NULL;
}

void netns_config_init(struct net_config *c)
{
  memset(c, 0, sizeof(*c));
  c->mode = NET_MODE_NONE;
  snprintf(c->bridge, sizeof(c->bridge), "%s", NET_DEFAULT_BRIDGE);
  struct berth_err *err = NULL;
  if (net_prefix_parse(NET_DEFAULT_SUBNET, &c->subnet4, &err) < 0)
    abort(); /* a constant: cannot happen */
  c->nat = true;
}

bool netns_config_is_key(const char *key)
{
  return net_key_find(key) != NULL;
}

int netns_config_set(struct net_config *c, const char *key, const char *val, struct berth_err **err)
{
  const struct net_key *k = net_key_find(key);
  if (k == NULL)
    return berth_err_set(err, 0, "\"%s\": not a network key", key);
  return k->set(c, val, err);
}

/* ---- cross-field checks ---- */

/* A static address: inside its subnet, and not an address the subnet keeps
 * for itself (network / IPv6 subnet-router anycast, gateway, IPv4 broadcast). */
static int check_static(const struct net_prefix *ip, const struct net_prefix *subnet,
                        const char *key, struct berth_err **err)
{
  char a[64], s[64];
  struct net_prefix net, gw, last;
  net_prefix_format(ip, false, a, sizeof(a));
  if (subnet->family == 0)
    return berth_err_set(err, 0, "%s: \"%s\": net.subnet has no IPv%c subnet", key, a,
                         ip->family == AF_INET ? '4' : '6');
  net_prefix_format(subnet, true, s, sizeof(s));
  if (!net_prefix_contains(subnet, ip))
    return berth_err_set(err, 0, "%s: \"%s\" is outside the subnet %s", key, a, s);
  prefix_network(subnet, &net);
  net_subnet_gateway(subnet, &gw);
  prefix_last(subnet, &last);
  const char *what = addr_equal(ip, &net)                               ? "the network address"
                     : addr_equal(ip, &gw)                              ? "the gateway address"
                     : (ip->family == AF_INET && addr_equal(ip, &last)) ? "the broadcast address"
                                                                        : NULL;
  if (what)
    return berth_err_set(err, 0, "%s: \"%s\" is %s of %s", key, a, what, s);
  return 0;
}

static int check_ports(const struct net_config *c, struct berth_err **err)
{
  if (c->nports > 0 && c->mode != NET_MODE_BRIDGE)
    return berth_err_set(err, 0, "net.publish: needs net=bridge");
  for (size_t i = 0; i < c->nports; i++)
    for (size_t j = 0; j < i; j++)
      if (c->ports[i].host_port == c->ports[j].host_port && c->ports[i].proto == c->ports[j].proto)
        return berth_err_set(err, 0, "net.publish: host port %u/%s is published twice",
                             c->ports[i].host_port,
                             c->ports[i].proto == IPPROTO_UDP ? "udp" : "tcp");
  return 0;
}

int netns_config_check(const struct net_config *c, struct berth_err **err)
{
  if (c->mode == NET_MODE_BRIDGE && c->subnet4.family == 0 && c->subnet6.family == 0)
    return berth_err_set(err, 0, "net.subnet: bridge mode needs an IPv4 or IPv6 subnet");
  if ((c->ip4.family || c->ip6.family) && c->mode != NET_MODE_BRIDGE)
    return berth_err_set(err, 0, "net.ip: a static address needs net=bridge");
  if (c->ip4.family && check_static(&c->ip4, &c->subnet4, "net.ip", err) < 0)
    return -1;
  if (c->ip6.family && check_static(&c->ip6, &c->subnet6, "net.ip/net.ipv6", err) < 0)
    return -1;
  if (c->subnet6.family && c->mtu != 0 && c->mtu < 1280)
    return berth_err_set(err, 0, "net.mtu: %u is below 1280, the minimum of IPv6", c->mtu);
  return check_ports(c, err);
}
