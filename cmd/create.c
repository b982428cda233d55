#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fileutil.h"

#include "../runtime/runtime.h"
#include "cmd.h"

static struct runtime_create_opts opts;

enum {
  OPT_PID_FILE = 256,
  OPT_NO_PIVOT,
  OPT_NO_NEW_KEYRING,
  OPT_PRESERVE_FDS,
  OPT_CONSOLE,
  OPT_NET, /* the network flags: each sets one dev.berth.net* annotation */
  OPT_IP,
  OPT_PUBLISH,
  OPT_BRIDGE,
  OPT_SUBNET,
  OPT_IMAGE,
  OPT_BACKEND, /* dev.berth.backend */
};

const char *create_image_ref;

/* Flag -> annotation; repeated flags join with ',' (--publish A --publish B). */
static const struct {
  int opt;
  const char *key;
} net_flags[] = {
    {OPT_NET, "dev.berth.net"},
    {OPT_IP, "dev.berth.net.ip"},
    {OPT_PUBLISH, "dev.berth.net.publish"},
    {OPT_BRIDGE, "dev.berth.net.bridge"},
    {OPT_SUBNET, "dev.berth.net.subnet"},
    {OPT_BACKEND, "dev.berth.backend"},
};
#define N_NET_FLAGS (sizeof(net_flags) / sizeof(net_flags[0]))
static char *net_values[N_NET_FLAGS + 1]; /* "KEY=VALUE", NULL-terminated */

const struct option create_longopts[] = {
    {"bundle", required_argument, NULL, 'b'},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
    {"no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
    {"console-socket", required_argument, NULL, OPT_CONSOLE},
    {"net", required_argument, NULL, OPT_NET},
    {"ip", required_argument, NULL, OPT_IP},
    {"publish", required_argument, NULL, OPT_PUBLISH},
    {"bridge", required_argument, NULL, OPT_BRIDGE},
    {"subnet", required_argument, NULL, OPT_SUBNET},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {0},
};

/* The network flags, kept in the order given for the runtime. */
static int net_opt(struct runtime_create_opts *o, int opt, const char *arg)
{
  size_t n = 0;
  while (net_values[n])
    n++;
  for (size_t i = 0; i < N_NET_FLAGS; i++) {
    if (net_flags[i].opt != opt)
      continue;
    size_t klen = strlen(net_flags[i].key);
    for (size_t j = 0; j < n; j++)
      if (strncmp(net_values[j], net_flags[i].key, klen) == 0 && net_values[j][klen] == '=') {
        char *joined = xasprintf("%s,%s", net_values[j], arg);
        free(net_values[j]);
        net_values[j] = joined;
        return -1;
      }
    net_values[n] = xasprintf("%s=%s", net_flags[i].key, arg);
  }
  o->annotations = net_values;
  return -1;
}

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
  case OPT_IMAGE:
    create_image_ref = arg;
    return -1;
  case OPT_NET:
  case OPT_IP:
  case OPT_PUBLISH:
  case OPT_BRIDGE:
  case OPT_SUBNET:
  case OPT_BACKEND:
    return net_opt(o, opt, arg);
  }
  return cmd_usage_error(v, "unhandled option");
}

static int on_opt(int opt, const char *arg)
{
  return create_opt(&verb_create, &opts, opt, arg);
}

static int create_fn(struct runtime_create_opts *o, void *arg, struct berth_err **err)
{
  return runtime_create(g.root, arg, o, err);
}

int create_image_args(const struct verb *v, int argc, char **argv, const char *bundle)
{
  if (create_image_ref == NULL)
    return cmd_want_args(v, argc, argv, 1, 1);
  if (bundle)
    return cmd_usage_error(v, "--bundle and --image exclude each other");
  return cmd_want_args(v, argc, argv, 1, INT_MAX);
}

static int run_create(int argc, char **argv)
{
  int r = cmd_getopt(&verb_create, argc, argv, "b:", create_longopts, on_opt);
  if (r >= 0 || (r = create_image_args(&verb_create, argc, argv, opts.bundle)) >= 0)
    return r;
  if (create_image_ref)
    return create_from_image(argv[optind], argv + optind + 1, &opts, create_fn, argv[optind]);
  struct berth_err *err = NULL;
  opts.rootless = g.rootless;
  if (runtime_create(g.root, argv[optind], &opts, &err) < 0)
    return cmd_fail(&err);
  return 0;
}

const struct verb verb_create = {
    "create",
    "create a container (its process waits for 'start')",
    "Usage: berth create [options] ID\n"
    "       berth [--image-root DIR] create [options] --image REF ID [-- CMD...]\n\n"
    "Creates container ID from the bundle's config.json. The container's process\n"
    "is set up and waits until 'berth start ID'.\n\n"
    "Options:\n"
    "  -b, --bundle DIR       bundle directory (default: current directory)\n"
    "  --image REF            a bundle made from image REF (pulled when missing):\n"
    "                         an overlay of its cached layers with a private upper\n"
    "                         dir, CMD replacing the image's Cmd; 'delete' removes it\n"
    "  --pid-file FILE        write the container's host pid to FILE\n"
    "  --no-pivot             use MS_MOVE + chroot instead of pivot_root\n"
    "  --no-new-keyring       keep the caller's session keyring\n"
    "  --preserve-fds N       pass fds 3..3+N-1 to the container\n"
    "  --console-socket PATH  send the pty master (process.terminal) to this\n"
    "                         unix socket\n"
    "  --backend linux|microvm  namespaces (default), or a QEMU microVM with its\n"
    "                         own kernel (dev.berth.backend; see dev.berth.vm.*)\n"
    "\nNetwork (each sets a dev.berth.net* annotation over config.json's):\n"
    "  --net none|bridge|slirp  no network (only lo), a veth on a bridge, or\n"
    "                         slirp4netns (rootless)\n"
    "  --bridge NAME          bridge to attach to (default berth0)\n"
    "  --subnet CIDR[,CIDR6]  the bridge's subnets (default 10.88.0.0/16)\n"
    "  --ip ADDR[,ADDR6]      a static address instead of the next free one\n"
    "  --publish HOSTPORT:CPORT[/tcp|udp]  publish a port (repeatable)\n",
    run_create,
};
