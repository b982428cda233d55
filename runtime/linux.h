/* Internal interface of the linux (namespace) backend. Each function says
 * which process runs it: the parent is `berth create` on the host, the child
 * is the container init inside its new namespaces, still root. */
#ifndef BERTH_LINUX_H
#define BERTH_LINUX_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
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
  const int *stdio;        /* fds 0-2 to take (-1: as inherited), or NULL */
  bool die_with_runtime;   /* PR_SET_PDEATHSIG: SIGKILL when berth exits */
  sigset_t orig_mask;      /* the caller's mask, restored before execve */
  const struct cgroup *cg; /* joined by the child itself, first thing */
  bool in_cgroup_v2;       /* clone3 already put it in the v2 directory */
  pid_t host_pid;          /* for the hooks' state; 0 until known */
  /* linux.namespaces pid with a path (see pidns.c): */
  bool pidns_join;             /* the init is made after pivot_root */
  int pidns_fd;                /* that namespace, until joined; else -1 */
  bool late_userns;            /* born in no new namespace: joins the pid */
  unsigned long unshare_flags; /* namespace first, then unshares these */
  int procfs_ctx;              /* fsopen("proc") made there, or -1 */
};

/* child.c: the container init's recipe. Never returns. */
_Noreturn void child_main(struct child_ctx *c);

/* A process exec'd into a running container (`berth exec`): made by a
 * helper (child of berth exec) that first enters the container's cgroup
 * and every namespace, so it is born inside them. */
struct exec_ctx {
  const struct spec *spec; /* the container's config, process replaced */
  const char *id;
  int sync_fd;
  int pidfd; /* the container init */
  pid_t init_pid;
  int ns_flags; /* CLONE_NEW* to join (pid and time: for the process) */
  unsigned preserve_fds;
  sigset_t orig_mask;
  const struct cgroup *cg;
  int listener;             /* seccomp agent's socket, or -1; set by the helper */
  pid_t runtime_pid;        /* berth exec, the helper's parent */
  char *const *cgroup_subs; /* exec --cgroup, or NULL */
};
/* The helper: joins, closes berth's fds, clones the process as berth's
 * child and reports its pid (SYNC_PID) or an error (SYNC_ERROR). */
_Noreturn void exec_helper_main(struct exec_ctx *c);
_Noreturn void exec_child_main(struct exec_ctx *c);

/* child.c, for both recipes: closes every fd above stdio and the preserved
 * range that is not in keep (which it sorts). */
void fds_close_except(unsigned preserve, int *keep, size_t n);
/* The next process as the runtime's child (CLONE_PARENT), its pid sent as
 * SYNC_PID: 0 in the new process, its pid in ours, -1 on error. */
pid_t clone_for_runtime(int sync_fd, struct berth_err **err);

/* pidns.c: joining a pid namespace given by path. */
/* Parent: an fsopen("proc") context made inside that namespace. */
int pidns_procfs_context(const char *path, struct berth_err **err);
/* Child, after pivot_root: enter it (unless done early), close every fd
 * but keep, and make the init there. Returns 0 in the init; the first
 * process exits. */
int pidns_stage_init(struct child_ctx *c, int *keep, size_t n_keep, struct berth_err **err);
/* Child, first thing (a new user namespace cannot join a pid namespace
 * its parent owns): enter it, then unshare the rest, user first. */
int pidns_enter_early(struct child_ctx *c, struct berth_err **err);

/* linux.c: `start` through the exec fifo: one byte, then wait until the
 * holder (the init, or the microVM's supervisor) lets go of it. */
struct state;
int linux_start(int dirfd, const struct state *st, struct berth_err **err);
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
/* underfd: the rootfs directory opened before the self-bind, parentfd
 * its parent. Returns an fd of the new root mount. */
int rootfs_prepare(const struct spec *s, int parentfd, int underfd, struct berth_err **err);
int mounts_apply_all(const struct spec *s, const int *trees, int rootfd, struct berth_err **err);
/* The procfs mounts use this fs context (taken over) instead of their own:
 * procfs shows the pid namespace of whoever opened the context. */
