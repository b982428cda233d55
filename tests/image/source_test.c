/* image/ sources and store: references, digests, manifests, the local
 * sources on the fixtures of make-fixtures.sh, and the blob store's
 * verification, resume and locking. Prints "N passed, N failed".
 *
 *   tests/image/source_test FIXTURE-DIR   (make image-tests) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "../../image/internal.h"

#include "../unit/check.h"

int unit_passed, unit_failed;

static const char *fixtures;
static char facts[16][2][128];

static const char *fact(const char *key)
{
  for (size_t i = 0; i < 16; i++)
    if (strcmp(facts[i][0], key) == 0)
      return facts[i][1];
  return "?";
}

static void facts_load(void)
{
  cleanup_free char *path = xasprintf("%s/facts", fixtures);
  cleanup_fclose FILE *f = fopen(path, "r");
  char line[256];
  for (size_t i = 0; f && i < 16 && fgets(line, sizeof(line), f); i++) {
    line[strcspn(line, "\n")] = '\0';
    char *eq = strchr(line, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    snprintf(facts[i][0], sizeof(facts[i][0]), "%.127s", line);
    snprintf(facts[i][1], sizeof(facts[i][1]), "%.127s", eq + 1);
  }
  CHECK(f != NULL, "no %s", path);
}

/* Expects r < 0 and a one-line message containing want. */
static void expect_err(int r, struct berth_err **err, const char *want, const char *what)
{
  if (r >= 0) {
    CHECK(false, "%s: accepted, wanted an error containing '%s'", what, want);
    return;
  }
  CHECK(*err && strstr((*err)->msg, want) && !strchr((*err)->msg, '\n'),
        "%s: error '%s' lacks '%s'", what, *err ? (*err)->msg : "(none)", want);
  berth_err_free(err);
}

static char *tmp_root(void)
{
  char *d = xasprintf("/tmp/berth-image-test-XXXXXX");
  if (mkdtemp(d) == NULL)
    abort();
  return d;
}

static int count_entries(const char *dir)
{
  cleanup_dir DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  return d ? n : -1;
}

static int count_in(const char *root, const char *sub)
{
  cleanup_free char *p = xasprintf("%s/%s", root, sub);
  return count_entries(p);
}

/* ---- references ---- */

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TAG128                                                                                     \
  "t234567890123456789012345678901234567890123456789012345678901234"                               \
  "5678901234567890123456789012345678901234567890123456789012345678"

