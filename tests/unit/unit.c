/* Unit tests for pure logic: config.json validation, IDs, signals, mount
 * options, sysctl namespacing. Prints "N passed, N failed". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "../../runtime/runtime.h"
#include "../../runtime/linux.h"
#include "../../runtime/spec.h"
#include "check.h"

int unit_passed, unit_failed;

/* A minimal valid config; `extra` is spliced in as more top-level members
 * or replaces `process`/`linux` when they are named in it. */
static char *config(const char *process, const char *lx, const char *extra)
{
  char *s = NULL;
  if (asprintf(&s,
               "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
               "\"process\":%s,\"linux\":%s%s%s}",
               process ? process : "{\"args\":[\"sh\"],\"cwd\":\"/\"}",
               lx ? lx
                  : "{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"uts\"},"
                    "{\"type\":\"ipc\"},{\"type\":\"network\"}]}",
               extra ? "," : "", extra ? extra : "") < 0)
    abort();
  return s;
}

/* Expects parsing to fail with a message containing `want`. */
static void expect_bad(const char *json, const char *want, int line)
{
  struct spec *s = NULL;
  struct berth_err *err = NULL;
  int r = spec_parse(json, "/bundle", NULL, &s, &err);
  if (r == 0) {
    unit_failed++;
    printf("not ok: line %d: accepted, wanted error containing '%s'\n", line, want);
    spec_free(s);
    return;
  }
  if (strstr(err->msg, want) == NULL || strncmp(err->msg, "config.json: ", 13) != 0) {
    unit_failed++;
    printf("not ok: line %d: error '%s' lacks '%s'\n", line, err->msg, want);
  } else {
    unit_passed++;
  }
  berth_err_free(&err);
}

static struct spec *expect_ok(const char *json, int line)
{
  struct spec *s = NULL;
  struct berth_err *err = NULL;
  if (spec_parse(json, "/bundle", NULL, &s, &err) < 0) {
    unit_failed++;
    printf("not ok: line %d: rejected: %s\n", line, err->msg);
    berth_err_free(&err);
    return NULL;
  }
  unit_passed++;
  return s;
}

#define BAD(json, want)                                                                            \
  do {                                                                                             \
    char *j_ = (json);                                                                             \
    expect_bad(j_, want, __LINE__);                                                                \
    free(j_);                                                                                      \
  } while (0)

