#include "cmd.h"

static int on_opt(int opt, const char *arg)
{
  (void)opt;
  (void)arg;
  return -1;
}

static int run_pause(int argc, char **argv)
{
  int r = cmd_getopt(&verb_pause, argc, argv, "", NULL, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_pause, argc, argv, 1, 1)) >= 0)
    return r;
  struct berth_err *err = NULL;
  if (runtime_pause(g.root, argv[optind], &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_pause = {
    "pause",
    "freeze every process of a container",
    "Usage: berth pause ID\n\n"
    "Freezes every process of running container ID (cgroup freezer); 'state'\n"
    "then shows \"paused\" until 'berth resume ID'.\n",
    run_pause,
};
