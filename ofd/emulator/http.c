/*
** ofd/emulator/http.c: the emulated true-api (see http.h for the routes).
**
** Why it exists: in permissive mode the till asks the operator, before
** each sale of a marked good, whether the code may be sold, and it must
** never wait more than about 1.5 s for the answer. What makes that hard is
** not the happy path but the hosts: the till ranks them by their health
** check, skips one that failed for 15 minutes, and carries on within its
** budget. So this server answers from the same OISM registry the frame
** ports use (codes issued, sold, blocked, priced by `kassa-operator`
** subcommands or by sale notifications), and it can be told at run time
** to be slow, or to report a given health time, while a test that wants a
** dead host simply advertises a port nobody listens on (--cdn-host).
**
** The fields of codes/check are derived, never stored: valid = the code
** has the shape of a GS1 marking code (01 GTIN with its check digit, 21
** serial of 6, 7, 13 or 20 characters, a 92 or 93 verification part);
** found = its KI is in the registry; utilised = applied (status past
** "emitted"); verified = the tail recomputed with the operator's keys
** matches (admin_tail_verify); realizable = in circulation or returned;
** isBlocked = the code or its GTIN is blocked; sold = status sold;
** expireDate for groups with a shelf life; mrp/smp when priced; isOwner =
** the code's owner INN equals --client-inn. groupIds use the true-api
** product group numbers ([open] where the public list is unclear).
**
** A test can also script the answer for one code (/control/answer): the
** fields CRPT's permissive-mode test plan describes for a case (grey zone,
** a block's unit count, a group-16 minimum price, a blocked or expired
** code), an answer held back 1 800 ms or 5 s, or the emergency status 203.
** A script overrides fields of an element that is otherwise derived as
** above, so the answer keeps true-api's shape; it never relaxes the key
** check or the body checks.
**
** libmicrohttpd runs one thread per connection, so a slow codes/check
** never holds up a health check; the registry is read under the server's
** store mutex, as the frame ports do.
*/
#define _GNU_SOURCE
#include "ofd/emulator/http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/buffer.h"
#include "common/conn_guard.h"
#include "ofd/batch.h"
#include "ofd/emulator/admin.h"
#include "ofd/emulator/oism.h"
#include "ofd/emulator/registry.h"

#define BODY_MAX    65536
#define CODES_MAX   100
#define HOST_MAX    256
#define SLOW_MAX_MS 60000
#define GS          '\x1d'
#define SCRIPTS_MAX 64
/* Hostile clients (issue 18): a request's head and body within
** REQUEST_DEADLINE_MS of its connection's accept (or of its previous
** answer), at most CONNECTIONS_MAX connections (a thread each), three
** quarters of them from one address; the excess is closed at accept. */
#define REQUEST_DEADLINE_MS 30000
#define CONNECTIONS_MAX     256
#define BODIES_MAX          (128u * 1024u * 1024u) /* 503 beyond */

/* A scripted answer for one code (/control/answer). */
typedef struct script {
  char *cis; /* the code as sent, GS as 0x1D */
  size_t cis_len;
  json_t *fields; /* overrides for the code's element */
  int delay_ms;
  unsigned status; /* 200 or 203 */
} script_t;

struct http_server {
  http_options_t o;
  struct MHD_Daemon *daemon;
  char self[HOST_MAX];
  atomic_int slow_ms;
  atomic_int health_ms;
  atomic_int checks, health_checks, batches;
  atomic_int stopping;
  pthread_mutex_t scripts_lock;
  script_t scripts[SCRIPTS_MAX];
  size_t script_count;
  conn_guard_t *guard;    /* a whole request's deadline (common/conn_guard.h) */
  buffer_budget_t bodies; /* every body being read together: BODIES_MAX */
};

/* One request's body: BODY_MAX, a batch upload may be larger. */
typedef buffer_t request_t;

/* true-api product groups by our group names. */
static const struct {
  const char *name;
  int id;
} group_ids[] = {
    {"lp", 1},     {"footwear", 2},     {"tobacco", 3},     {"perfume", 4},      {"tyres", 5},
    {"pharma", 7}, {"dairy", 8},        {"bicycles", 9},    {"wheelchairs", 10}, {"water", 13},
    {"beer", 15},  {"supplements", 17}, {"antiseptic", 19}, {"photo", 6}, /* [open] */
    {"otp", 12},   {"nicotine", 16},
};

