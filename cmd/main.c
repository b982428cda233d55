/* berth: an OCI container runtime with runc's command line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../seccomp/seccomp.h"
#include "cmd.h"

struct globals g = {.root = "/run/berth"};

static const struct verb *const verbs[] = {
    &verb_create, &verb_start,  &verb_run,      &verb_state, &verb_kill,    &verb_delete,
    &verb_list,   &verb_spec,   &verb_features, &verb_pause, &verb_resume,  &verb_update,
    &verb_ps,     &verb_events, &verb_exec,     &verb_cni,   &verb_sandbox,
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

/* One line in the --log-format: a JSON object {"level","msg","time"}, or
 * logfmt as logrus writes it (time="…" level=… msg="…", quotes and
 * backslashes escaped). */
static void log_write(int fd, const char *level, const char *msg)
{
  struct timespec ts;
  struct tm tm;
  char when[64], stamp[96];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp, sizeof(stamp), "%s.%09ldZ", when, ts.tv_nsec);
  if (g.log_json) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", stamp);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
      dprintf(fd, "%s\n", text);
    free(text);
    json_decref(o);
    return;
  }
  char esc[4200];
  size_t k = 0;
  for (const char *p = msg; *p && k < sizeof(esc) - 3; p++) {
    if (*p == '"' || *p == '\\')
      esc[k++] = '\\';
    esc[k++] = *p;
  }
  esc[k] = '\0';
  dprintf(fd, "time=\"%s\" level=%s msg=\"%s\"\n", stamp, level, esc);
}

