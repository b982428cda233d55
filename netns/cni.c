/* The CNI protocol for berth's plugin face (type berth-bridge): the network
 * config on stdin -> struct cni_config, the CNI_* environment, and the
 * result, version and error objects on stdout (CNI spec 1.0.0, and the
 * 0.3.x/0.4.0 result shape). Pure apart from cni_link_mac; cmd/cni.c does
 * the reading, the wiring and the printing. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <jansson.h>

#include "../common/cleanup.h"
#include "internal.h"
#include "netns.h"

static const char *const cni_versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
#define N_VERSIONS (sizeof(cni_versions) / sizeof(cni_versions[0]))
#define CNI_NEWEST "1.0.0"

/* Fills err with the message; cni_fail below adds the parsers' return. */
static void cni_fail_msg(struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cni_fail_msg(struct berth_err **err, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  berth_err_set(err, 0, "%s", msg);
}

/* Fills err and returns -code, the parsers' way to fail. A macro so the
 * always-negative result is visible to the static analyzer, which does not
 * follow calls into variadic functions. */
#define cni_fail(err, code, ...) (cni_fail_msg((err), __VA_ARGS__), (code) > 0 ? -(code) : -1)

bool cni_version_supported(const char *version)
{
  for (size_t i = 0; version && i < N_VERSIONS; i++)
    if (strcmp(version, cni_versions[i]) == 0)
      return true;
  return false;
}

bool cni_version_has_check(const char *version)
{
  return cni_version_supported(version) && strcmp(version, "0.4.0") >= 0;
}

/* ---- names ---- */

/* A letter or digit, then letters, digits, '_', '.', '-': what the spec
 * allows for container IDs and network names (both end up in paths). */
static bool cni_name_ok(const char *s, size_t max)
{
  size_t n = strlen(s);
  if (n == 0 || n >= max || !isalnum((unsigned char)s[0]))
    return false;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
      return false;
  return true;
}

/* ---- the network config ---- */

/* Parse state: the config being filled and what the checks at the end need. */
struct cni_parse {
  struct cni_config *cc;
  bool subnet_given;    /* ipam named a subnet: the default is gone */
  json_t *route_gw[2];  /* routes[].gw for IPv4, IPv6 (checked at the end) */
  const char *gw_given; /* flat ipam.gateway */
};

typedef int (*cni_field_fn)(struct cni_parse *p, json_t *v, const char *path,
                            struct berth_err **err);

struct cni_field {
  const char *key;
  cni_field_fn apply;
};

/* Applies each field of obj that the table knows; others are ignored, as
 * CNI asks of plugins (a config carries keys for other plugins too). */
static int fields_apply(struct cni_parse *p, json_t *obj, const char *prefix,
                        const struct cni_field *table, size_t n, struct berth_err **err)
{
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_object_get(obj, table[i].key);
    if (v == NULL || json_is_null(v))
      continue;
    char path[160];
    snprintf(path, sizeof(path), "%.64s%.64s", prefix, table[i].key);
    int r = table[i].apply(p, v, path, err);
    if (r < 0)
      return r;
  }
  return 0;
}

static int want_string(json_t *v, const char *path, const char **out, struct berth_err **err)
{
  const char *str = json_string_value(v);
  if (str == NULL || strlen(str) != json_string_length(v))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be a string", path);
  *out = str;
  return 0;
}

static int copy_string(json_t *v, const char *path, char *out, size_t n, struct berth_err **err)
{
  const char *s = NULL;
  int r = want_string(v, path, &s, err);
  if (r < 0)
    return r;
  if (strlen(s) >= n)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: longer than %zu characters", path, n - 1);
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

static int want_bool(json_t *v, const char *path, bool *out, struct berth_err **err)
{
  if (!json_is_boolean(v))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be true or false", path);
  *out = json_is_true(v);
  return 0;
}

static int want_int(json_t *v, const char *path, long long min, long long max, long long *out,
                    struct berth_err **err)
{
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an integer from %lld to %lld", path, min,
                    max);
  *out = json_integer_value(v);
  return 0;
}

