/* nftables NAT for container networking, over netlink with libnftnl and
 * libmnl (never the nft binary). Everything lives in table "inet berth":
 * three nat base chains, a masquerade rule per subnet tagged
 * "berth-masq:SUBNET", and DNAT rules for published ports tagged with the
 * holder's tag. Rules are found again by their comment, so no state is
 * kept outside the kernel. Runs in the runtime (or the CNI plugin), root in
 * the host namespace, single-threaded. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../common/cleanup.h"
#include "internal.h"

#define NFW_TABLE "berth"
#define NFW_MASQ_TAG "berth-masq:"

enum { NFW_PREROUTING, NFW_OUTPUT, NFW_POSTROUTING, NFW_NCHAINS };

/* Priorities are those of iptables' nat table (NF_IP_PRI_NAT_DST/SRC), so
 * DNAT happens before the routing decision and SNAT after it. */
static const struct nfw_chain {
  const char *name;
  uint32_t hook;
  int32_t prio;
} nfw_chains[NFW_NCHAINS] = {
    [NFW_PREROUTING] = {"prerouting", NF_INET_PRE_ROUTING, -100},
    [NFW_OUTPUT] = {"output", NF_INET_LOCAL_OUT, -100},
    [NFW_POSTROUTING] = {"postrouting", NF_INET_POST_ROUTING, 100},
};

/* An inet table sees IPv4 and IPv6 alike: each rule first matches the
 * family (meta nfproto), then reads addresses at the family's offsets. */
static const struct nfw_family {
  int af;
  uint8_t nfproto;
  uint32_t alen, saddr_off, daddr_off;
} nfw_families[] = {
    {AF_INET, NFPROTO_IPV4, 4, 12, 16},
    {AF_INET6, NFPROTO_IPV6, 16, 8, 24},
};

static const struct nfw_family *nfw_family(int af)
{
  for (size_t i = 0; i < sizeof(nfw_families) / sizeof(nfw_families[0]); i++)
    if (nfw_families[i].af == af)
      return &nfw_families[i];
  return NULL;
}

/* ---- pure: tags and rule building ---- */

void netfw_holder_tag(const char *holder, char out[NETFW_TAG_SIZE])
{
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
  for (const unsigned char *c = (const unsigned char *)holder; *c; c++) {
    h ^= *c;
    h *= 0x100000001b3ULL; /* FNV-1a 64 prime */
  }
  snprintf(out, NETFW_TAG_SIZE, "berth:%016" PRIx64, h);
}

/* "10.88.0.2", or "[fd00::2]" with brackets (before a ":port"). */
static void addr_format(const struct net_prefix *p, bool brackets, char *out, size_t n)
{
  char a[INET6_ADDRSTRLEN] = "?";
  inet_ntop(p->family, p->addr, a, sizeof(a));
  snprintf(out, n, brackets && p->family == AF_INET6 ? "[%s]" : "%s", a);
}

/* The subnet's network address and mask, alen bytes each. */
static void prefix_mask(const struct net_prefix *p, uint32_t alen, uint8_t net[16],
                        uint8_t mask[16])
{
  for (uint32_t i = 0; i < alen; i++) {
    unsigned bits = p->len > i * 8 ? p->len - i * 8 : 0;
    mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
    net[i] = p->addr[i] & mask[i];
  }
}

static void masq_comment(const struct net_prefix *subnet, char *out, size_t n)
{
  struct net_prefix net = *subnet;
  uint8_t mask[16];
  char a[64];
  prefix_mask(subnet, sizeof(net.addr), net.addr, mask);
  addr_format(&net, false, a, sizeof(a));
  snprintf(out, n, NFW_MASQ_TAG "%s/%u", a, subnet->len);
}

/* Field order follows the initializers' reading order. */
struct nfw_attr { // NOLINT(clang-analyzer-optin.performance.Padding)
  uint16_t type;
  const void *data;
  uint32_t len;
};
/* clang-format off */
#define NFW_U32(type, val) {(type), &(const uint32_t){(val)}, sizeof(uint32_t)}
/* clang-format on */