static void log_line(const char *level, const char *msg)
{
  if (g.log_path == NULL)
    return;
  int fd = open(g.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  log_write(fd, level, msg);
  close(fd);
}

static void warn_line(const char *msg)
{
  char line[2048];
  snprintf(line, sizeof(line), "%s", msg);
  for (char *p = line; *p; p++)
    if (*p == '\n')
      *p = ' ';
  fprintf(stderr, "berth: warning: %s\n", line);
  log_line("warning", line);
}

int cmd_fail(struct berth_err **err)
{
  const char *msg = *err ? (*err)->msg : "unknown error";
  /* One line, whatever the message holds. */
  char line[sizeof((*err)->msg)];
  snprintf(line, sizeof(line), "%s", msg);
  for (char *p = line; *p; p++)
    if (*p == '\n')
      *p = ' ';
  fprintf(stderr, "berth: %s\n", line);
  log_line("error", line);
  berth_err_free(err);
  return 1;
}

int cmd_usage_error(const struct verb *v, const char *fmt, ...)
{
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  struct berth_err *err = NULL;
  if (v)
    berth_err_set(&err, 0, "%s: %s (see 'berth %s --help')", v->name, what, v->name);
  else
    berth_err_set(&err, 0, "%s (see 'berth --help')", what);
  return cmd_fail(&err);
}

/* One option from getopt: --help, a bad option, or the verb's own. */
static int cmd_on_opt(const struct verb *v, char **argv, int opt,
                      int (*on_opt)(int opt, const char *arg))
{
  if (opt == 'h') {
    printf("%s", v->usage);
    return 0;
  }
  if (opt == '?')
    return cmd_usage_error(v, "unknown option '%s'", argv[optind - 1]);
  if (opt == ':')
    return cmd_usage_error(v, "option '%s' needs a value", argv[optind - 1]);
  return on_opt(opt, optarg);
}

/* Puts the operands collected while parsing (pos, in order) right after the
 * options and points optind at the first of them, so that callers find
 * argv[optind..argc) as if every option had come first. */
static void operands_gather(int argc, char **argv, char **pos, int n_pos, int rest)
{
  int n_rest = argc - rest;
  char **tail = argv + argc - n_pos - n_rest;
  memmove(tail + n_pos, argv + rest, (size_t)n_rest * sizeof(char *));
  memcpy(tail, pos, (size_t)n_pos * sizeof(char *));
  optind = argc - n_pos - n_rest;
}

/* Options may follow operands, as runc (urfave/cli) takes them: `kill ID
 * KILL --all`, `update ID --memory 1g`. Not for verbs with options_first
 * (exec, ps), whose words after the ID belong to a command. "--" ends the
 * options. Done by hand: glibc's own permutation depends on
 * POSIXLY_CORRECT and is fixed at its first call (main's, "+"). */
int cmd_getopt(const struct verb *v, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int (*on_opt)(int opt, const char *arg))
{
  char optstring[64];
  snprintf(optstring, sizeof(optstring), "+:h%s", shortopts);
  struct option all[32];
  size_t n = 0;
  for (; longopts && longopts[n].name && n < 30; n++)
    all[n] = longopts[n];
  all[n++] = (struct option){"help", no_argument, NULL, 'h'};
  all[n] = (struct option){0};
  char **pos = calloc((size_t)argc + 1, sizeof(char *));
  if (pos == NULL)
    abort();
  int n_pos = 0, r = -1;
  optind = 1;
  opterr = 0;
  while (r < 0) {
    int before = optind;
    int opt = getopt_long(argc, argv, optstring, all, NULL);
    if (opt == -1) {
      bool dashdash = optind == before + 1 && strcmp(argv[before], "--") == 0;
      if (dashdash || optind >= argc || v->options_first)
        break;
      pos[n_pos++] = argv[optind++];
    } else {
      r = cmd_on_opt(v, argv, opt, on_opt);
    }
  }
  operands_gather(argc, argv, pos, n_pos, optind);
  free(pos);
  return r;
}

int cmd_want_args(const struct verb *v, int argc, char **argv, int n_min, int n_max)
{
  int have = argc - optind;
  if (have < n_min)
    return cmd_usage_error(v, "missing %s", have == 0 ? "container ID" : "arguments");
  if (have > n_max)
    return cmd_usage_error(v, "unexpected argument '%s'", argv[optind + n_max]);
  return -1;
}

int cmd_parse_uint(const struct verb *v, const char *flag, const char *s, unsigned *out)
{
  char *end;
  errno = 0;
  unsigned long n = strtoul(s, &end, 10);
  if (errno || *end || end == s || s[0] == '-' || n > 65535)
    return cmd_usage_error(v, "%s: invalid number '%s'", flag, s);
  *out = (unsigned)n;
  return -1;
}

/* --debug: the invocation and its outcome, in the log, or without --log on
 * stderr, in the log format (as runc: level=debug lines). */
static void debug_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void debug_line(const char *fmt, ...)
{
  if (!g.debug)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (g.log_path)
    log_line("debug", msg);
  else
    log_write(2, "debug", msg);
}

static int verb_run_logged(const struct verb *v, int argc, char **argv)
{
  char args[768] = "";
  size_t len = 0;
  for (int i = 1; i < argc && len < sizeof(args) - 1; i++)
    len += (size_t)snprintf(args + len, sizeof(args) - len, " %s", argv[i]);
  debug_line("%s%s (root %s)", v->name, args, g.root);
  int rc = v->fn(argc, argv);
  debug_line("%s: exit status %d", v->name, rc);
  return rc;
}

static void usage(FILE *f)
{
  fprintf(f,
          "berth %s - an OCI container runtime (runtime-spec %s)\n\n"
          "Usage: berth [global options] COMMAND [options] [arguments]\n\n"
          "Commands:\n",
          BERTH_VERSION, BERTH_SPEC_VERSION);
  for (size_t i = 0; i < N_VERBS; i++)
    fprintf(f, "  %-10s %s\n", verbs[i]->name, verbs[i]->summary);
  fprintf(f, "\nImage commands (carried out by berth-image; 'berth pull --help'):\n"
             "  pull       pull an image into the store\n"
             "  image      ls | inspect REF | rm REF | prune\n"
             "  bundle     create --image REF DIR [-- CMD...] | rm DIR\n"
             "  (run and create take --image REF: see 'berth run --help')\n");
  fprintf(f, "\nGlobal options:\n"
             "  --root DIR          state directory (default /run/berth; for other users\n"
             "                      $XDG_RUNTIME_DIR/berth)\n"
             "  --log FILE          also write errors to FILE\n"
             "  --log-format FMT    text (default) or json\n"
             "  --debug             log debug output\n"
             "  --image-root DIR    the image store (default /var/lib/berth)\n"
             "  -v, --version       print the version\n"
             "  -h, --help          this help\n\n"
             "Run 'berth COMMAND --help' for the options of a command.\n");
}

/* runc's shape: clients and scripts read the first line (and tell runtimes
 * apart by its first word), "spec:" and "libseccomp:". */
static void version_print(void)
{
  char seccomp[32];
  seccomp_library_version(seccomp, sizeof(seccomp));
  printf("berth version %s\nspec: %s\nlibseccomp: %s\n", BERTH_VERSION, BERTH_SPEC_VERSION,
         seccomp);
}

/* runc's default for ordinary users: $XDG_RUNTIME_DIR/berth. */
static void root_default(void)
{
  static char buf[4096];
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (geteuid() == 0)
    return;
  if (xdg && xdg[0] == '/') {
    snprintf(buf, sizeof(buf), "%s/berth", xdg);
  } else {
    /* Never a shared directory like /tmp, which others could prepare. */
    snprintf(buf, sizeof(buf), "/run/user/%u/berth", (unsigned)geteuid());
  }
  g.root = buf;
}

/* pull, image and bundle live in berth-image (cmd/image): libarchive and
 * libcurl cannot be linked into the static berth. */
static bool image_verb(const char *name)
{
  return strcmp(name, "pull") == 0 || strcmp(name, "image") == 0 || strcmp(name, "bundle") == 0;
}

/* argv[0] as berth was started: after the re-execution from a detached
 * read-only bind (selfexec.c), /proc/self/exe no longer names a path. */
static const char *argv0 = "berth";

/* path := DIR/berth-image for the directory of exe, if it is executable. */
static bool image_beside(const char *exe, char *path, size_t len)
{
  const char *slash = strrchr(exe, '/');
  if (slash == NULL)
    return false;
  snprintf(path, len, "%.*s/berth-image", (int)(slash - exe), exe);
  return access(path, X_OK) == 0;
}

void cmd_image_path(char *path, size_t len)
{
  char self[PATH_MAX];
  const char *env = getenv("BERTH_IMAGE");
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0)
    self[n] = '\0';
  if (env && env[0])
    snprintf(path, len, "%s", env);
  else if (!(n > 0 && image_beside(self, path, len)) && !image_beside(argv0, path, len))
    snprintf(path, len, "berth-image"); /* from $PATH */
}

