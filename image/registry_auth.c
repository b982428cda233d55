/* Registry authentication without HTTP: WWW-Authenticate challenges, the
 * credentials of an auth file, a token server's answer. */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"

#define AUTHFILE_MAX (1 << 20)

/* Copies one parameter value (quoted with \-escapes, or a bare token) from
 * *pp into out; leaves *pp after it. */
static int challenge_value(const char **pp, char *out, size_t cap, struct berth_err **err)
{
  const char *p = *pp;
  size_t n = 0;
  bool quoted = *p == '"';

  if (quoted)
    p++;
  for (; *p && (quoted ? *p != '"' : (*p != ',' && !isspace((unsigned char)*p))); p++) {
    if (quoted && *p == '\\' && p[1])
      p++;
    if (n + 1 >= cap)
      return berth_err_set(err, 0, "WWW-Authenticate: value too long");
    out[n++] = *p;
  }
  if (quoted && *p != '"')
    return berth_err_set(err, 0, "WWW-Authenticate: unterminated quoted value");
  out[n] = '\0';
  *pp = quoted ? p + 1 : p;
  return 0;
}

static char *challenge_slot(struct auth_challenge *c, const char *key, size_t klen, size_t *cap)
{
  struct {
    const char *name;
    char *slot;
    size_t cap;
  } slots[] = {{"realm", c->realm, sizeof(c->realm)},
               {"service", c->service, sizeof(c->service)},
               {"scope", c->scope, sizeof(c->scope)}};

  for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
    if (strlen(slots[i].name) == klen && strncasecmp(slots[i].name, key, klen) == 0) {
      *cap = slots[i].cap;
      return slots[i].slot;
    }
  }
  return NULL;
}

int auth_challenge_parse(const char *header, struct auth_challenge *c, struct berth_err **err)
{
  const char *p = header;
  size_t n = strcspn(p, " \t");

  memset(c, 0, sizeof(*c));
  if (n == 0 || n >= sizeof(c->scheme))
    return berth_err_set(err, 0, "WWW-Authenticate: no scheme in \"%s\"", header);
  memcpy(c->scheme, p, n);
  for (p += n; *p;) {
    char ignored[1024] = "";
    size_t cap = sizeof(ignored);
    p += strspn(p, " \t,");
    size_t klen = strcspn(p, "= \t,");
    if (klen == 0)
      break;
    if (p[klen] != '=')
      return berth_err_set(err, 0, "WWW-Authenticate: parameter without value in \"%s\"", header);
    char *slot = challenge_slot(c, p, klen, &cap);
    p += klen + 1;
    if (challenge_value(&p, slot ? slot : ignored, cap, err) < 0)
      return -1;
  }
  return 0;
}

/* base64 text -> NUL-terminated bytes. */
static char *base64_decode(const char *s)
{
  size_t len = strlen(s);
  if (len == 0 || len % 4 != 0)
    return NULL;
  char *out = xcalloc(1, len / 4 * 3 + 1);
  int n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
  if (n < 0) {
    free(out);
    return NULL;
  }
  /* EVP_DecodeBlock counts the padding as zero bytes */
  n -= (s[len - 1] == '=') + (s[len - 2] == '=');
  out[n] = '\0';
  return out;
}

/* "https://HOST/..." or "HOST/NS" -> "HOST[/NS]" with docker.io's aliases
 * folded, into out. */
static void authfile_key_normalize(const char *key, char *out, size_t cap)
{
  static const char *const docker_aliases[] = {"index.docker.io", "registry-1.docker.io"};

  if (strncmp(key, "https://", 8) == 0)
    key += 8;
  else if (strncmp(key, "http://", 7) == 0)
    key += 7;
  snprintf(out, cap, "%s", key);
  /* docker's own key is "https://index.docker.io/v1/": the path is no namespace */
  char *v1 = strstr(out, "/v1");
  if (v1 && (v1[3] == '\0' || strcmp(v1 + 3, "/") == 0))
    *v1 = '\0';
  size_t len = strlen(out);
  while (len > 0 && out[len - 1] == '/')
    out[--len] = '\0';
  for (size_t i = 0; i < sizeof(docker_aliases) / sizeof(docker_aliases[0]); i++) {
    size_t alen = strlen(docker_aliases[i]);
    if (strncmp(out, docker_aliases[i], alen) == 0 && (out[alen] == '\0' || out[alen] == '/')) {
      memmove(out + 9, out + alen, len - alen + 1);
      memcpy(out, "docker.io", 9);
    }
  }
}

/* Does key (normalized) name host/repo or a namespace of it? Returns the
 * key's length as its specificity, 0 when it does not match. */
