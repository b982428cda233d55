/* The registry source against real registries and a fake one on loopback,
 * driven by tests/image/registry_test.sh, which starts them and passes
 * their addresses in the environment. One phase per run:
 *   registry_test unit       challenge, auth file and token parsing
 *   registry_test basic      manifests by tag/digest/index/schema2, every
 *                            blob verified, missing things, resume, bounds
 *   registry_test auth       htpasswd registry: none, wrong, right, authfile
 *   registry_test token      Bearer realm (the fake's /token) for the fake
 *                            and a docker-registry with token auth
 *   registry_test tls        self-signed https registry: refused when
 *                            verifying, pulled with tls_verify off
 *   registry_test kill FILE  big blob into FILE, the registry SIGKILLed
 *                            mid-way: an error, partial data kept
 *   registry_test resume FILE  the rest of FILE after a restart
 *   registry_test fake       redirect, no Range, cut short, lying, stalled
 * Ends with "N passed, N failed". */
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "../../common/warn.h"
#include "../../image/registry.h"

#include "../unit/check.h"

int unit_passed, unit_failed;

static const char *env(const char *name)
{
  const char *v = getenv(name);
  if (v == NULL) {
    fprintf(stderr, "registry_test: %s not set\n", name);
    exit(2);
  }
  return v;
}

/* ---- private helpers: sha256 of a file, a scratch file ---- */

static void sha256_fd(int fd, char out[DIGEST_MAX])
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  ssize_t got;

  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  lseek(fd, 0, SEEK_SET);
  while ((got = read(fd, buf, sizeof(buf))) > 0)
    EVP_DigestUpdate(ctx, buf, (size_t)got);
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  strcpy(out, "sha256:");
  for (unsigned int i = 0; i < n; i++)
    sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static void sha256_mem(const char *p, size_t len, char out[DIGEST_MAX])
{
  FILE *f = tmpfile();
  fwrite(p, 1, len, f);
  fflush(f);
  sha256_fd(fileno(f), out);
  fclose(f);
}

static int scratch_fd(void)
{
  return open("/tmp", O_RDWR | O_TMPFILE, 0600);
}

static off_t fd_size(int fd)
{
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_size : -1;
}

/* ---- opening sources ---- */

static int64_t progress_last;
static void progress_note(void *arg, const char *digest, int64_t done, int64_t total)
{
  (void)arg;
  (void)digest;
  (void)total;
  progress_last = done;
}

static bool tls_verify = true;

static struct image_source *open_src(const char *host, const char *repo, const char *creds,
                                     const char *authfile, struct berth_err **err)
{
  struct image_ref ref = {.kind = REF_REGISTRY};
  struct image_opts o = {.tls_verify = tls_verify, .creds = creds, .authfile = authfile};
  struct image_source *s = NULL;

  snprintf(ref.registry, sizeof(ref.registry), "%s", host);
  snprintf(ref.repo, sizeof(ref.repo), "%s", repo);
  snprintf(ref.tag, sizeof(ref.tag), "1");
  snprintf(ref.name, sizeof(ref.name), "%s/%s:1", host, repo);
  if (source_registry_open(&ref, &o, &s, err) < 0)
    return NULL;
  registry_set_timeouts(s, 5, 5);
  registry_set_progress(s, progress_note, NULL);
  return s;
}

/* Expected errors are shown, so a reader sees the lines users get. */
static bool err_is(struct berth_err *err, const char *want)
{
  if (err)
    printf("# %s\n", err->msg);
  return err && strcmp(err->msg, want) == 0;
}

static bool err_has(struct berth_err *err, const char *want)
{
  if (err)
    printf("# %s\n", err->msg);
  return err && strstr(err->msg, want) != NULL;
}

static const char *msg(struct berth_err *err)
{
  return err ? err->msg : "(no error)";
}

/* The manifest at ref, checked for its media type; NULL on failure. */
static json_t *manifest_get(struct image_source *s, const char *ref, const char *want_type,
                            char digest[DIGEST_MAX])
{
  struct berth_err *err = NULL;
  char *text = NULL, *type = NULL;
  size_t len = 0;
  int rc = s->ops->get_manifest(s, ref, &text, &len, &type, &err);
  CHECK(rc == 0, "manifest %s: %s", ref ? ref : "(ref)", msg(err));
  if (rc < 0) {
    berth_err_free(&err);
    return NULL;
  }
  CHECK(type && strcmp(type, want_type) == 0, "manifest %s: type %s", ref, type);
  if (digest)
    sha256_mem(text, len, digest);
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  free(type);
  return j;
}

