/* Unit tests for cgroup/: the value conversions, and the device eBPF
 * program run in a small interpreter against two models of the v1 devices
 * controller. When root with a cgroup2 mount, the program is also attached
 * to a real cgroup and probed with open(2). */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../cgroup/cgroup.h"
#include "check.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- conversions ---- */

static void test_shares_to_weight(void)
{
  static const struct {
    uint64_t shares, weight;
  } cases[] = {
      {0, 0},          /* unset stays unset */
      {2, 1},          /* v1 minimum -> v2 minimum */
      {262144, 10000}, /* v1 maximum -> v2 maximum */
      {1024, 39},      /* v1 default: 1 + 1022 * 9999 / 262142 = 39.98 -> 39 */
      {1, 1},          /* below the range: clamped to 2 */
      {1000000, 10000}, {3, 1}, {131073, 5000},
  };
  for (size_t i = 0; i < N_ELEMS(cases); i++) {
    uint64_t w = cgroup_shares_to_weight(cases[i].shares);
    CHECK(w == cases[i].weight, "shares %llu -> weight %llu, want %llu",
          (unsigned long long)cases[i].shares, (unsigned long long)w,
          (unsigned long long)cases[i].weight);
  }
}

static void test_blkio_to_io_weight(void)
{
  static const struct {
    uint16_t blkio;
    uint64_t io;
  } cases[] = {
      {0, 0}, {10, 1}, {1000, 10000}, {500, 4950}, {100, 910}, {5, 1}, {2000, 10000},
  };
  for (size_t i = 0; i < N_ELEMS(cases); i++) {
    uint64_t w = cgroup_blkio_to_io_weight(cases[i].blkio);
    CHECK(w == cases[i].io, "blkio %u -> io.weight %llu, want %llu", cases[i].blkio,
          (unsigned long long)w, (unsigned long long)cases[i].io);
  }
}

static void swap_ok(int64_t limit, bool has_limit, int64_t swap, const char *want, int line)
{
  char buf[32] = "junk";
  struct berth_err *err = NULL;

  int r = cgroup_swap_to_v2(limit, has_limit, swap, buf, sizeof(buf), &err);
  CHECK(r == 0 && strcmp(buf, want) == 0, "line %d: swap(%lld, %d, %lld) = %d '%s' (%s), want '%s'",
        line, (long long)limit, has_limit, (long long)swap, r, buf, err ? err->msg : "", want);
  berth_err_free(&err);
}

static void swap_bad(int64_t limit, bool has_limit, int64_t swap, const char *want, int line)
{
  char buf[32];
  struct berth_err *err = NULL;

  int r = cgroup_swap_to_v2(limit, has_limit, swap, buf, sizeof(buf), &err);
  CHECK(r < 0 && err && strstr(err->msg, want),
        "line %d: swap(%lld, %d, %lld) = %d (%s), want '%s'", line, (long long)limit, has_limit,
        (long long)swap, r, err ? err->msg : "", want);
  berth_err_free(&err);
}

static void test_swap(void)
{
  swap_ok(100, true, 300, "200", __LINE__);
  swap_ok(100, true, 100, "0", __LINE__); /* memory only, no swap */
  swap_ok(100, true, -1, "max", __LINE__);
  swap_ok(0, false, -1, "max", __LINE__);
  swap_ok(100, true, 0, "", __LINE__); /* 0: not set, write nothing */
  swap_ok(0, false, 0, "", __LINE__);
  swap_ok(-1, true, 0, "max", __LINE__); /* unlimited memory: swap follows, as in v1 */
  swap_ok(-1, true, -1, "max", __LINE__);
  swap_bad(0, false, 100, "linux.resources.memory.swap: needs a memory limit", __LINE__);
  swap_bad(-1, true, 100, "needs a memory limit", __LINE__);
  swap_bad(200, true, 100, "linux.resources.memory.swap: must be >= memory.limit", __LINE__);
  swap_bad(100, true, -2, "invalid", __LINE__);

  char small[3];
  struct berth_err *err = NULL;
  CHECK(cgroup_swap_to_v2(100, true, 123456, small, sizeof(small), &err) < 0,
        "swap: a too small buffer is an error, not a truncated number");
  berth_err_free(&err);
}

static void cpu_max_is(bool has_quota, int64_t quota, bool has_period, uint64_t period,
                       const char *want, int line)
{
  char buf[64];

  cgroup_cpu_max(has_quota, quota, has_period, period, buf, sizeof(buf));
  CHECK(strcmp(buf, want) == 0, "line %d: cpu.max '%s', want '%s'", line, buf, want);
}

static void test_cpu_max(void)
{
  cpu_max_is(false, 0, false, 0, "max 100000", __LINE__);
  cpu_max_is(true, -1, false, 0, "max 100000", __LINE__);
  cpu_max_is(true, -1, true, 50000, "max 50000", __LINE__);
  cpu_max_is(true, 20000, false, 0, "20000 100000", __LINE__);
  cpu_max_is(true, 20000, true, 50000, "20000 50000", __LINE__);
  cpu_max_is(true, 20000, true, 0, "20000 100000", __LINE__);
  cpu_max_is(false, 20000, true, 250000, "max 250000", __LINE__);
}