static int top_version(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  const char *s = NULL;
  int r = want_string(v, path, &s, err);
  if (r < 0)
    return r;
  if (!cni_version_supported(s))
    return cni_fail(err, CNI_ERR_VERSION,
                    "%s \"%.32s\": not supported (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0)", path, s);
  snprintf(p->cc->version, sizeof(p->cc->version), "%s", s);
  return 0;
}

static int top_name(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  int r = copy_string(v, path, p->cc->name, sizeof(p->cc->name), err);
  if (r < 0)
    return r;
  if (!cni_name_ok(p->cc->name, sizeof(p->cc->name)))
    return cni_fail(err, CNI_ERR_CONFIG,
                    "%s \"%s\": must be letters, digits, '_', '.' and '-', a letter or digit first",
                    path, p->cc->name);
  return 0;
}

static int top_type(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  return copy_string(v, path, p->cc->type, sizeof(p->cc->type), err);
}

static int top_bridge(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  const char *s = NULL;
  int r = want_string(v, path, &s, err);
  if (r < 0)
    return r;
  const char *why = ifname_problem(s);
  if (why)
    return cni_fail(err, CNI_ERR_CONFIG, "%s \"%.32s\": not an interface name: %s", path, s, why);
  snprintf(p->cc->net.bridge, sizeof(p->cc->net.bridge), "%s", s);
  return 0;
}

static int top_is_gateway(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  (void)p;
  bool on = true;
  int r = want_bool(v, path, &on, err);
  if (r < 0)
    return r;
  if (!on)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s false: unsupported, berth-bridge always gives the bridge the gateway "
                    "address",
                    path);
  return 0;
}

static int top_ip_masq(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  return want_bool(v, path, &p->cc->net.nat, err);
}

static int top_mtu(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  long long mtu = 0;
  int r = want_int(v, path, 68, 65535, &mtu, err);
  if (r == 0)
    p->cc->net.mtu = (unsigned)mtu;
  return r;
}

/* ---- ipam ---- */

/* A bridge subnet: a network prefix of a useful size (net_subnet_parse). */
static int subnet_parse(const char *s, const char *path, struct net_prefix *out,
                        struct berth_err **err)
{
  if (net_subnet_parse(s, out, err) < 0) {
    berth_err_wrap(err, "%s", path);
    return -CNI_ERR_CONFIG;
  }
  return 0;
}

/* The subnet's gateway must be berth's (its first address): IPAM keeps that
 * one free, and the runtime and other berth networks agree on it. */
static int gateway_check(const struct net_prefix *subnet, const char *gw, const char *path,
                         struct berth_err **err)
{
  struct net_prefix want, got;
  char buf[64];
  net_subnet_gateway(subnet, &want);
  if (net_addr_parse(gw, &got, err) < 0) {
    berth_err_wrap(err, "%s", path);
    return -CNI_ERR_CONFIG;
  }
  if (got.family != want.family || memcmp(got.addr, want.addr, 16) != 0)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s \"%s\": unsupported, berth-bridge's gateway is the subnet's first address "
                    "(%s)",
                    path, gw, net_prefix_format(&want, false, buf, sizeof(buf)));
  return 0;
}

/* One subnet of ipam (a range or the flat form), into subnet4 or subnet6. */
static int subnet_add(struct cni_parse *p, const char *s, const char *gw, const char *path,
                      struct berth_err **err)
{
  struct net_prefix n;
  int r = subnet_parse(s, path, &n, err);
  if (r < 0)
    return r;
  if (!p->subnet_given) {
    memset(&p->cc->net.subnet4, 0, sizeof(p->cc->net.subnet4));
    memset(&p->cc->net.subnet6, 0, sizeof(p->cc->net.subnet6));
    p->subnet_given = true;
  }
  struct net_prefix *slot = n.family == AF_INET ? &p->cc->net.subnet4 : &p->cc->net.subnet6;
  if (slot->family != 0)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s \"%s\": unsupported, berth-bridge takes one IPv4 and one IPv6 subnet", path,
                    s);
  *slot = n;
  return gw ? gateway_check(&n, gw, path, err) : 0;
}

static const char *const range_unsupported[] = {"rangeStart", "rangeEnd"};