static int rule_add_expr(struct nftnl_rule *r, const char *name, const struct nfw_attr *a, size_t n)
{
  struct nftnl_expr *e = nftnl_expr_alloc(name);
  if (e == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (nftnl_expr_set(e, a[i].type, a[i].data, a[i].len) < 0) {
      nftnl_expr_free(e);
      return -1;
    }
  }
  nftnl_rule_add_expr(r, e);
  return 0;
}

/* Every match has one shape: load a value into register 1, optionally AND
 * it with a mask, compare it. */
enum nfw_load { NFW_META, NFW_NETWORK, NFW_TRANSPORT, NFW_FIB_DADDR_TYPE };
struct nfw_match { // NOLINT(clang-analyzer-optin.performance.Padding)
  enum nfw_load load;
  uint32_t key; /* meta key, or header offset */
  uint32_t len;
  const void *mask; /* NULL: compare all of it */
  enum nft_cmp_ops op;
  const void *data;
};

static int add_load(struct nftnl_rule *r, const struct nfw_match *m)
{
  uint32_t base =
      m->load == NFW_NETWORK ? NFT_PAYLOAD_NETWORK_HEADER : NFT_PAYLOAD_TRANSPORT_HEADER;
  const struct nfw_attr meta[] = {NFW_U32(NFTNL_EXPR_META_KEY, m->key),
                                  NFW_U32(NFTNL_EXPR_META_DREG, NFT_REG_1)};
  const struct nfw_attr payload[] = {
      NFW_U32(NFTNL_EXPR_PAYLOAD_BASE, base), NFW_U32(NFTNL_EXPR_PAYLOAD_OFFSET, m->key),
      NFW_U32(NFTNL_EXPR_PAYLOAD_LEN, m->len), NFW_U32(NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1)};
  /* "fib daddr type": the route type (RTN_*) of the destination address. */
  const struct nfw_attr fib[] = {NFW_U32(NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR),
                                 NFW_U32(NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE),
                                 NFW_U32(NFTNL_EXPR_FIB_DREG, NFT_REG_1)};
  switch (m->load) {
  case NFW_META:
    return rule_add_expr(r, "meta", meta, 2);
  case NFW_FIB_DADDR_TYPE:
    return rule_add_expr(r, "fib", fib, 3);
  default:
    return rule_add_expr(r, "payload", payload, 4);
  }
}

static int add_match(struct nftnl_rule *r, const struct nfw_match *m)
{
  static const uint8_t zero[16];
  const struct nfw_attr bitwise[] = {NFW_U32(NFTNL_EXPR_BITWISE_SREG, NFT_REG_1),
                                     NFW_U32(NFTNL_EXPR_BITWISE_DREG, NFT_REG_1),
                                     NFW_U32(NFTNL_EXPR_BITWISE_LEN, m->len),
                                     {NFTNL_EXPR_BITWISE_MASK, m->mask, m->len},
                                     {NFTNL_EXPR_BITWISE_XOR, zero, m->len}};
  const struct nfw_attr cmp[] = {NFW_U32(NFTNL_EXPR_CMP_SREG, NFT_REG_1),
                                 NFW_U32(NFTNL_EXPR_CMP_OP, m->op),
                                 {NFTNL_EXPR_CMP_DATA, m->data, m->len}};
  if (add_load(r, m) < 0)
    return -1;
  if (m->mask && rule_add_expr(r, "bitwise", bitwise, 5) < 0)
    return -1;
  return rule_add_expr(r, "cmp", cmp, 3);
}

/* A rule of table berth in chain with the matches m and comment as rule
 * userdata, where nft(8) reads its `comment "..."`. */