static void test_io_max(void)
{
  struct cgroup_throttle rbps[] = {{8, 0, 1048576}, {8, 16, 0}};
  struct cgroup_throttle wiops[] = {{8, 0, 100}};
  struct cgroup_throttle riops[] = {{253, 1, 10}, {8, 0, 7}};
  struct cgroup_resources r;

  memset(&r, 0, sizeof(r));
  char *s = cgroup_io_max_lines(&r);
  CHECK(s && strcmp(s, "") == 0, "io.max with no throttles: '%s'", s ? s : "(null)");
  free(s);

  r.throttle[THROTTLE_READ_BPS] = rbps;
  r.n_throttle[THROTTLE_READ_BPS] = N_ELEMS(rbps);
  r.throttle[THROTTLE_WRITE_IOPS] = wiops;
  r.n_throttle[THROTTLE_WRITE_IOPS] = N_ELEMS(wiops);
  r.throttle[THROTTLE_READ_IOPS] = riops;
  r.n_throttle[THROTTLE_READ_IOPS] = N_ELEMS(riops);
  s = cgroup_io_max_lines(&r);
  const char *want = "8:0 rbps=1048576 riops=7 wiops=100\n"
                     "8:16 rbps=max\n"
                     "253:1 riops=10\n";
  CHECK(s && strcmp(s, want) == 0, "io.max:\n%swant:\n%s", s ? s : "(null)", want);
  free(s);
}

static void device_line_is(struct cgroup_device_rule d, const char *want, int line)
{
  char buf[64];

  cgroup_device_rule_line(&d, buf, sizeof(buf));
  CHECK(strcmp(buf, want) == 0, "line %d: device line '%s', want '%s'", line, buf, want);
}

static void test_device_lines(void)
{
  device_line_is((struct cgroup_device_rule){true, 'c', 1, 3, "rwm"}, "c 1:3 rwm", __LINE__);
  device_line_is((struct cgroup_device_rule){false, 'c', -1, -1, "m"}, "c *:* m", __LINE__);
  device_line_is((struct cgroup_device_rule){true, 'b', 8, -1, ""}, "b 8:* rwm", __LINE__);
  device_line_is((struct cgroup_device_rule){true, 'c', -1, 3, "r"}, "c *:3 r", __LINE__);
  device_line_is((struct cgroup_device_rule){true, 'a', -1, -1, "rwm"}, "a *:* rwm", __LINE__);
  device_line_is((struct cgroup_device_rule){false, 'a', 5, 5, "r"}, "a *:* rwm", __LINE__);
  device_line_is((struct cgroup_device_rule){true, 'c', 136, -1, "rw"}, "c 136:* rw", __LINE__);
}

/* The access of one linux.resources.devices rule, as parsed: want is the
 * stored (canonical) access, or NULL when the rule must be refused. */
static void device_access_is(const char *json_access, const char *want, int line)
{
  char text[256];
  snprintf(text, sizeof(text), "{\"devices\":[{\"allow\":true,\"type\":\"c\",\"access\":%s}]}",
           json_access);
  json_t *obj = json_loads(text, 0, NULL);
  struct cgroup_resources r;
  struct berth_err *err = NULL;
  int ret = cgroup_resources_parse(obj, "linux.resources", &r, &err);
  if (want == NULL)
    CHECK(ret < 0 && err && strstr(err->msg, "linux.resources.devices[0].access: must"),
          "line %d: access %s accepted", line, json_access);
  else
    CHECK(ret == 0 && r.n_devices == 1 && strcmp(r.devices[0].access, want) == 0,
          "line %d: access %s -> '%s', want '%s' (%s)", line, json_access,
          ret == 0 ? r.devices[0].access : "", want, err ? err->msg : "");
  if (ret == 0)
    cgroup_resources_free(&r);
  berth_err_free(&err);
  json_decref(obj);
}

/* Any order and repeats of r, w, m (as runc); nothing else, not empty. */
static void test_device_access(void)
{
  device_access_is("\"rwm\"", "rwm", __LINE__);
  device_access_is("\"mrw\"", "rwm", __LINE__);
  device_access_is("\"wr\"", "rw", __LINE__);
  device_access_is("\"rrw\"", "rw", __LINE__);
  device_access_is("\"rwmrwm\"", "rwm", __LINE__);
  device_access_is("\"m\"", "m", __LINE__);
  device_access_is("null", "rwm", __LINE__);
  device_access_is("\"rwa\"", NULL, __LINE__);
  device_access_is("\"a\"", NULL, __LINE__);
  device_access_is("\"\"", NULL, __LINE__);
  device_access_is("\"rwx\"", NULL, __LINE__);
  device_access_is("7", NULL, __LINE__);
}

/* ---- an interpreter for the device programs ---- */

#define ACC_M BPF_DEVCG_ACC_MKNOD
#define ACC_R BPF_DEVCG_ACC_READ
#define ACC_W BPF_DEVCG_ACC_WRITE

/* One device access as the kernel presents it to the program. */
struct dev_access {
  char type; /* 'b' or 'c' */
  uint32_t major, minor;
  int access; /* ACC_* bits */
};

struct vm {
  uint64_t reg[11];
  bool set[11];      /* written, so readable (the verifier tracks the same) */
  bool r1_is_ctx;    /* loads are only allowed through the context pointer */
  const char *fault; /* why the program was rejected */
};

static bool vm_fault(struct vm *vm, const char *why)
{
  vm->fault = why;
  return false;
}

static bool vm_ldx(struct vm *vm, const struct bpf_insn *i, const uint32_t ctx[3])
{
  if (i->code != (BPF_LDX | BPF_MEM | BPF_W))
    return vm_fault(vm, "load that is not a 32-bit LDX_MEM");
  if (i->src_reg != 1 || !vm->r1_is_ctx)
    return vm_fault(vm, "load not through the context pointer");
  if (i->off < 0 || i->off > 8 || i->off % 4 != 0)
    return vm_fault(vm, "context load out of bounds or misaligned");
  vm->reg[i->dst_reg] = ctx[i->off / 4];
  vm->set[i->dst_reg] = true;
  if (i->dst_reg == 1)
    vm->r1_is_ctx = false;
  return true;
}