/* ---- phase unit ---- */

static void unit_challenge(void)
{
  struct auth_challenge c;
  struct berth_err *err = NULL;

  int rc = auth_challenge_parse("Bearer realm=\"https://auth.example/token\",service=\"reg\","
                                "scope=\"repository:a/b:pull,push\",error=\"x\\\"y\"",
                                &c, &err);
  CHECK(rc == 0 && strcmp(c.scheme, "Bearer") == 0, "bearer: %s", msg(err));
  CHECK(strcmp(c.realm, "https://auth.example/token") == 0, "realm %s", c.realm);
  CHECK(strcmp(c.service, "reg") == 0, "service %s", c.service);
  CHECK(strcmp(c.scope, "repository:a/b:pull,push") == 0, "scope %s", c.scope);
  rc = auth_challenge_parse("Basic realm=basic-realm", &c, &err);
  CHECK(rc == 0 && strcmp(c.scheme, "Basic") == 0 && strcmp(c.realm, "basic-realm") == 0,
        "basic: %s %s", msg(err), c.realm);
  rc = auth_challenge_parse("Bearer realm=\"open", &c, &err);
  CHECK(rc < 0 && err_has(err, "unterminated"), "unterminated: %s", msg(err));
  berth_err_free(&err);
  rc = auth_challenge_parse("Bearer realm", &c, &err);
  CHECK(rc < 0, "no value: accepted");
  berth_err_free(&err);
}

static void authfile_write(const char *path)
{
  /* dTpw = u:p, YTpi = a:b, eDp5 = x:y, bjpz = n:s */
  FILE *f = fopen(path, "w");
  fputs("{\"auths\":{\"reg.example:5000\":{\"auth\":\"dTpw\"},"
        "\"reg.example:5000/team\":{\"auth\":\"YTpi\"},"
        "\"https://index.docker.io/v1/\":{\"auth\":\"eDp5\"},"
        "\"http://other.example\":{\"auth\":\"bjpz\"}}}",
        f);
  fclose(f);
}

static void authfile_expect(const char *path, const char *host, const char *repo, const char *want)
{
  struct berth_err *err = NULL;
  char *creds = NULL;
  int rc = authfile_lookup(path, host, repo, &creds, &err);
  CHECK(rc == 0, "authfile %s/%s: %s", host, repo, msg(err));
  CHECK(want ? creds && strcmp(creds, want) == 0 : creds == NULL, "authfile %s/%s: %s, want %s",
        host, repo, creds, want);
  free(creds);
  berth_err_free(&err);
}

static void unit_authfile(void)
{
  char path[] = "/tmp/berth-authfile-XXXXXX";
  close(mkstemp(path));
  authfile_write(path);
  authfile_expect(path, "reg.example:5000", "lib/x", "u:p");
  authfile_expect(path, "reg.example:5000", "team/x", "a:b");
  authfile_expect(path, "reg.example:5000", "teamx/y", "u:p");
  authfile_expect(path, "docker.io", "library/busybox", "x:y");
  authfile_expect(path, "other.example", "r", "n:s");
  authfile_expect(path, "reg.example", "r", NULL);
  unlink(path);
  struct berth_err *err = NULL;
  char *creds = NULL;
  CHECK(authfile_lookup(path, "h", "r", &creds, &err) < 0 && err_has(err, path), "missing: %s",
        msg(err));
  berth_err_free(&err);
}

static void unit_token(void)
{
  struct berth_err *err = NULL;
  char *t = NULL;
  CHECK(auth_token_parse("{\"token\":\"abc\"}", &t, &err) == 0 && strcmp(t, "abc") == 0, "token");
  free(t);
  t = NULL;
  CHECK(auth_token_parse("{\"access_token\":\"def\"}", &t, &err) == 0 && strcmp(t, "def") == 0,
        "access_token");
  free(t);
  t = NULL;
  CHECK(auth_token_parse("{\"token\":\"a\\r\\nX: y\"}", &t, &err) < 0, "header injection taken");
  berth_err_free(&err);
  CHECK(auth_token_parse("{}", &t, &err) < 0, "no token taken");
  berth_err_free(&err);
}

static void phase_unit(void)
{
  unit_challenge();
  unit_authfile();
  unit_token();
}

/* ---- phase basic ---- */

