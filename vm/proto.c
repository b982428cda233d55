/* Control channel frames and records (see proto.h). Used by berth and,
 * linked statically, by the guest init. */
#include "proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileutil.h"

int vm_msg_send(int fd, enum vm_msg type, const void *data, size_t len)
{
  if (len > VM_MSG_MAX) {
    errno = EMSGSIZE;
    return -1;
  }
  unsigned char hdr[VM_FRAME_HDR];
  uint32_t n = (uint32_t)len + 1;
  for (int i = 0; i < 4; i++)
    hdr[i] = (unsigned char)(n >> (8 * i));
  hdr[4] = (unsigned char)type;
  /* One write when it is small: the two halves of a frame must not be
   * interleaved with another writer's (the guest's stdout and exit). */
  unsigned char one[VM_FRAME_HDR + 256];
  if (len <= 256) {
    memcpy(one, hdr, VM_FRAME_HDR);
    if (len)
      memcpy(one + VM_FRAME_HDR, data, len);
    return write_all(fd, (const char *)one, VM_FRAME_HDR + len);
  }
  return write_all(fd, (const char *)hdr, VM_FRAME_HDR) < 0 ? -1 : write_all(fd, data, len);
}

void vm_u32_encode(unsigned char out[4], uint32_t v)
{
  for (int i = 0; i < 4; i++)
    out[i] = (unsigned char)(v >> (8 * i));
}

int vm_msg_send_u32(int fd, enum vm_msg type, uint32_t v)
{
  unsigned char b[4];
  vm_u32_encode(b, v);
  return vm_msg_send(fd, type, b, sizeof(b));
}

/* One buffer, so the frame goes out in one vm_msg_send. */
int vm_msg_send_tagged(int fd, enum vm_msg type, uint32_t id, const void *data, size_t len)
{
  static unsigned char buf[VM_MSG_MAX];
  if (len > VM_MSG_MAX - 4) {
    errno = EMSGSIZE;
    return -1;
  }
  vm_u32_encode(buf, id);
  if (len)
    memcpy(buf + 4, data, len);
  return vm_msg_send(fd, type, buf, len + 4);
}

bool vm_msg_is_exec_request(uint8_t type)
{
  return type >= VM_MSG_EXEC && type <= VM_MSG_PS;
}

bool vm_msg_is_exec_reply(uint8_t type)
{
  return type >= VM_MSG_EXEC_STARTED && type <= VM_MSG_PS_REPLY;
}

uint32_t vm_u32_decode(const char *data, uint32_t len)
{
  uint32_t v = 0;
  for (uint32_t i = 0; i < 4 && i < len; i++)
    v |= (uint32_t)(unsigned char)data[i] << (8 * i);
  return v;
}

/* Drops the frames already taken so the space behind them is free. */
static void reader_compact(struct vm_reader *r)
{
  if (r->taken == 0)
    return;
  memmove(r->buf, r->buf + r->taken, r->have - r->taken);
  r->have -= r->taken;
  r->taken = 0;
}

long vm_reader_fill(struct vm_reader *r, int fd)
{
  reader_compact(r);
  ssize_t n;
  do
    n = read(fd, r->buf + r->have, sizeof(r->buf) - r->have);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    r->have += (size_t)n;
  return (long)n;
}

size_t vm_reader_feed(struct vm_reader *r, const void *data, size_t len)
{
  reader_compact(r);
  size_t room = sizeof(r->buf) - r->have;
  if (len > room)
    len = room;
  memcpy(r->buf + r->have, data, len);
  r->have += len;
  return len;
}

int vm_reader_next(struct vm_reader *r, uint8_t *type, const char **data, uint32_t *len)
{
  size_t avail = r->have - r->taken;
  const unsigned char *p = r->buf + r->taken;
  if (avail < VM_FRAME_HDR)
    return 0;
  uint32_t n = vm_u32_decode((const char *)p, 4);
  if (n == 0 || n > VM_MSG_MAX + 1)
    return -1;
  if (avail < 4 + (size_t)n)
    return 0;
  *type = p[4];
  *data = (const char *)p + VM_FRAME_HDR;
  *len = n - 1;
  r->taken += 4 + (size_t)n;
  return 1;
}

static void buf_append(struct vm_buf *b, const char *s, size_t n)
{
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
      abort();
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

void vm_rec_add(struct vm_buf *b, const char *key, const char *value)
{
  buf_append(b, key, strlen(key) + 1);
  buf_append(b, value, strlen(value) + 1);
}

void vm_rec_addf(struct vm_buf *b, const char *key, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *v = NULL;
  if (vasprintf(&v, fmt, ap) < 0)
    abort();
  va_end(ap);
  vm_rec_add(b, key, v);
  free(v);
}

int vm_rec_next(const char *data, size_t len, size_t *off, const char **key, const char **value)
{
  if (*off >= len)
    return 0;
  const char *k = data + *off;
  const char *kend = memchr(k, '\0', len - *off);
  if (kend == NULL)
    return -1;
  const char *v = kend + 1;
  const char *vend = v < data + len ? memchr(v, '\0', (size_t)(data + len - v)) : NULL;
  if (vend == NULL)
    return -1;
  *key = k;
  *value = v;
  *off = (size_t)(vend + 1 - data);
  return 1;
}

void vm_buf_free(struct vm_buf *b)
{
  free(b->data);
  *b = (struct vm_buf){0};
}