static const struct {
  const char *in;
  enum image_ref_kind kind;
  const char *registry, *repo, *tag, *digest, *path, *name;
} good_refs[] = {
    {"busybox", REF_REGISTRY, "docker.io", "library/busybox", "latest", "", "",
     "docker.io/library/busybox:latest"},
    {"busybox:1.36", REF_REGISTRY, "docker.io", "library/busybox", "1.36", "", "",
     "docker.io/library/busybox:1.36"},
    {"library/busybox", REF_REGISTRY, "docker.io", "library/busybox", "latest", "", "",
     "docker.io/library/busybox:latest"},
    {"docker.io/busybox", REF_REGISTRY, "docker.io", "library/busybox", "latest", "", "",
     "docker.io/library/busybox:latest"},
    {"index.docker.io/busybox:x", REF_REGISTRY, "docker.io", "library/busybox", "x", "", "",
     "docker.io/library/busybox:x"},
    {"docker.io/library/busybox:latest", REF_REGISTRY, "docker.io", "library/busybox", "latest", "",
     "", "docker.io/library/busybox:latest"},
    {"docker://alpine", REF_REGISTRY, "docker.io", "library/alpine", "latest", "", "",
     "docker.io/library/alpine:latest"},
    {"myuser/app:v1.2-rc_3", REF_REGISTRY, "docker.io", "myuser/app", "v1.2-rc_3", "", "",
     "docker.io/myuser/app:v1.2-rc_3"},
    {"quay.io/podman/stable", REF_REGISTRY, "quay.io", "podman/stable", "latest", "", "",
     "quay.io/podman/stable:latest"},
    {"localhost/foo", REF_REGISTRY, "localhost", "foo", "latest", "", "", "localhost/foo:latest"},
    {"localhost:5000/foo/bar:Tag_1", REF_REGISTRY, "localhost:5000", "foo/bar", "Tag_1", "", "",
     "localhost:5000/foo/bar:Tag_1"},
    {"127.0.0.1:5000/x", REF_REGISTRY, "127.0.0.1:5000", "x", "latest", "", "",
     "127.0.0.1:5000/x:latest"},
    {"[::1]:5000/x:y", REF_REGISTRY, "[::1]:5000", "x", "y", "", "", "[::1]:5000/x:y"},
    {"my-registry.example.com/a__b/c--d.e_f", REF_REGISTRY, "my-registry.example.com",
     "a__b/c--d.e_f", "latest", "", "", "my-registry.example.com/a__b/c--d.e_f:latest"},
    {"ghcr.io/a/b/c@sha256:" HEX64, REF_REGISTRY, "ghcr.io", "a/b/c", "", "sha256:" HEX64, "",
     "ghcr.io/a/b/c@sha256:" HEX64},
    {"busybox:1.36@sha256:" HEX64, REF_REGISTRY, "docker.io", "library/busybox", "",
     "sha256:" HEX64, "", "docker.io/library/busybox@sha256:" HEX64},
    {"localhost:5000", REF_REGISTRY, "docker.io", "library/localhost", "5000", "", "",
     "docker.io/library/localhost:5000"},
    {"x:" TAG128, REF_REGISTRY, "docker.io", "library/x", TAG128, "", "",
     "docker.io/library/x:" TAG128},
    {"oci:/tmp/x", REF_OCI_LAYOUT, "", "", "", "", "/tmp/x", "oci:/tmp/x"},
    {"oci:/tmp/x:latest", REF_OCI_LAYOUT, "", "", "latest", "", "/tmp/x", "oci:/tmp/x:latest"},
    {"oci:/tmp/a:b/c", REF_OCI_LAYOUT, "", "", "", "", "/tmp/a:b/c", "oci:/tmp/a:b/c"},
    {"oci:/tmp/a:b:v1", REF_OCI_LAYOUT, "", "", "v1", "", "/tmp/a:b", "oci:/tmp/a:b:v1"},
    {"oci:/tmp/a:v1:", REF_OCI_LAYOUT, "", "", "", "", "/tmp/a:v1", "oci:/tmp/a:v1"},
    {"oci:relative/dir", REF_OCI_LAYOUT, "", "", "", "", "relative/dir", "oci:relative/dir"},
    {"oci-archive:/x/y.tar:t", REF_OCI_ARCHIVE, "", "", "t", "", "/x/y.tar",
     "oci-archive:/x/y.tar:t"},
    {"docker-archive:/x/y.tar", REF_DOCKER_ARCHIVE, "", "", "", "", "/x/y.tar",
     "docker-archive:/x/y.tar"},
    {"docker-archive:y.tar:busybox:1.0", REF_DOCKER_ARCHIVE, "", "", "1.0", "", "y.tar:busybox",
     "docker-archive:y.tar:busybox:1.0"},
};

