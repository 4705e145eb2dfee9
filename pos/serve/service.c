/*
** service.c: the two libmicrohttpd daemons of `kassa serve` and the one
** mutex that puts their requests in a line for the till (see service.h).
**
** libmicrohttpd calls on_request several times per request: first with
** the headers only, then with pieces of the body, then once more with
** nothing, when the answer is due. The body is collected up to the route's
** limit; past it the rest is read and dropped (answering before the client
** has sent its body would make many clients see a reset instead of the
** 413). Then the headers the API needs are copied into an api_request_t,
** the mutex is taken, the API answers, the mutex is released and the
** response is queued (a page, pos/serve/api.h, with its own Content-Type and the
** pages' security headers). A request counts as "in flight" from its first call
** until libmicrohttpd reports it completed (its answer sent), which is
** what service_stop() waits for.
*/
#include "pos/serve/service.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buffer.h"
#include "common/codec.h"
#include "pos/serve/api.h"
#include "pos/serve/background.h"

/* Which daemon a callback belongs to. */
typedef struct listener {
  struct service *service;
  bool lm;
} listener_t;

struct service {
  till_t *till;
  api_t *api;
  background_t *bg;     /* NULL: [service] background = no */
  pthread_mutex_t lock; /* one request at a time reaches the till */
  bool lock_ready;
  struct MHD_Daemon *http, *lm;
  uint16_t http_port, lm_port;
  FILE *log;
  atomic_int in_flight;
  listener_t http_listener, lm_listener;
};

/* One request being read: its body, up to the route's limit. */
typedef buffer_t request_t;

static int64_t ms_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, const api_response_t *rs)
{
  static const char fallback[] = "{\"ok\":false,\"error\":\"till\",\"message_ru\":\"Внутренняя "
                                 "ошибка кассы.\",\"message_en\":\"The till failed internally.\"}";
  const char *body = rs->body ? rs->body : fallback;
  size_t len = rs->body ? rs->body_len : strlen(fallback);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret;
  char retry[16];
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type",
                          rs->body && rs->content_type ? rs->content_type
                                                       : "application/json; charset=utf-8");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  if (rs->page) {
    /* The pages run only their own files: no inline script, no other
    ** origin, no framing (clickjacking), pictures also from data: URLs
    ** (the QR and the labels come as base64 inside the API's JSON). */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  }
  if (rs->allow) MHD_add_response_header(r, "Allow", rs->allow);
  if (rs->retry_after) {
    snprintf(retry, sizeof retry, "%u", rs->retry_after);
    MHD_add_response_header(r, "Retry-After", retry);
  }
  if (rs->authenticate) MHD_add_response_header(r, "WWW-Authenticate", rs->authenticate);
  ret = MHD_queue_response(conn, rs->body ? rs->status : 500, r);
  MHD_destroy_response(r);
  return ret;
}

/* The path without its query string, into buf. */
static const char *plain_path(const char *url, char *buf, size_t size)
{
  size_t n = strcspn(url, "?");
  if (n >= size) n = size - 1;
  memcpy(buf, url, n);
  buf[n] = '\0';
  return buf;
}

/* api_request_t's query lookup: one argument of the connection's URL. */
static const char *query_argument(void *user, const char *name)
{
  return MHD_lookup_connection_value(user, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
  listener_t *l = cls;
  service_t *s = l->service;
  request_t *q = *state;
  api_request_t rq;
  api_response_t rs;
  char path[512];
  char *user = NULL, *password = NULL;
  enum MHD_Result ret;
  (void)version;

  if (!q) { /* headers only */
    if (!(q = calloc(1, sizeof *q))) return MHD_NO;
    *state = q;
    atomic_fetch_add(&s->in_flight, 1);
    q->limit = l->lm ? API_BODY_MAX : api_body_limit(method, plain_path(url, path, sizeof path));
    const char *length = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && strtoull(length, NULL, 10) > q->limit) q->over = true;
    return MHD_YES;
  }
  if (*upload_size) {
    if (buffer_append(q, upload, *upload_size) != 0) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }

  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.method = method;
  rq.path = plain_path(url, path, sizeof path);
  rq.query_width = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "width");
  rq.query = query_argument;
  rq.query_user = conn;
  rq.idempotency_key = header(conn, "Idempotency-Key");
  rq.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
  rq.body = q->data;
  rq.body_len = q->len;
  rq.host = header(conn, MHD_HTTP_HEADER_HOST);
  rq.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
  rq.port = l->lm ? s->lm_port : s->http_port;
  if (l->lm) {
    user = MHD_basic_auth_get_username_password(conn, &password);
    rq.basic_user = user;
    rq.basic_password = password;
    rq.client_id = header(conn, "X-ClientId");
  } else {
    rq.manager_pin = header(conn, "X-Manager-PIN");
  }
  int64_t started = ms_now();
  if (q->over) {
    api_too_large(l->lm, q->limit, &rs);
  } else {
    pthread_mutex_lock(&s->lock);
    if (l->lm)
      api_handle_lm(s->api, &rq, &rs);
    else
      api_handle(s->api, &rq, &rs);
    pthread_mutex_unlock(&s->lock);
    /* A request that changed something may have made a document or a
    ** notification: the sender takes it now, outside the till's lock. */
    if (strcmp(method, "GET") != 0 && rs.status < 400) background_wake(s->bg);
  }
  if (password) {
    /* The password is a secret: wipe it before it goes back to the heap. */
    memset(password, 0, strlen(password));
    MHD_free(password);
  }
  if (user) MHD_free(user);
  if (s->log && rs.status >= 400) {
    /* Never a header or a body: only what happened. */
    fprintf(s->log, "kassa serve: %s %s %s -> %u %s (%lld ms)\n", l->lm ? "lm" : "api", method,
            path, rs.status, rs.error ? rs.error : "", (long long)(ms_now() - started));
    fflush(s->log);
  }
  ret = send_response(conn, &rs);
  api_response_free(&rs);
  return ret;
}

