/* OCI lifecycle hooks: parse config.json's "hooks", run them.
 *
 * Running a hook: fork, then in the child (async-signal-safe calls only) a new
 * process group, default signal dispositions and mask, the state on stdin
 * through a pipe, stdout+stderr into one pipe, every other fd closed, execve.
 * An execve failure comes back as an errno over a CLOEXEC pipe. The parent
 * polls a pidfd (falling back to 10 ms ticks without one), feeds stdin
 * without blocking, keeps the last 4 KiB of output, and enforces the timeout
 * by SIGKILLing the hook's group. SIGPIPE is blocked while hooks run: a hook
 * that does not read its stdin only makes the write fail with EPIPE, which
 * is ignored (as runc does). */
#include "../common/signals.h"
#include "hooks.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/fileutil.h"
#include "../common/jsonfield.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define HOOK_OUTPUT_MAX 4096 /* output kept, from the end */
#define HOOK_LINE_MAX 900    /* output quoted in an error */
#define HOOK_LABEL_MAX 1024  /* "hook KIND[I] PATH" in an error */
#define DRAIN_READS 16       /* reads per wakeup, so a flood cannot starve the timeout */

static const char *const kind_names[HOOK_COUNT] = {
    [HOOK_PRESTART] = "prestart",
    [HOOK_CREATE_RUNTIME] = "createRuntime",
    [HOOK_CREATE_CONTAINER] = "createContainer",
    [HOOK_START_CONTAINER] = "startContainer",
    [HOOK_POSTSTART] = "poststart",
    [HOOK_POSTSTOP] = "poststop",
};

const char *hook_kind_name(enum hook_kind k)
{
  return (unsigned)k < HOOK_COUNT ? kind_names[k] : "unknown";
}

/* ---- text helpers ---- */

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0; /* overlong */
    if (c == 0xed)
      hi = 0x9f; /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90;
    if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 0;
  }
  if (left < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  return n;
}

/* Copies src[0..len) into dst as one printable line of valid UTF-8: control
 * characters become spaces, invalid bytes '?'. Cut to fit dstsz. */
static void one_line(const char *src, size_t len, char *dst, size_t dstsz)
{
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_len(s + i, len - i);
    if (n == 0 || (n == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
      if (o + 1 >= dstsz)
        break;
      dst[o++] = n == 0 ? '?' : ' ';
      i++;
      continue;
    }
    if (o + n >= dstsz)
      break;
    memcpy(dst + o, s + i, n);
    o += n;
    i += n;
  }
  dst[o] = '\0';
}

/* ---- parsing ---- */