static int group_id(const char *name)
{
  for (size_t i = 0; i < sizeof group_ids / sizeof group_ids[0]; i++) {
    if (strcmp(group_ids[i].name, name) == 0) return group_ids[i].id;
  }
  return 0;
}

/* FFD UNIXTIME: local wall time written as if UTC (as operator.c dates). */
static uint32_t ffd_time(void)
{
  time_t t = time(NULL);
  struct tm tm;
  if (!localtime_r(&t, &tm)) return (uint32_t)t;
  return (uint32_t)((int64_t)t + tm.tm_gmtoff);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms, waking early when the server stops. */
static void nap(http_server_t *h, int ms)
{
  while (ms > 0 && !atomic_load(&h->stopping)) {
    int step = ms < 50 ? ms : 50;
    struct timespec ts = {0, (long)step * 1000000L};
    nanosleep(&ts, NULL);
    ms -= step;
  }
}

/* A random (version 4) UUID. */
static void uuid_make(char out[37])
{
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) memset(r, 0x5a, sizeof r);
  r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
  r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
           r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
           r[15]);
}

static bool digits(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
  }
  return true;
}

/* The shape of a GS1 marking code: 01 GTIN(14, check digit) 21 serial
** (6, 7, 13 or 20 characters up to the first GS), then a 92 or 93 field. */
static bool code_valid(const char *km, size_t len)
{
  const char *gs = memchr(km, GS, len), *p;
  size_t ki_len = gs ? (size_t)(gs - km) : len, serial;
  unsigned sum = 0;
  bool tail = false;
  if (ki_len < 18 + 6 || strncmp(km, "01", 2) != 0 || !digits(km + 2, 14) ||
      strncmp(km + 16, "21", 2) != 0)
    return false;
  for (size_t i = 0; i < 13; i++) sum += (unsigned)(km[2 + i] - '0') * (i % 2 == 0 ? 3u : 1u);
  if ((10 - sum % 10) % 10 != (unsigned)(km[15] - '0')) return false;
  serial = ki_len - 18;
  if (serial != 6 && serial != 7 && serial != 13 && serial != 20) return false;
  for (p = gs; p && p < km + len; p = memchr(p + 1, GS, (size_t)(km + len - p - 1))) {
    size_t left = (size_t)(km + len - p - 1);
    if (left > 2 && (strncmp(p + 1, "92", 2) == 0 || strncmp(p + 1, "93", 2) == 0)) tail = true;
  }
  return tail;
}

static void iso_time(uint32_t t, char out[32])
{
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm)) {
    snprintf(out, 32, "1970-01-01T00:00:00.000Z");
    return;
  }
  strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* One element of codes[]; NULL when out of memory or the store failed. */
static json_t *code_answer(http_server_t *h, const char *km, size_t len)
{
  char ki[STORE_KI_MAX + 1], expire[32];
  store_code_t c;
  bool valid = code_valid(km, len), found = false, verified = false;
  int rc = STORE_NOT_FOUND;
  json_t *o, *groups;

  memset(&c, 0, sizeof c);
  pthread_mutex_lock(h->o.lock);
  if (admin_ki(km, len, ki, sizeof ki)) rc = store_code_get(h->o.store, ki, &c);
  if (rc == 0 && admin_tail_verify(h->o.store, km, len, &verified) != 0) rc = STORE_ERR;
  pthread_mutex_unlock(h->o.lock);
  if (rc != 0 && rc != STORE_NOT_FOUND) return NULL;
  found = rc == 0;
  o = json_object();
  groups = json_array();
  if (!o || !groups) {
    json_decref(o);
    json_decref(groups);
    return NULL;
  }
  if (found && group_id(c.group) > 0)
    json_array_append_new(groups, json_integer(group_id(c.group)));
  json_object_set_new(o, "cis", found ? json_string(c.ki) : json_stringn(km, len));
  json_object_set_new(o, "valid", json_boolean(valid));
  json_object_set_new(o, "printView", found ? json_string(c.ki) : json_stringn(km, len));
  if (found) json_object_set_new(o, "gtin", json_string(c.gtin));
  json_object_set_new(o, "groupIds", groups);
  json_object_set_new(o, "verified", json_boolean(found && verified));
  json_object_set_new(o, "found", json_boolean(found));
  json_object_set_new(o, "realizable",
                      json_boolean(found && (strcmp(c.status, "in_circulation") == 0 ||
                                             strcmp(c.status, "returned") == 0)));
  json_object_set_new(o, "utilised", json_boolean(found && strcmp(c.status, "emitted") != 0));
  json_object_set_new(o, "isBlocked", json_boolean(found && (c.blocked_code || c.blocked_gtin)));
  json_object_set_new(o, "ogvs", json_array());
  json_object_set_new(o, "isOwner",
                      json_boolean(found && c.owner_inn[0] && h->o.client_inn &&
                                   strcmp(c.owner_inn, h->o.client_inn) == 0));
  if (found && c.expiry) {
    iso_time(c.expiry, expire);
    json_object_set_new(o, "expireDate", json_string(expire));
  }
  json_object_set_new(o, "productionDate", json_null());
  json_object_set_new(o, "errorCode", json_integer(found ? 0 : 1));
  json_object_set_new(o, "sold", json_boolean(found && strcmp(c.status, "sold") == 0));
  if (found && c.max_price) json_object_set_new(o, "mrp", json_integer((json_int_t)c.max_price));
  if (found && c.min_price) json_object_set_new(o, "smp", json_integer((json_int_t)c.min_price));
  json_object_set_new(o, "soldUnitCount", json_integer(0));
  json_object_set_new(o, "innerUnitCount", json_integer(0));
  json_object_set_new(o, "grayZone", json_false());
  json_object_set_new(o, "message",
                      json_string(!valid   ? "bad format"
                                  : !found ? "code not found"
                                           : "ok"));
  return o;
}