static void test_spec_valid(void)
{
  char *j = config("{\"args\":[\"sh\",\"-c\",\"true\"],\"cwd\":\"/tmp\",\"env\":[\"A=1\"],"
                   "\"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6]},"
                   "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200}],"
                   "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],"
                   "\"effective\":[\"CAP_KILL\"]},\"noNewPrivileges\":true,\"oomScoreAdj\":-5}",
                   NULL,
                   "\"hostname\":\"h\",\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\","
                   "\"source\":\"data\",\"options\":[\"rbind\",\"ro\",\"nosuid\",\"rslave\","
                   "\"size=1k\"]}],\"unknownField\":{\"x\":1}");
  struct spec *s = expect_ok(j, __LINE__);
  free(j);
  if (s == NULL)
    return;
  CHECK(strcmp(s->rootfs, "/bundle/rootfs") == 0, "rootfs %s", s->rootfs);
  CHECK(strcmp(s->args[2], "true") == 0 && s->args[3] == NULL, "args");
  CHECK(s->uid == 1000 && s->gid == 100 && s->umask == 022 && s->has_umask, "user");
  CHECK(s->n_additional_gids == 2 && s->additional_gids[1] == 6, "additionalGids");
  CHECK(s->n_rlimits == 1 && s->rlimits[0].resource == RLIMIT_NOFILE && s->rlimits[0].soft == 100 &&
            s->rlimits[0].hard == 200,
        "rlimits");
  CHECK(s->caps[CAP_SET_BOUNDING] == ((1ULL << 5) | (1ULL << 0)), "bounding %llx",
        (unsigned long long)s->caps[CAP_SET_BOUNDING]);
  CHECK(s->caps[CAP_SET_INHERITABLE] == 0, "inheritable empty unless asked");
  CHECK(s->no_new_privileges && s->has_oom_score_adj && s->oom_score_adj == -5, "nnp/oom");
  CHECK(s->n_mounts == 1 && s->mounts[0].bind, "bind mount");
  CHECK(strcmp(s->mounts[0].source, "/bundle/data") == 0, "bind source resolved: %s",
        s->mounts[0].source);
  CHECK((s->mounts[0].flags & (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID)) ==
            (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID),
        "mount flags");
  CHECK(s->mounts[0].propagation == (MS_SLAVE | MS_REC), "propagation");
  CHECK(s->mounts[0].data && strcmp(s->mounts[0].data, "size=1k") == 0, "data");
  CHECK(s->ns[NS_PID].enabled && !s->ns[NS_CGROUP].enabled, "namespaces");
  spec_free(s);

  /* A seccomp profile with argument conditions, unknown names skipped. */
  j = config(NULL,
             "{\"namespaces\":[{\"type\":\"mount\"}],\"seccomp\":{\"defaultAction\":"
             "\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"architectures\":[\"SCMP_ARCH_X86_64\","
             "\"SCMP_ARCH_X86\"],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],\"syscalls\":[{\"names\":"
             "[\"read\",\"write\",\"no_such_call\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":"
             "[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":8,"
             "\"op\":\"SCMP_CMP_GE\"},{\"index\":0,\"value\":16,\"op\":\"SCMP_CMP_LE\"}]}]}}",
             NULL);
  s = expect_ok(j, __LINE__);
  CHECK(s && s->seccomp != NULL, "seccomp compiled");
  spec_free(s);
  free(j);

  /* The default config `berth spec` writes is itself valid. */
  char *def = spec_default_json();
  s = expect_ok(def, __LINE__);
  CHECK(s && s->terminal, "default has terminal");
  if (s) {
    CHECK(s->n_mounts == 7 && s->masked_paths && s->readonly_paths, "default mounts/paths");
    CHECK(s->root_readonly && s->no_new_privileges, "default ro root, nnp");
  }
  spec_free(s);
  free(def);

  /* `berth spec --rootless`: valid, with a user namespace mapping the ids
   * given, no cgroup mount, /sys bound. */
  def = spec_default_json_for(true, 1234, 5678);
  s = expect_ok(def, __LINE__);
  CHECK(s && s->ns[NS_USER].enabled && s->n_uid_mappings == 1 &&
            s->uid_mappings[0].host_id == 1234 && s->gid_mappings[0].host_id == 5678,
        "rootless default maps the caller");
  bool cgroup_mount = false, sys_bind = false;
  for (size_t i = 0; s && i < s->n_mounts; i++) {
    cgroup_mount = cgroup_mount || strcmp(s->mounts[i].destination, "/sys/fs/cgroup") == 0;
    sys_bind = sys_bind || (strcmp(s->mounts[i].destination, "/sys") == 0 && s->mounts[i].bind);
  }
  CHECK(!cgroup_mount && sys_bind, "rootless default: no cgroup mount, /sys bound");
  spec_free(s);
  free(def);
}

