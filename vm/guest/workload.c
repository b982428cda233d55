/* Guest PID 1: the host's SPEC, applied. The rootfs comes over virtio-fs
 * (tag "rootfs"); limits go through berth's own cgroup/ code on the
 * guest's pure cgroup v2 hierarchy. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../cgroup/cgroup.h"
#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "../../runtime/linux.h"
#include "../proto.h"
#include "guest.h"

static void strv_push(char ***v, size_t *n, const char *s)
{
  char **nv = realloc(*v, (*n + 2) * sizeof(char *));
  if (nv == NULL)
    abort();
  nv[(*n)++] = xstrdup(s);
  nv[*n] = NULL;
  *v = nv;
}

/* Whole-string unsigned numbers in base b, each followed by a space or
 * the end; returns how many were read into out (at most n), -1 if bad. */
static int parse_nums(const char *v, int base, unsigned long long *out, int n)
{
  int k = 0;
  while (*v && k < n) {
    char *end;
    errno = 0;
    out[k++] = strtoull(v, &end, base);
    if (end == v || errno || (*end != ' ' && *end != '\0'))
      return -1;
    v = *end ? end + 1 : end;
  }
  return *v ? -1 : k;
}

static int parse_id(const char *v, unsigned *id)
{
  unsigned long long n;
  if (parse_nums(v, 10, &n, 1) != 1 || n > UINT32_MAX)
    return -1;
  *id = (unsigned)n;
  return 0;
}

static int dec_arg(struct guest_spec *s, const char *v)
{
  strv_push(&s->args, &s->n_args, v);
  return 0;
}

static int dec_env(struct guest_spec *s, const char *v)
{
  strv_push(&s->env, &s->n_env, v);
  return 0;
}

static int dec_cwd(struct guest_spec *s, const char *v)
{
  free(s->cwd);
  s->cwd = xstrdup(v);
  return 0;
}

static int dec_hostname(struct guest_spec *s, const char *v)
{
  free(s->hostname);
  s->hostname = xstrdup(v);
  return 0;
}

static int dec_resources(struct guest_spec *s, const char *v)
{
  free(s->resources);
  s->resources = xstrdup(v);
  return 0;
}

static int dec_cgroups_path(struct guest_spec *s, const char *v)
{
  free(s->cgroups_path);
  s->cgroups_path = xstrdup(v);
  return 0;
}

static int dec_uid(struct guest_spec *s, const char *v)
{
  return parse_id(v, &s->uid);
}

static int dec_gid(struct guest_spec *s, const char *v)
{
  return parse_id(v, &s->gid);
}

static int dec_gids(struct guest_spec *s, const char *v)
{
  gid_t *g = realloc(s->gids, (s->n_gids + 1) * sizeof(gid_t));
  if (g == NULL)
    abort();
  s->gids = g;
  return parse_id(v, &g[s->n_gids++]);
}

static int dec_readonly(struct guest_spec *s, const char *v)
{
  s->readonly = strcmp(v, "1") == 0;
  return 0;
}

static int dec_umask(struct guest_spec *s, const char *v)
{
  unsigned long long m;
  s->has_umask = true;
  if (parse_nums(v, 8, &m, 1) != 1 || m > 0777)
    return -1;
  s->umask = (mode_t)m;
  return 0;
}

static int dec_rlimit(struct guest_spec *s, const char *v)
{
  struct guest_rlimit *r = realloc(s->rlimits, (s->n_rlimits + 1) * sizeof(*r));
  if (r == NULL)
    abort();
  s->rlimits = r;
  r += s->n_rlimits++;
  unsigned long long n[3];
  if (parse_nums(v, 10, n, 3) != 3 || n[0] > 64)
    return -1;
  *r = (struct guest_rlimit){(int)n[0], n[1], n[2]};
  return 0;
}

/* "DEST\x1fTYPE\x1fFLAGS(hex)\x1fDATA" */
static int dec_mount(struct guest_spec *s, const char *v)
{
  char *f[4] = {0};
  cleanup_free char *copy = xstrdup(v);
  char *p = copy;
  for (int i = 0; i < 4; i++)
    f[i] = strsep(&p, "\x1f");
  if (f[3] == NULL || f[0][0] != '/')
    return -1;
  struct guest_mount *m = realloc(s->mounts, (s->n_mounts + 1) * sizeof(*m));
  if (m == NULL)
    abort();
  s->mounts = m;
  m += s->n_mounts++;
  *m = (struct guest_mount){xstrdup(f[0]), xstrdup(f[1]), xstrdup(f[3]), strtoul(f[2], NULL, 16)};
  return 0;
}