static struct nftnl_rule *rule_new(const char *chain, const char *comment,
                                   const struct nfw_match *m, size_t n)
{
  struct nftnl_rule *r = nftnl_rule_alloc();
  struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
  bool ok = r && ud && nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
  if (ok) {
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
    ok = nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFW_TABLE) == 0 &&
         nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) == 0 &&
         nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
                             nftnl_udata_buf_len(ud)) == 0;
  }
  for (size_t i = 0; ok && i < n; i++)
    ok = add_match(r, &m[i]) == 0;
  if (ud)
    nftnl_udata_buf_free(ud);
  if (!ok && r) {
    nftnl_rule_free(r);
    r = NULL;
  }
  return r;
}

/* "dnat ip to ADDR:PORT": address in register 1 (16 bytes wide, room for
 * IPv6), port in register 2. */
static int add_dnat(struct nftnl_rule *r, const struct nfw_family *f, const uint8_t *addr,
                    uint16_t port_be)
{
  const struct nfw_attr imm_addr[] = {NFW_U32(NFTNL_EXPR_IMM_DREG, NFT_REG_1),
                                      {NFTNL_EXPR_IMM_DATA, addr, f->alen}};
  const struct nfw_attr imm_port[] = {NFW_U32(NFTNL_EXPR_IMM_DREG, NFT_REG_2),
                                      {NFTNL_EXPR_IMM_DATA, &port_be, sizeof(port_be)}};
  const struct nfw_attr nat[] = {NFW_U32(NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT),
                                 NFW_U32(NFTNL_EXPR_NAT_FAMILY, f->nfproto),
                                 NFW_U32(NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1),
                                 NFW_U32(NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2),
                                 NFW_U32(NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED)};
  if (rule_add_expr(r, "immediate", imm_addr, 2) < 0 ||
      rule_add_expr(r, "immediate", imm_port, 2) < 0)
    return -1;
  return rule_add_expr(r, "nat", nat, 5);
}

struct nftnl_rule *netfw_rule_dnat(const char *chain, const struct net_prefix *addr,
                                   const struct net_port *p, const char *tag)
{
  const struct nfw_family *f = nfw_family(addr->family);
  if (f == NULL || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)) {
    errno = EINVAL;
    return NULL;
  }
  const uint32_t local = RTN_LOCAL;
  const uint16_t dport = htons(p->host_port);
  /* fib: only traffic to one of this namespace's own addresses, so
   * forwarded traffic to that port elsewhere is left alone. th dport is
   * bytes 2-3 of both the TCP and the UDP header. */
  const struct nfw_match m[] = {
      {NFW_META, NFT_META_NFPROTO, 1, NULL, NFT_CMP_EQ, &f->nfproto},
      {NFW_FIB_DADDR_TYPE, 0, sizeof(local), NULL, NFT_CMP_EQ, &local},
      {NFW_META, NFT_META_L4PROTO, 1, NULL, NFT_CMP_EQ, &p->proto},
      {NFW_TRANSPORT, 2, sizeof(dport), NULL, NFT_CMP_EQ, &dport},
  };
  struct nftnl_rule *r = rule_new(chain, tag, m, sizeof(m) / sizeof(m[0]));
  if (r && add_dnat(r, f, addr->addr, htons(p->cont_port)) < 0) {
    nftnl_rule_free(r);
    r = NULL;
  }
  return r;
}