static void test_spec_invalid(void)
{
  BAD(strdup("{"), "invalid JSON");
  BAD(strdup("[]"), "must be a JSON object");
  BAD(strdup("{\"ociVersion\":1,\"root\":{\"path\":\"r\"}}"), "ociVersion: must be a string");
  BAD(strdup("{\"ociVersion\":\"1.2.0\"}"), "root: must be an object");
  BAD(strdup("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"\"}}"), "root.path: must be");
  BAD(strdup("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\",\"readonly\":\"yes\"}}"),
      "root.readonly: must be a boolean");
  BAD(config("{\"args\":[]}", NULL, NULL), "process.args: must be a non-empty array");
  BAD(config("{\"args\":[\"sh\",1]}", NULL, NULL), "process.args[1]: must be a string");
  BAD(config("{\"args\":[\"sh\"],\"cwd\":\"tmp\"}", NULL, NULL),
      "process.cwd: must be an absolute path");
  BAD(config("{\"args\":[\"sh\"],\"env\":[\"FOO\"]}", NULL, NULL), "process.env[0]");
  BAD(config("{\"args\":[\"sh\"],\"user\":{\"uid\":-1}}", NULL, NULL), "process.user.uid");
  BAD(config("{\"args\":[\"sh\"],\"user\":{\"umask\":512}}", NULL, NULL), "process.user.umask");
  BAD(config("{\"args\":[\"sh\"],\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]}",
             NULL, NULL),
      "process.rlimits[0].type: unknown rlimit");
  BAD(config("{\"args\":[\"sh\"],\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,"
             "\"hard\":5}]}",
             NULL, NULL),
      "soft limit 10 exceeds hard limit 5");
  BAD(config("{\"args\":[\"sh\"],\"capabilities\":{\"bounding\":[\"CAP_FOO\"]}}", NULL, NULL),
      "process.capabilities.bounding[0]: unknown capability");
  BAD(config("{\"args\":[\"sh\"],\"capabilities\":{\"effective\":[\"cap_kill\"]}}", NULL, NULL),
      "unknown capability \"cap_kill\"");
  BAD(config("{\"args\":[\"sh\"],\"oomScoreAdj\":5000}", NULL, NULL), "process.oomScoreAdj");
  BAD(config("{\"args\":[\"sh\"],\"terminal\":1}", NULL, NULL),
      "process.terminal: must be a boolean");
  BAD(config("{\"args\":[\"sh\"],\"consoleSize\":{\"height\":-1}}", NULL, NULL),
      "process.consoleSize.height");
  BAD(config(NULL, NULL, "\"mounts\":{}"), "mounts: must be an array");
  BAD(config(NULL, NULL, "\"mounts\":[{\"destination\":\"tmp\",\"type\":\"tmpfs\"}]"),
      "mounts[0].destination: must be an absolute path");
  BAD(config(NULL, NULL, "\"mounts\":[{\"destination\":\"/a/../b\",\"type\":\"tmpfs\"}]"),
      "mounts[0].destination: must not contain");
  BAD(config(NULL, NULL, "\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\"}]"),
      "mounts[0].source: a bind mount needs a source");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"foo\"}]}", NULL),
      "linux.namespaces[0].type: unknown namespace type");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}", NULL),
      "linux.namespaces[1].type: duplicate namespace type");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"network\",\"path\":\"run/x\"}]}", NULL),
      "linux.namespaces[0].path: must be an absolute path");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"mount\"}]}", "\"hostname\":\"x\""),
      "hostname: needs a uts namespace");
  BAD(config(NULL,
             "{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"ipc\"}],"
             "\"sysctl\":{\"kernel.foo\":\"1\"}}",
             NULL),
      "linux.sysctl[\"kernel.foo\"]: sysctl \"kernel.foo\" is not namespaced");
  BAD(config(NULL,
             "{\"namespaces\":[{\"type\":\"mount\"}],"
             "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}",
             NULL),
      "needs a network namespace");
  BAD(config(NULL,
             "{\"namespaces\":[{\"type\":\"network\"}],"
             "\"sysctl\":{\"net/../../kernel/x\":\"1\"}}",
             NULL),
      "invalid sysctl name");
  BAD(config(NULL, "{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"x\"}]}", NULL),
      "linux.devices[0].type");
  BAD(config(NULL, "{\"devices\":[{\"path\":\"dev/x\",\"type\":\"c\",\"major\":1,\"minor\":1}]}",
             NULL),
      "linux.devices[0].path: must be an absolute path");
  BAD(config(NULL, "{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\"}]}", NULL),
      "major and minor are required");
  BAD(config(NULL, "{\"rootfsPropagation\":\"bogus\"}", NULL), "linux.rootfsPropagation");
  BAD(config(NULL, "{\"maskedPaths\":[\"proc/kcore\"]}", NULL), "linux.maskedPaths[0]");
  BAD(config(NULL, "{\"readonlyPaths\":[\"/proc/../etc\"]}", NULL), "linux.readonlyPaths[0]");
  BAD(config(NULL, "{\"resources\":{\"network\":{\"classID\":\"1\"}}}", NULL),
      "linux.resources.network.classID");
  BAD(config(NULL, "{\"resources\":{\"memory\":{\"limit\":-5}}}", NULL),
      "linux.resources.memory.limit: must be -1 (unlimited) or a positive number");
  BAD(config(NULL, "{\"resources\":{\"memory\":{\"limit\":100,\"swap\":50}}}", NULL),
      "linux.resources.memory.swap: must be >= memory.limit");
  BAD(config(NULL, "{\"resources\":{\"cpu\":{\"shares\":\"1024\"}}}", NULL),
      "linux.resources.cpu.shares: must be an integer");
  BAD(config(NULL, "{\"resources\":{\"cpu\":{\"quota\":10}}}", NULL),
      "linux.resources.cpu.quota: must be -1 or at least 1000");
  BAD(config(NULL, "{\"resources\":{\"cpu\":{\"cpus\":\"0-x\"}}}", NULL),
      "linux.resources.cpu.cpus: must be a list");
  BAD(config(NULL, "{\"resources\":{\"pids\":{\"limit\":\"64\"}}}", NULL),
      "linux.resources.pids.limit: must be an integer");
  BAD(config(NULL, "{\"resources\":{\"blockIO\":{\"weight\":5}}}", NULL),
      "linux.resources.blockIO.weight: must be between 10 and 1000");
  BAD(config(NULL, "{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}", NULL),
      "linux.resources.devices[0].access: must be made of r, w and m");
  BAD(config(NULL, "{\"resources\":{\"devices\":[{\"access\":\"rwm\"}]}}", NULL),
      "linux.resources.devices[0].allow: must be a boolean");
  BAD(config(NULL, "{\"resources\":{\"hugepageLimits\":[{\"pageSize\":\"2XB\",\"limit\":1}]}}",
             NULL),
      "linux.resources.hugepageLimits[0].pageSize");
  BAD(config(NULL, "{\"resources\":{\"unified\":{\"../x\":\"1\"}}}", NULL),
      "linux.resources.unified[\"../x\"]");
  BAD(config(NULL, "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_FOO\"}}", NULL),
      "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
  BAD(config(NULL, "{\"seccomp\":{}}", NULL), "linux.seccomp.defaultAction: is required");
  BAD(config(NULL,
             "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
             "\"architectures\":[\"SCMP_ARCH_FOO\"]}}",
             NULL),
      "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_FOO\"");
  BAD(config(NULL, "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"BOGUS\"]}}",
             NULL),
      "linux.seccomp.flags[0]: unknown flag");
  BAD(config(NULL,
             "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
             "[\"uname\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,"
             "\"op\":\"SCMP_CMP_FOO\"}]}]}}",
             NULL),
      "linux.seccomp.syscalls[0].args[0].op: unknown operator");
  BAD(config(NULL,
             "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
             "[],\"action\":\"SCMP_ACT_ERRNO\"}]}}",
             NULL),
      "linux.seccomp.syscalls[0].names: must be a non-empty array");
  BAD(config(NULL,
             "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
             "[\"uname\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}}",
             NULL),
      "linux.seccomp.listenerPath: is required with SCMP_ACT_NOTIFY");
  BAD(config(NULL, "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/s\"}}",
             NULL),
      "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");
  BAD(config(NULL,
             "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/s\","
             "\"syscalls\":[{\"names\":[\"sendmsg\",\"sendmmsg\"],\"action\":"
             "\"SCMP_ACT_NOTIFY\"}]}}",
             NULL),
      "SCMP_ACT_NOTIFY cannot be used for both sendmsg and sendmmsg");
  BAD(config(NULL,
             "{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"s\","
             "\"syscalls\":[{\"names\":[\"uname\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}}",
             NULL),
      "linux.seccomp.listenerPath: must be an absolute path");
  BAD(config(NULL, "{\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}", NULL),
      "linux.uidMappings: needs a new user namespace");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"user\"}]}", NULL),
      "linux.namespaces: a new user namespace needs uidMappings and gidMappings");
  BAD(config(NULL,
             "{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,"
             "\"hostID\":1000}],\"gidMappings\":[]}",
             NULL),
      "linux.uidMappings[0].size: is required");
  BAD(config(NULL, "{\"cgroupsPath\":5}", NULL), "linux.cgroupsPath: must be a string");
  BAD(config(NULL,
             "{\"namespaces\":[{\"type\":\"time\",\"path\":\"/x\"}],"
             "\"timeOffsets\":{\"boottime\":{\"secs\":1}}}",
             NULL),
      "linux.timeOffsets: needs a new time namespace");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"time\"}],\"timeOffsets\":{\"realtime\":{}}}",
             NULL),
      "linux.timeOffsets.realtime: unknown clock");
  BAD(config(NULL, NULL, "\"hooks\":{\"prestart\":[{\"path\":\"bin/true\"}]}"),
      "hooks.prestart[0].path: must be an absolute path");
  BAD(config(NULL, NULL, "\"annotations\":{\"dev.berth.bogus\":\"1\"}"),
      "unknown berth annotation");
  BAD(config(NULL, NULL, "\"annotations\":{\"a\":1}"), "annotations[\"a\"]: must be a string");
  BAD(config(NULL, NULL, "\"annotations\":{\"dev.berth.backend\":\"xen\"}"),
      "must be linux or microvm");
  BAD(config(NULL, "{\"namespaces\":[{\"type\":\"pid\"}]}",
             "\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\"}]"),
      "mounts need a mount namespace");

  /* Unknown fields are ignored and wrong types of known ones are not. */
  char *j = config(NULL, NULL, "\"annotations\":{\"org.example\":\"x\"},\"whatever\":[1]");
  struct spec *s = expect_ok(j, __LINE__);
  spec_free(s);
  free(j);
}