static int dec_terminal(struct guest_spec *s, const char *v)
{
  s->terminal = strcmp(v, "1") == 0;
  return 0;
}

static int dec_nnp(struct guest_spec *s, const char *v)
{
  s->no_new_privs = strcmp(v, "1") == 0;
  return 0;
}

/* "ROWS COLS" */
static int dec_console(struct guest_spec *s, const char *v)
{
  unsigned long long n[2];
  if (parse_nums(v, 10, n, 2) != 2 || n[0] > 65535 || n[1] > 65535)
    return -1;
  s->rows = (unsigned)n[0];
  s->cols = (unsigned)n[1];
  return 0;
}

/* "BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT", hex masks */
static int dec_caps(struct guest_spec *s, const char *v)
{
  unsigned long long n[5];
  if (parse_nums(v, 16, n, 5) != 5)
    return -1;
  for (int i = 0; i < 5; i++)
    s->caps[i] = n[i];
  s->has_caps = true;
  return 0;
}

static int hex_digit(char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "FLAGS HEX": the BPF program's bytes, 8 per instruction */
static int dec_seccomp(struct guest_spec *s, const char *v)
{
  char *end;
  errno = 0;
  unsigned long long flags = strtoull(v, &end, 16);
  const char *hex = end;
  size_t n = *hex == ' ' ? strlen(hex + 1) : 0;
  if (end == v || errno || n == 0 || n % 16 != 0 || flags > UINT32_MAX)
    return -1;
  free(s->seccomp);
  s->seccomp = xcalloc(1, n / 2);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_digit(hex[1 + 2 * i]), lo = hex_digit(hex[2 + 2 * i]);
    if (hi < 0 || lo < 0)
      return -1;
    s->seccomp[i] = (unsigned char)(hi << 4 | lo);
  }
  s->seccomp_len = n / 2;
  s->seccomp_flags = (unsigned)flags;
  return 0;
}

static const struct {
  const char *key;
  int (*fn)(struct guest_spec *s, const char *v);
} decoders[] = {
    {"terminal", dec_terminal}, {"console", dec_console},
    {"caps", dec_caps},         {"nnp", dec_nnp},
    {"seccomp", dec_seccomp},   {"arg", dec_arg},
    {"env", dec_env},           {"cwd", dec_cwd},
    {"uid", dec_uid},           {"gid", dec_gid},
    {"gids", dec_gids},         {"hostname", dec_hostname},
    {"readonly", dec_readonly}, {"umask", dec_umask},
    {"rlimit", dec_rlimit},     {"resources", dec_resources},
    {"mount", dec_mount},       {"cgroups_path", dec_cgroups_path},
};

int guest_spec_decode(const char *data, size_t len, struct guest_spec *s, struct berth_err **err)
{
  size_t off = 0;
  const char *k, *v;
  int r;
  while ((r = vm_rec_next(data, len, &off, &k, &v)) == 1) {
    if (strncmp(k, "net.", 4) == 0)
      continue; /* net.c's */
    size_t i = 0;
    while (i < sizeof(decoders) / sizeof(decoders[0]) && strcmp(decoders[i].key, k) != 0)
      i++;
    if (i == sizeof(decoders) / sizeof(decoders[0]))
      return berth_err_set(err, 0, "spec: unknown key \"%s\"", k);
    if (decoders[i].fn(s, v) < 0)
      return berth_err_set(err, 0, "spec: bad %s \"%s\"", k, v);
  }
  if (r < 0)
    return berth_err_set(err, 0, "spec: malformed records");
  if (s->n_args == 0)
    return berth_err_set(err, 0, "spec: no args");
  if (s->cwd == NULL)
    s->cwd = xstrdup("/");
  return 0;
}

