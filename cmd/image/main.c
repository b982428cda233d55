/* berth-image: the image verbs (pull, image, bundle), in their own
 * executable because libarchive and libcurl cannot be linked statically on
 * Debian 12 while berth itself is static (its start time). berth runs this
 * for those verbs; it parses and prints, image/ does the work. */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "../../image/image.h"
#include "progress.h"

static struct image_opts opts = {.tls_verify = true};
static struct progress_view view;

static int fail(struct berth_err **err)
{
  fprintf(stderr, "berth: %s\n", (*err)->msg);
  berth_err_free(err);
  return 1;
}

static const char usage_text[] =
    "Usage: berth [--image-root DIR] pull [--tls-verify=false] [--creds U:P | --authfile F]\n"
    "                                     [--platform OS/ARCH] [-q] REF\n"
    "       berth [--image-root DIR] image ls | inspect REF | rm REF | prune\n"
    "       berth [--image-root DIR] bundle create [--copy] [--rw] --image REF DIR [-- CMD...]\n"
    "       berth [--image-root DIR] bundle rm DIR\n\n"
    "REF: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG],\n"
    "     [REGISTRY/]REPO[:TAG|@sha256:DIGEST]\n"
    "  --image-root DIR   the image store (default " IMAGE_ROOT_DEFAULT ")\n"
    "  -q, --quiet        no progress (shown on stderr only when it is a terminal)\n"
    "  --creds U:P        registry credentials; without --creds and --authfile the\n"
    "                     first of $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/\n"
    "                     auth.json, $XDG_CONFIG_HOME (~/.config)/containers/auth.json,\n"
    "                     $DOCKER_CONFIG (~/.docker)/config.json naming the registry\n"
    "  --copy             a full copy of the layers instead of an overlay\n"
    "  --rw               root.readonly false (writes land in DIR/upper)\n"
    "  image prune        removes layers and blobs no image and no live bundle uses,\n"
    "                     and leftover partial downloads\n";

static int usage(const char *msg)
{
  fprintf(stderr, "berth: %s\n%s", msg, usage_text);
  return 1;
}

