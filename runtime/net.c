/* Container networking, runtime side: the host half of the recipe (see
 * net.h). Runs in berth on the host, before and after the init's clone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "net.h"
#include "state.h"

#define NET_RECORD_MAX ((size_t)64 * 1024)

/* ---- the record: {"attachment": {...}, "slirp": {"pid","start_time"}} ---- */

static int record_save(int dirfd, const struct net_attachment *a, pid_t slirp,
                       unsigned long long slirp_start, struct berth_err **err)
{
  json_t *o = json_object();
  if (a) {
    cleanup_free char *text = netns_attach_to_json(a);
    json_object_set_new(o, "attachment", json_loads(text, 0, NULL));
  }
  if (slirp > 0)
    json_object_set_new(
        o, "slirp",
        json_pack("{s:i,s:I}", "pid", (int)slirp, "start_time", (json_int_t)slirp_start));
  cleanup_free char *out = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (out == NULL)
    return berth_err_set(err, ENOMEM, "network record");
  return write_file_atomic_at(dirfd, NET_FILE, out, strlen(out), 0600, err);
}

static char *state_dir_path(int dirfd)
{
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
  ssize_t n = readlink(link, path, sizeof(path) - 1);
  if (n <= 0)
    return NULL;
  path[n] = '\0';
  return xstrdup(path);
}

static int bridge_prepare(int dirfd, const struct spec *s, struct net_attachment *a,
                          struct berth_err **err)
{
  if (geteuid() != 0)
    return berth_err_set(err, 0,
                         "dev.berth.net=bridge: a bridge needs root; without it, use --net slirp");
  cleanup_free char *holder = state_dir_path(dirfd);
  if (holder == NULL)
    return berth_err_sys(err, "network: state directory path");
  char lease_dir[256];
  if (netns_lease_dir(NET_LEASE_BASE, s->net.bridge, lease_dir, sizeof(lease_dir), err) < 0)
    return -1;
  netns_attach_names(&s->net, holder, lease_dir, "eth0", a);
  /* Recorded before anything is taken: delete undoes a half-done create. */
  if (record_save(dirfd, a, 0, 0, err) < 0 || netns_attach_lease(&s->net, a, err) < 0 ||
      record_save(dirfd, a, 0, 0, err) < 0)
    return -1;
  return 0;
}

int net_prepare(int dirfd, const struct spec *s, const char *id, struct net_attachment *a,
                struct berth_err **err)
{
  memset(a, 0, sizeof(*a));
  if (s->net.mode == NET_MODE_NONE)
    return 0;
  if (s->net.mode == NET_MODE_BRIDGE && bridge_prepare(dirfd, s, a, err) < 0)
    return -1;
  const char *hostname = s->hostname && s->hostname[0] ? s->hostname : id;
  return netns_etc_write(dirfd, hostname, s->net.mode == NET_MODE_BRIDGE ? a : NULL, err);
}

/* ---- the files' bind mounts ---- */

static bool mounted_by_config(const struct spec *s, const char *dst)
{
  for (size_t i = 0; i < s->n_mounts; i++)
    if (strcmp(s->mounts[i].destination, dst) == 0)
      return true;
  return false;
}

int net_mounts(int dirfd, const struct spec *s, struct spec *out, struct berth_err **err)
{
  *out = *s;
  if (s->net.mode == NET_MODE_NONE)
    return 0;
  static const char *const files[] = {"hosts", "hostname", "resolv.conf"};
  cleanup_free char *dir = state_dir_path(dirfd);
  if (dir == NULL)
    return berth_err_sys(err, "network: state directory path");
  out->mounts = xcalloc(s->n_mounts + 3, sizeof(*out->mounts));
  memcpy(out->mounts, s->mounts, s->n_mounts * sizeof(*s->mounts));
  for (size_t i = 0; i < 3; i++) {
    cleanup_free char *dst = xasprintf("/etc/%s", files[i]);
    if (mounted_by_config(s, dst))
      continue;
    struct spec_mount *m = &out->mounts[out->n_mounts++];
    m->destination = steal_ptr(&dst);
    m->source = xasprintf("%s/%s", dir, files[i]);
    m->bind = true;
    m->flags = MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  }
  return 0;
}