static void strv_free(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void guest_spec_free(struct guest_spec *s)
{
  strv_free(s->args, s->n_args);
  strv_free(s->env, s->n_env);
  free(s->cwd);
  free(s->hostname);
  free(s->resources);
  free(s->cgroups_path);
  free(s->gids);
  for (size_t i = 0; i < s->n_mounts; i++) {
    free(s->mounts[i].dest);
    free(s->mounts[i].type);
    free(s->mounts[i].data);
  }
  free(s->mounts);
  free(s->rlimits);
  free(s->seccomp);
  *s = (struct guest_spec){0};
}

static int mount_one(const struct guest_mount *m, struct berth_err **err)
{
  cleanup_free char *path = xasprintf("%s%s", GUEST_ROOT, m->dest);
  if (mkdir_p(path, 0755, err) < 0)
    return berth_err_wrap(err, "mount %s", m->dest);
  /* No cgroup namespace: the container sees the guest's whole (pure v2)
   * hierarchy, which holds only it. */
  const char *type = strcmp(m->type, "cgroup") == 0 ? "cgroup2" : m->type;
  const char *data = strcmp(type, "cgroup2") == 0 || m->data[0] == '\0' ? NULL : m->data;
  if (mount(type, path, type, m->flags, data) < 0)
    return berth_err_sys(err, "mount %s (%s)", m->dest, type);
  return 0;
}

/* A tmpfs /dev gets the nodes every container has (runc's list); a
 * devtmpfs one has them but not the links (/dev/fd: bash's <(...)). */
static int dev_populate(struct berth_err **err)
{
  static const struct {
    const char *name;
    unsigned maj, min;
  } nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
               {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  static const char *const links[][2] = {{"/proc/self/fd", "fd"},
                                         {"/proc/self/fd/0", "stdin"},
                                         {"/proc/self/fd/1", "stdout"},
                                         {"/proc/self/fd/2", "stderr"},
                                         {"pts/ptmx", "ptmx"}};
  for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
    cleanup_free char *p = xasprintf("%s/dev/%s", GUEST_ROOT, nodes[i].name);
    if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0 && errno != EEXIST)
      return berth_err_sys(err, "mknod /dev/%s", nodes[i].name);
    chmod(p, 0666); /* umask */
  }
  for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
    cleanup_free char *p = xasprintf("%s/dev/%s", GUEST_ROOT, links[i][1]);
    if (symlink(links[i][0], p) < 0 && errno != EEXIST)
      return berth_err_sys(err, "symlink /dev/%s", links[i][1]);
  }
  return 0;
}

static int rootfs_mount(const struct guest_spec *s, struct berth_err **err)
{
  mkdir(GUEST_ROOT, 0755);
  if (mount("rootfs", GUEST_ROOT, "virtiofs", s->readonly ? MS_RDONLY : 0, NULL) < 0)
    return berth_err_sys(err, "mount the rootfs (virtiofs)");
  for (size_t i = 0; i < s->n_mounts; i++) {
    if (mount_one(&s->mounts[i], err) < 0)
      return -1;
    bool dev =
        strcmp(s->mounts[i].type, "tmpfs") == 0 || strcmp(s->mounts[i].type, "devtmpfs") == 0;
    if (dev && strcmp(s->mounts[i].dest, "/dev") == 0 && dev_populate(err) < 0)
      return -1;
  }
  return 0;
}

/* The device rules a container gets: deny all, the spec's, then the
 * default allow list (as the linux backend does). */
static void device_rules_add(struct cgroup_resources *r)
{
  size_t n = 1 + r->n_devices + cgroup_n_default_devices, k = 0;
  struct cgroup_device_rule *d = xcalloc(n, sizeof(*d));
  d[k++] = (struct cgroup_device_rule){false, 'a', -1, -1, "rwm"};
  for (size_t i = 0; i < r->n_devices; i++)
    d[k++] = r->devices[i];
  for (size_t i = 0; i < cgroup_n_default_devices; i++)
    d[k++] = cgroup_default_devices[i];
  free(r->devices);
  r->devices = d;
  r->n_devices = k;
}

/* cgroupsPath "/" keeps the process in the guest's root cgroup, the one
 * place a v2 hierarchy lets it make sub-cgroups with controllers while it
 * lives there (make check-v2 runs berth itself in the guest that way). */