static void test_ids(void)
{
  static const char *const good[] = {"a", "my-container_1.2+x", "ABC", "0"};
  static const char *const bad[] = {"", ".", "..", "../x", "a/b", "a b", "a\nb", "é"};
  struct berth_err *err = NULL;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    CHECK(runtime_validate_id(good[i], &err) == 0, "id '%s' should be valid", good[i]);
    berth_err_free(&err);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK(runtime_validate_id(bad[i], &err) < 0, "id '%s' should be invalid", bad[i]);
    CHECK(err && strstr(err->msg, "invalid container ID"), "id error message");
    berth_err_free(&err);
  }
  char longid[300];
  memset(longid, 'a', sizeof(longid) - 1);
  longid[299] = '\0';
  CHECK(runtime_validate_id(longid, &err) < 0, "299-char id is too long");
  berth_err_free(&err);
}

static void test_signals(void)
{
  static const struct {
    const char *in;
    int sig;
  } cases[] = {{"KILL", SIGKILL}, {"SIGKILL", SIGKILL}, {"9", 9},
               {"term", SIGTERM}, {"SIGUSR1", SIGUSR1}, {"HUP", SIGHUP},
               {"15", 15},        {"WINCH", SIGWINCH},  {"0", 0}};
  struct berth_err *err = NULL;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int sig = 0;
    CHECK(runtime_parse_signal(cases[i].in, &sig, &err) == 0 && sig == cases[i].sig,
          "signal %s -> %d, got %d", cases[i].in, cases[i].sig, sig);
    berth_err_free(&err);
  }
  int sig;
  CHECK(runtime_parse_signal("RTMIN+1", &sig, &err) == 0 && sig == SIGRTMIN + 1, "RTMIN+1");
  static const char *const bad[] = {"", "SIG0", "65", "-1", "SIGFOO", "9x", "SIG"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK(runtime_parse_signal(bad[i], &sig, &err) < 0, "signal '%s' should be invalid", bad[i]);
    berth_err_free(&err);
  }
}

