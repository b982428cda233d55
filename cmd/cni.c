/* berth as a CNI plugin (type berth-bridge): run as `berth-bridge` (a link
 * to berth) or `berth cni`, by a container runtime, with CNI_COMMAND and
 * friends in the environment and the network config on stdin. The same
 * netns/ attach functions as `berth run` do the work; this file reads the
 * request, keeps the attachment (as JSON, so DEL works after a crash) and
 * answers on stdout: a result, nothing (DEL) or an error object with exit
 * status 1. Runs as root in the "host" network namespace. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "../netns/netns.h"
#include "cmd.h"

#define CNI_STDIN_MAX (1 << 20)

/* One request: what the runtime asked and what it is about. */
struct cni_req {
  struct cni_env env;
  enum cni_command cmd;
  char *stdin_text;
  struct cni_config cc;
  char holder[256];
  char attach_path[512];
};

/* Sets err and returns -code, for the failures found here. */
static int req_fail(struct berth_err **err, int code, const char *what)
{
  berth_err_set(err, 0, "%s", what);
  return -code;
}

/* All of stdin (a pipe, a file or a socket: read, not reopened). */
static int stdin_read(char **out, struct berth_err **err)
{
  size_t cap = 4096, n = 0;
  cleanup_free char *buf = xcalloc(1, cap + 1);
  for (;;) {
    if (n == cap && cap >= CNI_STDIN_MAX)
      return req_fail(err, CNI_ERR_DECODE, "network config (stdin): larger than 1 MiB");
    if (n == cap) {
      char *more = xcalloc(1, cap * 2 + 1);
      memcpy(more, buf, n);
      free(buf);
      buf = more;
      cap *= 2;
    }
    ssize_t got = read(0, buf + n, cap - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      berth_err_sys(err, "network config (stdin): read");
      return -CNI_ERR_IO;
    }
    if (got == 0)
      break;
    n += (size_t)got;
  }
  buf[n] = '\0';
  *out = steal_ptr(&buf);
  return 0;
}

/* The config's cniVersion, for the error object, however broken the rest. */
static void stdin_version(const char *text, char *out, size_t n)
{
  json_t *root = text ? json_loads(text, 0, NULL) : NULL;
  const char *v = json_string_value(json_object_get(root, "cniVersion"));
  snprintf(out, n, "%s", v ? v : "");
  json_decref(root);
}

/* The container's network namespace: a path the runtime gave, which must be
 * one (not some other file that open(2) takes). */
static int netns_open(const char *path, struct berth_err **err)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    berth_err_sys(err, "CNI_NETNS %s", path);
    return -CNI_ERR_ENV;
  }
  if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
    berth_err_set(err, 0, "CNI_NETNS %s: not a network namespace", path);
    return -CNI_ERR_ENV;
  }
  return steal_fd(&fd);
}

/* ---- the saved attachment ---- */

static int attach_save(const struct cni_req *q, const struct net_attachment *a,
                       struct berth_err **err)
{
  char dir[sizeof(q->attach_path)];
  snprintf(dir, sizeof(dir), "%s", q->attach_path);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  if (mkdir_p(dir, 0700, err) < 0)
    return -CNI_ERR_IO;
  cleanup_free char *json = netns_attach_to_json(a);
  if (json == NULL)
    return req_fail(err, CNI_ERR_IO, "attachment: out of memory");
  cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || write_file_atomic_at(dfd, slash + 1, json, strlen(json), 0600, err) < 0) {
    if (dfd < 0)
      berth_err_sys(err, "%s", dir);
    return -CNI_ERR_IO;
  }
  return 0;
}

/* 1: loaded; 0: there is none. */
static int attach_load(const struct cni_req *q, struct net_attachment *a, struct berth_err **err)
{
  cleanup_free char *json = NULL;
  if (read_file_trusted_at(AT_FDCWD, q->attach_path, 1 << 20, &json, err) < 0) {
    if ((*err)->errnum == ENOENT) {
      berth_err_free(err);
      return 0;
    }
    return -CNI_ERR_IO;
  }
  if (netns_attach_from_json(json, a, err) < 0) {
    berth_err_wrap(err, "%s", q->attach_path);
    return -CNI_ERR_DECODE;
  }
  return 1;
}

