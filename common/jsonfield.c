#include "jsonfield.h"

#include <stdlib.h>

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

int jf_string(json_t *parent, const char *key, const char *prefix, const char *path, char **out,
              struct berth_err **err)
{
  json_t *v = field(parent, key);
  if (v == NULL)
    return 0;
  if (!json_is_string(v))
    return wrong(prefix, path, "a string", err);
  free(*out);
  *out = xstrdup(json_string_value(v));
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