struct nftnl_rule *netfw_rule_masq(const struct net_prefix *subnet, const char *bridge)
{
  const struct nfw_family *f = nfw_family(subnet->family);
  if (f == NULL || strlen(bridge) >= IFNAMSIZ) {
    errno = EINVAL;
    return NULL;
  }
  uint8_t net[16], mask[16];
  char ifname[IFNAMSIZ] = {0}, comment[NFTNL_UDATA_COMMENT_MAXLEN];
  prefix_mask(subnet, f->alen, net, mask);
  snprintf(ifname, sizeof(ifname), "%s", bridge);
  masq_comment(subnet, comment, sizeof(comment));
  /* An interface name compares as all IFNAMSIZ bytes, zero padded: an
   * exact match, where a shorter compare would be a prefix match. */
  const struct nfw_match m[] = {
      {NFW_META, NFT_META_NFPROTO, 1, NULL, NFT_CMP_EQ, &f->nfproto},
      {NFW_NETWORK, f->saddr_off, f->alen, mask, NFT_CMP_EQ, net},
      {NFW_NETWORK, f->daddr_off, f->alen, mask, NFT_CMP_NEQ, net},
      {NFW_META, NFT_META_OIFNAME, IFNAMSIZ, NULL, NFT_CMP_NEQ, ifname},
  };
  struct nftnl_rule *r =
      rule_new(nfw_chains[NFW_POSTROUTING].name, comment, m, sizeof(m) / sizeof(m[0]));
  if (r && rule_add_expr(r, "masq", NULL, 0) < 0) {
    nftnl_rule_free(r);
    r = NULL;
  }
  return r;
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
  const char *v = nftnl_udata_get(attr);
  uint8_t len = nftnl_udata_len(attr);
  if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && v[len - 1] == '\0')
    *(const char **)data = v;
  return 0;
}

const char *netfw_rule_comment(const struct nftnl_rule *r)
{
  uint32_t len = 0;
  const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
  const char *comment = NULL;
  if (ud)
    nftnl_udata_parse(ud, len, comment_cb, &comment);
  return comment;
}

/* ---- the socket: batches and dumps ---- */

struct nfw_sock {
  struct mnl_socket *nl;
  uint32_t portid, seq;
};

static void nfw_sock_closep(struct nfw_sock *s)
{
  if (s->nl)
    mnl_socket_close(s->nl);
}
#define cleanup_nfw_sock __attribute__((cleanup(nfw_sock_closep)))

static int nfw_sock_open(struct nfw_sock *s, struct berth_err **err)
{
  s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (s->nl == NULL)
    return berth_err_sys(err, "nftables: netlink socket");
  /* Capped acks: an error would otherwise echo the whole failing rule.
   * Extended acks (4.12+) add the kernel's reason where it gives one. */
  int one = 1;
  (void)mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
  (void)mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
  if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return berth_err_sys(err, "nftables: netlink bind");
  s->portid = mnl_socket_get_portid(s->nl);
  s->seq = (uint32_t)time(NULL);
  return 0;
}

/* Table, chains, and the rules of one netfw_ports_add (two per port). */
#define NFW_BATCH_MSGS (1 + NFW_NCHAINS + 2 * NET_MAX_PORTS)
/* Room per message: the largest, an IPv6 masquerade rule, is under 600. */
#define NFW_MSG_ROOM 1024
#define NFW_WHAT 192

/* One transaction: the kernel applies all of its messages or none. */
struct nfw_batch {
  struct nfw_sock *s;
  struct mnl_nlmsg_batch *b;
  uint32_t seq0;                           /* the begin message's */
  size_t n;                                /* messages after begin */
  char what[NFW_BATCH_MSGS + 1][NFW_WHAT]; /* [0]: the batch; [i]: message seq0+i */
  size_t acks;
  int errnum;
  uint32_t err_seq;
  char ext[NFW_WHAT];
  char buf[2 * NFW_BATCH_MSGS * NFW_MSG_ROOM]; /* twice the limit, as libmnl wants */
};

static void nfw_batch_freep(struct nfw_batch **b)
{
  if (*b && (*b)->b)
    mnl_nlmsg_batch_stop((*b)->b);
  free(*b);
}
#define cleanup_nfw_batch __attribute__((cleanup(nfw_batch_freep)))

static struct nfw_batch *batch_start(struct nfw_sock *s, const char *what)
{
  struct nfw_batch *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return NULL;
  b->s = s;
  b->b = mnl_nlmsg_batch_start(b->buf, sizeof(b->buf) / 2);
  if (b->b == NULL) {
    free(b);
    return NULL;
  }
  b->seq0 = s->seq;
  s->seq += NFW_BATCH_MSGS + 2;
  snprintf(b->what[0], NFW_WHAT, "%s", what);
  nftnl_batch_begin(mnl_nlmsg_batch_current(b->b), b->seq0);
  mnl_nlmsg_batch_next(b->b);
  return b;
}

