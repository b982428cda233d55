/* Unit tests for runtime/hooks.c: config parsing errors, the state JSON, and
 * running real /bin/sh hooks from a temporary directory (stdin, argv, env,
 * failures, timeouts that kill the whole group, exec errors, one-line errors,
 * no leaked fds, a clean child environment). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../runtime/hooks.h"
#include "check.h"

static char dir[64];

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xfmt(const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    abort();
  va_end(ap);
  return s;
}

/* Writes dir/name with the given mode; returns the path (caller frees). */
static char *write_file(const char *name, const char *body, mode_t mode)
{
  char *path = xfmt("%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    abort();
  fputs(body, f);
  fclose(f);
  chmod(path, mode);
  return path;
}

static char *script(const char *name, const char *body)
{
  char *text = xfmt("#!/bin/sh\n%s\n", body);
  char *path = write_file(name, text, 0755);
  free(text);
  return path;
}

/* Whole file, NUL-terminated; NULL when it does not exist. */
static char *slurp(const char *name, size_t *len)
{
  char *path = xfmt("%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  free(path);
  if (f == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n - 1 == 0)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

static bool exists(const char *name)
{
  char *path = xfmt("%s/%s", dir, name);
  bool r = access(path, F_OK) == 0;
  free(path);
  return r;
}

static int count_fds(void)
{
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True once pid is gone or a zombie (waits up to 3 s for init to reap). */
static bool pid_dead(pid_t pid)
{
  for (int i = 0; i < 300; i++) {
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
      return true;
    usleep(10000);
  }
  return false;
}

static pid_t read_pid(const char *name)
{
  char *s = slurp(name, NULL);
  pid_t pid = s ? (pid_t)strtol(s, NULL, 10) : 0;
  free(s);
  return pid;
}

/* Parses the hooks object given as JSON text. */
static int parse(const char *text, struct hooks *h, struct berth_err **err)
{
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (j == NULL) {
    printf("bad test JSON: %s: %s\n", text, jerr.text);
    abort();
  }
  int r = hooks_parse(j, h, err);
  json_decref(j);
  return r;
}

static void expect_bad(const char *text, const char *want, int line)
{
  struct hooks h;
  struct berth_err *err = NULL;
  int r = parse(text, &h, &err);
  bool zeroed = true;
  for (int k = 0; k < HOOK_COUNT; k++)
    zeroed = zeroed && h.n[k] == 0 && h.list[k] == NULL;
  if (r == 0) {
    unit_failed++;
    printf("not ok: line %d: accepted %s, wanted '%s'\n", line, text, want);
    hooks_free(&h);
  } else if (strcmp(err->msg, want) != 0 || !zeroed) {
    unit_failed++;
    printf("not ok: line %d: error '%s', wanted '%s' (zeroed %d)\n", line, err->msg, want, zeroed);
  } else {
    unit_passed++;
  }
  berth_err_free(&err);
}

#define BAD(text, want) expect_bad(text, want, __LINE__)

/* Parses `text` and runs kind k with state; returns hooks_run's result. */
static int run_json(const char *text, enum hook_kind k, const char *state, struct berth_err **err)
{
  struct hooks h;
  if (parse(text, &h, err) < 0) {
    printf("parse failed: %s\n", (*err)->msg);
    abort();
  }
  int r = hooks_run(&h, k, state, err);
  hooks_free(&h);
  return r;
}

/* ---- parsing ---- */

static void test_parse_errors(void)
{
  BAD("[]", "config.json: hooks: must be an object");
  BAD("\"x\"", "config.json: hooks: must be an object");
  BAD("{\"prestart\":{}}", "config.json: hooks.prestart: must be an array");
  BAD("{\"poststop\":[5]}", "config.json: hooks.poststop[0]: must be an object");
  BAD("{\"prestart\":[{}]}", "config.json: hooks.prestart[0].path: must be an absolute path");
  BAD("{\"prestart\":[{\"path\":null}]}",
      "config.json: hooks.prestart[0].path: must be an absolute path");
  BAD("{\"createRuntime\":[{\"path\":\"/bin/true\"},{\"path\":\"bin/true\"}]}",
      "config.json: hooks.createRuntime[1].path: must be an absolute path");
  BAD("{\"createRuntime\":[{\"path\":\"\"}]}",
      "config.json: hooks.createRuntime[0].path: must be an absolute path");
  BAD("{\"prestart\":[{\"path\":7}]}", "config.json: hooks.prestart[0].path: must be a string");
  BAD("{\"prestart\":[{\"path\":\"/a\\u0000b\"}]}",
      "config.json: hooks.prestart[0].path: must not contain a NUL byte");
  BAD("{\"poststart\":[{\"path\":\"/x\",\"args\":[\"x\",1]}]}",
      "config.json: hooks.poststart[0].args[1]: must be a string");
  BAD("{\"poststart\":[{\"path\":\"/x\",\"args\":\"x y\"}]}",
      "config.json: hooks.poststart[0].args: must be an array");
  BAD("{\"poststop\":[{\"path\":\"/x\",\"env\":\"A=1\"}]}",
      "config.json: hooks.poststop[0].env: must be an array");
  BAD("{\"poststop\":[{\"path\":\"/x\",\"env\":{\"A\":\"1\"}}]}",
      "config.json: hooks.poststop[0].env: must be an array");
  BAD("{\"poststop\":[{\"path\":\"/x\",\"env\":[\"A=1\",null]}]}",
      "config.json: hooks.poststop[0].env[1]: must be a string");
  BAD("{\"startContainer\":[{\"path\":\"/x\",\"timeout\":0}]}",
      "config.json: hooks.startContainer[0].timeout: must be greater than zero");
  BAD("{\"startContainer\":[{\"path\":\"/x\",\"timeout\":-3}]}",
      "config.json: hooks.startContainer[0].timeout: must be greater than zero");
  BAD("{\"startContainer\":[{\"path\":\"/x\",\"timeout\":\"5\"}]}",
      "config.json: hooks.startContainer[0].timeout: must be an integer");
  BAD("{\"startContainer\":[{\"path\":\"/x\",\"timeout\":1.5}]}",
      "config.json: hooks.startContainer[0].timeout: must be an integer");
  BAD("{\"startContainer\":[{\"path\":\"/x\",\"timeout\":4294967296}]}",
      "config.json: hooks.startContainer[0].timeout: must be at most 2147483647");
  /* A later kind fails after an earlier one was parsed: nothing is left over. */
  BAD("{\"prestart\":[{\"path\":\"/a\",\"args\":[\"a\"],\"env\":[\"X=1\"]}],"
      "\"poststop\":[{\"path\":\"/b\"},{\"path\":\"b\"}]}",
      "config.json: hooks.poststop[1].path: must be an absolute path");
}

static void test_parse_ok(void)
{
  struct hooks h;
  struct berth_err *err = NULL;

  CHECK(hooks_parse(NULL, &h, &err) == 0 && h.n[HOOK_PRESTART] == 0, "NULL: no hooks");
  hooks_free(&h);
  CHECK(parse("null", &h, &err) == 0 && h.n[HOOK_POSTSTOP] == 0, "null: no hooks");
  hooks_free(&h);

  int r = parse("{\"fooBar\":[{\"path\":\"relative\"}],\"prestart\":null,\"poststart\":[],"
                "\"createRuntime\":[{\"path\":\"/bin/a\",\"args\":[\"a0\",\"a1\"],"
                "\"env\":[\"K=V\"],\"timeout\":7},{\"path\":\"/bin/b\"}],"
                "\"poststop\":[{\"path\":\"/bin/c\",\"args\":[],\"env\":[],\"timeout\":null}]}",
                &h, &err);
  CHECK(r == 0, "valid hooks rejected: %s", err ? err->msg : "");
  if (r == 0) {
    CHECK(h.n[HOOK_PRESTART] == 0 && h.n[HOOK_POSTSTART] == 0 && h.n[HOOK_CREATE_CONTAINER] == 0,
          "absent/null/empty kinds have no hooks");
    CHECK(h.n[HOOK_CREATE_RUNTIME] == 2, "two createRuntime hooks, got %zu",
          h.n[HOOK_CREATE_RUNTIME]);
    struct hook *a = &h.list[HOOK_CREATE_RUNTIME][0], *b = &h.list[HOOK_CREATE_RUNTIME][1];
    CHECK(strcmp(a->path, "/bin/a") == 0 && a->timeout == 7, "path, timeout");
    CHECK(a->args && strcmp(a->args[0], "a0") == 0 && strcmp(a->args[1], "a1") == 0 &&
              a->args[2] == NULL,
          "args NULL-terminated");
    CHECK(a->env && strcmp(a->env[0], "K=V") == 0 && a->env[1] == NULL, "env");
    CHECK(strcmp(b->path, "/bin/b") == 0 && b->args == NULL && b->env == NULL && b->timeout == 0,
          "absent fields stay NULL/0");
    CHECK(h.n[HOOK_POSTSTOP] == 1, "poststop hook");
    struct hook *c = &h.list[HOOK_POSTSTOP][0];
    CHECK(c->args && c->args[0] == NULL && c->env && c->env[0] == NULL && c->timeout == 0,
          "empty args/env are empty vectors (empty env means empty, not inherited)");
  }
  hooks_free(&h);
  hooks_free(&h); /* idempotent */
  berth_err_free(&err);

  CHECK(strcmp(hook_kind_name(HOOK_PRESTART), "prestart") == 0 &&
            strcmp(hook_kind_name(HOOK_CREATE_RUNTIME), "createRuntime") == 0 &&
            strcmp(hook_kind_name(HOOK_CREATE_CONTAINER), "createContainer") == 0 &&
            strcmp(hook_kind_name(HOOK_START_CONTAINER), "startContainer") == 0 &&
            strcmp(hook_kind_name(HOOK_POSTSTART), "poststart") == 0 &&
            strcmp(hook_kind_name(HOOK_POSTSTOP), "poststop") == 0,
        "kind names as in the spec");
}

static void test_state_json(void)
{
  json_t *ann = json_pack("{s:s}", "a", "b");
  char *s = hooks_state_json("1.2.0", "c1", "created", 42, "/b", ann);
  CHECK(strcmp(s, "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"created\",\"pid\":42,"
                  "\"bundle\":\"/b\",\"annotations\":{\"a\":\"b\"}}") == 0,
        "state json: %s", s);
  free(s);
  json_decref(ann);
  s = hooks_state_json("1.2.0", "c1", "stopped", 0, "/b", NULL);
  CHECK(strcmp(s, "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"stopped\","
                  "\"bundle\":\"/b\"}") == 0,
        "pid and annotations omitted: %s", s);
  free(s);
  s = hooks_state_json("1.2.0", "c1", "creating", 1, "/b\xff\"x", NULL);
  CHECK(strstr(s, "\"bundle\":\"/b\xef\xbf\xbd\\\"x\"") != NULL, "invalid UTF-8 replaced: %s", s);
  free(s);
}

/* ---- running ---- */

static void test_run_stdin_argv_env(void)
{
  struct berth_err *err = NULL;
  const char *state = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":7,"
                      "\"bundle\":\"/b\"}";

  /* stdin carries the state, exactly. */
  char *h1 = script("stdin.sh", "cat > \"$(dirname \"$0\")/stdin.out\"");
  char *j = xfmt("{\"createRuntime\":[{\"path\":\"%s\"}]}", h1);
  CHECK(run_json(j, HOOK_CREATE_RUNTIME, state, &err) == 0, "stdin hook failed: %s",
        err ? err->msg : "");
  berth_err_free(&err);
  char *got = slurp("stdin.out", NULL);
  CHECK(got && strcmp(got, state) == 0, "hook stdin: '%s'", got ? got : "(none)");
  free(got);
  free(j);

  /* NULL state: empty stdin. */
  j = xfmt("{\"prestart\":[{\"path\":\"%s\"}]}", h1);
  CHECK(run_json(j, HOOK_PRESTART, NULL, &err) == 0, "empty stdin run");
  berth_err_free(&err);
  size_t len = 99;
  got = slurp("stdin.out", &len);
  CHECK(got && len == 0, "NULL state: empty stdin (%zu bytes)", len);
  free(got);
  free(j);
  free(h1);

  /* argv arrives exactly, argv[0] from args[0]: cp copies its own cmdline. */
  char *out = xfmt("%s/argv.out", dir);
  j = xfmt("{\"poststart\":[{\"path\":\"/bin/cp\",\"args\":[\"fancy argv0\",\"/proc/self/cmdline\","
           "\"%s\"]}]}",
           out);
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) == 0, "argv hook failed: %s", err ? err->msg : "");
  berth_err_free(&err);
  got = slurp("argv.out", &len);
  char *want = xfmt("fancy argv0%c/proc/self/cmdline%c%s%c", 0, 0, out, 0);
  size_t want_len = strlen("fancy argv0") + 1 + strlen("/proc/self/cmdline") + 1 + strlen(out) + 1;
  CHECK(got && len == want_len && memcmp(got, want, len) == 0, "argv exact (%zu bytes)", len);
  free(got);
  free(want);
  free(j);
  free(out);

  /* env arrives exactly. */
  out = xfmt("%s/env.out", dir);
  j = xfmt("{\"poststart\":[{\"path\":\"/bin/cp\",\"args\":[\"cp\",\"/proc/self/environ\",\"%s\"],"
           "\"env\":[\"A=1\",\"B=two words\",\"C=\"]}]}",
           out);
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) == 0, "env hook failed: %s", err ? err->msg : "");
  berth_err_free(&err);
  got = slurp("env.out", &len);
  CHECK(got && len == 19 && memcmp(got, "A=1\0B=two words\0C=\0", 19) == 0, "env exact (%zu)", len);
  free(got);
  free(j);

  /* env: [] -> an empty environment. */
  j = xfmt("{\"poststart\":[{\"path\":\"/bin/cp\",\"args\":[\"cp\",\"/proc/self/environ\",\"%s\"],"
           "\"env\":[]}]}",
           out);
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) == 0, "empty env hook failed");
  berth_err_free(&err);
  got = slurp("env.out", &len);
  CHECK(got && len == 0, "env [] gives an empty environment (%zu bytes)", len);
  free(got);
  free(j);

  /* env absent -> the caller's environment (runc: Go's exec.Cmd with nil Env). */
  setenv("BERTH_HOOK_UNIT", "inherited value", 1);
  j = xfmt(
      "{\"poststart\":[{\"path\":\"/bin/cp\",\"args\":[\"cp\",\"/proc/self/environ\",\"%s\"]}]}",
      out);
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) == 0, "inherit env hook failed");
  berth_err_free(&err);
  got = slurp("env.out", &len);
  size_t elen = 0;
  for (char **e = environ; *e; e++)
    elen += strlen(*e) + 1;
  char *env_want = malloc(elen + 1), *p = env_want;
  for (char **e = environ; *e; e++) {
    size_t n = strlen(*e) + 1;
    memcpy(p, *e, n);
    p += n;
  }
  CHECK(got && len == elen && memcmp(got, env_want, elen) == 0,
        "absent env inherits the caller's (%zu vs %zu bytes)", len, elen);
  CHECK(got && memmem(got, len, "BERTH_HOOK_UNIT=inherited value", 31) != NULL, "marker inherited");
  unsetenv("BERTH_HOOK_UNIT");
  free(env_want);
  free(got);
  free(j);
  free(out);

  /* args absent -> argv is {path}: the script sees no arguments. */
  char *h2 = script("nargs.sh", "echo \"$#\" > \"$(dirname \"$0\")/nargs.out\"");
  j = xfmt("{\"prestart\":[{\"path\":\"%s\"}]}", h2);
  CHECK(run_json(j, HOOK_PRESTART, "{}", &err) == 0, "nargs hook failed");
  berth_err_free(&err);
  got = slurp("nargs.out", NULL);
  CHECK(got && strcmp(got, "0\n") == 0, "no args: '%s'", got ? got : "(none)");
  free(got);
  free(j);
  free(h2);
}