static size_t authfile_key_match(const char *key, const char *host, const char *repo)
{
  char norm[1024], want[1024];

  authfile_key_normalize(key, norm, sizeof(norm));
  snprintf(want, sizeof(want), "%s/%s", host, repo);
  size_t n = strlen(norm);
  if (n == 0 || strncmp(want, norm, n) != 0 || (want[n] != '\0' && want[n] != '/'))
    return 0;
  return n;
}

static int authfile_entry_creds(json_t *entry, const char *key, const char *path, char **creds,
                                struct berth_err **err)
{
  const char *b64 = json_string_value(json_object_get(entry, "auth"));
  if (b64 == NULL)
    return berth_err_set(err, 0, "%s: auths.%s: no \"auth\" string", path, key);
  char *plain = base64_decode(b64);
  if (plain == NULL || strchr(plain, ':') == NULL) {
    free(plain);
    return berth_err_set(err, 0, "%s: auths.%s.auth: not base64 of USER:PASS", path, key);
  }
  free(*creds);
  *creds = plain;
  return 0;
}

/* lenient (the default files): an entry without "auth" (docker's
 * credsStore writes such) is no match rather than an error. */
static int authfile_find(const char *path, const char *host, const char *repo, bool lenient,
                         char **creds, struct berth_err **err)
{
  json_error_t jerr;
  cleanup_free char *text = NULL;
  if (read_file_at(AT_FDCWD, path, AUTHFILE_MAX, &text, NULL, err) < 0)
    return berth_err_wrap(err, "auth file");
  json_t *root = json_loads(text, 0, &jerr);
  if (root == NULL)
    return berth_err_set(err, 0, "auth file %s: line %d: %s", path, jerr.line, jerr.text);
  json_t *auths = json_object_get(root, "auths"), *entry;
  const char *key, *best = NULL;
  size_t best_len = 0;
  json_object_foreach (auths, key, entry) {
    size_t n = authfile_key_match(key, host, repo);
    if (n > best_len) {
      best_len = n;
      best = key;
    }
  }
  int ret = 0;
  json_t *entry_best = best ? json_object_get(auths, best) : NULL;
  if (lenient && entry_best && !json_is_string(json_object_get(entry_best, "auth")))
    entry_best = NULL;
  if (entry_best)
    ret = authfile_entry_creds(entry_best, best, path, creds, err);
  json_decref(root);
  return ret;
}

int authfile_lookup(const char *path, const char *host, const char *repo, char **creds,
                    struct berth_err **err)
{
  return authfile_find(path, host, repo, false, creds, err);
}

/* ENV/SUFFIX when ENV is set, else HOME/FALLBACK/SUFFIX; NULL without either. */
static char *env_path(const char *env, const char *fallback, const char *suffix)
{
  const char *v = getenv(env), *home = getenv("HOME");
  if (v && v[0])
    return xasprintf("%s/%s", v, suffix);
  if (fallback && home && home[0])
    return xasprintf("%s/%s/%s", home, fallback, suffix);
  return NULL;
}

int authfile_default_lookup(const char *host, const char *repo, char **creds,
                            struct berth_err **err)
{
  const char *explicit = getenv("REGISTRY_AUTH_FILE");
  char *paths[4] = {
      explicit && explicit[0] ? xstrdup(explicit) : NULL,
      env_path("XDG_RUNTIME_DIR", NULL, "containers/auth.json"),
      env_path("XDG_CONFIG_HOME", ".config", "containers/auth.json"),
      env_path("DOCKER_CONFIG", ".docker", "config.json"),
  };
  /* containers-auth.json(5) without $XDG_RUNTIME_DIR: /run/containers/UID */
  if (paths[1] == NULL)
    paths[1] = xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
  int ret = 0;
  for (size_t i = 0; i < 4 && ret == 0 && *creds == NULL; i++)
    if (paths[i] && access(paths[i], F_OK) == 0)
      ret = authfile_find(paths[i], host, repo, true, creds, err);
  for (size_t i = 0; i < 4; i++)
    free(paths[i]);
  return ret;
}

/* The token goes into a header line: no room for CR, LF or spaces. */
static bool token_printable(const char *t)
{
  for (; *t; t++)
    if (*t <= ' ' || *t > '~')
      return false;
  return true;
}

int auth_token_parse(const char *body, char **token, struct berth_err **err)
{
  json_error_t jerr;
  json_t *root = json_loads(body, 0, &jerr);
  if (root == NULL)
    return berth_err_set(err, 0, "token answer: %s", jerr.text);
  const char *t = json_string_value(json_object_get(root, "token"));
  if (t == NULL || *t == '\0')
    t = json_string_value(json_object_get(root, "access_token"));
  int ret = 0;
  if (t == NULL || *t == '\0')
    ret = berth_err_set(err, 0, "token answer: no \"token\"");
  else if (!token_printable(t))
    ret = berth_err_set(err, 0, "token answer: token holds spaces or control characters");
  else
    *token = xstrdup(t);
  json_decref(root);
  return ret;
}
