/* The socket side of rtnetlink: one NETLINK_ROUTE socket per namespace,
 * one request at a time, each waited on until its ack. Runs in the runtime
 * (or the CNI plugin), root in the host namespace, single-threaded. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "../common/cleanup.h"
#include "internal.h"

/* Replies are small (one link, or an ack echoing a request of at most
 * NL_BUF bytes plus extack TLVs). */
#define RTNL_RECV_BUF 16384

/* A request buffer, aligned for struct nlmsghdr. */
#define NL_REQ_BUF(name) char name[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)))

static int rtnl_socket(struct rtnl *r, struct berth_err **err)
{
  struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == NULL)
    return berth_err_sys(err, "rtnetlink socket");
  /* Extended acks (Linux 4.12+) carry the kernel's reason for an EINVAL;
   * an older kernel refuses the option and its errors just lack the text. */
  int one = 1;
  (void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int saved = errno;
    mnl_socket_close(nl);
    return berth_err_set(err, saved, "rtnetlink bind");
  }
  r->nl = nl;
  r->portid = mnl_socket_get_portid(nl);
  r->seq = 0;
  return 0;
}

/* A netlink socket stays bound to the namespace it was created in, so it is
 * created inside netns_fd and used from here. setns only moves this thread:
 * fine, the runtime is single-threaded at this point. */
static int rtnl_socket_in(struct rtnl *r, int netns_fd, struct berth_err **err)
{
  cleanup_close int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0)
    return berth_err_sys(err, "open /proc/self/ns/net");
  if (setns(netns_fd, CLONE_NEWNET) < 0)
    return berth_err_sys(err, "enter the container's network namespace");
  int ret = rtnl_socket(r, err);
  if (setns(home, CLONE_NEWNET) < 0) {
    /* Left in the wrong namespace: this outranks any earlier error. */
    int saved = errno;
    if (ret == 0)
      rtnl_close(r);
    berth_err_free(err);
    return berth_err_set(err, saved, "return to the runtime's network namespace");
  }
  return ret;
}

int rtnl_open(struct rtnl *r, int netns_fd, struct berth_err **err)
{
  memset(r, 0, sizeof(*r));
  if (netns_fd < 0)
    return rtnl_socket(r, err);
  return rtnl_socket_in(r, netns_fd, err);
}

void rtnl_close(struct rtnl *r)
{
  if (r->nl)
    mnl_socket_close(r->nl);
  r->nl = NULL;
}

static uint32_t next_seq(struct rtnl *r)
{
  return ++r->seq;
}

/* ---- sending a request and reading its ack ---- */

struct talk {
  mnl_cb_t data_cb; /* for replies other than the ack (RTM_GETLINK's link) */
  void *data;
  int errnum;
  char extack[256];
};

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
  struct talk *t = data;
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
    snprintf(t->extack, sizeof(t->extack), "%s", mnl_attr_get_str(attr));
  return MNL_CB_OK;
}

/* The extack TLVs follow the echoed request, which is whole unless the
 * kernel capped it (NETLINK_CAP_ACK) to its header. */
static void extack_read(const struct nlmsghdr *nlh, const struct nlmsgerr *e, struct talk *t)
{
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
    return;
  size_t off = sizeof(*e);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len > sizeof(struct nlmsghdr))
    off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
  if (off < mnl_nlmsg_get_payload_len(nlh))
    mnl_attr_parse(nlh, (unsigned)off, extack_attr_cb, t);
}

/* NLMSG_ERROR is the ack: error 0 is success, otherwise -errno. */
static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
    t->errnum = EBADMSG;
    return MNL_CB_ERROR;
  }
  if (e->error == 0)
    return MNL_CB_STOP;
  t->errnum = e->error < 0 ? -e->error : e->error;
  extack_read(nlh, e, t);
  return MNL_CB_ERROR;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
  struct talk *t = data;
  return t->data_cb ? t->data_cb(nlh, t->data) : MNL_CB_OK;
}

/* Only NLMSG_ERROR is ours; NLMSG_DONE and NLMSG_OVERRUN (beyond the array)
 * keep libmnl's defaults. Not const: mnl_cb_run2 takes a plain pointer. */
static mnl_cb_t ctl_cbs[NLMSG_ERROR + 1] = {[NLMSG_ERROR] = ack_cb};

/* The error reads "<extack>: <strerror>", or just "<strerror>", so that
 * callers' context makes `veth bth1234 -> eth0: File exists`. */
static int talk_error(struct berth_err **err, int errnum, const char *extack)
{
  if (extack[0])
    berth_err_set(err, errnum, "%s", extack);
  else
    berth_err_set(err, 0, "%s", strerror(errnum));
  (*err)->errnum = errnum;
  return -1;
}

