#include <string.h>

#include "../runtime/runtime.h"
#include "cmd.h"

static struct runtime_run_opts opts;

enum { OPT_KEEP = 300 };

static int on_opt(int opt, const char *arg)
{
  if (opt == 'd') {
    opts.detach = true;
    return -1;
  }
  if (opt == OPT_KEEP) {
    opts.keep = true;
    return -1;
  }
  return create_opt(&verb_run, &opts.create, opt, arg);
}

/* The container's exit status, or -1. */
static int run_fn(struct runtime_create_opts *o, void *arg, struct berth_err **err)
{
  int status = 0;
  opts.create = *o;
  return runtime_run(g.root, arg, &opts, &status, err) < 0 ? -1 : status;
}

static int run_run(int argc, char **argv)
{
  struct option longopts[24];
  size_t n = 0;
  for (; create_longopts[n].name; n++)
    longopts[n] = create_longopts[n];
  longopts[n++] = (struct option){"detach", no_argument, NULL, 'd'};
  longopts[n++] = (struct option){"keep", no_argument, NULL, OPT_KEEP};
  longopts[n] = (struct option){0};
  int r = cmd_getopt(&verb_run, argc, argv, "b:d", longopts, on_opt);
  if (r >= 0 || (r = create_image_args(&verb_run, argc, argv, opts.create.bundle)) >= 0)
    return r;
  if (create_image_ref)
    return create_from_image(argv[optind], argv + optind + 1, &opts.create, run_fn, argv[optind]);
  struct berth_err *err = NULL;
  int status = 0;
  opts.create.rootless = g.rootless;
  if (runtime_run(g.root, argv[optind], &opts, &status, &err) < 0)
    return cmd_fail(&err);
  return status;
}

const struct verb verb_run = {
    "run",
    "create and start a container, wait for it, exit with its status",
    "Usage: berth run [options] ID\n"
    "       berth [--image-root DIR] run [options] --image REF ID [-- CMD...]\n\n"
    "Creates and starts container ID, forwards signals to it, and exits with its\n"
    "exit status (128+N when it was killed by signal N). The container is\n"
    "deleted when it exits unless --keep is given.\n\n"
    "Options:\n"
    "  -b, --bundle DIR       bundle directory (default: current directory)\n"
    "  --image REF            a bundle made from image REF (pulled when missing):\n"
    "                         an overlay of its cached layers with a private upper\n"
    "                         dir, CMD replacing the image's Cmd; removed with the\n"
    "                         container\n"
    "  -d, --detach           return once the container has started\n"
    "  --keep                 keep the stopped container's state\n"
    "  --pid-file FILE        write the container's host pid to FILE\n"
    "  --no-pivot             use MS_MOVE + chroot instead of pivot_root\n"
    "  --no-new-keyring       keep the caller's session keyring\n"
    "  --preserve-fds N       pass fds 3..3+N-1 to the container\n"
    "  --console-socket PATH  send the pty master (process.terminal) to this\n"
    "                         unix socket; without it, `run` relays its own\n"
    "                         terminal\n"
    "  --backend linux|microvm  as for create\n"
    "\nNetwork: --net, --bridge, --subnet, --ip, --publish as for create.\n",
    run_run,
};
