/* The guest init (PID 1 of the microVM), linked statically into the
 * initramfs. Pieces: boot.c brings the guest up to a control channel,
 * workload.c turns the host's SPEC into a prepared root and a process,
 * init.c is the recipe and the relay. Everything runs as root in the
 * guest; the host treats all it says as untrusted. */
#ifndef BERTH_VM_GUEST_H
#define BERTH_VM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../common/err.h"
#include "../proto.h"

#define GUEST_ROOT "/newroot"
#define GUEST_PORT_NAME "berth.ctl"

uint64_t guest_boottime_ns(void);

/* boot.c */
int guest_mount_basics(struct berth_err **err);
void guest_console_stdio(void);
int guest_modules_load(const char *dir, struct berth_err **err);
/* The virtio-serial port named GUEST_PORT_NAME, opened read-write. */
int guest_channel_open(int timeout_ms, struct berth_err **err);
_Noreturn void guest_poweroff(void);

/* workload.c */
struct guest_mount {
  char *dest, *type, *data;
  unsigned long flags;
};

struct guest_rlimit {
  int resource;
  uint64_t soft, hard;
};

struct guest_spec {
  char **args, **env;
  size_t n_args, n_env;
  char *cwd, *hostname, *resources;
  char *cgroups_path; /* "/": the process stays in the root cgroup (NULL: default) */
  uid_t uid;
  gid_t gid;
  gid_t *gids;
  size_t n_gids;
  bool readonly, has_umask;
  mode_t umask;
  struct guest_mount *mounts;
  size_t n_mounts;
  struct guest_rlimit *rlimits;
  size_t n_rlimits;
  /* the spec's security, applied as the linux backend does */
  bool has_caps, no_new_privs, terminal;
  uint64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
  unsigned rows, cols;
  unsigned char *seccomp; /* a BPF program compiled by berth on the host */
  size_t seccomp_len;     /* bytes */
  unsigned seccomp_flags;
};

int guest_spec_decode(const char *data, size_t len, struct guest_spec *s, struct berth_err **err);
void guest_spec_free(struct guest_spec *s);
/* Mounts the rootfs and the spec's mounts below GUEST_ROOT, sets the
 * hostname, makes the cgroup (*cg NULL: the root cgroup) and checks
 * args[0] can be found. */
struct cgroup;
int guest_prepare(const struct guest_spec *s, struct cgroup **cg, struct berth_err **err);

struct guest_proc {
  pid_t pid;
  /* our ends of its stdio pipes (-1 once closed); with a terminal, out is
   * the pty master and in a dup of it, err -1 */
  int in, out, err;
};
/* Starts the process. join 0: the container's main process, PID 1 of new
 * pid and mount namespaces with GUEST_ROOT as /; else an exec'd process,
 * in the namespaces of the main process `join`. Then the cgroup, the user,
 * capabilities, no_new_privs, seccomp. Returns once it exec'd (or failed
 * to). */
int guest_spawn(const struct guest_spec *s, const struct cgroup *cg, pid_t join,
                struct guest_proc *p, struct berth_err **err);

/* agent.c: relays the main process's stdio and signals, and serves the
 * host's exec and ps requests, until the main process exits (its execs
 * die with its pid namespace and are reported first). Returns its status. */
int agent_run(int chan, struct vm_reader *rd, int sigfd, const struct cgroup *cg,
              struct guest_proc *main_proc);

/* net.c: the SPEC's "net.*" records (the rest are workload.c's). */
#include "../../netns/netns.h"
#define GUEST_NET_ETC_MAX 3
struct guest_net {
  bool on; /* the host leased an address: eth0 gets it */
  struct net_attachment a;
  char *etc_name[GUEST_NET_ETC_MAX], *etc_text[GUEST_NET_ETC_MAX];
  size_t n_etc;
};
int guest_net_decode(const char *data, size_t len, struct guest_net *n, struct berth_err **err);
/* After guest_prepare: lo up; eth0 configured; the files bound over
 * GUEST_ROOT/etc (readonly: the rootfs is mounted read-only). */
int guest_net_apply(const struct guest_net *n, bool readonly, struct berth_err **err);

#endif