static const struct {
  const char *in, *want;
} bad_refs[] = {
    {"", "empty"},
    {"Busybox", "must be lowercase"},
    {"quay.io/Podman/stable", "must be lowercase"},
    {"busybox:", "tag \"\" must match"},
    {"busybox:-x", "tag \"-x\" must match"},
    {"busybox:x" TAG128, "must match"},
    {"busybox@sha256:abc", "not a digest"},
    {"busybox@sha256:" HEX64 "00", "not a digest"},
    {"busybox@sha512:" HEX64 HEX64, "only sha256"},
    {"busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "not a digest"},
    {"a//b", "each '/'-separated part"},
    {"a/b/", "each '/'-separated part"},
    {"-a", "each '/'-separated part"},
    {"a..b", "each '/'-separated part"},
    {"a-", "each '/'-separated part"},
    {"a___b", "each '/'-separated part"},
    {"busybox:tag:more", "each '/'-separated part"},
    {"exa_mple.com/x", "registry \"exa_mple.com\" is not HOST[:PORT]"},
    {"example.com:99999/x", "is not HOST[:PORT]"},
    {"example.com:/x", "is not HOST[:PORT]"},
    {".com/x", "is not HOST[:PORT]"},
    {"localhost/", "each '/'-separated part"},
    {"oci:", "oci: needs a directory"},
    {"oci-archive::tag", "oci-archive: needs a file"},
    {"docker-archive:", "docker-archive: needs a file"},
    {"busy box", "white space"},
    {"busybox\n", "control character"},
    {"docker://", "no repository name"},
    {"@sha256:" HEX64, "no repository name"},
};

static void ref_tests(void)
{
  for (size_t i = 0; i < sizeof(good_refs) / sizeof(good_refs[0]); i++) {
    struct image_ref r;
    struct berth_err *err = NULL;
    const char *in = good_refs[i].in;
    if (image_ref_parse(in, &r, &err) < 0) {
      CHECK(false, "%s: %s", in, err->msg);
      berth_err_free(&err);
      continue;
    }
    CHECK(r.kind == good_refs[i].kind, "%s: kind %d", in, r.kind);
    CHECK(strcmp(r.registry, good_refs[i].registry) == 0, "%s: registry %s", in, r.registry);
    CHECK(strcmp(r.repo, good_refs[i].repo) == 0, "%s: repo %s", in, r.repo);
    CHECK(strcmp(r.tag, good_refs[i].tag) == 0, "%s: tag %s", in, r.tag);
    CHECK(strcmp(r.digest, good_refs[i].digest) == 0, "%s: digest %s", in, r.digest);
    CHECK(strcmp(r.path, good_refs[i].path) == 0, "%s: path %s", in, r.path);
    CHECK(!good_refs[i].name || strcmp(r.name, good_refs[i].name) == 0, "%s: name %s", in, r.name);
  }
  for (size_t i = 0; i < sizeof(bad_refs) / sizeof(bad_refs[0]); i++) {
    struct image_ref r;
    struct berth_err *err = NULL;
    expect_err(image_ref_parse(bad_refs[i].in, &r, &err), &err, bad_refs[i].want, bad_refs[i].in);
  }
  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  struct image_ref r;
  struct berth_err *err = NULL;
  expect_err(image_ref_parse(longname, &r, &err), &err, "longer than 255", "long name");
}

/* ---- digests ---- */

static void digest_tests(void)
{
  char d[DIGEST_MAX];
  digest_buf("", 0, d);
  CHECK(strcmp(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
        "sha256 of nothing: %s", d);
  struct digester *g = digester_new();
  digester_update(g, "ab", 2);
  digester_update(g, "c", 1);
  digester_finish(g, d);
  CHECK(strcmp(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
        "sha256 of abc in two parts: %s", d);
  CHECK(digest_valid("sha256:" HEX64), "valid digest");
  CHECK(!digest_valid("sha256:" HEX64 "0"), "too long");
  CHECK(!digest_valid("sha256:../../../../../../etc/passwd"), "path");
  CHECK(!digest_valid("SHA256:" HEX64), "upper-case algorithm");
  CHECK(!digest_valid("sha512:" HEX64), "sha512");
  CHECK(!digest_valid(""), "empty");
}

/* ---- manifests ---- */

#define DOCKER_V2                                                                                  \
  "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","   \
  "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":7,"       \
  "\"digest\":\"sha256:" HEX64 "\"},\"layers\":[{\"mediaType\":"                                   \
  "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":10,\"digest\":\"sha256:" HEX64   \
  "\"}]}"
#define DOCKER_LIST                                                                                \
  "{\"schemaVersion\":2,\"mediaType\":"                                                            \
  "\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":["                  \
  "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":1,"            \
  "\"digest\":\"sha256:" HEX64 "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","       \
  "\"variant\":\"v7\"}},"                                                                          \
  "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":2,"            \
  "\"digest\":\"sha256:" HEX64 "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","     \
  "\"variant\":\"v8\"}},"                                                                          \
  "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":3,"            \
  "\"digest\":\"sha256:" HEX64 "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","       \
  "\"variant\":\"v6\"}}]}"

static void bad_manifest(const char *text, const char *want)
{
  struct manifest m;
  struct berth_err *err = NULL;
  expect_err(manifest_parse(text, strlen(text), &m, &err), &err, want, text);
}

static void manifest_tests(void)
{
  struct manifest m;
  struct berth_err *err = NULL;
  enum manifest_kind kind;
  CHECK(manifest_parse(DOCKER_V2, strlen(DOCKER_V2), &m, &err) == 0, "docker v2: %s",
        err ? err->msg : "");
  CHECK(m.n_layers == 1 && m.layers[0].size == 10 && m.config.size == 7, "docker v2 fields");
  manifest_free(&m);
  CHECK(manifest_kind(DOCKER_LIST, strlen(DOCKER_LIST), NULL, &kind, &err) == 0 &&
            kind == MANIFEST_INDEX,
        "list is an index");
  CHECK(manifest_kind("{\"schemaVersion\":2,\"manifests\":[]}", 34, NULL, &kind, &err) == 0 &&
            kind == MANIFEST_INDEX,
        "index by shape");
  bad_manifest("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", "schema 1");
  bad_manifest("{\"schemaVersion\":2,\"mediaType\":"
               "\"application/vnd.docker.distribution.manifest.v1+prettyjws\"}",
               "schema 1");
  bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
               "an index");
  bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/x-helm\",\"size\":1,"
               "\"digest\":\"sha256:" HEX64 "\"},\"layers\":[]}",
               "not an image config");
  bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
               "vnd.oci.image.config.v1+json\",\"size\":1,\"digest\":\"sha256:../x\"},"
               "\"layers\":[]}",
               "config \"sha256:../x\": not a digest");
  bad_manifest(
      "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
      "\"size\":1,\"digest\":\"sha256:" HEX64 "\"},\"layers\":[{\"mediaType\":\"application/"
      "vnd.oci.image.layer.v1.tar+encrypted\",\"size\":1,\"digest\":\"sha256:" HEX64 "\"}]}",
      "layers[0]: layer media type");
  bad_manifest("{\"schemaVersion\":2,\"schemaVersion\":2}", "duplicate");
  bad_manifest("[]", "not a JSON object");
}

static void index_tests(void)
{
  struct berth_err *err = NULL;
  struct image_index ix;
  struct platform p;
  size_t pick = 99;
  CHECK(index_parse(DOCKER_LIST, strlen(DOCKER_LIST), &ix, &err) == 0 && ix.n == 3, "list parse");
  CHECK(platform_parse("linux/arm/v6", &p, &err) == 0 && index_select(&ix, &p, &pick, &err) == 0 &&
            pick == 2,
        "arm/v6 -> 2 (%zu)", pick);
  CHECK(platform_parse("linux/arm64", &p, &err) == 0 && index_select(&ix, &p, &pick, &err) == 0 &&
            pick == 1,
        "arm64 = arm64/v8 (%zu)", pick);
  CHECK(platform_parse("linux/arm", &p, &err) == 0 && index_select(&ix, &p, &pick, &err) == 0 &&
            pick == 0,
        "arm -> first arm (%zu)", pick);
  CHECK(platform_parse("linux/s390x", &p, &err) == 0, "s390x parses");
  expect_err(index_select(&ix, &p, &pick, &err), &err,
             "no manifest for linux/s390x in the index (it has: linux/arm/v7, linux/arm64/v8",
             "s390x");
  index_free(&ix);
  expect_err(platform_parse("linux", &p, &err), &err, "want OS/ARCH", "platform linux");
  expect_err(platform_parse("Linux/amd64", &p, &err), &err, "want OS/ARCH", "platform Linux");
  expect_err(platform_parse("linux/amd64/v1/x", &p, &err), &err, "want OS/ARCH", "4 parts");
  CHECK(platform_parse(NULL, &p, &err) == 0 && strcmp(p.os, "linux") == 0 && p.arch[0],
        "host platform");
}

/* ---- local sources on the fixtures ---- */

static int fetch_all(const char *root, struct image_source *s, const struct manifest *m,
                     struct berth_err **err)
{
  if (store_blob_fetch(root, s, m->config.digest, m->config.size, err) < 0)
    return -1;
  for (size_t i = 0; i < m->n_layers; i++)
    if (store_blob_fetch(root, s, m->layers[i].digest, m->layers[i].size, err) < 0)
      return -1;
  return 0;
}

/* Every stored blob hashes to its name. */
static bool store_verified(const char *root, const struct manifest *m)
{
  for (size_t i = 0; i <= m->n_layers; i++) {
    const char *want = i == 0 ? m->config.digest : m->layers[i - 1].digest;
    struct berth_err *err = NULL;
    cleanup_close int fd = store_blob_open(root, want, &err);
    if (fd < 0) {
      printf("# %s\n", err->msg);
      berth_err_free(&err);
      return false;
    }
    struct digester *d = digester_new();
    char buf[65536], got[DIGEST_MAX];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      digester_update(d, buf, (size_t)n);
    digester_finish(d, got);
    if (strcmp(got, want) != 0)
      return false;
  }
  return true;
}

/* tmpl with its "%s" replaced by the fixture directory. */
static void fixture_ref(const char *tmpl, char *out, size_t cap)
{
  const char *at = strstr(tmpl, "%s");
  snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, fixtures, at + 2);
}