/* The script for km, if any, over the element `one`; the longest delay and
** a non-200 status of the request's scripts win. */
static void script_apply(http_server_t *h, const char *km, size_t len, json_t *one, int *delay,
                         unsigned *status)
{
  pthread_mutex_lock(&h->scripts_lock);
  for (size_t i = 0; i < h->script_count; i++) {
    const script_t *s = &h->scripts[i];
    if (s->cis_len != len || memcmp(s->cis, km, len) != 0) continue;
    if (s->fields) json_object_update(one, s->fields);
    if (s->delay_ms > *delay) *delay = s->delay_ms;
    if (s->status != 200) *status = s->status;
    break;
  }
  pthread_mutex_unlock(&h->scripts_lock);
}

static void scripts_clear(http_server_t *h)
{
  for (size_t i = 0; i < h->script_count; i++) {
    free(h->scripts[i].cis);
    json_decref(h->scripts[i].fields);
  }
  h->script_count = 0;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *what)
{
  return http_send_json(
      conn, status,
      json_pack("{s:i,s:s,s:s}", "code", (int)status, "description", what, "error", what));
}

static enum MHD_Result codes_check(http_server_t *h, struct MHD_Connection *conn,
                                   const request_t *q)
{
  const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-KEY");
  json_t *in = NULL, *codes, *out = NULL, *list = NULL, *v;
  char req_id[37];
  size_t i;
  int slow, delay = 0;
  unsigned status = 200;

  atomic_fetch_add(&h->checks, 1);
  if (!key || strcmp(key, h->o.api_key) != 0)
    return send_error(conn, 401, "invalid or missing X-API-KEY");
  in = q->data ? json_loadb(q->data, q->len, 0, NULL) : NULL;
  codes = in ? json_object_get(in, "codes") : NULL;
  if (!json_is_array(codes) || json_array_size(codes) == 0 || json_array_size(codes) > CODES_MAX ||
      !json_is_string(json_object_get(in, "fiscalDriveNumber"))) {
    json_decref(in);
    return send_error(conn, 400, "body must be {\"codes\":[…],\"fiscalDriveNumber\":\"…\"}");
  }
  if (!(list = json_array())) goto fail;
  json_array_foreach(codes, i, v)
  {
    json_t *one;
    if (!json_is_string(v)) {
      json_decref(in);
      json_decref(list);
      return send_error(conn, 400, "codes[] must be strings");
    }
    if (!(one = code_answer(h, json_string_value(v), json_string_length(v)))) goto fail;
    script_apply(h, json_string_value(v), json_string_length(v), one, &delay, &status);
    json_array_append_new(list, one);
  }
  if (status != 200) {
    json_decref(in);
    json_decref(list);
    if (delay > 0) nap(h, delay);
    return send_error(conn, status, "emergency mode: check through the local module");
  }
  uuid_make(req_id);
  out = json_pack("{s:i,s:s,s:s,s:I,s:o}", "code", 0, "description", "ok", "reqId", req_id,
                  "reqTimestamp", (json_int_t)now_ms(), "codes", list);
  list = NULL;
  if (!out) goto fail;
  json_decref(in);
  slow = atomic_load(&h->slow_ms);
  if (slow > delay) delay = slow;
  if (delay > 0) nap(h, delay);
  return http_send_json(conn, 200, out);
fail:
  json_decref(in);
  json_decref(list);
  return send_error(conn, 500, "internal error");
}

