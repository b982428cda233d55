/* berth sandbox: the flags, and the config.json they make (sandbox_spec.c). */
#ifndef BERTH_CMD_SANDBOX_H
#define BERTH_CMD_SANDBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"

/* Exit statuses of berth's own (the command's pass through unchanged). */
enum {
  SANDBOX_EXIT_TIMEOUT = 124, /* --timeout fired, as timeout(1) */
  SANDBOX_EXIT_FAILURE = 125, /* berth could not set the sandbox up */
  SANDBOX_EXIT_NOEXEC = 126,  /* CMD found but not executable */
  SANDBOX_EXIT_NOTFOUND = 127 /* CMD not found */
};

enum sandbox_root { SANDBOX_ROOT_HOST, SANDBOX_ROOT_DIR, SANDBOX_ROOT_IMAGE };

struct strv {
  char **v;
  size_t n;
};

struct sandbox_opts {
  enum sandbox_root root_kind;
  const char *root_arg; /* --rootfs DIR or --image REF */
  struct strv binds, overlays, tmpfs, env, caps;
  const char *workdir, *user, *net, *stats_path, *backend;
  bool has_memory, has_cpus, has_pids;
  int64_t memory, cpu_quota, pids;
  uint64_t timeout_ms, grace_ms;
  bool gc; /* --gc: only remove stale sandboxes */
};

/* What the spec builder needs to know beyond the flags. */
struct sandbox_ctx {
  const struct sandbox_opts *o;
  char *const *argv;   /* the command */
  const char *cwd;     /* the caller's working directory */
  const char *rootfs;  /* "/" (--host), DIR, or the image bundle's rootfs */
  const char *tmp_dir; /* private scratch (overlay upper dirs), or NULL */
  json_t *image_cfg;   /* the image bundle's config.json, or NULL */
  bool rootless;
  uid_t uid; /* the ids inside */
  gid_t gid;
};

/* config.json text for the sandbox. Caller frees. Errors name the flag. */
int sandbox_spec(const struct sandbox_ctx *c, char **text, struct berth_err **err);

/* "512M", "1g", "65536" -> bytes; "1.5" -> CPU quota per 100 ms period;
 * "60s", "1.5m", "500ms", "2" (seconds) -> ms. */
int sandbox_parse_size(const char *s, int64_t *out);
int sandbox_parse_cpus(const char *s, int64_t *quota);
int sandbox_parse_duration(const char *s, uint64_t *ms);

/* sandbox.c: berth-image [--image-root DIR] bundle create|rm: the image
 * bundle of --image in the scratch directory. */
int sandbox_image_bundle(bool create, const char *ref, const char *dir, struct berth_err **err);

/* sandbox_gc.c: a sandbox's claim, <root>/.ID.sandbox, locked while its
 * berth lives and naming its scratch directory (NULL: none) and whether an
 * image bundle is in it. EAGAIN: a concurrent cleanup took it, try another ID. */
struct sandbox_claim {
  int fd;
  char *path;
};
int sandbox_claim_take(const char *root, const char *id, const char *scratch, bool image_bundle,
                       struct sandbox_claim *c, struct berth_err **err);
/* Removes and unlocks it: last, once everything else is gone. */
void sandbox_claim_drop(struct sandbox_claim *c);
/* Removes a scratch directory (overlay upper and work dirs), never crossing
 * into a mount. */
void sandbox_scratch_remove(const char *dir);
/* Removes the sandboxes under root whose claim no berth holds: container,
 * scratch directory, image bundle, claim. Calls removed (if not NULL) for
 * each. Returns how many. */
int sandbox_gc(const char *root, void (*removed)(const char *id), struct berth_err **err);

#endif
