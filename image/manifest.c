/* Manifests and indexes: OCI image manifest and index, docker schema 2
 * manifest and manifest list (docker schema 1 is refused: it carries no
 * config blob and is signed in a way nothing here verifies), and the
 * resolution of an index to the manifest for one platform. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

#define RESOLVE_DEPTH 4
#define LAYERS_MAX 1024
#define REF_NAME_KEY "org.opencontainers.image.ref.name"

static const struct {
  const char *type;
  enum manifest_kind kind;
} manifest_types[] = {
    {"application/vnd.oci.image.manifest.v1+json", MANIFEST_IMAGE},
    {"application/vnd.docker.distribution.manifest.v2+json", MANIFEST_IMAGE},
    {"application/vnd.oci.image.index.v1+json", MANIFEST_INDEX},
    {"application/vnd.docker.distribution.manifest.list.v2+json", MANIFEST_INDEX},
};

static const char *const schema1_types[] = {
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
};

static const char *const config_types[] = {
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
};

static const char *const layer_types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

/* uname -m -> OCI architecture and variant. */
static const struct {
  const char *machine, *arch, *variant;
} host_arches[] = {
    {"x86_64", "amd64", ""},    {"aarch64", "arm64", ""}, {"armv7l", "arm", "v7"},
    {"armv6l", "arm", "v6"},    {"i686", "386", ""},      {"i386", "386", ""},
    {"ppc64le", "ppc64le", ""}, {"s390x", "s390x", ""},   {"riscv64", "riscv64", ""},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *s, const char *const *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, list[i]) == 0)
      return true;
  return false;
}

static int schema1_refused(struct berth_err **err)
{
  return berth_err_set(err, 0,
                       "docker schema 1 manifest: this old format is not supported (push the "
                       "image again with a current docker or podman)");
}

static int load(const char *text, size_t len, json_t **out, struct berth_err **err)
{
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (root == NULL)
    return berth_err_set(err, 0, "manifest: line %d: %s", je.line, je.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return berth_err_set(err, 0, "manifest: not a JSON object");
  }
  json_t *v = json_object_get(root, "schemaVersion");
  if (json_is_integer(v) && json_integer_value(v) == 1) {
    json_decref(root);
    return schema1_refused(err);
  }
  if (!json_is_integer(v) || json_integer_value(v) != 2) {
    json_decref(root);
    return berth_err_set(err, 0, "manifest: schemaVersion must be 2");
  }
  *out = root;
  return 0;
}

/* The media type without parameters ("; charset=utf-8") into buf. */
static const char *bare_type(const char *t, char *buf, size_t cap)
{
  size_t n = strcspn(t, "; \t");
  snprintf(buf, cap, "%.*s", (int)n, t);
  return buf;
}

static int kind_of_type(const char *type, enum manifest_kind *kind, struct berth_err **err)
{
  char buf[256];
  bare_type(type, buf, sizeof(buf));
  for (size_t i = 0; i < N_OF(manifest_types); i++)
    if (strcmp(buf, manifest_types[i].type) == 0) {
      *kind = manifest_types[i].kind;
      return 0;
    }
  if (in_list(buf, schema1_types, N_OF(schema1_types)))
    return schema1_refused(err);
  return berth_err_set(err, 0, "manifest media type %.200s is not an image manifest or index", buf);
}

int manifest_kind(const char *text, size_t len, const char *media_type, enum manifest_kind *kind,
                  struct berth_err **err)
{
  json_t *root = NULL;
  if (load(text, len, &root, err) < 0)
    return -1;
  json_t *mt = json_object_get(root, "mediaType");
  int r = 0;
  if (json_is_string(mt))
    r = kind_of_type(json_string_value(mt), kind, err);
  else if (media_type != NULL && media_type[0] != '\0')
    r = kind_of_type(media_type, kind, err);
  else
    *kind = json_is_array(json_object_get(root, "manifests")) ? MANIFEST_INDEX : MANIFEST_IMAGE;
  json_decref(root);
  return r;
}

