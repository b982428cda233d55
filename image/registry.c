/* The registry source: the OCI distribution API (GET /v2/<repo>/manifests/
 * <ref>, GET /v2/<repo>/blobs/<digest>) over libcurl.
 *
 * Authentication: every request goes anonymous (or with what an earlier
 * request settled on) first; a 401 says how to authenticate in
 * WWW-Authenticate: Bearer -> a token from the realm, asked with the
 * credentials when there are some; Basic -> the credentials. A request
 * authenticates at most once more, so a token that expired during a long
 * pull is renewed and a wrong password ends in one 401 line.
 *
 * TLS: https first, always. A registry on loopback (localhost, 127.x, ::1),
 * or any registry when tls_verify is off, falls back to plain http when the
 * TLS handshake fails (docker too treats loopback registries as insecure);
 * the fallback sticks for the source's lifetime. A certificate that does
 * not verify is an error, never a reason to fall back.
 *
 * Blobs: redirects are followed (registries hand blobs to storage); curl
 * sends our Authorization header only to the host that was asked, so
 * presigned storage URLs do not see the token. */
#include "registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/warn.h"

#define MANIFEST_MAX (4 << 20) /* what the distribution spec asks registries to accept */
#define TOKEN_MAX (1 << 20)
#define ACCEPT_MANIFESTS                                                                           \
  "Accept: application/vnd.oci.image.manifest.v1+json, "                                           \
  "application/vnd.oci.image.index.v1+json, "                                                      \
  "application/vnd.docker.distribution.manifest.v2+json, "                                         \
  "application/vnd.docker.distribution.manifest.list.v2+json"

struct registry {
  CURL *curl;
  char host[256];     /* as the reference names it: messages, the auth file */
  char api_host[256]; /* where requests go (docker.io's API lives elsewhere) */
  char repo[512];
  const char *scheme; /* "https", or "http" after a fallback */
  bool tls_verify;
  bool may_fall_back;
  char *creds;  /* "USER:PASS" or NULL */
  char *bearer; /* the realm's token, once one was asked for */
  bool basic;   /* the registry asked for Basic */
  long connect_s, stall_s;
  registry_progress_fn progress;
  void *progress_arg;
  char errbuf[CURL_ERROR_SIZE];
};

enum auth_kind { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };
enum sink_fail { SINK_OK, SINK_OVERSIZE, SINK_WRITE, SINK_RANGE, SINK_TOOBIG };

/* One response: headers of the last status line, the body into memory
 * (fd < 0, at most mem_max bytes) or into fd from `from`, at most `size`
 * bytes in all. Bodies of other statuses than 200/206 go to errbody. */
struct response {
  struct registry *r;
  const char *what; /* "blob sha256:..." or "manifest HOST/REPO:TAG", for messages */
  long status;
  char content_type[256];
  char challenge[2048];
  char content_range[128];
  char *mem;
  size_t mem_len, mem_cap, mem_max;
  int fd;
  const char *digest;
  int64_t from, size, done;
  bool started;
  enum sink_fail fail;
  int fail_errno;
  char errbody[4096];
  size_t errbody_len;
};

static const struct image_source_ops registry_ops;

/* ---- response sinks (curl callbacks) ---- */

static void header_take(const char *line, const char *name, char *out, size_t cap)
{
  size_t n = strlen(name);
  if (strncasecmp(line, name, n) != 0 || line[n] != ':')
    return;
  line += n + 1;
  line += strspn(line, " \t");
  snprintf(out, cap, "%s", line);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
  struct response *rs = arg;
  size_t len = size * nitems;
  char line[2300];
  size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

  memcpy(line, buf, n);
  while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
    n--;
  line[n] = '\0';
  if (strncmp(line, "HTTP/", 5) == 0) {
    /* a new response (after a redirect, a 100): forget the last one's */
    const char *code = strchr(line, ' ');
    rs->status = code ? strtol(code + 1, NULL, 10) : 0;
    rs->content_type[0] = rs->challenge[0] = rs->content_range[0] = '\0';
    rs->errbody_len = 0;
    return len;
  }
  header_take(line, "content-type", rs->content_type, sizeof(rs->content_type));
  header_take(line, "www-authenticate", rs->challenge, sizeof(rs->challenge));
  header_take(line, "content-range", rs->content_range, sizeof(rs->content_range));
  return len;
}

