#include <stdio.h>
#include <stdlib.h>

#include "../runtime/runtime.h"
#include "cmd.h"

static int on_opt(int opt, const char *arg)
{
  (void)opt;
  (void)arg;
  return -1;
}

static int run_features(int argc, char **argv)
{
  int r = cmd_getopt(&verb_features, argc, argv, "", NULL, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_features, argc, argv, 0, 0)) >= 0)
    return r;
  char *text = runtime_features_json();
  printf("%s\n", text);
  free(text);
  return 0;
}

const struct verb verb_features = {
    "features",
    "print what this berth supports, as JSON",
    "Usage: berth features\n\nPrints the runtime-spec features document as JSON.\n",
    run_features,
};