static int range_apply(struct cni_parse *p, json_t *range, const char *path, struct berth_err **err)
{
  if (!json_is_object(range))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an object", path);
  for (size_t i = 0; i < 2; i++)
    if (json_object_get(range, range_unsupported[i]))
      return cni_fail(err, CNI_ERR_FIELD, "%s.%s: unsupported, berth-bridge uses the whole subnet",
                      path, range_unsupported[i]);
  char sub[160], gwp[160];
  snprintf(sub, sizeof(sub), "%.128s.subnet", path);
  snprintf(gwp, sizeof(gwp), "%.128s.gateway", path);
  const char *s = NULL, *gw = NULL;
  json_t *v = json_object_get(range, "subnet");
  if (v == NULL)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: is required", sub);
  int r = want_string(v, sub, &s, err);
  json_t *g = json_object_get(range, "gateway");
  if (r == 0 && g && !json_is_null(g))
    r = want_string(g, gwp, &gw, err);
  if (r < 0)
    return r;
  return subnet_add(p, s, gw, gw ? gwp : sub, err);
}

static int ipam_ranges(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  if (!json_is_array(v) || json_array_size(v) == 0)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be a non-empty array of range sets", path);
  size_t i;
  json_t *set;
  json_array_foreach (v, i, set) {
    char sp[160];
    snprintf(sp, sizeof(sp), "%.128s[%zu]", path, i);
    if (!json_is_array(set) || json_array_size(set) == 0)
      return cni_fail(err, CNI_ERR_CONFIG, "%s: must be a non-empty array of ranges", sp);
    if (json_array_size(set) > 1)
      return cni_fail(err, CNI_ERR_FIELD,
                      "%s: unsupported, berth-bridge takes one range per range set", sp);
    char rp[168];
    snprintf(rp, sizeof(rp), "%s[0]", sp);
    int r = range_apply(p, json_array_get(set, 0), rp, err);
    if (r < 0)
      return r;
  }
  return 0;
}

static int ipam_subnet(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  const char *s = NULL;
  int r = want_string(v, path, &s, err);
  if (r < 0)
    return r;
  return subnet_add(p, s, NULL, path, err);
}

static int ipam_gateway(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  return want_string(v, path, &p->gw_given, err);
}

static int ipam_type(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  (void)p;
  const char *s = NULL;
  int r = want_string(v, path, &s, err);
  if (r < 0)
    return r;
  if (strcmp(s, "host-local") != 0 && strcmp(s, "berth") != 0)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s \"%.32s\": unsupported, berth-bridge does its own address management "
                    "(host-local or berth)",
                    path, s);
  return 0;
}

static int ipam_data_dir(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  int r = copy_string(v, path, p->cc->data_dir, sizeof(p->cc->data_dir), err);
  if (r == 0 && p->cc->data_dir[0] != '/')
    return cni_fail(err, CNI_ERR_CONFIG, "%s \"%s\": must be an absolute path", path,
                    p->cc->data_dir);
  return r;
}

/* A default route (dst 0.0.0.0/0 or ::/0) is what berth-bridge always
 * installs; its gw is checked against the gateway once subnets are known. */
static int route_apply(struct cni_parse *p, json_t *route, const char *path, struct berth_err **err)
{
  const char *dst = NULL;
  char dp[160];
  snprintf(dp, sizeof(dp), "%.128s.dst", path);
  json_t *v = json_is_object(route) ? json_object_get(route, "dst") : NULL;
  if (v == NULL)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: is required", dp);
  int r = want_string(v, dp, &dst, err);
  if (r < 0)
    return r;
  int fam = strcmp(dst, "0.0.0.0/0") == 0 ? 0 : strcmp(dst, "::/0") == 0 ? 1 : -1;
  if (fam < 0)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s \"%s\": unsupported, berth-bridge installs only the default routes", dp,
                    dst);
  json_t *gw = json_object_get(route, "gw");
  if (gw && !json_is_null(gw))
    p->route_gw[fam] = gw;
  return 0;
}

/* Each element of the array v through fn, its path "PATH[i]". */
static int each_element(struct cni_parse *p, json_t *v, const char *path,
                        int (*fn)(struct cni_parse *, json_t *, const char *, struct berth_err **),
                        struct berth_err **err)
{
  if (!json_is_array(v))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an array", path);
  size_t i;
  json_t *e;
  json_array_foreach (v, i, e) {
    char ep[160];
    snprintf(ep, sizeof(ep), "%.128s[%zu]", path, i);
    int r = fn(p, e, ep, err);
    if (r < 0)
      return r;
  }
  return 0;
}

