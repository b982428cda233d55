#include <string.h>

#include "../runtime/runtime.h"
#include "cmd.h"

static struct runtime_create_opts opts;

enum { OPT_PID_FILE = 256, OPT_NO_PIVOT, OPT_NO_NEW_KEYRING, OPT_PRESERVE_FDS, OPT_CONSOLE };

const struct option create_longopts[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
    {"no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
    {"console-socket", required_argument, NULL, OPT_CONSOLE},
    {0},
};

/* Shared with run: returns -1 to go on, else an exit code. */
int create_opt(const struct verb *v, struct runtime_create_opts *o, int opt, const char *arg)
{
  switch (opt) {
  case 'b':
    o->bundle = arg;
    return -1;
  case OPT_PID_FILE:
    o->pid_file = arg;
    return -1;
  case OPT_NO_PIVOT:
    o->no_pivot = true;
    return -1;
  case OPT_NO_NEW_KEYRING:
    o->no_new_keyring = true;
    return -1;
  case OPT_PRESERVE_FDS:
    return cmd_parse_uint(v, "--preserve-fds", arg, &o->preserve_fds);
  case OPT_CONSOLE:
    o->console_socket = arg;
    return -1;
  }
  return cmd_usage_error(v, "unhandled option");
}

static int on_opt(int opt, const char *arg)
{
  return create_opt(&verb_create, &opts, opt, arg);
}

static int run_create(int argc, char **argv)
{
  int r = cmd_getopt(&verb_create, argc, argv, "b:", create_longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_create, argc, argv, 1, 1)) >= 0)
    return r;
  struct berth_err *err = NULL;
  if (runtime_create(g.root, argv[optind], &opts, &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_create = {
    "create",
    "create a container (its process waits for 'start')",
    "Usage: berth create [options] ID\n\n"
    "Creates container ID from the bundle's config.json. The container's process\n"
    "is set up and waits until 'berth start ID'.\n\n"
    "Options:\n"
    "  -b, --bundle DIR       bundle directory (default: current directory)\n"
    "  --pid-file FILE        write the container's host pid to FILE\n"
    "  --no-pivot             use MS_MOVE + chroot instead of pivot_root\n"
    "  --no-new-keyring       keep the caller's session keyring\n"
    "  --preserve-fds N       pass fds 3..3+N-1 to the container\n"
    "  --console-socket PATH  send the pty master (process.terminal) to this\n"
    "                         unix socket\n",
    run_create,
};