static void test_run_failures(void)
{
  struct berth_err *err = NULL;

  /* The second hook fails: the error names kind, index, path, status and the
   * last line of its output; the third never runs. */
  char *bad = script("fail.sh", "echo 'some progress'\necho 'first line' >&2\n"
                                "printf '  the real error  \\n\\n' >&2\nexit 3");
  char *never = script("never.sh", "touch \"$(dirname \"$0\")/never.out\"");
  char *j = xfmt("{\"prestart\":[{\"path\":\"/bin/true\"},{\"path\":\"%s\"},{\"path\":\"%s\"}]}",
                 bad, never);
  char *want = xfmt("hook prestart[1] %s: exited with status 3: the real error", bad);
  CHECK(run_json(j, HOOK_PRESTART, "{}", &err) < 0, "failing hook accepted");
  CHECK(err && strcmp(err->msg, want) == 0, "error '%s', wanted '%s'", err ? err->msg : "", want);
  CHECK(!exists("never.out"), "a hook after the failing one ran");
  berth_err_free(&err);
  free(want);
  free(j);

  /* Only kind k runs. */
  j = xfmt("{\"prestart\":[{\"path\":\"%s\"}],\"poststop\":[{\"path\":\"%s\"}]}", bad, never);
  CHECK(run_json(j, HOOK_POSTSTOP, "{}", &err) == 0 && exists("never.out"), "poststop ran alone");
  berth_err_free(&err);
  free(j);
  free(bad);
  free(never);

  /* Exit without output: no trailing ": ". */
  j = xfmt("{\"poststart\":[{\"path\":\"/bin/false\"}]}");
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) < 0 && err &&
            strcmp(err->msg, "hook poststart[0] /bin/false: exited with status 1") == 0,
        "silent failure: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(j);

  /* Killed by a signal. */
  char *sig = script("sig.sh", "echo dying >&2\nkill -9 $$");
  j = xfmt("{\"poststop\":[{\"path\":\"%s\"}]}", sig);
  want = xfmt("hook poststop[0] %s: killed by signal 9: dying", sig);
  CHECK(run_json(j, HOOK_POSTSTOP, "{}", &err) < 0 && err && strcmp(err->msg, want) == 0,
        "signal: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(want);
  free(j);
  free(sig);

  /* Output made one line: control characters and invalid UTF-8 replaced,
   * a flood before the last line does not matter, the message fits. */
  char *noisy = script("noisy.sh", "head -c 300000 /dev/zero | tr '\\0' 'x'\necho\n"
                                   "printf 'a\\tb\\rc \\377\\001 \\303\\251nd\\n' >&2\nexit 2");
  j = xfmt("{\"poststop\":[{\"path\":\"%s\"}]}", noisy);
  want = xfmt("hook poststop[0] %s: exited with status 2: a b c ?  \xc3\xa9nd", noisy);
  CHECK(run_json(j, HOOK_POSTSTOP, "{}", &err) < 0 && err && strcmp(err->msg, want) == 0,
        "noisy: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(want);
  free(j);
  free(noisy);

  /* A last line longer than the error can hold is cut; still one line. */
  char *longl = script("long.sh", "head -c 3000 /dev/zero | tr '\\0' 'y'\necho\nexit 4");
  j = xfmt("{\"poststop\":[{\"path\":\"%s\"}]}", longl);
  CHECK(run_json(j, HOOK_POSTSTOP, "{}", &err) < 0 && err && strchr(err->msg, '\n') == NULL &&
            strstr(err->msg, "exited with status 4: yyyy") != NULL &&
            strlen(err->msg) < sizeof(err->msg) - 1,
        "long line: %zu bytes", err ? strlen(err->msg) : 0);
  berth_err_free(&err);
  free(j);
  free(longl);

  /* exec errors. */
  j = xfmt("{\"poststart\":[{\"path\":\"/nonexistent/hook\"}]}");
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) < 0 && err && err->errnum == ENOENT &&
            strcmp(err->msg, "hook poststart[0] /nonexistent/hook: exec: No such file or "
                             "directory") == 0,
        "ENOENT: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(j);
  char *noexec = write_file("noexec.sh", "#!/bin/sh\nexit 0\n", 0644);
  j = xfmt("{\"poststart\":[{\"path\":\"%s\"}]}", noexec);
  want = xfmt("hook poststart[0] %s: exec: Permission denied", noexec);
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) < 0 && err && err->errnum == EACCES &&
            strcmp(err->msg, want) == 0,
        "EACCES: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(want);
  free(j);
  free(noexec);
  char *garbage = write_file("garbage", "\x01\x02\x03 not a program\n", 0755);
  j = xfmt("{\"poststart\":[{\"path\":\"%s\"}]}", garbage);
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) < 0 && err && err->errnum == ENOEXEC &&
            strstr(err->msg, ": exec: Exec format error") != NULL,
        "ENOEXEC: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(j);
  free(garbage);

  /* A hook that exits 127 by itself is not an exec error. */
  j = xfmt("{\"poststart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"exit 127\"]}]}");
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) < 0 && err &&
            strcmp(err->msg, "hook poststart[0] /bin/sh: exited with status 127") == 0,
        "127: '%s'", err ? err->msg : "");
  berth_err_free(&err);
  free(j);
}

