/* TEMPORARY while netns/ lands in parts: weak stand-ins, overridden by the
 * real definitions (config.c, ipam.c, rtnl.c, nft.c); removed once all are in. */
#include <string.h>
#include "internal.h"
#define NI(name) return berth_err_set(err, 0, name ": not implemented")
__attribute__((weak)) int netfw_masq_add(const struct net_prefix *s, const char *b,
                                         struct berth_err **err)
{
  (void)s;
  (void)b;
  (void)err;
  return 0;
}
__attribute__((weak)) int netfw_masq_del(const struct net_prefix *s, struct berth_err **err)
{
  (void)s;
  (void)err;
  return 0;
}
__attribute__((weak)) int netfw_ports_add(const char *h, const struct net_prefix *a,
                                          const struct net_port *p, size_t n,
                                          struct berth_err **err)
{
  (void)h;
  (void)a;
  (void)p;
  (void)n;
  (void)err;
  return 0;
}
__attribute__((weak)) int netfw_holder_del(const char *h, struct berth_err **err)
{
  (void)h;
  (void)err;
  return 0;
}
