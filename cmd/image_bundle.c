/* create/run --image: the bundle berth makes for one container, with the
 * same code as `berth bundle create` (berth-image: berth itself is static
 * and cannot link libarchive/libcurl), in a directory berth owns:
 * IMAGE_ROOT/containers/<key of the state root>/<ID>, its root writable
 * (into the bundle's private upper directory). The runtime records
 * it as owned and removes it when the container is deleted
 * (runtime_create_opts.bundle_owned, common/treerm.h): no exec of
 * berth-image on delete, so deletion works without it and costs no
 * process. The directory's name is fixed by (image root, state root, ID),
 * so `delete --force ID` finds what an interrupted `run --image` left
 * before the container's state recorded it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <getopt.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/testhook.h"
#include "../common/treerm.h"
#include "../common/warn.h"
#include "../image/image.h"
#include "cmd.h"

/* --image-root, else berth-image's default (an ordinary user's own). */
static const char *image_root(void)
{
  static char dflt[4096];
  struct berth_err *err = NULL;
  if (g.image_root)
    return g.image_root;
  if (dflt[0] == '\0' && image_root_default(dflt, sizeof(dflt), &err) < 0) {
    berth_err_free(&err); /* no HOME: berth-image says so */
    snprintf(dflt, sizeof(dflt), "%s", IMAGE_ROOT_DEFAULT);
  }
  return dflt;
}

void image_helper_locate(void)
{
  const char *env = getenv("BERTH_IMAGE");
  char self[PATH_MAX];
  if (env && env[0])
    return;
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash == NULL)
    return;
  *slash = '\0';
  cleanup_free char *path = xasprintf("%s/berth-image", self);
  setenv("BERTH_IMAGE", path, 1);
}

/* argv for berth-image: "berth" [--image-root DIR] then args. */
char **image_helper_argv(int argc, char **argv)
{
  char **av = xcalloc((size_t)argc + 4, sizeof(char *));
  size_t k = 0;
  av[k++] = "berth";
  if (g.image_root) {
    av[k++] = "--image-root";
    av[k++] = (char *)g.image_root;
  }
  memcpy(av + k, argv, (size_t)argc * sizeof(char *));
  return av;
}

const char *image_helper_path(void)
{
  const char *env = getenv("BERTH_IMAGE");
  return env && env[0] ? env : "berth-image";
}

/* FNV-1a: a short, stable name for the state root's path. */
static uint64_t fnv1a(const char *s)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static char *bundle_parent(void)
{
  char abs[PATH_MAX];
  const char *root = realpath(g.root, abs) ? abs : g.root;
  return xasprintf("%s/containers/%016llx", image_root(), (unsigned long long)fnv1a(root));
}

static char *image_bundle_path(const char *id)
{
  cleanup_free char *parent = bundle_parent();
  return xasprintf("%s/%s", parent, id);
}

/* berth-image bundle create --image REF DIR -- ARGS; it prints its own
 * error line. Dies with us (PDEATHSIG): a killed `run --image` leaves no
 * helper behind to finish a bundle after a `delete --force`. */
static int helper_bundle_create(const char *ref, const char *dir, char *const *args)
{
  size_t n = 0;
  while (args && args[n])
    n++;
  const char *fixed[] = {"bundle", "create", "--rw", "--image", ref, dir, "--"};
  size_t k = sizeof(fixed) / sizeof(fixed[0]);
  char **words = xcalloc(n + k + 1, sizeof(char *));
  memcpy(words, fixed, sizeof(fixed));
  if (n)
    memcpy(words + k, args, n * sizeof(char *));
  cleanup_free char **av = image_helper_argv((int)(n + k), words);
  free(words);
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
      _exit(1);
    execv(image_helper_path(), av);
    fprintf(stderr,
            "berth: %s: %s (the image verbs need berth-image beside berth, or $BERTH_IMAGE)\n",
            image_helper_path(), strerror(errno));
    _exit(1);
  }
  int ws = 0;
  if (pid < 0)
    return -1;
  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -1;
}

/* The overlay bundle of a cached image, made here (image_bundle_create_cached):
 * 1 when berth-image must make it. */
static int bundle_cached(const char *ref, const char *dir, char *const *args, unsigned flags,
                         struct berth_err **err)
{
  struct image_opts o = {.root = image_root(), .tls_verify = true, .quiet = true};
  return image_bundle_create_cached(&o, ref, dir, args, flags, err);
}

