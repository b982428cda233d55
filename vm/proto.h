/* The control channel between berth (host) and the guest init: frames
 * over virtio-serial. Shared by both sides; pure logic apart from
 * vm_msg_send and vm_reader_fill, so tests/unit covers it.
 *
 * A frame: u32 little-endian length of what follows, u8 type, payload.
 * SPEC's payload is a sequence of records "KEY\0VALUE\0". */
#ifndef BERTH_VM_PROTO_H
#define BERTH_VM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vm_msg {
  /* host -> guest */
  VM_MSG_SPEC = 1,  /* records: the process and what the guest applies */
  VM_MSG_START,     /* run the process (berth start) */
  VM_MSG_STDIN,     /* bytes for the process's stdin */
  VM_MSG_STDIN_EOF, /* stdin closed */
  VM_MSG_SIGNAL,    /* u32 signal number for the process */
  VM_MSG_RESIZE,    /* u32 rows, u32 cols: the process's terminal size */
  /* host -> guest, about one exec'd process: each payload starts with the
   * u32 exec id the supervisor chose (berth exec's own connection to the
   * supervisor carries the same frames without it). */
  VM_MSG_EXEC = 8,       /* id, records: the process (SPEC's process keys) */
  VM_MSG_EXEC_STDIN,     /* id, bytes */
  VM_MSG_EXEC_STDIN_EOF, /* id */
  VM_MSG_EXEC_SIGNAL,    /* id, u32 signal */
  VM_MSG_EXEC_RESIZE,    /* id, u32 rows, u32 cols */
  VM_MSG_PS,             /* id: list the container's processes */
  /* guest -> host */
  VM_MSG_READY = 16, /* booted: "KERNEL_NS INIT_NS" (CLOCK_BOOTTIME at init start, now) */
  VM_MSG_PREPARED,   /* rootfs, mounts and cgroup done: waiting for START */
  VM_MSG_STARTED,    /* the process exec'd: "NS" (CLOCK_BOOTTIME) */
  VM_MSG_STDOUT,
  VM_MSG_STDERR,
  VM_MSG_EXIT,  /* u32 status: 0-255, 128+N when killed by signal N */
  VM_MSG_ERROR, /* one line of text: the guest could not do what SPEC asked */
  /* guest -> host, tagged with the exec id as above */
  VM_MSG_EXEC_STARTED = 32, /* id, u32 pid in the guest */
  VM_MSG_EXEC_STDOUT,       /* id, bytes (a terminal's output comes here) */
  VM_MSG_EXEC_STDERR,       /* id, bytes */
  VM_MSG_EXEC_EXIT,         /* id, u32 status: 0-255, 128+N */
  VM_MSG_EXEC_ERROR,        /* id, one line: the process could not be started */
  VM_MSG_PS_REPLY,          /* id, text: "PID PPID STAT COMMAND" lines */
};

/* Is type one of the tagged exec frames, and does it go host -> guest? */
bool vm_msg_is_exec_request(uint8_t type);
bool vm_msg_is_exec_reply(uint8_t type);

#define VM_MSG_MAX 65536 /* largest payload */
#define VM_FRAME_HDR 5

/* Blocking: writes a whole frame (retries on EINTR and short writes). */
int vm_msg_send(int fd, enum vm_msg type, const void *data, size_t len);
int vm_msg_send_u32(int fd, enum vm_msg type, uint32_t v);
/* A frame whose payload is u32 id (little-endian), then data. */
int vm_msg_send_tagged(int fd, enum vm_msg type, uint32_t id, const void *data, size_t len);
/* A payload of two u32s (SIGNAL with an id, RESIZE). */
void vm_u32_encode(unsigned char out[4], uint32_t v);

/* Frames arrive in pieces: fill with what a read gives, then take every
 * complete frame with vm_reader_next. */
struct vm_reader {
  size_t have, taken;
  unsigned char buf[VM_FRAME_HDR + VM_MSG_MAX];
};
/* Returns the bytes read, 0 on EOF, -1 on error (errno set; EAGAIN when
 * nothing was there). */
long vm_reader_fill(struct vm_reader *r, int fd);
/* Appends bytes already read (unit tests). Returns how many fitted. */
size_t vm_reader_feed(struct vm_reader *r, const void *data, size_t len);
/* 1 and the frame (valid until the next call) when one is complete, 0
 * when more is needed, -1 when the stream is corrupt (oversized frame). */
int vm_reader_next(struct vm_reader *r, uint8_t *type, const char **data, uint32_t *len);

uint32_t vm_u32_decode(const char *data, uint32_t len);

/* Records: a growing buffer of "KEY\0VALUE\0". */
struct vm_buf {
  char *data;
  size_t len, cap;
};
void vm_rec_add(struct vm_buf *b, const char *key, const char *value);
void vm_rec_addf(struct vm_buf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Walks records from *off: 1 with key and value, 0 at the end, -1 when
 * the payload is malformed (a record without its two NULs). */
int vm_rec_next(const char *data, size_t len, size_t *off, const char **key, const char **value);
void vm_buf_free(struct vm_buf *b);

#endif
