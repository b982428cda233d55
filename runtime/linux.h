/* Internal interface of the linux (namespace) backend. Each function says
 * which process runs it: the parent is `berth create` on the host, the child
 * is the container init inside its new namespaces, still root. */
#ifndef BERTH_LINUX_H
#define BERTH_LINUX_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../common/err.h"
#include "spec.h"

struct child_ctx {
  const struct spec *spec;
  const char *id;
  int sync_fd; /* child's end of the parent<->child socketpair */
  int fifo_fd; /* exec.fifo, opened O_RDWR: start writes one byte */
  bool no_pivot;
  bool no_new_keyring;
  const int *idmap_trees; /* per mount: a detached idmapped tree, or -1 (NULL: none) */
  unsigned preserve_fds;
  sigset_t orig_mask;      /* the caller's mask, restored before execve */
  const struct cgroup *cg; /* joined by the child itself, first thing */
  bool in_cgroup_v2;       /* clone3 already put it in the v2 directory */
  pid_t host_pid;          /* for the hooks' state; 0 until known */
};

/* child.c: the container init's recipe. Never returns. */
_Noreturn void child_main(struct child_ctx *c);

/* A process exec'd into a running container (`berth exec`). Its parent
 * already joined the pid and time namespaces, so it was born in them. */
struct exec_ctx {
  const struct spec *spec; /* the container's config, process replaced */
  const char *id;
  int sync_fd;
  int pidfd; /* the container init */
  pid_t init_pid;
  int ns_flags; /* CLONE_NEW* to join (user, mnt, ipc, uts, net, cgroup) */
  unsigned preserve_fds;
  sigset_t orig_mask;
  const struct cgroup *cg;
  bool in_cgroup_v2;
};
_Noreturn void exec_child_main(struct exec_ctx *c);

/* linux.c: atomically, as runc does (clients poll for it). */
int pid_file_write(const char *path, pid_t pid, struct berth_err **err);

/* tty.c */
/* Child, inside the container: a pty from its /dev/ptmx; the peer becomes
 * the controlling terminal and fds 0-2. *master is for the caller. */
int tty_setup_child(const struct spec *s, int *master, struct berth_err **err);
/* Parent: send the master over the unix socket at path (runc's protocol). */
int tty_send_to_socket(const char *path, int master, struct berth_err **err);
int tty_check_socket(const char *path, struct berth_err **err);
/* Parent: relay the caller's stdio (raw mode when a terminal) to master
 * until pid exits; forwards the signals in set (blocked by the caller). */
int tty_relay(int master, pid_t pid, int pidfd, const sigset_t *set, int *exit_status);

/* mount.c (child, before pivot_root) */
/* underfd: the rootfs directory opened before the self-bind. */
int rootfs_prepare(const struct spec *s, int underfd, struct berth_err **err);
int mounts_apply_all(const struct spec *s, const int *trees, int rootfd, struct berth_err **err);
/* linux.c */
void idmap_trees_free(int *trees, size_t n);
int dev_setup(const struct spec *s, int rootfd, struct berth_err **err);
int rootfs_mkdir(int rootfd, const char *path, struct berth_err **err);
int rootfs_pivot(int rootfd, bool no_pivot, struct berth_err **err);
/* mount.c (child, after pivot_root) */
int paths_mask(char **paths, struct berth_err **err);
int paths_readonly(char **paths, struct berth_err **err);
int rootfs_finish(const struct spec *s, struct berth_err **err);

/* caps.c (child, before reporting ready; exec: before execve) */
int user_and_caps_apply(const struct spec *s, struct berth_err **err);
/* The lowest capability in sets above last (cap_last_cap), or -1. */
int caps_first_unknown(const uint64_t sets[CAP_SET_COUNT], int last);

/* process.c (child) */
int rlimits_apply(const struct spec *s, struct berth_err **err);
int oom_score_adj_apply(const struct spec *s, pid_t pid, struct berth_err **err); /* parent */
int sysctl_apply(const struct spec *s, struct berth_err **err);
/* As the process's user, just before reporting ready: finds args[0]. */
int exec_lookup(const struct spec *s, char **path, struct berth_err **err);
/* The error for a failed execve of exe: "exec EXE: permission denied". */
int exec_error(const char *exe, int errnum, struct berth_err **err);
char **exec_env(const struct spec *s);

/* sync.c: parent <-> child messages over a SOCK_SEQPACKET socketpair */
enum sync_type { SYNC_GO = 1, SYNC_READY, SYNC_ERROR, SYNC_PTY, SYNC_HOOKS };
int sync_send(int fd, enum sync_type type, const struct berth_err *e);
/* A message carrying one fd (SCM_RIGHTS). */
int sync_send_fd(int fd, enum sync_type type, int passed);
/* sync_recv that also takes a passed fd (*passed = -1 when none came). */
int sync_recv_fd(int fd, int *passed, struct berth_err **err);
/* Returns the message type, 0 on EOF, -1 on error; an error message from
 * the other side is copied into *err with type SYNC_ERROR. */
int sync_recv(int fd, struct berth_err **err);

#endif