/* Builds a JSON path for a message; long paths are cut, never overflowed. */
static void jpath(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void jpath(char *buf, size_t n, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

static int bad(struct berth_err **err, const char *path, const char *what)
{
  return berth_err_set(err, 0, "config.json: %s: %s", path, what);
}

static int parse_hook(json_t *e, const char *path, struct hook *hk, struct berth_err **err)
{
  char fpath[192];
  if (!json_is_object(e))
    return bad(err, path, "must be an object");

  jpath(fpath, sizeof(fpath), "%s.path", path);
  if (jf_string(e, "path", "config.json: ", fpath, &hk->path, err) < 0)
    return -1;
  if (hk->path == NULL || hk->path[0] != '/')
    return bad(err, fpath, "must be an absolute path");
  jpath(fpath, sizeof(fpath), "%s.args", path);
  if (jf_strv(e, "args", "config.json: ", fpath, &hk->args, err) < 0)
    return -1;
  jpath(fpath, sizeof(fpath), "%s.env", path);
  if (jf_strv(e, "env", "config.json: ", fpath, &hk->env, err) < 0)
    return -1;
  jpath(fpath, sizeof(fpath), "%s.timeout", path);
  json_t *t = json_object_get(e, "timeout");
  if (t != NULL && !json_is_null(t)) {
    if (!json_is_integer(t))
      return bad(err, fpath, "must be an integer");
    json_int_t v = json_integer_value(t);
    if (v <= 0)
      return bad(err, fpath, "must be greater than zero");
    if (v > INT_MAX)
      return bad(err, fpath, "must be at most 2147483647");
    hk->timeout = (int)v;
  }
  return 0;
}

int hooks_parse(json_t *hooks, struct hooks *out, struct berth_err **err)
{
  memset(out, 0, sizeof(*out));
  if (hooks == NULL || json_is_null(hooks))
    return 0;
  if (!json_is_object(hooks))
    return bad(err, "hooks", "must be an object");
  /* Other keys are ignored, like runc. */
  for (int k = 0; k < HOOK_COUNT; k++) {
    char path[192];
    jpath(path, sizeof(path), "hooks.%s", kind_names[k]);
    json_t *arr = json_object_get(hooks, kind_names[k]);
    if (arr == NULL || json_is_null(arr))
      continue;
    if (!json_is_array(arr)) {
      bad(err, path, "must be an array");
      goto fail;
    }
    size_t n = json_array_size(arr);
    if (n == 0)
      continue;
    out->list[k] = xcalloc(n, sizeof(struct hook));
    out->n[k] = n; /* entries start zeroed, so hooks_free copes with a partial list */
    for (size_t i = 0; i < n; i++) {
      char epath[192];
      jpath(epath, sizeof(epath), "%s[%zu]", path, i);
      if (parse_hook(json_array_get(arr, i), epath, &out->list[k][i], err) < 0)
        goto fail;
    }
  }
  return 0;
fail:
  hooks_free(out);
  return -1;
}

void hooks_free(struct hooks *h)
{
  if (h == NULL)
    return;
  for (int k = 0; k < HOOK_COUNT; k++) {
    for (size_t i = 0; i < h->n[k]; i++) {
      free(h->list[k][i].path);
      jf_strv_free(h->list[k][i].args);
      jf_strv_free(h->list[k][i].env);
    }
    free(h->list[k]);
  }
  memset(h, 0, sizeof(*h));
}

/* ---- state ---- */

/* A JSON string for s; invalid UTF-8 bytes become U+FFFD (as Go's encoder does). */
static json_t *json_text(const char *s)
{
  json_t *j = json_string(s);
  if (j != NULL)
    return j;
  size_t len = strlen(s);
  char *buf = xcalloc(len * 3 + 1, 1);
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_len((const unsigned char *)s + i, len - i);
    if (n == 0) {
      buf[o++] = '\xef'; /* U+FFFD */
      buf[o++] = '\xbf';
      buf[o++] = '\xbd';
      i++;
    } else {
      memcpy(buf + o, s + i, n);
      o += n;
      i += n;
    }
  }
  j = json_stringn(buf, o);
  free(buf);
  return j;
}

static void set_text(json_t *o, const char *key, const char *v)
{
  if (v != NULL && json_object_set_new(o, key, json_text(v)) < 0)
    abort(); /* out of memory */
}

char *hooks_state_json(const char *oci_version, const char *id, const char *status, pid_t pid,
                       const char *bundle, json_t *annotations)
{
  json_t *o = json_object();
  if (o == NULL)
    abort();
  set_text(o, "ociVersion", oci_version);
  set_text(o, "id", id);
  set_text(o, "status", status);
  if (pid > 0 && json_object_set_new(o, "pid", json_integer(pid)) < 0)
    abort();
  set_text(o, "bundle", bundle);
  if (annotations != NULL && json_object_set(o, "annotations", annotations) < 0)
    abort();
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (s == NULL)
    abort();
  return s;
}

/* ---- running ---- */

struct outbuf {
  char data[HOOK_OUTPUT_MAX];
  size_t len;
};

static void outbuf_add(struct outbuf *b, const char *p, size_t n)
{
  if (n >= sizeof(b->data)) {
    memcpy(b->data, p + n - sizeof(b->data), sizeof(b->data));
    b->len = sizeof(b->data);
    return;
  }
  if (b->len + n > sizeof(b->data)) {
    size_t drop = b->len + n - sizeof(b->data);
    memmove(b->data, b->data + drop, b->len - drop);
    b->len -= drop;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* Reads what is there (a bounded amount). Returns false at EOF or error. */
static bool drain(int fd, struct outbuf *b)
{
  char tmp[4096];
  for (int i = 0; i < DRAIN_READS;) {
    ssize_t r = read(fd, tmp, sizeof(tmp));
    if (r > 0) {
      outbuf_add(b, tmp, (size_t)r);
      i++;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }
  return true;
}

/* The last non-blank line of the output, trimmed, as one printable line. */
static void last_line(const struct outbuf *b, char *out, size_t outsz)
{
  size_t end = b->len;
  while (end > 0 && isspace((unsigned char)b->data[end - 1]))
    end--;
  size_t start = end;
  while (start > 0 && b->data[start - 1] != '\n')
    start--;
  while (start < end && isspace((unsigned char)b->data[start]))
    start++;
  one_line(b->data + start, end - start, out, outsz);
}

static void close_fd(int *fd)
{
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

/* Moves a new fd above 2, so the child's dup2 onto 0-2 cannot clobber it. */
static int fd_above_stdio(int fd)
{
  if (fd < 0 || fd > 2)
    return fd;
  int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return n;
}

static int make_pipe(int fds[2])
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return -1;
  fds[0] = fd_above_stdio(p[0]);
  fds[1] = fd_above_stdio(p[1]);
  if (fds[0] < 0 || fds[1] < 0) {
    int saved = errno;
    close_fd(&fds[0]);
    close_fd(&fds[1]);
    errno = saved;
    return -1;
  }
  return 0;
}

static int set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dup_to(int fd, int target)
{
  while (dup2(fd, target) < 0)
    if (errno != EINTR && errno != EBUSY)
      return -1;
  return 0;
}

/* Closes every fd from 3 up except keep (>= 3). */
static void close_fds_except(int keep)
{
  if ((keep == 3 || syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == 0) &&
      syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
    return;
  struct rlimit rl;
  int max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < (1u << 20))
    max = (int)rl.rlim_cur;
  for (int fd = 3; fd < max; fd++)
    if (fd != keep)
      close(fd);
}

/* The forked child: only async-signal-safe calls, never returns. */
static void __attribute__((noreturn))
child(int in_rd, int out_wr, int ex_wr, const char *path, char *const argv[], char *const envp[])
{
  setpgid(0, 0);
  signals_default_all();
  if (dup_to(in_rd, 0) == 0 && dup_to(out_wr, 1) == 0 && dup_to(out_wr, 2) == 0) {
    close_fds_except(ex_wr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
  }
  int e = errno;
  while (write(ex_wr, &e, sizeof(e)) < 0 && errno == EINTR)
    ;
  _exit(127);
}

static void kill_and_reap(pid_t pid, int pidfd, int *status)
{
  kill(-pid, SIGKILL);
  /* Also the hook itself, in case it left its group. */
  if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0U) < 0)
    kill(pid, SIGKILL);
  while (waitpid(pid, status, 0) < 0 && errno == EINTR)
    ;
}

/* Runs one hook. *epipe is set when the hook closed its stdin early. */
static int run_one(const struct hook *hk, const char *label, const char *state, bool *epipe,
                   struct berth_err **err)
{
  size_t state_len = state ? strlen(state) : 0, off = 0;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, ex[2] = {-1, -1};
  int pidfd = -1, ret = -1, status = 0;
  struct outbuf *buf = xcalloc(1, sizeof(*buf));
  char *default_argv[2] = {hk->path, NULL};
  char **argv = hk->args && hk->args[0] ? hk->args : default_argv;
  char **envp = hk->env ? hk->env : environ;

  if (make_pipe(in) < 0 || make_pipe(out) < 0 || make_pipe(ex) < 0) {
    berth_err_sys(err, "%s: pipe", label);
    goto out;
  }

  /* Every signal blocked across fork, so no handler of ours runs in the child
   * before it resets the dispositions. */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = fork();
  if (pid == 0)
    child(in[0], out[1], ex[1], hk->path, argv, envp);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (pid < 0) {
    berth_err_set(err, fork_errno, "%s: fork", label);
    goto out;
  }
  setpgid(pid, pid); /* also here, so the group exists before any kill(-pid) */
  close_fd(&in[0]);
  close_fd(&out[1]);
  close_fd(&ex[1]);
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0U); /* -1: poll in ticks instead */
  if (set_nonblock(in[1]) < 0 || set_nonblock(out[0]) < 0 || set_nonblock(ex[0]) < 0) {
    berth_err_sys(err, "%s: fcntl", label);
    kill_and_reap(pid, pidfd, &status);
    goto out;
  }
  if (state_len == 0)
    close_fd(&in[1]);

  int64_t deadline = hk->timeout > 0 ? now_ms() + (int64_t)hk->timeout * 1000 : -1;
  for (;;) {
    struct pollfd p[3];
    int n = 0, ipid = -1, iout = -1, iin = -1;
    if (pidfd >= 0) {
      p[n] = (struct pollfd){.fd = pidfd, .events = POLLIN};
      ipid = n++;
    }
    if (out[0] >= 0) {
      p[n] = (struct pollfd){.fd = out[0], .events = POLLIN};
      iout = n++;
    }
    if (in[1] >= 0) {
      p[n] = (struct pollfd){.fd = in[1], .events = POLLOUT};
      iin = n++;
    }
    int wait_ms = -1;
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        kill_and_reap(pid, pidfd, &status);
        berth_err_set(err, 0, "%s: timed out after %d s", label, hk->timeout);
        goto out;
      }
      wait_ms = left > INT_MAX ? INT_MAX : (int)left;
    }
    if (pidfd < 0 && (wait_ms < 0 || wait_ms > 10))
      wait_ms = 10;
    if (poll(p, (nfds_t)n, wait_ms) < 0) {
      if (errno == EINTR)
        continue;
      berth_err_sys(err, "%s: poll", label);
      kill_and_reap(pid, pidfd, &status);
      goto out;
    }
    if (iin >= 0 && p[iin].revents) {
      while (off < state_len) {
        ssize_t w = write(in[1], state + off, state_len - off);
        if (w >= 0) {
          off += (size_t)w;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;
        } else if (errno != EINTR) {
          if (errno == EPIPE)
            *epipe = true;
          off = state_len; /* the hook does not want it: not an error (as runc) */
        }
      }
      if (off == state_len)
        close_fd(&in[1]);
    }
    if (iout >= 0 && p[iout].revents && !drain(out[0], buf))
      close_fd(&out[0]);
    if (pidfd < 0 || p[ipid].revents) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid)
        break;
      if (w < 0 && errno != EINTR) {
        berth_err_sys(err, "%s: wait", label); /* someone else reaped it */
        goto out;
      }
      if (w == 0 && pidfd >= 0)
        close_fd(&pidfd); /* readable yet not waitable: fall back to ticks */
    }
  }

  /* Take what the hook wrote, but do not wait for EOF: a process it left
   * in the background may hold the pipe open. */
  if (out[0] >= 0)
    drain(out[0], buf);
  int exec_errno = 0;
  ssize_t r;
  while ((r = read(ex[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
    ;
  char line[HOOK_LINE_MAX];
  last_line(buf, line, sizeof(line));
  const char *sep = line[0] ? ": " : "";
  if (r == (ssize_t)sizeof(exec_errno) && exec_errno != 0)
    berth_err_set(err, exec_errno, "%s: exec", label);
  else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    berth_err_set(err, 0, "%s: exited with status %d%s%s", label, WEXITSTATUS(status), sep, line);
  else if (WIFSIGNALED(status))
    berth_err_set(err, 0, "%s: killed by signal %d%s%s", label, WTERMSIG(status), sep, line);
  else
    ret = 0;

out:
  close_fd(&in[0]);
  close_fd(&in[1]);
  close_fd(&out[0]);
  close_fd(&out[1]);
  close_fd(&ex[0]);
  close_fd(&ex[1]);
  close_fd(&pidfd);
  free(buf);
  return ret;
}

int hooks_run(const struct hooks *h, enum hook_kind k, const char *state_json,
              struct berth_err **err)
{
  if (h == NULL || (unsigned)k >= HOOK_COUNT || h->n[k] == 0)
    return 0;

  sigset_t pipe_set, old, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1, epipe = false;

  int ret = 0;
  for (size_t i = 0; i < h->n[k] && ret == 0; i++) {
    const struct hook *hk = &h->list[k][i];
    char raw[HOOK_LABEL_MAX], label[HOOK_LABEL_MAX];
    snprintf(raw, sizeof(raw), "hook %s[%zu] %s", kind_names[k], i, hk->path);
    one_line(raw, strlen(raw), label, sizeof(label));
    ret = run_one(hk, label, state_json, &epipe, err);
  }

  /* Consume the SIGPIPE our own write raised, then restore the mask. */
  if (epipe && !was_pending) {
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
      ;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return ret;
}
