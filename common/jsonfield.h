/* Typed fields of a JSON object, for validation. Absent or null: returns 0
 * and leaves *out alone. Wrong type or out of range: fills err with
 * "<prefix><path>: must be ..." and returns -1. */
#ifndef BERTH_JSONFIELD_H
#define BERTH_JSONFIELD_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

int jf_object(json_t *parent, const char *key, const char *prefix, const char *path, json_t **out,
              struct berth_err **err);
int jf_array(json_t *parent, const char *key, const char *prefix, const char *path, json_t **out,
             struct berth_err **err);
/* Replaces *out (freed) with a copy. */
int jf_string(json_t *parent, const char *key, const char *prefix, const char *path, char **out,
              struct berth_err **err);
/* Array of strings -> NULL-terminated vector, replacing *out (freed). */
int jf_strv(json_t *parent, const char *key, const char *prefix, const char *path, char ***out,
            struct berth_err **err);
void jf_strv_free(char **v);
int jf_bool(json_t *parent, const char *key, const char *prefix, const char *path, bool *out,
            struct berth_err **err);
/* Returns 1 when present. */
int jf_int(json_t *parent, const char *key, const char *prefix, const char *path, long long min,
           long long max, long long *out, struct berth_err **err);

#endif
