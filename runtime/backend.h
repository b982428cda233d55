/* The table of operations a backend implements. `linux` is the namespace
 * backend; `microvm` (runtime/microvm.c over vm/) fills the same table. */
#ifndef BERTH_BACKEND_H
#define BERTH_BACKEND_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../common/err.h"
#include "runtime.h"
#include "spec.h"
#include "state.h"

struct backend_created {
  pid_t pid;
  int pidfd;   /* -1 unless asked to keep */
  int sync_fd; /* -1 unless asked to keep: EOF once the process execs */
  int pty;     /* the pty master when the process has a terminal and no
                  console socket took it; else -1 */
};

struct backend_exec_opts {
  unsigned preserve_fds;
  const char *console_socket; /* NULL: the pty master is handed back */
  const sigset_t *orig_mask;
  char *const *cgroups; /* exec --cgroup, or NULL */
  int dirfd;            /* the container's (locked) state directory */
};

struct backend_ops {
  const char *name;
  /* Creates the container in the locked state directory dirfd and writes
   * state.json. keep: hand pidfd/sync_fd back (run uses them to wait). */
  int (*create)(int dirfd, const char *id, const struct spec *spec,
                const struct runtime_create_opts *o, const sigset_t *orig_mask, bool keep,
                struct backend_created *out, struct berth_err **err);
  /* Starts spec's process in the running container st; returns once it
   * exec'd. out->pidfd and out->pty as for create with keep. */
  int (*exec)(const struct state *st, const struct spec *spec, const struct backend_exec_opts *o,
              struct backend_created *out, struct berth_err **err);
  int (*start)(int dirfd, const struct state *st, struct berth_err **err);
  int (*kill)(const struct state *st, int sig, bool all, struct berth_err **err);
  /* Kills everything left and waits until the init is gone. */
  int (*destroy)(const struct state *st, struct berth_err **err);
  int (*pause)(const struct state *st, bool pause, struct berth_err **err);
  int (*update)(const struct state *st, const struct cgroup_resources *r, struct berth_err **err);
  int (*procs)(const struct state *st, pid_t **pids, size_t *n, struct berth_err **err);
  /* A backend whose processes the host's ps cannot see (microvm): their
   * table, from dirfd's container ("PID PPID UID STAT COMMAND" lines with
   * a header). NULL: the host's ps over procs' pids. */
  int (*procs_table)(const struct state *st, int dirfd, char **table, struct berth_err **err);
  /* runc-shaped stats object; *oom_kills counts OOM kills so far. */
  int (*stats)(const struct state *st, json_t **stats, uint64_t *oom_kills, struct berth_err **err);
};

extern const struct backend_ops backend_linux;
extern const struct backend_ops backend_microvm;

const struct backend_ops *backend_lookup(const char *name, struct berth_err **err);

#endif
