/* One attachment from start to end: names and leases, wiring, checking
 * and teardown; runs in the runtime's (host) network namespace. The
 * runtime and the CNI plugin face both go through here. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "internal.h"
#include "netns.h"

static uint32_t fnv1a(const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

int netns_lease_dir(const char *base, const char *bridge, char *out, size_t n,
                    struct berth_err **err)
{
  struct stat st;
  if (stat("/proc/self/ns/net", &st) < 0)
    return berth_err_sys(err, "network namespace of berth");
  int len = snprintf(out, n, "%s/%lx-%lx/%s", base, (unsigned long)st.st_dev,
                     (unsigned long)st.st_ino, bridge);
  if (len < 0 || (size_t)len >= n)
    return berth_err_set(err, ENAMETOOLONG, "lease directory for bridge %s", bridge);
  return 0;
}

void netns_attach_names(const struct net_config *c, const char *holder, const char *lease_dir,
                        const char *cont_if, struct net_attachment *a)
{
  memset(a, 0, sizeof(*a));
  snprintf(a->holder, sizeof(a->holder), "%s", holder);
  snprintf(a->lease_dir, sizeof(a->lease_dir), "%s", lease_dir);
  snprintf(a->bridge, sizeof(a->bridge), "%s", c->bridge);
  /* The host end is named by the holder, so teardown finds it without a
   * record (a create killed before writing one). */
  snprintf(a->host_if, sizeof(a->host_if), "bth%08x", fnv1a(holder));
  snprintf(a->cont_if, sizeof(a->cont_if), "%s", cont_if ? cont_if : "eth0");
  a->subnet4 = c->subnet4;
  a->subnet6 = c->subnet6;
  if (c->subnet4.family)
    net_subnet_gateway(&c->subnet4, &a->gw4);
  if (c->subnet6.family)
    net_subnet_gateway(&c->subnet6, &a->gw6);
  memcpy(a->ports, c->ports, c->nports * sizeof(c->ports[0]));
  a->nports = c->nports;
  a->nat = c->nat;
  a->mtu = c->mtu ? c->mtu : 1500;
}

/* Locally administered, derived from the address (unique while leased),
 * like docker's 02:42:<IPv4>. */
static void mac_for(struct net_attachment *a)
{
  a->mac[0] = 0x02;
  a->mac[1] = 0x42;
  if (a->addr4.family) {
    memcpy(a->mac + 2, a->addr4.addr, 4);
  } else {
    uint32_t h = fnv1a(a->holder);
    memcpy(a->mac + 2, &h, 4);
  }
}

/* A lease whose holder (a state directory) is gone: its container was
 * removed without berth (rm -rf of the root); the address is free. */
static bool holder_dir_gone(const char *holder)
{
  struct stat st;
  return holder[0] == '/' && lstat(holder, &st) < 0 && errno == ENOENT;
}

static int lease_one(const struct net_attachment *a, const struct net_prefix *subnet,
                     const struct net_prefix *want, struct net_prefix *out, struct berth_err **err)
{
  if (!subnet->family)
    return 0;
  if (ipam_lease(a->lease_dir, a->holder, subnet, want, holder_dir_gone, out, err) < 0)
    return -1;
  out->len = subnet->len;
  return 0;
}

int netns_attach_lease(const struct net_config *c, struct net_attachment *a, struct berth_err **err)
{
  cleanup_close int lock = ipam_lock(a->lease_dir, err);
  if (lock < 0)
    return -1;
  if (lease_one(a, &c->subnet4, &c->ip4, &a->addr4, err) < 0 ||
      lease_one(a, &c->subnet6, &c->ip6, &a->addr6, err) < 0) {
    struct berth_err *e2 = NULL;
    ipam_release(a->lease_dir, a->holder, &e2);
    berth_err_free(&e2);
    return -1;
  }
  mac_for(a);
  return 0;
}

int netns_attach_prepare(const struct net_config *c, const char *holder, const char *lease_dir,
                         const char *cont_if, struct net_attachment *a, struct berth_err **err)
{
  netns_attach_names(c, holder, lease_dir, cont_if, a);
  return netns_attach_lease(c, a, err);
}

/* Masquerade is per subnet, shared by every lease of it: added under the
 * lease lock, so it cannot race the last-one-out removal. */
static int masq_add(const struct net_attachment *a, struct berth_err **err)
{
  if (!a->nat)
    return 0;
  cleanup_close int lock = ipam_lock(a->lease_dir, err);
  if (lock < 0)
    return -1;
  if (a->subnet4.family && netfw_masq_add(&a->subnet4, a->bridge, err) < 0)
    return -1;
  if (a->subnet6.family && netfw_masq_add(&a->subnet6, a->bridge, err) < 0)
    return -1;
  return 0;
}

static int ports_add(const struct net_attachment *a, struct berth_err **err)
{
  if (a->nports == 0)
    return 0;
  if (a->addr4.family && netfw_ports_add(a->holder, &a->addr4, a->ports, a->nports, err) < 0)
    return -1;
  if (a->addr6.family && netfw_ports_add(a->holder, &a->addr6, a->ports, a->nports, err) < 0)
    return -1;
  return 0;
}

/* A host end left by a container of the same holder whose delete let it
 * go in the background (netns_attach_release) may still be there: it is
 * removed and the pair made again, once. */
