#include <stdlib.h>
#include <string.h>

#include "../common/fileutil.h"
#include "../runtime/runtime.h"
#include "cmd.h"

static struct runtime_exec_opts opts;
static char **env_list, **cap_list, **cgroup_list;
static size_t n_env, n_cap, n_cgroup;

enum {
  OPT_PROCESS = 'p',
  OPT_PID_FILE = 256,
  OPT_CONSOLE,
  OPT_CWD,
  OPT_PRESERVE,
  OPT_NNP,
  OPT_IGNORE_PAUSED,
  OPT_APPARMOR,
  OPT_LABEL,
  OPT_CGROUP,
};

static const struct option longopts[] = {
    {"process", required_argument, NULL, OPT_PROCESS},
    {"tty", no_argument, NULL, 't'},
    {"detach", no_argument, NULL, 'd'},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"console-socket", required_argument, NULL, OPT_CONSOLE},
    {"env", required_argument, NULL, 'e'},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"user", required_argument, NULL, 'u'},
    {"additional-gids", required_argument, NULL, 'g'},
    {"cap", required_argument, NULL, 'c'},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
    {"no-new-privs", no_argument, NULL, OPT_NNP},
    {"ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED},
    {"apparmor", required_argument, NULL, OPT_APPARMOR},
    {"process-label", required_argument, NULL, OPT_LABEL},
    {"cgroup", required_argument, NULL, OPT_CGROUP},
    {0},
};

static void push(char ***list, size_t *n, const char *v)
{
  char **l = realloc(*list, (*n + 2) * sizeof(char *));
  if (l == NULL)
    abort();
  l[(*n)++] = (char *)v;
  l[*n] = NULL;
  *list = l;
}

static int on_opt(int opt, const char *arg)
{
  switch (opt) {
  case OPT_PROCESS:
    opts.process_file = arg;
    return -1;
  case 't':
    opts.tty = true;
    return -1;
  case 'd':
    opts.detach = true;
    return -1;
  case OPT_PID_FILE:
    opts.pid_file = arg;
    return -1;
  case OPT_CONSOLE:
    opts.console_socket = arg;
    return -1;
  case 'e':
    push(&env_list, &n_env, arg);
    return -1;
  case OPT_CWD:
    opts.cwd = arg;
    return -1;
  case 'u':
    opts.user = arg;
    return -1;
  case 'g': {
    /* Repeatable, and comma lists accepted too. */
    static char *gids;
    char *joined = gids ? xasprintf("%s,%s", gids, arg) : xstrdup(arg);
    free(gids);
    gids = joined;
    opts.additional_gids = gids;
    return -1;
  }
  case 'c':
    push(&cap_list, &n_cap, arg);
    return -1;
  case OPT_PRESERVE:
    return cmd_parse_uint(&verb_exec, "--preserve-fds", arg, &opts.preserve_fds);
  case OPT_NNP:
    opts.no_new_privs = true;
    return -1;
  case OPT_IGNORE_PAUSED:
    opts.ignore_paused = true;
    return -1;
  case OPT_APPARMOR:
  case OPT_LABEL:
    if (arg[0] == '\0')
      return -1;
    return cmd_usage_error(&verb_exec, "%s: not supported (no LSM support in berth)",
                           opt == OPT_APPARMOR ? "--apparmor" : "--process-label");
  case OPT_CGROUP:
    push(&cgroup_list, &n_cgroup, arg);
    return -1;
  }
  return cmd_usage_error(&verb_exec, "unhandled option");
}

static int run_exec(int argc, char **argv)
{
  int r = cmd_getopt(&verb_exec, argc, argv, "tde:u:g:c:p:", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_exec, argc, argv, 1, 1 << 20)) >= 0)
    return r;
  const char *id = argv[optind];
  opts.args = argv[optind + 1] ? &argv[optind + 1] : NULL;
  opts.env = env_list;
  opts.caps = cap_list;
  opts.cgroups = cgroup_list;
  if (opts.process_file && opts.args)
    return cmd_usage_error(&verb_exec, "give --process or a command, not both");
  struct berth_err *err = NULL;
  int status = 0;
  int ret = runtime_exec(g.root, id, &opts, &status, &err);
  free(env_list);
  free(cap_list);
  free(cgroup_list);
  if (ret == 0)
    return status;
  cmd_fail(&err);
  /* runc's exit status for a failed exec, which clients see as "the runtime
   * failed" rather than as the command's own status. Bad input stays 1. */
  return ret == -2 ? 1 : 255;
}

const struct verb verb_exec = {
    "exec",
    "run a new process inside a running container",
    "Usage: berth exec [options] ID COMMAND [ARG...]\n"
    "       berth exec [options] --process FILE ID\n\n"
    "Runs a process in the namespaces and cgroup of running container ID, with\n"
    "the container's process settings (user, env, cwd, capabilities, rlimits,\n"
    "no_new_privs, seccomp) unless changed below, and exits with its status.\n"
    "A failure to start the process exits 255.\n\n"
    "Options:\n"
    "  -p, --process FILE       the whole process (a config.json `process` object)\n"
    "  -t, --tty                allocate a pseudo-terminal\n"
    "  -d, --detach             return once the process has started\n"
    "  --pid-file FILE          write the process's host pid to FILE\n"
    "  --console-socket PATH    send the pty master to this unix socket\n"
    "  -e, --env KEY=VALUE      set an environment variable (repeatable)\n"
    "  --cwd DIR                working directory inside the container\n"
    "  -u, --user UID[:GID]     run as this user\n"
    "  -g, --additional-gids G  a supplementary group (repeatable, or a comma list)\n"
    "  -c, --cap CAP            add a capability (repeatable)\n"
    "  --no-new-privs           set no_new_privs\n"
    "  --preserve-fds N         pass fds 3..3+N-1 to the process\n"
    "  --ignore-paused          exec even into a paused container\n"
    "  --cgroup [CTL[,CTL]:]PATH  join this existing sub-cgroup of the container's\n"
    "                           (all hierarchies, or those of CTL; repeatable)\n",
    run_exec,
    .options_first = true,
};