/* The first body bytes: a 206 must start where we asked; a 200 to a Range
 * request carries the whole blob, so what we had goes. */
static int sink_fd_start(struct response *rs)
{
  rs->started = true;
  if (rs->status == 206) {
    char *end = NULL;
    const char *num = strncmp(rs->content_range, "bytes ", 6) == 0 ? rs->content_range + 6 : NULL;
    long long start = num ? strtoll(num, &end, 10) : -1;
    if (num == NULL || end == num || *end != '-' || start != rs->from) {
      rs->fail = SINK_RANGE;
      return -1;
    }
    return 0;
  }
  if (rs->from == 0)
    return 0;
  if (ftruncate(rs->fd, 0) < 0 || lseek(rs->fd, 0, SEEK_SET) < 0) {
    rs->fail = SINK_WRITE;
    rs->fail_errno = errno;
    return -1;
  }
  berth_warn("registry %s: %s: the server does not resume (no Range), downloading from the start",
             rs->r->host, rs->digest);
  rs->done = 0;
  return 0;
}

static size_t sink_fd(struct response *rs, const char *buf, size_t len)
{
  if (!rs->started && sink_fd_start(rs) < 0)
    return 0;
  size_t take = len;
  if (rs->size >= 0 && (int64_t)len > rs->size - rs->done) {
    take = (size_t)(rs->size - rs->done); /* a lying server: keep what the size allows */
    rs->fail = SINK_OVERSIZE;
  }
  if (write_all(rs->fd, buf, take) < 0) {
    rs->fail = SINK_WRITE;
    rs->fail_errno = errno;
    return 0;
  }
  rs->done += (int64_t)take;
  if (rs->r->progress)
    rs->r->progress(rs->r->progress_arg, rs->digest, rs->done, rs->size);
  return rs->fail == SINK_OK ? len : 0;
}

static size_t sink_mem(struct response *rs, const char *buf, size_t len)
{
  if (len > rs->mem_max - rs->mem_len) {
    rs->fail = SINK_TOOBIG;
    return 0;
  }
  if (rs->mem_len + len + 1 > rs->mem_cap) {
    size_t cap = rs->mem_cap ? rs->mem_cap : 16384;
    while (cap < rs->mem_len + len + 1)
      cap *= 2;
    char *p = realloc(rs->mem, cap);
    if (p == NULL)
      abort();
    rs->mem = p;
    rs->mem_cap = cap;
  }
  memcpy(rs->mem + rs->mem_len, buf, len);
  rs->mem_len += len;
  rs->mem[rs->mem_len] = '\0';
  return len;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *arg)
{
  struct response *rs = arg;
  size_t len = size * nitems;

  if (rs->status != 200 && rs->status != 206) {
    size_t room = sizeof(rs->errbody) - 1 - rs->errbody_len;
    size_t n = len < room ? len : room;
    memcpy(rs->errbody + rs->errbody_len, buf, n);
    rs->errbody_len += n;
    rs->errbody[rs->errbody_len] = '\0';
    return len;
  }
  return rs->fd >= 0 ? sink_fd(rs, buf, len) : sink_mem(rs, buf, len);
}

/* ---- one HTTP request ---- */

static struct curl_slist *slist_add(struct curl_slist *l, const char *s)
{
  struct curl_slist *n = curl_slist_append(l, s);
  if (n == NULL)
    abort();
  return n;
}

