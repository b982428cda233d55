/* vm/: control-channel frames and records, dev.berth.vm.* checks, VM
 * sizing and QEMU's command line. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../vm/proto.h"
#include "../../vm/vm.h"
#include "../../runtime/microvm.h"
#include "check.h"

/* Frames survive being cut anywhere; a corrupt length is refused. */
static void test_frames(void)
{
  static struct vm_reader r;
  /* STDOUT "hello" (length 6: type + 5 bytes), then EXIT 42. */
  static const char wire[] = "\x06\0\0\0\x13hello"
                             "\x05\0\0\0\x15\x2a\0\0\0";
  size_t n = sizeof(wire) - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    memset(&r, 0, sizeof(r));
    uint8_t type;
    const char *d;
    uint32_t len;
    int got = 0, exit_status = -1;
    char out[8] = "";
    vm_reader_feed(&r, wire, cut);
    for (int pass = 0; pass < 2; pass++) {
      while (vm_reader_next(&r, &type, &d, &len) == 1) {
        got++;
        if (type == VM_MSG_STDOUT && len < sizeof(out))
          memcpy(out, d, len), out[len] = '\0';
        if (type == VM_MSG_EXIT)
          exit_status = (int)vm_u32_decode(d, len);
      }
      if (pass == 0)
        vm_reader_feed(&r, wire + cut, n - cut);
    }
    CHECK(got == 2 && strcmp(out, "hello") == 0 && exit_status == 42,
          "cut at %zu: %d frames, out \"%s\", exit %d", cut, got, out, exit_status);
  }
  memset(&r, 0, sizeof(r));
  vm_reader_feed(&r, "\xff\xff\xff\x7f\x01", 5);
  uint8_t type;
  const char *d;
  uint32_t len;
  CHECK(vm_reader_next(&r, &type, &d, &len) == -1, "oversized frame accepted");
}

static void test_records(void)
{
  struct vm_buf b = {0};
  vm_rec_add(&b, "arg", "sh");
  vm_rec_add(&b, "arg", "");
  vm_rec_addf(&b, "uid", "%u", 1000u);
  size_t off = 0;
  const char *k, *v;
  int n = 0;
  while (vm_rec_next(b.data, b.len, &off, &k, &v) == 1)
    n++;
  CHECK(n == 3 && strcmp(k, "uid") == 0 && strcmp(v, "1000") == 0, "%d records, last %s=%s", n, k,
        v);
  off = 0;
  CHECK(vm_rec_next(b.data, b.len - 1, &off, &k, &v) == 1, "first record");
  off = 7; /* "uid" whose value "1000" lacks its NUL */
  CHECK(vm_rec_next("arg\0sh\0uid\0001000", 15, &off, &k, &v) == -1, "truncated record accepted");
  vm_buf_free(&b);
}