static int guest_cgroup_make(const struct guest_spec *s, struct cgroup **cg, struct berth_err **err)
{
  if (s->cgroups_path && strcmp(s->cgroups_path, "/") == 0) {
    *cg = NULL;
    return s->resources ? berth_err_set(err, 0, "linux.cgroupsPath \"/\" takes no resources") : 0;
  }
  json_error_t jerr;
  json_t *o = s->resources ? json_loads(s->resources, 0, &jerr) : json_object();
  if (o == NULL)
    return berth_err_set(err, 0, "linux.resources: %s", jerr.text);
  struct cgroup_resources r;
  int ret = cgroup_resources_parse(o, "linux.resources", &r, err);
  json_decref(o);
  if (ret < 0)
    return -1;
  device_rules_add(&r);
  ret = cgroup_create("container", s->cgroups_path, &r, 0, cg, err);
  cgroup_resources_free(&r);
  return ret;
}

static const char *env_get(const struct guest_spec *s, const char *key)
{
  size_t n = strlen(key);
  for (size_t i = 0; i < s->n_env; i++)
    if (strncmp(s->env[i], key, n) == 0 && s->env[i][n] == '=')
      return s->env[i] + n + 1;
  return NULL;
}

/* Is path (inside the rootfs, symlinks resolved there) an executable file? */
static bool exec_ok(int rootfd, const char *path)
{
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
  cleanup_close int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  struct stat sb;
  return fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0111);
}

/* Before the host reports the container created, as the linux backend
 * looks args[0] up at create. */
static int program_lookup(const struct guest_spec *s, struct berth_err **err)
{
  const char *a0 = s->args[0];
  cleanup_close int rootfd = open(GUEST_ROOT, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (strchr(a0, '/')) {
    cleanup_free char *p = a0[0] == '/' ? xstrdup(a0) : xasprintf("%s/%s", s->cwd, a0);
    if (exec_ok(rootfd, p))
      return 0;
    return berth_err_set(err, ENOENT, "exec: \"%s\"", a0);
  }
  const char *path = env_get(s, "PATH");
  cleanup_free char *dirs = xstrdup(path ? path
                                         : "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                           "/usr/bin:/sbin:/bin");
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    cleanup_free char *p = xasprintf("%s/%s", d, a0);
    if (exec_ok(rootfd, p))
      return 0;
  }
  berth_err_set(err, 0, "exec: \"%s\": executable file not found in $PATH", a0);
  (*err)->errnum = ENOENT;
  return -1;
}

int guest_prepare(const struct guest_spec *s, struct cgroup **cg, struct berth_err **err)
{
  if (rootfs_mount(s, err) < 0)
    return -1;
  if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
    return berth_err_sys(err, "sethostname");
  if (guest_cgroup_make(s, cg, err) < 0)
    return -1;
  return program_lookup(s, err);
}

/* The spec's /proc was mounted by the guest init, in its pid namespace:
 * the process's own shows only the container's processes. */
static int proc_remount(const struct guest_spec *s, struct berth_err **err)
{
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct guest_mount *m = &s->mounts[i];
    if (strcmp(m->type, "proc") != 0)
      continue;
    umount2(m->dest, MNT_DETACH);
    if (mount("proc", m->dest, "proc", m->flags, NULL) < 0)
      return berth_err_sys(err, "mount %s", m->dest);
  }
  return 0;
}

/* The main process: GUEST_ROOT as "/" in a mount namespace of its own
 * (switch_root's move: the initramfs rootfs cannot be pivoted away). */
static int root_enter_new(const struct guest_spec *s, struct berth_err **err)
{
  if (unshare(CLONE_NEWNS) < 0 || chdir(GUEST_ROOT) < 0 ||
      mount(GUEST_ROOT, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
    return berth_err_sys(err, "enter the rootfs");
  return proc_remount(s, err);
}

/* An exec'd process: the main process's mount namespace, and its root
 * (the moved rootfs: setns alone would leave us at the namespace's
 * initramfs root below it). */
static int root_enter_join(pid_t join, struct berth_err **err)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/root", (int)join);
  cleanup_close int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)join);
  cleanup_close int mnt = open(path, O_RDONLY | O_CLOEXEC);
  if (root < 0 || mnt < 0)
    return berth_err_sys(err, "open the container's namespaces");
  if (setns(mnt, CLONE_NEWNS) < 0 || fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)
    return berth_err_sys(err, "join the container's mount namespace");
  return 0;
}