static bool vm_alu(struct vm *vm, const struct bpf_insn *i)
{
  bool is64 = BPF_CLASS(i->code) == BPF_ALU64;
  uint64_t src = (uint64_t)(int64_t)i->imm;
  uint64_t dst = vm->reg[i->dst_reg];

  if (BPF_SRC(i->code) == BPF_X) {
    if (!vm->set[i->src_reg] || (i->src_reg == 1 && vm->r1_is_ctx))
      return vm_fault(vm, "ALU with an unset or pointer source");
    src = vm->reg[i->src_reg];
  }
  if (BPF_OP(i->code) != BPF_MOV && !vm->set[i->dst_reg])
    return vm_fault(vm, "ALU on an unset register");
  if (i->dst_reg == 1 && BPF_OP(i->code) != BPF_MOV)
    return vm_fault(vm, "arithmetic on the context pointer");
  if (!is64) {
    src = (uint32_t)src;
    dst = (uint32_t)dst;
  }
  switch (BPF_OP(i->code)) {
  case BPF_MOV:
    dst = src;
    break;
  case BPF_AND:
    dst &= src;
    break;
  case BPF_RSH:
    if (src >= (is64 ? 64u : 32u))
      return vm_fault(vm, "shift out of range");
    dst >>= src;
    break;
  default:
    return vm_fault(vm, "ALU op outside the emitter's subset");
  }
  vm->reg[i->dst_reg] = is64 ? dst : (uint32_t)dst;
  vm->set[i->dst_reg] = true;
  if (i->dst_reg == 1)
    vm->r1_is_ctx = false;
  return true;
}

/* Sets *taken; the caller moves pc. */
static bool vm_jmp_cond(struct vm *vm, const struct bpf_insn *i, bool *taken)
{
  uint64_t src = (uint64_t)(int64_t)i->imm;

  if (!vm->set[i->dst_reg] || (i->dst_reg == 1 && vm->r1_is_ctx))
    return vm_fault(vm, "compare of an unset or pointer register");
  if (BPF_SRC(i->code) == BPF_X) {
    if (!vm->set[i->src_reg])
      return vm_fault(vm, "compare with an unset register");
    src = vm->reg[i->src_reg];
  }
  uint64_t dst = vm->reg[i->dst_reg];
  switch (BPF_OP(i->code)) {
  case BPF_JEQ:
    *taken = dst == src;
    return true;
  case BPF_JNE:
    *taken = dst != src;
    return true;
  case BPF_JSET:
    *taken = (dst & src) != 0;
    return true;
  default:
    return vm_fault(vm, "jump op outside the emitter's subset");
  }
}

/* Runs prog on one access. Returns the verdict (0 or 1), or -1 with
 * vm.fault set when the kernel's verifier would refuse what happened
 * (unreachable code is not detected here). */
static int bpf_run(const struct bpf_insn *prog, size_t n, struct dev_access a, const char **fault)
{
  struct vm vm = {.set[1] = true, .r1_is_ctx = true};
  uint32_t type = a.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
  const uint32_t ctx[3] = {type | (uint32_t)a.access << 16, a.major, a.minor};
  size_t pc = 0;

  while (vm.fault == NULL) {
    if (pc >= n) {
      vm.fault = "ran off the end";
      break;
    }
    const struct bpf_insn *i = &prog[pc];
    bool taken = false;
    switch (BPF_CLASS(i->code)) {
    case BPF_LDX:
      vm_ldx(&vm, i, ctx);
      break;
    case BPF_ALU:
    case BPF_ALU64:
      vm_alu(&vm, i);
      break;
    case BPF_JMP:
      if (BPF_OP(i->code) == BPF_EXIT) {
        if (!vm.set[0] || vm.reg[0] > 1)
          vm.fault = "exit with R0 unset or not 0/1";
        else
          return (int)vm.reg[0];
      } else if (BPF_OP(i->code) == BPF_JA) {
        taken = true;
      } else {
        vm_jmp_cond(&vm, i, &taken);
      }
      /* no backward jumps: the verifier rejects loops in older kernels */
      if (taken && i->off < 0)
        vm.fault = "backward jump";
      if (taken)
        pc += (size_t)i->off;
      break;
    default:
      vm.fault = "instruction class outside the emitter's subset";
    }
    pc++;
  }
  *fault = vm.fault;
  return -1;
}

/* ---- reference models ---- */

static int rule_bits(const struct cgroup_device_rule *d)
{
  int bits = 0;
  const char *acc = d->access[0] ? d->access : "rwm";
  for (; *acc; acc++)
    bits |= *acc == 'm' ? ACC_M : *acc == 'r' ? ACC_R : ACC_W;
  return bits;
}

static bool rule_matches_device(const struct cgroup_device_rule *d, struct dev_access a)
{
  return d->type == a.type && (d->major == -1 || d->major == a.major) &&
         (d->minor == -1 || d->minor == a.minor);
}

/* The documented semantics, stated directly: each requested bit is decided
 * by the last rule that matches the device and lists the bit. */
static int model_last_match(const struct cgroup_device_rule *rules, size_t n, struct dev_access a)
{
  for (int bit = 1; bit <= 4; bit <<= 1) {
    if (!(a.access & bit))
      continue;
    bool allow = false;
    for (size_t i = 0; i < n; i++) {
      bool matches = rule_matches_device(&rules[i], a) && (rule_bits(&rules[i]) & bit);
      if (rules[i].type == 'a' || matches)
        allow = rules[i].allow;
    }
    if (!allow)
      return 0;
  }
  return 1;
}

/* The v1 devices controller itself (security/device_cgroup.c): a default
 * plus a list of exceptions. Rules of the default's kind remove exactly
 * matching exceptions (access bits); the others add one. Default deny: an
 * exception must cover the whole access. Default allow: any exception
 * overlapping the access denies it. */
struct v1_model {
  bool default_allow;
  struct cgroup_device_rule ex[64];
  int ex_bits[64];
  size_t n;
};

