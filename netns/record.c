/* An attachment as JSON: what the runtime keeps in the state directory so
 * that delete undoes exactly what create did, even after a crash. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cleanup.h"
#include "netns.h"

enum field_kind { F_STR, F_PREFIX };

struct field {
  const char *name;
  enum field_kind kind;
  size_t off;
  size_t size; /* F_STR: buffer size */
};

#define STR(n, m)                                                                                  \
  {                                                                                                \
    n, F_STR, offsetof(struct net_attachment, m), sizeof(((struct net_attachment *)0)->m)          \
  }
#define PFX(n, m)                                                                                  \
  {                                                                                                \
    n, F_PREFIX, offsetof(struct net_attachment, m), 0                                             \
  }

static const struct field fields[] = {
    STR("holder", holder),   STR("lease_dir", lease_dir),
    STR("bridge", bridge),   STR("host_if", host_if),
    STR("cont_if", cont_if), PFX("subnet4", subnet4),
    PFX("subnet6", subnet6), PFX("addr4", addr4),
    PFX("addr6", addr6),     PFX("gw4", gw4),
    PFX("gw6", gw6),
};

static const char *proto_name(uint8_t p)
{
  return p == IPPROTO_UDP ? "udp" : "tcp";
}

static json_t *ports_json(const struct net_attachment *a)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < a->nports; i++) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%u:%u/%s", a->ports[i].host_port, a->ports[i].cont_port,
             proto_name(a->ports[i].proto));
    json_array_append_new(arr, json_string(buf));
  }
  return arr;
}

char *netns_attach_to_json(const struct net_attachment *a)
{
  json_t *o = json_object();
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    const char *p = (const char *)a + fields[i].off;
    char buf[64];
    if (fields[i].kind == F_STR)
      json_object_set_new(o, fields[i].name, json_string(p));
    else if (((const struct net_prefix *)p)->family)
      json_object_set_new(o, fields[i].name,
                          json_string(net_prefix_format((const void *)p, true, buf, sizeof(buf))));
  }
  char mac[18];
  snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", a->mac[0], a->mac[1], a->mac[2],
           a->mac[3], a->mac[4], a->mac[5]);
  json_object_set_new(o, "mac", json_string(mac));
  json_object_set_new(o, "ports", ports_json(a));
  json_object_set_new(o, "nat", json_boolean(a->nat));
  json_object_set_new(o, "mtu", json_integer(a->mtu));
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

static int field_from_json(json_t *o, const struct field *f, struct net_attachment *a,
                           struct berth_err **err)
{
  json_t *v = json_object_get(o, f->name);
  if (v == NULL)
    return 0;
  if (!json_is_string(v))
    return berth_err_set(err, 0, "%s: must be a string", f->name);
  char *p = (char *)a + f->off;
  const char *s = json_string_value(v);
  if (f->kind == F_STR) {
    size_t n = strlen(s);
    if (n >= f->size)
      return berth_err_set(err, 0, "%s: too long", f->name);
    memcpy(p, s, n + 1);
    return 0;
  }
  if (net_prefix_parse(s, (struct net_prefix *)(void *)p, err) < 0)
    return berth_err_wrap(err, "%s", f->name);
  return 0;
}

/* "02:42:0a:58:00:07" */
static int mac_parse(const char *s, uint8_t mac[6])
{
  for (int i = 0; i < 6; i++) {
    char *end;
    unsigned long v = strtoul(s, &end, 16);
    if (end != s + 2 || v > 0xff || *end != (i < 5 ? ':' : '\0'))
      return -1;
    mac[i] = (uint8_t)v;
    s = end + 1;
  }
  return 0;
}

static int rest_from_json(json_t *o, struct net_attachment *a, struct berth_err **err)
{
  json_t *mac = json_object_get(o, "mac");
  if (json_is_string(mac) && mac_parse(json_string_value(mac), a->mac) < 0)
    return berth_err_set(err, 0, "mac: not a MAC address");
  json_t *ports = json_object_get(o, "ports");
  if (json_is_array(ports) && json_array_size(ports) > 0) {
    cleanup_free char *joined = NULL;
    size_t i;
    json_t *e;
    json_array_foreach (ports, i, e) {
      char *next = NULL;
      if (!json_is_string(e) || asprintf(&next, "%s%s%s", joined ? joined : "", joined ? "," : "",
                                         json_string_value(e)) < 0)
        return berth_err_set(err, 0, "ports: must be strings");
      free(joined);
      joined = next;
    }
    if (net_ports_parse(joined, a->ports, NET_MAX_PORTS, &a->nports, err) < 0)
      return berth_err_wrap(err, "ports");
  }
  a->nat = json_is_true(json_object_get(o, "nat"));
  json_t *mtu = json_object_get(o, "mtu");
  a->mtu = json_is_integer(mtu) ? (unsigned)json_integer_value(mtu) : 1500;
  return 0;
}

int netns_attach_from_json(const char *text, struct net_attachment *a, struct berth_err **err)
{
  memset(a, 0, sizeof(*a));
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return berth_err_set(err, 0, "network record: invalid JSON");
  }
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < sizeof(fields) / sizeof(fields[0]); i++)
    ret = field_from_json(o, &fields[i], a, err);
  if (ret == 0)
    ret = rest_from_json(o, a, err);
  json_decref(o);
  return ret < 0 ? berth_err_wrap(err, "network record") : 0;
}
