#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"

static const char *format = "table";

static int on_opt(int opt, const char *arg)
{
  if (opt == 'f') {
    if (strcmp(arg, "table") != 0 && strcmp(arg, "json") != 0)
      return cmd_usage_error(&verb_ps, "--format must be table or json, not '%s'", arg);
    format = arg;
  }
  return -1;
}

static bool pid_in(pid_t p, const pid_t *pids, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == p)
      return true;
  return false;
}

/* Like runc: the host's ps (default -ef), keeping the header and the rows
 * whose PID column is one of the container's processes. */
static int ps_table(char **ps_args, int n_args, const pid_t *pids, size_t n)
{
  char *argv[64] = {"ps"};
  int k = 1;
  if (n_args == 0)
    argv[k++] = "-ef";
  for (int i = 0; i < n_args && k < 63; i++)
    argv[k++] = ps_args[i];
  int fds[2];
  if (pipe(fds) < 0)
    return -1;
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execvp("ps", argv);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char *line = NULL;
  size_t cap = 0;
  int pid_col = -1;
  while (f && getline(&line, &cap, f) > 0) {
    if (pid_col < 0) {
      /* The header names the PID column. */
      char *copy = strdup(line), *save = NULL;
      int col = 0;
      for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), col++)
        if (strcmp(t, "PID") == 0)
          pid_col = col;
      free(copy);
      fputs(line, stdout);
      if (pid_col < 0)
        break;
      continue;
    }
    char *copy = strdup(line), *save = NULL;
    char *t = strtok_r(copy, " \t\n", &save);
    for (int col = 0; t && col < pid_col; col++)
      t = strtok_r(NULL, " \t\n", &save);
    if (t && pid_in((pid_t)strtol(t, NULL, 10), pids, n))
      fputs(line, stdout);
    free(copy);
  }
  free(line);
  if (f)
    fclose(f);
  int ws = 0;
  waitpid(child, &ws, 0);
  return pid_col < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0 ? -1 : 0;
}

static int run_ps(int argc, char **argv)
{
  static const struct option longopts[] = {{"format", required_argument, NULL, 'f'}, {0}};
  int r = cmd_getopt(&verb_ps, argc, argv, "f:", longopts, on_opt);
  if (r >= 0 || (r = cmd_want_args(&verb_ps, argc, argv, 1, 64)) >= 0)
    return r;
  struct berth_err *err = NULL;
  pid_t *pids = NULL;
  size_t n = 0;
  char *table = NULL;
  if (runtime_ps(g.root, argv[optind], &pids, &n, &table, &err) < 0)
    return cmd_fail(&err);
  if (table && strcmp(format, "json") != 0) {
    if (argc - optind > 1)
      fprintf(stderr, "berth: ps: options are not passed to the guest; its own table follows\n");
    fputs(table, stdout);
    free(table);
    free(pids);
    return 0;
  }
  free(table);
  if (strcmp(format, "json") == 0) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(a, json_integer(pids[i]));
    char *text = json_dumps(a, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(a);
  } else if (ps_table(argv + optind + 1, argc - optind - 1, pids, n) < 0) {
    berth_err_set(&err, 0, "ps: running the host's ps failed");
    free(pids);
    return cmd_fail(&err);
  }
  free(pids);
  return 0;
}

const struct verb verb_ps = {
    "ps",
    "list a container's processes",
    "Usage: berth ps [--format table|json] ID [ps options]\n\n"
    "Table: the host's 'ps' (default -ef) limited to the container's processes.\n"
    "JSON: the host pids of the container's processes.\n"
    "A microVM container's processes are listed by its guest (PID PPID UID STAT\n"
    "COMMAND, pids as the container sees them; ps options do not apply).\n",
    run_ps,
    .options_first = true,
};