static void v1_apply(struct v1_model *m, const struct cgroup_device_rule *d)
{
  if (d->type == 'a') {
    m->default_allow = d->allow;
    m->n = 0;
    return;
  }
  for (size_t i = 0; i < m->n; i++) {
    if (m->ex[i].type != d->type || m->ex[i].major != d->major || m->ex[i].minor != d->minor)
      continue;
    if (d->allow == m->default_allow)
      m->ex_bits[i] &= ~rule_bits(d);
    else
      m->ex_bits[i] |= rule_bits(d);
    return;
  }
  if (d->allow != m->default_allow && m->n < N_ELEMS(m->ex)) {
    m->ex[m->n] = *d;
    m->ex_bits[m->n++] = rule_bits(d);
  }
}

static int model_v1(const struct cgroup_device_rule *rules, size_t n, struct dev_access a)
{
  struct v1_model m = {.default_allow = false};

  for (size_t i = 0; i < n; i++)
    v1_apply(&m, &rules[i]);
  for (size_t i = 0; i < m.n; i++) {
    if (!rule_matches_device(&m.ex[i], a))
      continue;
    if (m.default_allow && (m.ex_bits[i] & a.access))
      return 0;
    if (!m.default_allow && (a.access & ~m.ex_bits[i]) == 0)
      return 1;
  }
  return m.default_allow;
}

/* ---- device program tests ---- */

#define ALLOW(t, maj, min, acc)                                                                    \
  {                                                                                                \
    true, t, maj, min, acc                                                                         \
  }
#define DENY(t, maj, min, acc)                                                                     \
  {                                                                                                \
    false, t, maj, min, acc                                                                        \
  }

struct rule_set {
  const char *name;
  const struct cgroup_device_rule *rules;
  size_t n;
  bool v1_agrees; /* false where v1 silently ignores a rule (see devices_bpf.c) */
};

struct expect {
  struct dev_access a;
  int allow;
};

static const struct cgroup_device_rule rules_deny_then_default[] = {
    DENY('a', -1, -1, "rwm"), ALLOW('c', -1, -1, "m"),    ALLOW('b', -1, -1, "m"),
    ALLOW('c', 1, 3, "rwm"),  ALLOW('c', 1, 5, "rwm"),    ALLOW('c', 1, 7, "rwm"),
    ALLOW('c', 5, 0, "rwm"),  ALLOW('c', 1, 8, "rwm"),    ALLOW('c', 1, 9, "rwm"),
    ALLOW('c', 5, 2, "rwm"),  ALLOW('c', 136, -1, "rwm"), ALLOW('c', 10, 200, "rwm"),
};
static const struct cgroup_device_rule rules_deny_after_allow[] = {
    ALLOW('c', 1, 3, "rwm"), DENY('c', 1, 3, "w"), ALLOW('c', 1, 5, "r"),
    ALLOW('c', 1, 5, "w"), /* v1 merges these two into one "rw" exception */
};
static const struct cgroup_device_rule rules_wildcards[] = {
    ALLOW('c', -1, 3, "r"),
    ALLOW('b', -1, -1, "rw"),
    ALLOW('c', 4, -1, "rwm"),
};
static const struct cgroup_device_rule rules_allow_all_deny_null_write[] = {
    ALLOW('a', -1, -1, "rwm"),
    DENY('c', 1, 3, "w"),
};
static const struct cgroup_device_rule rules_reset_midway[] = {
    ALLOW('c', 1, 3, "rwm"),
    ALLOW('b', 8, 0, "rwm"),
    DENY('a', -1, -1, ""),
    ALLOW('c', 1, 5, "r"),
};
static const struct cgroup_device_rule rules_punch_holes[] = {
    ALLOW('c', 1, -1, "rw"),
    DENY('c', 1, 7, "w"), /* v1 ignores this: no exception is exactly c 1:7 */
    ALLOW('a', -1, -1, ""),
    DENY('b', -1, -1, "rwm"),
    ALLOW('b', 8, 0, "r"), /* v1 ignores this too, in the other direction */
};
/* A list where every rule decides something, so every instruction matters. */
static const struct cgroup_device_rule rules_all_distinct[] = {
    ALLOW('c', 1, -1, "rw"),  ALLOW('b', -1, 0, "m"), ALLOW('b', 1, -1, "mw"),
    ALLOW('c', -1, 7, "w"),   DENY('c', 1, 7, "w"),   ALLOW('c', 5, 1, "rm"),
    ALLOW('c', -1, 200, "r"),
};

#define RULE_SET(r, agrees)                                                                        \
  {                                                                                                \
#r, r, N_ELEMS(r), agrees                                                                      \
  }

static const struct rule_set rule_sets[] = {
    RULE_SET(rules_deny_then_default, true),
    RULE_SET(rules_deny_after_allow, true),
    RULE_SET(rules_wildcards, true),
    RULE_SET(rules_allow_all_deny_null_write, true),
    RULE_SET(rules_reset_midway, true),
    RULE_SET(rules_punch_holes, false),
    {"empty", NULL, 0, true},
};

#define C(maj, min, acc)                                                                           \
  {                                                                                                \
    'c', maj, min, acc                                                                             \
  }
#define B(maj, min, acc)                                                                           \
  {                                                                                                \
    'b', maj, min, acc                                                                             \
  }