struct source_case {
  const char *ref; /* %s = fixture dir */
  const char *platform;
  const char *layer1, *layer2; /* fact names */
  bool host_config;            /* config = the fixture's config */
};

static const struct source_case source_cases[] = {
    {"oci:%s/oci:test", NULL, "gz1", "gz2", true},
    {"oci:%s/oci", NULL, "gz1", "gz2", true},
    {"oci-archive:%s/oci.tar:test", NULL, "gz1", "gz2", true},
    {"oci-archive:%s/oci.tar", NULL, "gz1", "gz2", true},
    {"docker-archive:%s/docker.tar", NULL, "diff1", "diff2", true},
    {"docker-archive:%s/docker.tar:test", NULL, "diff1", "diff2", true},
    {"docker-archive:%s/docker-blobs.tar:test", NULL, "diff1", "diff2", true},
    {"docker-archive:%s/docker-dup.tar", NULL, "diff1", "diff1", true},
    {"oci:%s/multi:multi", NULL, "gz1", "gz2", true},
    {"oci:%s/multi-flat", NULL, "gz1", "gz2", true},
    {"oci:%s/multi:multi", "other", "gz1", "gz2", false},
    {"oci-archive:%s/oci.tar:test", "linux/arch", "gz1", "gz2", true},
};