/* Fetches one descriptor's blob whole and checks size and sha256. */
static void blob_verify(struct image_source *s, json_t *desc)
{
  const char *digest = json_string_value(json_object_get(desc, "digest"));
  int64_t size = json_integer_value(json_object_get(desc, "size"));
  struct berth_err *err = NULL;
  cleanup_close int fd = scratch_fd();
  char got[DIGEST_MAX];

  progress_last = -1;
  int rc = s->ops->fetch_blob(s, digest, size, fd, 0, &err);
  CHECK(rc == 0, "blob %s: %s", digest, msg(err));
  sha256_fd(fd, got);
  CHECK(strcmp(got, digest) == 0, "blob %s: content is %s", digest, got);
  CHECK(fd_size(fd) == size, "blob %s: %lld bytes", digest, (long long)fd_size(fd));
  CHECK(progress_last == size, "progress ended at %lld", (long long)progress_last);
  berth_err_free(&err);
}

/* Half the blob in the file, then the rest with Range. */
static void blob_resume(struct image_source *s, json_t *desc)
{
  const char *digest = json_string_value(json_object_get(desc, "digest"));
  int64_t size = json_integer_value(json_object_get(desc, "size"));
  struct berth_err *err = NULL;
  cleanup_close int fd = scratch_fd();
  char got[DIGEST_MAX];

  CHECK(s->ops->fetch_blob(s, digest, size, fd, 0, &err) == 0, "whole: %s", msg(err));
  CHECK(ftruncate(fd, size / 2) == 0, "truncate");
  int rc = s->ops->fetch_blob(s, digest, size, fd, size / 2, &err);
  CHECK(rc == 0, "resume at %lld: %s", (long long)(size / 2), msg(err));
  sha256_fd(fd, got);
  CHECK(strcmp(got, digest) == 0 && fd_size(fd) == size, "resumed blob is %s", got);
  rc = s->ops->fetch_blob(s, digest, size - 10, fd, 0, &err);
  CHECK(rc < 0 && err_has(err, "sent more than its"), "size bound: %s", msg(err));
  CHECK(fd_size(fd) == size - 10, "bounded file has %lld bytes", (long long)fd_size(fd));
  berth_err_free(&err);
}

static void basic_missing(struct image_source *s, const char *host, const char *layer)
{
  struct berth_err *err = NULL;
  char *text = NULL, *type = NULL, want[512];
  size_t len;
  const char *zero = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

  CHECK(s->ops->get_manifest(s, "nope", &text, &len, &type, &err) < 0, "missing tag found");
  snprintf(want, sizeof(want), "manifest unknown: %s/test/busybox:nope", host);
  CHECK(err_is(err, want), "missing tag: %s", msg(err));
  berth_err_free(&err);
  CHECK(s->ops->get_manifest(s, zero, &text, &len, &type, &err) < 0, "missing digest found");
  snprintf(want, sizeof(want), "manifest unknown: %s/test/busybox@%s", host, zero);
  CHECK(err_is(err, want), "missing digest: %s", msg(err));
  berth_err_free(&err);
  cleanup_close int fd = scratch_fd();
  CHECK(s->ops->fetch_blob(s, zero, 10, fd, 0, &err) < 0, "missing blob found");
  snprintf(want, sizeof(want), "blob unknown: %s/test/busybox@%s", host, zero);
  CHECK(err_is(err, want), "missing blob: %s", msg(err));
  berth_err_free(&err);
  CHECK(s->ops->get_manifest(s, "md5:00", &text, &len, &type, &err) < 0 &&
            err_has(err, "only sha256"),
        "md5: %s", msg(err));
  berth_err_free(&err);
  CHECK(s->ops->fetch_blob(s, layer, 10, fd, 11, &err) < 0 && err_has(err, "past its size"),
        "offset past size: %s", msg(err));
  berth_err_free(&err);
}

static void basic_refused(void)
{
  struct berth_err *err = NULL;
  char host[64], want[128], *text = NULL, *type = NULL;
  size_t len;
  snprintf(host, sizeof(host), "127.0.0.1:%s", env("BT_DEAD_PORT"));
  struct image_source *s = open_src(host, "test/busybox", NULL, NULL, &err);
  CHECK(s && s->ops->get_manifest(s, NULL, &text, &len, &type, &err) < 0, "refused: answered");
  snprintf(want, sizeof(want), "registry %s: cannot connect: Connection refused", host);
  CHECK(err_is(err, want), "refused: %s", msg(err));
  berth_err_free(&err);
  if (s)
    s->ops->close(s);
}