/* Expected verdicts, written by hand from the v1 semantics. */
static const struct expect expect_deny_then_default[] = {
    {C(1, 3, ACC_R | ACC_W), 1},   {C(1, 3, ACC_M), 1},           {C(1, 9, ACC_R), 1},
    {C(1, 4, ACC_R), 0},           {C(1, 4, ACC_M), 1},           {C(1, 4, ACC_M | ACC_R), 0},
    {B(8, 0, ACC_R), 0},           {B(8, 0, ACC_M), 1},           {B(8, 0, ACC_R | ACC_W), 0},
    {C(136, 5, ACC_R | ACC_W), 1}, {C(136, 0, ACC_M | ACC_R), 1}, {C(10, 200, ACC_W), 1},
    {C(10, 201, ACC_R), 0},        {C(5, 1, ACC_R), 0},           {C(3, 1, ACC_R), 0},
    {B(1, 3, ACC_R), 0},  /* the char rule does not cover a block device */
    {C(1, 11, ACC_W), 0}, /* /dev/kmsg: not in the default list */
    {C(1, 11, ACC_M), 1},
};
static const struct expect expect_deny_after_allow[] = {
    {C(1, 3, ACC_R), 1}, {C(1, 3, ACC_W), 0}, {C(1, 3, ACC_R | ACC_W), 0},
    {C(1, 3, ACC_M), 1}, {C(1, 5, ACC_R), 1}, {C(1, 5, ACC_R | ACC_W), 1},
    {C(1, 5, ACC_M), 0}, {C(1, 7, ACC_R), 0},
};
static const struct expect expect_wildcards[] = {
    {C(7, 3, ACC_R), 1},           {C(7, 3, ACC_W), 0},         {C(7, 4, ACC_R), 0},
    {B(259, 1, ACC_R | ACC_W), 1}, {B(259, 1, ACC_M), 0},       {C(4, 64, ACC_M | ACC_W), 1},
    {C(4, 3, ACC_R | ACC_W), 1},   {C(5, 3, ACC_R | ACC_W), 0}, {B(4, 1, ACC_M), 0},
};
static const struct expect expect_allow_all_deny_null_write[] = {
    {C(1, 3, ACC_R), 1},
    {C(1, 3, ACC_W), 0},
    {C(1, 3, ACC_R | ACC_W), 0},
    {C(1, 3, ACC_M), 1},
    {C(1, 5, ACC_W), 1},
    {B(1, 3, ACC_W), 1},
    {B(8, 0, ACC_M | ACC_R | ACC_W), 1},
};
static const struct expect expect_reset_midway[] = {
    {C(1, 3, ACC_R), 0},
    {B(8, 0, ACC_R), 0},
    {C(1, 5, ACC_R), 1},
    {C(1, 5, ACC_W), 0},
};
static const struct expect expect_punch_holes[] = {
    {C(1, 7, ACC_R), 1}, {C(1, 7, ACC_W), 1}, /* the deny before "a" is gone */
    {B(8, 0, ACC_R), 1}, {B(8, 0, ACC_W), 0}, {B(8, 1, ACC_R), 0}, {C(9, 9, ACC_M), 1},
};
static const struct expect expect_empty[] = {
    {C(1, 3, ACC_R), 0},
    {C(1, 3, ACC_M), 0},
    {B(8, 0, ACC_W), 0},
};

static const struct {
  const struct expect *e;
  size_t n;
} expects[] = {
    {expect_deny_then_default, N_ELEMS(expect_deny_then_default)},
    {expect_deny_after_allow, N_ELEMS(expect_deny_after_allow)},
    {expect_wildcards, N_ELEMS(expect_wildcards)},
    {expect_allow_all_deny_null_write, N_ELEMS(expect_allow_all_deny_null_write)},
    {expect_reset_midway, N_ELEMS(expect_reset_midway)},
    {expect_punch_holes, N_ELEMS(expect_punch_holes)},
    {expect_empty, N_ELEMS(expect_empty)},
};

static struct bpf_insn *build(const struct rule_set *s, size_t *n)
{
  struct bpf_insn *prog = NULL;
  struct berth_err *err = NULL;

  if (cgroup_devices_bpf_build(s->rules, s->n, &prog, n, &err) < 0) {
    CHECK(false, "%s: build: %s", s->name, err->msg);
    berth_err_free(&err);
    return NULL;
  }
  return prog;
}

static const uint32_t grid_majors[] = {1, 4, 5, 8, 10, 136, 259};
static const uint32_t grid_minors[] = {0, 1, 3, 5, 7, 64, 200};

/* Calls f on every access of a grid covering all the numbers the rule
 * sets name, a few they do not, and every access combination; stops early
 * when f returns false. */
static void for_each_access(bool (*f)(struct dev_access, void *), void *arg)
{
  for (int t = 0; t < 2; t++)
    for (size_t j = 0; j < N_ELEMS(grid_majors); j++)
      for (size_t k = 0; k < N_ELEMS(grid_minors); k++)
        for (int acc = 1; acc <= 7; acc++) {
          struct dev_access a = {t ? 'c' : 'b', grid_majors[j], grid_minors[k], acc};
          if (!f(a, arg))
            return;
        }
}

struct grid_check {
  const struct rule_set *s;
  const struct bpf_insn *prog;
  size_t n;
  int (*model)(const struct cgroup_device_rule *, size_t, struct dev_access);
  char mismatch[160];
};

static bool grid_compare(struct dev_access a, void *arg)
{
  struct grid_check *g = arg;
  const char *fault = NULL;
  int got = bpf_run(g->prog, g->n, a, &fault);
  int want = g->model(g->s->rules, g->s->n, a);

  if (got == want)
    return true;
  snprintf(g->mismatch, sizeof(g->mismatch), "%c %u:%u access %d: program %d (%s), model %d",
           a.type, a.major, a.minor, a.access, got, fault ? fault : "ok", want);
  return false;
}

static void check_against_model(const struct rule_set *s, const struct bpf_insn *prog, size_t n,
                                int (*model)(const struct cgroup_device_rule *, size_t,
                                             struct dev_access),
                                const char *model_name)
{
  struct grid_check g = {s, prog, n, model, ""};

  for_each_access(grid_compare, &g);
  CHECK(g.mismatch[0] == '\0', "%s vs %s: %s", s->name, model_name, g.mismatch);
}

