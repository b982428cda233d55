/* cgroup v2 has no devices controller files: device access is decided by
 * a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup. This file
 * turns the spec's ordered device rules into such a program and attaches
 * it.
 *
 * Semantics (what the program decides):
 *  - The default is deny. A rule of type 'a' sets the default to its own
 *    allow/deny and discards every rule before it (v1 "a" clears the
 *    exception list).
 *  - A device access asks for one or more of m, r, w at once (open(O_RDWR)
 *    asks for r and w in a single check). Each requested bit is decided by
 *    the LAST rule that matches the device (type, major, minor, with -1 as
 *    a wildcard) and lists that bit; bits no rule lists get the default.
 *    The access is allowed only if every requested bit is allowed.
 *
 * This is the v1 controller's behaviour for the lists runtimes write (a
 * default plus exceptions), and it differs from v1 only where v1 silently
 * ignores a rule: v1 removes exceptions by exact match only, so with the
 * default deny, "allow c *:* rwm" then "deny c 1:3 w" leaves 1:3 writable
 * in v1 (runc refuses such a list), and with "a" allowed, "deny c 1:* rw"
 * then "allow c 1:3 r" leaves 1:3 unreadable in v1. Here the later rule
 * wins in both, as the spec's "applied in the listed order" says. It also
 * differs from runc's v2 filter, which matches
 * a rule only if the requested bits are a subset of the rule's access: with
 * "a" allowed and "deny c 1:3 w", runc's filter lets open(O_RDWR) through
 * (rw is not a subset of w), while v1 and this program refuse it.
 *
 * Program shape: R2 = device type, R3 = requested bits still undecided,
 * R4 = major, R5 = minor. Rules are emitted last to first; each block
 * skips to the next one unless the device matches, then a deny rule
 * returns 0 if it lists any undecided bit, and an allow rule clears its
 * bits from R3 and returns 1 once R3 is empty. After the last block the
 * default is returned. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "cgroup.h"

const struct cgroup_device_rule cgroup_default_devices[] = {
    {true, 'c', -1, -1, "m"},    /* mknod of any char device */
    {true, 'b', -1, -1, "m"},    /* mknod of any block device */
    {true, 'c', 1, 3, "rwm"},    /* /dev/null */
    {true, 'c', 1, 5, "rwm"},    /* /dev/zero */
    {true, 'c', 1, 7, "rwm"},    /* /dev/full */
    {true, 'c', 5, 0, "rwm"},    /* /dev/tty */
    {true, 'c', 1, 8, "rwm"},    /* /dev/random */
    {true, 'c', 1, 9, "rwm"},    /* /dev/urandom */
    {true, 'c', 5, 2, "rwm"},    /* /dev/ptmx */
    {true, 'c', 136, -1, "rwm"}, /* /dev/pts/N */
    {true, 'c', 10, 200, "rwm"}, /* /dev/net/tun */
};
const size_t cgroup_n_default_devices =
    sizeof(cgroup_default_devices) / sizeof(cgroup_default_devices[0]);

/* ---- instruction emitters ---- */