static int str_field(json_t *o, const char *key, const char *where, char *out, size_t cap,
                     bool required, struct berth_err **err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL && !required)
    return 0;
  if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)))
    return berth_err_set(err, 0, "manifest: %s.%s must be a string", where, key);
  if (json_string_length(v) >= cap)
    return berth_err_set(err, 0, "manifest: %s.%s is too long", where, key);
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

static int descriptor_parse(json_t *o, const char *where, struct descriptor *d,
                            struct berth_err **err)
{
  if (!json_is_object(o))
    return berth_err_set(err, 0, "manifest: %s must be an object", where);
  if (str_field(o, "mediaType", where, d->media_type, sizeof(d->media_type), true, err) < 0 ||
      str_field(o, "digest", where, d->digest, sizeof(d->digest), true, err) < 0)
    return -1;
  if (digest_check_syntax(where, d->digest, err) < 0)
    return berth_err_wrap(err, "manifest");
  json_t *size = json_object_get(o, "size");
  if (!json_is_integer(size) || json_integer_value(size) < 0)
    return berth_err_set(err, 0, "manifest: %s.size must be a non-negative integer", where);
  d->size = json_integer_value(size);
  return 0;
}

static int layers_parse(json_t *arr, struct manifest *m, struct berth_err **err)
{
  if (!json_is_array(arr))
    return berth_err_set(err, 0, "manifest: layers must be an array");
  if (json_array_size(arr) > LAYERS_MAX)
    return berth_err_set(err, 0, "manifest: more than %d layers", LAYERS_MAX);
  m->layers = xcalloc(json_array_size(arr), sizeof(*m->layers));
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v) {
    char where[32];
    snprintf(where, sizeof(where), "layers[%zu]", i);
    if (descriptor_parse(v, where, &m->layers[i], err) < 0)
      return -1;
    m->n_layers++;
    if (!in_list(m->layers[i].media_type, layer_types, N_OF(layer_types)))
      return berth_err_set(err, 0, "manifest: %s: layer media type %s is not supported", where,
                           m->layers[i].media_type);
  }
  return 0;
}

static int manifest_fields(json_t *root, struct manifest *m, struct berth_err **err)
{
  json_t *mt = json_object_get(root, "mediaType");
  enum manifest_kind kind = MANIFEST_IMAGE;
  if (mt != NULL && (!json_is_string(mt) || kind_of_type(json_string_value(mt), &kind, err) < 0))
    return mt && !json_is_string(mt) ? berth_err_set(err, 0, "manifest: bad mediaType") : -1;
  if (kind != MANIFEST_IMAGE)
    return berth_err_set(err, 0, "manifest: an index, where an image manifest was wanted");
  if (descriptor_parse(json_object_get(root, "config"), "config", &m->config, err) < 0)
    return -1;
  if (!in_list(m->config.media_type, config_types, N_OF(config_types)))
    return berth_err_set(err, 0, "manifest: config media type %s is not an image config",
                         m->config.media_type);
  return layers_parse(json_object_get(root, "layers"), m, err);
}

int manifest_parse(const char *text, size_t len, struct manifest *m, struct berth_err **err)
{
  json_t *root = NULL;
  memset(m, 0, sizeof(*m));
  if (load(text, len, &root, err) < 0)
    return -1;
  int r = manifest_fields(root, m, err);
  json_decref(root);
  if (r < 0)
    manifest_free(m);
  return r;
}

void manifest_free(struct manifest *m)
{
  free(m->layers);
  m->layers = NULL;
  m->n_layers = 0;
}

static int platform_fields(json_t *o, const char *where, struct index_entry *e,
                           struct berth_err **err)
{
  json_t *p = json_object_get(o, "platform");
  json_t *ann = json_object_get(o, "annotations");
  if (json_is_object(ann) &&
      str_field(ann, REF_NAME_KEY, where, e->ref_name, sizeof(e->ref_name), false, err) < 0)
    return -1;
  if (p == NULL)
    return 0;
  if (!json_is_object(p))
    return berth_err_set(err, 0, "manifest: %s.platform must be an object", where);
  e->has_platform = true;
  if (str_field(p, "os", where, e->p.os, sizeof(e->p.os), true, err) < 0 ||
      str_field(p, "architecture", where, e->p.arch, sizeof(e->p.arch), true, err) < 0)
    return -1;
  return str_field(p, "variant", where, e->p.variant, sizeof(e->p.variant), false, err);
}

