/* Unit tests of netns/cni.c: the CNI network config, CNI_ARGS, the
 * environment, and the result, version and error objects. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../../netns/netns.h"
#include "check.h"

static int parse(const char *json, struct cni_config *cc, struct berth_err **err)
{
  return cni_config_parse(json, cc, err);
}

static bool prefix_is(const struct net_prefix *p, const char *want)
{
  char buf[64];
  if (p->family == 0)
    return want == NULL;
  return want && strcmp(net_prefix_format(p, true, buf, sizeof(buf)), want) == 0;
}

static void test_config_full(void)
{
  struct cni_config cc;
  struct berth_err *err = NULL;
  const char *j =
      "{\"cniVersion\":\"1.0.0\",\"name\":\"mynet\",\"type\":\"berth-bridge\","
      "\"bridge\":\"cni7\",\"isGateway\":true,\"ipMasq\":true,\"mtu\":1400,"
      "\"hairpinMode\":true,\"somethingElse\":{\"x\":1},"
      "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"/tmp/leases\","
      "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"::/0\",\"gw\":\"fd10:88::1\"}],"
      "\"ranges\":[[{\"subnet\":\"10.88.7.0/24\",\"gateway\":\"10.88.7.1\"}],"
      "[{\"subnet\":\"fd10:88::/64\"}]]},"
      "\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
      "\"protocol\":\"tcp\"},{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"UDP\","
      "\"hostIP\":\"0.0.0.0\"}],\"ips\":[\"10.88.7.9/24\"],\"bandwidth\":{}},"
      "\"prevResult\":{\"cniVersion\":\"1.0.0\"}}";
  int r = parse(j, &cc, &err);
  CHECK(r == 0, "full config rejected: %s", err ? err->msg : "");
  berth_err_free(&err);
  if (r != 0)
    return;
  CHECK(strcmp(cc.version, "1.0.0") == 0 && strcmp(cc.name, "mynet") == 0, "version, name");
  CHECK(strcmp(cc.type, "berth-bridge") == 0, "type %s", cc.type);
  CHECK(cc.net.mode == NET_MODE_BRIDGE && strcmp(cc.net.bridge, "cni7") == 0, "bridge");
  CHECK(cc.net.nat && cc.net.mtu == 1400, "ipMasq, mtu");
  CHECK(prefix_is(&cc.net.subnet4, "10.88.7.0/24"), "subnet4");
  CHECK(prefix_is(&cc.net.subnet6, "fd10:88::/64"), "subnet6");
  CHECK(strcmp(cc.data_dir, "/tmp/leases") == 0, "dataDir %s", cc.data_dir);
  CHECK(strcmp(cc.lease_dir, "/tmp/leases/mynet") == 0, "lease dir %s", cc.lease_dir);
  CHECK(cc.net.nports == 2, "ports %zu", cc.net.nports);
  CHECK(cc.net.ports[0].host_port == 8080 && cc.net.ports[0].cont_port == 80 &&
            cc.net.ports[0].proto == IPPROTO_TCP,
        "port 0");
  CHECK(cc.net.ports[1].host_port == 5353 && cc.net.ports[1].proto == IPPROTO_UDP, "port 1");
  CHECK(prefix_is(&cc.net.ip4, "10.88.7.9/32"), "runtimeConfig.ips");
}

static void test_config_defaults(void)
{
  struct cni_config cc;
  struct berth_err *err = NULL;
  int r = parse("{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"berth-bridge\"}", &cc, &err);
  CHECK(r == 0, "minimal config: %s", err ? err->msg : "");
  berth_err_free(&err);
  CHECK(strcmp(cc.net.bridge, "berth0") == 0, "default bridge %s", cc.net.bridge);
  CHECK(prefix_is(&cc.net.subnet4, "10.88.0.0/16") && cc.net.subnet6.family == 0, "default subnet");
  CHECK(!cc.net.nat && cc.net.mtu == 0 && cc.net.nports == 0, "ipMasq off by default");
  CHECK(strcmp(cc.lease_dir, "/run/berth-cni/n") == 0, "default lease dir %s", cc.lease_dir);
  CHECK(cc.net.ip4.family == 0 && cc.net.ip6.family == 0, "no static address");
}

/* Legal spellings: flat subnet and gateway, ipam type berth or absent, an
 * IPv6-only network, a conflist's one entry, every supported version. */