static void phase_basic(void)
{
  const char *host = env("BT_REG");
  struct berth_err *err = NULL;
  char d1[DIGEST_MAX], d2[DIGEST_MAX];
  struct image_source *s = open_src(host, "test/busybox", NULL, NULL, &err);
  CHECK(s != NULL, "open: %s", msg(err));
  if (s == NULL)
    return;
  json_t *m = manifest_get(s, NULL, "application/vnd.oci.image.manifest.v1+json", d1);
  CHECK(m && strcmp(d1, env("BT_DIGEST")) == 0, "by tag: digest %s", d1);
  json_t *m2 = manifest_get(s, d1, "application/vnd.oci.image.manifest.v1+json", d2);
  CHECK(m2 && strcmp(d1, d2) == 0, "by digest: %s", d2);
  json_t *layers = json_object_get(m, "layers"), *l;
  size_t i;
  blob_verify(s, json_object_get(m, "config"));
  json_array_foreach (layers, i, l)
    blob_verify(s, l);
  CHECK(json_array_size(layers) == 2, "%zu layers", json_array_size(layers));
  blob_resume(s, json_array_get(layers, 0));
  json_decref(
      manifest_get(s, "v2s2", "application/vnd.docker.distribution.manifest.v2+json", NULL));
  json_decref(manifest_get(s, "multi", "application/vnd.oci.image.index.v1+json", NULL));
  basic_missing(s, host, json_string_value(json_object_get(json_array_get(layers, 0), "digest")));
  json_decref(m);
  json_decref(m2);
  s->ops->close(s);
  basic_refused();
}

/* ---- phase auth (htpasswd, Basic) ---- */

static void auth_expect_error(const char *host, const char *creds, const char *want_tail)
{
  struct berth_err *err = NULL;
  char want[256], *text = NULL, *type = NULL;
  size_t len;
  struct image_source *s = open_src(host, "test/busybox", creds, NULL, &err);
  CHECK(s && s->ops->get_manifest(s, NULL, &text, &len, &type, &err) < 0, "%s: answered", creds);
  snprintf(want, sizeof(want), "registry %s: %s", host, want_tail);
  CHECK(err_is(err, want), "creds %s: %s", creds, msg(err));
  berth_err_free(&err);
  if (s)
    s->ops->close(s);
}

/* Manifest and its first layer through a source with these credentials. */
static void auth_expect_pull(const char *host, const char *repo, const char *creds,
                             const char *authfile)
{
  struct berth_err *err = NULL;
  struct image_source *s = open_src(host, repo, creds, authfile, &err);
  CHECK(s != NULL, "open: %s", msg(err));
  if (s == NULL)
    return;
  json_t *m = manifest_get(s, NULL, "application/vnd.oci.image.manifest.v1+json", NULL);
  if (m)
    blob_verify(s, json_array_get(json_object_get(m, "layers"), 0));
  json_decref(m);
  s->ops->close(s);
}

static void phase_auth(void)
{
  const char *host = env("BT_AUTH_REG");
  cleanup_free char *right = xasprintf("%s:%s", env("BT_USER"), env("BT_PASS"));
  cleanup_free char *wrong = xasprintf("%s:wrong", env("BT_USER"));

  auth_expect_error(host, NULL, "authentication required (401), no credentials given");
  auth_expect_error(host, wrong, "authentication failed (401)");
  auth_expect_pull(host, "test/busybox", right, NULL);
  auth_expect_pull(host, "test/busybox", NULL, env("BT_AUTHFILE"));
}

/* ---- phase token (Bearer: the fake's realm, for the fake and a real registry) ---- */

static void token_expect_error(const char *host, const char *repo, const char *creds,
                               const char *want_tail)
{
  struct berth_err *err = NULL;
  char want[256], *text = NULL, *type = NULL;
  size_t len;
  struct image_source *s = open_src(host, repo, creds, NULL, &err);
  CHECK(s && s->ops->get_manifest(s, NULL, &text, &len, &type, &err) < 0, "%s: answered", creds);
  snprintf(want, sizeof(want), "registry %s: %s", host, want_tail);
  CHECK(err_is(err, want), "token registry, creds %s: %s", creds, msg(err));
  berth_err_free(&err);
  if (s)
    s->ops->close(s);
}

