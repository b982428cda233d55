/* Container networking as the runtime drives it (netns/ does the work):
 * prepared before the init is cloned, wired once it is ready, released with
 * the state directory. What was set up is recorded in the state directory
 * ("net.json") before it is set up, so a create killed at any point is
 * undone by delete. Internal to runtime/. */
#ifndef BERTH_RUNTIME_NET_H
#define BERTH_RUNTIME_NET_H

#include <sys/types.h>

#include "../netns/netns.h"
#include "../vm/proto.h"
#include "spec.h"

#define NET_FILE "net.json"
#define NET_LEASE_BASE "/run/berth-net"

/* Leases an address (bridge) and writes hosts/hostname/resolv.conf into
 * dirfd. *a is the attachment to wire (bridge mode). */
int net_prepare(int dirfd, const struct spec *s, const char *id, struct net_attachment *a,
                struct berth_err **err);
/* The bind mounts of those files: s's mounts plus one per file the config
 * does not mount itself. *out is s with that mount list; net_mounts_free. */
int net_mounts(int dirfd, const struct spec *s, struct spec *out, struct berth_err **err);
void net_mounts_free(const struct spec *s, struct spec *with);
/* Wires the network namespace of pid (bridge) or starts slirp4netns on
 * the child's network and user namespace fds (ns_fds). */
int net_wire(int dirfd, const struct spec *s, const struct net_attachment *a, pid_t pid,
             const int ns_fds[2], struct berth_err **err);
/* The microvm backend's network (microvm_net.c): the lease, record and
 * files as net_prepare makes them, a tap on the bridge for QEMU and the
 * guest's side as SPEC records ("net.*"). Without a network: tap_fd -1
 * and no records. Undone by net_release, as for the linux backend. */
struct net_vm {
  int tap_fd;
  uint8_t mac[6];
  struct vm_buf rec;
};
int net_prepare_vm(int dirfd, const struct spec *s, const char *id, struct net_vm *out,
                   struct berth_err **err);
void net_vm_free(struct net_vm *n);

/* Undoes all of it, from the record (none: nothing to do). */
int net_release(int dirfd, struct berth_err **err);

#endif
