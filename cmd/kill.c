#include <signal.h>

#include "../runtime/runtime.h"
#include "cmd.h"

static bool all;

static int on_opt(int opt, const char *arg)
{
  (void)arg;
  if (opt == 'a')
    all = true;
  return -1;
}

static int run_kill(int argc, char **argv)
{
  static const struct option longopts[] = {{"all", no_argument, NULL, 'a'}, {0}};
  int r = cmd_getopt(&verb_kill, argc, argv, "a", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_kill, argc, argv, 1, 2)) >= 0)
    return r;
  struct berth_err *err = NULL;
  int sig = SIGTERM;
  if (optind + 1 < argc && runtime_parse_signal(argv[optind + 1], &sig, &err) < 0)
    return cmd_fail(&err);
  if (runtime_kill(g.root, argv[optind], sig, all, &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_kill = {
    "kill",
    "send a signal to a container's process",
    "Usage: berth kill [--all] ID [SIGNAL]\n\n"
    "Sends SIGNAL (default TERM) to the process of container ID. SIGNAL is a\n"
    "name with or without SIG (KILL, SIGKILL) or a number (9).\n\n"
    "Options:\n"
    "  -a, --all              signal every process of the container\n",
    run_kill,
};
