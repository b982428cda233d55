/* TEMPORARY while netns/ lands in parts: weak stand-ins, overridden by the
 * real definitions (config.c, ipam.c, rtnl.c, nft.c); removed once all are in. */
#include <string.h>
#include "internal.h"
#define NI(name) return berth_err_set(err, 0, name ": not implemented")
__attribute__((weak)) int rtnl_open(struct rtnl *r, int fd, struct berth_err **err)
{
  (void)r;
  (void)fd;
  NI("x");
}
__attribute__((weak)) void rtnl_close(struct rtnl *r)
{
  (void)r;
}
__attribute__((weak)) int rtnl_ifindex(struct rtnl *r, const char *n, int *i,
                                       struct berth_err **err)
{
  (void)r;
  (void)n;
  (void)i;
  NI("x");
}
__attribute__((weak)) int rtnl_bridge_ensure(struct rtnl *h, const char *n, unsigned m,
                                             const struct net_prefix *a, const struct net_prefix *b,
                                             struct berth_err **err)
{
  (void)h;
  (void)n;
  (void)m;
  (void)a;
  (void)b;
  NI("x");
}
__attribute__((weak)) int rtnl_veth_attach(struct rtnl *h, const char *a, const char *b, int fd,
                                           const char *c, unsigned m, const uint8_t mac[6],
                                           struct berth_err **err)
{
  (void)h;
  (void)a;
  (void)b;
  (void)fd;
  (void)c;
  (void)m;
  (void)mac;
  NI("x");
}
__attribute__((weak)) int rtnl_cont_config(struct rtnl *c, const char *i,
                                           const struct net_prefix *a, const struct net_prefix *b,
                                           const struct net_prefix *d, const struct net_prefix *e,
                                           struct berth_err **err)
{
  (void)c;
  (void)i;
  (void)a;
  (void)b;
  (void)d;
  (void)e;
  NI("x");
}
__attribute__((weak)) int rtnl_link_del(struct rtnl *r, const char *n, struct berth_err **err)
{
  (void)r;
  (void)n;
  NI("x");
}
__attribute__((weak)) int netfw_masq_add(const struct net_prefix *s, const char *b,
                                         struct berth_err **err)
{
  (void)s;
  (void)b;
  NI("x");
}
__attribute__((weak)) int netfw_masq_del(const struct net_prefix *s, struct berth_err **err)
{
  (void)s;
  NI("x");
}
__attribute__((weak)) int netfw_ports_add(const char *h, const struct net_prefix *a,
                                          const struct net_port *p, size_t n,
                                          struct berth_err **err)
{
  (void)h;
  (void)a;
  (void)p;
  (void)n;
  NI("x");
}
__attribute__((weak)) int netfw_holder_del(const char *h, struct berth_err **err)
{
  (void)h;
  NI("x");
}