void mounts_use_procfs_context(int fd);
/* linux.c */
void idmap_trees_free(int *trees, size_t n);
int dev_setup(const struct spec *s, int rootfd, struct berth_err **err);
int rootfs_mkdir(int rootfd, const char *path, struct berth_err **err);
int rootfs_pivot(int rootfd, bool no_pivot, struct berth_err **err);
/* copyup.c (child, before pivot_root): the tree below `under` (the
 * image's directory, covered by the new tmpfs at `top`) into the tmpfs. */
int tmpfs_copyup(int under, int top, const char *dest, bool mode_given, struct berth_err **err);
/* mount.c: bind sources opened while still the host's root (a user
 * namespace's mapped root may not reach them); kept for mounts_apply_all. */
int mount_sources_open(const struct spec *s, struct berth_err **err);
/* mount.c (child, after pivot_root) */
int paths_mask(char **paths, struct berth_err **err);
int paths_readonly(char **paths, struct berth_err **err);
int rootfs_finish(const struct spec *s, struct berth_err **err);

/* caps.c (child, before reporting ready; exec: before execve) */
/* keep_admin: CAP_SYS_ADMIN stays effective until execve (a seccomp
 * filter loaded after, without no_new_privs). */
int user_and_caps_apply(const struct spec *s, bool keep_admin, struct berth_err **err);
/* The lowest capability in sets above last (cap_last_cap), or -1. */
int caps_first_unknown(const uint64_t sets[CAP_SET_COUNT], int last);

/* process.c (child) */
int rlimits_apply(const struct spec *s, struct berth_err **err);
int personality_apply(const struct spec *s, struct berth_err **err);
int oom_score_adj_apply(const struct spec *s, pid_t pid, struct berth_err **err); /* parent */
int sysctl_apply(const struct spec *s, struct berth_err **err);
int sysctl_check_unshared(const struct spec *s, struct berth_err **err); /* parent */
/* As the process's user, just before reporting ready: finds args[0]. */
int exec_lookup(const struct spec *s, char **path, struct berth_err **err);
/* The error for a failed execve of exe: "exec EXE: permission denied". */
int exec_error(const char *exe, int errnum, struct berth_err **err);
char **exec_env(const struct spec *s);

/* sync.c: parent <-> child messages over a SOCK_SEQPACKET socketpair */
/* SYNC_PID: a process the child made (value: its pid in the parent's
 * namespace); SYNC_GO carries the receiver's own pid there, when known. */
/* SYNC_USERNS: the child made its user namespace; the parent writes the
 * maps and answers SYNC_GO. */
/* SYNC_NETNS: an fd of the child's network, then of its user namespace
 * (slirp4netns joins them; the parent cannot open the ns files of a
 * non-dumpable child when rootless). No answer. */
enum sync_type {
  SYNC_GO = 1,
  SYNC_READY,
  SYNC_ERROR,
  SYNC_PTY,
  SYNC_HOOKS,
  SYNC_PID,
  SYNC_USERNS,
  SYNC_NETNS
};
int sync_send(int fd, enum sync_type type, const struct berth_err *e);
/* With a value (in place of an errno) for SYNC_PID and SYNC_GO. */
int sync_send_val(int fd, enum sync_type type, int32_t val, const struct berth_err *e);
/* sync_recv_fd that also gives the value (*val untouched when none). */
int sync_recv_val(int fd, int *passed, int32_t *val, struct berth_err **err);
/* A message carrying one fd (SCM_RIGHTS). */
int sync_send_fd(int fd, enum sync_type type, int passed);
/* sync_recv that also takes a passed fd (*passed = -1 when none came). */
int sync_recv_fd(int fd, int *passed, struct berth_err **err);
/* Returns the message type, 0 on EOF, -1 on error; an error message from
 * the other side is copied into *err with type SYNC_ERROR. */
int sync_recv(int fd, struct berth_err **err);

#endif