enum { O_TLS = 256, O_CREDS, O_AUTHFILE, O_PLATFORM, O_IMAGE, O_COPY, O_ROOT, O_RW };
static const struct option longopts[] = {
    {"tls-verify", required_argument, NULL, O_TLS},
    {"creds", required_argument, NULL, O_CREDS},
    {"authfile", required_argument, NULL, O_AUTHFILE},
    {"platform", required_argument, NULL, O_PLATFORM},
    {"image", required_argument, NULL, O_IMAGE},
    {"copy", no_argument, NULL, O_COPY},
    {"rw", no_argument, NULL, O_RW},
    {"image-root", required_argument, NULL, O_ROOT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

struct flags {
  const char *image;
  unsigned bundle; /* IMAGE_BUNDLE_* */
};

static int parse(int argc, char **argv, struct flags *f)
{
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
    if (c == 'h') {
      printf("%s", usage_text);
      return 0;
    }
    if (c == O_TLS && strcmp(optarg, "false") != 0 && strcmp(optarg, "true") != 0)
      return usage("--tls-verify: true or false");
    if (c == O_TLS)
      opts.tls_verify = strcmp(optarg, "true") == 0;
    else if (c == O_CREDS)
      opts.creds = optarg;
    else if (c == O_AUTHFILE)
      opts.authfile = optarg;
    else if (c == O_PLATFORM)
      opts.platform = optarg;
    else if (c == O_IMAGE)
      f->image = optarg;
    else if (c == O_COPY)
      f->bundle |= IMAGE_BUNDLE_COPY;
    else if (c == O_RW)
      f->bundle |= IMAGE_BUNDLE_WRITABLE;
    else if (c == O_ROOT)
      opts.root = optarg;
    else if (c == 'q')
      opts.quiet = true;
    else
      return usage("unknown option");
  }
  if (!opts.quiet && isatty(STDERR_FILENO)) {
    opts.progress = progress_show;
    opts.progress_arg = &view;
  }
  return -1;
}

static int verb_pull(int argc, char **argv)
{
  struct flags f = {0};
  int r = parse(argc, argv, &f);
  if (r >= 0)
    return r;
  if (optind != argc - 1)
    return usage("pull: give one reference");
  struct berth_err *err = NULL;
  char digest[80];
  if (image_pull(&opts, argv[optind], digest, &err) < 0)
    return fail(&err);
  printf("%s\n", digest);
  return 0;
}

static int image_ls(void)
{
  json_t *all = NULL;
  struct berth_err *err = NULL;
  if (image_list(opts.root, &all, &err) < 0)
    return fail(&err);
  printf("%-50s %-20s %s\n", "NAME", "MANIFEST", "PULLED");
  size_t i;
  json_t *r;
  json_array_foreach (all, i, r) {
    const char *m = json_string_value(json_object_get(r, "manifest"));
    printf("%-50s %-20.19s %s\n", json_string_value(json_object_get(r, "name")),
           m && strlen(m) > 7 ? m + 7 : "?", json_string_value(json_object_get(r, "pulled")));
  }
  json_decref(all);
  return 0;
}

static int image_prune_print(void)
{
  struct image_prune_stats st;
  struct berth_err *err = NULL;
  if (image_prune(opts.root, &st, &err) < 0)
    return fail(&err);
  printf("removed %" PRIu64 " layers, %" PRIu64 " blobs, %" PRIu64 " partial downloads, %" PRIu64
         " stale bundle records: %" PRIu64 " bytes\n",
         st.layers, st.blobs, st.partials, st.stale_records, st.bytes);
  return 0;
}

static int verb_image(int argc, char **argv)
{
  struct flags f = {0};
  int r = parse(argc, argv, &f);
  if (r >= 0)
    return r;
  const char *sub = optind < argc ? argv[optind] : "";
  struct berth_err *err = NULL;
  if ((strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) && optind + 1 == argc)
    return image_ls();
  if (strcmp(sub, "prune") == 0 && optind + 1 == argc)
    return image_prune_print();
  if (optind + 2 != argc)
    return usage("image: ls, inspect REF, rm REF or prune");
  if (strcmp(sub, "rm") == 0)
    return image_remove(opts.root, argv[optind + 1], &err) < 0 ? fail(&err) : 0;
  cleanup_free char *text = NULL;
  if (strcmp(sub, "inspect") != 0)
    return usage("image: ls, inspect REF, rm REF or prune");
  if (image_inspect(opts.root, argv[optind + 1], &text, &err) < 0)
    return fail(&err);
  printf("%s\n", text);
  return 0;
}

static int bundle_create(int argc, char **argv)
{
  struct flags f = {0};
  int r = parse(argc, argv, &f); /* argv[0] is "create" */
  if (r >= 0)
    return r;
  if (f.image == NULL || optind >= argc)
    return usage("bundle create: give --image REF and DIR");
  const char *dir = argv[optind++];
  if (optind < argc && strcmp(argv[optind], "--") == 0)
    optind++;
  struct berth_err *err = NULL;
  char *const *args = optind < argc ? argv + optind : NULL;
  if (image_bundle_create(&opts, f.image, dir, args, f.bundle, &err) < 0)
    return fail(&err);
  return 0;
}

static int verb_bundle(int argc, char **argv)
{
  const char *sub = argc > 1 ? argv[1] : "";
  struct berth_err *err = NULL;
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
    printf("%s", usage_text);
    return 0;
  }
  if (strcmp(sub, "rm") == 0 && argc == 3)
    return image_bundle_remove(opts.root, argv[2], &err) < 0 ? fail(&err) : 0;
  if (strcmp(sub, "create") == 0)
    return bundle_create(argc - 1, argv + 1);
  return usage("bundle: create or rm");
}

int main(int argc, char **argv)
{
  /* berth [--image-root DIR] VERB ...: the global option, then the verb. */
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "--image-root") == 0) {
    opts.root = argv[i + 1];
    i += 2;
  }
  if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
    printf("%s", usage_text);
    return 0;
  }
  if (i >= argc)
    return usage("no command");
  static char root[4096];
  struct berth_err *err = NULL;
  if (opts.root == NULL && image_root_default(root, sizeof(root), &err) < 0)
    return fail(&err);
  if (opts.root == NULL)
    opts.root = root;
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } verbs[] = {{"pull", verb_pull}, {"image", verb_image}, {"bundle", verb_bundle}};
  for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
    if (strcmp(argv[i], verbs[v].name) == 0)
      return verbs[v].fn(argc - i, argv + i);
  return usage("unknown command");
}
