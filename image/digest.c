/* Streaming sha256 through OpenSSL's EVP interface: blobs as they are
 * fetched, layers as they are unpacked (digest names: digest_text.c). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

struct digester {
  EVP_MD_CTX *ctx;
};

struct digester *digester_new(void)
{
  struct digester *d = calloc(1, sizeof(*d));
  if (d == NULL)
    abort();
  d->ctx = EVP_MD_CTX_new();
  /* Only allocation can fail here: there is no recovery from that. */
  if (d->ctx == NULL || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
    abort();
  return d;
}

void digester_update(struct digester *d, const void *buf, size_t n)
{
  if (n > 0 && EVP_DigestUpdate(d->ctx, buf, n) != 1)
    abort();
}

void digester_finish(struct digester *d, char out[DIGEST_MAX])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n != 32)
    abort();
  memcpy(out, "sha256:", 7);
  for (unsigned int i = 0; i < n; i++) {
    out[7 + 2 * i] = hex[md[i] >> 4];
    out[7 + 2 * i + 1] = hex[md[i] & 0xf];
  }
  out[7 + 2 * n] = '\0';
  EVP_MD_CTX_free(d->ctx);
  free(d);
}
