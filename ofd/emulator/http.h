/*
** ofd/emulator/http.h: kassa-operator's HTTP port, the emulated true-api
** of the permissive mode (DOMAIN §6) and a control endpoint for tests.
**
** Endpoints (127.0.0.1 only; JSON in, JSON out):
**   GET  /api/v4/true-api/cdn/info          -> {"code":0,"description":"ok",
**        "hosts":[{"host":"http://127.0.0.1:PORT"}, then every --cdn-host]}
**   GET  /api/v4/true-api/cdn/health/check  -> {"code":0,"description":"ok",
**        "avgTimeMs":N}
**   POST /api/v4/true-api/codes/check       header X-API-KEY, body
**        {"codes":["KM"],"fiscalDriveNumber":"FN"} -> {"code":0,
**        "description":"ok","reqId":UUID,"reqTimestamp":MS,"codes":[…]}
**        computed from the OISM registry (store.h); a wrong or missing key
**        is HTTP 401 {"code":401,"description":…}; a malformed body 400.
**   POST /api/v4/true-api/batch/upload     body = a remote shop's batch file
**        (docs/BATCH.md, ofd/batch.h) -> 200 {"code":0,…,"tickets":[…]}
**        with a ticket (84, base64) per notification; 400 malformed, 422
**        inconsistent or a bad notification sign, 404 unknown FN, 403 bad
**        batch signature: {"code","error","description"}, nothing applied
**        (oism.h). Up to 64 MiB; the other routes take 64 KiB.
**   POST /control/fault  {"mode":"drop|delay|garbage|dup-ack|refuse|none"}
**        sets the frame listeners' fault mode (a comma list is fine, as for
**        --fault); {"mode":"slow","ms":N} delays every codes/check answer
**        by N ms ("none" clears it too).
**   POST /control/health {"avgTimeMs":N} sets what health/check reports.
**   GET  /control/stats  -> {"checks":N,"health":N,"batches":N}: requests served.
*/
#ifndef KASSA_OFD_EMULATOR_HTTP_H
#define KASSA_OFD_EMULATOR_HTTP_H

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

typedef struct http_server http_server_t;

/* Starts the server on 127.0.0.1:port in its own threads. 0, or -1 (the
** reason went to stderr) with *out NULL. */
int http_start(const http_options_t *options, http_server_t **out);

/* Queues j (stolen) as the JSON answer with status; a body that cannot be
** made is answered 500 with a JSON error. For the routes in other files. */
enum MHD_Result http_send_json(struct MHD_Connection *conn, unsigned status, json_t *j);

/* Queues text (JSON already written; malloc'd, stolen; NULL answers 500). */
enum MHD_Result http_send_text(struct MHD_Connection *conn, unsigned status, char *text);

/* Stops the server and waits for its threads. NULL is fine. */
void http_stop(http_server_t *h);

#endif
