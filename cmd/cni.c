/* berth as a CNI plugin (type berth-bridge): run as `berth-bridge` (a link
 * to berth) or `berth cni`, by a container runtime, with CNI_COMMAND and
 * friends in the environment and the network config on stdin. The same
 * netns/ attach functions as `berth run` do the work; this file reads the
 * request and answers on stdout: a result, nothing (DEL) or an error object
 * with exit status 1. No record is kept: DEL and CHECK rebuild the
 * attachment from the config and the holder ("ID/IFNAME"), which name the
 * leases, rules and host interface. Runs as root in the "host" network
 * namespace. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* The attachment's names (bridge, host end named by the holder, container
 * interface), as ADD made them: DEL and CHECK need no record of their own. */
static void attach_names(const struct cni_req *q, struct net_attachment *a)
{
  netns_attach_names(&q->cc.net, q->holder, q->cc.lease_dir, q->env.ifname, a);
}

/* Leases, then the wiring; whatever fails, teardown undoes it all. */
static int cni_add(const struct cni_req *q, struct berth_err **err)
{
  struct net_attachment a;
  attach_names(q, &a);
  if (if_nametoindex(a.host_if) != 0) {
    berth_err_set(err, 0, "already attached to this network (host interface %s): DEL it first",
                  a.host_if);
    return -CNI_ERR_ATTACHED;
  }
  cleanup_close int fd = netns_open(q->env.netns, err);
  if (fd < 0)
    return fd;
  if (netns_attach_lease(&q->cc.net, &a, err) < 0)
    return -CNI_ERR_IO;
  if (netns_attach_wire(&a, fd, err) < 0) {
    struct berth_err *undo = NULL;
    netns_attach_teardown(&a, &undo);
    berth_err_free(&undo);
    return -CNI_ERR_IO;
  }
  result_print(q, &a);
  return 0;
}

/* Whatever is there goes; nothing there is success too. */
static int cni_del(const struct cni_req *q, struct berth_err **err)
{
  struct net_attachment a;
  attach_names(q, &a);
  return netns_attach_teardown(&a, err) < 0 ? -CNI_ERR_IO : 0;
}

static int cni_check(const struct cni_req *q, struct berth_err **err)
{
  struct net_attachment a;
  if (!cni_version_has_check(q->cc.version))
    return req_fail(err, CNI_ERR_VERSION, "CHECK: needs cniVersion 0.4.0 or later");
  cleanup_close int fd = netns_open(q->env.netns, err);
  if (fd < 0)
    return fd;
  attach_names(q, &a);
  if (netns_attach_check(&a, fd, err) < 0) {
    berth_err_wrap(err, "CHECK");
    return -CNI_ERR_BROKEN;
  }
  return 0;
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
  if (r == 0)
    r = cni_config_check(&q->cc, err);
  if (r == 0)
    r = cni_holder(&q->env, q->holder, sizeof(q->holder), err);
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
