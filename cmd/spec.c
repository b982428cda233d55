#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../runtime/runtime.h"
#include "cmd.h"

static const char *bundle = ".";
static bool rootless;

static int on_opt(int opt, const char *arg)
{
  if (opt == 'b')
    bundle = arg;
  else if (opt == 'r')
    rootless = true;
  return -1;
}

static int run_spec(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"bundle", required_argument, NULL, 'b'}, {"rootless", no_argument, NULL, 'r'}, {0}};
  int r = cmd_getopt(&verb_spec, argc, argv, "b:", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_spec, argc, argv, 0, 0)) >= 0)
    return r;
  struct berth_err *err = NULL;
  cleanup_close int dirfd = open(bundle, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dirfd < 0) {
    berth_err_sys(&err, "spec: bundle %s", bundle);
    return cmd_fail(&err);
  }
  cleanup_close int fd =
      openat(dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST)
      berth_err_set(&err, 0, "spec: %s/config.json exists: remove it first", bundle);
    else
      berth_err_sys(&err, "spec: create %s/config.json", bundle);
    return cmd_fail(&err);
  }
  char *text = runtime_default_spec(rootless);
  size_t len = strlen(text);
  ssize_t w = write(fd, text, len);
  free(text);
  if (w != (ssize_t)len) {
    berth_err_sys(&err, "spec: write %s/config.json", bundle);
    unlinkat(dirfd, "config.json", 0);
    return cmd_fail(&err);
  }
  return 0;
}

const struct verb verb_spec = {
    "spec",
    "write a default config.json",
    "Usage: berth spec [--bundle DIR] [--rootless]\n\n"
    "Writes a default config.json (like runc's: the same namespaces, mounts,\n"
    "capabilities, maskedPaths and readonlyPaths) into DIR (default: .).\n"
    "--rootless: for an ordinary user: a user namespace mapping the caller's\n"
    "uid and gid to root, /sys bound from the host, no cgroup limits.\n",
    run_spec,
};