static bool batch_full(const struct nfw_batch *b)
{
  return b->n >= NFW_BATCH_MSGS;
}

/* A message header, NLM_F_ACK so each message gets its own answer; the
 * caller adds the payload and calls batch_next. */
static struct nlmsghdr *batch_hdr(struct nfw_batch *b, uint16_t type, uint16_t flags,
                                  const char *what)
{
  b->n++;
  snprintf(b->what[b->n], NFW_WHAT, "%s", what);
  return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b->b), type, NFPROTO_INET, flags | NLM_F_ACK,
                               b->seq0 + (uint32_t)b->n);
}

static void batch_next(struct nfw_batch *b)
{
  mnl_nlmsg_batch_next(b->b);
}

/* NLM_F_CREATE without NLM_F_EXCL: present already is fine, as long as it
 * is the same (a chain with another hook or priority is EEXIST). */
static int batch_add_base(struct nfw_batch *b)
{
  struct nftnl_table *t = nftnl_table_alloc();
  if (t == NULL || nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFW_TABLE) < 0) {
    nftnl_table_free(t);
    return -1;
  }
  nftnl_table_nlmsg_build_payload(batch_hdr(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "add table"), t);
  nftnl_table_free(t);
  batch_next(b);
  for (size_t i = 0; i < NFW_NCHAINS; i++) {
    struct nftnl_chain *c = nftnl_chain_alloc();
    char what[NFW_WHAT];
    if (c == NULL)
      return -1;
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFW_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, nfw_chains[i].name);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, nfw_chains[i].hook);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, nfw_chains[i].prio);
    snprintf(what, sizeof(what), "add chain %s", nfw_chains[i].name);
    nftnl_chain_nlmsg_build_payload(batch_hdr(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, what), c);
    nftnl_chain_free(c);
    batch_next(b);
  }
  return 0;
}

static void batch_add_rule(struct nfw_batch *b, uint16_t type, struct nftnl_rule *r,
                           const char *what)
{
  uint16_t flags = type == NFT_MSG_NEWRULE ? NLM_F_CREATE | NLM_F_APPEND : 0;
  nftnl_rule_nlmsg_build_payload(batch_hdr(b, type, flags, what), r);
  batch_next(b);
}

static int ext_attr_cb(const struct nlattr *a, void *data)
{
  if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
    *(const char **)data = mnl_attr_get_str(a);
  return MNL_CB_OK;
}

static int batch_ack_cb(const struct nlmsghdr *nlh, void *data)
{
  struct nfw_batch *b = data;
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  b->acks++;
  if (e->error == 0 || b->errnum != 0)
    return MNL_CB_OK;
  b->errnum = -e->error;
  b->err_seq = nlh->nlmsg_seq;
  const char *ext = NULL;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    unsigned off = sizeof(*e);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
      off += e->msg.nlmsg_len - (unsigned)sizeof(struct nlmsghdr);
    mnl_attr_parse(nlh, off, ext_attr_cb, &ext);
  }
  snprintf(b->ext, sizeof(b->ext), "%s%s", ext ? ": " : "", ext ? ext : "");
  return MNL_CB_OK;
}

/* The kernel runs a batch inside sendmsg and queues every answer before
 * sendmsg returns, so they are read without waiting: an answer missing
 * then is an error, not something to block on. */