static void source_case_run(const struct source_case *c, const char *root)
{
  char refs[4096], plat[64] = "";
  struct image_ref ref;
  struct image_source *s = NULL;
  struct manifest m = {0};
  struct berth_err *err = NULL;
  cleanup_free char *text = NULL;
  size_t len = 0;
  char digest[DIGEST_MAX];
  fixture_ref(c->ref, refs, sizeof(refs));
  if (c->platform)
    snprintf(plat, sizeof(plat), "linux/%s", fact(strcmp(c->platform, "other") ? "arch" : "other"));
  struct image_opts o = {.root = root};
  if (image_ref_parse(refs, &ref, &err) < 0 || source_local_open(&ref, &o, &s, &err) < 0 ||
      manifest_resolve(s, plat[0] ? plat : NULL, &m, &text, &len, digest, &err) < 0 ||
      fetch_all(root, s, &m, &err) < 0) {
    CHECK(false, "%s: %s", refs, err->msg);
    berth_err_free(&err);
  } else {
    CHECK(m.n_layers == 2 && strcmp(m.layers[0].digest, fact(c->layer1)) == 0 &&
              strcmp(m.layers[1].digest, fact(c->layer2)) == 0,
          "%s: layers", refs);
    CHECK((strcmp(m.config.digest, fact("config")) == 0) == c->host_config, "%s: config %s", refs,
          m.config.digest);
    CHECK(store_verified(root, &m), "%s: store verified", refs);
    CHECK(count_in(root, "blobs/partial") == 0, "%s: no partial left", refs);
  }
  manifest_free(&m);
  if (s)
    s->ops->close(s);
  CHECK(count_in(root, "tmp") <= 0, "%s: archive's temporary directory removed", refs);
}

