#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../common/testhook.h"
#include "net.h"

const char *status_name(enum status s)
{
  switch (s) {
  case STATUS_CREATING:
    return "creating";
  case STATUS_CREATED:
    return "created";
  case STATUS_RUNNING:
    return "running";
  case STATUS_PAUSED:
    return "paused";
  case STATUS_STOPPED:
    return "stopped";
  }
  return "unknown";
}

int state_dir_create(const char *root, const char *id, struct berth_err **err)
{
  if (mkdir(root, 0700) < 0 && errno != EEXIST) {
    if (errno != ENOENT || mkdir_p(root, 0700, err) < 0)
      return berth_err_sys(err, "create state root %s", root);
  }
  cleanup_close int rootfd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_err_sys(err, "open state root %s", root);
  if (mkdirat(rootfd, id, 0700) < 0) {
    if (errno == EEXIST)
      return berth_err_set(err, 0, "container \"%s\" already exists", id);
    return berth_err_sys(err, "create state directory %s/%s", root, id);
  }
  int fd = openat(rootfd, id, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) {
    berth_err_sys(err, "lock state directory %s/%s", root, id);
    if (fd >= 0)
      close(fd);
    unlinkat(rootfd, id, AT_REMOVEDIR);
    return -1;
  }
  return fd;
}

int state_dir_open(const char *root, const char *id, bool exclusive, struct berth_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s", root, id);
  cleanup_close int fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return berth_err_set(err, 0, "container \"%s\" does not exist", id);
    return berth_err_sys(err, "open state directory %s", path);
  }
  if (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    return berth_err_sys(err, "lock state directory %s", path);
  /* A concurrent delete may have removed it while we waited for the lock. */
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_nlink == 0)
    return berth_err_set(err, 0, "container \"%s\" does not exist", id);
  if (st.st_uid != geteuid() || (st.st_mode & 022))
    return berth_err_set(err, EPERM,
                         "state directory %s: not owned by uid %u or writable by others", path,
                         (unsigned)geteuid());
  return steal_fd(&fd);
}

int state_dir_remove(const char *root, const char *id, int dirfd, struct berth_err **err)
{
  /* The network goes with the directory that records it. */
  if (net_release(dirfd, err) < 0)
    return -1;
  TEST_POINT("delete:net-released");
  cleanup_dir DIR *d = fdopendir(dup(dirfd));
  if (d == NULL)
    return berth_err_sys(err, "read state directory of %s", id);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT)
      return berth_err_sys(err, "remove %s/%s/%s", root, id, de->d_name);
  }
  cleanup_free char *path = xasprintf("%s/%s", root, id);
  if (rmdir(path) < 0 && errno != ENOENT)
    return berth_err_sys(err, "remove %s", path);
  return 0;
}

int state_write(int dirfd, const struct state *st, struct berth_err **err)
{
  json_t *o = json_object();
  json_object_set_new(o, "ociVersion", json_string(st->oci_version));
  json_object_set_new(o, "id", json_string(st->id));
  json_object_set_new(o, "pid", json_integer(st->pid));
  json_object_set_new(o, "start_time", json_integer((json_int_t)st->start_time));
  json_object_set_new(o, "bundle", json_string(st->bundle));
  json_object_set_new(o, "rootfs", json_string(st->rootfs));
  json_object_set_new(o, "created", json_string(st->created));
  json_object_set_new(o, "backend", json_string(st->backend));
  json_object_set_new(o, "ns_key", json_string(st->ns_key ? st->ns_key : ""));
  if (st->annotations)
    json_object_set(o, "annotations", st->annotations);
  if (st->cg)
    json_object_set_new(o, "cgroup", cgroup_to_json(st->cg));
  if (st->hooks)
    json_object_set(o, "hooks", st->hooks);
  if (st->bundle_owned)
    json_object_set_new(o, "bundle_owned", json_true());
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (text == NULL)
    return berth_err_set(err, ENOMEM, "encode state");
  int ret = write_file_replace_at(dirfd, STATE_FILE, text, strlen(text), 0600, !st->ephemeral, err);
  free(text);
  return ret;
}

int state_write_cgroup(int dirfd, const struct cgroup *cg, bool durable, struct berth_err **err)
{
  if (cg == NULL)
    return unlinkat(dirfd, CGROUP_FILE, 0) < 0 && errno != ENOENT
               ? berth_err_sys(err, "remove " CGROUP_FILE)
               : 0;
  json_t *o = cgroup_to_json(cg);
  cleanup_free char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (text == NULL)
    return berth_err_set(err, ENOMEM, "encode " CGROUP_FILE);
  return write_file_replace_at(dirfd, CGROUP_FILE, text, strlen(text), 0600, durable, err);
}