static int batch_read_acks(struct nfw_batch *b, struct berth_err **err)
{
  char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
  mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = batch_ack_cb};
  while (b->acks < b->n && b->errnum == 0) {
    ssize_t len = recv(mnl_socket_get_fd(b->s->nl), buf, sizeof(buf), MSG_DONTWAIT);
    if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return berth_err_set(err, 0, "nftables: %s: %zu of %zu answers", b->what[0], b->acks, b->n);
    if (len < 0)
      return berth_err_sys(err, "nftables: %s: receive", b->what[0]);
    if (mnl_cb_run2(buf, (size_t)len, 0, b->s->portid, NULL, b, ctl, NLMSG_MIN_TYPE) < 0)
      return berth_err_sys(err, "nftables: %s: answer", b->what[0]);
  }
  if (b->errnum == 0)
    return 0;
  /* An error on the begin message (EPERM, ENOMEM) concerns the batch. */
  uint32_t i = b->err_seq - b->seq0;
  const char *what = i <= b->n ? b->what[i] : b->what[0];
  return berth_err_set(err, b->errnum, "nftables: %s%s", what, b->ext);
}

static int batch_commit(struct nfw_batch *b, struct berth_err **err)
{
  nftnl_batch_end(mnl_nlmsg_batch_current(b->b), b->seq0 + (uint32_t)b->n + 1);
  batch_next(b);
  if (mnl_socket_sendto(b->s->nl, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0)
    return berth_err_sys(err, "nftables: %s: send", b->what[0]);
  return batch_read_acks(b, err);
}

typedef int (*nfw_rule_fn)(const struct nftnl_rule *r, void *data);

struct nfw_dump {
  nfw_rule_fn fn;
  void *data;
};

static int dump_rule_cb(const struct nlmsghdr *nlh, void *data)
{
  const struct nfw_dump *d = data;
  struct nftnl_rule *r = nftnl_rule_alloc();
  if (r == NULL)
    return MNL_CB_ERROR;
  int ret = nftnl_rule_nlmsg_parse(nlh, r) < 0 ? 0 : d->fn(r, d->data);
  nftnl_rule_free(r);
  return ret < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* Calls fn for each rule of table berth (of chain only, unless NULL). No
 * such table or chain: no rules. */
static int dump_rules(struct nfw_sock *s, const char *chain, nfw_rule_fn fn, void *data,
                      struct berth_err **err)
{
  /* Dump messages are at most 32 KiB, whatever the reader's buffer. */
  static char buf[32768];
  const size_t size = sizeof(buf);
  struct nftnl_rule *q = nftnl_rule_alloc();
  if (q == NULL)
    return berth_err_set(err, ENOMEM, "nftables: list rules");
  uint32_t seq = s->seq++;
  nftnl_rule_set_str(q, NFTNL_RULE_TABLE, NFW_TABLE);
  if (chain)
    nftnl_rule_set_str(q, NFTNL_RULE_CHAIN, chain);
  struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
  nftnl_rule_nlmsg_build_payload(nlh, q);
  nftnl_rule_free(q);
  if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
    return berth_err_sys(err, "nftables: list rules: send");
  struct nfw_dump d = {fn, data};
  int ret;
  do {
    ssize_t len = mnl_socket_recvfrom(s->nl, buf, size);
    ret = len < 0 ? -1 : mnl_cb_run(buf, (size_t)len, seq, s->portid, dump_rule_cb, &d);
  } while (ret > MNL_CB_STOP);
  if (ret < 0 && errno != ENOENT)
    return berth_err_sys(err, "nftables: list rules of %s", chain ? chain : "table " NFW_TABLE);
  return 0;
}

/* ---- deleting rules by comment ---- */

struct nfw_victims {
  const char *comment;
  size_t n, cap;
  struct nfw_victim {
    char chain[32];
    uint64_t handle;
  } * v;
};

static int collect_cb(const struct nftnl_rule *r, void *data)
{
  struct nfw_victims *vs = data;
  const char *comment = netfw_rule_comment(r);
  const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
  if (comment == NULL || strcmp(comment, vs->comment) != 0 || chain == NULL ||
      strlen(chain) >= sizeof(vs->v->chain))
    return 0;
  if (vs->n == vs->cap) {
    size_t cap = vs->cap ? 2 * vs->cap : 16;
    struct nfw_victim *v = realloc(vs->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    vs->v = v;
    vs->cap = cap;
  }
  snprintf(vs->v[vs->n].chain, sizeof(vs->v[vs->n].chain), "%s", chain);
  vs->v[vs->n++].handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
  return 0;
}

/* DELRULE names table, chain and handle: without a chain the kernel would
 * flush the whole table. */
static int batch_del_rule(struct nfw_batch *b, const struct nfw_victim *v, const char *comment)
{
  struct nftnl_rule *r = nftnl_rule_alloc();
  char what[NFW_WHAT];
  if (r == NULL)
    return -1;
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFW_TABLE);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, v->chain);
  nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, v->handle);
  snprintf(what, sizeof(what), "delete rule %s handle %" PRIu64 " (%s)", v->chain, v->handle,
           comment);
  batch_add_rule(b, NFT_MSG_DELRULE, r, what);
  nftnl_rule_free(r);
  return 0;
}