static void test_options(void)
{
  static const struct {
    const char *k, *v, *err; /* err NULL: valid */
  } cases[] = {
      {"vm.accel", "auto", NULL},
      {"vm.accel", "tcg", NULL},
      {"vm.accel", "fast", "must be auto, kvm or tcg"},
      {"vm.kernel", "vmlinux", "must be an absolute path"},
      {"vm.boot_timeout", "0", "seconds from 1 to 3600"},
      {"vm.boot_timeout", "30", NULL},
      {"vm.memory", "64", "too little memory"},
      {"vm.memory", "12x", "must be MiB"},
      {"vm.memory", "512", NULL},
      {"vm.cpus", "0", "from 1 to 64"},
      {"vm.cpus", "2", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct berth_err *e = NULL;
    int r = vm_option_check(cases[i].k, cases[i].v, &e);
    if (cases[i].err == NULL)
      CHECK(r == 0, "%s=%s refused: %s", cases[i].k, cases[i].v, e ? e->msg : "");
    else
      CHECK(r < 0 && strstr(e->msg, cases[i].err), "%s=%s: %s", cases[i].k, cases[i].v,
            e ? e->msg : "accepted");
    berth_err_free(&e);
  }
  CHECK(vm_option_is_key("vm.kernel") && !vm_option_is_key("vm.kernal"), "vm.* keys");
}

static bool argv_has(char **argv, const char *a, const char *b)
{
  for (size_t i = 0; argv[i] && argv[i + 1]; i++)
    if (strcmp(argv[i], a) == 0 && strstr(argv[i + 1], b))
      return true;
  return false;
}

/* Sizing from the limits and the command line that follows. The assets
 * need not exist for the argv: built from a config directly. */
static void test_qemu_argv(void)
{
  struct vm_config c = {.kernel = "/k",
                        .initrd = "/i",
                        .accel = VM_ACCEL_TCG,
                        .memory_mib = 416,
                        .vcpus = 2,
                        .boot_timeout_s = 60,
                        .append = "x=1"};
  char **argv = vm_qemu_argv(&c, 2000000);
  CHECK(argv_has(argv, "-M", "microvm,x-option-roms=off"), "microvm machine, no option ROMs");
  CHECK(argv_has(argv, "-accel", "tcg") && argv_has(argv, "-m", "416") &&
            argv_has(argv, "-smp", "2") && argv_has(argv, "-sandbox", "on"),
        "accel, memory, vcpus, sandbox");
  CHECK(argv_has(argv, "-append", "tsc_early_khz=2000000") && argv_has(argv, "-append", " x=1"),
        "kernel command line");
  CHECK(argv_has(argv, "-object", "memory-backend-memfd,id=mem,size=416M,share=on"),
        "shared memory for virtiofsd");
  CHECK(!argv_has(argv, "-cpu", "host"), "-cpu host under TCG");
  CHECK(!argv_has(argv, "-netdev", "tap"), "no network device unless asked");
  vm_argv_free(argv);
  c.net = true;
  memcpy(c.mac, (uint8_t[]){0x02, 0x42, 10, 88, 0, 0xa}, 6);
  argv = vm_qemu_argv(&c, 0);
  CHECK(argv_has(argv, "-netdev", "tap,id=net0,fd=4") &&
            argv_has(argv, "-device", "virtio-net-device,netdev=net0,mac=02:42:0a:58:00:0a"),
        "virtio-net on the tap fd with the leased MAC");
  vm_argv_free(argv);
  c.net = false;
  c.accel = VM_ACCEL_KVM;
  argv = vm_qemu_argv(&c, 0);
  CHECK(argv_has(argv, "-cpu", "host,-arch-capabilities") && argv_has(argv, "-accel", "kvm") &&
            !argv_has(argv, "-append", "tsc_early_khz"),
        "KVM command line");
  vm_argv_free(argv);
}

/* vm_config_build with assets that exist (any readable files). */
static void test_sizing(void)
{
  json_t *a = json_pack("{s:s, s:s}", "dev.berth.vm.kernel", "/proc/self/exe",
                        "dev.berth.vm.initrd", "/proc/self/exe");
  struct vm_config c;
  struct berth_err *e = NULL;
  struct vm_limits none = {0};
  CHECK(vm_config_build(a, &none, &c, &e) == 0 && c.memory_mib == VM_MEM_DEFAULT_MIB &&
            c.vcpus == 1 && c.accel == VM_ACCEL_AUTO,
        "defaults: %u MiB, %u vcpus", c.memory_mib, c.vcpus);
  vm_config_free(&c);
  struct vm_limits big = {.mem_limit = 512LL << 20, .cpu_quota = 150000, .cpu_period = 100000};
  CHECK(vm_config_build(a, &big, &c, &e) == 0 && c.memory_mib == 512 + VM_MEM_OVERHEAD_MIB &&
            c.vcpus >= 1 && c.vcpus <= 2,
        "512 MiB limit, 1.5 CPUs: %u MiB, %u vcpus", c.memory_mib, c.vcpus);
  vm_config_free(&c);
  json_object_set_new(a, "dev.berth.vm.memory", json_string("256"));
  CHECK(vm_config_build(a, &big, &c, &e) < 0 && strstr(e->msg, "too little for the container"),
        "vm.memory under the limit: %s", e ? e->msg : "accepted");
  berth_err_free(&e);
  vm_config_free(&c);
  json_object_set_new(a, "dev.berth.vm.kernel", json_string("/nonexistent/k"));
  CHECK(vm_config_build(a, &none, &c, &e) < 0 && strstr(e->msg, "/nonexistent/k"),
        "missing kernel: %s", e ? e->msg : "accepted");
  berth_err_free(&e);
  vm_config_free(&c);
  json_decref(a);
}

/* Exec frames carry the exec id first; the classes route them. */
static void test_tagged_frames(void)
{
  int p[2];
  if (pipe(p) < 0)
    return;
  vm_msg_send_tagged(p[1], VM_MSG_EXEC_STDOUT, 7, "hi", 2);
  close(p[1]);
  static struct vm_reader r;
  memset(&r, 0, sizeof(r));
  vm_reader_fill(&r, p[0]);
  close(p[0]);
  uint8_t type = 0;
  const char *d = NULL;
  uint32_t len = 0;
  int got = vm_reader_next(&r, &type, &d, &len);
  CHECK(got == 1 && type == VM_MSG_EXEC_STDOUT && len == 6 && vm_u32_decode(d, 4) == 7 &&
            memcmp(d + 4, "hi", 2) == 0,
        "tagged frame: %d, type %u, len %u", got, type, len);
  CHECK(vm_msg_is_exec_request(VM_MSG_EXEC) && vm_msg_is_exec_request(VM_MSG_PS) &&
            !vm_msg_is_exec_request(VM_MSG_SIGNAL) && !vm_msg_is_exec_request(VM_MSG_EXEC_EXIT),
        "exec request classes");
  CHECK(vm_msg_is_exec_reply(VM_MSG_EXEC_STARTED) && vm_msg_is_exec_reply(VM_MSG_PS_REPLY) &&
            !vm_msg_is_exec_reply(VM_MSG_EXIT) && !vm_msg_is_exec_reply(VM_MSG_EXEC),
        "exec reply classes");
}

static const char *rec_get(const struct vm_buf *b, const char *key)
{
  size_t off = 0;
  const char *k, *v;
  while (vm_rec_next(b->data, b->len, &off, &k, &v) == 1)
    if (strcmp(k, key) == 0)
      return v;
  return NULL;
}

/* The process's security goes to the guest as the spec says: the five
 * capability masks, no_new_privs, the compiled filter (8 bytes an
 * instruction); a notify profile is refused. */
#define PROCESS_CONFIG(ACTION)                                                                     \
  "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"},"                                  \
  " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0},"         \
  "  \"noNewPrivileges\": true, \"terminal\": true, \"consoleSize\": {\"height\": 30, "            \
  "\"width\": 100},"                                                                               \
  "  \"capabilities\": {\"bounding\": [\"CAP_KILL\", \"CAP_NET_RAW\"], \"effective\": "            \
  "[\"CAP_KILL\"],"                                                                                \
  "   \"permitted\": [\"CAP_KILL\"], \"ambient\": [\"CAP_KILL\"]}},"                               \
  " \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/l\","    \
  " \"syscalls\": [{\"names\":"                                                                    \
  "  [\"unshare\"], \"action\": \"SCMP_ACT_" ACTION "\"}]}}}"