static void request_setup(struct registry *r, const char *url, struct response *rs)
{
  CURL *c = r->curl;

  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "berth");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->connect_s);
  /* under 1 byte/s for stall_s seconds: stalled, give up rather than hang */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, r->stall_s);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
}

static void response_reset(struct response *rs)
{
  rs->status = 0;
  rs->content_type[0] = rs->challenge[0] = rs->content_range[0] = '\0';
  rs->mem_len = 0;
  if (rs->mem)
    rs->mem[0] = '\0';
  rs->done = rs->from;
  rs->started = false;
  rs->fail = SINK_OK;
  rs->errbody_len = 0;
  rs->errbody[0] = '\0';
}

static CURLcode request_perform(struct registry *r, const char *url, const char *accept,
                                enum auth_kind auth, struct response *rs)
{
  struct curl_slist *hdrs = NULL;
  char range[32];

  response_reset(rs);
  r->errbuf[0] = '\0';
  request_setup(r, url, rs);
  if (accept)
    hdrs = slist_add(hdrs, accept);
  if (auth == AUTH_BEARER) {
    cleanup_free char *h = xasprintf("Authorization: Bearer %s", r->bearer);
    hdrs = slist_add(hdrs, h);
  } else if (auth == AUTH_BASIC) {
    curl_easy_setopt(r->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(r->curl, CURLOPT_USERPWD, r->creds);
  }
  if (rs->fd >= 0 && rs->from > 0) {
    snprintf(range, sizeof(range), "%lld-", (long long)rs->from);
    curl_easy_setopt(r->curl, CURLOPT_RANGE, range);
  }
  curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hdrs);
  CURLcode rc = curl_easy_perform(r->curl);
  curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hdrs);
  return rc;
}

/* ---- errors, one line each ---- */

static int sink_error(struct registry *r, struct response *rs, struct berth_err **err)
{
  switch (rs->fail) {
  case SINK_OVERSIZE:
    return berth_err_set(err, 0, "registry %s: %s: the server sent more than its %lld bytes",
                         r->host, rs->what, (long long)rs->size);
  case SINK_RANGE:
    return berth_err_set(err, 0, "registry %s: %s: asked from byte %lld, got range \"%s\"", r->host,
                         rs->what, (long long)rs->from, rs->content_range);
  case SINK_TOOBIG:
    return berth_err_set(err, 0, "registry %s: %s: larger than %zu bytes", r->host, rs->what,
                         rs->mem_max);
  case SINK_WRITE:
    return berth_err_set(err, rs->fail_errno, "%s: writing", rs->what);
  default:
    return berth_err_set(err, 0, "registry %s: %s: %s", r->host, rs->what, r->errbuf);
  }
}

static bool curl_tls_error(CURLcode rc)
{
  return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
         rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_CACERT_BADFILE ||
         rc == CURLE_SSL_ISSUER_ERROR;
}

static int transfer_error(struct registry *r, struct response *rs, CURLcode rc,
                          struct berth_err **err)
{
  long os_errno = 0;
  const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);

  curl_easy_getinfo(r->curl, CURLINFO_OS_ERRNO, &os_errno);
  if (rs->fail != SINK_OK)
    return sink_error(r, rs, err);
  if (rc == CURLE_COULDNT_CONNECT)
    return berth_err_set(err, (int)os_errno, "registry %s: cannot connect", r->host);
  if (rc == CURLE_COULDNT_RESOLVE_HOST)
    return berth_err_set(err, 0, "registry %s: cannot resolve the host name", r->host);
  if (curl_tls_error(rc))
    return berth_err_set(err, 0, "registry %s: TLS: %s%s", r->host, why,
                         rc == CURLE_PEER_FAILED_VERIFICATION ? " (tls_verify off skips this)"
                                                              : "");
  if (rs->status == 0)
    return berth_err_set(err, 0, "registry %s: %s: %s", r->host, rs->what, why);
  if (rc == CURLE_OPERATION_TIMEDOUT && rs->fd >= 0)
    return berth_err_set(err, 0,
                         "registry %s: %s: stalled (no data for %ld s) after %lld of %lld bytes",
                         r->host, rs->what, r->stall_s, (long long)rs->done, (long long)rs->size);
  if (rs->fd >= 0)
    return berth_err_set(err, 0, "registry %s: %s: interrupted after %lld of %lld bytes: %s",
                         r->host, rs->what, (long long)rs->done, (long long)rs->size, why);
  return berth_err_set(err, 0, "registry %s: %s: %s", r->host, rs->what, why);
}

