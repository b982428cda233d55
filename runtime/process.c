/* Process attributes applied in the child: rlimits, oom_score_adj, sysctls,
 * and finding the program to exec inside the container. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "linux.h"

int rlimits_apply(const struct spec *s, struct berth_err **err)
{
  for (size_t i = 0; i < s->n_rlimits; i++) {
    struct rlimit rl = {(rlim_t)s->rlimits[i].soft, (rlim_t)s->rlimits[i].hard};
    if (setrlimit((__rlimit_resource_t)s->rlimits[i].resource, &rl) < 0)
      return berth_err_sys(err, "process.rlimits[%zu]: setrlimit soft=%llu hard=%llu", i,
                           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  }
  return 0;
}

/* linux.personality, for the program about to be executed (init and
 * exec'd processes alike): before the seccomp filter, which may refuse it. */
int personality_apply(const struct spec *s, struct berth_err **err)
{
  if (s->has_personality && personality(s->personality) < 0)
    return berth_err_sys(err, "linux.personality: personality 0x%lx", s->personality);
  return 0;
}

/* Parent side, before the child goes on: only the host's root may lower
 * the value, and the init, non-dumpable in a user namespace, cannot even
 * open its own file. */
int oom_score_adj_apply(const struct spec *s, pid_t pid, struct berth_err **err)
{
  if (!s->has_oom_score_adj)
    return 0;
  char buf[16], path[64];
  snprintf(buf, sizeof(buf), "%d", s->oom_score_adj);
  snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
  if (write_string_at(AT_FDCWD, path, buf, err) < 0)
    return berth_err_wrap(err, "process.oomScoreAdj");
  return 0;
}

/* Is the namespace of kind k given by path the runtime's own (the host's)? */
static int ns_is_runtimes(const struct spec *s, enum ns_kind k, bool *same, struct berth_err **err)
{
  char own[64];
  struct stat theirs, ours;
  *same = false;
  if (s->ns[k].path == NULL)
    return 0;
  snprintf(own, sizeof(own), "/proc/self/ns/%s", k == NS_NET ? "net" : spec_ns_name(k));
  if (stat(s->ns[k].path, &theirs) < 0 || stat(own, &ours) < 0)
    return berth_err_sys(err, "linux.namespaces: %s %s", spec_ns_name(k), s->ns[k].path);
  *same = theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev;
  return 0;
}

/* Host side, before anything is made: namespaced settings (sysctls,
 * hostname, domainname) only in a namespace the container does not share
 * with the runtime. A path naming the runtime's own (host) namespace would
 * change the host's value. */
int sysctl_check_unshared(const struct spec *s, struct berth_err **err)
{
  bool same;
  for (size_t i = 0; i < s->n_sysctl; i++) {
    int k = spec_sysctl_ns(s->sysctl[i].key);
    if (k < 0)
      continue; /* refused at validation */
    if (ns_is_runtimes(s, (enum ns_kind)k, &same, err) < 0)
      return -1;
    if (same)
      return berth_err_set(err, 0,
                           "linux.sysctl: %s: the %s namespace %s is the runtime's own (the "
                           "host's): refusing to change the host",
                           s->sysctl[i].key, spec_ns_name((enum ns_kind)k), s->ns[k].path);
  }
  bool names = (s->hostname && s->hostname[0]) || (s->domainname && s->domainname[0]);
  if (!names || ns_is_runtimes(s, NS_UTS, &same, err) < 0)
    return names ? -1 : 0;
  if (same)
    return berth_err_set(err, 0,
                         "%s: the uts namespace %s is the runtime's own (the host's): refusing "
                         "to change the host's name",
                         s->hostname && s->hostname[0] ? "hostname" : "domainname",
                         s->ns[NS_UTS].path);
  return 0;
}

/* Through the host's /proc before pivot_root: /proc/sys entries act on the
 * namespaces of the writer, which are the container's. */
