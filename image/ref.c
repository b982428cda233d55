/* Image references: what the user typed -> struct image_ref.
 *
 *   oci:DIR[:TAG]  oci-archive:FILE[:TAG]  docker-archive:FILE[:TAG]
 *     DIR and FILE may contain ':'. The text after the LAST ':' is the tag
 *     when it is a valid tag (which never holds '/'); otherwise it belongs
 *     to the path. A trailing ':' ends the path with no tag, so a path
 *     whose last part looks like a tag is written "oci:/srv/img:v1:".
 *     No tag: the archive or layout must hold exactly one image.
 *
 *   [docker://][REGISTRY/]REPO[:TAG][@sha256:HEX]
 *     The first '/'-separated component is a registry when it contains
 *     '.' or ':' or is "localhost"; otherwise the registry is docker.io
 *     (index.docker.io is spelled docker.io), and a one-component docker.io
 *     repository gets "library/". No tag and no digest: tag "latest". With
 *     a digest the tag is dropped (the digest decides what is pulled).
 *
 * Pure text: nothing here touches the filesystem or the network. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define DOCKER_HUB "docker.io"
#define NAME_MAX_LEN 255 /* registry/repo, as docker counts it */

static const struct {
  const char *prefix;
  enum image_ref_kind kind;
  const char *what; /* what the path names, for messages */
} local_kinds[] = {
    {"oci:", REF_OCI_LAYOUT, "a directory"},
    {"oci-archive:", REF_OCI_ARCHIVE, "a file"},
    {"docker-archive:", REF_DOCKER_ARCHIVE, "a file"},
};

static int bad(struct berth_err **err, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line: the reference, then what is wrong with it. */
static int bad(struct berth_err **err, const char *s, const char *fmt, ...)
{
  char why[512], shown[301];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  snprintf(shown, sizeof(shown), "%s", s);
  for (char *c = shown; *c; c++)
    if (iscntrl((unsigned char)*c))
      *c = '?';
  return berth_err_set(err, 0, "image reference \"%s\": %s", shown, why);
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_valid(const char *t, size_t n)
{
  if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)t[i]) || strchr("_.-", t[i])))
      return false;
  return true;
}

static bool lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Length of a separator at s ('.', '_', "__" or one or more '-', as docker
 * allows), 0 when there is none. */
static size_t separator_len(const char *s, const char *end)
{
  if (*s == '.')
    return 1;
  if (*s == '_')
    return s + 1 < end && s[1] == '_' ? 2 : 1;
  size_t n = 0;
  while (s + n < end && s[n] == '-')
    n++;
  return n;
}

/* [a-z0-9]+(SEPARATOR[a-z0-9]+)* */
static bool component_valid(const char *s, const char *end)
{
  while (s < end) {
    if (!lower_alnum(*s))
      return false;
    while (s < end && lower_alnum(*s))
      s++;
    if (s == end)
      return true;
    size_t sep = separator_len(s, end);
    if (sep == 0 || s + sep == end)
      return false;
    s += sep;
  }
  return false; /* empty component */
}

static int repo_check(const char *s, const char *repo, struct berth_err **err)
{
  for (const char *c = repo; *c; c++)
    if (isupper((unsigned char)*c))
      return bad(err, s, "repository \"%s\" must be lowercase", repo);
  for (const char *c = repo;;) {
    const char *end = strchr(c, '/');
    if (end == NULL)
      end = c + strlen(c);
    if (!component_valid(c, end))
      return bad(err, s,
                 "repository \"%s\": each '/'-separated part must be lowercase letters and "
                 "digits, joined by '.', '_', '__' or '-'",
                 repo);
    if (*end == '\0')
      return 0;
    c = end + 1;
  }
}

/* host[:port]: DNS labels (letters, digits, inner '-') joined by '.', or
 * a bracketed IPv6 address; port 1-65535. */
static bool host_valid(const char *h, size_t n)
{
  if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
    for (size_t i = 1; i + 1 < n; i++)
      if (!(isxdigit((unsigned char)h[i]) || h[i] == ':' || h[i] == '.'))
        return false;
    return true;
  }
  for (size_t i = 0, label = 0; i <= n; i++) {
    if (i == n || h[i] == '.') {
      if (label == 0 || h[i - 1] == '-')
        return false;
      label = 0;
    } else if (isalnum((unsigned char)h[i]) || (h[i] == '-' && label > 0)) {
      label++;
    } else {
      return false;
    }
  }
  return true;
}

static bool registry_valid(const char *r)
{
  const char *bracket = strrchr(r, ']');
  const char *colon = strrchr(bracket ? bracket : r, ':');
  if (colon == NULL)
    return host_valid(r, strlen(r));
  char *end = NULL;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 || port < 1 || port > 65535)
    return false;
  return host_valid(r, (size_t)(colon - r));
}

static int copy(char *dst, size_t cap, const char *src, size_t n)
{
  if (n >= cap)
    return -1;
  memcpy(dst, src, n);
  dst[n] = '\0';
  return 0;
}