static int index_fields(json_t *root, struct image_index *ix, struct berth_err **err)
{
  json_t *arr = json_object_get(root, "manifests");
  if (!json_is_array(arr))
    return berth_err_set(err, 0, "index: manifests must be an array");
  if (json_array_size(arr) > LAYERS_MAX)
    return berth_err_set(err, 0, "index: more than %d manifests", LAYERS_MAX);
  ix->e = xcalloc(json_array_size(arr), sizeof(*ix->e));
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v) {
    char where[32];
    snprintf(where, sizeof(where), "manifests[%zu]", i);
    if (descriptor_parse(v, where, &ix->e[i].d, err) < 0 ||
        platform_fields(v, where, &ix->e[i], err) < 0)
      return -1;
    ix->n++;
  }
  return 0;
}

int index_parse(const char *text, size_t len, struct image_index *ix, struct berth_err **err)
{
  json_t *root = NULL;
  memset(ix, 0, sizeof(*ix));
  if (load(text, len, &root, err) < 0)
    return -1;
  int r = index_fields(root, ix, err);
  json_decref(root);
  if (r < 0)
    index_free(ix);
  return r;
}

void index_free(struct image_index *ix)
{
  free(ix->e);
  ix->e = NULL;
  ix->n = 0;
}

static int platform_host(struct platform *p, struct berth_err **err)
{
  struct utsname u;
  if (uname(&u) < 0)
    return berth_err_sys(err, "uname");
  for (size_t i = 0; i < N_OF(host_arches); i++)
    if (strcmp(u.machine, host_arches[i].machine) == 0) {
      snprintf(p->os, sizeof(p->os), "linux");
      snprintf(p->arch, sizeof(p->arch), "%s", host_arches[i].arch);
      snprintf(p->variant, sizeof(p->variant), "%s", host_arches[i].variant);
      return 0;
    }
  return berth_err_set(err, 0, "host machine %s: no OCI architecture known, use --platform",
                       u.machine);
}

/* One part of OS/ARCH/VARIANT: [a-z0-9_]+, shorter than its field. */
static bool platform_part_ok(const char *s, size_t n, size_t cap)
{
  if (n == 0 || n >= cap)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return false;
  return true;
}

int platform_parse(const char *s, struct platform *p, struct berth_err **err)
{
  memset(p, 0, sizeof(*p));
  if (s == NULL || s[0] == '\0')
    return platform_host(p, err);
  char *fields[3] = {p->os, p->arch, p->variant};
  size_t caps[3] = {sizeof(p->os), sizeof(p->arch), sizeof(p->variant)};
  const char *c = s;
  for (int i = 0; i < 3; i++) {
    size_t n = strcspn(c, "/");
    if (!platform_part_ok(c, n, caps[i]))
      break;
    memcpy(fields[i], c, n);
    c += n;
    if (*c == '\0')
      return i >= 1 ? 0 : berth_err_set(err, 0, "platform \"%s\": want OS/ARCH[/VARIANT]", s);
    c++;
  }
  return berth_err_set(err, 0, "platform \"%.100s\": want OS/ARCH[/VARIANT], lowercase", s);
}

/* arm64's only variant is v8: "" and "v8" name the same thing. */
static const char *variant_of(const struct platform *p)
{
  return strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0 ? "" : p->variant;
}

static bool platform_match(const struct platform *want, const struct platform *have, bool exact)
{
  if (strcmp(want->os, have->os) != 0 || strcmp(want->arch, have->arch) != 0)
    return false;
  const char *wv = variant_of(want), *hv = variant_of(have);
  return strcmp(wv, hv) == 0 || (!exact && (wv[0] == '\0' || hv[0] == '\0'));
}

