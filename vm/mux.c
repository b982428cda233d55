/* The supervisor's side of exec and ps: `berth exec` and `berth ps`
 * connect to VM_EXEC_SOCK in the state directory and speak the exec
 * frames of proto.h untagged, one request per connection; the supervisor,
 * the only holder of the control channel, tags each connection's frames
 * with an id of its own on the way to the guest and strips it on the way
 * back. A connection that goes away with its process still running takes
 * the process with it (SIGKILL), as a killed `berth exec` relay stands for
 * the process on the host. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/fileutil.h"
#include "proto.h"
#include "vm.h"

static void client_drop(struct vm_mux *m, struct vm_mux_client *c, int ctl)
{
  if (c->live) {
    unsigned char sig[4];
    vm_u32_encode(sig, SIGKILL);
    vm_msg_send_tagged(ctl, VM_MSG_EXEC_SIGNAL, c->id, sig, sizeof(sig));
  }
  close(c->fd);
  free(c->rd);
  *c = (struct vm_mux_client){.fd = -1};
  (void)m;
}

int vm_mux_open(struct vm_mux *m, struct berth_err **err)
{
  *m = (struct vm_mux){.listen = -1};
  for (int i = 0; i < VM_MUX_CLIENTS; i++)
    m->c[i].fd = -1;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", VM_EXEC_SOCK);
  unlink(VM_EXEC_SOCK);
  m->listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m->listen < 0 || bind(m->listen, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
      listen(m->listen, 16) < 0)
    return berth_err_sys(err, "microvm: exec socket");
  return 0;
}

void vm_mux_close(struct vm_mux *m, int ctl)
{
  for (int i = 0; i < VM_MUX_CLIENTS; i++)
    if (m->c[i].fd >= 0)
      client_drop(m, &m->c[i], ctl);
  if (m->listen >= 0) {
    close(m->listen);
    unlink(VM_EXEC_SOCK);
  }
  m->listen = -1;
}

size_t vm_mux_pollfds(const struct vm_mux *m, struct pollfd *f)
{
  size_t n = 0;
  f[n++] = (struct pollfd){m->listen, POLLIN, 0};
  for (int i = 0; i < VM_MUX_CLIENTS; i++)
    f[n++] = (struct pollfd){m->c[i].fd, POLLIN, 0};
  return n;
}

static void accept_one(struct vm_mux *m)
{
  int fd = accept4(m->listen, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    return;
  for (int i = 0; i < VM_MUX_CLIENTS; i++)
    if (m->c[i].fd < 0) {
      m->c[i] = (struct vm_mux_client){.fd = fd, .id = ++m->next_id};
      m->c[i].rd = xcalloc(1, sizeof(*m->c[i].rd));
      return;
    }
  static const char busy[] = "microvm: too many execs at once";
  vm_msg_send(fd, VM_MSG_EXEC_ERROR, busy, sizeof(busy) - 1);
  close(fd);
}

/* A frame from a client: an exec request, forwarded with its id. Before
 * the container's process runs there is nothing to join yet. */
static int client_frame(struct vm_mux_client *c, int ctl, bool running, uint8_t type, const char *d,
                        uint32_t len)
{
  if (!vm_msg_is_exec_request(type))
    return -1;
  if (!running && (type == VM_MSG_EXEC || type == VM_MSG_PS)) {
    static const char msg[] = "microvm: the container's process has not started";
    vm_msg_send(c->fd, VM_MSG_EXEC_ERROR, msg, sizeof(msg) - 1);
    return 0;
  }
  if (type == VM_MSG_EXEC)
    c->live = true;
  return vm_msg_send_tagged(ctl, type, c->id, d, len);
}

static void client_read(struct vm_mux *m, struct vm_mux_client *c, int ctl, bool running)
{
  long n = vm_reader_fill(c->rd, c->fd);
  if (n < 0 && errno == EAGAIN)
    return;
  uint8_t type;
  const char *d;
  uint32_t len;
  int r = 0;
  while (n > 0 && (r = vm_reader_next(c->rd, &type, &d, &len)) == 1)
    if (client_frame(c, ctl, running, type, d, len) < 0) {
      r = -1;
      break;
    }
  if (n <= 0 || r < 0)
    client_drop(m, c, ctl);
}

void vm_mux_on_poll(struct vm_mux *m, const struct pollfd *f, int ctl, bool running)
{
  if (f[0].revents & POLLIN)
    accept_one(m);
  for (int i = 0; i < VM_MUX_CLIENTS; i++)
    if (m->c[i].fd >= 0 && f[1 + i].fd == m->c[i].fd && f[1 + i].revents)
      client_read(m, &m->c[i], ctl, running);
}

void vm_mux_on_guest(struct vm_mux *m, int ctl, uint8_t type, const char *d, uint32_t len)
{
  if (len < 4)
    return;
  uint32_t id = vm_u32_decode(d, 4);
  for (int i = 0; i < VM_MUX_CLIENTS; i++) {
    struct vm_mux_client *c = &m->c[i];
    if (c->fd < 0 || c->id != id)
      continue;
    if (type == VM_MSG_EXEC_EXIT || type == VM_MSG_EXEC_ERROR)
      c->live = false;
    /* A client that stopped reading loses its output, not the others'. */
    if (vm_msg_send(c->fd, type, d + 4, len - 4) < 0)
      client_drop(m, c, ctl);
    return;
  }
}
