#include "cmd.h"

static int on_opt(int opt, const char *arg)
{
  (void)opt;
  (void)arg;
  return -1;
}

static int run_resume(int argc, char **argv)
{
  int r = cmd_getopt(&verb_resume, argc, argv, "", NULL, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_resume, argc, argv, 1, 1)) >= 0)
    return r;
  struct berth_err *err = NULL;
  if (runtime_resume(g.root, argv[optind], &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_resume = {
    "resume",
    "thaw a paused container",
    "Usage: berth resume ID\n\nLets the processes of paused container ID run again.\n",
    run_resume,
};
