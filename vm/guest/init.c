/* The microVM's PID 1. The recipe, one line per step: basic mounts,
 * modules, control channel, READY; SPEC -> rootfs, mounts, cgroup,
 * network, PREPARED; START -> the process, STARTED; then, as the agent
 * (agent.c), relay stdio and signals and serve exec and ps until it exits,
 * report EXIT with its status and power off. Any failure
 * is sent as ERROR (or, before the channel exists, printed on the
 * console the host keeps) and the guest powers off. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proto.h"
#include "guest.h"

static struct vm_reader reader;

_Noreturn static void fail(int chan, struct berth_err *e)
{
  fprintf(stderr, "berth-init: %s\n", e->msg);
  if (chan >= 0)
    vm_msg_send(chan, VM_MSG_ERROR, e->msg, strlen(e->msg));
  guest_poweroff();
}

/* Blocks until a frame of type want arrives; SIGNAL before the process
 * exists ends the guest as the process would have ended (128+N). */
static void wait_for(int chan, enum vm_msg want, const char **data, uint32_t *len)
{
  for (;;) {
    uint8_t type;
    int r;
    while ((r = vm_reader_next(&reader, &type, data, len)) == 1) {
      if (type == want)
        return;
      if (type == VM_MSG_SIGNAL) {
        vm_msg_send_u32(chan, VM_MSG_EXIT, 128 + vm_u32_decode(*data, *len));
        guest_poweroff();
      }
    }
    if (r < 0 || vm_reader_fill(&reader, chan) <= 0) {
      struct berth_err e = {0, "control channel closed"};
      fail(-1, &e);
    }
  }
}

int main(void)
{
  uint64_t t_init = guest_boottime_ns();
  struct berth_err *e = NULL;
  struct guest_spec spec = {0};
  struct guest_net net;
  struct cgroup *cg = NULL;
  struct guest_proc proc;
  const char *data;
  uint32_t len;
  char line[64];
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_CLOEXEC);
  int chan = -1;

  if (guest_mount_basics(&e) < 0)
    fail(chan, e);
  guest_console_stdio();
  if (guest_modules_load("/lib/modules", &e) < 0 || (chan = guest_channel_open(10000, &e)) < 0)
    fail(chan, e);
  snprintf(line, sizeof(line), "%llu %llu", (unsigned long long)t_init,
           (unsigned long long)guest_boottime_ns());
  vm_msg_send(chan, VM_MSG_READY, line, strlen(line));
  wait_for(chan, VM_MSG_SPEC, &data, &len);
  if (guest_spec_decode(data, len, &spec, &e) < 0 || guest_net_decode(data, len, &net, &e) < 0 ||
      guest_prepare(&spec, &cg, &e) < 0 || guest_net_apply(&net, spec.readonly, &e) < 0)
    fail(chan, e);
  vm_msg_send(chan, VM_MSG_PREPARED, NULL, 0);
  wait_for(chan, VM_MSG_START, &data, &len);
  if (guest_spawn(&spec, cg, 0, &proc, &e) < 0)
    fail(chan, e);
  snprintf(line, sizeof(line), "%llu", (unsigned long long)guest_boottime_ns());
  vm_msg_send(chan, VM_MSG_STARTED, line, strlen(line));
  int status = agent_run(chan, &reader, sigfd, cg, &proc);
  vm_msg_send_u32(chan, VM_MSG_EXIT, (uint32_t)status);
  guest_poweroff();
}
