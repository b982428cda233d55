/* Translation of the OCI seccomp profile. libseccomp does the hard part
 * (syscall numbers per architecture, argument comparisons, the BPF); we
 * export its program and install it with seccomp(2) ourselves, so the
 * child only makes one syscall and allocates nothing. */
#include "seccomp.h"

#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "../common/fdpass.h"
#include "../common/fileutil.h"
#include "../common/jsonfield.h"
#include "internal.h"

static int parse_action(const char *prefix, const char *path, const char *name, bool has_errno,
                        long long errno_ret, uint32_t *out, struct berth_err **err)
{
  int e = has_errno ? (int)errno_ret : EPERM;
  if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO((uint16_t)e);
  else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE((uint16_t)e);
  else if (strcmp(name, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
    *out = SCMP_ACT_NOTIFY;
  else
    return berth_err_set(err, 0, "%s%s: unknown action \"%s\"", prefix, path, name);
  return 0;
}

static int parse_arch(const char *prefix, const char *path, const char *name, uint32_t *out,
                      struct berth_err **err)
{
  /* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64" */
  char lower[64];
  if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof(lower))
    return berth_err_set(err, 0, "%s%s: unknown architecture \"%s\"", prefix, path, name);
  size_t i = 0;
  for (const char *p = name + 10; *p; p++)
    lower[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
  lower[i] = '\0';
  *out = seccomp_arch_resolve_name(lower);
  if (*out == 0)
    return berth_err_set(err, 0, "%s%s: unknown architecture \"%s\"", prefix, path, name);
  return 0;
}

static int parse_flags(const char *prefix, json_t *obj, unsigned int *out, struct berth_err **err)
{
  static const struct {
    const char *name;
    unsigned int flag;
  } table[] = {
      {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
      {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
      {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
      {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1U << 5},
  };
  json_t *arr = NULL;
  if (jf_array(obj, "flags", prefix, "flags", &arr, err) < 0)
    return -1;
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e) {
    const char *name = json_string_value(e);
    bool found = false;
    for (size_t k = 0; name && k < sizeof(table) / sizeof(table[0]); k++)
      if (strcmp(name, table[k].name) == 0) {
        *out |= table[k].flag;
        found = true;
      }
    if (!found)
      return berth_err_set(err, 0, "%sflags[%zu]: unknown flag \"%s\"", prefix, i,
                           name ? name : "(not a string)");
  }
  return 0;
}

static int parse_op(const char *name, enum scmp_compare *out)
{
  static const struct {
    const char *name;
    enum scmp_compare op;
  } table[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
               {"SCMP_CMP_LT", SCMP_CMP_LT},
               {"SCMP_CMP_LE", SCMP_CMP_LE},
               {"SCMP_CMP_EQ", SCMP_CMP_EQ},
               {"SCMP_CMP_GE", SCMP_CMP_GE},
               {"SCMP_CMP_GT", SCMP_CMP_GT},
               {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(name, table[i].name) == 0) {
      *out = table[i].op;
      return 0;
    }
  return -1;
}

/* args[] -> comparisons; *same_arg when two compare the same argument. */
static int parse_args(const char *prefix, const char *path, json_t *args, struct scmp_arg_cmp *cmp,
                      unsigned *n, bool *same_arg, struct berth_err **err)
{
  size_t i;
  json_t *a;
  unsigned seen = 0;
  *n = 0;
  *same_arg = false;
  json_array_foreach (args, i, a) {
    char p[320];
    snprintf(p, sizeof(p), "%s.args[%zu]", path, i);
    if (!json_is_object(a) || i >= 6)
      return berth_err_set(err, 0, "%s%s: must be an object (at most 6 per rule)", prefix, p);
    long long index = -1, value = 0, value2 = 0;
    char *op = NULL;
    char f[360];
    snprintf(f, sizeof(f), "%s.index", p);
    if (jf_int(a, "index", prefix, f, 0, 5, &index, err) < 0)
      return -1;
    if (index < 0)
      return berth_err_set(err, 0, "%s%s.index: is required", prefix, p);
    snprintf(f, sizeof(f), "%s.value", p);
    if (jf_int(a, "value", prefix, f, LLONG_MIN, LLONG_MAX, &value, err) < 0)
      return -1;
    snprintf(f, sizeof(f), "%s.valueTwo", p);
    if (jf_int(a, "valueTwo", prefix, f, LLONG_MIN, LLONG_MAX, &value2, err) < 0)
      return -1;
    snprintf(f, sizeof(f), "%s.op", p);
    if (jf_string(a, "op", prefix, f, &op, err) < 0)
      return -1;
    enum scmp_compare c;
    if (parse_op(op, &c) < 0) {
      berth_err_set(err, 0, "%s%s.op: unknown operator \"%s\"", prefix, p, op ? op : "");
      free(op);
      return -1;
    }
    free(op);
    if (seen & (1U << index))
      *same_arg = true;
    seen |= 1U << index;
    cmp[(*n)++] =
        (struct scmp_arg_cmp){(unsigned)index, c, (scmp_datum_t)value, (scmp_datum_t)value2};
  }
  return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const struct scmp_arg_cmp *cmp,
                    unsigned n, bool same_arg)
{
  /* Several comparisons of one argument: libseccomp wants them as separate
   * rules, which match if any does (runc's reading of the spec). */
  if (!same_arg)
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
  for (unsigned i = 0; i < n; i++) {
    int r = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[i]);
    if (r < 0)
      return r;
  }
  return 0;
}

static bool profile_notifies(json_t *obj, const char *name);

static int add_syscalls(scmp_filter_ctx ctx, const char *prefix, json_t *obj, uint32_t def,
                        struct berth_err **err)
{
  json_t *arr = NULL;
  if (jf_array(obj, "syscalls", prefix, "syscalls", &arr, err) < 0)
    return -1;
  size_t i;
  json_t *rule;
  json_array_foreach (arr, i, rule) {
    char p[64];
    snprintf(p, sizeof(p), "syscalls[%zu]", i);
    if (!json_is_object(rule))
      return berth_err_set(err, 0, "%s%s: must be an object", prefix, p);
    char *action_name = NULL, f[128];
    snprintf(f, sizeof(f), "%s.action", p);
    if (jf_string(rule, "action", prefix, f, &action_name, err) < 0)
      return -1;
    cleanup_free char *an = action_name;
    if (an == NULL)
      return berth_err_set(err, 0, "%s%s: is required", prefix, f);
    long long eret = 0;
    snprintf(f, sizeof(f), "%s.errnoRet", p);
    int has = jf_int(rule, "errnoRet", prefix, f, 0, 4095, &eret, err);
    if (has < 0)
      return -1;
    uint32_t action = 0;
    snprintf(f, sizeof(f), "%s.action", p);
    if (parse_action(prefix, f, an, has, eret, &action, err) < 0)
      return -1;
    struct scmp_arg_cmp cmp[6];
    unsigned n;
    bool same;
    json_t *args = NULL;
    snprintf(f, sizeof(f), "%s.args", p);
    if (jf_array(rule, "args", prefix, f, &args, err) < 0 ||
        parse_args(prefix, p, args, cmp, &n, &same, err) < 0)
      return -1;
    json_t *names = NULL;
    snprintf(f, sizeof(f), "%s.names", p);
    if (jf_array(rule, "names", prefix, f, &names, err) < 0)
      return -1;
    if (names == NULL || json_array_size(names) == 0)
      return berth_err_set(err, 0, "%s%s: must be a non-empty array", prefix, f);
    if (action == def)
      continue; /* libseccomp refuses rules that do what the default does */
    size_t k;
    json_t *nm;
    json_array_foreach (names, k, nm) {
      const char *name = json_string_value(nm);
      if (name == NULL)
        return berth_err_set(err, 0, "%s%s[%zu]: must be a string", prefix, f, k);
      /* Between installing the filter and handing the listener over,
       * berth makes one syscall: sendmsg, or sendmmsg when sendmsg is
       * notified. Both notified would wait for an agent without its fd. */
      if (action == SCMP_ACT_NOTIFY && strcmp(name, "sendmmsg") == 0 &&
          profile_notifies(obj, "sendmsg"))
        return berth_err_set(err, 0,
                             "%s%s: SCMP_ACT_NOTIFY cannot be used for both sendmsg and sendmmsg "
                             "(berth hands the listener to the agent with one of them)",
                             prefix, p);
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR)
        continue; /* newer than libseccomp or this architecture: skipped, as runc does */
      int r = add_rule(ctx, action, nr, cmp, n, same);
      if (r < 0 && r != -EEXIST)
        return berth_err_set(err, -r, "%s%s: rule for \"%s\"", prefix, p, name);
    }
  }
  return 0;
}

/* The highest native syscall number the profile names (any action), or -1
 * when its architectures do not list the native one (runc makes its stub
 * only for the architectures a profile lists). Called on a profile
 * seccomp_compile has already checked. */
static int profile_max_nr(json_t *obj)
{
  int max = -1;
  bool native = false;
  json_t *a;
  size_t i, k;
  json_array_foreach (json_object_get(obj, "architectures"), i, a) {
    uint32_t arch = 0;
    struct berth_err *e = NULL;
    if (parse_arch("", "", json_string_value(a) ? json_string_value(a) : "", &arch, &e) == 0)
      native = native || arch == seccomp_arch_native();
    berth_err_free(&e);
  }
  if (!native)
    return -1;
  json_t *rule, *nm;
  json_array_foreach (json_object_get(obj, "syscalls"), i, rule) {
    json_array_foreach (json_object_get(rule, "names"), k, nm) {
      int nr = seccomp_syscall_resolve_name(json_string_value(nm));
      if (nr != __NR_SCMP_ERROR && nr > max)
        max = nr;
    }
  }
  return max;
}

/* Syscalls newer than every one the profile names get ENOSYS, not the
 * default action, as with runc: a profile written before a syscall existed
 * cannot mean to refuse it, and ENOSYS (unlike EPERM) makes libc fall back
 * to an older call (clone3 -> clone, faccessat2 -> faccessat). Native
 * architecture only, x32 numbers excluded; prepended to the program, which
 * starts by loading the architecture itself. */
static int enosys_stub(struct seccomp_filter *f, uint32_t def, int max_nr)
{
  if (max_nr < 0 || def == SCMP_ACT_ALLOW || def == SCMP_ACT_LOG)
    return 0;
  uint32_t arch = seccomp_arch_native();
  struct sock_filter stub[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 2, 0), /* x32 */
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max_nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
  };
  size_t n = sizeof(stub) / sizeof(stub[0]);
  if (f->prog.len + n > BPF_MAXINSNS)
    return 0;
  struct sock_filter *p = xcalloc(f->prog.len + n, sizeof(*p));
  memcpy(p, stub, sizeof(stub));
  memcpy(p + n, f->prog.filter, f->prog.len * sizeof(*p));
  free(f->prog.filter);
  f->prog.filter = p;
  f->prog.len = (unsigned short)(f->prog.len + n);
  return 0;
}

/* libseccomp writes the program to an fd: a memfd, read back. */
static int export_bpf(scmp_filter_ctx ctx, struct seccomp_filter *f, struct berth_err **err)
{
  cleanup_close int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return berth_err_sys(err, "seccomp: memfd_create");
  int r = seccomp_export_bpf(ctx, fd);
  if (r < 0)
    return berth_err_set(err, -r, "seccomp: export the filter");
  off_t len = lseek(fd, 0, SEEK_END);
  if (len <= 0 || len % (off_t)sizeof(struct sock_filter) != 0 ||
      len / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
    return berth_err_set(err, E2BIG, "seccomp: filter of %lld bytes", (long long)len);
  f->prog.filter = xcalloc((size_t)len, 1);
  f->prog.len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
  if (pread(fd, f->prog.filter, (size_t)len, 0) != len)
    return berth_err_sys(err, "seccomp: read the filter");
  return 0;
}

int seccomp_compile(json_t *obj, const char *path, struct seccomp_filter **out,
                    struct berth_err **err)
{
  *out = NULL;
  if (obj == NULL || json_is_null(obj))
    return 0;
  if (!json_is_object(obj))
    return berth_err_set(err, 0, "%s: must be an object", path);
  char prefix[128];
  snprintf(prefix, sizeof(prefix), "%s.", path);

  cleanup_free char *def_name = NULL;
  if (jf_string(obj, "defaultAction", prefix, "defaultAction", &def_name, err) < 0)
    return -1;
  if (def_name == NULL)
    return berth_err_set(err, 0, "%sdefaultAction: is required", prefix);
  long long def_errno = 0;
  int has = jf_int(obj, "defaultErrnoRet", prefix, "defaultErrnoRet", 0, 4095, &def_errno, err);
  if (has < 0)
    return -1;
  uint32_t def = 0;
  if (parse_action(prefix, "defaultAction", def_name, has, def_errno, &def, err) < 0)
    return -1;
  if (def == SCMP_ACT_NOTIFY)
    return berth_err_set(err, 0, "%sdefaultAction: SCMP_ACT_NOTIFY cannot be the default", prefix);

  struct seccomp_filter *f = xcalloc(1, sizeof(*f));
  scmp_filter_ctx ctx = seccomp_init(def);
  int ret = -1;
  if (ctx == NULL) {
    berth_err_set(err, EINVAL, "seccomp: init");
    goto out;
  }
  /* Bad architecture-specific syscall numbers must not fall through. */
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  /* A binary tree instead of a chain: every syscall the container makes
   * walks the filter, ~9 tests instead of ~300 for a Docker-sized profile. */
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  json_t *arches = NULL;
  if (jf_array(obj, "architectures", prefix, "architectures", &arches, err) < 0)
    goto out;
  size_t i;
  json_t *a;
  json_array_foreach (arches, i, a) {
    uint32_t arch = 0;
    char p[64];
    snprintf(p, sizeof(p), "architectures[%zu]", i);
    if (parse_arch(prefix, p, json_string_value(a) ? json_string_value(a) : "", &arch, err) < 0)
      goto out;
    int r = seccomp_arch_add(ctx, arch);
    if (r < 0 && r != -EEXIST) {
      berth_err_set(err, -r, "%s%s: add architecture", prefix, p);
      goto out;
    }
  }
  if (parse_flags(prefix, obj, &f->flags, err) < 0 ||
      add_syscalls(ctx, prefix, obj, def, err) < 0 || export_bpf(ctx, f, err) < 0 ||
      enosys_stub(f, def, profile_max_nr(obj)) < 0 ||
      seccomp_listener_parse(obj, prefix, f, err) < 0)
    goto out;
  *out = f;
  f = NULL;
  ret = 0;
out:
  if (ctx)
    seccomp_release(ctx);
  seccomp_filter_free(f);
  return ret;
}

/* Does any rule notify (on the syscall `name`, when not NULL)? */
static bool profile_notifies(json_t *obj, const char *name)
{
  size_t i, k;
  json_t *rule, *nm;
  json_array_foreach (json_object_get(obj, "syscalls"), i, rule) {
    const char *a = json_string_value(json_object_get(rule, "action"));
    if (a == NULL || strcmp(a, "SCMP_ACT_NOTIFY") != 0)
      continue;
    if (name == NULL)
      return true;
    json_array_foreach (json_object_get(rule, "names"), k, nm)
      if (json_string_value(nm) && strcmp(json_string_value(nm), name) == 0)
        return true;
  }
  return false;
}

int seccomp_listener_parse(json_t *obj, const char *prefix, struct seccomp_filter *f,
                           struct berth_err **err)
{
  const char *lp = json_string_value(json_object_get(obj, "listenerPath"));
  const char *md = json_string_value(json_object_get(obj, "listenerMetadata"));
  bool notify = profile_notifies(obj, NULL);
  if (lp && lp[0] && lp[0] != '/')
    return berth_err_set(err, 0, "%slistenerPath: must be an absolute path", prefix);
  if (notify && !(lp && lp[0]))
    return berth_err_set(err, 0, "%slistenerPath: is required with SCMP_ACT_NOTIFY", prefix);
  if (!notify)
    return 0;
  if (strlen(lp) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return berth_err_set(err, 0, "%slistenerPath: too long for a unix socket", prefix);
  f->listener_path = xstrdup(lp);
  f->listener_metadata = xstrdup(md ? md : "");
  f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  f->listener_mmsg = profile_notifies(obj, "sendmsg");
  return 0;
}

int seccomp_listener_connect(const struct seccomp_filter *f, struct berth_err **err)
{
  if (f == NULL || f->listener_path == NULL)
    return -1;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->listener_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    berth_err_sys(err, "seccomp listenerPath %s", f->listener_path);
    if (s >= 0)
      close(s);
    return -2;
  }
  return s;
}

char *seccomp_listener_message(const struct seccomp_filter *f, const char *state_json, pid_t pid)
{
  json_t *state = json_loads(state_json, 0, NULL);
  json_t *o = json_pack("{s:s, s:[s], s:i, s:s, s:o}", "ociVersion", "1.2.0", "fds", "seccompFd",
                        "pid", (json_int_t)pid, "metadata", f->listener_metadata, "state",
                        state ? state : json_object());
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return text;
}

int seccomp_listener_send(int sock, int listener, const struct seccomp_filter *f, const char *msg,
                          struct berth_err **err)
{
  if (msg == NULL)
    return berth_err_set(err, ENOMEM, "seccomp: encode the process state");
  ssize_t n = fd_send_via(sock, msg, strlen(msg), listener, f->listener_mmsg);
  if (n < 0)
    return berth_err_sys(err, "seccomp: send the listener to %s", f->listener_path);
  return 0;
}

int seccomp_install(const struct seccomp_filter *f, int *listener, struct berth_err **err)
{
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &f->prog);
  if (r < 0)
    return berth_err_sys(err, "seccomp: install the filter");
  if (listener)
    *listener = (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? (int)r : -1;
  return 0;
}

const void *seccomp_filter_bytes(const struct seccomp_filter *f, size_t *len, unsigned *flags,
                                 bool *notify)
{
  *len = (size_t)f->prog.len * sizeof(struct sock_filter);
  *flags = f->flags;
  *notify = (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
  return f->prog.filter;
}

void seccomp_filter_free(struct seccomp_filter *f)
{
  if (f == NULL)
    return;
  free(f->prog.filter);
  free(f->listener_path);
  free(f->listener_metadata);
  free(f);
}

void seccomp_library_version(char *buf, size_t len)
{
  const struct scmp_version *v = seccomp_version();
  if (v == NULL)
    snprintf(buf, len, "unknown");
  else
    snprintf(buf, len, "%u.%u.%u", v->major, v->minor, v->micro);
}
