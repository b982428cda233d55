#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/runtime.h"
#include "cmd.h"

static const char *format = "table";
static bool quiet;

static int on_opt(int opt, const char *arg)
{
  if (opt == 'q')
    quiet = true;
  else if (opt == 'f') {
    if (strcmp(arg, "table") != 0 && strcmp(arg, "json") != 0)
      return cmd_usage_error(&verb_list, "--format must be table or json, not '%s'", arg);
    format = arg;
  }
  return -1;
}

static int run_list(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'}, {0}};
  int r = cmd_getopt(&verb_list, argc, argv, "f:q", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_list, argc, argv, 0, 0)) >= 0)
    return r;
  struct berth_err *err = NULL;
  struct runtime_info *list = NULL;
  size_t n = 0;
  if (runtime_list(g.root, &list, &n, &err) < 0)
    return cmd_fail(&err);
  if (quiet) {
    for (size_t i = 0; i < n; i++)
      printf("%s\n", list[i].id);
  } else if (strcmp(format, "json") == 0) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(a, state_to_json(&list[i]));
    char *text = json_dumps(a, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(a);
  } else {
    printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
           "OWNER");
    for (size_t i = 0; i < n; i++)
      printf("%-20s %-8d %-10s %-40s %-32s %s\n", list[i].id, list[i].pid, list[i].status,
             list[i].bundle, list[i].created, "root");
  }
  for (size_t i = 0; i < n; i++)
    runtime_info_clear(&list[i]);
  free(list);
  return 0;
}

const struct verb verb_list = {
    "list",
    "list containers",
    "Usage: berth list [--format table|json] [-q]\n\n"
    "Options:\n"
    "  -f, --format FMT       table (default) or json\n"
    "  -q, --quiet            only the IDs\n",
    run_list,
};
