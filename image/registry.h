/* The registry source's own interface: the knobs its users turn (progress
 * for the CLI, timeouts for tests) and the pure parts of authentication
 * (registry_auth.c), kept apart from HTTP so tests reach them directly.
 * Nothing outside image/ (and its tests) includes this. */
#ifndef BERTH_IMAGE_REGISTRY_H
#define BERTH_IMAGE_REGISTRY_H

#include <stdint.h>

#include "internal.h"

/* Called as blob bytes arrive: done counts from the blob's start (a resumed
 * download starts at its offset), total is the descriptor's size. */
typedef void (*registry_progress_fn)(void *arg, const char *digest, int64_t done, int64_t total);

/* Both return -1 when s is not a registry source. */
int registry_set_progress(struct image_source *s, registry_progress_fn fn, void *arg);
/* Seconds to connect, and without any data before a transfer is abandoned
 * as stalled (defaults REGISTRY_CONNECT_TIMEOUT, REGISTRY_STALL_TIMEOUT). */
int registry_set_timeouts(struct image_source *s, long connect_s, long stall_s);

#define REGISTRY_CONNECT_TIMEOUT 30
#define REGISTRY_STALL_TIMEOUT 60

/* ---- registry_auth.c ---- */

/* A WWW-Authenticate challenge: `Bearer realm="...",service="...",
 * scope="..."` or `Basic realm="..."`. */
struct auth_challenge {
  char scheme[16]; /* "Bearer" or "Basic" */
  char realm[1024];
  char service[256];
  char scope[512];
};
int auth_challenge_parse(const char *header, struct auth_challenge *c, struct berth_err **err);

/* "USER:PASS" for registry host (and repo, for keys naming a namespace)
 * from a containers-auth.json / docker config.json:
 * {"auths":{"HOST[/NAMESPACE]":{"auth":"base64(USER:PASS)"}}}. The most
 * specific key wins; "https://" prefixes and docker.io's aliases are
 * understood. *creds stays NULL when no key matches. */
int authfile_lookup(const char *path, const char *host, const char *repo, char **creds,
                    struct berth_err **err);

/* Without --creds or --authfile, the files skopeo and podman read, in
 * their order, until one names the registry: $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json (/run/containers/UID/auth.json
 * without it), ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json,
 * ${DOCKER_CONFIG:-~/.docker}/config.json. Missing files are skipped,
 * and so are entries without "auth" (a docker credsStore's); a file that
 * is not JSON is an error naming it. */
int authfile_default_lookup(const char *host, const char *repo, char **creds,
                            struct berth_err **err);

/* The "token" (or "access_token") of a token server's JSON answer. */
int auth_token_parse(const char *body, char **token, struct berth_err **err);

#endif