enum { REG_R0, REG_CTX, REG_TYPE, REG_ACCESS, REG_MAJOR, REG_MINOR };

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  return (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

/* dst = *(u32 *)(src + off); the upper 32 bits of dst are zeroed */
static struct bpf_insn bpf_ldx_mem_w(uint8_t dst, uint8_t src, int16_t off)
{
  return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}

/* dst = (u32)(dst OP imm), zero-extended */
static struct bpf_insn bpf_alu32_imm(uint8_t op, uint8_t dst, int32_t imm)
{
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}

static struct bpf_insn bpf_mov64_imm(uint8_t dst, int32_t imm)
{
  return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}

/* if (dst OP (s64)imm) pc += 1 + off; off is patched once the target is
 * known */
static struct bpf_insn bpf_jmp_imm(uint8_t op, uint8_t dst, int32_t imm)
{
  return insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
}

static struct bpf_insn bpf_exit_insn(void)
{
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* ---- program builder ---- */

/* Instructions whose jump goes to one of the two shared exits. */
struct exit_fixups {
  size_t *at;
  size_t n;
};

struct builder {
  struct bpf_insn *insns;
  size_t n;
  struct exit_fixups to_exit[2]; /* [0]: return 0, [1]: return 1 */
};

static void emit(struct builder *b, struct bpf_insn i)
{
  b->insns[b->n++] = i;
}

static void emit_jump_to_exit(struct builder *b, struct bpf_insn i, bool allow)
{
  struct exit_fixups *f = &b->to_exit[allow];
  f->at[f->n++] = b->n;
  emit(b, i);
}

static void patch_jump(struct builder *b, size_t from, size_t to)
{
  b->insns[from].off = (int16_t)(to - from - 1);
}

static int access_bits(const char *access, int32_t *bits)
{
  *bits = 0;
  if (access[0] == '\0')
    access = "rwm";
  for (const char *c = access; *c; c++) {
    if (*c == 'm')
      *bits |= BPF_DEVCG_ACC_MKNOD;
    else if (*c == 'r')
      *bits |= BPF_DEVCG_ACC_READ;
    else if (*c == 'w')
      *bits |= BPF_DEVCG_ACC_WRITE;
    else
      return -1;
  }
  return 0;
}

/* Majors and minors are compared as 64-bit registers (holding a
 * zero-extended u32) against a sign-extended 32-bit immediate, so only
 * values up to INT32_MAX can be matched. Real ones are far smaller
 * (12-bit majors, 20-bit minors). */
static int check_rule(const struct cgroup_device_rule *d, size_t i, struct berth_err **err)
{
  int32_t bits;

  if (d->type != 'a' && d->type != 'b' && d->type != 'c')
    return berth_err_set(err, 0, "linux.resources.devices[%zu].type: '%c' is not a, b or c", i,
                         d->type);
  if (access_bits(d->access, &bits) < 0)
    return berth_err_set(err, 0, "linux.resources.devices[%zu].access: '%s' is not a subset of rwm",
                         i, d->access);
  if (d->major < -1 || d->major > INT32_MAX)
    return berth_err_set(err, 0, "linux.resources.devices[%zu].major: %lld is out of range", i,
                         (long long)d->major);
  if (d->minor < -1 || d->minor > INT32_MAX)
    return berth_err_set(err, 0, "linux.resources.devices[%zu].minor: %lld is out of range", i,
                         (long long)d->minor);
  return 0;
}

/* struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
 * access_type holds the device type in its low 16 bits and the requested
 * BPF_DEVCG_ACC_* bits in its high 16 bits. */
static void emit_prologue(struct builder *b)
{
  emit(b, bpf_ldx_mem_w(REG_TYPE, REG_CTX, 0));
  emit(b, bpf_alu32_imm(BPF_AND, REG_TYPE, 0xffff));
  emit(b, bpf_ldx_mem_w(REG_ACCESS, REG_CTX, 0));
  emit(b, bpf_alu32_imm(BPF_RSH, REG_ACCESS, 16));
  emit(b, bpf_ldx_mem_w(REG_MAJOR, REG_CTX, 4));
  emit(b, bpf_ldx_mem_w(REG_MINOR, REG_CTX, 8));
}

static void emit_rule(struct builder *b, const struct cgroup_device_rule *d)
{
  size_t skips[3], n_skips = 0;
  int32_t bits;

  access_bits(d->access, &bits);
  skips[n_skips++] = b->n;
  emit(b,
       bpf_jmp_imm(BPF_JNE, REG_TYPE, d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
  if (d->major >= 0) {
    skips[n_skips++] = b->n;
    emit(b, bpf_jmp_imm(BPF_JNE, REG_MAJOR, (int32_t)d->major));
  }
  if (d->minor >= 0) {
    skips[n_skips++] = b->n;
    emit(b, bpf_jmp_imm(BPF_JNE, REG_MINOR, (int32_t)d->minor));
  }
  if (d->allow) {
    emit(b, bpf_alu32_imm(BPF_AND, REG_ACCESS, ~bits));
    emit_jump_to_exit(b, bpf_jmp_imm(BPF_JEQ, REG_ACCESS, 0), true);
  } else {
    emit_jump_to_exit(b, bpf_jmp_imm(BPF_JSET, REG_ACCESS, bits), false);
  }
  for (size_t i = 0; i < n_skips; i++)
    patch_jump(b, skips[i], b->n);
}

/* The verifier rejects unreachable instructions, so the exit for the
 * non-default verdict is only emitted when some rule jumps to it. */
static void emit_exits(struct builder *b, bool default_allow)
{
  size_t at = b->n;

  emit(b, bpf_mov64_imm(REG_R0, default_allow));
  emit(b, bpf_exit_insn());
  for (size_t i = 0; i < b->to_exit[default_allow].n; i++)
    patch_jump(b, b->to_exit[default_allow].at[i], at);
  if (b->to_exit[!default_allow].n == 0)
    return;
  at = b->n;
  emit(b, bpf_mov64_imm(REG_R0, !default_allow));
  emit(b, bpf_exit_insn());
  for (size_t i = 0; i < b->to_exit[!default_allow].n; i++)
    patch_jump(b, b->to_exit[!default_allow].at[i], at);
}

/* prologue, at most 5 per rule (3 skips, and, jump), two exits */
#define MAX_INSNS(n_rules) (6 + 5 * (n_rules) + 4)

int cgroup_devices_bpf_build(const struct cgroup_device_rule *rules, size_t n,
                             struct bpf_insn **prog, size_t *n_insns, struct berth_err **err)
{
  size_t first = 0;
  bool default_allow = false;

  for (size_t i = 0; i < n; i++) {
    if (check_rule(&rules[i], i, err) < 0)
      return -1;
    if (rules[i].type == 'a') {
      first = i + 1;
      default_allow = rules[i].allow;
    }
  }
  /* jump offsets are 16-bit */
  if (MAX_INSNS(n - first) > INT16_MAX)
    return berth_err_set(err, 0, "linux.resources.devices: too many rules (%zu)", n - first);

  struct builder b = {.insns = xcalloc(MAX_INSNS(n - first), sizeof(struct bpf_insn))};
  cleanup_free size_t *deny_at = xcalloc(n - first + 1, sizeof(size_t));
  cleanup_free size_t *allow_at = xcalloc(n - first + 1, sizeof(size_t));
  b.to_exit[0].at = deny_at;
  b.to_exit[1].at = allow_at;

  emit_prologue(&b);
  for (size_t i = n; i-- > first;)
    emit_rule(&b, &rules[i]);
  emit_exits(&b, default_allow);
  *prog = b.insns;
  *n_insns = b.n;
  return 0;
}

/* ---- load and attach ---- */

static int bpf_sys(int cmd, union bpf_attr *attr)
{
  return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *prog, size_t n_insns, char *log, size_t log_size)
{
  union bpf_attr attr;

  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)prog;
  attr.insn_cnt = (uint32_t)n_insns;
  /* Only GPL-only helpers check the license; this program calls none. */
  attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
  if (log != NULL) {
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = (uint32_t)log_size;
    attr.log_level = 1;
  }
  strncpy(attr.prog_name, "berth_devices", sizeof(attr.prog_name) - 1);
  return bpf_sys(BPF_PROG_LOAD, &attr);
}

/* Loads without a verifier log (formatting it costs time on every
 * container start) and loads again with one only to explain a failure. */
static int prog_load_explained(const struct bpf_insn *prog, size_t n_insns, struct berth_err **err)
{
  int fd = prog_load(prog, n_insns, NULL, 0);
  if (fd >= 0)
    return fd;
  int saved = errno;
  if (saved == EPERM)
    return berth_err_set(err, saved,
                         "load device eBPF program (needs CAP_SYS_ADMIN; before "
                         "Linux 5.11 also RLIMIT_MEMLOCK room)");
  size_t log_size = (size_t)64 * 1024;
  cleanup_free char *log = xcalloc(1, log_size);
  fd = prog_load(prog, n_insns, log, log_size);
  if (fd >= 0)
    return fd;
  size_t len = strlen(log);
  while (len > 0 && log[len - 1] == '\n')
    log[--len] = '\0';
  /* the last verifier lines say why; the message has room for ~1.5 KiB */
  const char *tail = len > 1024 ? log + len - 1024 : log;
  return berth_err_set(err, saved, "load device eBPF program: verifier: %s", tail);
}

int cgroup_devices_bpf_attach(int cgroup_dirfd, const struct bpf_insn *prog, size_t n_insns,
                              struct berth_err **err)
{
  union bpf_attr attr;

  cleanup_close int prog_fd = prog_load_explained(prog, n_insns, err);
  if (prog_fd < 0)
    return -1;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = (uint32_t)cgroup_dirfd;
  attr.attach_bpf_fd = (uint32_t)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  /* With ALLOW_MULTI every attached program (and every ancestor's) must
   * allow an access; the attachment keeps its own reference to the
   * program, so our fd can be closed. */
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf_sys(BPF_PROG_ATTACH, &attr) < 0)
    return berth_err_set(err, errno, "attach device eBPF program to cgroup");
  return 0;
}
