#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/fdpass.h"
#include "linux.h"

struct sync_msg {
  int32_t type;
  int32_t errnum;
  char msg[sizeof(((struct berth_err *)0)->msg)];
};

int sync_send(int fd, enum sync_type type, const struct berth_err *e)
{
  return sync_send_val(fd, type, 0, e);
}

int sync_send_val(int fd, enum sync_type type, int32_t val, const struct berth_err *e)
{
  struct sync_msg m = {.type = (int32_t)type, .errnum = val};
  size_t len = offsetof(struct sync_msg, msg);
  if (e) {
    m.errnum = e->errnum;
    snprintf(m.msg, sizeof(m.msg), "%s", e->msg);
    len += strlen(m.msg) + 1;
  }
  ssize_t n;
  do
    n = send(fd, &m, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)len ? 0 : -1;
}

int sync_send_fd(int fd, enum sync_type type, int passed)
{
  struct sync_msg m = {.type = (int32_t)type};
  size_t len = offsetof(struct sync_msg, msg);
  return fd_send(fd, &m, len, passed) == (ssize_t)len ? 0 : -1;
}

int sync_recv(int fd, struct berth_err **err)
{
  return sync_recv_fd(fd, NULL, err);
}

int sync_recv_fd(int fd, int *passed, struct berth_err **err)
{
  return sync_recv_val(fd, passed, NULL, err);
}

int sync_recv_val(int fd, int *passed, int32_t *val, struct berth_err **err)
{
  struct sync_msg m;
  ssize_t n;
  memset(&m, 0, sizeof(m));
  struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m) - 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  if (passed)
    *passed = -1;
  do
    n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof(int));
    if (passed && *passed < 0)
      *passed = got;
    else
      close(got);
  }
  if (n < 0)
    return berth_err_sys(err, "read from container init");
  if (n == 0)
    return 0;
  if ((size_t)n < offsetof(struct sync_msg, msg))
    return berth_err_set(err, EPROTO, "short message from container init");
  if (m.type == SYNC_ERROR) {
    berth_err_set(err, 0, "%s", m.msg);
    (*err)->errnum = m.errnum;
  } else if (val) {
    *val = m.errnum;
  }
  return m.type;
}
