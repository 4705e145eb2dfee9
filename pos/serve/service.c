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
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/buffer.h"
#include "common/codec.h"
#include "common/conn_guard.h"
#include "common/text.h"
#include "pos/serve/api.h"
#include "pos/serve/background.h"
#include "pos/till/fsck.h"
#include "pos/till/state.h"

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
  buffer_budget_t bodies; /* body bytes buffered now, every request together */
  /* log_refusal's budget, shared by both polling threads (a race at the
  ** turn of a second lets a line more or less through, nothing worse) */
  atomic_llong log_second;  /* the second lines are counted in (ms / 1000) */
  atomic_uint log_lines;    /* lines in that second */
  atomic_ulong log_dropped; /* lines left out since the last one written */
  conn_guard_t *guard;      /* the whole-request deadline (common/conn_guard.h) */
  listener_t http_listener, lm_listener;
};

/* One request being read: its body, up to the route's limit. */
typedef struct request {
  buffer_t body; /* within service.bodies (SERVICE_BODY_BUDGET) */
} request_t;

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

/* The connection's deadline slot (common/conn_guard.h), or NULL. */
static conn_guard_slot_t *slot_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

/* The HTTP Basic credentials of an LM request, wiped and freed. */
typedef struct credentials {
  char *user, *password;
} credentials_t;

static void credentials_free(credentials_t *c)
{
  if (c->password) {
    /* The password is a secret: wipe it before it goes back to the heap. */
    memset(c->password, 0, strlen(c->password));
    MHD_free(c->password);
  }
  if (c->user) MHD_free(c->user);
  c->user = c->password = NULL;
}

/* api_request_t's query lookup: one argument of the connection's URL. */
static const char *query_argument(void *user, const char *name)
{
  return MHD_lookup_connection_value(user, MHD_GET_ARGUMENT_KIND, name);
}

/* What the API needs from a request's head, into rq (strings borrowed
** from the connection, from path and addr, and from cred, which the caller
** frees). */
static void read_head(const listener_t *l, struct MHD_Connection *conn, const char *method,
                      const char *path, char *addr, size_t addr_size, credentials_t *cred,
                      api_request_t *rq)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  memset(rq, 0, sizeof *rq);
  addr[0] = '\0';
  if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
              (socklen_t)addr_size);
  rq->source = addr;
  rq->method = method;
  rq->path = path;
  rq->query_width = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "width");
  rq->query = query_argument;
  rq->query_user = conn;
  rq->idempotency_key = header(conn, "Idempotency-Key");
  rq->authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
  rq->host = header(conn, MHD_HTTP_HEADER_HOST);
  rq->content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
  rq->port = l->lm ? l->service->lm_port : l->service->http_port;
  if (l->lm) {
    cred->user = MHD_basic_auth_get_username_password(conn, &cred->password);
    rq->basic_user = cred->user;
    rq->basic_password = cred->password;
    rq->client_id = header(conn, "X-ClientId");
  } else {
    rq->manager_pin = header(conn, "X-Manager-PIN");
  }
}

/* One line for a refused or failed request: never a header or a body. The
** path is the client's text, so it goes out escaped (text_log_escape). */
static void log_refusal(service_t *s, bool lm, const char *method, const char *path,
                        const api_response_t *rs, int64_t started)
{
  char safe_method[64], safe_path[1600];
  int64_t now = ms_now();
  if (!s->log || rs->status < 400) return;
  /* At most SERVICE_LOG_PER_S lines a second: a flood of refusals must not
  ** fill the disk nor, with a slow reader, block the polling thread. */
  if (now / 1000 != atomic_exchange(&s->log_second, now / 1000)) atomic_store(&s->log_lines, 0);
  if (atomic_fetch_add(&s->log_lines, 1) >= SERVICE_LOG_PER_S) {
    atomic_fetch_add(&s->log_dropped, 1);
    return;
  }
  unsigned long dropped = atomic_exchange(&s->log_dropped, 0);
  if (dropped)
    fprintf(s->log, "kassa serve: %lu refusals not logged (over %u a second)\n", dropped,
            (unsigned)SERVICE_LOG_PER_S);
  text_log_escape(method, safe_method, sizeof safe_method);
  text_log_escape(path, safe_path, sizeof safe_path);
  fprintf(s->log, "kassa serve: %s %s %s -> %u %s (%lld ms)\n", lm ? "lm" : "api", safe_method,
          safe_path, rs->status, rs->error ? rs->error : "", (long long)(now - started));
  fflush(s->log);
}