static void check_expectations(const struct rule_set *s, const struct bpf_insn *prog, size_t n,
                               const struct expect *e, size_t n_e)
{
  for (size_t i = 0; i < n_e; i++) {
    const char *fault = NULL;
    int got = bpf_run(prog, n, e[i].a, &fault);
    CHECK(got == e[i].allow, "%s: %c %u:%u access %d: got %d (%s), want %d", s->name, e[i].a.type,
          e[i].a.major, e[i].a.minor, e[i].a.access, got, fault ? fault : "ok", e[i].allow);
  }
}

struct mutant_check {
  const struct bpf_insn *prog, *mutant;
  size_t n;
  bool differs;
};

static bool mutant_compare(struct dev_access a, void *arg)
{
  struct mutant_check *m = arg;
  const char *fault = NULL;

  m->differs = bpf_run(m->prog, m->n, a, &fault) != bpf_run(m->mutant, m->n, a, &fault);
  return !m->differs;
}

/* Returns how many ways of breaking instruction i exist (0..2) and writes
 * them to out: a conditional jump never or always taken, a different
 * immediate for anything else that has one. */
static size_t mutate(const struct bpf_insn *orig, struct bpf_insn out[2])
{
  uint8_t cls = BPF_CLASS(orig->code), op = BPF_OP(orig->code);

  out[0] = out[1] = *orig;
  if (cls == BPF_JMP && op != BPF_EXIT && op != BPF_JA) {
    out[0].off = 0;
    out[1].code = BPF_JMP | BPF_JA;
    return 2;
  }
  if (cls == BPF_LDX) {
    out[0].off = (int16_t)((orig->off + 4) % 12);
    return 1;
  }
  if (cls == BPF_ALU || cls == BPF_ALU64) {
    out[0].imm = orig->imm == 0 ? 1 : orig->imm == 1 ? 0 : orig->imm ^ 0x2;
    return 1;
  }
  return 0;
}

/* Every single-instruction mutant of the program must change some
 * verdict on the grid: otherwise the tests would not notice that
 * instruction being wrong. */
static void check_mutants_die(const struct rule_set *s, const struct bpf_insn *prog, size_t n)
{
  struct bpf_insn *mutant = calloc(n, sizeof(*mutant));
  size_t survivors = 0, tried = 0;
  char first[96] = "";

  for (size_t i = 0; i < n; i++) {
    struct bpf_insn variants[2];
    size_t n_variants = mutate(&prog[i], variants);
    for (size_t v = 0; v < n_variants; v++) {
      memcpy(mutant, prog, n * sizeof(*mutant));
      mutant[i] = variants[v];
      struct mutant_check m = {prog, mutant, n, false};
      for_each_access(mutant_compare, &m);
      tried++;
      if (!m.differs && survivors++ == 0)
        snprintf(first, sizeof(first), "insn %zu (code 0x%02x) variant %zu", i, prog[i].code, v);
    }
  }
  CHECK(tried > 0 && survivors == 0, "%s: %zu of %zu mutants survive, first: %s", s->name,
        survivors, tried, first);
  free(mutant);
}

static void test_default_devices(void)
{
  CHECK(cgroup_n_default_devices == 11, "default list has %zu entries", cgroup_n_default_devices);
  for (size_t i = 0; i < cgroup_n_default_devices; i++)
    CHECK(cgroup_default_devices[i].allow, "default device %zu is an allow rule", i);
}

static void test_devices_bpf_rejects(void)
{
  static const struct cgroup_device_rule bad[][1] = {
      {ALLOW('x', 1, 3, "rwm")},
      {ALLOW('c', 1, 3, "rwx")},
      {ALLOW('c', -2, 3, "r")},
      {ALLOW('c', 1, 4294967296LL, "r")},
  };
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    struct bpf_insn *prog = NULL;
    size_t n = 0;
    struct berth_err *err = NULL;
    int r = cgroup_devices_bpf_build(bad[i], 1, &prog, &n, &err);
    CHECK(r < 0 && err && strstr(err->msg, "linux.resources.devices[0]"), "bad rule %zu: %d %s", i,
          r, err ? err->msg : "");
    berth_err_free(&err);
    free(prog);
  }
}

static void test_devices_bpf_programs(void)
{
  for (size_t i = 0; i < N_ELEMS(rule_sets); i++) {
    const struct rule_set *s = &rule_sets[i];
    size_t n = 0;
    struct bpf_insn *prog = build(s, &n);
    if (prog == NULL)
      continue;
    check_expectations(s, prog, n, expects[i].e, expects[i].n);
    check_against_model(s, prog, n, model_last_match, "last-match model");
    if (s->v1_agrees)
      check_against_model(s, prog, n, model_v1, "v1 model");
    free(prog);
  }

  const struct rule_set distinct = RULE_SET(rules_all_distinct, true);
  size_t n = 0;
  struct bpf_insn *prog = build(&distinct, &n);
  if (prog) {
    check_against_model(&distinct, prog, n, model_last_match, "last-match model");
    check_mutants_die(&distinct, prog, n);
    free(prog);
  }
}

/* ---- on the real kernel ---- */

/* Finds the cgroup2 mount: /sys/fs/cgroup on unified hosts, its unified/
 * subdirectory on hybrid ones. */
