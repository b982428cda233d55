/* cmd/: parses arguments, calls one runtime function, prints. The only
 * place that decides how an error looks and what the exit code is. */
#ifndef BERTH_CMD_H
#define BERTH_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"

#define BERTH_VERSION "0.1.0"
#define BERTH_SPEC_VERSION "1.2.0"

struct globals {
  const char *root;
  const char *log_path;
  bool log_json;
  bool debug;
  bool rootless;          /* --rootless true: as rootless even as root (runc's meaning) */
  const char *image_root; /* --image-root, NULL: berth-image's default */
};
extern struct globals g;

struct verb {
  const char *name;
  const char *summary;
  const char *usage; /* shown by `berth VERB --help` */
  int (*fn)(int argc, char **argv);
  /* Options end at the first operand: what follows the ID is a command
   * (exec) or arguments for another program (ps), as in runc. Other verbs
   * take options after their operands too. */
  bool options_first;
};

/* Reports err (one line on stderr, and in the --log file), frees it, returns 1. */
int cmd_fail(struct berth_err **err);
/* Formats a usage error the same way. Returns 1. */
int cmd_usage_error(const struct verb *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Handles --help and bad options for a verb; returns -1 to go on, else an exit code. */
int cmd_getopt(const struct verb *v, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int (*on_opt)(int opt, const char *arg));
/* Between n_min and n_max positional arguments left after options. */
int cmd_want_args(const struct verb *v, int argc, char **argv, int n_min, int n_max);
int cmd_parse_uint(const struct verb *v, const char *flag, const char *s, unsigned *out);

/* create.c: options shared by create and run. */
#include "../runtime/runtime.h"
extern const struct option create_longopts[];
int create_opt(const struct verb *v, struct runtime_create_opts *o, int opt, const char *arg);
/* The operands: ID, and with --image (not with --bundle) CMD... after it. */
int create_image_args(const struct verb *v, int argc, char **argv, const char *bundle);
/* state.c: the state JSON, shared by state and list. */
json_t *state_to_json(const struct runtime_info *in);

extern const struct verb verb_create, verb_start, verb_run, verb_state, verb_kill, verb_delete,
    verb_list, verb_spec, verb_features, verb_pause, verb_resume, verb_update, verb_ps, verb_events,
    verb_exec, verb_cni, verb_sandbox;

/* main.c: where berth-image is ($BERTH_IMAGE, else beside berth). */
void cmd_image_path(char *buf, size_t len);

/* image_bundle.c: berth-image (pull, image, bundle; run/create --image).
 * image_helper_locate records in $BERTH_IMAGE where it is (beside this
 * executable unless set) while /proc/self/exe still names the file:
 * after the self re-exec it names a sealed copy. */
void image_helper_locate(void);
const char *image_helper_path(void);
/* "berth" [--image-root DIR] argv...: the caller frees the array. */
char **image_helper_argv(int argc, char **argv);
/* run/create --image REF ID [ARGS]: the bundle made for container ID in
 * *dir (the caller frees). 1: berth-image failed and said why (nothing
 * is left); -1: err. */
int image_bundle_make(const char *ref, const char *id, char *const *args, char **dir,
                      struct berth_err **err);
/* berth bundle create (argv[0] "bundle") of an image already in the store
 * with its layers cached, as an overlay: made here, without starting
 * berth-image. The exit status, or -1 when berth-image must do it (a
 * copy, an image or a layer to fetch, options it explains). */
int image_bundle_create_here(int argc, char **argv);
/* After a failed create: the bundle goes (a warning if it cannot). */
void image_bundle_discard(const char *dir);
/* delete --force: what an interrupted run/create --image left before the
 * container's state named its bundle. */
int image_bundle_remains_remove(const char *id, struct berth_err **err);
/* create.c: --image REF of create and run, NULL without. */
extern const char *create_image_ref;
/* run/create from create_image_ref: makes the bundle, calls create_fn
 * with o pointing at it, removes the bundle when that fails. */
int create_from_image(const char *id, char *const *args, struct runtime_create_opts *o,
                      int (*create_fn)(struct runtime_create_opts *o, void *arg,
                                       struct berth_err **err),
                      void *arg);

/* cni.c: the CNI plugin berth-bridge (the CNI_* environment, config on
 * stdin); returns the exit status. */
int cni_main(void);
#define CNI_PLUGIN_NAME "berth-bridge"

#endif