static void bad_source(const char *fmt, const char *platform, const char *want)
{
  char refs[4096];
  struct image_ref ref;
  struct image_source *s = NULL;
  struct manifest m = {0};
  struct berth_err *err = NULL;
  cleanup_free char *text = NULL, *root = tmp_root();
  size_t len = 0;
  char digest[DIGEST_MAX];
  fixture_ref(fmt, refs, sizeof(refs));
  struct image_opts o = {.root = root};
  int r = image_ref_parse(refs, &ref, &err);
  if (r == 0)
    r = source_local_open(&ref, &o, &s, &err);
  if (r == 0)
    r = manifest_resolve(s, platform, &m, &text, &len, digest, &err);
  expect_err(r, &err, want, refs);
  manifest_free(&m);
  if (s)
    s->ops->close(s);
  CHECK(count_in(root, "tmp") <= 0, "%s: temporary directory removed", refs);
  tmpdir_remove(root);
}

static void source_tests(void)
{
  for (size_t i = 0; i < sizeof(source_cases) / sizeof(source_cases[0]); i++) {
    cleanup_free char *root = tmp_root();
    source_case_run(&source_cases[i], root);
    tmpdir_remove(root);
  }
  bad_source("oci:%s/oci:nope", NULL, "no image tagged nope in index.json (tags: test)");
  bad_source("oci-archive:%s/oci.tar:nope", NULL, "no image tagged nope");
  bad_source("docker-archive:%s/docker.tar:nope", NULL, "manifest.json: no image tagged nope");
  bad_source("oci:%s/multi:multi", "linux/s390x", "no manifest for linux/s390x");
  bad_source("oci:%s/nonexistent", NULL, "nonexistent");
  bad_source("oci:%s/oci/blobs", NULL, "not an OCI image layout");
  bad_source("docker-archive:%s/oci.tar", NULL, "not a docker-archive");
  bad_source("oci-archive:%s/docker.tar", NULL, "not an OCI image layout");
  bad_source("docker-archive:%s/evil-link.tar", NULL, "open x/layer.tar");
  bad_source("docker-archive:%s/evil-dotdot.tar", NULL, "leaves the archive");
  bad_source("oci-archive:%s/facts", NULL, "facts");
}

/* ---- the store with an in-memory source ---- */

enum mem_mode { MEM_GOOD, MEM_FLIP, MEM_TRUNCATE, MEM_FAIL_HALF, MEM_SLOW };

struct mem {
  const unsigned char *data;
  size_t len;
  enum mem_mode mode;
  off_t from; /* what the last fetch was asked for */
  int calls;
  const char *count_file; /* one byte appended per fetch_blob call */
};

static int mem_get_manifest(struct image_source *s, const char *want, char **text, size_t *len,
                            char **media_type, struct berth_err **err)
{
  (void)s, (void)text, (void)len, (void)media_type;
  return berth_err_set(err, ENOENT, "no manifest %s", want);
}

static int mem_fetch_blob(struct image_source *s, const char *digest, int64_t size, int fd,
                          off_t from, struct berth_err **err)
{
  struct mem *m = s->priv;
  (void)digest;
  m->from = from;
  m->calls++;
  if (m->count_file) {
    int c = open(m->count_file, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (c >= 0 && write(c, "x", 1) == 1)
      close(c);
  }
  size_t end = m->mode == MEM_TRUNCATE ? m->len - 10 : (size_t)size;
  end = m->mode == MEM_FAIL_HALF ? m->len / 2 : end;
  for (size_t off = (size_t)from; off < end;) {
    unsigned char buf[4096];
    size_t n = end - off < sizeof(buf) ? end - off : sizeof(buf);
    memcpy(buf, m->data + off, n);
    if (m->mode == MEM_FLIP && off <= m->len / 2 && m->len / 2 < off + n)
      buf[m->len / 2 - off] ^= 0x40;
    if (write(fd, buf, n) != (ssize_t)n)
      return berth_err_sys(err, "write");
    if (m->mode == MEM_SLOW)
      usleep(200);
    off += n;
  }
  return m->mode == MEM_FAIL_HALF ? berth_err_set(err, ECONNRESET, "connection lost") : 0;
}

static void mem_close(struct image_source *s)
{
  (void)s;
}

static const struct image_source_ops mem_ops = {mem_get_manifest, mem_fetch_blob, mem_close};

static unsigned char blob_data[1 << 20];
static char blob_digest[DIGEST_MAX];

static void write_file(const char *path, const void *data, size_t n)
{
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0 && write(fd, data, n) == (ssize_t)n, "write %s", path);
}