/* berth-image from $BERTH_IMAGE, else beside this executable. */
static int image_exec(int argc, char **argv)
{
  image_helper_locate();
  char **av = image_helper_argv(argc, argv);
  execv(image_helper_path(), av);
  fprintf(stderr,
          "berth: %s: %s (the image verbs need berth-image beside berth, or "
          "$BERTH_IMAGE)\n",
          image_helper_path(), strerror(errno));
  free(av);
  return 1;
}

int main(int argc, char **argv)
{
  runtime_set_warn(warn_line);
  if (argc > 0)
    argv0 = argv[0];
  /* Called by a CNI runtime through the berth-bridge link: a plugin call,
   * not a container runtime call (no global options, no self re-exec). */
  const char *self = argc > 0 ? strrchr(argv[0], '/') : NULL;
  if (argc > 0 && strcmp(self ? self + 1 : argv[0], CNI_PLUGIN_NAME) == 0)
    return cni_main();
  root_default();
  enum {
    OPT_ROOT = 256,
    OPT_LOG,
    OPT_LOG_FORMAT,
    OPT_DEBUG,
    OPT_SYSTEMD,
    OPT_ROOTLESS,
    OPT_CRIU,
    OPT_IMAGE_ROOT
  };
  static const struct option opts[] = {
      {"root", required_argument, NULL, OPT_ROOT},
      {"log", required_argument, NULL, OPT_LOG},
      {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
      {"debug", no_argument, NULL, OPT_DEBUG},
      {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD},
      {"rootless", required_argument, NULL, OPT_ROOTLESS},
      {"criu", required_argument, NULL, OPT_CRIU},
      {"image-root", required_argument, NULL, OPT_IMAGE_ROOT},
      {"version", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {0},
  };
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
    switch (opt) {
    case OPT_ROOT:
      if (optarg[0] == '\0')
        return cmd_usage_error(NULL, "--root must not be empty");
      g.root = optarg;
      break;
    case OPT_LOG:
      g.log_path = optarg;
      break;
    case OPT_LOG_FORMAT:
      if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
        return cmd_usage_error(NULL, "--log-format must be text or json, not '%s'", optarg);
      g.log_json = strcmp(optarg, "json") == 0;
      break;
    case OPT_DEBUG:
      g.debug = true;
      break;
    case OPT_SYSTEMD:
      return cmd_usage_error(NULL, "--systemd-cgroup: not supported yet");
    case OPT_ROOTLESS:
      /* auto: rootless when not root, which is what berth always does. */
      if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0 &&
          strcmp(optarg, "auto") != 0)
        return cmd_usage_error(NULL, "--rootless must be true, false or auto, not '%s'", optarg);
      g.rootless = strcmp(optarg, "true") == 0;
      break;
    case OPT_CRIU:
      break; /* checkpointing is not offered; the path alone changes nothing */
    case OPT_IMAGE_ROOT:
      g.image_root = optarg;
      break;
    case 'v':
      version_print();
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    case ':':
      return cmd_usage_error(NULL, "option '%s' needs a value", argv[optind - 1]);
    default:
      return cmd_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return 1;
  }
  const char *name = argv[optind];
  if (strcmp(name, "help") == 0) {
    if (optind + 1 < argc)
      for (size_t i = 0; i < N_VERBS; i++)
        if (strcmp(verbs[i]->name, argv[optind + 1]) == 0) {
          printf("%s", verbs[i]->usage);
          return 0;
        }
    usage(stdout);
    return 0;
  }
  if (image_verb(name)) {
    int at = optind; /* image_bundle_create_here runs getopt again */
    int r = image_bundle_create_here(argc - at, argv + at);
    return r >= 0 ? r : image_exec(argc - at, argv + at);
  }
  for (size_t i = 0; i < N_VERBS; i++) {
    if (strcmp(verbs[i]->name, name) != 0)
      continue;
    /* The verbs that put a berth process inside a container. */
    if (verbs[i] == &verb_create || verbs[i] == &verb_run || verbs[i] == &verb_exec ||
        verbs[i] == &verb_sandbox) {
      struct berth_err *err = NULL;
      if (verbs[i] != &verb_exec)
        image_helper_locate(); /* for --image, before the re-exec */
      if (runtime_self_protect(argv, environ, &err) < 0)
        return cmd_fail(&err);
    }
    return verb_run_logged(verbs[i], argc - optind, argv + optind);
  }
  return cmd_usage_error(NULL, "unknown command '%s'", name);
}