static void test_mount_options(void)
{
  struct spec_mount m = {0};
  CHECK(spec_mount_option("ro", &m) == 1 && (m.flags & MS_RDONLY), "ro");
  CHECK(spec_mount_option("rw", &m) == 1 && !(m.flags & MS_RDONLY) && (m.clear_flags & MS_RDONLY),
        "rw clears ro");
  CHECK(spec_mount_option("rbind", &m) == 1 && m.bind && (m.flags & MS_REC), "rbind");
  CHECK(spec_mount_option("rprivate", &m) == 1 && m.propagation == (MS_PRIVATE | MS_REC),
        "rprivate");
  CHECK(spec_mount_option("mode=755", &m) == 0 && strcmp(m.data, "mode=755") == 0, "data");
  CHECK(spec_mount_option("size=1k", &m) == 0 && strcmp(m.data, "mode=755,size=1k") == 0,
        "data appended");
  free(m.data);
}

static void test_sysctl(void)
{
  struct spec_ns ns[NS_COUNT] = {0};
  struct berth_err *err = NULL;
  CHECK(spec_check_sysctl("kernel.shmmax", ns, &err) < 0, "ipc sysctl needs ipc ns");
  berth_err_free(&err);
  ns[NS_IPC].enabled = true;
  CHECK(spec_check_sysctl("kernel.shmmax", ns, &err) == 0, "ipc sysctl with ipc ns");
  CHECK(spec_check_sysctl("fs.mqueue.msg_max", ns, &err) == 0, "mqueue sysctl");
  CHECK(spec_check_sysctl("kernel.pid_max", ns, &err) < 0, "pid_max is host-wide");
  berth_err_free(&err);
  ns[NS_NET].enabled = true;
  CHECK(spec_check_sysctl("net/ipv4/ip_forward", ns, &err) == 0, "slash form");
  CHECK(spec_check_sysctl("net.ipv4.conf.all.forwarding", ns, &err) == 0, "net sysctl");
  CHECK(spec_check_sysctl("net.ipv4/../../kernel/x", ns, &err) < 0, "dot-dot refused");
  berth_err_free(&err);
  /* The namespace each belongs to: what create compares with its own. */
  CHECK(spec_sysctl_ns("net/ipv4/ip_forward") == NS_NET, "net kind");
  CHECK(spec_sysctl_ns("kernel.shm_rmid_forced") == NS_IPC, "ipc kind");
  CHECK(spec_sysctl_ns("fs.mqueue.queues_max") == NS_IPC, "mqueue kind");
  CHECK(spec_sysctl_ns("kernel.domainname") == NS_UTS, "uts kind");
  CHECK(spec_sysctl_ns("kernel.pid_max") == -1, "host-wide");
}

