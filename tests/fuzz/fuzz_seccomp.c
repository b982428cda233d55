/* libFuzzer harness: the input is a linux.seccomp object, spliced into a
 * minimal valid config.json so that spec_parse reaches the translation
 * (libseccomp rules, BPF export). The program is checked as the kernel
 * would: jumps inside it, a return last. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/spec.h"
#include "../../seccomp/internal.h"
#include "fuzz.h"

static const char head[] = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                           "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
                           "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}],"
                           "\"seccomp\":";
static const char tail[] = "}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
  char *text = malloc(hl + size + tl + 1);
  if (text == NULL)
    return 0;
  memcpy(text, head, hl);
  memcpy(text + hl, data, size);
  memcpy(text + hl + size, tail, tl + 1);
  struct spec *s = NULL;
  struct berth_err *err = NULL;
  if (spec_parse(text, "/bundle", NULL, &s, &err) == 0) {
    REQUIRE(err == NULL);
    const struct seccomp_filter *f = s->seccomp;
    if (f != NULL) {
      REQUIRE(f->prog.len > 0 && f->prog.len <= BPF_MAXINSNS && f->prog.filter);
      /* What the kernel's classic BPF checker insists on: jumps stay
       * inside the program, the last instruction returns. */
      for (unsigned i = 0; i < f->prog.len; i++) {
        const struct sock_filter *in = &f->prog.filter[i];
        if (BPF_CLASS(in->code) != BPF_JMP)
          continue;
        if (BPF_OP(in->code) == BPF_JA)
          REQUIRE(in->k < f->prog.len - i - 1);
        else
          REQUIRE(in->jt < f->prog.len - i - 1 && in->jf < f->prog.len - i - 1);
      }
      REQUIRE(BPF_CLASS(f->prog.filter[f->prog.len - 1].code) == BPF_RET);
    }
    spec_free(s);
  } else {
    REQUIRE(s == NULL && err != NULL && err->msg[0] != '\0');
    berth_err_free(&err);
  }
  free(text);
  REQUIRE(fuzz_seccomp_ctxs == 0);
  return 0;
}
