/* cgroup manager: v2 (unified), hybrid (v1 controllers + a v2 mount) and
 * legacy v1. Every cgroup write of berth lives in cgroup/. */
#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"

/* ---- linux.resources, parsed ---- */

struct cgroup_device_rule {
  bool allow;
  char type;      /* 'a' (all), 'c', 'b' */
  int64_t major;  /* -1: any */
  int64_t minor;  /* -1: any */
  char access[4]; /* subset of "rwm", NUL-terminated */
};

struct cgroup_throttle {
  int64_t major, minor;
  uint64_t rate;
};

struct cgroup_weight_device {
  int64_t major, minor;
  bool has_weight, has_leaf_weight;
  uint16_t weight, leaf_weight;
};

struct cgroup_hugepage {
  char *pagesize; /* "2MB", "1GB" */
  uint64_t limit;
};

struct cgroup_kv {
  char *key, *value;
};

struct cgroup_net_prio {
  char *ifname; /* an interface name, 1..15 bytes, no blanks or '/' */
  uint32_t priority;
};

struct cgroup_resources {
  /* memory (bytes; -1 = unlimited) */
  bool has_mem_limit, has_mem_reservation, has_mem_swap, has_mem_swappiness;
  int64_t mem_limit, mem_reservation, mem_swap; /* mem_swap is limit+swap, as in the spec */
  uint64_t mem_swappiness;
  bool disable_oom_killer;
  /* cpu */
  bool has_cpu_shares, has_cpu_quota, has_cpu_period, has_cpu_burst, has_cpu_idle;
  uint64_t cpu_shares, cpu_period, cpu_burst;
  int64_t cpu_quota; /* -1 = unlimited */
  int64_t cpu_idle;
  char *cpus, *mems; /* cpuset lists, NULL when unset */
  /* real-time bandwidth (v1 cpu.rt_*); 0 in the spec = unset */
  bool has_cpu_rt_runtime, has_cpu_rt_period;
  int64_t cpu_rt_runtime; /* -1: no limit */
  uint64_t cpu_rt_period;
  /* network (v1 net_cls, net_prio) */
  bool has_net_classid;
  uint32_t net_classid;
  struct cgroup_net_prio *net_prios;
  size_t n_net_prios;
  /* pids */
  bool has_pids_limit;
  int64_t pids_limit; /* <= 0: unlimited */
  /* blockIO */
  bool has_blkio_weight, has_blkio_leaf_weight;
  uint16_t blkio_weight, blkio_leaf_weight;
  struct cgroup_weight_device *weight_devices;
  size_t n_weight_devices;
  struct cgroup_throttle *throttle[4]; /* read bps, write bps, read iops, write iops */
  size_t n_throttle[4];
  /* hugepageLimits */
  struct cgroup_hugepage *hugepages;
  size_t n_hugepages;
  /* devices, in order */
  struct cgroup_device_rule *devices;
  size_t n_devices;
  /* unified (v2 only) */
  struct cgroup_kv *unified;
  size_t n_unified;
};

enum { THROTTLE_READ_BPS, THROTTLE_WRITE_BPS, THROTTLE_READ_IOPS, THROTTLE_WRITE_IOPS };

/* Parses a linux.resources object (config.json, or `update --resources`).
 * path names it in errors ("linux.resources"). Pure logic. */
int cgroup_resources_parse(json_t *obj, const char *path, struct cgroup_resources *out,
                           struct berth_err **err);
void cgroup_resources_free(struct cgroup_resources *r);

/* ---- pure conversions (convert.c), unit-tested ---- */

/* runc's cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 stays 0 (unset). */
uint64_t cgroup_shares_to_weight(uint64_t shares);
/* blkio weight [10, 1000] -> io.weight [1, 10000]; 0 stays 0. */
uint64_t cgroup_blkio_to_io_weight(uint16_t weight);
/* The spec's swap (limit+swap) -> memory.swap.max: writes "max" or a number
 * into buf. Error when swap is set without a memory limit or below it. */
int cgroup_swap_to_v2(int64_t limit, bool has_limit, int64_t swap, char *buf, size_t len,
                      struct berth_err **err);
/* cpu.max line: "QUOTA PERIOD" or "max PERIOD" (period default 100000). */
void cgroup_cpu_max(bool has_quota, int64_t quota, bool has_period, uint64_t period, char *buf,
                    size_t len);
/* io.max lines, one per device: "MAJ:MIN rbps=N wbps=N riops=N wiops=N"
 * (only the keys that are set). Returns a malloc'ed string, "" when none. */
char *cgroup_io_max_lines(const struct cgroup_resources *r);
/* v1 net_prio.ifpriomap line: "eth0 5". */
void cgroup_ifpriomap_line(const struct cgroup_net_prio *p, char *buf, size_t len);
/* v1 devices.allow/deny line: "c 1:3 rwm", "a *:* rwm". */
void cgroup_device_rule_line(const struct cgroup_device_rule *d, char *buf, size_t len);

/* ---- v2 device control: eBPF (devices_bpf.c) ---- */

/* runc's default allow list (mknod any c/b; null, zero, full, tty, random,
 * urandom, ptmx, the pts range, tun) */
extern const struct cgroup_device_rule cgroup_default_devices[];
extern const size_t cgroup_n_default_devices;

struct bpf_insn; /* <linux/bpf.h> */

/* Builds a BPF_PROG_TYPE_CGROUP_DEVICE program that applies the rules the
 * way the v1 devices controller would: later rules win, default deny unless
 * an "a" allow rule says otherwise. Caller frees *prog. */
int cgroup_devices_bpf_build(const struct cgroup_device_rule *rules, size_t n,
                             struct bpf_insn **prog, size_t *n_insns, struct berth_err **err);