static void test_run_timeout(void)
{
  struct berth_err *err = NULL;
  /* The hook (which becomes `sleep 30`) and a background grandchild in its
   * group both die on the timeout. */
  char *slow = script("slow.sh", "d=$(dirname \"$0\")\necho $$ > \"$d/slow.pid\"\n"
                                 "sleep 31 &\necho $! > \"$d/grandchild.pid\"\nexec sleep 30");
  char *j = xfmt("{\"createRuntime\":[{\"path\":\"%s\",\"timeout\":1}]}", slow);
  char *want = xfmt("hook createRuntime[0] %s: timed out after 1 s", slow);
  double t0 = now_s();
  int r = run_json(j, HOOK_CREATE_RUNTIME, "{}", &err);
  double took = now_s() - t0;
  CHECK(r < 0 && err && strcmp(err->msg, want) == 0, "timeout: '%s'", err ? err->msg : "");
  CHECK(took >= 0.9 && took < 2.5, "timeout took %.2f s", took);
  pid_t hook = read_pid("slow.pid"), grandchild = read_pid("grandchild.pid");
  CHECK(hook > 0 && pid_dead(hook), "hook %d still alive", (int)hook);
  CHECK(grandchild > 0 && pid_dead(grandchild), "grandchild %d still alive", (int)grandchild);
  if (grandchild > 0 && !pid_dead(grandchild))
    kill(grandchild, SIGKILL);
  berth_err_free(&err);
  free(want);
  free(j);
  free(slow);

  /* A hook that ends in time is not touched by its timeout. */
  j = xfmt("{\"createRuntime\":[{\"path\":\"/bin/true\",\"timeout\":5}]}");
  t0 = now_s();
  CHECK(run_json(j, HOOK_CREATE_RUNTIME, "{}", &err) == 0 && now_s() - t0 < 1, "fast hook");
  berth_err_free(&err);
  free(j);

  /* A flood of output does not starve the timeout. */
  j = xfmt("{\"createRuntime\":[{\"path\":\"/usr/bin/yes\",\"timeout\":1}]}");
  t0 = now_s();
  r = run_json(j, HOOK_CREATE_RUNTIME, "{}", &err);
  took = now_s() - t0;
  CHECK(r < 0 && err && strstr(err->msg, "timed out after 1 s") && took < 2.5, "yes: %.2f s '%s'",
        took, err ? err->msg : "");
  berth_err_free(&err);
  free(j);
}