static void test_path_clean(void)
{
  static const char *const cases[][2] = {
      {"/b/.", "/b"},
      {"/b/rootfs/", "/b/rootfs"},
      {"/b//x//y", "/b/x/y"},
      {"/b/./x", "/b/x"},
      {"/b/x/../y", "/b/y"},
      {"/..", "/"},
      {"/", "/"},
      {"//b///", "/b"},
      {"/b/x/..", "/b"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *c = spec_path_clean(cases[i][0]);
    CHECK(strcmp(c, cases[i][1]) == 0, "clean %s: %s", cases[i][0], c);
    free(c);
  }
}

/* Capabilities above the kernel's cap_last_cap are found in any set. */
static void test_caps_unknown(void)
{
  uint64_t sets[CAP_SET_COUNT] = {0};
  sets[CAP_SET_BOUNDING] = (UINT64_C(1) << 40) | 1;
  CHECK(caps_first_unknown(sets, 40) == -1, "cap 40 is known when cap_last_cap is 40");
  CHECK(caps_first_unknown(sets, 39) == 40, "cap 40 is unknown when cap_last_cap is 39");
  sets[CAP_SET_AMBIENT] = UINT64_C(1) << 63;
  CHECK(caps_first_unknown(sets, 40) == 63, "cap 63 in ambient is unknown");
  CHECK(caps_first_unknown(sets, 63) == -1, "every cap is known when cap_last_cap is 63");
}

int main(void)
{
  test_path_clean();
  test_spec_valid();
  test_spec_invalid();
  test_ids();
  test_signals();
  test_caps_unknown();
  test_mount_options();
  test_sysctl();
  cgroup_unit_tests();
  hooks_unit_tests();
  netlink_unit_tests();
  ipam_unit_tests();
  netfw_unit_tests();
  netcfg_unit_tests();
  cni_unit_tests();
  netattach_unit_tests();
  vm_unit_tests();
  printf("%d passed, %d failed\n", unit_passed, unit_failed);
  return unit_failed ? 1 : 0;
}
