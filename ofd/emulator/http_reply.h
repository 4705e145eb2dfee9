/*
** ofd/emulator/http_reply.h: what a route of kassa-operator's HTTP port
** gets and how it answers: the server's options (the store and its lock,
** the API key, the true-api hosts) and the JSON answer helpers.
**
** The routes live in several files (http.c for true-api and control,
** registry.c for the local module's feed); they share this header rather
** than the server's, so the server may include every route and no route
** includes the server.
*/
#ifndef KASSA_OFD_EMULATOR_HTTP_REPLY_H
#define KASSA_OFD_EMULATOR_HTTP_REPLY_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>

#include "ofd/emulator/store.h"

#define HTTP_DEFAULT_API_KEY   "demo-key"
#define HTTP_DEFAULT_HEALTH_MS 20u
#define HTTP_MAX_CDN_HOSTS     8

typedef struct http_options {
  unsigned port;
  const char *api_key;    /* the X-API-KEY codes/check wants (borrowed) */
  const char *client_inn; /* the participant the key is for: isOwner; NULL none */
  const char *cdn_hosts[HTTP_MAX_CDN_HOSTS]; /* extra hosts for cdn/info (borrowed) */
  size_t cdn_host_count;
  unsigned health_ms; /* avgTimeMs that health/check reports at start */
  store_t *store;     /* borrowed; used only under *lock */
  pthread_mutex_t *lock;
  /* Sets the frame listeners' fault mask from a mode list ("none" clears);
  ** 0, or -1 when a mode is unknown. Called from HTTP threads. */
  int (*set_faults)(void *user, const char *modes);
  void *user;
} http_options_t;

/* Queues j (stolen) as the JSON answer with status; a body that cannot be
** made is answered 500 with a JSON error. For the routes in other files. */
enum MHD_Result http_send_json(struct MHD_Connection *conn, unsigned status, json_t *j);

/* Queues text (JSON already written; malloc'd, stolen; NULL answers 500). */
enum MHD_Result http_send_text(struct MHD_Connection *conn, unsigned status, char *text);

#endif /* KASSA_OFD_EMULATOR_HTTP_REPLY_H */
