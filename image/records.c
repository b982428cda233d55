/* The images in the store: list, inspect, remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

#define RECORD_MAX ((size_t)1 << 20)

static json_t *record_at(int dirfd, const char *name)
{
  cleanup_free char *text = NULL;
  struct berth_err *err = NULL;
  if (read_file_at(dirfd, name, RECORD_MAX, &text, NULL, &err) < 0) {
    berth_err_free(&err);
    return NULL;
  }
  return json_loads(text, 0, NULL);
}

int image_list(const char *root, json_t **out, struct berth_err **err)
{
  *out = json_array();
  cleanup_free char *dir = xasprintf("%s/images", root);
  cleanup_dir DIR *d = opendir(dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : berth_err_sys(err, "list %s", dir);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
      continue;
    json_t *rec = record_at(dirfd(d), de->d_name);
    if (json_is_object(rec))
      json_array_append_new(*out, rec);
    else
      json_decref(rec);
  }
  return 0;
}

static int record_find(const char *root, const char *refstr, char *path, size_t n,
                       struct berth_err **err)
{
  struct image_ref ref;
  if (image_ref_parse(refstr, &ref, err) < 0)
    return -1;
  image_record_path(root, ref.name, path, n);
  if (access(path, F_OK) < 0)
    return berth_err_set(err, 0, "image %s is not in %s (berth pull it)", ref.name, root);
  return 0;
}

int image_inspect(const char *root, const char *ref, char **out, struct berth_err **err)
{
  char path[4096];
  if (record_find(root, ref, path, sizeof(path), err) < 0)
    return -1;
  json_t *rec = record_at(AT_FDCWD, path);
  cleanup_close int cfd =
      store_blob_open(root, json_string_value(json_object_get(rec, "config")), err);
  cleanup_free char *cfg = NULL;
  if (cfd < 0 || fd_read_all(cfd, (size_t)16 << 20, &cfg, err) < 0) {
    json_decref(rec);
    return -1;
  }
  json_object_set_new(rec, "image_config", json_loads(cfg, 0, NULL));
  *out = json_dumps(rec, JSON_INDENT(2));
  json_decref(rec);
  return 0;
}

int image_remove(const char *root, const char *ref, struct berth_err **err)
{
  char path[4096];
  if (record_find(root, ref, path, sizeof(path), err) < 0)
    return -1;
  if (unlink(path) < 0)
    return berth_err_sys(err, "remove %s", path);
  return 0;
}
