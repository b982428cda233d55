/* Container networking: rtnetlink (libmnl) for veth, bridge, addresses and
 * routes; IPAM leases; nftables (libnftnl) NAT and published ports; the
 * container's /etc/hosts, hostname and resolv.conf. The runtime and the CNI
 * plugin face (cmd/cni.c) are both thin callers of these functions.
 * Functions named *_in_child run inside the container's network namespace;
 * the rest run in the "host" namespace (the runtime's own). */
#ifndef BERTH_NETNS_H
#define BERTH_NETNS_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"

/* Brings the loopback interface up, as every OCI runtime does for a new
 * network namespace. */
int netns_loopback_up_in_child(struct berth_err **err);

enum net_mode { NET_MODE_NONE = 0, NET_MODE_BRIDGE, NET_MODE_SLIRP };

/* An address with a prefix length ("10.88.0.5/16"). family 0: unset. */
struct net_prefix {
  int family; /* AF_INET or AF_INET6 */
  uint8_t addr[16];
  unsigned len;
};

struct net_port {
  uint16_t host_port;
  uint16_t cont_port;
  uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

#define NET_MAX_PORTS 64
#define NET_DEFAULT_BRIDGE "berth0"
#define NET_DEFAULT_SUBNET "10.88.0.0/16"

/* What a container asks for: the dev.berth.net* annotations. */
struct net_config {
  enum net_mode mode;
  char bridge[IFNAMSIZ];
  struct net_prefix subnet4, subnet6; /* family 0: no such subnet */
  struct net_prefix ip4, ip6;         /* static addresses; family 0: from IPAM */
  struct net_port ports[NET_MAX_PORTS];
  size_t nports;
  bool nat;
  unsigned mtu; /* 0: 1500 */
};

/* ---- configuration (netns/config.c; pure) ---- */

/* Defaults: mode none, bridge berth0, subnet 10.88.0.0/16, nat on. */
void netns_config_init(struct net_config *c);
/* Is `key` ("net", "net.bridge", ... without "dev.berth.") a net key? */
bool netns_config_is_key(const char *key);
/* Applies one annotation; the error names the value's problem, e.g.
 * `"10.88.0.300/16": not an IPv4 or IPv6 prefix`. Keys: net (none|bridge|
 * slirp), net.bridge, net.subnet (one IPv4 and/or one IPv6 prefix, comma
 * separated), net.ip (IPv4 or IPv6 address), net.ipv6 (an IPv6 address),
 * net.publish (HOSTPORT:CPORT[/tcp|udp][,…]), net.nat (true|false), net.mtu. */
int netns_config_set(struct net_config *c, const char *key, const char *val,
                     struct berth_err **err);
/* Cross-field checks once all keys are set: static address inside its
 * subnet and not its network, gateway or broadcast address; ports need
 * bridge mode; duplicate host ports. */
int netns_config_check(const struct net_config *c, struct berth_err **err);

/* Parsers used above (also by the CNI config reader). */
int net_prefix_parse(const char *s, struct net_prefix *p, struct berth_err **err);
/* A subnet for a bridge: a prefix with no host bits set, IPv4 /8../30 or
 * IPv6 /64../126 (room for a gateway and containers). */
int net_subnet_parse(const char *s, struct net_prefix *p, struct berth_err **err);
int net_addr_parse(const char *s, struct net_prefix *p, struct berth_err **err); /* len = 32/128 */
/* "10.88.0.5/16" (with_len) or "10.88.0.5"; buf of at least 64 bytes. */
const char *net_prefix_format(const struct net_prefix *p, bool with_len, char *buf, size_t n);
int net_ports_parse(const char *s, struct net_port *ports, size_t max, size_t *n,
                    struct berth_err **err);
/* The subnet's gateway: its first host address (".1", "::1"). */
void net_subnet_gateway(const struct net_prefix *subnet, struct net_prefix *gw);
bool net_prefix_contains(const struct net_prefix *subnet, const struct net_prefix *addr);

/* ---- one attachment: a container's interface on a bridge ---- */

/* Everything needed to wire and later undo one attachment. Derived from a
 * config and a holder by netns_attach_prepare, saved as JSON in the state
 * dir (runtime) or rebuilt from the CNI config (cni), so teardown works
 * after a crash at any point. */
struct net_attachment {
  char holder[256];    /* who holds the leases: state dir path, or CNI "ID/IFNAME" */
  char lease_dir[256]; /* IPAM directory for this bridge */
  char bridge[IFNAMSIZ];
  char host_if[IFNAMSIZ]; /* host end of the veth, derived from holder */
  char cont_if[IFNAMSIZ]; /* "eth0" */
  struct net_prefix subnet4, subnet6;
  struct net_prefix addr4, addr6; /* leased, with the subnet's prefix length */
  struct net_prefix gw4, gw6;
  uint8_t mac[6]; /* container side */
  struct net_port ports[NET_MAX_PORTS];
  size_t nports;
  bool nat;
  unsigned mtu;
};

/* The IPAM directory of the runtime's leases for `bridge`: under base
 * (/run/berth-net), keyed by the host network namespace (a bridge belongs
 * to one namespace, and two --root dirs share it). */
int netns_lease_dir(const char *base, const char *bridge, char *out, size_t n,
                    struct berth_err **err);
/* Fills *a from c with everything but the addresses: names, subnets,
 * ports. Nothing is taken yet, so *a can be recorded first. */
void netns_attach_names(const struct net_config *c, const char *holder, const char *lease_dir,
                        const char *cont_if, struct net_attachment *a);
/* Takes the leases (locked; a static address is honoured or refused) and
 * sets the addresses and MAC. On failure nothing is leased. */
int netns_attach_lease(const struct net_config *c, struct net_attachment *a,
                       struct berth_err **err);
/* names + lease. */
int netns_attach_prepare(const struct net_config *c, const char *holder, const char *lease_dir,
                         const char *cont_if, struct net_attachment *a, struct berth_err **err);
/* Wires it: bridge (made if missing, gateway addresses, up), veth with the
 * peer made in netns_fd, addresses, routes, NAT and published ports. On
 * failure the caller calls netns_attach_teardown. */
int netns_attach_wire(const struct net_attachment *a, int netns_fd, struct berth_err **err);
/* Checks that the wiring is still there (CNI CHECK). */
int netns_attach_check(const struct net_attachment *a, int netns_fd, struct berth_err **err);
/* Undoes whatever of prepare+wire happened; idempotent, every missing piece
 * is fine. The bridge stays. */
int netns_attach_teardown(const struct net_attachment *a, struct berth_err **err);
/* The same, but the veth is removed by a detached process (the kernel
 * takes ~16 ms to unregister one): for delete, whose container namespace
 * is dead. A new attachment of the same holder replaces a veth still
 * there. */
int netns_attach_release(const struct net_attachment *a, struct berth_err **err);

/* A microVM's attachment (tap.c): instead of a veth, a tap device named
 * host_if on the bridge (made if missing), and the NAT and port rules as
 * for a veth; *tap_fd is the tap's fd for the VMM. The device lives as
 * long as an fd to it is open; teardown removes it too if it is there. */
int netns_attach_wire_tap(const struct net_attachment *a, int *tap_fd, struct berth_err **err);
/* Inside the guest: cont_if up with mtu, addresses and default routes. */
int netns_attach_config_in_child(const struct net_attachment *a, struct berth_err **err);

/* JSON form of an attachment (state dir "net.json"). Caller frees. */
char *netns_attach_to_json(const struct net_attachment *a);
int netns_attach_from_json(const char *text, struct net_attachment *a, struct berth_err **err);

/* /etc/hosts, /etc/hostname and /etc/resolv.conf for the container, written
 * into dirfd as "hosts", "hostname", "resolv.conf". a may be NULL (no
 * address: loopback only). */
int netns_etc_write(int dirfd, const char *hostname, const struct net_attachment *a,
                    struct berth_err **err);

/* ---- rootless: slirp4netns ---- */

/* Starts slirp4netns for the network namespace netns_fd, joining userns_fd
 * (-1: none) to configure it (tap0 with
 * 10.0.2.100/24, DNS on 10.0.2.3, the host's loopback not reachable),
 * waits until it is ready and returns its pid: a daemon in its own session,
 * not berth's child, that runs until it is killed (by delete). */
int netns_slirp_start(int netns_fd, int userns_fd, unsigned mtu, pid_t *slirp_pid,
                      struct berth_err **err);

/* ---- the CNI plugin face (netns/cni.c): the protocol, pure but for
 * cni_link_mac; cmd/cni.c drives the attach functions above with it ---- */

/* The CNI spec's error codes; berth's own start at 100 (the spec leaves
 * them to plugins). */
enum cni_code {
  CNI_ERR_VERSION = 1,    /* incompatible CNI version */
  CNI_ERR_FIELD = 2,      /* unsupported field in the network config */
  CNI_ERR_CONTAINER = 3,  /* container unknown or does not exist */
  CNI_ERR_ENV = 4,        /* invalid environment variables */
  CNI_ERR_IO = 5,         /* I/O failure */
  CNI_ERR_DECODE = 6,     /* failed to decode content */
  CNI_ERR_CONFIG = 7,     /* invalid network config */
  CNI_ERR_AGAIN = 11,     /* try again later */
  CNI_ERR_ATTACHED = 100, /* ADD for a container and interface already attached */
  CNI_ERR_BROKEN = 101    /* CHECK: the wiring is not as ADD left it */
};

#define CNI_DEFAULT_DATA_DIR "/run/berth-cni"

/* A network config as the runtime passes it on stdin: a plugin config, or
 * a conflist with one entry of this type. */
struct cni_config {
  char version[16]; /* cniVersion */
  char name[128];
  char type[64];
  struct net_config net; /* mode bridge; subnets, ports, nat, mtu */
  char data_dir[192];    /* ipam.dataDir, default CNI_DEFAULT_DATA_DIR */
  char lease_dir[256];   /* data_dir/name */
};

/* Parses text into *cc (and checks it, as cni_config_check). Returns 0, or
 * -code (enum cni_code) with err set to one message naming the field
 * ("ipam.ranges[0][0].subnet: ..."). */
int cni_config_parse(const char *text, struct cni_config *cc, struct berth_err **err);
/* netns_config_check, its messages in the CNI config's words; again after
 * cni_args_apply. Returns 0 or -CNI_ERR_CONFIG. */
int cni_config_check(const struct cni_config *cc, struct berth_err **err);
/* CNI_ARGS ("K=V;K=V"): IP= (one IPv4 and/or one IPv6 address, comma
 * separated) sets the static addresses; IgnoreUnknown=1|true allows other
 * keys. Returns 0 or -code. */
int cni_args_apply(const char *args, struct net_config *net, struct berth_err **err);
bool cni_version_supported(const char *version);
/* Is CHECK defined for this config version (0.4.0 and later)? */
bool cni_version_has_check(const char *version);

enum cni_command { CNI_CMD_NONE = 0, CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_VERSION };

/* The CNI_* environment variables (NULL: unset). */
struct cni_env {
  const char *command, *container_id, *netns, *ifname, *args, *path;
};
/* The command, after checking that what it needs is set and well formed:
 * container ID (letters, digits, "_.-", a letter or digit first), an
 * interface name the kernel accepts, CNI_NETNS for ADD and CHECK, CNI_PATH.
 * Returns 0 or -CNI_ERR_ENV. */
int cni_env_check(const struct cni_env *e, enum cni_command *cmd, struct berth_err **err);
/* The holder of an attachment's leases and rules: "ID/IFNAME". */
int cni_holder(const struct cni_env *e, char *out, size_t n, struct berth_err **err);

/* The ADD result for cc->version (1.0.0, 0.4.0, 0.3.x): interfaces bridge,
 * host veth, container interface (sandbox netns_path), ips with gateway and
 * interface index, default routes, empty dns. MACs of the bridge and the
 * host end may be NULL (left out). Caller frees. */
char *cni_result_json(const char *version, const struct net_attachment *a, const char *netns_path,
                      const uint8_t *bridge_mac, const uint8_t *host_mac);
/* VERSION's answer. Caller frees. */
char *cni_version_json(void);
/* {"cniVersion","code","msg","details"}; version NULL or unsupported: the
 * newest; details NULL: left out. Caller frees. */
char *cni_error_json(const char *version, int code, const char *msg, const char *details);
/* The MAC address of link name in the current network namespace. */
int cni_link_mac(const char *name, uint8_t mac[6], struct berth_err **err);

#endif
