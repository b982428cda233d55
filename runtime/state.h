/* Per-container state directory: <root>/<id>/{state.json,exec.fifo}.
 * The directory is the lock (flock); state.json is replaced atomically;
 * status is derived from the process, never trusted from the file. */
#ifndef BERTH_STATE_H
#define BERTH_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../cgroup/cgroup.h"
#include "../common/err.h"

enum status { STATUS_CREATING, STATUS_CREATED, STATUS_RUNNING, STATUS_PAUSED, STATUS_STOPPED };

struct state {
  char *id;
  pid_t pid;
  unsigned long long start_time; /* /proc/PID/stat field 22 */
  char *bundle;
  char *rootfs;
  char *created; /* RFC 3339 with nanoseconds, UTC */
  char *oci_version;
  char *backend;
  /* "mnt:DEV:INO" (or "pid:...") of a namespace only this container's
   * processes are in: finds them all, even once the init is gone. "" when
   * the container shares both with the host. */
  char *ns_key;
  json_t *annotations; /* owned reference or NULL */
  struct cgroup *cg;   /* NULL for a backend without one */
  json_t *hooks;       /* config.json's hooks object (owned) or NULL */
  bool bundle_owned;   /* the bundle is berth's: delete removes it */
  /* Not saved: write the files without fsync (runtime_create_opts.ephemeral). */
  bool ephemeral;
};

#define EXEC_FIFO "exec.fifo"
#define STATE_FILE "state.json"
#define CONFIG_FILE "config.json"
/* The container's cgroup again, written before it is made and whenever it
 * changes: delete --force finds it when state.json is unreadable. */
#define CGROUP_FILE "cgroup.json"

const char *status_name(enum status s);

/* mkdir <root>/<id> exclusively and lock it. Returns the directory fd. */
int state_dir_create(const char *root, const char *id, struct berth_err **err);

/* Opens and locks (exclusive or shared) an existing container directory.
 * The error says `container "ID" does not exist` when it is not there. */
int state_dir_open(const char *root, const char *id, bool exclusive, struct berth_err **err);

/* Removes the directory's files and the directory itself. */
int state_dir_remove(const char *root, const char *id, int dirfd, struct berth_err **err);

int state_write(int dirfd, const struct state *st, struct berth_err **err);
/* errnum EBADMSG: state.json is there, trusted, and not a state (torn by
 * hand, truncated, garbage). */
int state_read(int dirfd, const char *id, struct state *st, struct berth_err **err);
/* cgroup.json: written (or removed, for NULL) / read back (NULL if none). */
int state_write_cgroup(int dirfd, const struct cgroup *cg, bool durable, struct berth_err **err);
struct cgroup *state_read_cgroup(int dirfd);
void state_clear(struct state *st);

enum status state_status(int dirfd, const struct state *st);

/* Start time of a process (clock ticks after boot); 0 when it is gone or a zombie. */
unsigned long long proc_start_time(pid_t pid);
/* A pidfd for the container's recorded process (pid and start time: the
 * pidfd pins it, so a recycled pid is ruled out for every later use), or -1
 * with ESRCH once it is gone or was replaced. */
int state_pidfd(const struct state *st);
/* SIGKILLs the process behind fd and waits (up to 10 s) until it is gone. */
int state_pidfd_kill_wait(const struct state *st, int fd, struct berth_err **err);
/* The error for a verb that needs the container's cgroup, which it lacks. */
int state_no_cgroup(const struct state *st, struct berth_err **err);
/* Freezes or thaws the container's cgroup; an error without one. */
int state_freeze(const struct state *st, bool pause, struct berth_err **err);

/* Current time in the state file's format. Caller frees. */
char *state_now_rfc3339(void);

#endif
