/* The uncompressed tar stream of a layer blob, produced in its own thread.
 *
 * Why a second libarchive reader rather than one reader with filters: the
 * diff_id is the sha256 of the *uncompressed* tar, which a tar reader with
 * decompression filters never hands out. So one archive (gzip/zstd/none
 * filters + the "raw" format) only decompresses, in a thread, into a ring
 * of large chunks, hashing them; the tar reader in layer_unpack reads those
 * chunks through its read callback and applies entries meanwhile. The same
 * library detects the compression as before, the digest covers exactly the
 * bytes the tar reader parses (plus what follows the end marker, read by
 * tar_stream_finish), and inflating + hashing run on another CPU than the
 * syscall-bound apply loop: on a 2-CPU machine that is most of the win over
 * a one-thread loop.
 *
 * A stream started with a spill file (layers_unpack's prefetch of the
 * layers after the one being applied) does not wait for its reader: the
 * thread appends the whole tar stream to that file (unlinked, on disk, so
 * memory stays bounded) and the reader follows behind it with pread.
 * Such a thread runs under SCHED_IDLE: it takes only CPU time nothing else
 * wants, never from the layer being applied (its reader and its
 * decompressor are what the unpack waits for), until it becomes that layer
 * itself (tar_stream_boost). */
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"

#define STREAM_SLOTS 8
#define STREAM_SLOT_SIZE (1u << 20)
#define STREAM_IN_SIZE (256u << 10)

struct tar_stream {
  struct archive *ar; /* raw format over the decompression filters */
  int blob_fd;
  int spill_fd;      /* -1: the ring */
  int64_t blob_size; /* -1: not a regular file, use what was read so far */
  EVP_MD_CTX *md;
  uint64_t total;
  char *inbuf;
  pthread_t thread;
  bool started;
  /* The ring: slots head .. head+count-1 are filled; the consumer holds
   * slot head between two reads (held). Guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *buf[STREAM_SLOTS];
  size_t len[STREAM_SLOTS];
  unsigned head, count;
  uint64_t spilled, read_off; /* spill mode: written by the thread, read */
  bool held, done, failed, stop;
  char errmsg[512];
};

static la_ssize_t blob_read(struct archive *a, void *arg, const void **buf)
{
  struct tar_stream *s = arg;
  ssize_t n;
  do
    n = read(s->blob_fd, s->inbuf, STREAM_IN_SIZE);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    archive_set_error(a, errno, "read the layer blob");
  *buf = s->inbuf;
  return n;
}

/* A decompression bomb is a small blob that expands to fill the disk: a
 * gzip stream of zeros expands ~1000x, zstd far more. Real layers compress
 * 2-10x (text-heavy ones up to ~20x), so a layer is refused only when its
 * tar passes both 1 GiB and 100x its compressed size: a legitimate layer
 * needs a >1 GiB stretch of near-zero-entropy data to trip it. */
static bool stream_over_limit(struct tar_stream *s)
{
  if (s->total <= UNPACK_MIN_LIMIT)
    return false;
  int64_t in = s->blob_size >= 0 ? s->blob_size : archive_filter_bytes(s->ar, -1);
  return s->total / UNPACK_MAX_RATIO > (uint64_t)in;
}