/* A remote shop's batch (oism.c does the work, under the store lock). */
static enum MHD_Result batch_route(http_server_t *h, struct MHD_Connection *conn,
                                   const request_t *q)
{
  unsigned status = 500;
  json_t *answer = NULL;
  atomic_fetch_add(&h->batches, 1);
  oism_batch_upload(h->o.store, h->o.lock, q->data, q->len, ffd_time(), &status, &answer);
  if (!answer) return send_error(conn, 500, "out of memory");
  return http_send_json(conn, status, answer);
}

static enum MHD_Result control_fault(http_server_t *h, struct MHD_Connection *conn,
                                     const request_t *q)
{
  json_t *in = q->data ? json_loadb(q->data, q->len, 0, NULL) : NULL;
  const char *mode = json_string_value(json_object_get(in, "mode"));
  enum MHD_Result ret;
  if (!mode) {
    ret = send_error(conn, 400, "body must be {\"mode\":…}");
  } else if (strcmp(mode, "slow") == 0) {
    json_int_t ms = json_integer_value(json_object_get(in, "ms"));
    if (!json_is_integer(json_object_get(in, "ms")) || ms < 0 || ms > SLOW_MAX_MS) {
      ret = send_error(conn, 400, "slow needs \"ms\": 0..60000");
    } else {
      atomic_store(&h->slow_ms, (int)ms);
      ret = http_send_json(conn, 200, json_pack("{s:s,s:I}", "mode", "slow", "ms", ms));
    }
  } else if (h->o.set_faults(h->o.user, mode) != 0) {
    ret = send_error(conn, 400, "unknown mode (drop delay garbage dup-ack refuse none slow)");
  } else {
    if (strcmp(mode, "none") == 0) atomic_store(&h->slow_ms, 0);
    ret = http_send_json(conn, 200, json_pack("{s:s}", "mode", mode));
  }
  json_decref(in);
  return ret;
}

/* The fields a script may set: true-api's element fields, nothing else. */
static const char *const scriptable[] = {
    "valid",
    "printView",
    "gtin",
    "groupIds",
    "verified",
    "found",
    "realizable",
    "utilised",
    "isBlocked",
    "ogvs",
    "isOwner",
    "expireDate",
    "productionDate",
    "errorCode",
    "sold",
    "mrp",
    "smp",
    "soldUnitCount",
    "innerUnitCount",
    "grayZone",
    "message",
    "packageType",
    "packageQuantity",
    "isTracking",
    "producerInn",
    "parent",
};

static bool fields_ok(json_t *fields)
{
  const char *k;
  json_t *v;
  if (!json_is_object(fields)) return false;
  json_object_foreach(fields, k, v)
  {
    bool known = false;
    for (size_t i = 0; i < sizeof scriptable / sizeof scriptable[0]; i++)
      if (!strcmp(k, scriptable[i])) known = true;
    if (!known) return false;
  }
  return true;
}