/* Loads it and attaches it to the cgroup2 directory fd (BPF_F_ALLOW_MULTI). */
int cgroup_devices_bpf_attach(int cgroup_dirfd, const struct bpf_insn *prog, size_t n_insns,
                              struct berth_err **err);

/* ---- the manager (manager.c, apply.c, stats.c) ---- */

enum cgroup_layout { CGROUP_LAYOUT_V2, CGROUP_LAYOUT_HYBRID, CGROUP_LAYOUT_V1 };

/* A container's cgroup: one directory per hierarchy it lives in. */
struct cgroup;

/* The host's cgroup hierarchies, as mounted below /sys/fs/cgroup: calls
 * fn(mount dir name, controller options, fstype) for each. Also used to
 * mount them inside a container. */
int cgroup_foreach_hierarchy(int (*fn)(void *arg, const char *name, const char *opts,
                                       const char *fstype),
                             void *arg, struct berth_err **err);

/* Checks cgroupsPath and the resources against this host (CPUs that exist,
 * files this layout has) without creating anything. */
int cgroup_validate(const char *cgroups_path, const struct cgroup_resources *r,
                    struct berth_err **err);

/* The container's cgroup, planned: cgroupsPath absolute as given, relative
 * below berth's own cgroup, absent -> <own>/berth/<id> (which must not exist
 * yet). Checks the resources against this host; creates nothing, so the
 * caller can record the plan first (a create killed half way is then undone
 * from the record). Each directory is marked made or found as it is now. */
enum {
  CGROUP_CREATE_NEEDED_ONLY = 1, /* v1: skip hierarchies nothing here uses */
  /* v1, with NEEDED_ONLY: no one reads CPU or memory figures, so memory and
   * cpu only where a limit needs them, and no cpuacct */
  CGROUP_CREATE_NO_ACCOUNTING = 2,
};
int cgroup_plan(const char *id, const char *cgroups_path, const struct cgroup_resources *r,
                unsigned flags, struct cgroup **out, struct berth_err **err);
/* Creates the planned directories and applies the resources; on failure
 * nothing it made is left (and nothing else is touched). */
int cgroup_make(struct cgroup *cg, const struct cgroup_resources *r, struct berth_err **err);
/* cgroup_plan + cgroup_make, for callers with nothing to record between. */
int cgroup_create(const char *id, const char *cgroups_path, const struct cgroup_resources *r,
                  unsigned flags, struct cgroup **out, struct berth_err **err);
/* Opens the cgroup's v2 directory for clone3(CLONE_INTO_CGROUP); -1 when it
 * has none (v1), with err unset. */
int cgroup_open_v2(const struct cgroup *cg, struct berth_err **err);
/* Child side, single-threaded: moves the calling process into the cgroup.
 * A thread that moves itself (writing 0 to v1 "tasks") skips the global
 * lock whose grace period a move of another process costs (about 2 ms per
 * container start); skip_v2 when clone3 already put it there. */
int cgroup_enter_self(const struct cgroup *cg, bool skip_v2, struct berth_err **err);
/* exec --cgroup: the same, into existing sub-cgroups ("PATH" or
 * "CTL[,CTL]:PATH", relative to the container's groups); NULL subs: own. */
int cgroup_enter_self_sub(const struct cgroup *cg, char *const *subs, struct berth_err **err);
/* `update`: joins the hierarchies these resources need that the container
 * was created without (moving its processes there), so cgroup_apply can
 * write them. The caller saves the changed cgroup. */
int cgroup_join_missing(struct cgroup *cg, const struct cgroup_resources *r,
                        struct berth_err **err);
/* Writes resources (create and `update`). */
int cgroup_apply(const struct cgroup *cg, const struct cgroup_resources *r, struct berth_err **err);
int cgroup_freeze(const struct cgroup *cg, bool freeze, struct berth_err **err);
bool cgroup_is_frozen(const struct cgroup *cg);
/* Host pids of every process in the cgroup (sub-cgroups included). */
int cgroup_pids(const struct cgroup *cg, pid_t **pids, size_t *n, struct berth_err **err);
/* True when a directory of the container's was found at create rather than
 * made by berth (a cgroupsPath naming an existing cgroup): processes in it
 * need not be the container's. */
bool cgroup_adopted(const struct cgroup *cg);
/* Which processes in the cgroup are the container's. NULL: all of them
 * (a cgroup berth made holds nothing else). With a filter, nothing is done
 * to the cgroup as a whole (no cgroup.kill, no freezing). */
struct cgroup_filter {
  bool (*is_member)(pid_t pid, void *arg);
  void *arg;
};
/* Signals every process (that f accepts); returns how many were signalled. */
int cgroup_signal_all(const struct cgroup *cg, int sig, const struct cgroup_filter *f,
                      struct berth_err **err);
/* Kills what is left (that f accepts) and removes the directories berth
 * made, sub-cgroups first; a directory it found stays. */
int cgroup_destroy(const struct cgroup *cg, const struct cgroup_filter *f, struct berth_err **err);
/* runc-shaped stats object (cpu, memory, pids, blkio). */
json_t *cgroup_stats(const struct cgroup *cg);
/* pids.current, and pids.peak where the kernel keeps one (v2 since Linux
 * 6.13; else *peak is 0). -1 without a pids hierarchy. */
int cgroup_pids_counts(const struct cgroup *cg, uint64_t *current, uint64_t *peak);
/* OOM kills so far in the cgroup (memory.oom_control / memory.events). */
uint64_t cgroup_oom_kills(const struct cgroup *cg);

json_t *cgroup_to_json(const struct cgroup *cg);
struct cgroup *cgroup_from_json(json_t *o);
void cgroup_free(struct cgroup *cg);
#endif
