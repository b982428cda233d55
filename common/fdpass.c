#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

ssize_t fd_send_via(int sock, const void *data, size_t len, int fd, bool mmsg)
{
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof(u));
  struct msghdr mh = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  struct mmsghdr mm = {.msg_hdr = mh};
  do
    n = mmsg ? (sendmmsg(sock, &mm, 1, MSG_NOSIGNAL) == 1 ? (ssize_t)mm.msg_len : -1)
             : sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

ssize_t fd_send(int sock, const void *data, size_t len, int fd)
{
  return fd_send_via(sock, data, len, fd, false);
}
