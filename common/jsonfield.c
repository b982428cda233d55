#include "jsonfield.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"

/* The field, or NULL when absent or null (both mean "not set"). */
static json_t *field(json_t *parent, const char *key)
{
  json_t *v = json_object_get(parent, key);
  return v == NULL || json_is_null(v) ? NULL : v;
}

static int wrong(const char *prefix, const char *path, const char *what, struct berth_err **err)
{
  return berth_err_set(err, 0, "%s%s: must be %s", prefix, path, what);
}

int jf_object(json_t *parent, const char *key, const char *prefix, const char *path, json_t **out,
              struct berth_err **err)
{
  json_t *v = field(parent, key);
  if (v == NULL)
    return 0;
  if (!json_is_object(v))
    return wrong(prefix, path, "an object", err);
  *out = v;
  return 0;
}

int jf_array(json_t *parent, const char *key, const char *prefix, const char *path, json_t **out,
             struct berth_err **err)
{
  json_t *v = field(parent, key);
  if (v == NULL)
    return 0;
  if (!json_is_array(v))
    return wrong(prefix, path, "an array", err);
  *out = v;
  return 0;
}

/* A copy of a JSON string, which may not hide a NUL byte (C would cut it). */
static int string_dup(json_t *v, const char *prefix, const char *path, char **out,
                      struct berth_err **err)
{
  if (!json_is_string(v))
    return wrong(prefix, path, "a string", err);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return berth_err_set(err, 0, "%s%s: must not contain a NUL byte", prefix, path);
  *out = xstrdup(json_string_value(v));
  return 0;
}

int jf_string(json_t *parent, const char *key, const char *prefix, const char *path, char **out,
              struct berth_err **err)
{
  json_t *v = field(parent, key);
  if (v == NULL)
    return 0;
  char *s = NULL;
  if (string_dup(v, prefix, path, &s, err) < 0)
    return -1;
  free(*out);
  *out = s;
  return 0;
}

void jf_strv_free(char **v)
{
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

int jf_strv(json_t *parent, const char *key, const char *prefix, const char *path, char ***out,
            struct berth_err **err)
{
  json_t *arr = NULL;
  if (jf_array(parent, key, prefix, path, &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  size_t n = json_array_size(arr);
  char **v = xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    char epath[512];
    snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
    if (string_dup(json_array_get(arr, i), prefix, epath, &v[i], err) < 0) {
      jf_strv_free(v);
      return -1;
    }
  }
  jf_strv_free(*out);
  *out = v;
  return 0;
}

int jf_bool(json_t *parent, const char *key, const char *prefix, const char *path, bool *out,
            struct berth_err **err)
{
  json_t *v = field(parent, key);
  if (v == NULL)
    return 0;
  if (!json_is_boolean(v))
    return wrong(prefix, path, "a boolean", err);
  *out = json_is_true(v);
  return 0;
}

int jf_int(json_t *parent, const char *key, const char *prefix, const char *path, long long min,
           long long max, long long *out, struct berth_err **err)
{
  json_t *v = field(parent, key);
  if (v == NULL)
    return 0;
  if (!json_is_integer(v))
    return wrong(prefix, path, "an integer", err);
  long long n = json_integer_value(v);
  if (n < min || n > max)
    return berth_err_set(err, 0, "%s%s: %lld is out of range [%lld, %lld]", prefix, path, n, min,
                         max);
  *out = n;
  return 1;
}