static int ipam_routes(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  return each_element(p, v, path, route_apply, err);
}

static const struct cni_field ipam_fields[] = {
    {"type", ipam_type},     {"subnet", ipam_subnet}, {"gateway", ipam_gateway},
    {"ranges", ipam_ranges}, {"routes", ipam_routes}, {"dataDir", ipam_data_dir},
};

/* What berth-bridge refuses before looking at the fields one by one. */
static int ipam_shape_check(json_t *ipam, struct berth_err **err)
{
  for (size_t i = 0; i < 2; i++)
    if (json_object_get(ipam, range_unsupported[i]))
      return cni_fail(err, CNI_ERR_FIELD,
                      "ipam.%s: unsupported, berth-bridge uses the whole subnet",
                      range_unsupported[i]);
  if (json_object_get(ipam, "subnet") && json_object_get(ipam, "ranges"))
    return cni_fail(err, CNI_ERR_CONFIG, "ipam: give subnet or ranges, not both");
  if (json_object_get(ipam, "gateway") && !json_object_get(ipam, "subnet"))
    return cni_fail(err, CNI_ERR_CONFIG, "ipam.gateway: needs ipam.subnet");
  return 0;
}

static int top_ipam(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  if (!json_is_object(v))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an object", path);
  int r = ipam_shape_check(v, err);
  if (r == 0)
    r = fields_apply(p, v, "ipam.", ipam_fields, sizeof(ipam_fields) / sizeof(ipam_fields[0]), err);
  if (r < 0 || p->gw_given == NULL)
    return r;
  const struct net_prefix *n =
      p->cc->net.subnet4.family ? &p->cc->net.subnet4 : &p->cc->net.subnet6;
  return gateway_check(n, p->gw_given, "ipam.gateway", err);
}

/* ---- runtimeConfig (capabilities portMappings and ips) ---- */

static int port_proto(json_t *v, const char *path, uint8_t *proto, struct berth_err **err)
{
  const char *s = "tcp";
  if (v && !json_is_null(v)) {
    int r = want_string(v, path, &s, err);
    if (r < 0)
      return r;
  }
  if (strcasecmp(s, "tcp") == 0)
    *proto = 6; /* IPPROTO_TCP */
  else if (strcasecmp(s, "udp") == 0)
    *proto = 17; /* IPPROTO_UDP */
  else
    return cni_fail(err, CNI_ERR_FIELD, "%s \"%.16s\": unsupported, tcp or udp", path, s);
  return 0;
}

/* hostIP: any address (empty, 0.0.0.0, ::) is all berth-bridge publishes on. */
static int port_host_ip(json_t *v, const char *path, struct berth_err **err)
{
  const char *s = NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  int r = want_string(v, path, &s, err);
  if (r < 0)
    return r;
  if (s[0] && strcmp(s, "0.0.0.0") != 0 && strcmp(s, "::") != 0)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s \"%.64s\": unsupported, berth-bridge publishes on every host address", path,
                    s);
  return 0;
}

static int port_apply(struct cni_parse *p, json_t *m, const char *path, struct berth_err **err)
{
  static const char *const keys[] = {"hostPort", "containerPort", "protocol", "hostIP"};
  char kp[4][160];
  for (size_t i = 0; i < 4; i++)
    snprintf(kp[i], sizeof(kp[i]), "%.128s.%.16s", path, keys[i]);
  if (!json_is_object(m))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an object", path);
  struct net_config *c = &p->cc->net;
  if (c->nports == NET_MAX_PORTS)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: more than %d port mappings", path, NET_MAX_PORTS);
  long long hp = 0, cp = 0;
  json_t *h = json_object_get(m, keys[0]), *k = json_object_get(m, keys[1]);
  if (h == NULL || k == NULL)
    return cni_fail(err, CNI_ERR_CONFIG, "%s: is required", h ? kp[1] : kp[0]);
  struct net_port *port = &c->ports[c->nports];
  int r = want_int(h, kp[0], 1, 65535, &hp, err);
  if (r == 0)
    r = want_int(k, kp[1], 1, 65535, &cp, err);
  if (r == 0)
    r = port_proto(json_object_get(m, keys[2]), kp[2], &port->proto, err);
  if (r == 0)
    r = port_host_ip(json_object_get(m, keys[3]), kp[3], err);
  if (r < 0)
    return r;
  port->host_port = (uint16_t)hp;
  port->cont_port = (uint16_t)cp;
  c->nports++;
  return 0;
}