/* The user, capabilities and no_new_privs through the linux backend's
 * own code (runtime/caps.c, linked in): it reads only these fields.
 * Without no_new_privs the seccomp filter needs CAP_SYS_ADMIN until
 * execve, as there. */
static int privileges_apply(const struct guest_spec *s, struct berth_err **err)
{
  struct spec u = {.uid = s->uid,
                   .gid = s->gid,
                   .additional_gids = s->gids,
                   .n_additional_gids = s->n_gids,
                   .has_caps = s->has_caps};
  memcpy(u.caps, s->caps, sizeof(u.caps));
  if (user_and_caps_apply(&u, s->seccomp && !s->no_new_privs, err) < 0)
    return -1;
  if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berth_err_sys(err, "set no_new_privs");
  return 0;
}

/* Last before execve, as with the linux backend: the filter berth
 * compiled on the host with the project's seccomp/ code. */
static int seccomp_apply(const struct guest_spec *s, struct berth_err **err)
{
  if (s->seccomp == NULL)
    return 0;
  struct sock_fprog prog = {(unsigned short)(s->seccomp_len / sizeof(struct sock_filter)),
                            (struct sock_filter *)s->seccomp};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->seccomp_flags, &prog) < 0)
    return berth_err_sys(err, "seccomp: install the filter");
  return 0;
}

/* The process's stdio is its terminal's slave (already fds 0-2): make it
 * the controlling terminal of a new session. */
static int session_make(const struct guest_spec *s, struct berth_err **err)
{
  setsid();
  if (s->terminal && ioctl(0, TIOCSCTTY, 0) < 0)
    return berth_err_sys(err, "terminal: make it the controlling terminal");
  return 0;
}

/* Process, after fork: still in the initramfs root, as root. */
static int child_setup(const struct guest_spec *s, const struct cgroup *cg, pid_t join,
                       struct berth_err **err)
{
  if (cg && cgroup_enter_self(cg, false, err) < 0)
    return -1;
  if ((join ? root_enter_join(join, err) : root_enter_new(s, err)) < 0)
    return -1;
  if (session_make(s, err) < 0)
    return -1;
  for (size_t i = 0; i < s->n_rlimits; i++) {
    struct rlimit rl = {s->rlimits[i].soft, s->rlimits[i].hard};
    if (setrlimit(s->rlimits[i].resource, &rl) < 0)
      return berth_err_sys(err, "setrlimit %d", s->rlimits[i].resource);
  }
  if (s->has_umask)
    umask(s->umask);
  if (privileges_apply(s, err) < 0)
    return -1;
  if (chdir(s->cwd) < 0)
    return berth_err_sys(err, "chdir %s", s->cwd);
  return seccomp_apply(s, err);
}

_Noreturn static void process_main(const struct guest_spec *s, const struct cgroup *cg, pid_t join,
                                   const int stdio[3], int report)
{
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int i = 0; i < 3; i++)
    if (dup2(stdio[i], i) < 0)
      _exit(127);
  struct berth_err *e = NULL;
  if (child_setup(s, cg, join, &e) == 0) {
    environ = s->env ? s->env : (char *[]){NULL};
    execvp(s->args[0], s->args);
    berth_err_sys(&e, "exec %s", s->args[0]);
  }
  if (write(report, e->msg, strlen(e->msg)) < 0)
    _exit(126);
  _exit(127);
}

/* A pty from the container's own devpts (its /dev/ptmx, resolved inside
 * its root), owned by the process's uid, as the linux backend makes it. */