static int delete_tagged_once(const char *chain, const char *comment, struct berth_err **err)
{
  cleanup_nfw_sock struct nfw_sock s = {0};
  struct nfw_victims vs = {.comment = comment};
  int ret = nfw_sock_open(&s, err);
  if (ret == 0)
    ret = dump_rules(&s, chain, collect_cb, &vs, err);
  for (size_t i = 0; ret == 0 && i < vs.n;) {
    cleanup_nfw_batch struct nfw_batch *b = batch_start(&s, "delete rules");
    if (b == NULL) {
      ret = berth_err_set(err, ENOMEM, "nftables: delete %s", comment);
      break;
    }
    for (; i < vs.n && !batch_full(b) && ret == 0; i++)
      ret = batch_del_rule(b, &vs.v[i], comment) < 0 ? berth_err_set(err, ENOMEM, "nftables") : 0;
    if (ret == 0)
      ret = batch_commit(b, err);
  }
  free(vs.v);
  return ret;
}

/* A rule can vanish between the listing and the delete (another teardown
 * of the same holder): the batch then fails whole with ENOENT. A listing
 * can be cut short by a concurrent change (NLM_F_DUMP_INTR, EINTR). Either
 * way a new socket and listing tell what is left. */
static int delete_tagged(const char *chain, const char *comment, struct berth_err **err)
{
  for (int attempt = 0;; attempt++) {
    int ret = delete_tagged_once(chain, comment, err);
    if (ret == 0 || attempt == 2 || ((*err)->errnum != ENOENT && (*err)->errnum != EINTR))
      return ret;
    berth_err_free(err);
  }
}

/* ---- forwarding ---- */

/* NAT to a container is routing between interfaces, so forwarding has to
 * be on in this namespace (/proc/sys/net follows the opener's network
 * namespace), as docker and the CNI bridge plugin set it. Note that IPv6
 * forwarding makes interfaces with accept_ra=1 ignore router adverts. */
static int forwarding_enable(int family, struct berth_err **err)
{
  const char *path = family == AF_INET6 ? "/proc/sys/net/ipv6/conf/all/forwarding"
                                        : "/proc/sys/net/ipv4/ip_forward";
  char cur = 0;
  cleanup_close int rfd = open(path, O_RDONLY | O_CLOEXEC);
  if (rfd >= 0 && read(rfd, &cur, 1) == 1 && cur == '1')
    return 0;
  cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1", 1) != 1)
    return berth_err_sys(err, "enable forwarding: %s", path);
  return 0;
}

/* ---- the interface ---- */

static int find_comment_cb(const struct nftnl_rule *r, void *data)
{
  const char *comment = netfw_rule_comment(r), *want = *(const char **)data;
  if (want && comment && strcmp(comment, want) == 0)
    *(const char **)data = NULL; /* found; later rules have nothing to compare with */
  return 0;
}

static int masq_batch(struct nfw_sock *s, struct nftnl_rule *r, const char *comment,
                      struct berth_err **err)
{
  char what[NFW_WHAT];
  snprintf(what, sizeof(what), "add masquerade (%s)", comment);
  cleanup_nfw_batch struct nfw_batch *b = batch_start(s, what);
  if (b == NULL || batch_add_base(b) < 0)
    return berth_err_set(err, ENOMEM, "nftables: %s", what);
  batch_add_rule(b, NFT_MSG_NEWRULE, r, what);
  return batch_commit(b, err);
}