static void phase_token(void)
{
  cleanup_free char *right = xasprintf("%s:%s", env("BT_USER"), env("BT_PASS"));
  cleanup_free char *wrong = xasprintf("%s:wrong", env("BT_USER"));

  auth_expect_pull(env("BT_FAKE"), "tok/busybox", right, NULL);
  token_expect_error(env("BT_FAKE"), "tok/busybox", wrong, "authentication failed (401)");
  auth_expect_pull(env("BT_TOKEN_REG"), "test/busybox", right, NULL);
  token_expect_error(env("BT_TOKEN_REG"), "test/busybox", wrong, "authentication failed (401)");
  token_expect_error(env("BT_TOKEN_REG"), "test/busybox", NULL,
                     "authentication required (401), no credentials given");
}

/* ---- phase tls (a registry with a self-signed certificate) ---- */

static void phase_tls(void)
{
  const char *host = env("BT_TLS_REG");
  struct berth_err *err = NULL;
  char *text = NULL, *type = NULL;
  size_t len;

  struct image_source *s = open_src(host, "test/busybox", NULL, NULL, &err);
  CHECK(s && s->ops->get_manifest(s, NULL, &text, &len, &type, &err) < 0,
        "unverifiable certificate accepted");
  CHECK(err_has(err, "TLS: ") && err_has(err, "tls_verify off skips this"), "verify: %s", msg(err));
  berth_err_free(&err);
  if (s)
    s->ops->close(s);
  tls_verify = false;
  auth_expect_pull(host, "test/busybox", NULL, NULL);
  tls_verify = true;
}

/* ---- phases kill and resume (the registry dies mid-blob) ---- */

static pid_t victim;
static void progress_kill(void *arg, const char *digest, int64_t done, int64_t total)
{
  (void)arg;
  (void)digest;
  (void)total;
  if (victim > 0 && done > (4 << 20)) {
    kill(victim, SIGKILL);
    victim = 0;
  }
}

/* The largest layer of test/busybox:1 (its digest and size). */
static struct image_source *big_layer(char digest[DIGEST_MAX], int64_t *size)
{
  struct berth_err *err = NULL;
  struct image_source *s = open_src(env("BT_REG"), "test/busybox", NULL, NULL, &err);
  CHECK(s != NULL, "open: %s", msg(err));
  json_t *m = s ? manifest_get(s, NULL, "application/vnd.oci.image.manifest.v1+json", NULL) : NULL;
  json_t *l;
  size_t i;
  *size = -1;
  json_array_foreach (json_object_get(m, "layers"), i, l) {
    if (json_integer_value(json_object_get(l, "size")) > *size) {
      *size = json_integer_value(json_object_get(l, "size"));
      snprintf(digest, DIGEST_MAX, "%s", json_string_value(json_object_get(l, "digest")));
    }
  }
  json_decref(m);
  return s;
}

static void phase_kill(const char *file)
{
  char digest[DIGEST_MAX];
  int64_t size;
  struct berth_err *err = NULL;
  struct image_source *s = big_layer(digest, &size);
  if (s == NULL)
    return;
  victim = (pid_t)atoi(env("BT_REG_PID"));
  registry_set_progress(s, progress_kill, NULL);
  cleanup_close int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
  int rc = s->ops->fetch_blob(s, digest, size, fd, 0, &err);
  CHECK(rc < 0 && err_has(err, "interrupted after"), "killed registry: %s", msg(err));
  CHECK(strchr(msg(err), '\n') == NULL, "one line");
  off_t have = fd_size(fd);
  CHECK(have > (4 << 20) && have < size, "partial: %lld of %lld", (long long)have, (long long)size);
  printf("# %s\n# partial %lld of %lld bytes\n", msg(err), (long long)have, (long long)size);
  berth_err_free(&err);
  s->ops->close(s);
}

static void phase_resume(const char *file)
{
  char digest[DIGEST_MAX], got[DIGEST_MAX];
  int64_t size;
  struct berth_err *err = NULL;
  struct image_source *s = big_layer(digest, &size);
  if (s == NULL)
    return;
  cleanup_close int fd = open(file, O_RDWR);
  off_t have = fd_size(fd);
  int rc = s->ops->fetch_blob(s, digest, size, fd, have, &err);
  CHECK(rc == 0, "resume from %lld: %s", (long long)have, msg(err));
  sha256_fd(fd, got);
  CHECK(strcmp(got, digest) == 0 && fd_size(fd) == size, "resumed: %s, %lld bytes", got,
        (long long)fd_size(fd));
  berth_err_free(&err);
  s->ops->close(s);
}

/* ---- phase fake ---- */