static int pty_open(const struct guest_spec *s, pid_t join, int *master, int *slave,
                    struct berth_err **err)
{
  char root[64];
  snprintf(root, sizeof(root), "/proc/%d/root", (int)join);
  cleanup_close int rootfd = open(join ? root : GUEST_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
  cleanup_close int m = (int)syscall(SYS_openat2, rootfd, "/dev/ptmx", &how, sizeof(how));
  int unlock = 0;
  if (m < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0)
    return berth_err_sys(err, "terminal: open the container's /dev/ptmx");
  int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (sl < 0)
    return berth_err_sys(err, "terminal: open pty peer");
  if (fchown(sl, s->uid, (gid_t)-1) < 0) {
    close(sl);
    return berth_err_sys(err, "terminal: chown pty to uid %u", (unsigned)s->uid);
  }
  if (s->rows && s->cols) {
    struct winsize ws = {.ws_row = (unsigned short)s->rows, .ws_col = (unsigned short)s->cols};
    ioctl(m, TIOCSWINSZ, &ws);
  }
  *master = steal_fd(&m);
  *slave = sl;
  return 0;
}

/* stdin, stdout, stderr: pipes ([0][0] the child's stdin; [i][1] its
 * outputs), or all three the terminal's slave. *ours: the parent's ends. */
static int stdio_make(const struct guest_spec *s, pid_t join, int fds[3][2], struct berth_err **err)
{
  for (int i = 0; i < 3; i++)
    fds[i][0] = fds[i][1] = -1;
  if (s->terminal) {
    int m = -1, sl = -1;
    if (pty_open(s, join, &m, &sl, err) < 0)
      return -1;
    fds[0][0] = sl;
    fds[1][1] = fcntl(sl, F_DUPFD_CLOEXEC, 0);
    fds[2][1] = fcntl(sl, F_DUPFD_CLOEXEC, 0);
    fds[0][1] = m;
    fds[1][0] = fcntl(m, F_DUPFD_CLOEXEC, 0);
    return fds[1][0] < 0 || fds[1][1] < 0 || fds[2][1] < 0 ? berth_err_sys(err, "dup") : 0;
  }
  for (int i = 0; i < 3; i++)
    if (pipe2(fds[i], O_CLOEXEC) < 0)
      return berth_err_sys(err, "pipe");
  return 0;
}

static void pipes_close(int fds[3][2])
{
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++)
      if (fds[i][j] >= 0)
        close(fds[i][j]);
}

/* PID 1 of a pid namespace of its own for the main process, as with the
 * linux backend: the same signal rules (no default action for signals
 * from outside but SIGKILL) and its descendants die with it. An exec'd
 * process is forked into that namespace: we enter it for our children
 * only, and go back to our own right after. */
static pid_t fork_for(pid_t join, struct berth_err **err)
{
  if (join == 0)
    return (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)join);
  cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
  cleanup_close int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (ns < 0 || own < 0 || setns(ns, CLONE_NEWPID) < 0)
    return berth_err_sys(err, "join the container's pid namespace");
  pid_t pid = fork();
  if (pid != 0 && setns(own, CLONE_NEWPID) < 0)
    abort(); /* our next children would land in the container */
  return pid;
}

int guest_spawn(const struct guest_spec *s, const struct cgroup *cg, pid_t join,
                struct guest_proc *p, struct berth_err **err)
{
  int fds[3][2], rep[2] = {-1, -1};
  if (stdio_make(s, join, fds, err) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
    pipes_close(fds);
    return *err ? -1 : berth_err_sys(err, "pipe");
  }
  int child_ends[3] = {fds[0][0], fds[1][1], fds[2][1]};
  pid_t pid = fork_for(join, err);
  if (pid == 0)
    process_main(s, cg, join, child_ends, rep[1]);
  close(rep[1]);
  *p = (struct guest_proc){pid, fds[0][1], fds[1][0], s->terminal ? -1 : fds[2][0]};
  fds[0][1] = fds[1][0] = -1;
  if (!s->terminal)
    fds[2][0] = -1;
  pipes_close(fds);
  char msg[1024];
  ssize_t n = pid < 0 ? -1 : read(rep[0], msg, sizeof(msg) - 1);
  close(rep[0]);
  if (pid > 0 && n <= 0)
    return 0;
  int ours[3][2] = {{p->in, p->out}, {p->err, -1}, {-1, -1}};
  pipes_close(ours);
  p->pid = -1;
  if (pid < 0)
    return *err ? -1 : berth_err_sys(err, "fork");
  msg[n] = '\0';
  waitpid(pid, NULL, 0);
  return berth_err_set(err, 0, "%s", msg);
}