int image_bundle_make(const char *ref, const char *id, char *const *args, char **dir,
                      struct berth_err **err)
{
  if (runtime_validate_id(id, err) < 0)
    return -1;
  cleanup_free char *state = xasprintf("%s/%s", g.root, id);
  cleanup_free char *parent = bundle_parent();
  cleanup_free char *path = xasprintf("%s/%s", parent, id);
  struct stat sb;
  if (lstat(state, &sb) == 0)
    return berth_err_set(err, 0, "container \"%s\" already exists", id);
  if (lstat(path, &sb) == 0)
    return berth_err_set(err, 0,
                         "container \"%s\": an interrupted run left its bundle %s: "
                         "'berth delete --force %s' removes it",
                         id, path, id);
  bool had_parent = access(parent, F_OK) == 0;
  if (mkdir_p(parent, 0700, err) < 0)
    return -1;
  /* --rw: the container writes into its private upper directory. Made
   * here when the image is cached, else by berth-image (r 1 -> 0 or 2). */
  int r = bundle_cached(ref, path, args, IMAGE_BUNDLE_WRITABLE, err);
  if (r == 1)
    r = helper_bundle_create(ref, path, args) < 0 ? 2 : 0;
  if (r != 0) {
    if (!had_parent) { /* nothing left: the directories made for it too */
      rmdir(parent);
      cleanup_free char *containers = xasprintf("%s/containers", image_root());
      rmdir(containers);
    }
    return r < 0 ? -1 : 1;
  }
  TEST_POINT("image:bundle");
  *dir = steal_ptr(&path);
  return 0;
}

/* berth-image's options for bundle create, to tell whether it is needed. */
static const struct option bundle_opts[] = {
    {"tls-verify", required_argument, NULL, 't'},
    {"creds", required_argument, NULL, 'c'},
    {"authfile", required_argument, NULL, 'a'},
    {"platform", required_argument, NULL, 'p'},
    {"image", required_argument, NULL, 'i'},
    {"copy", no_argument, NULL, 'C'},
    {"rw", no_argument, NULL, 'w'},
    {"quiet", no_argument, NULL, 'q'},
    {0},
};

int image_bundle_create_here(int argc, char **argv)
{
  const char *ref = NULL;
  unsigned flags = 0;
  int c;
  if (argc < 2 || strcmp(argv[0], "bundle") != 0 || strcmp(argv[1], "create") != 0)
    return -1;
  optind = 0; /* glibc: start over, on another argv */
  opterr = 0;
  while ((c = getopt_long(argc - 1, argv + 1, "+q", bundle_opts, NULL)) != -1) {
    if (c == 'i')
      ref = optarg;
    else if (c == 'w')
      flags |= IMAGE_BUNDLE_WRITABLE;
    else if (c == 'C' || c == '?' || c == ':')
      return -1; /* a copy, or what berth-image explains */
  }
  int i = optind + 1; /* in argv */
  if (ref == NULL || i >= argc)
    return -1;
  const char *dir = argv[i++];
  if (i < argc && strcmp(argv[i], "--") == 0)
    i++;
  struct berth_err *err = NULL;
  int r = bundle_cached(ref, dir, i < argc ? argv + i : NULL, flags, &err);
  if (r < 0)
    return cmd_fail(&err);
  return r == 0 ? 0 : -1;
}

void image_bundle_discard(const char *dir)
{
  struct berth_err *err = NULL;
  if (bundle_dir_remove(dir, true, &err) < 0) {
    berth_warn("%s", err->msg);
    berth_err_free(&err);
  }
}

int image_bundle_remains_remove(const char *id, struct berth_err **err)
{
  if (runtime_validate_id(id, err) < 0)
    return -1;
  cleanup_free char *path = image_bundle_path(id);
  return bundle_dir_remove(path, true, err);
}

int create_from_image(const char *id, char *const *args, struct runtime_create_opts *o,
                      int (*create_fn)(struct runtime_create_opts *o, void *arg,
                                       struct berth_err **err),
                      void *arg)
{
  struct berth_err *err = NULL;
  cleanup_free char *dir = NULL;
  int r = image_bundle_make(create_image_ref, id, args, &dir, &err);
  if (r != 0)
    return r < 0 ? cmd_fail(&err) : 1;
  o->bundle = dir;
  o->bundle_owned = true;
  r = create_fn(o, arg, &err);
  if (r < 0) {
    /* Not recorded by a state (or already removed by the runtime's own
     * undo): ours to remove. */
    image_bundle_discard(dir);
    return cmd_fail(&err);
  }
  return r;
}