/* The 503 of a request dropped because the bodies buffered by every
** request together reached SERVICE_BODY_BUDGET. */
static void busy(bool lm, api_response_t *rs)
{
  rs->retry_after = 1;
  rs->error = "busy";
  if (lm)
    api_send_json(rs, 503,
                  json_pack("{s:i,s:s}", "errorCode", 503, "errorMessage",
                            "The till is busy reading other requests: try again."));
  else
    api_send_json(rs, 503,
                  json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "error", "busy", "message_ru",
                            "Касса занята приёмом других запросов: повторите.", "message_en",
                            "The till is busy reading other requests: try again."));
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
  char path[512], addr[64];
  credentials_t cred = {0};
  enum MHD_Result ret;
  int64_t started = ms_now();
  (void)version;

  plain_path(url, path, sizeof path);
  if (!q) { /* headers only: the gates run now, before any byte of a body is read */
    if (!(q = calloc(1, sizeof *q))) return MHD_NO;
    *state = q;
    atomic_fetch_add(&s->in_flight, 1);
    q->body.limit = l->lm ? API_BODY_MAX : api_body_limit(method, path);
    q->body.budget = &s->bodies;
    const char *length = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long announced = length ? strtoull(length, NULL, 10) : 0;
    if (announced > q->body.limit) q->body.over = true;
    /* A body of known length is admitted whole or refused now, unread. */
    else if (announced && buffer_reserve(&q->body, (size_t)announced) != 0)
      q->body.busy = true;
    read_head(l, conn, method, path, addr, sizeof addr, &cred, &rq);
    pthread_mutex_lock(&s->lock);
    int gate = l->lm ? api_gate_lm(s->api, &rq, &rs) : api_gate(s->api, &rq, &rs);
    pthread_mutex_unlock(&s->lock);
    credentials_free(&cred);
    if (gate == 0 && q->body.busy) busy(l->lm, &rs);
    if (gate == 0 && !q->body.busy) return MHD_YES;
    /* Refused on its head: answered now; whatever body follows is never
    ** read (libmicrohttpd closes the connection after the answer). */
    conn_guard_disarm(s->guard, slot_of(conn));
    log_refusal(s, l->lm, method, path, &rs, started);
    ret = send_response(conn, &rs);
    api_response_free(&rs);
    return ret;
  }
  if (*upload_size) {
    if (buffer_append(&q->body, upload, *upload_size) != 0) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }

  conn_guard_disarm(s->guard, slot_of(conn)); /* read whole: the clock stops */
  read_head(l, conn, method, path, addr, sizeof addr, &cred, &rq);
  rq.body = q->body.data;
  rq.body_len = q->body.len;
  memset(&rs, 0, sizeof rs);
  if (q->body.over) {
    api_too_large(l->lm, q->body.limit, &rs);
  } else if (q->body.busy) {
    busy(l->lm, &rs);
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
  credentials_free(&cred);
  log_refusal(s, l->lm, method, path, &rs, started);
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
  (void)why;
  if (q) {
    bool large = q->body.cap > 1024 * 1024;
    buffer_free(&q->body); /* gives its bytes back to service.bodies */
    /* The heap pieces a large body grew through (4 KiB ... 128 KiB) go
    ** back to the system too, not only its mapping. */
    if (large) malloc_trim(0);
    free(q);
    atomic_fetch_sub(&l->service->in_flight, 1);
  }
  *state = NULL;
  /* The answer went out: a kept-alive connection's next request has its
  ** own deadline. */
  conn_guard_arm(l->service->guard, slot_of(conn));
}

