/* `berth features`: what this build supports, per the runtime-spec's
 * features document. Only what works today is listed. */
#include <sys/capability.h>

#include "../common/fileutil.h"
#include "runtime.h"
#include "spec.h"

static json_t *strings(const char *const *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

#define STRINGS(v) strings((v), sizeof(v) / sizeof((v)[0]))

char *runtime_features_json(void)
{
  static const char *const hooks[] = {"prestart",       "createRuntime", "createContainer",
                                      "startContainer", "poststart",     "poststop"};
  static const char *const mount_options[] = {
      "async",      "atime",     "bind",       "defaults",      "dev",
      "diratime",   "dirsync",   "exec",       "lazytime",      "loud",
      "mand",       "noatime",   "nodev",      "nodiratime",    "noexec",
      "nolazytime", "nomand",    "norelatime", "nostrictatime", "nosuid",
      "private",    "rbind",     "relatime",   "remount",       "ro",
      "rprivate",   "rshared",   "rslave",     "runbindable",   "rw",
      "shared",     "silent",    "slave",      "strictatime",   "suid",
      "sync",       "unbindable"};
  static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network",
                                           "pid",    "uts", "time",  "user"};
  json_t *o = json_object();
  json_object_set_new(o, "ociVersionMin", json_string("1.0.0"));
  json_object_set_new(o, "ociVersionMax", json_string("1.2.0"));
  json_object_set_new(o, "hooks", STRINGS(hooks));
  json_object_set_new(o, "mountOptions", STRINGS(mount_options));

  json_t *lx = json_object();
  json_object_set_new(lx, "namespaces", STRINGS(namespaces));
  json_t *caps = json_array();
  for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
    char *name = cap_to_name(c);
    if (name == NULL)
      continue;
    char *up = xasprintf("%s", name);
    for (char *p = up; *p; p++)
      *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    json_array_append_new(caps, json_string(up));
    free(up);
    cap_free(name);
  }
  json_object_set_new(lx, "capabilities", caps);
  json_t *cgroup = json_object();
  json_object_set_new(cgroup, "v1", json_true());
  json_object_set_new(cgroup, "v2", json_true());
  json_object_set_new(cgroup, "systemd", json_false());
  json_object_set_new(cgroup, "systemdUser", json_false());
  json_object_set_new(cgroup, "rdma", json_false());
  json_object_set_new(lx, "cgroup", cgroup);
  static const char *const actions[] = {
      "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
      "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
      "SCMP_ACT_TRACE",        "SCMP_ACT_TRAP",        "SCMP_ACT_NOTIFY"};
  static const char *const operators[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                          "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                                          "SCMP_CMP_NE"};
  static const char *const archs[] = {"SCMP_ARCH_X86",   "SCMP_ARCH_X86_64",  "SCMP_ARCH_X32",
                                      "SCMP_ARCH_ARM",   "SCMP_ARCH_AARCH64", "SCMP_ARCH_PPC64LE",
                                      "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64"};
  static const char *const flags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                      "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  json_t *seccomp = json_object();
  json_object_set_new(seccomp, "enabled", json_true());
  json_object_set_new(seccomp, "actions", STRINGS(actions));
  json_object_set_new(seccomp, "operators", STRINGS(operators));
  json_object_set_new(seccomp, "archs", STRINGS(archs));
  json_object_set_new(seccomp, "knownFlags", STRINGS(flags));
  json_object_set_new(seccomp, "supportedFlags", STRINGS(flags));
  json_object_set_new(lx, "seccomp", seccomp);
  json_t *off = json_object();
  json_object_set_new(off, "enabled", json_false());
  json_object_set_new(lx, "apparmor", json_deep_copy(off));
  json_object_set_new(lx, "selinux", json_deep_copy(off));
  json_object_set_new(lx, "intelRdt", json_deep_copy(off));
  json_t *ext = json_object();
  json_t *idmap = json_object();
  json_object_set_new(idmap, "enabled", json_true());
  json_object_set_new(ext, "idmap", idmap);
  json_object_set_new(lx, "mountExtensions", ext);
  json_decref(off);
  json_object_set_new(o, "linux", lx);

  json_t *ann = json_object();
  json_object_set_new(ann, "dev.berth.backend", json_string("linux"));
  json_object_set_new(o, "annotations", ann);
  char *text = json_dumps(o, JSON_INDENT(2));
  json_decref(o);
  return text;
}
