/* libFuzzer harness: a whole config.json through spec_parse (validation,
 * linux.resources, linux.seccomp translation through libseccomp) and
 * spec_free; and the same input as an exec's --process object, through
 * spec_parse_exec (process replaced in a fixed config, errors relabelled). No seccomp cache, so
 * nothing is written anywhere. Besides ASan/UBSan/leaks it checks what the rest of berth relies on:
 * a failure always comes with a message, a success with the invariants below. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/spec.h"
#include "fuzz.h"

static bool has_dotdot(const char *p)
{
  for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
    if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
      return true;
  return false;
}

/* Reads every string, so ASan sees a missing terminator or a freed one. */
static void check_strv(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    REQUIRE(strlen(v[i]) < SIZE_MAX / 2);
}

static void check_abs_paths(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    REQUIRE(v[i][0] == '/' && !has_dotdot(v[i]));
}

static void check_spec(const struct spec *s)
{
  REQUIRE(s->bundle && s->oci_version && s->rootfs && s->rootfs[0] == '/');
  if (s->has_process) {
    REQUIRE(s->args && s->args[0] && s->args[0][0]);
    check_strv(s->args);
    REQUIRE(s->env);
    for (size_t i = 0; s->env[i]; i++)
      REQUIRE(strchr(s->env[i], '=') && s->env[i][0] != '=');
    REQUIRE(s->cwd && s->cwd[0] == '/');
    for (size_t i = 0; i < s->n_rlimits; i++)
      REQUIRE(s->rlimits[i].soft <= s->rlimits[i].hard);
  }
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct spec_mount *m = &s->mounts[i];
    REQUIRE(m->destination && m->destination[0] == '/' && !has_dotdot(m->destination));
    if (m->bind)
      REQUIRE(m->source && m->source[0] == '/');
    else
      REQUIRE(m->type && m->type[0]);
  }
  REQUIRE(s->n_mounts == 0 || s->ns[NS_MNT].enabled);
  for (int k = 0; k < NS_COUNT; k++)
    REQUIRE(s->ns[k].path == NULL || (s->ns[k].enabled && s->ns[k].path[0] == '/'));
  for (size_t i = 0; i < s->n_devices; i++)
    REQUIRE(s->devices[i].path[0] == '/' && !has_dotdot(s->devices[i].path));
  for (size_t i = 0; i < s->n_sysctl; i++)
    REQUIRE(s->sysctl[i].key[0] && s->sysctl[i].value);
  check_abs_paths(s->masked_paths);
  check_abs_paths(s->readonly_paths);
  for (size_t i = 0; i < s->n_uid_mappings; i++)
    REQUIRE(s->uid_mappings[i].size > 0);
  for (size_t i = 0; i < s->n_gid_mappings; i++)
    REQUIRE(s->gid_mappings[i].size > 0);
  REQUIRE(s->backend);
}

/* `berth exec --process FILE`: the input as the process object. */
static void fuzz_exec_process(const char *text)
{
  static const char config[] =
      "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":"
      "[\"sh\"]},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}]}}";
  json_t *proc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  if (proc == NULL)
    return;
  struct spec *s = NULL;
  struct berth_err *err = NULL;
  if (spec_parse_exec(config, "/bundle", proc, "--process p.json", NULL, &s, &err) == 0) {
    REQUIRE(s != NULL && err == NULL && s->has_process);
    check_spec(s);
    spec_free(s);
  } else {
    REQUIRE(s == NULL && err != NULL && err->msg[0] != '\0');
    berth_err_free(&err);
  }
  json_decref(proc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct spec *s = NULL;
  struct berth_err *err = NULL;
  if (spec_parse(text, "/bundle", NULL, &s, &err) == 0) {
    REQUIRE(s != NULL && err == NULL);
    check_spec(s);
    spec_free(s);
  } else {
    REQUIRE(s == NULL && err != NULL && err->msg[0] != '\0');
    berth_err_free(&err);
  }
  fuzz_exec_process(text);
  free(text);
  REQUIRE(fuzz_seccomp_ctxs == 0);
  return 0;
}