static int rc_port_mappings(struct cni_parse *p, json_t *v, const char *path,
                            struct berth_err **err)
{
  return each_element(p, v, path, port_apply, err);
}

/* One static address ("10.88.0.5" or "10.88.0.5/16"): into ip4 or ip6. */
static int static_ip_add(struct net_config *c, const char *s, const char *path,
                         struct berth_err **err)
{
  char addr[64];
  struct net_prefix a;
  snprintf(addr, sizeof(addr), "%s", s);
  char *slash = strchr(addr, '/');
  if (slash)
    *slash = '\0';
  if (net_addr_parse(addr, &a, err) < 0) {
    berth_err_wrap(err, "%s", path);
    return -CNI_ERR_CONFIG;
  }
  struct net_prefix *slot = a.family == AF_INET ? &c->ip4 : &c->ip6;
  if (slot->family != 0)
    return cni_fail(err, CNI_ERR_FIELD,
                    "%s \"%s\": unsupported, one IPv4 and one IPv6 address at most", path, s);
  *slot = a;
  return 0;
}

static int rc_ips(struct cni_parse *p, json_t *v, const char *path, struct berth_err **err)
{
  if (!json_is_array(v))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an array", path);
  size_t i;
  json_t *ip;
  json_array_foreach (v, i, ip) {
    char ipath[160];
    const char *s = NULL;
    snprintf(ipath, sizeof(ipath), "%.128s[%zu]", path, i);
    int r = want_string(ip, ipath, &s, err);
    if (r == 0)
      r = static_ip_add(&p->cc->net, s, ipath, err);
    if (r < 0)
      return r;
  }
  return 0;
}

static const struct cni_field rc_fields[] = {
    {"portMappings", rc_port_mappings},
    {"ips", rc_ips},
};

static int top_runtime_config(struct cni_parse *p, json_t *v, const char *path,
                              struct berth_err **err)
{
  if (!json_is_object(v))
    return cni_fail(err, CNI_ERR_CONFIG, "%s: must be an object", path);
  return fields_apply(p, v, "runtimeConfig.", rc_fields, sizeof(rc_fields) / sizeof(rc_fields[0]),
                      err);
}

/* ---- the whole config ---- */

static const struct cni_field top_fields[] = {
    {"cniVersion", top_version},
    {"name", top_name},
    {"type", top_type},
    {"bridge", top_bridge},
    {"isGateway", top_is_gateway},
    {"ipMasq", top_ip_masq},
    {"mtu", top_mtu},
    {"ipam", top_ipam},
    {"runtimeConfig", top_runtime_config},
};
#define N_TOP (sizeof(top_fields) / sizeof(top_fields[0]))

static void cni_config_defaults(struct cni_config *cc)
{
  memset(cc, 0, sizeof(*cc));
  netns_config_init(&cc->net);
  cc->net.mode = NET_MODE_BRIDGE;
  cc->net.nat = false; /* ipMasq's default */
  snprintf(cc->data_dir, sizeof(cc->data_dir), "%s", CNI_DEFAULT_DATA_DIR);
}

/* The plugin's own object: the config itself, or a conflist's one entry
 * (whose cniVersion and name come from the list, as a runtime passes them). */
static int conf_select(struct cni_parse *p, json_t *root, json_t **conf, struct berth_err **err)
{
  json_t *plugins = json_object_get(root, "plugins");
  *conf = root;
  if (plugins == NULL)
    return 0;
  if (!json_is_array(plugins) || json_array_size(plugins) != 1)
    return cni_fail(err, CNI_ERR_CONFIG,
                    "plugins: a conflist passed to a plugin must hold one entry (runtimes pass "
                    "each plugin its own)");
  *conf = json_array_get(plugins, 0);
  if (!json_is_object(*conf))
    return cni_fail(err, CNI_ERR_CONFIG, "plugins[0]: must be an object");
  return fields_apply(p, root, "", top_fields, 2, err); /* cniVersion, name */
}