/* Sends nlh and reads until its ack; an error errno of ok_errno is success. */
static int talk(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, int ok_errno,
                struct berth_err **err)
{
  struct talk t = {.data_cb = cb, .data = data};
  char buf[RTNL_RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
  if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
    return berth_err_sys(err, "rtnetlink send");
  int ret = MNL_CB_OK;
  while (ret > MNL_CB_STOP) {
    ssize_t n = mnl_socket_recvfrom(r->nl, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return berth_err_sys(err, "rtnetlink receive");
    ret = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, r->portid, data_cb, &t, ctl_cbs,
                      MNL_ARRAY_SIZE(ctl_cbs));
  }
  if (ret == MNL_CB_STOP)
    return 0;
  int errnum = t.errnum ? t.errnum : errno ? errno : EIO;
  if (errnum == ok_errno)
    return 0;
  return talk_error(err, errnum, t.extack);
}

int rtnl_talk(struct rtnl *r, struct nlmsghdr *nlh, struct berth_err **err)
{
  return talk(r, nlh, NULL, NULL, 0, err);
}

/* ---- links ---- */

static int ifname_check(const char *name, struct berth_err **err)
{
  const char *why = ifname_problem(name);
  if (why)
    return berth_err_set(err, EINVAL, "interface name \"%.32s\": %s", name, why);
  return 0;
}

static int ifindex_cb(const struct nlmsghdr *nlh, void *data)
{
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type == RTM_NEWLINK && mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi))
    *(int *)data = ifi->ifi_index;
  return MNL_CB_OK;
}

int rtnl_ifindex(struct rtnl *r, const char *name, int *ifindex, struct berth_err **err)
{
  *ifindex = 0;
  if (ifname_check(name, err) < 0)
    return -1;
  NL_REQ_BUF(buf);
  struct nlmsghdr *nlh = nlb_link_get(buf, next_seq(r), name);
  /* ENODEV: no such link, *ifindex stays 0. */
  if (talk(r, nlh, ifindex_cb, ifindex, ENODEV, err) < 0)
    return berth_err_wrap(err, "look up %s", name);
  return 0;
}

/* The ifindex of a link that must exist; the caller's context names it. */
static int ifindex_need(struct rtnl *r, const char *name, int *ifindex, struct berth_err **err)
{
  if (rtnl_ifindex(r, name, ifindex, err) < 0)
    return -1;
  if (*ifindex == 0)
    return talk_error(err, ENODEV, "");
  return 0;
}

static int link_set(struct rtnl *r, int ifindex, int master, unsigned mtu, bool up,
                    struct berth_err **err)
{
  NL_REQ_BUF(buf);
  return rtnl_talk(r, nlb_link_set(buf, next_seq(r), ifindex, master, mtu, up), err);
}

int rtnl_link_del(struct rtnl *r, const char *name, struct berth_err **err)
{
  if (ifname_check(name, err) < 0)
    return -1;
  NL_REQ_BUF(buf);
  if (talk(r, nlb_link_del(buf, next_seq(r), name), NULL, NULL, ENODEV, err) < 0)
    return berth_err_wrap(err, "delete link %s", name);
  return 0;
}

/* ---- addresses and routes ---- */

static const char *prefix_str(const struct net_prefix *p, char *buf, size_t n)
{
  char a[INET6_ADDRSTRLEN] = "?";
  inet_ntop(p->family, p->addr, a, sizeof(a));
  snprintf(buf, n, "%s/%u", a, p->len);
  return buf;
}

static bool prefix_set(const struct net_prefix *p)
{
  return p != NULL && p->family != 0;
}

/* Adds a (IPv6 without duplicate detection); ok_errno EEXIST: present is fine. */
static int addr_add(struct rtnl *r, int ifindex, const struct net_prefix *a, int ok_errno,
                    struct berth_err **err)
{
  NL_REQ_BUF(buf);
  char s[64];
  struct nlmsghdr *nlh = nlb_addr_add(buf, next_seq(r), ifindex, a, a->family == AF_INET6);
  if (talk(r, nlh, NULL, NULL, ok_errno, err) < 0)
    return berth_err_wrap(err, "address %s", prefix_str(a, s, sizeof(s)));
  return 0;
}

static int route_default(struct rtnl *r, int ifindex, const struct net_prefix *gw,
                         struct berth_err **err)
{
  NL_REQ_BUF(buf);
  char s[64];
  if (rtnl_talk(r, nlb_route_default(buf, next_seq(r), ifindex, gw), err) < 0)
    return berth_err_wrap(err, "default route via %s", prefix_str(gw, s, sizeof(s)));
  return 0;
}

/* ---- the recipes ---- */

static int bridge_configure(struct rtnl *host, const char *name, const struct net_prefix *gw4,
                            const struct net_prefix *gw6, struct berth_err **err)
{
  int ifindex;
  if (ifindex_need(host, name, &ifindex, err) < 0)
    return -1;
  /* Concurrent runtimes add the same gateway: EEXIST is the race lost. */
  if (prefix_set(gw4) && addr_add(host, ifindex, gw4, EEXIST, err) < 0)
    return -1;
  if (prefix_set(gw6) && addr_add(host, ifindex, gw6, EEXIST, err) < 0)
    return -1;
  if (link_set(host, ifindex, 0, 0, true, err) < 0)
    return berth_err_wrap(err, "up");
  return 0;
}