static int mem_fetch(const char *root, struct mem *m, struct berth_err **err)
{
  struct image_source s = {.ops = &mem_ops, .priv = m};
  return store_blob_fetch(root, &s, blob_digest, (int64_t)sizeof(blob_data), err);
}

static void store_bad_fetch(enum mem_mode mode, const char *want)
{
  cleanup_free char *root = tmp_root();
  struct mem m = {blob_data, sizeof(blob_data), mode, 0, 0, NULL};
  struct berth_err *err = NULL;
  cleanup_free char *what = xasprintf("mode %d", mode);
  int r = mem_fetch(root, &m, &err);
  CHECK(r < 0 && strstr(err->msg, blob_digest), "mode %d: error names the digest: %s", mode,
        err ? err->msg : "accepted");
  expect_err(r, &err, want, what);
  CHECK(count_in(root, "blobs/sha256") == 0, "mode %d: nothing in blobs/sha256", mode);
  CHECK(count_in(root, "blobs/partial") == 0, "mode %d: partial removed", mode);
  tmpdir_remove(root);
}

static void store_resume(void)
{
  cleanup_free char *root = tmp_root();
  struct berth_err *err = NULL;
  struct mem m = {blob_data, sizeof(blob_data), MEM_GOOD, -1, 0, NULL};
  cleanup_free char *part = xasprintf("%s/blobs/partial/%s", root, blob_digest + 7);
  cleanup_free char *pdir = xasprintf("%s/blobs/partial", root);
  CHECK(mkdir_p(pdir, 0700, &err) == 0, "mkdir partial");
  write_file(part, blob_data, sizeof(blob_data) / 2);
  CHECK(mem_fetch(root, &m, &err) == 0, "resume: %s", err ? err->msg : "");
  CHECK(m.calls == 1 && m.from == (off_t)sizeof(blob_data) / 2, "resumed from %lld",
        (long long)m.from);
  CHECK(count_in(root, "blobs/sha256") == 1 && count_in(root, "blobs/partial") == 0,
        "resume: one blob, no partial");
  m.calls = 0;
  CHECK(mem_fetch(root, &m, &err) == 0 && m.calls == 0, "present: not fetched again");

  /* A source that dies half way leaves the partial for the next try. */
  cleanup_free char *root2 = tmp_root();
  struct mem half = {blob_data, sizeof(blob_data), MEM_FAIL_HALF, -1, 0, NULL};
  expect_err(mem_fetch(root2, &half, &err), &err, "connection lost", "fail half");
  CHECK(count_in(root2, "blobs/partial") >= 1 && count_in(root2, "blobs/sha256") == 0,
        "failed fetch keeps the partial");
  CHECK(mem_fetch(root2, &m, &err) == 0 && m.from == (off_t)sizeof(blob_data) / 2,
        "second try resumes at %lld", (long long)m.from);

  /* A corrupt prefix is caught by re-hashing it. */
  cleanup_free char *root3 = tmp_root();
  cleanup_free char *pdir3 = xasprintf("%s/blobs/partial", root3);
  cleanup_free char *part3 = xasprintf("%s/%s", pdir3, blob_digest + 7);
  CHECK(mkdir_p(pdir3, 0700, &err) == 0, "mkdir partial 3");
  unsigned char junk[1000];
  memset(junk, 'j', sizeof(junk));
  write_file(part3, junk, sizeof(junk));
  expect_err(mem_fetch(root3, &m, &err), &err, "digest mismatch", "bad prefix");
  CHECK(count_in(root3, "blobs/partial") == 0 && count_in(root3, "blobs/sha256") == 0,
        "bad prefix: nothing left");
  tmpdir_remove(root);
  tmpdir_remove(root2);
  tmpdir_remove(root3);
}

static void store_concurrent(void)
{
  cleanup_free char *root = tmp_root();
  cleanup_free char *count = xasprintf("%s.count", root);
  pid_t pids[4];
  for (int i = 0; i < 4; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      struct berth_err *err = NULL;
      struct mem m = {blob_data, sizeof(blob_data), MEM_SLOW, 0, 0, count};
      int r = mem_fetch(root, &m, &err);
      if (r < 0)
        fprintf(stderr, "child: %s\n", err->msg);
      _exit(r < 0);
    }
  }
  int ok = 0;
  for (int i = 0; i < 4; i++) {
    int st;
    ok += waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  struct stat st;
  CHECK(ok == 4, "all four fetches succeeded (%d)", ok);
  CHECK(stat(count, &st) == 0 && st.st_size == 1, "fetched once (%lld)", (long long)st.st_size);
  CHECK(count_in(root, "blobs/sha256") == 1, "one blob");
  CHECK(count_in(root, "blobs/partial") == 0, "no partial or lock left");
  unlink(count);
  tmpdir_remove(root);
}

