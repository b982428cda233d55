#include <stdio.h>
#include <stdlib.h>

#include "../runtime/runtime.h"
#include "cmd.h"

/* The state JSON of the runtime-spec, shared with `list --format json`. */
json_t *state_to_json(const struct runtime_info *in)
{
  json_t *o = json_object();
  json_object_set_new(o, "ociVersion", json_string(in->oci_version));
  json_object_set_new(o, "id", json_string(in->id));
  json_object_set_new(o, "pid", json_integer(in->pid));
  json_object_set_new(o, "status", json_string(in->status));
  json_object_set_new(o, "bundle", json_string(in->bundle));
  json_object_set_new(o, "rootfs", json_string(in->rootfs));
  json_object_set_new(o, "created", json_string(in->created));
  json_object_set_new(o, "owner", json_string(in->owner ? in->owner : ""));
  if (in->annotations)
    json_object_set(o, "annotations", in->annotations);
  return o;
}

static int on_opt(int opt, const char *arg)
{
  (void)opt;
  (void)arg;
  return -1;
}

static int run_state(int argc, char **argv)
{
  int r = cmd_getopt(&verb_state, argc, argv, "", NULL, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_state, argc, argv, 1, 1)) >= 0)
    return r;
  struct berth_err *err = NULL;
  struct runtime_info info = {0};
  if (runtime_state(g.root, argv[optind], &info, &err) < 0)
    return cmd_fail(&err);
  json_t *o = state_to_json(&info);
  char *text = json_dumps(o, JSON_INDENT(2));
  printf("%s\n", text);
  free(text);
  json_decref(o);
  runtime_info_clear(&info);
  return 0;
}

const struct verb verb_state = {
    "state",
    "print a container's state as JSON",
    "Usage: berth state ID\n\n"
    "Prints the state of container ID (ociVersion, id, status, pid, bundle,\n"
    "rootfs, created, annotations) as JSON.\n",
    run_state,
};
