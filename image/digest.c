/* Streaming sha256 through OpenSSL's EVP interface, and the digest syntax
 * the rest of image/ trusts before a digest becomes part of a path. */
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

bool digest_valid(const char *s)
{
  if (strncmp(s, "sha256:", 7) != 0)
    return false;
  s += 7;
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return s[64] == '\0';
}

void digest_buf(const void *buf, size_t n, char out[DIGEST_MAX])
{
  struct digester *d = digester_new();
  digester_update(d, buf, n);
  digester_finish(d, out);
}

int digest_check_syntax(const char *what, const char *s, struct berth_err **err)
{
  if (digest_valid(s))
    return 0;
  const char *colon = strchr(s, ':');
  if (colon != NULL && strncmp(s, "sha256:", 7) != 0)
    return berth_err_set(err, 0, "%s %.80s: only sha256 digests are supported", what, s);
  return berth_err_set(err, 0, "%s \"%.80s\": not a digest (want sha256: and 64 lowercase hex)",
                       what, s);
}