static void store_refusals(void)
{
  cleanup_free char *root = tmp_root();
  cleanup_free char *fresh = xasprintf("%s/fresh", root);
  struct berth_err *err = NULL;
  struct mem m = {blob_data, sizeof(blob_data), MEM_GOOD, 0, 0, NULL};
  struct image_source s = {.ops = &mem_ops, .priv = &m};
  struct stat st;
  expect_err(store_blob_fetch(fresh, &s, "sha256:../../../etc/passwd", 1, &err), &err,
             "not a digest", "path digest");
  expect_err(store_blob_fetch(fresh, &s, "md5:d41d8cd98f00b204e9800998ecf8427e", 1, &err), &err,
             "only sha256", "md5 digest");
  CHECK(stat(fresh, &st) < 0 && m.calls == 0, "refused before touching the filesystem");
  expect_err(store_blob_open(root, "sha256:/etc/shadow", &err), &err, "not a digest", "open");

  /* A symlink planted in the store is refused, never followed. */
  cleanup_free char *blobs = xasprintf("%s/blobs", root);
  cleanup_free char *sha = xasprintf("%s/blobs/sha256", root);
  cleanup_free char *link = xasprintf("%s/%s", sha, blob_digest + 7);
  CHECK(mkdir_p(sha, 0700, &err) == 0 && symlink("/etc/passwd", link) == 0, "plant blob link");
  expect_err(store_blob_open(root, blob_digest, &err), &err, "store: open", "blob symlink");
  expect_err(mem_fetch(root, &m, &err), &err, "is not a regular file", "fetch onto symlink");
  cleanup_free char *partial = xasprintf("%s/blobs/partial", root);
  unlink(link);
  CHECK(rmdir(partial) == 0 && symlink("/tmp", partial) == 0, "plant partial link");
  expect_err(mem_fetch(root, &m, &err), &err, "store: open partial", "partial dir symlink");
  CHECK(m.calls == 0, "source never asked");
  tmpdir_remove(root);
}

static void store_put(void)
{
  cleanup_free char *root = tmp_root();
  struct berth_err *err = NULL;
  char d[DIGEST_MAX], d2[DIGEST_MAX];
  CHECK(store_blob_put(root, "{\"a\":1}", 7, d, &err) == 0, "put");
  CHECK(store_blob_put(root, "{\"a\":1}", 7, d2, &err) == 0 && strcmp(d, d2) == 0, "put again");
  cleanup_close int fd = store_blob_open(root, d, &err);
  char buf[16] = "";
  CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 7 && memcmp(buf, "{\"a\":1}", 7) == 0,
        "read back");
  CHECK(count_in(root, "blobs/partial") == 0, "put leaves no temporary");
  expect_err(store_blob_open(root, "sha256:" HEX64, &err), &err, "is not in the store", "absent");
  tmpdir_remove(root);
}

static void store_tests(void)
{
  for (size_t i = 0; i < sizeof(blob_data); i++)
    blob_data[i] = (unsigned char)(i * 7 + (i >> 9));
  digest_buf(blob_data, sizeof(blob_data), blob_digest);
  store_bad_fetch(MEM_FLIP, "digest mismatch, download removed");
  store_bad_fetch(MEM_TRUNCATE, "size mismatch, download removed");
  store_resume();
  store_concurrent();
  store_refusals();
  store_put();
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s FIXTURE-DIR (see tests/image/make-fixtures.sh)\n", argv[0]);
    return 2;
  }
  fixtures = argv[1];
  facts_load();
  ref_tests();
  digest_tests();
  manifest_tests();
  index_tests();
  source_tests();
  store_tests();
  printf("%d passed, %d failed\n", unit_passed, unit_failed);
  return unit_failed ? 1 : 0;
}
