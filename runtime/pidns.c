/* Joining an existing pid namespace (pod-style: linux.namespaces pid with a
 * path) without ever showing that namespace a process that can reach the
 * host. setns(CLONE_NEWPID) only places the caller's *children*, and any
 * process in the namespace is visible to the others there: one holding
 * CAP_SYS_PTRACE could walk /proc/PID/root, cwd or fd of a process of ours
 * into the host's tree. So:
 *  - the container's setup up to pivot_root is done by a first process on
 *    the runtime's pid namespace; only after pivot_root, with nothing of the
 *    host's left open, does it enter the pid namespace and make the init
 *    (pidns_stage_init);
 *  - procfs shows the pid namespace of whoever opened its fs context, so a
 *    throwaway process born in the namespace opens one for the setup to
 *    mount (pidns_procfs_context); that process's whole mount namespace is
 *    an empty tmpfs and it holds no fd but its socket. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "linux.h"

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif

/* Throwaway child, runtime pid namespace: make the mount namespace a lone
 * empty tmpfs (the host's tree unmounted from it), drop every fd but the
 * two given. */
static int empty_world(int sock, int nsfd, struct berth_err **err)
{
  int keep[] = {sock, nsfd};
  for (int fd = 0; fd < 3; fd++)
    close(fd);
  fds_close_except(0, keep, 2);
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return berth_err_sys(err, "pid namespace: private mount namespace");
  if (mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0500") < 0 ||
      chdir("/proc") < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
      chdir("/") < 0)
    return berth_err_sys(err, "pid namespace: empty root");
  return 0;
}

static _Noreturn void procfs_maker(int sock, int nsfd)
{
  struct berth_err *err = NULL;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (empty_world(sock, nsfd, &err) < 0)
    goto fail;
  if (setns(nsfd, CLONE_NEWPID) < 0) {
    berth_err_sys(&err, "join pid namespace");
    goto fail;
  }
  close(nsfd);
  pid_t h = fork();
  if (h == 0) {
    /* Born in the namespace: the context records it. */
    int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (fs < 0)
      berth_err_sys(&err, "fsopen proc");
    if (fs < 0 ? sync_send(sock, SYNC_ERROR, err) : sync_send_fd(sock, SYNC_READY, fs))
      _exit(1);
    _exit(0);
  }
  if (h < 0) {
    /* ENOMEM: the namespace's init is gone, it takes no new process. */
    berth_err_sys(&err, "join pid namespace: no process can be made there");
    goto fail;
  }
  int ws = 0;
  while (waitpid(h, &ws, 0) < 0 && errno == EINTR)
    ;
  _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 1);
fail:
  sync_send(sock, SYNC_ERROR, err);
  _exit(1);
}

int pidns_procfs_context(const char *path, struct berth_err **err)
{
  cleanup_close int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return berth_err_sys(err, "open pid namespace %s", path);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_err_sys(err, "socketpair");
  pid_t p = fork();
  if (p == 0) {
    close(sv[0]);
    procfs_maker(sv[1], nsfd);
  }
  close(sv[1]);
  int fd = -1, type = p < 0 ? berth_err_sys(err, "fork") : sync_recv_fd(sv[0], &fd, err);
  close(sv[0]);
  while (p > 0 && waitpid(p, NULL, 0) < 0 && errno == EINTR)
    ;
  if (type == SYNC_READY && fd >= 0)
    return fd;
  if (fd >= 0)
    close(fd);
  if (*err == NULL)
    berth_err_set(err, EPROTO, "no procfs context came back");
  return berth_err_wrap(err, "pid namespace %s", path);
}

int pidns_stage_init(struct child_ctx *c, int *keep, size_t n_keep, struct berth_err **err)
{
  if (c->pidns_fd >= 0 && setns(c->pidns_fd, CLONE_NEWPID) < 0)
    return berth_err_sys(err, "join pid namespace %s", c->spec->ns[NS_PID].path);
  fds_close_except(c->preserve_fds, keep, n_keep);
  c->pidns_fd = -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return berth_err_sys(err, "pipe");
  pid_t pid = clone_for_runtime(c->sync_fd, err);
  if (pid == 0) {
    /* The init: its pid in the runtime's namespace, for hooks and agents. */
    int32_t v = 0;
    close(p[1]);
    while (read(p[0], &v, sizeof(v)) < 0 && errno == EINTR)
      ;
    close(p[0]);
    c->host_pid = v;
    return 0;
  }
  close(p[0]);
  if (pid < 0) {
    close(p[1]);
    return -1;
  }
  /* The runtime was told (SYNC_PID) and takes over from here. */
  int32_t v = pid;
  if (write(p[1], &v, sizeof(v)) < 0)
    _exit(1);
  _exit(0);
}

int pidns_enter_early(struct child_ctx *c, struct berth_err **err)
{
  if (setns(c->pidns_fd, CLONE_NEWPID) < 0)
    return berth_err_sys(err, "join pid namespace %s", c->spec->ns[NS_PID].path);
  close(c->pidns_fd);
  c->pidns_fd = -1;
  if (unshare((int)c->unshare_flags) < 0)
    return berth_err_sys(err, "create namespaces");
  if (sync_send(c->sync_fd, SYNC_USERNS, NULL) < 0)
    return berth_err_sys(err, "ask for the uid/gid maps");
  if (sync_recv(c->sync_fd, err) != SYNC_GO)
    _exit(1); /* the parent reports why */
  return 0;
}