static enum MHD_Result control_answer(http_server_t *h, struct MHD_Connection *conn,
                                      const request_t *q)
{
  json_t *in = q->data ? json_loadb(q->data, q->len, 0, NULL) : NULL;
  json_t *cis = json_object_get(in, "cis"), *fields = json_object_get(in, "fields");
  json_t *delay = json_object_get(in, "delayMs"), *status = json_object_get(in, "status");
  enum MHD_Result ret;
  size_t n, i;
  if (json_is_true(json_object_get(in, "clear"))) {
    pthread_mutex_lock(&h->scripts_lock);
    scripts_clear(h);
    pthread_mutex_unlock(&h->scripts_lock);
    json_decref(in);
    return http_send_json(conn, 200, json_pack("{s:i}", "scripts", 0));
  }
  if (!json_is_string(cis) || json_string_length(cis) == 0 || json_string_length(cis) > 512 ||
      (fields && !fields_ok(fields)) ||
      (delay && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
                 json_integer_value(delay) > SLOW_MAX_MS)) ||
      (status && (!json_is_integer(status) ||
                  (json_integer_value(status) != 200 && json_integer_value(status) != 203)))) {
    json_decref(in);
    return send_error(conn, 400,
                      "body must be {\"cis\":…,\"fields\":{true-api fields},\"delayMs\":0..60000,"
                      "\"status\":200|203} or {\"clear\":true}");
  }
  pthread_mutex_lock(&h->scripts_lock);
  for (i = 0; i < h->script_count; i++) {
    if (h->scripts[i].cis_len == json_string_length(cis) &&
        !memcmp(h->scripts[i].cis, json_string_value(cis), json_string_length(cis)))
      break;
  }
  if (i == SCRIPTS_MAX) {
    pthread_mutex_unlock(&h->scripts_lock);
    json_decref(in);
    return send_error(conn, 400, "too many scripts: clear them first");
  }
  if (i == h->script_count) {
    char *copy = malloc(json_string_length(cis));
    if (!copy) {
      pthread_mutex_unlock(&h->scripts_lock);
      json_decref(in);
      return send_error(conn, 500, "out of memory");
    }
    memcpy(copy, json_string_value(cis), json_string_length(cis));
    h->scripts[i].cis = copy;
    h->scripts[i].cis_len = json_string_length(cis);
    h->scripts[i].fields = NULL;
    h->script_count++;
  }
  json_decref(h->scripts[i].fields);
  h->scripts[i].fields = fields ? json_deep_copy(fields) : NULL;
  h->scripts[i].delay_ms = delay ? (int)json_integer_value(delay) : 0;
  h->scripts[i].status = status ? (unsigned)json_integer_value(status) : 200;
  n = h->script_count;
  pthread_mutex_unlock(&h->scripts_lock);
  json_decref(in);
  ret = http_send_json(conn, 200, json_pack("{s:I}", "scripts", (json_int_t)n));
  return ret;
}

static enum MHD_Result control_health(http_server_t *h, struct MHD_Connection *conn,
                                      const request_t *q)
{
  json_t *in = q->data ? json_loadb(q->data, q->len, 0, NULL) : NULL;
  json_t *ms = json_object_get(in, "avgTimeMs");
  enum MHD_Result ret;
  if (!json_is_integer(ms) || json_integer_value(ms) < 0 || json_integer_value(ms) > 1000000) {
    ret = send_error(conn, 400, "body must be {\"avgTimeMs\":N}");
  } else {
    atomic_store(&h->health_ms, (int)json_integer_value(ms));
    ret = http_send_json(conn, 200, json_pack("{s:I}", "avgTimeMs", json_integer_value(ms)));
  }
  json_decref(in);
  return ret;
}

static enum MHD_Result cdn_info(http_server_t *h, struct MHD_Connection *conn)
{
  json_t *hosts = json_array();
  if (!hosts) return MHD_NO;
  json_array_append_new(hosts, json_pack("{s:s}", "host", h->self));
  for (size_t i = 0; i < h->o.cdn_host_count; i++)
    json_array_append_new(hosts, json_pack("{s:s}", "host", h->o.cdn_hosts[i]));
  return http_send_json(conn, 200,
                        json_pack("{s:i,s:s,s:o}", "code", 0, "description", "ok", "hosts", hosts));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
  http_server_t *h = cls;
  request_t *q = *state;
  bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
  (void)version;

