/* The microVM backend's machinery: the container's process runs in a
 * QEMU `-M microvm` guest with its own kernel (Debian's cloud kernel),
 * the bundle's rootfs shared over virtio-fs and berth's static guest init
 * (vm/guest/) as PID 1, spoken to over a virtio-serial control channel.
 *
 * Three pieces, each testable alone: guest assets (scripts/vm-assets.sh),
 * the guest init (vm/guest/), and this launcher: options (config.c, pure),
 * accelerator choice (accel.c), and the session a supervisor process runs
 * for one container (session.c). vm/ never calls runtime/: runtime/
 * microvm.c adapts it to the backend table. */
#ifndef BERTH_VM_H
#define BERTH_VM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define VM_ASSETS_DIR_DEFAULT "/var/cache/berth/vm"
/* Where the default assets are instead (`make vm-assets VM_ASSETS_DIR=`):
 * an absolute path in this environment variable. */
#define VM_ASSETS_ENV "BERTH_VM_ASSETS"
#define VM_QEMU "qemu-system-x86_64"
#define VM_VIRTIOFSD "/usr/lib/qemu/virtiofsd"

enum vm_accel { VM_ACCEL_AUTO, VM_ACCEL_KVM, VM_ACCEL_TCG };

/* Defaults (documented in the README): 1 vCPU unless the CPU quota asks
 * for more; memory = the container's limit + VM_MEM_OVERHEAD_MIB, at least
 * VM_MEM_DEFAULT_MIB; a boot must reach the guest init within 60 s. */
#define VM_MEM_DEFAULT_MIB 256
#define VM_MEM_MIN_MIB 128
#define VM_MEM_OVERHEAD_MIB 160
#define VM_BOOT_TIMEOUT_DEFAULT 60

struct vm_config {
  char *kernel, *initrd; /* absolute paths, checked to exist */
  enum vm_accel accel;   /* as asked; vm_accel_resolve makes it KVM or TCG */
  unsigned memory_mib, vcpus, boot_timeout_s;
  char *append; /* extra kernel command line, or NULL */
  bool memory_set;
  bool net;       /* a virtio-net device on the tap at VM_TAP_FD */
  uint8_t mac[6]; /* its MAC (the guest's) */
};

/* Is k (a dev.berth.* key without the prefix) one of the vm.* options? */
bool vm_option_is_key(const char *k);
/* Checks one vm.* value alone (syntax); err names the annotation. */
int vm_option_check(const char *k, const char *val, struct berth_err **err);

/* What the container asks for that sizes the VM. */
struct vm_limits {
  int64_t mem_limit; /* bytes, <= 0: none */
  int64_t cpu_quota; /* us per period, <= 0: none */
  uint64_t cpu_period;
};
/* The VM for a container: defaults, then its dev.berth.vm.* annotations
 * (annotations may be NULL), sized by its limits. Checks the kernel and
 * initramfs exist and the memory is enough. */
int vm_config_build(json_t *annotations, const struct vm_limits *lim, struct vm_config *c,
                    struct berth_err **err);
void vm_config_free(struct vm_config *c);
/* $BERTH_VM_ASSETS, else VM_ASSETS_DIR_DEFAULT. */
const char *vm_assets_dir(void);

/* accel.c: AUTO -> KVM when /dev/kvm can really run a guest (a few
 * real-mode instructions under KVM_RUN, with a deadline: a PVM-backed
 * /dev/kvm hangs), else TCG. KVM when it cannot -> error. */
int vm_accel_resolve(struct vm_config *c, struct berth_err **err);
/* The host TSC rate in kHz (TCG guests run on it and, without a reference
 * timer on microvm, may fail to calibrate it under load). 0 if unknown. */
unsigned long vm_tsc_khz(void);

/* config.c: QEMU's and virtiofsd's argv (pure, unit-tested). Paths are
 * relative to the session's work directory. Caller frees with vm_argv_free. */