static void test_run_pipes(void)
{
  struct berth_err *err = NULL;
  /* A big state (more than a pipe holds) and a hook that first writes a lot
   * and only then reads stdin: no deadlock, the state arrives whole. */
  json_t *ann = json_object();
  char *big = malloc(300001);
  memset(big, 'q', 300000);
  big[300000] = '\0';
  json_object_set_new(ann, "big", json_string(big));
  free(big);
  char *state = hooks_state_json("1.2.0", "c1", "creating", 7, "/b", ann);
  json_decref(ann);

  char *chatty = script("chatty.sh", "head -c 2000000 /dev/zero\n"
                                     "cat > \"$(dirname \"$0\")/chatty.out\"");
  char *j = xfmt("{\"prestart\":[{\"path\":\"%s\",\"timeout\":20}]}", chatty);
  CHECK(run_json(j, HOOK_PRESTART, state, &err) == 0, "chatty: %s", err ? err->msg : "");
  berth_err_free(&err);
  size_t len = 0;
  char *got = slurp("chatty.out", &len);
  CHECK(got && len == strlen(state) && strcmp(got, state) == 0, "big state whole (%zu of %zu)", len,
        strlen(state));
  free(got);
  free(j);
  free(chatty);

  /* A hook that ignores its stdin: EPIPE is not an error, SIGPIPE does not
   * kill us nor stays pending, and the signal mask is restored. */
  sigset_t before, after, pending;
  sigprocmask(SIG_SETMASK, NULL, &before);
  j = xfmt("{\"prestart\":[{\"path\":\"/bin/true\"},{\"path\":\"/bin/true\"}]}");
  CHECK(run_json(j, HOOK_PRESTART, state, &err) == 0, "stdin ignored: %s", err ? err->msg : "");
  berth_err_free(&err);
  free(j);
  sigprocmask(SIG_SETMASK, NULL, &after);
  sigpending(&pending);
  CHECK(!sigismember(&pending, SIGPIPE), "SIGPIPE left pending");
  CHECK(sigismember(&before, SIGPIPE) == sigismember(&after, SIGPIPE) &&
            sigismember(&after, SIGPIPE) == 0,
        "mask not restored");
  free(state);

  /* A background process holding stdout open does not make us wait. */
  char *bg = script("bg.sh", "sleep 5 &\necho $! > \"$(dirname \"$0\")/bg.pid\"\nexit 0");
  j = xfmt("{\"poststart\":[{\"path\":\"%s\"}]}", bg);
  double t0 = now_s();
  CHECK(run_json(j, HOOK_POSTSTART, "{}", &err) == 0 && now_s() - t0 < 1,
        "background child made us wait %.2f s", now_s() - t0);
  berth_err_free(&err);
  pid_t p = read_pid("bg.pid");
  if (p > 0)
    kill(p, SIGKILL);
  free(j);
  free(bg);
}