  if (!q) { /* first call: headers only */
    if (!(q = calloc(1, sizeof *q))) return MHD_NO;
    q->limit = strcmp(url, BATCH_UPLOAD_PATH) == 0 ? BATCH_MAX_BYTES : BODY_MAX;
    q->budget = &h->bodies;
    *state = q;
    /* The true-api key is in the head: a wrong one is answered before a
    ** byte of the body is read (issue 18). */
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-KEY");
    if (!strcmp(url, "/api/v4/true-api/codes/check") && (!key || strcmp(key, h->o.api_key) != 0))
      return send_error(conn, 401, "invalid or missing X-API-KEY");
    /* A body of known length is admitted whole or refused now, unread. */
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    unsigned long long announced = length ? strtoull(length, NULL, 10) : 0;
    if (announced && announced <= q->limit && buffer_reserve(q, (size_t)announced) != 0)
      return send_error(conn, 503, "busy reading other requests: try again");
    return MHD_YES;
  }
  if (*upload_size) {
    if (buffer_append(q, upload, *upload_size) != 0) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  conn_guard_disarm(h->guard, ci ? ci->socket_context : NULL); /* read whole: the clock stops */
  if (q->over) return send_error(conn, 413, "body too large");
  if (q->busy) return send_error(conn, 503, "busy reading other requests: try again");
  if (strcmp(url, "/api/v4/true-api/cdn/info") == 0 && get) return cdn_info(h, conn);
  if (strcmp(url, "/api/v4/true-api/cdn/health/check") == 0 && get) {
    atomic_fetch_add(&h->health_checks, 1);
    return http_send_json(conn, 200,
                          json_pack("{s:i,s:s,s:i}", "code", 0, "description", "ok", "avgTimeMs",
                                    atomic_load(&h->health_ms)));
  }
  if (strcmp(url, "/api/v4/true-api/codes/check") == 0 && post) return codes_check(h, conn, q);
  if (strcmp(url, BATCH_UPLOAD_PATH) == 0 && post) return batch_route(h, conn, q);
  if (strncmp(url, REGISTRY_PREFIX, strlen(REGISTRY_PREFIX)) == 0)
    return registry_http(&h->o, conn, url, method, q->data, q->len);
  if (strcmp(url, "/control/fault") == 0 && post) return control_fault(h, conn, q);
  if (strcmp(url, "/control/health") == 0 && post) return control_health(h, conn, q);
  if (strcmp(url, "/control/answer") == 0 && post) return control_answer(h, conn, q);
  if (strcmp(url, "/control/stats") == 0 && get)
    return http_send_json(conn, 200,
                          json_pack("{s:i,s:i,s:i}", "checks", atomic_load(&h->checks), "health",
                                    atomic_load(&h->health_checks), "batches",
                                    atomic_load(&h->batches)));
  return send_error(conn, 404, "no such endpoint");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why)
{
  http_server_t *h = cls;
  request_t *q = *state;
  (void)why;
  if (q) {
    buffer_free(q);
    free(q);
  }
  *state = NULL;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  conn_guard_arm(h->guard, ci ? ci->socket_context : NULL); /* the next request's clock */
}

/* A connection's deadline slot from accept to close; libmicrohttpd tells
** of the close before it closes the socket. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **slot,
                          enum MHD_ConnectionNotificationCode what)
{
  http_server_t *h = cls;
  if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_guard_close(h->guard, *slot);
    *slot = NULL;
    return;
  }
  const union MHD_ConnectionInfo *fd =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  *slot = fd ? conn_guard_open(h->guard, fd->connect_fd) : NULL;
}

int http_start(const http_options_t *options, http_server_t **out)
{
  http_server_t *h = NULL;
  struct sockaddr_in a;
  int n;

  if (!out) return -1;
  *out = NULL;
  if (!options || !options->store || !options->lock || !options->set_faults || !options->api_key ||
      options->cdn_host_count > HTTP_MAX_CDN_HOSTS)
    return -1;
  if (!(h = calloc(1, sizeof *h))) return -1;
  h->o = *options;
  atomic_init(&h->slow_ms, 0);
  atomic_init(&h->health_ms, (int)options->health_ms);
  atomic_init(&h->checks, 0);
  atomic_init(&h->health_checks, 0);
  atomic_init(&h->batches, 0);
  atomic_init(&h->stopping, 0);
  atomic_init(&h->bodies.used, 0);
  h->bodies.max = BODIES_MAX;
  pthread_mutex_init(&h->scripts_lock, NULL);
  n = snprintf(h->self, sizeof h->self, "http://127.0.0.1:%u", options->port);
  if (n < 0 || (size_t)n >= sizeof h->self) goto fail;
  if (conn_guard_start(REQUEST_DEADLINE_MS, &h->guard) != 0) goto fail;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)options->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by contract */
  h->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
      (uint16_t)options->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned)(CONNECTIONS_MAX * 3 / 4), MHD_OPTION_END);
  if (!h->daemon) {
    fprintf(stderr, "kassa-operator: http 127.0.0.1:%u: cannot listen\n", options->port);
    goto fail;
  }
  *out = h;
  return 0;
fail:
  conn_guard_stop(h->guard);
  pthread_mutex_destroy(&h->scripts_lock);
  free(h);
  return -1;
}

void http_stop(http_server_t *h)
{
  if (!h) return;
  atomic_store(&h->stopping, 1);
  MHD_stop_daemon(h->daemon);
  conn_guard_stop(h->guard); /* after the daemon: it closed every slot */
  scripts_clear(h);
  pthread_mutex_destroy(&h->scripts_lock);
  free(h);
}