static int veth_attach(struct rtnl *host, const struct net_attachment *a, int netns_fd,
                       struct berth_err **err)
{
  if (rtnl_veth_attach(host, a->host_if, a->bridge, netns_fd, a->cont_if, a->mtu, a->mac, err) == 0)
    return 0;
  if ((*err)->errnum != EEXIST)
    return -1;
  berth_err_free(err);
  if (rtnl_link_del(host, a->host_if, err) < 0)
    return -1;
  return rtnl_veth_attach(host, a->host_if, a->bridge, netns_fd, a->cont_if, a->mtu, a->mac, err);
}

static int links_wire(const struct net_attachment *a, int netns_fd, struct berth_err **err)
{
  struct rtnl host = {0}, cont = {0};
  int ret = rtnl_open(&host, -1, err);
  if (ret == 0)
    ret = rtnl_bridge_ensure(&host, a->bridge, a->mtu, &a->gw4, &a->gw6, err);
  if (ret == 0)
    ret = veth_attach(&host, a, netns_fd, err);
  if (ret == 0)
    ret = rtnl_open(&cont, netns_fd, err);
  if (ret == 0)
    ret = rtnl_cont_config(&cont, a->cont_if, &a->addr4, &a->addr6, &a->gw4, &a->gw6, err);
  rtnl_close(&cont);
  rtnl_close(&host);
  return ret;
}

int attach_fw_add(const struct net_attachment *a, struct berth_err **err)
{
  return masq_add(a, err) < 0 || ports_add(a, err) < 0 ? -1 : 0;
}

int netns_attach_wire(const struct net_attachment *a, int netns_fd, struct berth_err **err)
{
  if (links_wire(a, netns_fd, err) < 0 || attach_fw_add(a, err) < 0)
    return berth_err_wrap(err, "network %s", a->bridge);
  return 0;
}

static int link_present(struct rtnl *r, const char *name, const char *where, struct berth_err **err)
{
  int idx = 0;
  if (rtnl_ifindex(r, name, &idx, err) < 0)
    return -1;
  if (idx == 0)
    return berth_err_set(err, ENODEV, "%s: no interface %s", where, name);
  return 0;
}

int netns_attach_check(const struct net_attachment *a, int netns_fd, struct berth_err **err)
{
  struct rtnl host = {0}, cont = {0};
  int ret = rtnl_open(&host, -1, err);
  if (ret == 0)
    ret = link_present(&host, a->bridge, "host", err);
  if (ret == 0)
    ret = link_present(&host, a->host_if, "host", err);
  if (ret == 0)
    ret = rtnl_open(&cont, netns_fd, err);
  if (ret == 0)
    ret = link_present(&cont, a->cont_if, "container", err);
  rtnl_close(&cont);
  rtnl_close(&host);
  return ret;
}

/* Leases go, and with the subnet's last one its masquerade rule. */
static int leases_release(const struct net_attachment *a, struct berth_err **err)
{
  if (a->lease_dir[0] == '\0')
    return 0;
  struct stat st;
  if (stat(a->lease_dir, &st) < 0 && errno == ENOENT)
    return 0;
  cleanup_close int lock = ipam_lock(a->lease_dir, err);
  size_t left = 0;
  if (lock < 0 || ipam_release(a->lease_dir, a->holder, err) < 0 ||
      ipam_count(a->lease_dir, &left, err) < 0)
    return -1;
  if (left > 0)
    return 0;
  if (a->subnet4.family && netfw_masq_del(&a->subnet4, err) < 0)
    return -1;
  if (a->subnet6.family && netfw_masq_del(&a->subnet6, err) < 0)
    return -1;
  return 0;
}

static int link_del(const char *name, struct berth_err **err)
{
  struct rtnl host = {0};
  /* Deleting the host end takes the peer with it; with the container's
   * namespace gone, both are gone already. */
  int ret = rtnl_open(&host, -1, err);
  if (ret == 0)
    ret = rtnl_link_del(&host, name, err);
  rtnl_close(&host);
  return ret;
}

/* Unregistering a veth waits for an RCU grace period inside the caller's
 * syscall (~16 ms per pair here, the same with `ip link del`), ten times
 * the rest of the teardown. A detached process does it instead, holding
 * none of berth's fds (so no pipe waits for it, and no lock); the kernel
 * would remove the pair with the dead namespace anyway. */
static int link_del_background(const char *name, struct berth_err **err)
{
  pid_t c = fork();
  if (c < 0)
    return link_del(name, err);
  if (c == 0) {
    if (fork() == 0) {
      struct berth_err *e = NULL;
      close_range(0, ~0U, 0);
      _exit(link_del(name, &e) == 0 ? 0 : 1);
    }
    _exit(0);
  }
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
    ;
  return 0;
}

static int teardown(const struct net_attachment *a, bool wait, struct berth_err **err)
{
  int ret = wait ? link_del(a->host_if, err) : link_del_background(a->host_if, err);
  if (ret == 0)
    ret = netfw_holder_del(a->holder, err);
  if (ret == 0)
    ret = leases_release(a, err);
  if (ret < 0)
    return berth_err_wrap(err, "network teardown of %s", a->host_if);
  return 0;
}

int netns_attach_teardown(const struct net_attachment *a, struct berth_err **err)
{
  return teardown(a, true, err);
}

int netns_attach_release(const struct net_attachment *a, struct berth_err **err)
{
  return teardown(a, false, err);
}
