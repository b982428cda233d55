/* Unit tests of netns/ attachments: the state record round trip, names,
 * and the container's /etc files. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/fileutil.h"
#include "../../netns/netns.h"
#include "check.h"

static void config_for(struct net_config *c)
{
  struct berth_err *err = NULL;
  netns_config_init(c);
  if (netns_config_set(c, "net", "bridge", &err) < 0 ||
      netns_config_set(c, "net.subnet", "10.88.0.0/16,fd88::/64", &err) < 0 ||
      netns_config_set(c, "net.publish", "8080:80,53:53/udp", &err) < 0)
    printf("# config: %s\n", err->msg);
  berth_err_free(&err);
}

static void test_names(void)
{
  struct net_config c;
  config_for(&c);
  struct net_attachment a, b;
  netns_attach_names(&c, "/run/berth/one", "/run/berth-net/x/berth0", NULL, &a);
  netns_attach_names(&c, "/run/berth/two", "/run/berth-net/x/berth0", "net1", &b);
  CHECK(strncmp(a.host_if, "bth", 3) == 0 && strlen(a.host_if) == 11, "host_if %s", a.host_if);
  CHECK(strcmp(a.host_if, b.host_if) != 0, "host_if differs per holder");
  CHECK(strcmp(a.cont_if, "eth0") == 0 && strcmp(b.cont_if, "net1") == 0, "cont_if");
  char gw[64];
  CHECK(strcmp(net_prefix_format(&a.gw4, false, gw, sizeof(gw)), "10.88.0.1") == 0, "gw4 %s", gw);
  CHECK(strcmp(net_prefix_format(&a.gw6, false, gw, sizeof(gw)), "fd88::1") == 0, "gw6 %s", gw);
  CHECK(a.nports == 2 && a.nat && a.mtu == 1500, "ports, nat, mtu");
}

static void test_record(void)
{
  struct net_config c;
  config_for(&c);
  struct net_attachment a, b;
  struct berth_err *err = NULL;
  netns_attach_names(&c, "/run/berth/one", "/run/berth-net/x/berth0", NULL, &a);
  net_addr_parse("10.88.0.7", &a.addr4, &err);
  a.addr4.len = 16;
  net_addr_parse("fd88::7", &a.addr6, &err);
  a.addr6.len = 64;
  memcpy(a.mac, "\x02\x42\x0a\x58\x00\x07", 6);
  char *text = netns_attach_to_json(&a);
  int r = netns_attach_from_json(text, &b, &err);
  CHECK(r == 0, "from_json: %s", err ? err->msg : "");
  /* Field by field (struct net_port has padding), then the whole text. */
  char *again = netns_attach_to_json(&b);
  CHECK(strcmp(text, again) == 0, "record round trip: %s\n vs %s", text, again);
  CHECK(memcmp(&a.addr6, &b.addr6, sizeof(a.addr6)) == 0 && memcmp(a.mac, b.mac, 6) == 0 &&
            strcmp(a.host_if, b.host_if) == 0 && b.nports == 2 && b.ports[1].proto == 17,
        "record fields");
  free(again);
  free(text);
  berth_err_free(&err);
  CHECK(netns_attach_from_json("{\"addr4\":\"10.88.0.300/16\"}", &b, &err) < 0, "bad addr");
  berth_err_free(&err);
  CHECK(netns_attach_from_json("[1]", &b, &err) < 0, "not an object");
  berth_err_free(&err);
  CHECK(netns_attach_from_json("{\"holder\":7}", &b, &err) < 0, "holder must be a string");
  berth_err_free(&err);
}

static char *file_in(int dirfd, const char *name)
{
  char *text = NULL;
  struct berth_err *err = NULL;
  if (read_file_at(dirfd, name, 65536, &text, NULL, &err) < 0) {
    berth_err_free(&err);
    return xstrdup("");
  }
  return text;
}

static void test_etc(void)
{
  char dir[] = "/tmp/berth-etc-XXXXXX";
  if (mkdtemp(dir) == NULL)
    return;
  int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  struct net_config c;
  config_for(&c);
  struct net_attachment a;
  struct berth_err *err = NULL;
  netns_attach_names(&c, "/run/berth/one", "/x", NULL, &a);
  net_addr_parse("10.88.0.7", &a.addr4, &err);
  net_addr_parse("fd88::7", &a.addr6, &err);
  CHECK(netns_etc_write(fd, "web", &a, &err) == 0, "etc write");
  char *hosts = file_in(fd, "hosts"), *name = file_in(fd, "hostname");
  CHECK(strstr(hosts, "127.0.0.1\tlocalhost\n") != NULL, "hosts localhost: %s", hosts);
  CHECK(strstr(hosts, "10.88.0.7\tweb\n") != NULL, "hosts v4: %s", hosts);
  CHECK(strstr(hosts, "fd88::7\tweb\n") != NULL, "hosts v6: %s", hosts);
  CHECK(strcmp(name, "web\n") == 0, "hostname: %s", name);
  free(hosts);
  free(name);
  CHECK(netns_etc_write(fd, "solo", NULL, &err) == 0, "etc write, slirp");
  char *resolv = file_in(fd, "resolv.conf");
  CHECK(strncmp(resolv, "nameserver 10.0.2.3\n", 20) == 0, "slirp resolv: %s", resolv);
  CHECK(strstr(resolv, "nameserver 127.") == NULL, "no loopback nameserver: %s", resolv);
  free(resolv);
  static const char *const names[] = {"hosts", "hostname", "resolv.conf"};
  for (size_t i = 0; i < 3; i++)
    unlinkat(fd, names[i], 0);
  close(fd);
  rmdir(dir);
  berth_err_free(&err);
}

void netattach_unit_tests(void)
{
  test_names();
  test_record();
  test_etc();
}