static void test_child_environment(void)
{
  struct berth_err *err = NULL;
  /* A leaked (non-CLOEXEC) fd, a blocked and an ignored signal in the caller:
   * the hook sees none of them and leads its own process group. cp copies
   * its own /proc status, exactly as execve left it (no shell in between). */
  int leak = fcntl(1, F_DUPFD, 100);
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old);
  struct sigaction ign = {.sa_handler = SIG_IGN}, old_usr2;
  sigaction(SIGUSR2, &ign, &old_usr2);

  char *j = xfmt("{\"prestart\":[{\"path\":\"/bin/cp\",\"args\":[\"cp\",\"/proc/self/status\","
                 "\"%s/status.out\"]},{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
                 "\"exec ls /proc/self/fd > %s/fds.out\"]}]}",
                 dir, dir);
  CHECK(run_json(j, HOOK_PRESTART, "{}", &err) == 0, "child env hooks: %s", err ? err->msg : "");
  berth_err_free(&err);
  free(j);
  char *got = slurp("status.out", NULL);
  CHECK(got && strstr(got, "\nSigBlk:\t0000000000000000\n") != NULL, "mask not reset: %s",
        got ? got : "");
  CHECK(got && strstr(got, "\nSigIgn:\t0000000000000000\n") != NULL, "ignores not reset: %s",
        got ? got : "");
  const char *pid = got ? strstr(got, "\nPid:\t") : NULL;
  const char *pgid = got ? strstr(got, "\nNSpgid:\t") : NULL;
  CHECK(pid && pgid && strtol(pid + 6, NULL, 10) == strtol(pgid + 9, NULL, 10) &&
            strtol(pid + 6, NULL, 10) != getpgrp(),
        "not its own process group");
  free(got);
  /* ls's own fds: 0-2 and the directory it reads; nothing else came along. */
  got = slurp("fds.out", NULL);
  CHECK(got && strcmp(got, "0\n1\n2\n3\n") == 0, "hook fds (fd %d leaked?): %s", leak,
        got ? got : "");
  free(got);

  sigaction(SIGUSR2, &old_usr2, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(leak);
}