int netfw_masq_add(const struct net_prefix *subnet, const char *bridge, struct berth_err **err)
{
  char comment[NFTNL_UDATA_COMMENT_MAXLEN];
  masq_comment(subnet, comment, sizeof(comment));
  struct nftnl_rule *r = netfw_rule_masq(subnet, bridge);
  if (r == NULL)
    return berth_err_sys(err, "nftables: masquerade rule for %s via %s", comment, bridge);
  cleanup_nfw_sock struct nfw_sock s = {0};
  const char *missing = comment;
  int ret = nfw_sock_open(&s, err);
  if (ret == 0)
    ret = dump_rules(&s, nfw_chains[NFW_POSTROUTING].name, find_comment_cb, &missing, err);
  /* A listing then an add is not atomic: two concurrent adds can leave two
   * copies, which netfw_masq_del removes together. */
  if (ret == 0 && missing)
    ret = masq_batch(&s, r, comment, err);
  nftnl_rule_free(r);
  if (ret == 0)
    ret = forwarding_enable(subnet->family, err);
  return ret;
}

int netfw_masq_del(const struct net_prefix *subnet, struct berth_err **err)
{
  char comment[NFTNL_UDATA_COMMENT_MAXLEN];
  masq_comment(subnet, comment, sizeof(comment));
  return delete_tagged(nfw_chains[NFW_POSTROUTING].name, comment, err);
}

static const char *proto_name(uint8_t proto)
{
  return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "(not tcp or udp)";
}

static int ports_batch_add(struct nfw_batch *b, const char *tag, const struct net_prefix *addr,
                           const struct net_port *p, struct berth_err **err)
{
  static const int chains[] = {NFW_PREROUTING, NFW_OUTPUT};
  char a[64], what[NFW_WHAT];
  addr_format(addr, true, a, sizeof(a));
  for (size_t i = 0; i < 2; i++) {
    const char *chain = nfw_chains[chains[i]].name;
    snprintf(what, sizeof(what), "add rule %s dnat %u->%s:%u/%s", chain, p->host_port, a,
             p->cont_port, proto_name(p->proto));
    struct nftnl_rule *r = netfw_rule_dnat(chain, addr, p, tag);
    if (r == NULL)
      return berth_err_sys(err, "nftables: %s", what);
    batch_add_rule(b, NFT_MSG_NEWRULE, r, what);
    nftnl_rule_free(r);
  }
  return 0;
}

int netfw_ports_add(const char *holder, const struct net_prefix *addr, const struct net_port *p,
                    size_t n, struct berth_err **err)
{
  char tag[NETFW_TAG_SIZE];
  if (n == 0)
    return 0;
  if (n > NET_MAX_PORTS)
    return berth_err_set(err, E2BIG, "nftables: %zu ports (at most %d)", n, NET_MAX_PORTS);
  netfw_holder_tag(holder, tag);
  cleanup_nfw_sock struct nfw_sock s = {0};
  if (nfw_sock_open(&s, err) < 0)
    return -1;
  cleanup_nfw_batch struct nfw_batch *b = batch_start(&s, "publish ports");
  if (b == NULL || batch_add_base(b) < 0)
    return berth_err_set(err, ENOMEM, "nftables: publish ports");
  for (size_t i = 0; i < n; i++)
    if (ports_batch_add(b, tag, addr, &p[i], err) < 0)
      return -1;
  if (batch_commit(b, err) < 0)
    return -1;
  return forwarding_enable(addr->family, err);
}

int netfw_holder_del(const char *holder, struct berth_err **err)
{
  char tag[NETFW_TAG_SIZE];
  netfw_holder_tag(holder, tag);
  return delete_tagged(NULL, tag, err);
}