static void stream_fail(struct tar_stream *s, const char *what, const char *detail)
{
  pthread_mutex_lock(&s->mu);
  snprintf(s->errmsg, sizeof(s->errmsg), "%s%s", what, detail);
  s->failed = s->done = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits for a free slot; false when the consumer asked to stop. */
static bool slot_wait_free(struct tar_stream *s, unsigned *i)
{
  pthread_mutex_lock(&s->mu);
  while (s->count == STREAM_SLOTS && !s->stop)
    pthread_cond_wait(&s->cv, &s->mu);
  *i = (s->head + s->count) % STREAM_SLOTS;
  bool ok = !s->stop;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

static void slot_publish(struct tar_stream *s, unsigned i, size_t n, bool eof)
{
  pthread_mutex_lock(&s->mu);
  s->len[i] = n;
  s->count++;
  s->done = eof;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Fills buf from the decompressor; 1 when the stream ended, -1 on error. */
static int chunk_fill(struct tar_stream *s, char *buf, size_t *n, const void **pend, size_t *plen)
{
  *n = 0;
  while (*n < STREAM_SLOT_SIZE) {
    if (*plen == 0) {
      la_int64_t off;
      int r = archive_read_data_block(s->ar, pend, plen, &off);
      if (r == ARCHIVE_EOF)
        return 1;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return -1;
      continue;
    }
    size_t k = *plen < STREAM_SLOT_SIZE - *n ? *plen : STREAM_SLOT_SIZE - *n;
    memcpy(buf + *n, *pend, k);
    *n += k;
    *pend = (const char *)*pend + k;
    *plen -= k;
  }
  return 0;
}

/* Where the thread's next chunk goes: a free ring slot (waited for), or
 * the spill buffer. NULL when the reader asked to stop. */
static char *chunk_get(struct tar_stream *s, unsigned *i)
{
  if (s->spill_fd < 0)
    return slot_wait_free(s, i) ? s->buf[*i] : NULL;
  pthread_mutex_lock(&s->mu);
  bool stop = s->stop;
  pthread_mutex_unlock(&s->mu);
  return stop ? NULL : s->buf[0];
}

/* Hands n bytes of the chunk to the reader: the ring slot, or appended
 * to the spill file. -1 when the file cannot take them. */
static int chunk_put(struct tar_stream *s, unsigned i, size_t n, bool eof)
{
  if (s->spill_fd < 0) {
    slot_publish(s, i, n, eof);
    return 0;
  }
  if (write_all(s->spill_fd, s->buf[0], n) < 0)
    return -1;
  pthread_mutex_lock(&s->mu);
  s->spilled += n;
  s->done = eof;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

/* Thread: decompressor -> ring or spill file, hashing and counting on the
 * way. */
static void *stream_thread(void *arg)
{
  struct tar_stream *s = arg;
  const void *pend = NULL;
  size_t plen = 0;
  for (int eof = 0; !eof;) {
    unsigned i = 0;
    size_t n;
    char *buf = chunk_get(s, &i);
    if (buf == NULL)
      return NULL;
    eof = chunk_fill(s, buf, &n, &pend, &plen);
    if (eof < 0) {
      /* What came before the error goes on, so the tar reader fails in
       * the entry that is cut short and the message can name it. */
      const char *e = archive_error_string(s->ar);
      if (n > 0 && chunk_put(s, i, n, false) < 0)
        e = strerror(errno);
      stream_fail(s, "decompress: ", e ? e : "unknown error");
      return NULL;
    }
    EVP_DigestUpdate(s->md, buf, n);
    s->total += n;
    if (stream_over_limit(s)) {
      stream_fail(s, "layer expands past 1 GiB and past 100 times its compressed size: ",
                  "refusing what looks like a decompression bomb");
      return NULL;
    }
    if (chunk_put(s, i, n, eof) < 0) {
      stream_fail(s, "write the prefetched layer to a temporary file: ", strerror(errno));
      return NULL;
    }
  }
  return NULL;
}

static int stream_open_archive(struct tar_stream *s, struct berth_err **err)
{
  struct archive_entry *e;
  s->ar = archive_read_new();
  if (s->ar == NULL)
    return berth_err_set(err, ENOMEM, "archive_read_new");
  archive_read_support_filter_gzip(s->ar);
  archive_read_support_filter_zstd(s->ar);
  archive_read_support_filter_none(s->ar);
  archive_read_support_format_raw(s->ar);
  if (archive_read_open(s->ar, s, NULL, blob_read, NULL) != ARCHIVE_OK ||
      archive_read_next_header(s->ar, &e) != ARCHIVE_OK)
    return berth_err_set(err, archive_errno(s->ar), "open the layer blob: %s",
                         archive_error_string(s->ar) ? archive_error_string(s->ar) : "empty?");
  return 0;
}

int tar_stream_start(int blob_fd, int spill_fd, struct tar_stream **out, struct berth_err **err)
{
  struct tar_stream *s = xcalloc(1, sizeof(*s));
  struct stat st;
  s->blob_fd = blob_fd;
  s->spill_fd = spill_fd;
  s->blob_size = fstat(blob_fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
  s->inbuf = xcalloc(1, STREAM_IN_SIZE);
  /* spill mode: buf[0] the thread's chunk, buf[1] the reader's */
  for (unsigned i = 0; i < (spill_fd < 0 ? STREAM_SLOTS : 2); i++)
    s->buf[i] = xcalloc(1, STREAM_SLOT_SIZE);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->md = EVP_MD_CTX_new();
  if (s->md == NULL || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
    tar_stream_free(s);
    return berth_err_set(err, ENOMEM, "sha256 context");
  }
  int r = stream_open_archive(s, err);
  if (r == 0 && (r = pthread_create(&s->thread, NULL, stream_thread, s)) != 0)
    r = berth_err_set(err, r, "start the decompression thread");
  s->started = r == 0;
  struct sched_param idle = {0};
  if (r == 0 && spill_fd >= 0)
    pthread_setschedparam(s->thread, SCHED_IDLE, &idle); /* best effort */
  if (r < 0) {
    tar_stream_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

/* Spill mode: the next chunk of the file once the thread has written it. */
static ssize_t spill_read(struct tar_stream *s, const void **buf)
{
  pthread_mutex_lock(&s->mu);
  while (s->read_off == s->spilled && !s->done)
    pthread_cond_wait(&s->cv, &s->mu);
  uint64_t avail = s->spilled - s->read_off;
  bool failed = s->failed;
  pthread_mutex_unlock(&s->mu);
  if (avail == 0)
    return failed ? -1 : 0;
  size_t want = avail < STREAM_SLOT_SIZE ? (size_t)avail : STREAM_SLOT_SIZE;
  ssize_t n;
  do
    n = pread(s->spill_fd, s->buf[1], want, (off_t)s->read_off);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    stream_fail(s, "read the prefetched layer back: ", n < 0 ? strerror(errno) : "short file");
    return -1;
  }
  s->read_off += (uint64_t)n;
  *buf = s->buf[1];
  return n;
}

ssize_t tar_stream_read(struct tar_stream *s, const void **buf)
{
  if (s->spill_fd >= 0)
    return spill_read(s, buf);
  pthread_mutex_lock(&s->mu);
  if (s->held) {
    s->head = (s->head + 1) % STREAM_SLOTS;
    s->count--;
    s->held = false;
    pthread_cond_broadcast(&s->cv);
  }
  while (s->count == 0 && !s->done)
    pthread_cond_wait(&s->cv, &s->mu);
  ssize_t n = s->failed ? -1 : 0;
  if (s->count > 0) {
    s->held = true;
    *buf = s->buf[s->head];
    n = (ssize_t)s->len[s->head];
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

void tar_stream_boost(struct tar_stream *s)
{
  struct sched_param normal = {0};
  /* Best effort: an ordinary user may not leave SCHED_IDLE (RLIMIT_NICE
   * 0); its stream is then only slower when the CPUs are busy. */
  if (s->started && s->spill_fd >= 0)
    pthread_setschedparam(s->thread, SCHED_OTHER, &normal);
}

const char *tar_stream_error(struct tar_stream *s)
{
  pthread_mutex_lock(&s->mu);
  bool failed = s->failed;
  pthread_mutex_unlock(&s->mu);
  return failed ? s->errmsg : NULL;
}

static void stream_join(struct tar_stream *s)
{
  if (!s->started)
    return;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  s->started = false;
}

int tar_stream_finish(struct tar_stream *s, char diff_id[DIGEST_MAX], uint64_t *bytes,
                      struct berth_err **err)
{
  const void *buf;
  ssize_t n;
  while ((n = tar_stream_read(s, &buf)) > 0)
    ;
  stream_join(s);
  if (n < 0)
    return berth_err_set(err, 0, "%s", s->errmsg);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_DigestFinal_ex(s->md, md, &mdlen);
  if (diff_id != NULL) {
    memcpy(diff_id, "sha256:", 8);
    for (size_t i = 0; i < mdlen && i < 32; i++)
      snprintf(diff_id + 7 + 2 * i, 3, "%02x", md[i]);
  }
  *bytes = s->total;
  return 0;
}

void tar_stream_free(struct tar_stream *s)
{
  if (s == NULL)
    return;
  stream_join(s);
  if (s->ar != NULL)
    archive_read_free(s->ar);
  EVP_MD_CTX_free(s->md);
  if (s->spill_fd >= 0)
    close(s->spill_fd);
  for (unsigned i = 0; i < STREAM_SLOTS; i++)
    free(s->buf[i]);
  free(s->inbuf);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}
