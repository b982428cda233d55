#include "../runtime/runtime.h"
#include "cmd.h"

static bool force;

static int on_opt(int opt, const char *arg)
{
  (void)arg;
  if (opt == 'f')
    force = true;
  return -1;
}

static int run_delete(int argc, char **argv)
{
  static const struct option longopts[] = {{"force", no_argument, NULL, 'f'}, {0}};
  int r = cmd_getopt(&verb_delete, argc, argv, "f", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_delete, argc, argv, 1, 1)) >= 0)
    return r;
  struct berth_err *err = NULL;
  if (runtime_delete(g.root, argv[optind], force, &err) < 0)
    return cmd_fail(&err);
  /* A run/create --image killed before its state named the bundle. */
  if (force && image_bundle_remains_remove(argv[optind], &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_delete = {
    "delete",
    "delete a container and everything it holds",
    "Usage: berth delete [--force] ID\n\n"
    "Deletes container ID. A created container is killed first; a running one\n"
    "only with --force. A bundle made by run/create --image goes with it; with\n"
    "--force also one an interrupted run --image left (give the same --image-root).\n\n"
    "Options:\n"
    "  -f, --force            kill a running container first; a missing ID is not an error\n",
    run_delete,
};
