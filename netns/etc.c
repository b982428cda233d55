/* The container's /etc/hosts, /etc/hostname and /etc/resolv.conf, written
 * into the state directory; the runtime bind-mounts them read-only. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "netns.h"

#define RESOLV_MAX ((size_t)64 * 1024)

static char *hosts_text(const char *hostname, const struct net_attachment *a)
{
  char a4[64] = "", a6[64] = "";
  if (a && a->addr4.family)
    net_prefix_format(&a->addr4, false, a4, sizeof(a4));
  if (a && a->addr6.family)
    net_prefix_format(&a->addr6, false, a6, sizeof(a6));
  char l4[160] = "", l6[160] = "";
  if (a4[0])
    snprintf(l4, sizeof(l4), "%s\t%s\n", a4, hostname);
  if (a6[0])
    snprintf(l6, sizeof(l6), "%s\t%s\n", a6, hostname);
  return xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s%s", l4, l6);
}

/* A nameserver on the host's loopback (systemd-resolved, dnsmasq) cannot
 * be reached from the container's namespace: such lines are dropped, as
 * docker does; everything else is kept. */
static bool line_keep(const char *line)
{
  char addr[64];
  if (sscanf(line, " nameserver %63s", addr) != 1)
    return true;
  return strncmp(addr, "127.", 4) != 0 && strcmp(addr, "::1") != 0;
}

static char *resolv_text(const char *host_resolv, const char *extra_ns)
{
  cleanup_free char *in = NULL;
  struct berth_err *err = NULL;
  if (read_file_at(AT_FDCWD, host_resolv, RESOLV_MAX, &in, NULL, &err) < 0)
    berth_err_free(&err); /* no resolv.conf on the host: none here either */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    abort();
  if (extra_ns)
    fprintf(f, "nameserver %s\n", extra_ns);
  for (char *save = NULL, *l = in ? strtok_r(in, "\n", &save) : NULL; l;
       l = strtok_r(NULL, "\n", &save))
    if (line_keep(l))
      fprintf(f, "%s\n", l);
  if (fclose(f) != 0 || out == NULL)
    abort();
  return out;
}

int netns_etc_write(int dirfd, const char *hostname, const struct net_attachment *a,
                    struct berth_err **err)
{
  cleanup_free char *hosts = hosts_text(hostname, a);
  cleanup_free char *name = xasprintf("%s\n", hostname);
  /* slirp4netns answers DNS on 10.0.2.3 and forwards it to the host's. */
  cleanup_free char *resolv = resolv_text("/etc/resolv.conf", a ? NULL : "10.0.2.3");
  if (write_file_atomic_at(dirfd, "hosts", hosts, strlen(hosts), 0644, err) < 0 ||
      write_file_atomic_at(dirfd, "hostname", name, strlen(name), 0644, err) < 0 ||
      write_file_atomic_at(dirfd, "resolv.conf", resolv, strlen(resolv), 0644, err) < 0)
    return berth_err_wrap(err, "network files");
  return 0;
}