/* Undoes the %HH escapes of a path or a query value as libmicrohttpd's own
** unescaper does, except %00: a NUL would cut the C string the routes see
** ("/index.html%00.css" would read as "/index.html"), so that escape stays
** as written and the routes refuse it like any other odd character. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
  char *out = s;
  int hi, lo;
  (void)cls, (void)conn;
  for (const char *in = s; *in;) {
    if (in[0] == '%' && (hi = codec_hex_digit(in[1])) >= 0 && (lo = codec_hex_digit(in[2])) >= 0 &&
        (hi | lo) != 0) {
      *out++ = (char)(hi * 16 + lo);
      in += 3;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
  return (size_t)(out - s);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why)
{
  listener_t *l = cls;
  request_t *q = *state;
  (void)conn, (void)why;
  if (q) {
    buffer_free(q);
    free(q);
    atomic_fetch_sub(&l->service->in_flight, 1);
  }
  *state = NULL;
}

static struct MHD_Daemon *start_daemon(listener_t *l, uint16_t port, uint16_t *bound)
{
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by contract */
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, port, NULL, NULL, on_request,
      l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
      MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
  if (!d) return NULL;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  *bound = info ? info->port : port;
  return d;
}

/* The API's view of the background work (api_background_t). */
static json_t *background_json(void *user) { return background_status_json(user); }

int service_start(const service_options_t *o, service_t **out, char *err, size_t err_size)
{
  service_t *s = NULL;
  if (out) *out = NULL;
  if (!o || !o->config || !out || !err || err_size == 0) return -1;
  err[0] = '\0';
  if (!(s = calloc(1, sizeof *s))) {
    snprintf(err, err_size, "Недостаточно памяти. / Out of memory.");
    return -1;
  }
  atomic_init(&s->in_flight, 0);
  s->log = o->log;
  till_options_t to = {.config = o->config, .clock = o->clock, .clock_user = o->clock_user};
  if (till_open(&to, &s->till, err, err_size) != 0) goto fail;
  if (background_start(o->config, &s->bg, err, err_size) != 0) goto fail;
  api_options_t ao = {
      .till = s->till, .background = s->bg ? background_json : NULL, .background_user = s->bg};
  if (api_create(&ao, &s->api) != 0) {
    snprintf(err, err_size, "Недостаточно памяти. / Out of memory.");
    goto fail;
  }
  if (pthread_mutex_init(&s->lock, NULL) != 0) {
    snprintf(err, err_size, "Не удалось создать блокировку. / Cannot create the lock.");
    goto fail;
  }
  s->lock_ready = true;
  s->http_listener = (listener_t){.service = s, .lm = false};
  s->lm_listener = (listener_t){.service = s, .lm = true};
  if (!(s->http = start_daemon(&s->http_listener, o->http_port, &s->http_port))) {
    snprintf(err, err_size,
             "Не удалось слушать 127.0.0.1:%u (API): порт занят? / Cannot listen on "
             "127.0.0.1:%u (API): is the port taken?",
             o->http_port, o->http_port);
    goto fail;
  }
  if (!(s->lm = start_daemon(&s->lm_listener, o->lm_port, &s->lm_port))) {
    snprintf(err, err_size,
             "Не удалось слушать 127.0.0.1:%u (локальный модуль): порт занят? / Cannot listen "
             "on 127.0.0.1:%u (local module): is the port taken?",
             o->lm_port, o->lm_port);
    goto fail;
  }
  *out = s;
  return 0;
fail:
  service_stop(s);
  return -1;
}

uint16_t service_http_port(const service_t *s) { return s ? s->http_port : 0; }
uint16_t service_lm_port(const service_t *s) { return s ? s->lm_port : 0; }

void service_stop(service_t *s)
{
  if (!s) return;
  /* No new connections; what is in flight finishes and its answer leaves. */
  if (s->http) MHD_quiesce_daemon(s->http);
  if (s->lm) MHD_quiesce_daemon(s->lm);
  for (int64_t end = ms_now() + SERVICE_DRAIN_MS;
       atomic_load(&s->in_flight) > 0 && ms_now() < end;) {
    struct timespec nap = {0, 10 * 1000000L};
    nanosleep(&nap, NULL);
  }
  if (s->http) MHD_stop_daemon(s->http);
  if (s->lm) MHD_stop_daemon(s->lm);
  background_stop(s->bg); /* before the till: nothing of it is shared, but in order */
  if (s->lock_ready) pthread_mutex_destroy(&s->lock);
  api_destroy(s->api);
  till_close(s->till);
  free(s);
}