int sysctl_apply(const struct spec *s, struct berth_err **err)
{
  for (size_t i = 0; i < s->n_sysctl; i++) {
    cleanup_free char *path = xasprintf("/proc/sys/%s", s->sysctl[i].key);
    for (char *p = path + 10; *p; p++)
      if (*p == '.')
        *p = '/';
    if (write_string_at(AT_FDCWD, path, s->sysctl[i].value, err) < 0)
      return berth_err_wrap(err, "sysctl %s", s->sysctl[i].key);
  }
  return 0;
}

static const char *env_get(char **env, const char *key)
{
  size_t n = strlen(key);
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
      return env[i] + n + 1;
  return NULL;
}

/* strerror as Go words it (lower case): clients match these messages.
 * Docker maps a start failure to 126 on "permission denied" and to 127 on
 * "executable file not found" or "no such file or directory". */
static void errno_text(int errnum, char *buf, size_t len)
{
  snprintf(buf, len, "%s", strerrordesc_np(errnum) ? strerrordesc_np(errnum) : "unknown error");
  buf[0] = (char)tolower((unsigned char)buf[0]);
}

int exec_error(const char *exe, int errnum, struct berth_err **err)
{
  char why[128];
  errno_text(errnum, why, sizeof(why));
  berth_err_set(err, 0, "exec %s: %s", exe, why);
  (*err)->errnum = errnum;
  return -1;
}

/* As the process's own user (the caller has switched to it): what execve
 * will check, short of the file's format. 0, or an errno. */
static int executable_check(const char *path)
{
  struct stat st;
  if (stat(path, &st) < 0)
    return errno;
  if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
    return EACCES;
  return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0 ? errno : 0;
}

/* A path with a slash, checked as given. */
static int exec_check_path(const char *arg0, char **out, struct berth_err **err)
{
  char why[128];
  int e = executable_check(arg0);
  if (e == 0) {
    *out = xstrdup(arg0);
    return 0;
  }
  errno_text(e, why, sizeof(why));
  if (e == EACCES || e == EPERM)
    berth_err_set(err, 0, "exec: \"%s\": %s", arg0, why);
  else
    berth_err_set(err, 0, "exec: \"%s\": stat %s: %s", arg0, arg0, why);
  (*err)->errnum = e;
  return -1;
}

/* Runs after pivot_root, as the process's user: looks the program up in the
 * container's own PATH (from process.env, not berth's environment), like
 * runc, with runc's messages. */
int exec_lookup(const struct spec *s, char **out, struct berth_err **err)
{
  const char *arg0 = s->args[0];
  if (strchr(arg0, '/'))
    return exec_check_path(arg0, out, err);
  const char *path = env_get(s->env, "PATH");
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  cleanup_free char *copy = xstrdup(path);
  char *save = NULL;
  for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    cleanup_free char *cand = xasprintf("%s/%s", dir[0] ? dir : ".", arg0);
    if (executable_check(cand) == 0) {
      *out = steal_ptr(&cand);
      return 0;
    }
  }
  berth_err_set(err, 0, "exec: \"%s\": executable file not found in $PATH", arg0);
  (*err)->errnum = ENOENT;
  return -1;
}

/* HOME from the container's /etc/passwd when process.env does not set it. */
static char *home_for_uid(uid_t uid)
{
  cleanup_fclose FILE *f = fopen("/etc/passwd", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (f && getline(&line, &cap, f) > 0) {
    char *fields[7] = {0};
    char *p = line;
    for (int i = 0; i < 7 && p; i++) {
      fields[i] = p;
      p = strchr(p, ':');
      if (p)
        *p++ = '\0';
    }
    if (fields[5] && fields[2] && strtoul(fields[2], NULL, 10) == uid) {
      fields[5][strcspn(fields[5], "\n")] = '\0';
      return xstrdup(fields[5]);
    }
  }
  return xstrdup("/");
}

char **exec_env(const struct spec *s)
{
  size_t n = 0;
  while (s->env[n])
    n++;
  char **env = xcalloc(n + 2, sizeof(char *));
  memcpy(env, s->env, n * sizeof(char *));
  if (env_get(s->env, "HOME") == NULL) {
    cleanup_free char *home = home_for_uid(s->uid);
    env[n] = xasprintf("HOME=%s", home);
  }
  return env;
}