static const char *cgroup2_root(void)
{
  static const char *const candidates[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
  struct statfs st;

  for (size_t i = 0; i < N_ELEMS(candidates); i++)
    if (statfs(candidates[i], &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
      return candidates[i];
  return NULL;
}

/* The v2 path of this process, from its "0::/path" line. */
static bool own_cgroup2_path(char *buf, size_t len)
{
  FILE *f = fopen("/proc/self/cgroup", "re");
  char line[4096];
  bool found = false;

  if (f == NULL)
    return false;
  while (!found && fgets(line, sizeof(line), f))
    if (strncmp(line, "0::", 3) == 0) {
      line[strcspn(line, "\n")] = '\0';
      found = (size_t)snprintf(buf, len, "%s", line + 3) < len;
    }
  fclose(f);
  return found;
}

static bool join_cgroup(const char *dir)
{
  char path[4200];
  snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  /* "0" means the writing process */
  bool ok = fd >= 0 && write(fd, "0", 1) == 1;
  if (fd >= 0)
    close(fd);
  return ok;
}

static bool open_succeeds(const char *path, int flags)
{
  int fd = open(path, flags | O_CLOEXEC);
  if (fd >= 0)
    close(fd);
  return fd >= 0;
}

static bool open_eperm(const char *path, int flags)
{
  int fd = open(path, flags | O_CLOEXEC);
  if (fd >= 0)
    close(fd);
  return fd < 0 && errno == EPERM;
}

static const char *const probe_failures[] = {
    NULL,
    "join the test cgroup",
    "open /dev/null O_RDWR (c 1:3 rw allowed) failed",
    "open /dev/full O_RDONLY (no rule) did not fail with EPERM",
    "open /dev/zero O_RDONLY (c 1:5 r allowed) failed",
    "open /dev/zero O_WRONLY (only r allowed) did not fail with EPERM",
    "move back to the original cgroup",
};

/* Child process, after fork: joins the restricted cgroup, probes, and
 * leaves again so the parent can remove it. Returns an index into
 * probe_failures. */
static int probe_devices(const char *test_dir, const char *home_dir)
{
  int failure = 0;

  if (!join_cgroup(test_dir))
    return 1;
  if (!open_succeeds("/dev/null", O_RDWR))
    failure = 2;
  else if (!open_eperm("/dev/full", O_RDONLY))
    failure = 3;
  else if (!open_succeeds("/dev/zero", O_RDONLY))
    failure = 4;
  else if (!open_eperm("/dev/zero", O_WRONLY))
    failure = 5;
  if (!join_cgroup(home_dir) && failure == 0)
    failure = 6;
  return failure;
}

static void run_probe(const char *test_dir, const char *home_dir)
{
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    CHECK(false, "fork: %s", strerror(errno));
    return;
  }
  if (pid == 0)
    _exit(probe_devices(test_dir, home_dir));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  CHECK(code == 0, "device eBPF on the kernel: %s",
        code > 0 && (size_t)code < N_ELEMS(probe_failures) ? probe_failures[code]
                                                           : "probe child died");
}

/* The verifier accepts every shape the builder emits (default allow or
 * deny, one exit or two). Attached after the probe, to the now empty
 * cgroup: with BPF_F_ALLOW_MULTI they would all have to agree. */
static void attach_rule_sets(int dirfd)
{
  for (size_t i = 0; i < N_ELEMS(rule_sets); i++) {
    struct bpf_insn *prog = NULL;
    size_t n = 0;
    struct berth_err *err = NULL;
    int r = cgroup_devices_bpf_build(rule_sets[i].rules, rule_sets[i].n, &prog, &n, &err);
    if (r == 0)
      r = cgroup_devices_bpf_attach(dirfd, prog, n, &err);
    CHECK(r == 0, "%s on the kernel: %s", rule_sets[i].name, err ? err->msg : "");
    berth_err_free(&err);
    free(prog);
  }
}

static void attach_and_probe(const char *test_dir, const char *home_dir)
{
  static const struct cgroup_device_rule rules[] = {
      ALLOW('c', 1, 3, "rw"),
      ALLOW('c', 1, 5, "r"),
  };
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  struct berth_err *err = NULL;

  int dirfd = open(test_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK(dirfd >= 0, "open %s: %s", test_dir, strerror(errno));
  if (dirfd < 0)
    return;
  int r = cgroup_devices_bpf_build(rules, N_ELEMS(rules), &prog, &n, &err);
  if (r == 0)
    r = cgroup_devices_bpf_attach(dirfd, prog, n, &err);
  CHECK(r == 0, "device eBPF on the kernel: %s", err ? err->msg : "");
  if (r == 0)
    run_probe(test_dir, home_dir);
  berth_err_free(&err);
  free(prog);
  attach_rule_sets(dirfd);
  close(dirfd);
}

static void test_devices_bpf_kernel(void)
{
  const char *root = cgroup2_root();
  char home[4096], home_dir[8300], test_dir[4200];

  if (geteuid() != 0 || root == NULL || !own_cgroup2_path(home, sizeof(home))) {
    printf("skip: device eBPF on the kernel (needs root and a cgroup2 mount)\n");
    return;
  }
  snprintf(home_dir, sizeof(home_dir), "%s%s", root, home);
  snprintf(test_dir, sizeof(test_dir), "%s/berth-unit-test-%d", root, (int)getpid());
  if (mkdir(test_dir, 0755) < 0) {
    /* a read-only or delegated-away hierarchy: nothing to test with */
    printf("skip: device eBPF on the kernel: mkdir %s: %s\n", test_dir, strerror(errno));
    return;
  }
  attach_and_probe(test_dir, home_dir);
  /* the cgroup can be removed once empty; an exiting task may linger for
   * a moment after waitpid on older kernels */
  int r = -1;
  for (int tries = 0; tries < 100 && (r = rmdir(test_dir)) < 0 && errno == EBUSY; tries++)
    usleep(10000);
  CHECK(r == 0, "rmdir %s: %s", test_dir, strerror(errno));
}

/* ---- linux.resources parsing: network, real-time, kernel memory ---- */

/* Parses JSON text as linux.resources; returns 0 or -1, the error in msg. */
static int parse_text(const char *text, struct cgroup_resources *r, char *msg, size_t len)
{
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  struct berth_err *e = NULL;
  int ret = cgroup_resources_parse(o, "linux.resources", r, &e);
  snprintf(msg, len, "%s", e ? e->msg : "");
  berth_err_free(&e);
  json_decref(o);
  return ret;
}

static void parse_fails(const char *text, const char *want, int line)
{
  struct cgroup_resources r;
  char msg[2048];
  int ret = parse_text(text, &r, msg, sizeof(msg));
  CHECK(ret < 0 && strstr(msg, want) != NULL, "line %d: %s: got '%s', want '%s'", line, text, msg,
        want);
  if (ret == 0)
    cgroup_resources_free(&r);
}

static void test_parse_network(void)
{
  struct cgroup_resources r;
  char msg[2048], line[64];
  int ret = parse_text("{\"network\": {\"classID\": 1048577, \"priorities\": "
                       "[{\"name\": \"eth0\", \"priority\": 5}, {\"name\": \"lo\", "
                       "\"priority\": 4294967295}]}}",
                       &r, msg, sizeof(msg));
  CHECK(ret == 0, "network parses: %s", msg);
  CHECK(r.has_net_classid && r.net_classid == 1048577, "classID %u", r.net_classid);
  CHECK(r.n_net_prios == 2, "%zu priorities", r.n_net_prios);
  if (r.n_net_prios == 2) {
    cgroup_ifpriomap_line(&r.net_prios[0], line, sizeof(line));
    CHECK(strcmp(line, "eth0 5") == 0, "ifpriomap line '%s'", line);
    cgroup_ifpriomap_line(&r.net_prios[1], line, sizeof(line));
    CHECK(strcmp(line, "lo 4294967295") == 0, "ifpriomap line '%s'", line);
  }
  cgroup_resources_free(&r);
  CHECK(parse_text("{\"network\": {}}", &r, msg, sizeof(msg)) == 0 && !r.has_net_classid &&
            r.n_net_prios == 0,
        "empty network: %s", msg);
  cgroup_resources_free(&r);
  parse_fails("{\"network\": {\"classID\": -1}}", "linux.resources.network.classID", __LINE__);
  parse_fails("{\"network\": {\"classID\": 4294967296}}", "network.classID", __LINE__);
  parse_fails("{\"network\": {\"priorities\": {}}}", "network.priorities", __LINE__);
  parse_fails("{\"network\": {\"priorities\": [{\"name\": \"eth0 1\", \"priority\": 1}]}}",
              "network.priorities[0].name", __LINE__);
  parse_fails("{\"network\": {\"priorities\": [{\"name\": \"a/b\", \"priority\": 1}]}}",
              "network.priorities[0].name", __LINE__);
  parse_fails("{\"network\": {\"priorities\": [{\"name\": \"abcdefghijklmnop\"}]}}",
              "network.priorities[0].name", __LINE__);
  parse_fails("{\"network\": {\"priorities\": [{\"name\": \"eth0\", \"priority\": -2}]}}",
              "network.priorities[0].priority", __LINE__);
  parse_fails("{\"rdma\": {\"mlx\": {}}}", "linux.resources.rdma", __LINE__);
}

static void test_parse_rt(void)
{
  struct cgroup_resources r;
  char msg[2048];
  int ret = parse_text("{\"cpu\": {\"realtimePeriod\": 1000000, \"realtimeRuntime\": 20000}}", &r,
                       msg, sizeof(msg));
  CHECK(ret == 0 && r.has_cpu_rt_period && r.cpu_rt_period == 1000000 && r.has_cpu_rt_runtime &&
            r.cpu_rt_runtime == 20000,
        "rt parses: %s", msg);
  cgroup_resources_free(&r);
  ret = parse_text("{\"cpu\": {\"realtimePeriod\": 0, \"realtimeRuntime\": 0}}", &r, msg,
                   sizeof(msg));
  CHECK(ret == 0 && !r.has_cpu_rt_period && !r.has_cpu_rt_runtime, "rt 0 is unset: %s", msg);
  cgroup_resources_free(&r);
  ret = parse_text("{\"cpu\": {\"realtimeRuntime\": -1}}", &r, msg, sizeof(msg));
  CHECK(ret == 0 && r.has_cpu_rt_runtime && r.cpu_rt_runtime == -1, "rt -1: %s", msg);
  cgroup_resources_free(&r);
  parse_fails("{\"cpu\": {\"realtimePeriod\": 1000, \"realtimeRuntime\": 2000}}",
              "linux.resources.cpu.realtimeRuntime: must not exceed", __LINE__);
  parse_fails("{\"cpu\": {\"realtimePeriod\": 2000000}}", "cpu.realtimePeriod", __LINE__);
  parse_fails("{\"cpu\": {\"realtimeRuntime\": -2}}", "cpu.realtimeRuntime", __LINE__);
  parse_fails("{\"cpu\": {\"realtimeRuntime\": \"5\"}}", "cpu.realtimeRuntime", __LINE__);
}

static void test_parse_kernel_memory(void)
{
  struct cgroup_resources r;
  char msg[2048];
  int ret = parse_text("{\"memory\": {\"kernel\": 1048576, \"kernelTCP\": 1048576, "
                       "\"limit\": 4194304}}",
                       &r, msg, sizeof(msg));
  CHECK(ret == 0 && r.has_mem_limit && r.mem_limit == 4194304, "kernel memory ignored: %s", msg);
  cgroup_resources_free(&r);
  parse_fails("{\"memory\": {\"kernel\": \"1m\"}}", "memory.kernel", __LINE__);
}

void cgroup_unit_tests(void)
{
  test_parse_network();
  test_parse_rt();
  test_parse_kernel_memory();
  test_shares_to_weight();
  test_blkio_to_io_weight();
  test_swap();
  test_cpu_max();
  test_io_max();
  test_device_lines();
  test_device_access();
  test_default_devices();
  test_devices_bpf_rejects();
  test_devices_bpf_programs();
  test_devices_bpf_kernel();
}
