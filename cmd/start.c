#include "../runtime/runtime.h"
#include "cmd.h"

static int on_opt(int opt, const char *arg)
{
  (void)opt;
  (void)arg;
  return -1;
}

static int run_start(int argc, char **argv)
{
  int r = cmd_getopt(&verb_start, argc, argv, "", NULL, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_start, argc, argv, 1, 1)) >= 0)
    return r;
  struct berth_err *err = NULL;
  if (runtime_start(g.root, argv[optind], &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_start = {
    "start",
    "start a created container's process",
    "Usage: berth start ID\n\nLets the process of created container ID run.\n",
    run_start,
};