/* Fetches the small layer from a fake repo (which decides the server's
 * misbehaviour) with the file holding `have` bytes of it first. */
static int fake_fetch(const char *repo, int fd, off_t have, int64_t size_delta,
                      struct berth_err **err)
{
  const char *digest = env("BT_SMALL_DIGEST");
  int64_t size = atoll(env("BT_SMALL_SIZE")) + size_delta;
  struct image_source *s = open_src(env("BT_FAKE"), repo, NULL, NULL, err);
  if (s == NULL)
    return -1;
  registry_set_timeouts(s, 5, 2);
  int rc = s->ops->fetch_blob(s, digest, size, fd, have, err);
  s->ops->close(s);
  return rc;
}

static void fake_expect_whole(int fd, const char *what)
{
  char got[DIGEST_MAX];
  sha256_fd(fd, got);
  CHECK(strcmp(got, env("BT_SMALL_DIGEST")) == 0, "%s: content %s", what, got);
}

static char last_warning[512];
static void warning_keep(const char *m)
{
  snprintf(last_warning, sizeof(last_warning), "%s", m);
}

static void phase_fake(void)
{
  struct berth_err *err = NULL;
  int64_t size = atoll(env("BT_SMALL_SIZE"));
  cleanup_close int fd = scratch_fd();

  CHECK(fake_fetch("redirect/x", fd, 0, 0, &err) == 0, "redirect: %s", msg(err));
  fake_expect_whole(fd, "redirect");
  CHECK(ftruncate(fd, 1000) == 0, "truncate");
  berth_warn_set_sink(warning_keep);
  CHECK(fake_fetch("norange/x", fd, 1000, 0, &err) == 0, "norange: %s", msg(err));
  fake_expect_whole(fd, "norange (rewound)");
  CHECK(strstr(last_warning, "does not resume (no Range), downloading from the start"),
        "norange: warning \"%s\"", last_warning);
  printf("# warning: %s\n", last_warning);
  CHECK(ftruncate(fd, 0) == 0, "truncate");
  CHECK(fake_fetch("short/x", fd, 0, 0, &err) < 0 && err_has(err, "interrupted after"), "short: %s",
        msg(err));
  off_t have = fd_size(fd);
  CHECK(have > 0 && have < size, "short: kept %lld bytes", (long long)have);
  berth_err_free(&err);
  CHECK(fake_fetch("short/x", fd, have, 0, &err) == 0, "short, resumed: %s", msg(err));
  fake_expect_whole(fd, "short, resumed");
  CHECK(ftruncate(fd, 0) == 0, "truncate");
  CHECK(fake_fetch("liar/x", fd, 0, 0, &err) < 0 && err_has(err, "sent more than its"), "liar: %s",
        msg(err));
  CHECK(fd_size(fd) == size, "liar: %lld bytes written", (long long)fd_size(fd));
  berth_err_free(&err);
  CHECK(ftruncate(fd, 0) == 0, "truncate");
  CHECK(fake_fetch("stall/x", fd, 0, 0, &err) < 0 && err_has(err, "stalled (no data for 2 s)"),
        "stall: %s", msg(err));
  berth_err_free(&err);
  CHECK(ftruncate(fd, 0) == 0, "truncate");
  CHECK(fake_fetch("redirect/x", fd, 0, -1, &err) < 0 && err_has(err, "sent more than its"),
        "size bound through redirect: %s", msg(err));
  berth_err_free(&err);
}

int main(int argc, char **argv)
{
  const char *phase = argc > 1 ? argv[1] : "";

  if (strcmp(phase, "unit") == 0)
    phase_unit();
  else if (strcmp(phase, "basic") == 0)
    phase_basic();
  else if (strcmp(phase, "auth") == 0)
    phase_auth();
  else if (strcmp(phase, "token") == 0)
    phase_token();
  else if (strcmp(phase, "tls") == 0)
    phase_tls();
  else if (strcmp(phase, "kill") == 0 && argc > 2)
    phase_kill(argv[2]);
  else if (strcmp(phase, "resume") == 0 && argc > 2)
    phase_resume(argv[2]);
  else if (strcmp(phase, "fake") == 0)
    phase_fake();
  else {
    fprintf(stderr, "usage: registry_test unit|basic|auth|token|tls|fake|kill FILE|resume FILE\n");
    return 2;
  }
  printf("%d passed, %d failed\n", unit_passed, unit_failed);
  return unit_failed ? 1 : 0;
}
