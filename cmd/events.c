#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"

static bool stats_once;
static long interval_ms = 5000;

/* Go-style durations as runc takes them: "5s", "100ms", "1m". */
static int parse_interval(const char *s)
{
  char *end;
  double v = strtod(s, &end);
  double ms = strcmp(end, "ms") == 0  ? v
              : strcmp(end, "s") == 0 ? v * 1000
              : strcmp(end, "m") == 0 ? v * 60000
                                      : -1;
  if (end == s || ms < 1)
    return cmd_usage_error(&verb_events, "--interval: invalid duration '%s' (e.g. 5s, 500ms)", s);
  interval_ms = (long)ms;
  return -1;
}

static int on_opt(int opt, const char *arg)
{
  if (opt == 's')
    stats_once = true;
  else if (opt == 'i')
    return parse_interval(arg);
  return -1;
}

static void emit(const char *type, const char *id, json_t *data)
{
  json_t *o = json_pack("{s:s, s:s}", "type", type, "id", id);
  if (data)
    json_object_set_new(o, "data", data);
  char *text = json_dumps(o, JSON_COMPACT);
  printf("%s\n", text);
  fflush(stdout);
  free(text);
  json_decref(o);
}

static int run_events(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"stats", no_argument, NULL, 's'}, {"interval", required_argument, NULL, 'i'}, {0}};
  int r = cmd_getopt(&verb_events, argc, argv, "", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_events, argc, argv, 1, 1)) >= 0)
    return r;
  const char *id = argv[optind];
  struct berth_err *err = NULL;
  json_t *stats = NULL;
  uint64_t ooms = 0, seen;
  bool running;
  if (runtime_stats(g.root, id, &stats, &seen, &running, &err) < 0)
    return cmd_fail(&err);
  if (stats_once) {
    emit("stats", id, stats);
    return 0;
  }
  emit("stats", id, stats);
  /* OOM kills show as a rising counter; poll it often, print stats at
   * the interval, stop when the container does. */
  long since_stats = 0;
  for (;;) {
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    since_stats += 100;
    stats = NULL;
    if (runtime_stats(g.root, id, &stats, &ooms, &running, &err) < 0) {
      if (strstr(err->msg, "does not exist")) {
        berth_err_free(&err);
        return 0;
      }
      return cmd_fail(&err);
    }
    for (; seen < ooms; seen++)
      emit("oom", id, NULL);
    if (since_stats >= interval_ms && running) {
      emit("stats", id, json_incref(stats));
      since_stats = 0;
    }
    json_decref(stats);
    if (!running)
      return 0;
  }
}

const struct verb verb_events = {
    "events",
    "stream a container's events and resource usage as JSON lines",
    "Usage: berth events [--stats] [--interval DURATION] ID\n\n"
    "Prints {\"type\":\"stats\",...} every interval (default 5s) and\n"
    "{\"type\":\"oom\",...} when the OOM killer fires in the container, until it stops.\n\n"
    "Options:\n"
    "  --stats                print the stats once and exit\n"
    "  --interval DURATION    e.g. 5s, 500ms\n",
    run_events,
};
