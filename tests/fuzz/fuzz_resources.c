/* libFuzzer harness: the input is a linux.resources object, as `berth
 * update -r FILE` reads it. After cgroup_resources_parse, the pure
 * conversions that cgroup_apply uses run on the result, and the v2 device
 * program is executed by a small eBPF interpreter against a model of the
 * rules' meaning (devices_bpf.c's header comment). */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cgroup/cgroup.h"
#include "fuzz.h"

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

static uint32_t access_bits(const char *a)
{
  uint32_t bits = 0;
  for (; *a; a++)
    bits |= *a == 'm' ? BPF_DEVCG_ACC_MKNOD : *a == 'r' ? BPF_DEVCG_ACC_READ : BPF_DEVCG_ACC_WRITE;
  return bits ? bits : ACC_ALL;
}

/* The meaning: the last "a" rule sets the default (deny without one); each
 * requested bit is decided by the last later rule that matches the device
 * and lists it. */
static int model(const struct cgroup_device_rule *r, size_t n, char type, uint32_t major,
                 uint32_t minor, uint32_t acc)
{
  size_t first = 0;
  bool def = false;
  for (size_t i = 0; i < n; i++)
    if (r[i].type == 'a') {
      first = i + 1;
      def = r[i].allow;
    }
  for (uint32_t bit = 1; bit <= acc; bit <<= 1) {
    if (!(acc & bit))
      continue;
    bool allow = def;
    for (size_t i = first; i < n; i++)
      if (r[i].type == type && (r[i].major < 0 || r[i].major == major) &&
          (r[i].minor < 0 || r[i].minor == minor) && (access_bits(r[i].access) & bit))
        allow = r[i].allow;
    if (!allow)
      return 0;
  }
  return 1;
}

/* Runs the subset of eBPF that devices_bpf.c emits; anything else, a jump
 * out of the program or falling off its end is a bug. */
static int run_bpf(const struct bpf_insn *p, size_t n, uint32_t ctx[3])
{
  uint64_t reg[11] = {0};
  for (size_t pc = 0; pc < n; pc++) {
    const struct bpf_insn *in = &p[pc];
    REQUIRE(in->dst_reg < 11 && in->src_reg < 11);
    uint64_t *d = &reg[in->dst_reg];
    uint64_t imm = (uint64_t)(int64_t)in->imm;
    bool jump = false;
    switch (in->code) {
    case BPF_LDX | BPF_MEM | BPF_W:
      REQUIRE(in->src_reg == 1 && in->off >= 0 && in->off <= 8 && in->off % 4 == 0);
      *d = ctx[in->off / 4];
      break;
    case BPF_ALU | BPF_AND | BPF_K:
      *d = (uint32_t)(*d & imm);
      break;
    case BPF_ALU | BPF_RSH | BPF_K:
      REQUIRE(in->imm >= 0 && in->imm < 32);
      *d = (uint32_t)*d >> in->imm;
      break;
    case BPF_ALU64 | BPF_MOV | BPF_K:
      *d = imm;
      break;
    case BPF_JMP | BPF_JNE | BPF_K:
      jump = *d != imm;
      break;
    case BPF_JMP | BPF_JEQ | BPF_K:
      jump = *d == imm;
      break;
    case BPF_JMP | BPF_JSET | BPF_K:
      jump = (*d & imm) != 0;
      break;
    case BPF_JMP | BPF_EXIT:
      REQUIRE(reg[0] <= 1);
      return (int)reg[0];
    default:
      REQUIRE(0);
    }
    if (jump) {
      REQUIRE(in->off >= 0 && pc + 1 + (size_t)in->off < n);
      pc += (size_t)in->off;
    }
  }
  REQUIRE(0);
  return -1;
}

static void check_devices(const struct cgroup_resources *r)
{
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  struct berth_err *err = NULL;
  if (cgroup_devices_bpf_build(r->devices, r->n_devices, &prog, &n, &err) < 0) {
    REQUIRE(err != NULL);
    berth_err_free(&err);
    return;
  }
  /* Devices to try: each rule's own numbers, and ones no rule names. */
  size_t probes = r->n_devices < 32 ? r->n_devices : 32;
  for (size_t i = 0; i <= probes; i++) {
    uint32_t major = 4000, minor = 1000000;
    if (i < probes) {
      major = r->devices[i].major < 0 ? 0 : (uint32_t)r->devices[i].major;
      minor = r->devices[i].minor < 0 ? 7 : (uint32_t)r->devices[i].minor;
    }
    for (int t = 0; t < 2; t++) {
      char type = t ? 'b' : 'c';
      uint32_t dev = t ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
      for (uint32_t acc = 1; acc <= ACC_ALL; acc++) {
        uint32_t ctx[3] = {dev | acc << 16, major, minor};
        REQUIRE(run_bpf(prog, n, ctx) == model(r->devices, r->n_devices, type, major, minor, acc));
      }
    }
  }
  free(prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_error_t jerr;
  json_t *obj = json_loadb((const char *)data, size, 0, &jerr);
  if (obj == NULL)
    return 0;
  struct cgroup_resources r;
  struct berth_err *err = NULL;
  if (cgroup_resources_parse(obj, "linux.resources", &r, &err) < 0) {
    REQUIRE(err != NULL && err->msg[0] != '\0');
    berth_err_free(&err);
    json_decref(obj);
    return 0;
  }
  REQUIRE(err == NULL);
  char buf[64];
  uint64_t w = cgroup_shares_to_weight(r.cpu_shares);
  REQUIRE(w <= 10000 && (w == 0) == (r.cpu_shares == 0));
  REQUIRE(cgroup_blkio_to_io_weight(r.blkio_weight) <= 10000);
  for (size_t i = 0; i < r.n_weight_devices; i++)
    REQUIRE(cgroup_blkio_to_io_weight(r.weight_devices[i].weight) <= 10000);
  if (r.has_mem_swap) {
    if (cgroup_swap_to_v2(r.has_mem_limit ? r.mem_limit : 0, r.has_mem_limit, r.mem_swap, buf,
                          sizeof(buf), &err) < 0)
      berth_err_free(&err);
    else
      REQUIRE(strcmp(buf, "max") == 0 || buf[0] == '\0' || (buf[0] >= '0' && buf[0] <= '9'));
  }
  cgroup_cpu_max(r.has_cpu_quota, r.cpu_quota, r.has_cpu_period, r.cpu_period, buf, sizeof(buf));
  REQUIRE(strchr(buf, ' ') != NULL);
  char *lines = cgroup_io_max_lines(&r);
  REQUIRE(lines != NULL);
  free(lines);
  for (size_t i = 0; i < r.n_devices; i++) {
    cgroup_device_rule_line(&r.devices[i], buf, sizeof(buf));
    REQUIRE(strlen(buf) >= 7); /* "c 1:3 r" */
  }
  check_devices(&r);
  cgroup_resources_free(&r);
  json_decref(obj);
  return 0;
}