/* The deadline's bookkeeping: a slot from accept to close (the slot leaves
** the guard before libmicrohttpd closes the socket). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode what)
{
  listener_t *l = cls;
  if (what == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = ci ? conn_guard_open(l->service->guard, ci->connect_fd) : NULL;
  } else if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_guard_close(l->service->guard, *socket_context);
    *socket_context = NULL;
  }
}

/* Connections one daemon takes: SERVICE_CONNECTIONS_MAX, or fewer when
** the process may not open that many files (the soft limit is first raised
** to the hard one), keeping 64 for the databases, logs and the other port. */
static unsigned connection_cap(void)
{
  struct rlimit r;
  unsigned cap = SERVICE_CONNECTIONS_MAX;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 64;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < 2u * cap + 64)
    cap = r.rlim_cur > 192 ? (unsigned)(r.rlim_cur - 64) / 2 : 64;
  return cap;
}

/*
** One daemon: its own polling thread (epoll, so a thousand idle sockets
** cost nothing per request), loopback only; at most `cap` connections in
** all and three quarters of them from one address (past either the
** connection is closed at accept, before a byte is read); an idle timeout
** of SERVICE_IDLE_S, and the guard's deadline for a whole request.
*/
static struct MHD_Daemon *start_daemon(listener_t *l, uint16_t port, unsigned cap, uint16_t *bound)
{
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by contract */
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, port, NULL, NULL, on_request,
      l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, l, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVICE_IDLE_S, MHD_OPTION_CONNECTION_LIMIT, cap,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, cap * 3 / 4, MHD_OPTION_LISTEN_BACKLOG_SIZE, cap,
      MHD_OPTION_END);
  if (!d) return NULL;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  *bound = info ? info->port : port;
  return d;
}

/*
** The archive's tail before the first sale (issue 18): the last
** SERVICE_TAIL_DOCUMENTS documents present, numbered and signed as they
** should be (fsck_archive_tail). A damaged archive refuses the start with
** what is wrong and what to do: selling on it would extend a chain the tax
** service will reject. 0, or -1 with err filled.
*/
static int check_archive(till_t *till, const char *data_dir, char *err, size_t err_size)
{
  char path[KASSA_PATH_MAX + 16], what[300];
  snprintf(path, sizeof path, "%s/fn.db", data_dir);
  if (fsck_archive_tail(till_fn(till), path, SERVICE_TAIL_DOCUMENTS, what, sizeof what) == 0)
    return 0;
  snprintf(err, err_size,
           "архив ФН повреждён (%s): продажи невозможны, запустите `kassa fsck` и обратитесь в "
           "поддержку / the FN archive is damaged (%s): no sales; run `kassa fsck` and call "
           "support",
           what, what);
  return -1;
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
  atomic_init(&s->bodies.used, 0);
  s->bodies.max = SERVICE_BODY_BUDGET;
  s->log = o->log;
  till_options_t to = {.config = o->config, .clock = o->clock, .clock_user = o->clock_user};
  if (till_open(&to, &s->till, err, err_size) != 0) goto fail;
  if (check_archive(s->till, o->config->data_dir, err, err_size) != 0) goto fail;
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
  /* Bodies past 128 KiB get their own mappings, returned to the system
  ** when freed: a burst of large requests leaves no heap behind (glibc
  ** would otherwise raise the threshold to the largest body freed). */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  if (conn_guard_start(SERVICE_REQUEST_DEADLINE_MS, &s->guard) != 0) {
    snprintf(err, err_size, "Недостаточно памяти. / Out of memory.");
    goto fail;
  }
  unsigned cap = connection_cap();
  if (!(s->http = start_daemon(&s->http_listener, o->http_port, cap, &s->http_port))) {
    snprintf(err, err_size,
             "Не удалось слушать 127.0.0.1:%u (API): порт занят? / Cannot listen on "
             "127.0.0.1:%u (API): is the port taken?",
             o->http_port, o->http_port);
    goto fail;
  }
  if (!(s->lm = start_daemon(&s->lm_listener, o->lm_port, cap, &s->lm_port))) {
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
  conn_guard_stop(s->guard); /* after the daemons: they close their slots */
  background_stop(s->bg);    /* before the till: nothing of it is shared, but in order */
  if (s->lock_ready) pthread_mutex_destroy(&s->lock);
  api_destroy(s->api);
  till_close(s->till);
  free(s);
}
