/* Internal interface between the parts of netns/: rtnetlink message
 * builders and socket ops (nlmsg.c, rtnl.c), IPAM (ipam.c), nftables
 * (nft.c). Nothing outside netns/ includes this. */
#ifndef BERTH_NETNS_INTERNAL_H
#define BERTH_NETNS_INTERNAL_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "netns.h"

/* ---- nlmsg.c: pure rtnetlink message builders ----
 * Each builds one request (NLM_F_REQUEST|NLM_F_ACK, plus CREATE|EXCL for
 * new objects) at buf (at least NL_BUF bytes) with sequence number seq and
 * returns it; no socket, so tests compare bytes. */
#define NL_BUF 8192
struct nlmsghdr *nlb_veth_add(void *buf, uint32_t seq, const char *name, const char *peer,
                              int peer_netns_fd, unsigned mtu, const uint8_t peer_mac[6]);
struct nlmsghdr *nlb_bridge_add(void *buf, uint32_t seq, const char *name, unsigned mtu);
/* RTM_NEWLINK on ifindex: master (0: leave), mtu (0: leave), up. */
struct nlmsghdr *nlb_link_set(void *buf, uint32_t seq, int ifindex, int master, unsigned mtu,
                              bool up);
struct nlmsghdr *nlb_link_del(void *buf, uint32_t seq, const char *name);
struct nlmsghdr *nlb_link_get(void *buf, uint32_t seq, const char *name);
/* RTM_NEWADDR; nodad for IPv6 (usable at once). */
struct nlmsghdr *nlb_addr_add(void *buf, uint32_t seq, int ifindex, const struct net_prefix *a,
                              bool nodad);
/* RTM_NEWROUTE default route via gw (family from gw) out of ifindex. */
struct nlmsghdr *nlb_route_default(void *buf, uint32_t seq, int ifindex,
                                   const struct net_prefix *gw);

/* ---- rtnl.c: the socket side ---- */
struct rtnl {
  struct mnl_socket *nl;
  uint32_t seq;
  uint32_t portid;
};
/* A NETLINK_ROUTE socket in netns_fd (-1: the current namespace). */
/* Why the kernel would refuse s as an interface name ("must be 1-15
 * characters", ...), or NULL. config.c. */
const char *ifname_problem(const char *s);

int rtnl_open(struct rtnl *r, int netns_fd, struct berth_err **err);
void rtnl_close(struct rtnl *r);
/* Sends nlh and waits for its ack; the error carries the kernel's errno
 * (and extack message when there is one). */
int rtnl_talk(struct rtnl *r, struct nlmsghdr *nlh, struct berth_err **err);
/* ifindex of name, 0 when there is none. */
int rtnl_ifindex(struct rtnl *r, const char *name, int *ifindex, struct berth_err **err);
/* Bridge `name` exists (made if missing, EEXIST races fine), has gateway
 * addresses gw4/gw6 (family 0: none; already present is fine), is up. */
int rtnl_bridge_ensure(struct rtnl *host, const char *name, unsigned mtu,
                       const struct net_prefix *gw4, const struct net_prefix *gw6,
                       struct berth_err **err);
/* veth host_if (master bridge, up) <-> cont_if made directly in netns_fd
 * with mac and mtu. */
int rtnl_veth_attach(struct rtnl *host, const char *host_if, const char *bridge, int netns_fd,
                     const char *cont_if, unsigned mtu, const uint8_t mac[6],
                     struct berth_err **err);
/* Link name up, with mtu (0: leave) and enslaved to master (NULL: leave). */
int rtnl_link_setup(struct rtnl *r, const char *name, const char *master, unsigned mtu,
                    struct berth_err **err);
/* In the container's namespace: cont_if up with its addresses, default
 * routes via the gateways (family 0: skip). */
int rtnl_cont_config(struct rtnl *cont, const char *cont_if, const struct net_prefix *a4,
                     const struct net_prefix *a6, const struct net_prefix *gw4,
                     const struct net_prefix *gw6, struct berth_err **err);
/* Deletes link name; gone already is fine. */
int rtnl_link_del(struct rtnl *r, const char *name, struct berth_err **err);

/* ---- attach.c ---- */
/* The nftables side of a wired attachment: the subnet's masquerade (nat)
 * and the published ports. */
int attach_fw_add(const struct net_attachment *a, struct berth_err **err);

/* ---- ipam.c: leases, one file per address in dir, holder inside ---- */
/* Takes the directory's lock (flock on dir/lock; dir made if missing). */
int ipam_lock(const char *dir, struct berth_err **err);
/* With the lock held: leases an address of subnet to holder: want (family
 * 0: the next free after the last one given, skipping network, gateway and
 * broadcast) or refused with "address in use" / "no free address". A
 * lease whose holder is gone (holder_gone(holder) true) is taken over. */
int ipam_lease(const char *dir, const char *holder, const struct net_prefix *subnet,
               const struct net_prefix *want, bool (*holder_gone)(const char *holder),
               struct net_prefix *out, struct berth_err **err);
/* With the lock held: releases every lease of holder (none is fine). */
int ipam_release(const char *dir, const char *holder, struct berth_err **err);
/* Number of leases in dir (for the last-one-out cleanup). */
int ipam_count(const char *dir, size_t *n, struct berth_err **err);

/* ---- nft.c: table "inet berth", rules tagged by comment ---- */
/* Masquerade for traffic from subnet leaving through anything but bridge
 * (once per subnet; present already is fine). */
int netfw_masq_add(const struct net_prefix *subnet, const char *bridge, struct berth_err **err);
int netfw_masq_del(const struct net_prefix *subnet, struct berth_err **err);
/* DNAT of each published port to addr (prerouting and output, for
 * traffic to a local address), tagged with holder. */
int netfw_ports_add(const char *holder, const struct net_prefix *addr, const struct net_port *p,
                    size_t n, struct berth_err **err);
/* Removes every rule tagged with holder; no table or no rule is fine. */
int netfw_holder_del(const char *holder, struct berth_err **err);

/* Pure parts, for the unit tests. A holder's rules carry the comment
 * "berth:" + 16 hex digits of the 64-bit FNV-1a hash of holder: a holder is
 * up to 255 bytes, a rule comment at most 128. */
#define NETFW_TAG_SIZE 23 /* "berth:" + 16 + NUL */
void netfw_holder_tag(const char *holder, char out[NETFW_TAG_SIZE]);
struct nftnl_rule;
/* The DNAT rule of port p to addr in chain ("prerouting" or "output");
 * NULL with errno set (EINVAL: not IPv4/IPv6, not tcp/udp). */
struct nftnl_rule *netfw_rule_dnat(const char *chain, const struct net_prefix *addr,
                                   const struct net_port *p, const char *tag);
/* The masquerade rule of subnet, comment "berth-masq:10.88.0.0/16". */
struct nftnl_rule *netfw_rule_masq(const struct net_prefix *subnet, const char *bridge);
/* The rule's comment, NULL if none; points into r. */
const char *netfw_rule_comment(const struct nftnl_rule *r);

#endif