static int no_platform(const struct image_index *ix, const struct platform *p,
                       struct berth_err **err)
{
  char have[512] = "";
  size_t used = 0;
  for (size_t i = 0; i < ix->n && used < sizeof(have); i++)
    if (ix->e[i].has_platform)
      used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%s/%s%s%s", used ? ", " : "",
                               ix->e[i].p.os, ix->e[i].p.arch, ix->e[i].p.variant[0] ? "/" : "",
                               ix->e[i].p.variant);
  return berth_err_set(err, 0, "no manifest for %s/%s%s%s in the index (it has: %s)", p->os,
                       p->arch, p->variant[0] ? "/" : "", p->variant, used ? have : "none");
}

int index_select(const struct image_index *ix, const struct platform *p, size_t *pick,
                 struct berth_err **err)
{
  for (int exact = 1; exact >= 0; exact--)
    for (size_t i = 0; i < ix->n; i++)
      if (ix->e[i].has_platform && platform_match(p, &ix->e[i].p, exact)) {
        *pick = i;
        return 0;
      }
  if (ix->n == 1 && !ix->e[0].has_platform) {
    *pick = 0;
    return 0;
  }
  return no_platform(ix, p, err);
}

/* One step of manifest_resolve: the text for want (a tag or a digest),
 * checked against the expected digest and size when given. */
static int fetch_checked(struct image_source *src, const char *want, const char *expect,
                         int64_t size, char **text, size_t *len, char **media_type,
                         char digest[DIGEST_MAX], struct berth_err **err)
{
  if (src->ops->get_manifest(src, want, text, len, media_type, err) < 0)
    return -1;
  if (*len > MANIFEST_MAX)
    return berth_err_set(err, 0, "manifest %s: larger than %d bytes", want, MANIFEST_MAX);
  digest_buf(*text, *len, digest);
  if (expect[0] != '\0' && strcmp(digest, expect) != 0)
    return berth_err_set(err, 0, "manifest %s: content has digest %s: digest mismatch", expect,
                         digest);
  if (size >= 0 && (int64_t)*len != size)
    return berth_err_set(err, 0, "manifest %s: %zu bytes, the index says %lld", expect, *len,
                         (long long)size);
  return 0;
}

/* From an index text to the digest and size of the entry for p. */
static int index_step(const char *text, size_t len, const struct platform *p, char next[DIGEST_MAX],
                      int64_t *size, struct berth_err **err)
{
  struct image_index ix;
  size_t pick = 0;
  if (index_parse(text, len, &ix, err) < 0)
    return -1;
  int r = index_select(&ix, p, &pick, err);
  if (r == 0) {
    snprintf(next, DIGEST_MAX, "%s", ix.e[pick].d.digest);
    *size = ix.e[pick].d.size;
  }
  index_free(&ix);
  return r;
}

int manifest_resolve(struct image_source *src, const char *platform, struct manifest *m,
                     char **text, size_t *len, char digest[DIGEST_MAX], struct berth_err **err)
{
  struct platform p;
  char want[DIGEST_MAX + 128];
  int64_t size = -1;
  if (platform_parse(platform, &p, err) < 0)
    return -1;
  snprintf(want, sizeof(want), "%s", src->ref.digest[0] ? src->ref.digest : src->ref.tag);
  for (int depth = 0; depth <= RESOLVE_DEPTH; depth++) {
    cleanup_free char *t = NULL, *mt = NULL;
    size_t n = 0;
    enum manifest_kind kind;
    const char *expect = depth > 0 || src->ref.digest[0] ? want : "";
    if (fetch_checked(src, want, expect, size, &t, &n, &mt, digest, err) < 0 ||
        manifest_kind(t, n, mt, &kind, err) < 0)
      return -1;
    if (kind == MANIFEST_IMAGE) {
      if (manifest_parse(t, n, m, err) < 0)
        return berth_err_wrap(err, "%s", digest);
      *text = steal_ptr(&t);
      *len = n;
      return 0;
    }
    if (index_step(t, n, &p, want, &size, err) < 0)
      return berth_err_wrap(err, "%s", src->ref.name);
  }
  return berth_err_set(err, 0, "%s: indexes nested more than %d deep", src->ref.name,
                       RESOLVE_DEPTH);
}