/* Removes the saved attachment and, when it was the network's last, its
 * directory (and .attach when that empties too). */
static void attach_forget(const struct cni_req *q)
{
  char dir[sizeof(q->attach_path)];
  snprintf(dir, sizeof(dir), "%s", q->attach_path);
  unlink(dir);
  for (int i = 0; i < 2; i++) {
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    if (rmdir(dir) < 0)
      break;
  }
}

/* What DEL tears down when ADD never got as far as saving: the leases and
 * rules of the holder (the veth is made only after the save). */
static void attach_from_config(const struct cni_req *q, struct net_attachment *a)
{
  const struct net_config *c = &q->cc.net;
  memset(a, 0, sizeof(*a));
  snprintf(a->holder, sizeof(a->holder), "%s", q->holder);
  snprintf(a->lease_dir, sizeof(a->lease_dir), "%s", q->cc.lease_dir);
  snprintf(a->bridge, sizeof(a->bridge), "%s", c->bridge);
  snprintf(a->cont_if, sizeof(a->cont_if), "%s", q->env.ifname);
  a->subnet4 = c->subnet4;
  a->subnet6 = c->subnet6;
  memcpy(a->ports, c->ports, sizeof(a->ports));
  a->nports = c->nports;
  a->nat = c->nat;
  a->mtu = c->mtu;
}

/* ---- the commands ---- */

static void result_print(const struct cni_req *q, const struct net_attachment *a)
{
  uint8_t bmac[6], hmac[6];
  struct berth_err *err = NULL;
  bool have_b = cni_link_mac(a->bridge, bmac, &err) == 0;
  berth_err_free(&err);
  bool have_h = cni_link_mac(a->host_if, hmac, &err) == 0;
  berth_err_free(&err);
  cleanup_free char *json =
      cni_result_json(q->cc.version, a, q->env.netns, have_b ? bmac : NULL, have_h ? hmac : NULL);
  printf("%s\n", json);
}

/* prepare (leases), save, wire; whatever fails, teardown undoes it all. */
static int cni_add(const struct cni_req *q, struct berth_err **err)
{
  struct net_attachment a;
  if (access(q->attach_path, F_OK) == 0)
    return req_fail(err, CNI_ERR_ATTACHED,
                    "already attached to this network: DEL it before another ADD");
  cleanup_close int fd = netns_open(q->env.netns, err);
  if (fd < 0)
    return fd;
  if (mkdir_p(q->cc.data_dir, 0700, err) < 0)
    return -CNI_ERR_IO;
  if (netns_attach_prepare(&q->cc.net, q->holder, q->cc.lease_dir, q->env.ifname, &a, err) < 0)
    return -CNI_ERR_IO;
  int r = attach_save(q, &a, err);
  if (r == 0 && netns_attach_wire(&a, fd, err) < 0)
    r = -CNI_ERR_IO;
  if (r < 0) {
    struct berth_err *undo = NULL;
    netns_attach_teardown(&a, &undo);
    berth_err_free(&undo);
    attach_forget(q);
    return r;
  }
  result_print(q, &a);
  return 0;
}

/* Whatever is there goes; nothing there is success too. */
static int cni_del(const struct cni_req *q, struct berth_err **err)
{
  struct net_attachment a;
  int r = attach_load(q, &a, err);
  if (r < 0)
    return r;
  if (r == 0)
    attach_from_config(q, &a);
  if (netns_attach_teardown(&a, err) < 0)
    return -CNI_ERR_IO;
  attach_forget(q);
  return 0;
}

