/* Digests as names: the syntax the rest of image/ trusts before a digest
 * becomes part of a path, and the sha256 of a short buffer (the names of
 * image and bundle records). Linked into berth itself too (static): the
 * one-shot hash goes through OpenSSL's SHA256_* functions, whose static
 * link is a few kB, where EVP would bring the provider machinery (~5 MB)
 * and read openssl.cnf on first use; streaming digests of blobs stay on
 * EVP (digest.c, berth-image only). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

#include "internal.h"

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
  static const char hex[] = "0123456789abcdef";
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, buf, n);
  SHA256_Final(md, &ctx);
  memcpy(out, "sha256:", 7);
  for (size_t i = 0; i < sizeof(md); i++) {
    out[7 + 2 * i] = hex[md[i] >> 4];
    out[7 + 2 * i + 1] = hex[md[i] & 0xf];
  }
  out[7 + 2 * sizeof(md)] = '\0';
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