/* ": CODE: message" of a registry's {"errors":[{"code","message"}]} body. */
static void registry_error_text(const char *body, char *out, size_t cap)
{
  out[0] = '\0';
  json_t *root = json_loads(body, 0, NULL);
  json_t *e = json_array_get(json_object_get(root, "errors"), 0);
  const char *code = json_string_value(json_object_get(e, "code"));
  const char *msg = json_string_value(json_object_get(e, "message"));
  if (code && msg)
    snprintf(out, cap, ": %s: %.200s", code, msg);
  json_decref(root);
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
}

static int status_error(struct registry *r, struct response *rs, const char *kind, const char *name,
                        struct berth_err **err)
{
  char detail[300];

  if (rs->status == 404)
    return berth_err_set(err, 0, "%s unknown: %s", kind, name);
  registry_error_text(rs->errbody, detail, sizeof(detail));
  return berth_err_set(err, 0, "registry %s: %s: HTTP %ld%s", r->host, rs->what, rs->status,
                       detail);
}

static int auth_failed(struct registry *r, struct berth_err **err)
{
  if (r->creds == NULL)
    return berth_err_set(err, 0, "registry %s: authentication required (401), no credentials given",
                         r->host);
  return berth_err_set(err, 0, "registry %s: authentication failed (401)", r->host);
}

/* ---- authentication ---- */

static char *token_url(struct registry *r, const struct auth_challenge *c)
{
  cleanup_free char *scope =
      c->scope[0] ? xstrdup(c->scope) : xasprintf("repository:%s:pull", r->repo);
  char *esc_scope = curl_easy_escape(r->curl, scope, 0);
  char *esc_service = c->service[0] ? curl_easy_escape(r->curl, c->service, 0) : NULL;
  if (esc_scope == NULL || (c->service[0] && esc_service == NULL))
    abort();
  char *url = xasprintf("%s%cscope=%s%s%s", c->realm, strchr(c->realm, '?') ? '&' : '?', esc_scope,
                        esc_service ? "&service=" : "", esc_service ? esc_service : "");
  curl_free(esc_service);
  curl_free(esc_scope);
  return url;
}

static int token_fetch(struct registry *r, const struct auth_challenge *c, struct berth_err **err)
{
  if (c->realm[0] == '\0')
    return berth_err_set(err, 0, "registry %s: Bearer challenge without a realm", r->host);
  cleanup_free char *url = token_url(r, c);
  cleanup_free char *what = xasprintf("token server %s", c->realm);
  struct response rs = {.r = r, .what = what, .fd = -1, .mem_max = TOKEN_MAX};
  CURLcode rc = request_perform(r, url, NULL, r->creds ? AUTH_BASIC : AUTH_NONE, &rs);
  cleanup_free char *body = rs.mem;
  if (rc != CURLE_OK)
    return transfer_error(r, &rs, rc, err);
  if (rs.status == 401 || rs.status == 403)
    return auth_failed(r, err);
  if (rs.status != 200)
    return status_error(r, &rs, "token", what, err);
  free(r->bearer);
  r->bearer = NULL;
  if (auth_token_parse(body ? body : "", &r->bearer, err) < 0)
    return berth_err_wrap(err, "registry %s: %s", r->host, what);
  r->basic = false;
  return 0;
}