static void test_config_spellings(void)
{
  static const struct {
    const char *json, *sub4, *sub6;
  } cases[] = {
      {"{\"cniVersion\":\"0.3.1\",\"name\":\"a\",\"type\":\"t\",\"ipam\":{\"type\":\"host-local\","
       "\"subnet\":\"10.88.3.0/24\",\"gateway\":\"10.88.3.1\"}}",
       "10.88.3.0/24", NULL},
      {"{\"cniVersion\":\"0.3.0\",\"name\":\"a\",\"type\":\"t\",\"ipam\":{\"type\":\"berth\","
       "\"subnet\":\"fd10:1::/64\"}}",
       NULL, "fd10:1::/64"},
      {"{\"cniVersion\":\"1.0.0\",\"name\":\"a\",\"type\":\"t\",\"ipam\":{"
       "\"ranges\":[[{\"subnet\":\"fd10:2::/64\"}],[{\"subnet\":\"10.88.4.0/24\"}]]}}",
       "10.88.4.0/24", "fd10:2::/64"},
      {"{\"cniVersion\":\"1.0.0\",\"name\":\"a\",\"plugins\":[{\"type\":\"t\",\"ipam\":"
       "{\"subnet\":\"10.88.5.0/24\"}}]}",
       "10.88.5.0/24", NULL},
      {"{\"cniVersion\":\"0.4.0\",\"name\":\"a\",\"type\":\"t\",\"ipam\":{}}", "10.88.0.0/16",
       NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct cni_config cc;
    struct berth_err *err = NULL;
    int r = parse(cases[i].json, &cc, &err);
    CHECK(r == 0, "spelling %zu rejected: %s", i, err ? err->msg : "");
    berth_err_free(&err);
    CHECK(r != 0 || (prefix_is(&cc.net.subnet4, cases[i].sub4) &&
                     prefix_is(&cc.net.subnet6, cases[i].sub6)),
          "spelling %zu: subnets", i);
  }
}

#define BASE "\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"berth-bridge\""

static const struct {
  const char *json;
  int code;
  const char *msg;
} bad_configs[] = {
    {"{", CNI_ERR_DECODE, "network config: not JSON"},
    {"", CNI_ERR_DECODE, "network config: not JSON"},
    {"[1]", CNI_ERR_DECODE, "must be a JSON object"},
    {"{\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_CONFIG, "cniVersion: is required"},
    {"{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_VERSION,
     "cniVersion \"0.2.0\": not supported"},
    {"{\"cniVersion\":\"9.9.9\",\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_VERSION, "not supported"},
    {"{\"cniVersion\":1,\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_CONFIG,
     "cniVersion: must be a string"},
    {"{\"cniVersion\":\"1.0.0\",\"type\":\"t\"}", CNI_ERR_CONFIG, "name: is required"},
    {"{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", CNI_ERR_CONFIG, "type: is required"},
    {"{\"cniVersion\":\"1.0.0\",\"name\":\"../x\",\"type\":\"t\"}", CNI_ERR_CONFIG,
     "name \"../x\": must be letters"},
    {"{" BASE ",\"bridge\":\"a/b\"}", CNI_ERR_CONFIG, "bridge \"a/b\": not an interface name"},
    {"{" BASE ",\"bridge\":\"abcdefghijklmnopq\"}", CNI_ERR_CONFIG, "must be 1-15 characters"},
    {"{" BASE ",\"bridge\":7}", CNI_ERR_CONFIG, "bridge: must be a string"},
    {"{" BASE ",\"isGateway\":false}", CNI_ERR_FIELD, "isGateway false: unsupported"},
    {"{" BASE ",\"ipMasq\":\"yes\"}", CNI_ERR_CONFIG, "ipMasq: must be true or false"},
    {"{" BASE ",\"mtu\":10}", CNI_ERR_CONFIG, "mtu: must be an integer from 68 to 65535"},
    {"{" BASE ",\"ipam\":[]}", CNI_ERR_CONFIG, "ipam: must be an object"},
    {"{" BASE ",\"ipam\":{\"type\":\"dhcp\"}}", CNI_ERR_FIELD, "ipam.type \"dhcp\": unsupported"},
    {"{" BASE ",\"ipam\":{\"subnet\":\"10.88.0.300/24\"}}", CNI_ERR_CONFIG, "ipam.subnet"},
    {"{" BASE ",\"ipam\":{\"subnet\":\"10.88.1.5/24\"}}", CNI_ERR_CONFIG, "host bits set"},
    {"{" BASE ",\"ipam\":{\"subnet\":\"10.88.1.0/24\",\"gateway\":\"10.88.1.254\"}}", CNI_ERR_FIELD,
     "ipam.gateway \"10.88.1.254\": unsupported"},
    {"{" BASE ",\"ipam\":{\"gateway\":\"10.88.1.1\"}}", CNI_ERR_CONFIG, "needs ipam.subnet"},
    {"{" BASE
     ",\"ipam\":{\"subnet\":\"10.88.1.0/24\",\"ranges\":[[{\"subnet\":\"10.88.2.0/24\"}]]}}",
     CNI_ERR_CONFIG, "subnet or ranges, not both"},
    {"{" BASE ",\"ipam\":{\"subnet\":\"10.88.1.0/24\",\"rangeStart\":\"10.88.1.10\"}}",
     CNI_ERR_FIELD, "ipam.rangeStart: unsupported"},
    {"{" BASE ",\"ipam\":{\"ranges\":[]}}", CNI_ERR_CONFIG, "ipam.ranges: must be a non-empty"},
    {"{" BASE ",\"ipam\":{\"ranges\":[[]]}}", CNI_ERR_CONFIG,
     "ipam.ranges[0]: must be a non-empty"},
    {"{" BASE ",\"ipam\":{\"ranges\":[[{\"gateway\":\"10.88.1.1\"}]]}}", CNI_ERR_CONFIG,
     "ipam.ranges[0][0].subnet: is required"},
    {"{" BASE
     ",\"ipam\":{\"ranges\":[[{\"subnet\":\"10.88.1.0/24\"},{\"subnet\":\"10.88.2.0/24\"}]]}}",
     CNI_ERR_FIELD, "ipam.ranges[0]: unsupported"},
    {"{" BASE
     ",\"ipam\":{\"ranges\":[[{\"subnet\":\"10.88.1.0/24\"}],[{\"subnet\":\"10.88.2.0/24\"}]]}}",
     CNI_ERR_FIELD, "ipam.ranges[1][0].subnet \"10.88.2.0/24\": unsupported"},
    {"{" BASE
     ",\"ipam\":{\"ranges\":[[{\"subnet\":\"10.88.1.0/24\",\"rangeEnd\":\"10.88.1.9\"}]]}}",
     CNI_ERR_FIELD, "ipam.ranges[0][0].rangeEnd: unsupported"},
    {"{" BASE ",\"ipam\":{\"routes\":[{\"dst\":\"192.168.0.0/16\"}]}}", CNI_ERR_FIELD,
     "ipam.routes[0].dst \"192.168.0.0/16\": unsupported"},
    {"{" BASE ",\"ipam\":{\"routes\":[{\"gw\":\"10.88.0.1\"}]}}", CNI_ERR_CONFIG,
     "ipam.routes[0].dst: is required"},
    {"{" BASE ",\"ipam\":{\"subnet\":\"10.88.1.0/24\",\"routes\":[{\"dst\":\"0.0.0.0/0\","
     "\"gw\":\"10.88.1.7\"}]}}",
     CNI_ERR_FIELD, "ipam.routes[].gw \"10.88.1.7\": unsupported"},
    {"{" BASE ",\"ipam\":{\"dataDir\":\"relative\"}}", CNI_ERR_CONFIG,
     "ipam.dataDir \"relative\": must be an absolute path"},
    {"{" BASE ",\"runtimeConfig\":{\"portMappings\":{}}}", CNI_ERR_CONFIG,
     "runtimeConfig.portMappings: must be an array"},
    {"{" BASE ",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":0,\"containerPort\":80}]}}",
     CNI_ERR_CONFIG, "runtimeConfig.portMappings[0].hostPort: must be an integer from 1"},
    {"{" BASE ",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80}]}}", CNI_ERR_CONFIG,
     "runtimeConfig.portMappings[0].containerPort: is required"},
    {"{" BASE ",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80,\"containerPort\":80,"
     "\"protocol\":\"sctp\"}]}}",
     CNI_ERR_FIELD, "runtimeConfig.portMappings[0].protocol \"sctp\": unsupported"},
    {"{" BASE ",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80,\"containerPort\":80,"
     "\"hostIP\":\"10.1.2.3\"}]}}",
     CNI_ERR_FIELD, "runtimeConfig.portMappings[0].hostIP \"10.1.2.3\": unsupported"},
    {"{" BASE ",\"runtimeConfig\":{\"ips\":[\"10.88.0.5\",\"10.88.0.6\"]}}", CNI_ERR_FIELD,
     "runtimeConfig.ips[1] \"10.88.0.6\": unsupported"},
    {"{" BASE ",\"runtimeConfig\":{\"ips\":[\"bogus\"]}}", CNI_ERR_CONFIG, "runtimeConfig.ips[0]"},
    {"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"},{\"type\":\"b\"}]}",
     CNI_ERR_CONFIG, "plugins: a conflist passed to a plugin must hold one entry"},
    {"{" BASE ",\"name\":\"n\"}", CNI_ERR_DECODE, "not JSON"}, /* duplicate key */
};

static void test_config_bad(void)
{
  for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
    struct cni_config cc;
    struct berth_err *err = NULL;
    int r = parse(bad_configs[i].json, &cc, &err);
    CHECK(r == -bad_configs[i].code, "bad config %zu (%s): code %d, wanted %d", i,
          bad_configs[i].json, -r, bad_configs[i].code);
    CHECK(r == 0 || (err && strstr(err->msg, bad_configs[i].msg)),
          "bad config %zu: message '%s' lacks '%s'", i, err ? err->msg : "(none)",
          bad_configs[i].msg);
    CHECK(r == 0 || (err && strchr(err->msg, '\n') == NULL), "bad config %zu: one line", i);
    berth_err_free(&err);
  }
}

static void test_args(void)
{
  struct net_config c;
  struct berth_err *err = NULL;
  netns_config_init(&c);
  CHECK(cni_args_apply(NULL, &c, &err) == 0 && cni_args_apply("", &c, &err) == 0, "no args");
  CHECK(cni_args_apply("IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.88.0.9,fd10::9", &c, &err) == 0,
        "IP= with IgnoreUnknown: %s", err ? err->msg : "");
  berth_err_free(&err);
  CHECK(prefix_is(&c.ip4, "10.88.0.9/32") && prefix_is(&c.ip6, "fd10::9/128"), "IP= addresses");
  static const struct {
    const char *args;
    int code;
    const char *msg;
  } bad[] = {
      {"K8S_POD_NAME=x", CNI_ERR_FIELD, "unknown key \"K8S_POD_NAME\""},
      {"IP", CNI_ERR_ENV, "each item must be KEY=VALUE"},
      {"=x", CNI_ERR_ENV, "each item must be KEY=VALUE"},
      {"IP=nope", CNI_ERR_ENV, "CNI_ARGS IP"},
      {"IP=10.88.0.2,10.88.0.3", CNI_ERR_FIELD, "one IPv4 and one IPv6 address at most"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    netns_config_init(&c);
    int r = cni_args_apply(bad[i].args, &c, &err);
    CHECK(r == -bad[i].code && err && strstr(err->msg, bad[i].msg), "args '%s': %d %s", bad[i].args,
          -r, err ? err->msg : "(accepted)");
    berth_err_free(&err);
  }
}

static void test_env(void)
{
  static const struct {
    struct cni_env e;
    int code;
    enum cni_command cmd;
    const char *msg;
  } cases[] = {
      {{"ADD", "c1", "/run/netns/x", "eth0", NULL, "/opt/cni/bin"}, 0, CNI_CMD_ADD, NULL},
      {{"DEL", "c1", NULL, "eth0", NULL, "/p"}, 0, CNI_CMD_DEL, NULL},
      {{"CHECK", "c1", "/n", "eth0", NULL, "/p"}, 0, CNI_CMD_CHECK, NULL},
      {{"VERSION", NULL, NULL, NULL, NULL, NULL}, 0, CNI_CMD_VERSION, NULL},
      {{NULL, "c1", "/n", "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_COMMAND: must be set"},
      {{"add", "c1", "/n", "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "must be ADD, DEL, CHECK or"},
      {{"ADD", NULL, "/n", "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_CONTAINERID: must be set"},
      {{"ADD", "c1", NULL, "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_NETNS: must be set"},
      {{"CHECK", "c1", "", "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_NETNS: must be set"},
      {{"ADD", "c1", "/n", NULL, NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_IFNAME: must be set"},
      {{"ADD", "c1", "/n", "eth0", NULL, NULL}, CNI_ERR_ENV, 0, "CNI_PATH: must be set"},
      {{"ADD", "../c", "/n", "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_CONTAINERID \"../c\""},
      {{"ADD", "c1", "/n", "eth:0", NULL, "/p"}, CNI_ERR_ENV, 0, "CNI_IFNAME \"eth:0\""},
      {{"ADD", "c1", "/n", "a234567890123456", NULL, "/p"},
       CNI_ERR_ENV,
       0,
       "must be 1-15 characters"},
      {{"ADD", "c1", "netns", "eth0", NULL, "/p"}, CNI_ERR_ENV, 0, "must be an absolute path"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    enum cni_command cmd = CNI_CMD_NONE;
    struct berth_err *err = NULL;
    int r = cni_env_check(&cases[i].e, &cmd, &err);
    if (cases[i].code == 0)
      CHECK(r == 0 && cmd == cases[i].cmd, "env %zu: %s", i, err ? err->msg : "wrong command");
    else
      CHECK(r == -cases[i].code && err && strstr(err->msg, cases[i].msg), "env %zu: %d %s", i, -r,
            err ? err->msg : "(accepted)");
    berth_err_free(&err);
  }
}

static void test_holder_check(void)
{
  struct cni_config cc;
  struct berth_err *err = NULL;
  struct cni_env e = {"ADD", "abc", "/n", "eth1", NULL, "/p"};
  char buf[512];
  CHECK(cni_holder(&e, buf, sizeof(buf), &err) == 0 && strcmp(buf, "abc/eth1") == 0, "holder %s",
        buf);
  /* The cross-field rules in the config's own words. */
  int r = parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"ipam\":{\"subnet\":"
                "\"10.88.1.0/24\"},\"runtimeConfig\":{\"ips\":[\"10.88.2.5\"]}}",
                &cc, &err);
  CHECK(r == -CNI_ERR_CONFIG && err &&
            strstr(err->msg,
                   "static address (CNI_ARGS IP or runtimeConfig.ips): \"10.88.2.5\" is outside"),
        "static address outside: %s", err ? err->msg : "(accepted)");
  berth_err_free(&err);
  r = parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"runtimeConfig\":{"
            "\"portMappings\":[{\"hostPort\":80,\"containerPort\":80},{\"hostPort\":80,"
            "\"containerPort\":81}]}}",
            &cc, &err);
  CHECK(r == -CNI_ERR_CONFIG && err &&
            strstr(err->msg, "runtimeConfig.portMappings: host port 80/tcp"),
        "duplicate host port: %s", err ? err->msg : "(accepted)");
  berth_err_free(&err);
  r = parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\"}", &cc, &err);
  CHECK(r == 0, "plain config");
  netns_config_init(&cc.net);
  cc.net.mode = NET_MODE_BRIDGE;
  cni_args_apply("IP=10.88.0.1", &cc.net, &err);
  CHECK(cni_config_check(&cc, &err) == -CNI_ERR_CONFIG && err &&
            strstr(err->msg, "gateway address"),
        "CNI_ARGS IP= on the gateway: %s", err ? err->msg : "(accepted)");
  berth_err_free(&err);
}

/* An attachment as prepare leaves it, for the result tests. */
static void attachment_sample(struct net_attachment *a, bool v6)
{
  struct berth_err *err = NULL;
  memset(a, 0, sizeof(*a));
  strcpy(a->bridge, "cni7");
  strcpy(a->host_if, "vethb1234");
  strcpy(a->cont_if, "eth0");
  net_prefix_parse("10.88.7.2/24", &a->addr4, &err);
  net_addr_parse("10.88.7.1", &a->gw4, &err);
  if (v6) {
    net_prefix_parse("fd10:88::2/64", &a->addr6, &err);
    net_addr_parse("fd10:88::1", &a->gw6, &err);
  }
  static const uint8_t mac[6] = {0x0a, 0x58, 0x0a, 0x58, 0x07, 0x02};
  memcpy(a->mac, mac, 6);
  berth_err_free(&err);
}

static const char *jstr(json_t *o, const char *path)
{
  /* "a.b": nested object members; "a[1]": array elements, one level each. */
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", path);
  json_t *cur = o;
  for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
       tok = strtok_r(NULL, ".", &save)) {
    char *br = strchr(tok, '[');
    size_t idx = br ? strtoul(br + 1, NULL, 10) : 0;
    if (br)
      *br = '\0';
    cur = json_object_get(cur, tok);
    if (br)
      cur = json_array_get(cur, idx);
  }
  return json_string_value(cur);
}

static bool jeq(json_t *o, const char *path, const char *want)
{
  const char *got = jstr(o, path);
  return got && strcmp(got, want) == 0;
}

static void test_result_shape(const char *version, bool with_family)
{
  struct net_attachment a;
  attachment_sample(&a, true);
  static const uint8_t bmac[6] = {1, 2, 3, 4, 5, 6};
  char *text = cni_result_json(version, &a, "/run/netns/c1", bmac, NULL);
  json_t *o = json_loads(text, 0, NULL);
  CHECK(o != NULL, "%s: result is JSON: %s", version, text);
  CHECK(jeq(o, "cniVersion", version), "%s: cniVersion", version);
  CHECK(json_array_size(json_object_get(o, "interfaces")) == 3, "%s: 3 interfaces", version);
  CHECK(jeq(o, "interfaces[0].name", "cni7") && jeq(o, "interfaces[0].mac", "01:02:03:04:05:06"),
        "%s: bridge interface", version);
  CHECK(jeq(o, "interfaces[1].name", "vethb1234") && jstr(o, "interfaces[1].mac") == NULL,
        "%s: host veth, MAC unknown", version);
  CHECK(jeq(o, "interfaces[2].name", "eth0") && jeq(o, "interfaces[2].sandbox", "/run/netns/c1") &&
            jeq(o, "interfaces[2].mac", "0a:58:0a:58:07:02"),
        "%s: container interface", version);
  json_t *ip0 = json_array_get(json_object_get(o, "ips"), 0);
  CHECK(jeq(ip0, "address", "10.88.7.2/24") && jeq(ip0, "gateway", "10.88.7.1") &&
            json_integer_value(json_object_get(ip0, "interface")) == 2,
        "%s: ips[0]", version);
  CHECK(jeq(o, "ips[1].address", "fd10:88::2/64") && jeq(o, "ips[1].gateway", "fd10:88::1"),
        "%s: ips[1]", version);
  CHECK(with_family ? jeq(ip0, "version", "4") && jeq(o, "ips[1].version", "6")
                    : json_object_get(ip0, "version") == NULL,
        "%s: ips[].version %s", version, with_family ? "present" : "absent");
  CHECK(jeq(o, "routes[0].dst", "0.0.0.0/0") && jeq(o, "routes[0].gw", "10.88.7.1") &&
            jeq(o, "routes[1].dst", "::/0"),
        "%s: default routes", version);
  CHECK(json_is_object(json_object_get(o, "dns")), "%s: dns {}", version);
  json_decref(o);
  free(text);
}

static void test_result(void)
{
  test_result_shape("1.0.0", false);
  test_result_shape("0.4.0", true);
  test_result_shape("0.3.1", true);
  test_result_shape("0.3.0", true);
  struct net_attachment a;
  attachment_sample(&a, false);
  char *text = cni_result_json("1.0.0", &a, "/n", NULL, NULL);
  json_t *o = json_loads(text, 0, NULL);
  CHECK(json_array_size(json_object_get(o, "ips")) == 1 &&
            json_array_size(json_object_get(o, "routes")) == 1,
        "IPv4 only: one ip, one route: %s", text);
  json_decref(o);
  free(text);
}

static void test_version_error(void)
{
  char *text = cni_version_json();
  CHECK(strcmp(text, "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\","
                     "\"0.4.0\",\"1.0.0\"]}") == 0,
        "version: %s", text);
  free(text);
  text = cni_error_json("0.4.0", 7, "ipam.subnet: bad", "berth-bridge ADD");
  CHECK(strcmp(text, "{\"cniVersion\":\"0.4.0\",\"code\":7,\"msg\":\"ipam.subnet: bad\","
                     "\"details\":\"berth-bridge ADD\"}") == 0,
        "error: %s", text);
  free(text);
  text = cni_error_json("0.1.0", 1, "x", NULL);
  CHECK(strcmp(text, "{\"cniVersion\":\"1.0.0\",\"code\":1,\"msg\":\"x\"}") == 0,
        "error, unsupported version: %s", text);
  free(text);
  text = cni_error_json(NULL, 4, "a \"quoted\" word", NULL);
  json_t *o = json_loads(text, 0, NULL);
  CHECK(jeq(o, "msg", "a \"quoted\" word"), "error msg escaped: %s", text);
  json_decref(o);
  free(text);
  CHECK(cni_version_has_check("0.4.0") && cni_version_has_check("1.0.0") &&
            !cni_version_has_check("0.3.1") && !cni_version_has_check("2.0.0"),
        "CHECK from 0.4.0 on");
}

void cni_unit_tests(void)
{
  test_config_full();
  test_config_defaults();
  test_config_spellings();
  test_config_bad();
  test_args();
  test_env();
  test_holder_check();
  test_result();
  test_version_error();
}