/* Route gateways, once the subnets are known. */
static int routes_check(struct cni_parse *p, struct berth_err **err)
{
  const struct net_prefix *subnets[2] = {&p->cc->net.subnet4, &p->cc->net.subnet6};
  for (int fam = 0; fam < 2; fam++) {
    const char *gw = NULL;
    if (p->route_gw[fam] == NULL)
      continue;
    int r = want_string(p->route_gw[fam], "ipam.routes[].gw", &gw, err);
    if (r == 0 && subnets[fam]->family == 0)
      return cni_fail(err, CNI_ERR_CONFIG, "ipam.routes[].gw \"%s\": no subnet of its family", gw);
    if (r == 0)
      r = gateway_check(subnets[fam], gw, "ipam.routes[].gw", err);
    if (r < 0)
      return r;
  }
  return 0;
}

static int required_check(const struct cni_config *cc, struct berth_err **err)
{
  if (cc->version[0] == '\0')
    return cni_fail(err, CNI_ERR_CONFIG, "cniVersion: is required");
  if (cc->name[0] == '\0')
    return cni_fail(err, CNI_ERR_CONFIG, "name: is required");
  if (cc->type[0] == '\0')
    return cni_fail(err, CNI_ERR_CONFIG, "type: is required");
  return 0;
}

/* netns_config_check speaks of the dev.berth.net* annotations; here the
 * same rules are about the CNI config's fields. */
static const struct {
  const char *key, *cni;
} check_words[] = {
    {"net.ip/net.ipv6: ", "static address (CNI_ARGS IP or runtimeConfig.ips): "},
    {"net.ip: ", "static address (CNI_ARGS IP or runtimeConfig.ips): "},
    {"net.publish: ", "runtimeConfig.portMappings: "},
    {"net.subnet: ", "ipam: "},
    {"net.mtu: ", "mtu: "},
};

int cni_config_check(const struct cni_config *cc, struct berth_err **err)
{
  if (netns_config_check(&cc->net, err) == 0)
    return 0;
  for (size_t i = 0; i < sizeof(check_words) / sizeof(check_words[0]); i++) {
    size_t n = strlen(check_words[i].key);
    if (strncmp((*err)->msg, check_words[i].key, n) == 0) {
      char rest[sizeof((*err)->msg)];
      snprintf(rest, sizeof(rest), "%s", (*err)->msg + n);
      berth_err_set(err, 0, "%s%s", check_words[i].cni, rest);
      break;
    }
  }
  return -CNI_ERR_CONFIG;
}

static int config_finish(struct cni_parse *p, struct berth_err **err)
{
  struct cni_config *cc = p->cc;
  int r = required_check(cc, err);
  if (r == 0)
    r = routes_check(p, err);
  if (r < 0)
    return r;
  r = cni_config_check(cc, err);
  if (r < 0)
    return r;
  if ((size_t)snprintf(cc->lease_dir, sizeof(cc->lease_dir), "%s/%s", cc->data_dir, cc->name) >=
      sizeof(cc->lease_dir))
    return cni_fail(err, CNI_ERR_CONFIG, "ipam.dataDir: too long");
  return 0;
}

int cni_config_parse(const char *text, struct cni_config *cc, struct berth_err **err)
{
  cni_config_defaults(cc);
  json_error_t jerr;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return cni_fail(err, CNI_ERR_DECODE, "network config: not JSON: line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
  struct cni_parse p = {.cc = cc};
  json_t *conf = NULL;
  int r = 0;
  if (!json_is_object(root))
    r = cni_fail(err, CNI_ERR_DECODE, "network config: must be a JSON object");
  if (r == 0)
    r = conf_select(&p, root, &conf, err);
  if (r == 0)
    r = fields_apply(&p, conf, "", top_fields, N_TOP, err);
  if (r == 0)
    r = config_finish(&p, err);
  json_decref(root);
  return r;
}

/* ---- CNI_ARGS ---- */

static int args_ip(struct net_config *net, const char *val, struct berth_err **err)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", val);
  char *save = NULL;
  for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
    int r = static_ip_add(net, a, "CNI_ARGS IP", err);
    if (r < 0)
      return r == -CNI_ERR_CONFIG ? -CNI_ERR_ENV : r;
  }
  return 0;
}