static int authenticate(struct registry *r, const char *challenge, struct berth_err **err)
{
  struct auth_challenge c;

  if (challenge[0] == '\0')
    return berth_err_set(err, 0, "registry %s: 401 without WWW-Authenticate", r->host);
  if (auth_challenge_parse(challenge, &c, err) < 0)
    return berth_err_wrap(err, "registry %s", r->host);
  if (strcasecmp(c.scheme, "Bearer") == 0)
    return token_fetch(r, &c, err);
  if (strcasecmp(c.scheme, "Basic") != 0)
    return berth_err_set(err, 0, "registry %s: unsupported authentication \"%s\"", r->host,
                         c.scheme);
  if (r->creds == NULL)
    return auth_failed(r, err);
  r->basic = true;
  return 0;
}

/* ---- a registry API request: auth and TLS fallback around request_perform ---- */

static bool tls_fall_back(struct registry *r, CURLcode rc)
{
  if (rc != CURLE_SSL_CONNECT_ERROR || !r->may_fall_back || strcmp(r->scheme, "https") != 0)
    return false;
  r->scheme = "http";
  return true;
}

static int registry_get(struct registry *r, const char *path, const char *accept,
                        struct response *rs, struct berth_err **err)
{
  bool authenticated = false;

  for (;;) {
    cleanup_free char *url = xasprintf("%s://%s/v2/%s", r->scheme, r->api_host, path);
    enum auth_kind auth = r->bearer ? AUTH_BEARER : r->basic ? AUTH_BASIC : AUTH_NONE;
    CURLcode rc = request_perform(r, url, accept, auth, rs);
    if (rc != CURLE_OK && tls_fall_back(r, rc))
      continue;
    if (rc != CURLE_OK)
      return transfer_error(r, rs, rc, err);
    if (rs->status != 401)
      return 0;
    if (authenticated)
      return auth_failed(r, err);
    if (authenticate(r, rs->challenge, err) < 0)
      return -1;
    authenticated = true;
  }
}

/* ---- references and digests ---- */

static bool is_sha256_digest(const char *s)
{
  if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
    return false;
  for (s += 7; *s; s++)
    if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
      return false;
  return true;
}