/* Local kinds: PATH[:TAG], the rule in the header comment. */
static int parse_local(const char *s, const char *rest, size_t kind, struct image_ref *r,
                       struct berth_err **err)
{
  size_t n = strlen(rest);
  const char *colon = strrchr(rest, ':');
  if (colon != NULL && (colon[1] == '\0' || tag_valid(colon + 1, strlen(colon + 1)))) {
    n = (size_t)(colon - rest);
    copy(r->tag, sizeof(r->tag), colon + 1, strlen(colon + 1));
  }
  if (n == 0)
    return bad(err, s, "%s needs %s", local_kinds[kind].prefix, local_kinds[kind].what);
  if (copy(r->path, sizeof(r->path), rest, n) < 0)
    return bad(err, s, "path is longer than %zu bytes", sizeof(r->path) - 1);
  r->kind = local_kinds[kind].kind;
  snprintf(r->name, sizeof(r->name), "%s%.*s%s%s", local_kinds[kind].prefix, (int)n, rest,
           r->tag[0] ? ":" : "", r->tag);
  return 0;
}

/* Splits "@digest" off s into r->digest; returns the length before it. */
static int split_digest(const char *s, const char *text, struct image_ref *r,
                        struct berth_err **err)
{
  const char *at = strchr(text, '@');
  if (at == NULL)
    return (int)strlen(text);
  if (!digest_valid(at + 1)) {
    struct berth_err *why = NULL;
    digest_check_syntax("digest", at + 1, &why);
    bad(err, s, "%s", why->msg);
    berth_err_free(&why);
    return -1;
  }
  snprintf(r->digest, sizeof(r->digest), "%s", at + 1);
  return (int)(at - text);
}

/* NAME[:TAG] (n bytes of text) into r->registry, r->repo, r->tag. */
static int split_name_tag(const char *s, const char *text, size_t n, struct image_ref *r,
                          struct berth_err **err)
{
  char name[1024];
  if (copy(name, sizeof(name), text, n) < 0)
    return bad(err, s, "name is longer than %d bytes", NAME_MAX_LEN);
  char *colon = strrchr(name, ':'), *slash = strrchr(name, '/');
  if (colon != NULL && (slash == NULL || colon > slash)) {
    *colon = '\0';
    if (!tag_valid(colon + 1, strlen(colon + 1)))
      return bad(err, s, "tag \"%s\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", colon + 1);
    if (r->digest[0] == '\0')
      copy(r->tag, sizeof(r->tag), colon + 1, strlen(colon + 1));
  }
  if (name[0] == '\0')
    return bad(err, s, "no repository name");
  char *first = strchr(name, '/');
  const char *repo = name;
  if (first != NULL) {
    *first = '\0';
    if (strpbrk(name, ".:") != NULL || strcmp(name, "localhost") == 0) {
      if (copy(r->registry, sizeof(r->registry), name, strlen(name)) < 0)
        return bad(err, s, "registry name is too long");
      repo = first + 1;
    } else {
      *first = '/';
    }
  }
  return snprintf(r->repo, sizeof(r->repo), "%s", repo) >= (int)sizeof(r->repo)
             ? bad(err, s, "repository name is too long")
             : 0;
}

static int normalise_registry(const char *s, struct image_ref *r, struct berth_err **err)
{
  if (r->registry[0] == '\0' || strcmp(r->registry, "index.docker.io") == 0)
    snprintf(r->registry, sizeof(r->registry), "%s", DOCKER_HUB);
  else if (!registry_valid(r->registry))
    return bad(err, s, "registry \"%s\" is not HOST[:PORT]", r->registry);
  if (strcmp(r->registry, DOCKER_HUB) == 0 && strchr(r->repo, '/') == NULL) {
    char full[sizeof(r->repo)];
    if (snprintf(full, sizeof(full), "library/%s", r->repo) >= (int)sizeof(full))
      return bad(err, s, "repository name is too long");
    memcpy(r->repo, full, sizeof(full));
  }
  if (r->digest[0] == '\0' && r->tag[0] == '\0')
    snprintf(r->tag, sizeof(r->tag), "latest");
  return 0;
}

static int parse_registry(const char *s, const char *text, struct image_ref *r,
                          struct berth_err **err)
{
  int n = split_digest(s, text, r, err);
  if (n < 0 || split_name_tag(s, text, (size_t)n, r, err) < 0)
    return -1;
  if (repo_check(s, r->repo, err) < 0 || normalise_registry(s, r, err) < 0)
    return -1;
  if (strlen(r->registry) + 1 + strlen(r->repo) > NAME_MAX_LEN)
    return bad(err, s, "name is longer than %d bytes", NAME_MAX_LEN);
  r->kind = REF_REGISTRY;
  snprintf(r->name, sizeof(r->name), "%s/%s%s%s", r->registry, r->repo, r->digest[0] ? "@" : ":",
           r->digest[0] ? r->digest : r->tag);
  return 0;
}

int image_ref_parse(const char *s, struct image_ref *r, struct berth_err **err)
{
  memset(r, 0, sizeof(*r));
  if (s[0] == '\0')
    return berth_err_set(err, 0, "image reference is empty");
  for (size_t i = 0; i < sizeof(local_kinds) / sizeof(local_kinds[0]); i++) {
    size_t n = strlen(local_kinds[i].prefix);
    if (strncmp(s, local_kinds[i].prefix, n) == 0)
      return parse_local(s, s + n, i, r, err);
  }
  const char *text = strncmp(s, "docker://", 9) == 0 ? s + 9 : s;
  for (const char *c = text; *c; c++)
    if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
      return bad(err, s, "contains white space or a control character");
  return parse_registry(s, text, r, err);
}