#define VM_CTL_FD 3 /* the control channel's fd in QEMU */
#define VM_TAP_FD 4 /* the tap's, when cfg->net */
#define VM_VFS_SOCK "vfs.sock"
#define VM_CONSOLE_LOG "console.log"
char **vm_qemu_argv(const struct vm_config *c, unsigned long tsc_khz);
char **vm_virtiofsd_argv(const char *rootfs);
void vm_argv_free(char **argv);

/* mux.c: the supervisor's exec socket (VM_EXEC_SOCK in the state
 * directory, its working directory): `berth exec` and `berth ps` connect,
 * one request each, and speak proto.h's exec frames without the id. */
#define VM_EXEC_SOCK "exec.sock"
#define VM_MUX_CLIENTS 32
struct pollfd;
struct vm_reader;
struct vm_mux_client {
  int fd;
  uint32_t id;
  bool live; /* its process runs in the guest */
  struct vm_reader *rd;
};
struct vm_mux {
  int listen;
  uint32_t next_id;
  struct vm_mux_client c[VM_MUX_CLIENTS];
};
int vm_mux_open(struct vm_mux *m, struct berth_err **err);
/* Fills 1 + VM_MUX_CLIENTS entries; returns how many. */
size_t vm_mux_pollfds(const struct vm_mux *m, struct pollfd *f);
/* running: the container's process runs (exec and ps can be served). */
void vm_mux_on_poll(struct vm_mux *m, const struct pollfd *f, int ctl, bool running);
/* A tagged reply from the guest, for the client it names. */
void vm_mux_on_guest(struct vm_mux *m, int ctl, uint8_t type, const char *d, uint32_t len);
void vm_mux_close(struct vm_mux *m, int ctl);

/* exec.c: the host side of `berth exec` for a microVM container. dirfd:
 * the container's state directory. Sends the process (SPEC's process
 * records) and waits until the guest started it: returns the connection
 * then (the relay's to keep, with rd holding what already came after),
 * or -1 with the guest's reason. */
int vm_exec_request(int dirfd, const void *rec, size_t len, unsigned timeout_s,
                    struct vm_reader *rd, struct berth_err **err);
/* The relay, in the process that stands for the exec'd one on the host:
 * stdin, stdout and stderr (with a terminal: fd 0, the pty slave, raw,
 * its controlling terminal) and the signals of sigfd go through sock.
 * Returns the process's exit status (0-255, 128+N). */
int vm_exec_relay(int sock, struct vm_reader *rd, int sigfd, bool tty);
/* `berth ps`: the guest's table of the container's processes. */
int vm_ps_request(int dirfd, char **table, struct berth_err **err);

/* session.c: one container's VM, run by the supervisor process berth
 * forks for it (that process is the container's "pid" on the host). */
struct vm_session {
  const struct vm_config *cfg;
  const char *rootfs;
  int workdir;      /* sockets and logs go here (the state dir) */
  const void *spec; /* the SPEC records for the guest (vm_buf) */
  size_t spec_len;
  int start_fd;      /* readable once berth start wants the process run */
  int tap_fd;        /* the tap QEMU gets as VM_TAP_FD when cfg->net, else -1 */
  const char *trace; /* NULL, or a file for the timings (bench/microvm.sh) */
  bool tty;          /* stdio is a host pty's slave, raw, our controlling terminal */
  /* Called once: the guest is prepared (created), the process exec'd
   * (started), or neither can happen (error). */
  void (*on_created)(void *arg);
  void (*on_started)(void *arg);
  void (*on_error)(void *arg, struct berth_err *e);
  void *arg;
};
/* Returns the process's exit status (0-255, 128+N when killed by signal
 * N), or -1 after on_error. Stdio of the calling process is the
 * process's. Leaves no QEMU or virtiofsd process behind. */
int vm_session_run(const struct vm_session *s);

#endif