static int cni_check(const struct cni_req *q, struct berth_err **err)
{
  struct net_attachment a;
  if (!cni_version_has_check(q->cc.version))
    return req_fail(err, CNI_ERR_VERSION, "CHECK: needs cniVersion 0.4.0 or later");
  int r = attach_load(q, &a, err);
  if (r == 0)
    r = req_fail(err, CNI_ERR_CONTAINER, "CHECK: not attached to this network");
  if (r < 0)
    return r;
  cleanup_close int fd = netns_open(q->env.netns, err);
  if (fd < 0)
    return fd;
  return netns_attach_check(&a, fd, err) < 0 ? -CNI_ERR_IO : 0;
}

/* ---- the request ---- */

static int req_parse(struct cni_req *q, struct berth_err **err)
{
  int r = cni_env_check(&q->env, &q->cmd, err);
  if (r < 0 || q->cmd == CNI_CMD_VERSION)
    return r;
  r = cni_config_parse(q->stdin_text, &q->cc, err);
  if (r == 0)
    r = cni_args_apply(q->env.args, &q->cc.net, err);
  if (r == 0 && netns_config_check(&q->cc.net, err) < 0)
    r = -CNI_ERR_CONFIG;
  if (r == 0)
    r = cni_holder(&q->env, q->holder, sizeof(q->holder), err);
  if (r == 0)
    r = cni_attach_path(&q->cc, &q->env, q->attach_path, sizeof(q->attach_path), err);
  return r;
}

static int req_run(struct cni_req *q, struct berth_err **err)
{
  int r = stdin_read(&q->stdin_text, err);
  if (r == 0)
    r = req_parse(q, err);
  if (r < 0)
    return r;
  switch (q->cmd) {
  case CNI_CMD_ADD:
    return cni_add(q, err);
  case CNI_CMD_DEL:
    return cni_del(q, err);
  case CNI_CMD_CHECK:
    return cni_check(q, err);
  default: {
    cleanup_free char *v = cni_version_json();
    printf("%s\n", v);
    return 0;
  }
  }
}

static void error_print(const struct cni_req *q, int code, struct berth_err **err)
{
  char version[16], details[384] = "";
  stdin_version(q->stdin_text, version, sizeof(version));
  if (q->env.command && q->env.container_id && q->env.ifname)
    snprintf(details, sizeof(details), "berth-bridge %s, container %.256s, interface %s",
             q->env.command, q->env.container_id, q->env.ifname);
  cleanup_free char *json = cni_error_json(version, code, *err ? (*err)->msg : "unknown error",
                                           details[0] ? details : NULL);
  printf("%s\n", json);
  berth_err_free(err);
}

int cni_main(void)
{
  struct cni_req q = {
      .env = {getenv("CNI_COMMAND"), getenv("CNI_CONTAINERID"), getenv("CNI_NETNS"),
              getenv("CNI_IFNAME"), getenv("CNI_ARGS"), getenv("CNI_PATH")},
  };
  struct berth_err *err = NULL;
  int r = req_run(&q, &err);
  if (r < 0)
    error_print(&q, -r, &err);
  free(q.stdin_text);
  fflush(stdout);
  return r < 0 ? 1 : 0;
}

static int cni_opt(int opt, const char *arg)
{
  (void)opt;
  (void)arg;
  return -1;
}

static int cni_verb(int argc, char **argv)
{
  int r = cmd_getopt(&verb_cni, argc, argv, "", NULL, cni_opt);
  if (r >= 0)
    return r;
  if (optind < argc)
    return cmd_usage_error(&verb_cni, "unexpected argument '%s'", argv[optind]);
  return cni_main();
}

const struct verb verb_cni = {
    .name = "cni",
    .summary = "act as the CNI plugin berth-bridge (the CNI_* environment, config on stdin)",
    .usage = "Usage: berth cni\n\n"
             "Runs the CNI plugin berth-bridge: CNI_COMMAND (ADD, DEL, CHECK, VERSION),\n"
             "CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH from the\n"
             "environment, the network config on stdin; the result or a CNI error object\n"
             "on stdout. Installed as the link berth-bridge in the CNI plugin directory,\n"
             "berth runs this whenever it is called by that name.\n",
    .fn = cni_verb,
};
