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
  unsigned preserve_fds;
  sigset_t orig_mask;      /* the caller's mask, restored before execve */
  const struct cgroup *cg; /* joined by the child itself, first thing */
  bool in_cgroup_v2;       /* clone3 already put it in the v2 directory */
};

/* child.c: the container init's recipe. Never returns. */
_Noreturn void child_main(struct child_ctx *c);

/* mount.c (child, before pivot_root) */
/* underfd: the rootfs directory opened before the self-bind. */
int rootfs_prepare(const struct spec *s, int underfd, struct berth_err **err);
int mounts_apply_all(const struct spec *s, int rootfd, struct berth_err **err);
int dev_setup(const struct spec *s, int rootfd, struct berth_err **err);
int rootfs_mkdir(int rootfd, const char *path, struct berth_err **err);
int rootfs_pivot(int rootfd, bool no_pivot, struct berth_err **err);
/* mount.c (child, after pivot_root) */
int paths_mask(char **paths, struct berth_err **err);
int paths_readonly(char **paths, struct berth_err **err);
int rootfs_finish(const struct spec *s, struct berth_err **err);

/* caps.c (child, last step before execve) */
int user_and_caps_apply(const struct spec *s, struct berth_err **err);

/* process.c (child) */
int rlimits_apply(const struct spec *s, struct berth_err **err);
int oom_score_adj_apply(const struct spec *s, pid_t pid, struct berth_err **err); /* parent */
int sysctl_apply(const struct spec *s, struct berth_err **err);
int exec_lookup(const struct spec *s, char **path, struct berth_err **err);
char **exec_env(const struct spec *s);

/* sync.c: parent <-> child messages over a SOCK_SEQPACKET socketpair */
enum sync_type { SYNC_GO = 1, SYNC_READY, SYNC_ERROR };
int sync_send(int fd, enum sync_type type, const struct berth_err *e);
/* Returns the message type, 0 on EOF, -1 on error; an error message from
 * the other side is copied into *err with type SYNC_ERROR. */
int sync_recv(int fd, struct berth_err **err);

#endif