static int linkinfo_kind_cb(const struct nlattr *a, void *data)
{
  if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
    snprintf(data, IFNAMSIZ, "%s", mnl_attr_get_str(a));
  return MNL_CB_OK;
}

static int link_attr_kind_cb(const struct nlattr *a, void *data)
{
  if (mnl_attr_get_type(a) == IFLA_LINKINFO && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
    mnl_attr_parse_nested(a, linkinfo_kind_cb, data);
  return MNL_CB_OK;
}

/* The link's kind ("bridge", "veth", ...; "" for a plain device). */
static int kind_cb(const struct nlmsghdr *nlh, void *data)
{
  if (nlh->nlmsg_type == RTM_NEWLINK)
    mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_kind_cb, data);
  return MNL_CB_OK;
}

/* A name that is taken by something else (eth0, a veth) must not get the
 * gateway address: that would readdress the host's own interface. */
static int bridge_is_bridge(struct rtnl *host, const char *name, struct berth_err **err)
{
  char kind[IFNAMSIZ] = "";
  NL_REQ_BUF(buf);
  if (talk(host, nlb_link_get(buf, next_seq(host), name), kind_cb, kind, 0, err) < 0)
    return -1;
  if (strcmp(kind, "bridge") != 0)
    return berth_err_set(err, 0, "%s exists and is not a bridge (a %s device): choose another name",
                         name, kind[0] ? kind : "plain");
  return 0;
}

int rtnl_bridge_ensure(struct rtnl *host, const char *name, unsigned mtu,
                       const struct net_prefix *gw4, const struct net_prefix *gw6,
                       struct berth_err **err)
{
  if (ifname_check(name, err) < 0)
    return -1;
  NL_REQ_BUF(buf);
  /* EEXIST: made earlier, or by a concurrent runtime just now. */
  if (talk(host, nlb_bridge_add(buf, next_seq(host), name, mtu), NULL, NULL, EEXIST, err) < 0 ||
      bridge_is_bridge(host, name, err) < 0 || bridge_configure(host, name, gw4, gw6, err) < 0)
    return berth_err_wrap(err, "bridge %s", name);
  return 0;
}

int rtnl_veth_attach(struct rtnl *host, const char *host_if, const char *bridge, int netns_fd,
                     const char *cont_if, unsigned mtu, const uint8_t mac[6],
                     struct berth_err **err)
{
  if (ifname_check(host_if, err) < 0 || ifname_check(cont_if, err) < 0 ||
      ifname_check(bridge, err) < 0)
    return -1;
  NL_REQ_BUF(buf);
  struct nlmsghdr *nlh = nlb_veth_add(buf, next_seq(host), host_if, cont_if, netns_fd, mtu, mac);
  if (rtnl_talk(host, nlh, err) < 0)
    return berth_err_wrap(err, "veth %s -> %s", host_if, cont_if);
  if (rtnl_link_setup(host, host_if, bridge, mtu, err) < 0)
    return berth_err_wrap(err, "veth");
  return 0;
}

int rtnl_link_setup(struct rtnl *r, const char *name, const char *master, unsigned mtu,
                    struct berth_err **err)
{
  int br = 0, ifindex;
  if (master && ifindex_need(r, master, &br, err) < 0)
    return berth_err_wrap(err, "%s: bridge %s", name, master);
  if (ifindex_need(r, name, &ifindex, err) < 0)
    return berth_err_wrap(err, "%s", name);
  if (link_set(r, ifindex, br, mtu, true, err) < 0)
    return master ? berth_err_wrap(err, "%s: attach to %s", name, master)
                  : berth_err_wrap(err, "%s: up", name);
  return 0;
}

static int cont_configure(struct rtnl *cont, int ifindex, const struct net_prefix *a4,
                          const struct net_prefix *a6, const struct net_prefix *gw4,
                          const struct net_prefix *gw6, struct berth_err **err)
{
  if (link_set(cont, ifindex, 0, 0, true, err) < 0)
    return berth_err_wrap(err, "up");
  if (prefix_set(a4) && addr_add(cont, ifindex, a4, 0, err) < 0)
    return -1;
  if (prefix_set(a6) && addr_add(cont, ifindex, a6, 0, err) < 0)
    return -1;
  /* After the addresses: a gateway must be on a connected prefix. */
  if (prefix_set(gw4) && route_default(cont, ifindex, gw4, err) < 0)
    return -1;
  if (prefix_set(gw6) && route_default(cont, ifindex, gw6, err) < 0)
    return -1;
  return 0;
}

int rtnl_cont_config(struct rtnl *cont, const char *cont_if, const struct net_prefix *a4,
                     const struct net_prefix *a6, const struct net_prefix *gw4,
                     const struct net_prefix *gw6, struct berth_err **err)
{
  int ifindex;
  if (ifindex_need(cont, cont_if, &ifindex, err) < 0 ||
      cont_configure(cont, ifindex, a4, a6, gw4, gw6, err) < 0)
    return berth_err_wrap(err, "container %s", cont_if);
  return 0;
}