static void test_no_fd_leaks(void)
{
  struct berth_err *err = NULL;
  int before = count_fds();
  const char *cases[] = {
      "{\"prestart\":[{\"path\":\"/bin/true\"}]}",
      "{\"prestart\":[{\"path\":\"/bin/false\"}]}",
      "{\"prestart\":[{\"path\":\"/nonexistent\"}]}",
      "{\"prestart\":[{\"path\":\"/bin/sleep\",\"args\":[\"sleep\",\"5\"],\"timeout\":1}]}",
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    run_json(cases[i], HOOK_PRESTART, "{\"a\":1}", &err);
    berth_err_free(&err);
  }
  CHECK(count_fds() == before, "fds before %d, after %d", before, count_fds());

  struct hooks none;
  memset(&none, 0, sizeof(none));
  CHECK(hooks_run(&none, HOOK_PRESTART, "{}", &err) == 0 && err == NULL, "no hooks: ok");
  CHECK(hooks_run(NULL, HOOK_PRESTART, "{}", &err) == 0 && err == NULL, "NULL hooks: ok");
}

void hooks_unit_tests(void)
{
  test_parse_errors();
  test_parse_ok();
  test_state_json();

  snprintf(dir, sizeof(dir), "/tmp/berth-hooks-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    printf("not ok: mkdtemp: %s\n", strerror(errno));
    unit_failed++;
    return;
  }
  test_run_stdin_argv_env();
  test_run_failures();
  test_run_timeout();
  test_run_pipes();
  test_child_environment();
  test_no_fd_leaks();
  char *rm = xfmt("rm -rf '%s'", dir);
  if (system(rm) != 0)
    printf("warning: could not remove %s\n", dir);
  free(rm);
}
