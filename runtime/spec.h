/* config.json -> struct spec, with validation. Pure logic: no syscalls
 * beyond reading the file, so tests/unit covers it without root. */
#ifndef BERTH_SPEC_H
#define BERTH_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../cgroup/cgroup.h"
#include "../common/err.h"
#include "../netns/netns.h"
#include "../seccomp/seccomp.h"
#include "hooks.h"

enum ns_kind { NS_PID, NS_NET, NS_MNT, NS_IPC, NS_UTS, NS_CGROUP, NS_TIME, NS_USER, NS_COUNT };

struct spec_ns {
  bool enabled; /* listed in linux.namespaces */
  char *path;   /* join this one instead of creating (NULL: new) */
};

struct spec_rlimit {
  int resource;
  uint64_t soft, hard;
};

/* Capability sets as bit masks (bit n = capability n). */
enum cap_set {
  CAP_SET_BOUNDING,
  CAP_SET_EFFECTIVE,
  CAP_SET_PERMITTED,
  CAP_SET_INHERITABLE,
  CAP_SET_AMBIENT,
  CAP_SET_COUNT
};

struct spec_idmap {
  uint32_t container_id, host_id, size;
};

struct spec_mount {
  char *destination;         /* absolute, inside the rootfs */
  char *type;                /* may be NULL for binds */
  char *source;              /* absolute for binds (resolved against the bundle) */
  unsigned long flags;       /* MS_* for mount(2) */
  unsigned long clear_flags; /* MS_* explicitly turned off ("rw", "suid", ...) */
  unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE [|MS_REC] */
  char *data;                /* fs-specific options, comma separated */
  bool bind;                 /* bind or rbind */
  /* runc's recursive options (rro, rnosuid, ...): MOUNT_ATTR_* for
   * mount_setattr(AT_RECURSIVE) once mounted */
  uint64_t rec_attr_set, rec_attr_clr;
  bool tmpcopyup; /* tmpfs: copy what the image has at the destination into it */
  /* idmapped (bind) mount: "idmap"/"ridmap", with its own mappings or,
   * when none are given, the container's user namespace mappings */
  bool idmap, ridmap;
  struct spec_idmap *uid_map, *gid_map;
  size_t n_uid_map, n_gid_map;
};

struct spec_device {
  char *path;
  char type; /* c b u p */
  int64_t major, minor;
  mode_t file_mode;
  bool has_file_mode;
  uid_t uid;
  gid_t gid;
};

struct spec_kv {
  char *key, *value;
};

struct spec {
  json_t *json; /* the parsed document (annotations are read from it) */
  char *bundle; /* absolute bundle directory */
  char *oci_version;

  /* process */
  bool has_process;
  bool terminal;
  unsigned console_height, console_width; /* process.consoleSize, 0 if unset */
  char **args;                            /* NULL-terminated */
  char **env;                             /* NULL-terminated */
  char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *additional_gids;
  size_t n_additional_gids;
  bool has_umask;
  mode_t umask;
  struct spec_rlimit *rlimits;
  size_t n_rlimits;
  bool has_caps;
  uint64_t caps[CAP_SET_COUNT];
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;

  /* root */
  char *rootfs; /* absolute path */
  bool root_readonly;
  bool root_readonly_recursive; /* dev.berth.root.readonly=recursive */
  char *hostname;
  char *domainname;

  struct spec_mount *mounts;
  size_t n_mounts;

  /* linux */
  struct spec_ns ns[NS_COUNT];
  struct spec_idmap *uid_mappings, *gid_mappings; /* linux.uidMappings/gidMappings */
  size_t n_uid_mappings, n_gid_mappings;
  struct spec_device *devices;
  size_t n_devices;
  struct spec_kv *sysctl;
  size_t n_sysctl;
  unsigned long rootfs_propagation; /* 0: default (rslave) */
  char **masked_paths;
  char **readonly_paths;
  bool has_time_offsets;
  int64_t boottime_secs, monotonic_secs;
  uint32_t boottime_nsecs, monotonic_nsecs;

  bool has_personality; /* linux.personality */
  unsigned long personality;

  struct cgroup_resources resources; /* linux.resources */
  char *cgroups_path;                /* linux.cgroupsPath, NULL if unset */
  struct seccomp_filter *seccomp;    /* linux.seccomp, compiled; NULL if unset */

  struct hooks hooks;

  /* dev.berth.* annotations */
  char *backend;         /* "linux" */
  struct net_config net; /* dev.berth.net* */
};

/* Loads and validates BUNDLE/config.json. Errors read
 * "config.json: process.args: must be a non-empty array". */
int spec_load(const char *bundle, const char *seccomp_cache, struct spec **out,
              struct berth_err **err);

/* Same, from a JSON string (unit tests; bundle used to resolve paths). */
int spec_parse(const char *json_text, const char *bundle, const char *seccomp_cache,
               struct spec **out, struct berth_err **err);

/* For exec: the container's config with `process` replaced by `process`
 * (NULL: keep the config's). Errors about the process name `label`
 * ("--process FILE: args: ...") when given. */
int spec_parse_exec(const char *config_text, const char *bundle, json_t *process, const char *label,
                    const char *seccomp_cache, struct spec **out, struct berth_err **err);

/* spec_load with annotations ("KEY=VALUE", NULL-terminated; may be NULL)
 * set over the config's, as create's --net flags do. */
int spec_load_with(const char *bundle, const char *seccomp_cache, char *const *overrides,
                   struct spec **out, struct berth_err **err);

/* The same from config.json's text (berth sandbox builds it in memory);
 * bundle: an absolute directory that relative paths are resolved against. */
int spec_load_text_with(const char *text, const char *bundle, const char *seccomp_cache,
                        char *const *overrides, struct spec **out, struct berth_err **err);

void spec_free(struct spec *s);

/* Default config.json text like `runc spec`. Caller frees. */
char *spec_default_json(void);
/* rootless: for an ordinary user with these ids (`berth spec --rootless`). */
char *spec_default_json_for(bool rootless, unsigned uid, unsigned gid);

/* Namespace name <-> kind, clone flag. */
const char *spec_ns_name(enum ns_kind k);
int spec_ns_clone_flag(enum ns_kind k);

/* Is this sysctl allowed in a container with these namespaces? Returns 0 or
 * fills err with the reason. */
int spec_check_sysctl(const char *key, const struct spec_ns ns[NS_COUNT], struct berth_err **err);
/* The namespace kind a sysctl belongs to (NS_NET, NS_IPC, NS_UTS), or -1. */
int spec_sysctl_ns(const char *key);

/* ABS with "//", "." and ".." resolved lexically and no trailing "/"
 * ("/" stays "/"). Caller frees. */
char *spec_path_clean(const char *abs);

/* Parses one mount options array entry; exposed for unit tests.
 * Returns 1 when the option was a flag, 0 when it belongs in data. */
int spec_mount_option(const char *opt, struct spec_mount *m);

#endif