static bool args_ignore_unknown(const char *args)
{
  return strstr(args, "IgnoreUnknown=1") || strstr(args, "IgnoreUnknown=true") ||
         strstr(args, "IgnoreUnknown=True");
}

/* Applies copy's KEY=VALUE items; copy is cut up by strtok_r. */
static int args_items_apply(char *copy, bool lenient, struct net_config *net,
                            struct berth_err **err)
{
  char *save = NULL;
  for (char *kv = strtok_r(copy, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
    char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
      return cni_fail(err, CNI_ERR_ENV, "CNI_ARGS \"%.64s\": each item must be KEY=VALUE", kv);
    *eq = '\0';
    int r = 0;
    if (strcmp(kv, "IP") == 0)
      r = args_ip(net, eq + 1, err);
    else if (strcmp(kv, "IgnoreUnknown") != 0 && !lenient)
      r = cni_fail(err, CNI_ERR_FIELD, "CNI_ARGS: unknown key \"%.64s\" (without IgnoreUnknown=1)",
                   kv);
    if (r < 0)
      return r;
  }
  return 0;
}

int cni_args_apply(const char *args, struct net_config *net, struct berth_err **err)
{
  if (args == NULL || args[0] == '\0')
    return 0;
  char *copy = strdup(args);
  if (copy == NULL)
    return cni_fail(err, CNI_ERR_IO, "CNI_ARGS: out of memory");
  int r = args_items_apply(copy, args_ignore_unknown(args), net, err);
  free(copy);
  return r;
}

/* ---- the environment ---- */

static const struct {
  const char *name;
  enum cni_command cmd;
} cni_commands[] = {
    {"ADD", CNI_CMD_ADD},
    {"DEL", CNI_CMD_DEL},
    {"CHECK", CNI_CMD_CHECK},
    {"VERSION", CNI_CMD_VERSION},
};

static int env_need(const char *val, const char *name, struct berth_err **err)
{
  if (val == NULL || val[0] == '\0')
    return cni_fail(err, CNI_ERR_ENV, "%s: must be set", name);
  return 0;
}

static int env_names_check(const struct cni_env *e, struct berth_err **err)
{
  if (!cni_name_ok(e->container_id, 256))
    return cni_fail(err, CNI_ERR_ENV,
                    "CNI_CONTAINERID \"%.64s\": must be letters, digits, '_', '.' and '-', a "
                    "letter or digit first",
                    e->container_id);
  const char *why = ifname_problem(e->ifname);
  if (why)
    return cni_fail(err, CNI_ERR_ENV, "CNI_IFNAME \"%.32s\": not an interface name: %s", e->ifname,
                    why);
  if (e->netns && e->netns[0] && e->netns[0] != '/')
    return cni_fail(err, CNI_ERR_ENV, "CNI_NETNS \"%.64s\": must be an absolute path", e->netns);
  return 0;
}

int cni_env_check(const struct cni_env *e, enum cni_command *cmd, struct berth_err **err)
{
  int r = env_need(e->command, "CNI_COMMAND", err);
  if (r < 0)
    return r;
  *cmd = CNI_CMD_NONE;
  for (size_t i = 0; i < sizeof(cni_commands) / sizeof(cni_commands[0]); i++)
    if (strcmp(e->command, cni_commands[i].name) == 0)
      *cmd = cni_commands[i].cmd;
  if (*cmd == CNI_CMD_NONE)
    return cni_fail(err, CNI_ERR_ENV, "CNI_COMMAND \"%.16s\": must be ADD, DEL, CHECK or VERSION",
                    e->command);
  if (*cmd == CNI_CMD_VERSION)
    return 0;
  r = env_need(e->container_id, "CNI_CONTAINERID", err);
  if (r == 0)
    r = env_need(e->ifname, "CNI_IFNAME", err);
  if (r == 0)
    r = env_need(e->path, "CNI_PATH", err);
  if (r == 0 && *cmd != CNI_CMD_DEL)
    r = env_need(e->netns, "CNI_NETNS", err);
  return r < 0 ? r : env_names_check(e, err);
}

int cni_holder(const struct cni_env *e, char *out, size_t n, struct berth_err **err)
{
  if ((size_t)snprintf(out, n, "%s/%s", e->container_id, e->ifname) >= n)
    return cni_fail(err, CNI_ERR_ENV, "CNI_CONTAINERID: too long");
  return 0;
}

/* ---- output ---- */

/* Takes a reference to v; NULL v (out of memory) is dropped. */
static char *json_take_dump(json_t *v)
{
  char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (s == NULL)
    abort(); /* out of memory: nothing to report with */
  return s;
}

char *cni_version_json(void)
{
  json_t *list = json_array();
  for (size_t i = 0; i < N_VERSIONS; i++)
    json_array_append_new(list, json_string(cni_versions[i]));
  return json_take_dump(
      json_pack("{s:s, s:o}", "cniVersion", CNI_NEWEST, "supportedVersions", list));
}

char *cni_error_json(const char *version, int code, const char *msg, const char *details)
{
  const char *v = cni_version_supported(version) ? version : CNI_NEWEST;
  json_t *o = json_pack("{s:s, s:i, s:s}", "cniVersion", v, "code", code, "msg", msg);
  if (o && details)
    json_object_set_new(o, "details", json_string(details));
  return json_take_dump(o);
}

static json_t *mac_json(const uint8_t *mac)
{
  char buf[18];
  snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
           mac[4], mac[5]);
  return json_string(buf);
}