void net_mounts_free(const struct spec *s, struct spec *with)
{
  if (with->mounts == s->mounts)
    return;
  for (size_t i = s->n_mounts; i < with->n_mounts; i++) {
    free(with->mounts[i].destination);
    free(with->mounts[i].source);
  }
  free(with->mounts);
  with->mounts = s->mounts;
}

/* ---- wiring ---- */

static int slirp_wire(int dirfd, const struct spec *s, const int ns_fds[2], struct berth_err **err)
{
  pid_t slirp = 0;
  if (ns_fds == NULL || ns_fds[0] < 0)
    return berth_err_set(err, EPROTO, "slirp4netns: the container's namespaces did not arrive");
  if (netns_slirp_start(ns_fds[0], ns_fds[1], s->net.mtu, &slirp, err) < 0)
    return -1;
  if (record_save(dirfd, NULL, slirp, proc_start_time(slirp), err) < 0) {
    kill(slirp, SIGKILL);
    return -1;
  }
  return 0;
}

int net_wire(int dirfd, const struct spec *s, const struct net_attachment *a, pid_t pid,
             const int ns_fds[2], struct berth_err **err)
{
  if (s->net.mode == NET_MODE_SLIRP)
    return slirp_wire(dirfd, s, ns_fds, err);
  if (s->net.mode != NET_MODE_BRIDGE)
    return 0;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
  cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    return berth_err_sys(err, "network: open %s", path);
  return netns_attach_wire(a, ns, err);
}

/* ---- release ---- */

static void slirp_stop(json_t *o)
{
  json_t *pid = json_object_get(o, "pid"), *start = json_object_get(o, "start_time");
  if (!json_is_integer(pid) || !json_is_integer(start) || json_integer_value(pid) <= 0)
    return;
  pid_t p = (pid_t)json_integer_value(pid);
  /* Only the process berth started: a pid can be reused. */
  if (proc_start_time(p) == (unsigned long long)json_integer_value(start))
    kill(p, SIGKILL);
}

/* A record that cannot be read (truncated by a crash, or garbage): the
 * holder is the directory itself, and the veth and rules are named by it;
 * its leases are looked for on every bridge of this namespace. */
static int release_by_holder(int dirfd, struct berth_err **err)
{
  cleanup_free char *holder = state_dir_path(dirfd);
  char base[256];
  if (holder == NULL || netns_lease_dir(NET_LEASE_BASE, "", base, sizeof(base), err) < 0)
    return holder ? -1 : berth_err_sys(err, "network: state directory path");
  cleanup_dir DIR *d = opendir(base);
  struct dirent *de;
  struct net_config c;
  netns_config_init(&c);
  int ret = 0;
  while (ret == 0 && d && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(c.bridge))
      continue;
    snprintf(c.bridge, sizeof(c.bridge), "%.*s", (int)sizeof(c.bridge) - 1, de->d_name);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s%s", base, de->d_name);
    struct net_attachment a;
    netns_attach_names(&c, holder, dir, NULL, &a);
    ret = netns_attach_release(&a, err);
  }
  return ret;
}

int net_release(int dirfd, struct berth_err **err)
{
  cleanup_free char *text = NULL;
  if (read_file_trusted_at(dirfd, NET_FILE, NET_RECORD_MAX, &text, err) < 0) {
    if ((*err)->errnum != ENOENT)
      return berth_err_wrap(err, "network record");
    berth_err_free(err);
    return 0;
  }
  json_t *o = json_loads(text, 0, NULL);
  json_t *att = json_object_get(o, "attachment");
  int ret = 0;
  struct net_attachment a;
  cleanup_free char *atext = json_is_object(att) ? json_dumps(att, JSON_COMPACT) : NULL;
  if (atext && netns_attach_from_json(atext, &a, err) == 0)
    ret = netns_attach_release(&a, err);
  else if (o == NULL || atext) {
    berth_err_free(err);
    ret = release_by_holder(dirfd, err);
  }
  slirp_stop(json_object_get(o, "slirp"));
  json_decref(o);
  if (ret == 0 && unlinkat(dirfd, NET_FILE, 0) < 0 && errno != ENOENT)
    ret = berth_err_sys(err, "remove network record");
  return ret;
}
