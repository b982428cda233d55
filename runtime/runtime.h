/* The container runtime as cmd/ sees it: one call per verb. */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "../common/err.h"

struct runtime_create_opts {
  const char *bundle;   /* default "." */
  const char *pid_file; /* NULL: none */
  bool no_pivot;
  bool no_new_keyring;
  unsigned preserve_fds;
  const char *console_socket; /* receives the pty master (process.terminal) */
  char *const *annotations;   /* "KEY=VALUE" set over config.json's (--net ...) */
  bool rootless;              /* --rootless true: no cgroup is fine, as for a user, even as root */
  /* Set by `run` in the foreground, for the container it waits for: */
  const int *stdio;          /* the init's fds 0-2 (-1: berth's own), or NULL */
  bool die_with_runtime;     /* the init is SIGKILLed when berth exits */
  const char *config;        /* config.json's text, instead of BUNDLE/config.json */
  bool cgroup_needed_only;   /* v1: only the hierarchies berth uses (no client looks) */
  bool cgroup_no_accounting; /* with it: no CPU/memory figures wanted (cgroup.h) */
  /* The bundle was made for this container alone (run --image): delete
   * unmounts its rootfs and removes it (common/treerm.h), never crossing
   * into a mount. */
  bool bundle_owned;
  /* The state files need not survive a crash of the machine (berth
   * sandbox: its container is gone after a reboot, and delete --force or
   * the next sandbox clears what is left): written without fsync. */
  bool ephemeral;
};

/* What the container's run looked like, taken as it ends (berth sandbox). */
struct runtime_report {
  bool timed_out;       /* the timeout fired and the container was killed */
  int stop_signal;      /* SIGINT, SIGTERM or SIGHUP berth got (0: none) */
  struct rusage rusage; /* the init's, with the children it reaped */
  json_t *stats;        /* the cgroup's, runc's shape; NULL without a cgroup */
  uint64_t oom_kills;
  /* pids.peak where the kernel keeps it, else the most pids.current showed
   * in samples taken every RUNTIME_PIDS_SAMPLE_MS; 0: no pids cgroup */
  uint64_t pids_peak;
  bool pids_sampled;
};

#define RUNTIME_PIDS_SAMPLE_MS 10

/* A foreground run with a deadline (berth sandbox). */
struct runtime_watch {
  uint64_t timeout_ms;        /* 0: none; then SIGKILL to the init (its pid namespace dies) */
  unsigned stop_grace_ms;     /* SIGINT/SIGTERM/SIGHUP to berth: forwarded, SIGKILL after this */
  const sigset_t *child_mask; /* the process's signal mask (NULL: the caller's) */
  bool pids_peak;             /* sample pids.current where the kernel keeps no peak */
  bool stats;                 /* read the cgroup's figures at the end (report.stats) */
  struct runtime_report report;
};

struct runtime_run_opts {
  struct runtime_create_opts create;
  bool detach;                 /* return once started */
  bool keep;                   /* keep the state after the container exits */
  struct runtime_watch *watch; /* NULL: wait as long as it runs (no terminal relay with it) */
};

struct runtime_info {
  char *id;
  pid_t pid; /* 0 once stopped */
  const char *status;
  char *bundle;
  char *rootfs;
  char *created;
  char *oci_version;
  json_t *annotations; /* may be NULL */
  char *owner;         /* user owning the state directory */
};

/* Re-executes berth from a sealed memfd unless it already runs from one
 * (CVE-2019-5736). Returns only on failure or when already protected. */
int runtime_self_protect(char **argv, char **envp, struct berth_err **err);

/* Where warnings go (poststart/poststop hook failures): cmd/ prints and logs them. */
void runtime_set_warn(void (*fn)(const char *msg));

int runtime_validate_id(const char *id, struct berth_err **err);
/* "KILL", "SIGKILL", "9" -> 9; "0" -> 0 (only checks the process exists) */
int runtime_parse_signal(const char *s, int *sig, struct berth_err **err);

int runtime_create(const char *root, const char *id, const struct runtime_create_opts *o,
                   struct berth_err **err);
int runtime_start(const char *root, const char *id, struct berth_err **err);
/* create + start (+ wait unless detached). *exit_status is the container's
 * exit code, 128+N when killed by signal N. With o->watch, also the
 * deadline and the report (its stats are the caller's to json_decref). */
int runtime_run(const char *root, const char *id, const struct runtime_run_opts *o,
                int *exit_status, struct berth_err **err);
struct runtime_exec_opts {
  const char *process_file; /* --process: a process object replacing all below */
  char **args;              /* the command (when no process_file) */
  char **env;               /* KEY=VALUE added or replaced */
  char **caps;              /* added to the bounding, effective and permitted sets */
  char **cgroups;           /* --cgroup: sub-cgroups to join ("PATH", "CTL[,CTL]:PATH") */
  const char *cwd;
  const char *user;            /* UID[:GID] */
  const char *additional_gids; /* comma-separated */
  bool tty;
  bool no_new_privs;
  bool detach;
  bool ignore_paused;
  const char *pid_file;
  const char *console_socket;
  unsigned preserve_fds;
};
/* Runs a process in the container; waits for it unless detached.
 * Returns -1 on a runtime error, -2 when the --process file is bad. */
int runtime_exec(const char *root, const char *id, const struct runtime_exec_opts *o,
                 int *exit_status, struct berth_err **err);

int runtime_kill(const char *root, const char *id, int sig, bool all, struct berth_err **err);
int runtime_delete(const char *root, const char *id, bool force, struct berth_err **err);
int runtime_state(const char *root, const char *id, struct runtime_info *info,
                  struct berth_err **err);
int runtime_list(const char *root, struct runtime_info **list, size_t *n, struct berth_err **err);
void runtime_info_clear(struct runtime_info *info);

int runtime_pause(const char *root, const char *id, struct berth_err **err);
int runtime_resume(const char *root, const char *id, struct berth_err **err);
/* resources: a linux.resources-shaped object (`update --resources`). */
int runtime_update(const char *root, const char *id, json_t *resources, struct berth_err **err);
/* Host pids of the container's processes; or, for a backend whose
 * processes the host cannot see (microvm), *table: its own table of them
 * ("PID PPID UID STAT COMMAND", the pids as the container sees them), and
 * those pids. */
int runtime_ps(const char *root, const char *id, pid_t **pids, size_t *n, char **table,
               struct berth_err **err);
/* Stats (runc's shape) and OOM kills so far; *running false once stopped. */
int runtime_stats(const char *root, const char *id, json_t **stats, uint64_t *oom_kills,
                  bool *running, struct berth_err **err);

/* Default config.json text (`berth spec`), features JSON (`berth features`). */
char *runtime_default_spec(bool rootless);
char *runtime_features_json(void);

#endif