static json_t *iface_json(const char *name, const uint8_t *mac, const char *sandbox)
{
  json_t *o = json_pack("{s:s}", "name", name);
  if (o && mac)
    json_object_set_new(o, "mac", mac_json(mac));
  if (o && sandbox)
    json_object_set_new(o, "sandbox", json_string(sandbox));
  return o;
}

/* The container interface's index in "interfaces". */
#define CNI_CONT_IFACE 2

static json_t *ip_json(const char *version, const struct net_prefix *addr,
                       const struct net_prefix *gw)
{
  char a[64], g[64];
  json_t *o = json_pack("{s:s, s:i}", "address", net_prefix_format(addr, true, a, sizeof(a)),
                        "interface", CNI_CONT_IFACE);
  if (o && gw->family)
    json_object_set_new(o, "gateway", json_string(net_prefix_format(gw, false, g, sizeof(g))));
  /* 0.3.x and 0.4.0 name the family; 1.0.0 dropped the field. */
  if (o && strcmp(version, "1.0.0") != 0)
    json_object_set_new(o, "version", json_string(addr->family == AF_INET ? "4" : "6"));
  return o;
}

static json_t *route_json(const struct net_prefix *gw)
{
  char g[64];
  return json_pack("{s:s, s:s}", "dst", gw->family == AF_INET ? "0.0.0.0/0" : "::/0", "gw",
                   net_prefix_format(gw, false, g, sizeof(g)));
}

/* One family's address and default route, when it has an address. */
static void result_family(const char *version, const struct net_prefix *addr,
                          const struct net_prefix *gw, json_t *ips, json_t *routes)
{
  if (addr->family == 0)
    return;
  json_array_append_new(ips, ip_json(version, addr, gw));
  if (gw->family)
    json_array_append_new(routes, route_json(gw));
}

char *cni_result_json(const char *version, const struct net_attachment *a, const char *netns_path,
                      const uint8_t *bridge_mac, const uint8_t *host_mac)
{
  json_t *ifaces = json_array(), *ips = json_array(), *routes = json_array();
  json_array_append_new(ifaces, iface_json(a->bridge, bridge_mac, NULL));
  json_array_append_new(ifaces, iface_json(a->host_if, host_mac, NULL));
  json_array_append_new(ifaces, iface_json(a->cont_if, a->mac, netns_path));
  result_family(version, &a->addr4, &a->gw4, ips, routes);
  result_family(version, &a->addr6, &a->gw6, ips, routes);
  return json_take_dump(json_pack("{s:s, s:o, s:o, s:o, s:{}}", "cniVersion", version, "interfaces",
                                  ifaces, "ips", ips, "routes", routes, "dns"));
}

int cni_link_mac(const char *name, uint8_t mac[6], struct berth_err **err)
{
  cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_err_sys(err, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
    return berth_err_sys(err, "%s: MAC address", name);
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  return 0;
}
