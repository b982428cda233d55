/* The config.json `berth spec` writes: the same shape as runc's default, so
 * tools that edit a `runc spec` output work unchanged. */
#include "spec.h"

#include <string.h>

#include "../common/fileutil.h"
#include "../seccomp/seccomp.h"

static const char default_config[] =
    "{\n"
    "  \"ociVersion\": \"1.2.0\",\n"
    "  \"process\": {\n"
    "    \"terminal\": true,\n"
    "    \"user\": { \"uid\": 0, \"gid\": 0 },\n"
    "    \"args\": [ \"sh\" ],\n"
    "    \"env\": [\n"
    "      \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
    "      \"TERM=xterm\"\n"
    "    ],\n"
    "    \"cwd\": \"/\",\n"
    "    \"capabilities\": {\n"
    "      \"bounding\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
    "      \"effective\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
    "      \"permitted\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ]\n"
    "    },\n"
    "    \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"
    "    \"noNewPrivileges\": true\n"
    "  },\n"
    "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
    "  \"hostname\": \"berth\",\n"
    "  \"mounts\": [\n"
    "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
    "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
    "      \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"
    "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", "
    "\"mode=0620\", \"gid=5\" ] },\n"
    "    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"
    "    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] },\n"
    "    { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] },\n"
    "    { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n"
    "  ],\n"
    "  \"linux\": {\n"
    "    \"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n"
    "    \"namespaces\": [\n"
    "      { \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" },\n"
    "      { \"type\": \"uts\" }, { \"type\": \"mount\" }, { \"type\": \"cgroup\" }\n"
    "    ],\n"
    "    \"maskedPaths\": [\n"
    "      \"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"
    "      \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\",\n"
    "      \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"\n"
    "    ],\n"
    "    \"readonlyPaths\": [\n"
    "      \"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"\n"
    "    ]\n"
    "  }\n"
    "}\n";

/* What an ordinary user can set up alone: a user namespace mapping only
 * their own ids (as root), /sys bound from the host (sysfs cannot be
 * mounted without owning the network namespace's user namespace... and on
 * v1 the cgroup filesystem not at all), no cgroup limits, devpts without a
 * gid the namespace cannot map. */
static void make_rootless(json_t *o, unsigned uid, unsigned gid)
{
  json_t *lx = json_object_get(o, "linux");
  json_object_del(lx, "resources");
  json_array_append_new(json_object_get(lx, "namespaces"), json_pack("{s:s}", "type", "user"));
  json_object_set_new(lx, "uidMappings",
                      json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", uid, "size", 1));
  json_object_set_new(lx, "gidMappings",
                      json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", gid, "size", 1));
  json_t *mounts = json_object_get(o, "mounts");
  for (size_t i = 0; i < json_array_size(mounts);) {
    json_t *m = json_array_get(mounts, i);
    const char *dest = json_string_value(json_object_get(m, "destination"));
    if (strcmp(dest, "/sys/fs/cgroup") == 0) {
      json_array_remove(mounts, i);
      continue;
    }
    if (strcmp(dest, "/sys") == 0) {
      /* replaces m, and frees dest with it: nothing more to look at */
      json_array_set_new(mounts, i++,
                         json_pack("{s:s,s:s,s:s,s:[s,s,s,s,s]}", "destination", "/sys", "type",
                                   "none", "source", "/sys", "options", "rbind", "nosuid", "noexec",
                                   "nodev", "ro"));
      continue;
    }
    if (strcmp(dest, "/dev/pts") == 0) {
      json_t *opts = json_object_get(m, "options");
      for (size_t k = 0; k < json_array_size(opts); k++)
        if (strcmp(json_string_value(json_array_get(opts, k)), "gid=5") == 0)
          json_array_remove(opts, k--);
    }
    i++;
  }
}

char *spec_default_json(void)
{
  return spec_default_json_for(false, 0, 0);
}

char *spec_default_json_for(bool rootless, unsigned uid, unsigned gid)
{
  json_t *o = json_loads(default_config, 0, NULL);
  if (rootless)
    make_rootless(o, uid, gid);
  json_object_set_new(json_object_get(o, "linux"), "seccomp", seccomp_default_profile());
  char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(o);
  return text;
}