static struct spec *process_spec(const char *text)
{
  struct spec *s = NULL;
  struct berth_err *e = NULL;
  CHECK(spec_parse(text, "/tmp", NULL, &s, &e) == 0, "spec: %s", e ? e->msg : "");
  berth_err_free(&e);
  return s;
}

static void test_process_records(void)
{
  struct spec *s = process_spec(PROCESS_CONFIG("ERRNO"));
  struct berth_err *e = NULL;
  struct vm_buf b = {0};
  if (s == NULL)
    return;
  CHECK(microvm_process_records(s, &b, &e) == 0, "records: %s", e ? e->msg : "");
  const char *caps = rec_get(&b, "caps"), *sc = rec_get(&b, "seccomp");
  CHECK(caps && strcmp(caps, "2020 20 20 0 20") == 0, "caps \"%s\"", caps ? caps : "none");
  CHECK(rec_get(&b, "nnp") && rec_get(&b, "terminal"), "nnp, terminal");
  CHECK(rec_get(&b, "console") && strcmp(rec_get(&b, "console"), "30 100") == 0, "console");
  const char *hex = sc ? strchr(sc, ' ') : NULL;
  CHECK(hex && strlen(hex + 1) > 0 && strlen(hex + 1) % 16 == 0, "seccomp \"%.40s\"",
        sc ? sc : "none");
  vm_buf_free(&b);
  spec_free(s);
  if ((s = process_spec(PROCESS_CONFIG("NOTIFY"))) == NULL)
    return;
  CHECK(microvm_process_records(s, &b, &e) < 0 && strstr(e->msg, "notify"), "notify: %s",
        e ? e->msg : "accepted");
  berth_err_free(&e);
  vm_buf_free(&b);
  spec_free(s);
}

void vm_unit_tests(void)
{
  test_frames();
  test_tagged_frames();
  test_process_records();
  test_records();
  test_options();
  test_qemu_argv();
  test_sizing();
}