struct cgroup *state_read_cgroup(int dirfd)
{
  cleanup_free char *text = NULL;
  struct berth_err *e = NULL;
  if (read_file_trusted_at(dirfd, CGROUP_FILE, 1 << 20, &text, &e) < 0) {
    berth_err_free(&e);
    return NULL;
  }
  json_t *o = json_loads(text, 0, NULL);
  struct cgroup *cg = cgroup_from_json(o);
  json_decref(o);
  return cg;
}

static char *dup_str(json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return xstrdup(s ? s : "");
}

int state_read(int dirfd, const char *id, struct state *st, struct berth_err **err)
{
  cleanup_free char *text = NULL;
  memset(st, 0, sizeof(*st));
  if (read_file_trusted_at(dirfd, STATE_FILE, 1 << 20, &text, err) < 0) {
    if ((*err)->errnum == ENOENT) {
      berth_err_free(err);
      return berth_err_set(err, 0, "container \"%s\" does not exist", id);
    }
    return berth_err_wrap(err, "state of %s", id);
  }
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (o == NULL || !json_is_object(o)) {
    json_decref(o);
    berth_err_set(err, 0, "state of %s: corrupt state.json: %s", id,
                  o ? "not a JSON object" : jerr.text);
    (*err)->errnum = EBADMSG; /* delete --force recovers from cgroup.json */
    return -1;
  }
  st->id = dup_str(o, "id");
  st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
  st->start_time = (unsigned long long)json_integer_value(json_object_get(o, "start_time"));
  st->bundle = dup_str(o, "bundle");
  st->rootfs = dup_str(o, "rootfs");
  st->created = dup_str(o, "created");
  st->oci_version = dup_str(o, "ociVersion");
  st->backend = dup_str(o, "backend");
  st->ns_key = dup_str(o, "ns_key");
  json_t *ann = json_object_get(o, "annotations");
  st->annotations = json_is_object(ann) ? json_incref(ann) : NULL;
  st->cg = cgroup_from_json(json_object_get(o, "cgroup"));
  json_t *hooks = json_object_get(o, "hooks");
  st->hooks = json_is_object(hooks) ? json_incref(hooks) : NULL;
  st->bundle_owned = json_is_true(json_object_get(o, "bundle_owned"));
  json_decref(o);
  return 0;
}

void state_clear(struct state *st)
{
  free(st->id);
  free(st->bundle);
  free(st->rootfs);
  free(st->created);
  free(st->oci_version);
  free(st->backend);
  free(st->ns_key);
  json_decref(st->annotations);
  cgroup_free(st->cg);
  json_decref(st->hooks);
  memset(st, 0, sizeof(*st));
}

unsigned long long proc_start_time(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* comm may hold spaces and parentheses: fields resume after the last ')'. */
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] != ' ')
    return 0;
  char state = p[2];
  if (state == 'Z' || state == 'X')
    return 0;
  p += 2;
  /* p is at field 3 (state); start time is field 22. */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (p == NULL)
      return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

enum status state_status(int dirfd, const struct state *st)
{
  if (st->pid <= 0)
    return STATUS_STOPPED;
  unsigned long long t = proc_start_time(st->pid);
  if (t == 0 || t != st->start_time)
    return STATUS_STOPPED;
  if (faccessat(dirfd, EXEC_FIFO, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return STATUS_CREATED;
  if (st->cg && cgroup_is_frozen(st->cg))
    return STATUS_PAUSED;
  return STATUS_RUNNING;
}

char *state_now_rfc3339(void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

int state_pidfd(const struct state *st)
{
  if (st->pid <= 0) {
    errno = ESRCH;
    return -1;
  }
  int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  if (fd < 0)
    return -1;
  if (proc_start_time(st->pid) != st->start_time) {
    close(fd);
    errno = ESRCH;
    return -1;
  }
  return fd;
}

int state_pidfd_kill_wait(const struct state *st, int fd, struct berth_err **err)
{
  syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do
    r = poll(&p, 1, 10000);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return berth_err_set(err, ETIMEDOUT, "container \"%s\" did not die after SIGKILL", st->id);
  return 0;
}

int state_no_cgroup(const struct state *st, struct berth_err **err)
{
  return berth_err_set(err, ENOTSUP, "container \"%s\" has no cgroup", st->id);
}

int state_freeze(const struct state *st, bool pause, struct berth_err **err)
{
  return st->cg ? cgroup_freeze(st->cg, pause, err) : state_no_cgroup(st, err);
}
