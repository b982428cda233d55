/* OCI lifecycle hooks (runtime-spec config.md, "POSIX-platform Hooks"):
 * parsing of config.json's "hooks" object and running one kind of hook with
 * the container state on its stdin. Self-contained: safe to call from the
 * container init before pivot_root or just before execve. */
#ifndef BERTH_HOOKS_H
#define BERTH_HOOKS_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "../common/err.h"

enum hook_kind {
  HOOK_PRESTART,
  HOOK_CREATE_RUNTIME,
  HOOK_CREATE_CONTAINER,
  HOOK_START_CONTAINER,
  HOOK_POSTSTART,
  HOOK_POSTSTOP,
  HOOK_COUNT
};

struct hook {
  char *path;  /* absolute */
  char **args; /* NULL-terminated argv (args[0] is argv[0]); NULL or empty: {path} */
  char **env;  /* NULL-terminated "K=V"; NULL: the caller's environment (as runc) */
  int timeout; /* seconds, 0 = none */
};

struct hooks {
  struct hook *list[HOOK_COUNT];
  size_t n[HOOK_COUNT];
};

/* Parses the config's "hooks" object (NULL, JSON null or absent = no hooks)
 * into *out (zeroed first; on error nothing is left to free). Errors read
 * "config.json: hooks.createRuntime[1].path: must be an absolute path".
 * Unknown hook kinds are ignored like runc. */
int hooks_parse(json_t *hooks, struct hooks *out, struct berth_err **err);
void hooks_free(struct hooks *h);

/* "prestart", "createRuntime", ... as in the spec. */
const char *hook_kind_name(enum hook_kind k);

/* Runs the hooks of kind k in order, each with state_json on its stdin
 * (NULL: empty stdin); stops at the first failure. Each hook runs in its own
 * process group with default signal mask and dispositions and only fds 0-2;
 * stdout and stderr are captured (the last 4 KiB) for the error message. On a
 * timeout the whole group is SIGKILLed. Returns 0, or -1 with *err set to one
 * line: "hook prestart[1] /path: exited with status 3: <last output line>".
 * Must not race with a waitpid(-1) in the caller (it would steal the status). */
int hooks_run(const struct hooks *h, enum hook_kind k, const char *state_json,
              struct berth_err **err);

/* The OCI state object as compact JSON: ociVersion, id, status, pid (omitted
 * when 0), bundle, annotations (omitted when NULL). Caller frees. */
char *hooks_state_json(const char *oci_version, const char *id, const char *status, pid_t pid,
                       const char *bundle, json_t *annotations);

#endif