static int check_digest(const char *d, struct berth_err **err)
{
  if (is_sha256_digest(d))
    return 0;
  if (strchr(d, ':') && strncmp(d, "sha256:", 7) != 0)
    return berth_err_set(err, 0, "digest %.80s: only sha256 is supported", d);
  return berth_err_set(err, 0, "digest %.80s: not sha256:<64 hex digits>", d);
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, as the distribution spec has tags */
static bool is_tag(const char *t)
{
  size_t n = strlen(t);
  if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
    return false;
  return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void sha256_text(const void *data, size_t len, char out[DIGEST_MAX])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
    abort();
  memcpy(out, "sha256:", 8);
  for (size_t i = 0; i < n; i++)
    snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* ---- the source's operations ---- */

static char *media_type_of(const char *content_type)
{
  size_t n = strcspn(content_type, "; \t");
  return n ? strndup(content_type, n) : NULL;
}

static int manifest_check(const char *ref, bool by_digest, struct berth_err **err)
{
  if (by_digest)
    return check_digest(ref, err);
  if (!is_tag(ref))
    return berth_err_set(err, 0, "tag \"%.130s\": not a valid tag", ref);
  return 0;
}

/* A manifest asked for by digest must be what the digest names. */
static int manifest_verify(struct registry *r, const char *body, size_t len, const char *digest,
                           const char *what, struct berth_err **err)
{
  char got[DIGEST_MAX];

  sha256_text(body, len, got);
  if (strcmp(got, digest) == 0)
    return 0;
  return berth_err_set(err, 0, "registry %s: %s: the content's digest is %s", r->host, what, got);
}

static int registry_get_manifest(struct image_source *s, const char *ref_or_digest, char **text,
                                 size_t *len, char **media_type, struct berth_err **err)
{
  struct registry *r = s->priv;
  const char *ref = ref_or_digest && *ref_or_digest ? ref_or_digest
                    : s->ref.digest[0]              ? s->ref.digest
                                                    : s->ref.tag;
  bool by_digest = strchr(ref, ':') != NULL;
  if (manifest_check(ref, by_digest, err) < 0)
    return -1;
  cleanup_free char *path = xasprintf("%s/manifests/%s", r->repo, ref);
  cleanup_free char *name = xasprintf("%s/%s%c%s", r->host, r->repo, by_digest ? '@' : ':', ref);
  cleanup_free char *what = xasprintf("manifest %s", name);
  struct response rs = {.r = r, .what = what, .fd = -1, .mem_max = MANIFEST_MAX};
  cleanup_free char *body = NULL;
  int ret = registry_get(r, path, ACCEPT_MANIFESTS, &rs, err);
  body = rs.mem ? rs.mem : xstrdup("");
  if (ret == 0 && rs.status != 200)
    ret = status_error(r, &rs, "manifest", name, err);
  if (ret == 0 && by_digest)
    ret = manifest_verify(r, body, rs.mem_len, ref, what, err);
  if (ret < 0)
    return -1;
  *media_type = media_type_of(rs.content_type);
  *len = rs.mem_len;
  *text = steal_ptr(&body);
  return 0;
}

static int blob_check(const char *digest, int64_t size, off_t from, struct berth_err **err)
{
  if (check_digest(digest, err) < 0)
    return -1;
  if (from < 0 || (size >= 0 && from > size))
    return berth_err_set(err, 0, "blob %s: resume offset %lld past its size %lld", digest,
                         (long long)from, (long long)size);
  return 0;
}

/* A regular file holds exactly the `from` bytes we resume after (nothing
 * stale past them); a pipe can only start at 0. */
static int blob_position(int fd, off_t from)
{
  struct stat st;

  if (fstat(fd, &st) < 0)
    return -1;
  if (!S_ISREG(st.st_mode)) {
    errno = ESPIPE;
    return from == 0 ? 0 : -1;
  }
  if (st.st_size != from && ftruncate(fd, from) < 0)
    return -1;
  return lseek(fd, from, SEEK_SET) < 0 ? -1 : 0;
}

static int registry_fetch_blob(struct image_source *s, const char *digest, int64_t size, int fd,
                               off_t from, struct berth_err **err)
{
  struct registry *r = s->priv;

  if (blob_check(digest, size, from, err) < 0)
    return -1;
  if (size >= 0 && from == size)
    return 0;
  if (blob_position(fd, from) < 0)
    return berth_err_sys(err, "blob %s: resuming at %lld", digest, (long long)from);
  cleanup_free char *path = xasprintf("%s/blobs/%s", r->repo, digest);
  cleanup_free char *name = xasprintf("%s/%s@%s", r->host, r->repo, digest);
  cleanup_free char *what = xasprintf("blob %s", digest);
  struct response rs = {
      .r = r, .what = what, .fd = fd, .digest = digest, .from = from, .size = size};
  int ret = registry_get(r, path, NULL, &rs, err);
  if (ret == 0 && rs.status != 200 && rs.status != 206)
    ret = status_error(r, &rs, "blob", name, err);
  if (ret == 0 && size >= 0 && rs.done != size)
    ret = berth_err_set(err, 0, "registry %s: %s: ended after %lld of %lld bytes", r->host, what,
                        (long long)rs.done, (long long)size);
  free(rs.mem);
  return ret;
}

static void registry_close(struct image_source *s)
{
  if (s == NULL)
    return;
  struct registry *r = s->priv;
  if (r) {
    curl_easy_cleanup(r->curl);
    free(r->creds);
    free(r->bearer);
    free(r);
  }
  free(s);
}

static const struct image_source_ops registry_ops = {
    .get_manifest = registry_get_manifest,
    .fetch_blob = registry_fetch_blob,
    .close = registry_close,
};

/* ---- opening ---- */

/* localhost, 127.x, ::1, with or without a port */
static bool host_is_loopback(const char *host)
{
  char name[256];

  if (host[0] == '[') {
    snprintf(name, sizeof(name), "%s", host + 1);
    name[strcspn(name, "]")] = '\0';
  } else {
    snprintf(name, sizeof(name), "%s", host);
    name[strcspn(name, ":")] = '\0';
  }
  return strcmp(name, "localhost") == 0 || strcmp(name, "::1") == 0 ||
         strncmp(name, "127.", 4) == 0;
}

static bool repo_valid(const char *repo)
{
  size_t n = strlen(repo);
  return n > 0 && strspn(repo, "abcdefghijklmnopqrstuvwxyz0123456789._-/") == n &&
         !path_has_dotdot(repo);
}

static int registry_creds(struct registry *r, const struct image_opts *o, struct berth_err **err)
{
  if (o->creds) {
    if (strchr(o->creds, ':') == NULL)
      return berth_err_set(err, 0, "credentials: USER:PASS expected");
    r->creds = xstrdup(o->creds);
    return 0;
  }
  if (o->authfile)
    return authfile_lookup(o->authfile, r->host, r->repo, &r->creds, err);
  return authfile_default_lookup(r->host, r->repo, &r->creds, err);
}

static int registry_init(struct registry *r, const struct image_ref *ref,
                         const struct image_opts *o, struct berth_err **err)
{
  static bool curl_ready;

  if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return berth_err_set(err, 0, "libcurl: global init failed");
  curl_ready = true;
  if (!repo_valid(ref->repo))
    return berth_err_set(err, 0, "repository \"%s\": not a valid name", ref->repo);
  snprintf(r->host, sizeof(r->host), "%s", ref->registry);
  snprintf(r->repo, sizeof(r->repo), "%s", ref->repo);
  bool docker_hub = strcmp(r->host, "docker.io") == 0 || strcmp(r->host, "index.docker.io") == 0;
  snprintf(r->api_host, sizeof(r->api_host), "%s", docker_hub ? "registry-1.docker.io" : r->host);
  r->scheme = "https";
  r->tls_verify = o->tls_verify;
  r->may_fall_back = !o->tls_verify || host_is_loopback(r->host);
  r->connect_s = REGISTRY_CONNECT_TIMEOUT;
  r->stall_s = REGISTRY_STALL_TIMEOUT;
  r->curl = curl_easy_init();
  if (r->curl == NULL)
    return berth_err_set(err, 0, "libcurl: cannot make a handle");
  return registry_creds(r, o, err);
}

int source_registry_open(const struct image_ref *ref, const struct image_opts *o,
                         struct image_source **out, struct berth_err **err)
{
  if (ref->kind != REF_REGISTRY || ref->registry[0] == '\0')
    return berth_err_set(err, 0, "%s: not a registry reference", ref->name);
  struct image_source *s = xcalloc(1, sizeof(*s));
  struct registry *r = xcalloc(1, sizeof(*r));
  s->ops = &registry_ops;
  s->ref = *ref;
  s->priv = r;
  if (registry_init(r, ref, o, err) < 0) {
    registry_close(s);
    return -1;
  }
  *out = s;
  return 0;
}

int registry_set_progress(struct image_source *s, registry_progress_fn fn, void *arg)
{
  if (s == NULL || s->ops != &registry_ops)
    return -1;
  struct registry *r = s->priv;
  r->progress = fn;
  r->progress_arg = arg;
  return 0;
}

int registry_set_timeouts(struct image_source *s, long connect_s, long stall_s)
{
  if (s == NULL || s->ops != &registry_ops)
    return -1;
  struct registry *r = s->priv;
  r->connect_s = connect_s;
  r->stall_s = stall_s;
  return 0;
}
