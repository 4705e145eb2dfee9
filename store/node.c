/*
** store/node.c: `kassa store serve` (see node.h for the routes).
**
** The routes are one function from a request to a status and a JSON text
** (store_node_answer), so they are tested without a network; the
** libmicrohttpd callbacks only collect the body, check the token and hand
** over. Database sessions are a pool: a request takes one (or opens one
** when none is free), gives it back after its answer, and a session that
** lost its database is closed instead, so the next request reconnects.
*/
#include "store/node.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buffer.h"
#include "common/version.h"
#include "store/store.h"

#define BODY_MAX   (1u << 20)
#define FEED_LIMIT 10000u
#define POOL_MAX   64

struct store_node {
  char spec[1100];
  char token[160];
  bool open_access;
  struct MHD_Daemon *daemon, *lm_daemon;
  uint16_t port, lm_port;
  bool (*ki_of)(const char *code, size_t len, char *ki, size_t ki_size, char gtin[15]);
  pthread_mutex_t lock; /* the pool */
  store_t *pool[POOL_MAX];
  size_t pooled;
};

/* A free session, or a new one; NULL when the database cannot be reached
** now (the caller answers 503). */
static store_t *take(store_node_t *n, int *rc)
{
  store_t *s = NULL;
  pthread_mutex_lock(&n->lock);
  if (n->pooled) s = n->pool[--n->pooled];
  pthread_mutex_unlock(&n->lock);
  if (s) return s;
  store_options_t o = {.timeout_ms = 2000, .no_migrate = true};
  *rc = store_open(n->spec, &o, &s, NULL, 0);
  return *rc == 0 ? s : NULL;
}

static void give_back(store_node_t *n, store_t *s, bool broken)
{
  pthread_mutex_lock(&n->lock);
  if (!broken && n->pooled < POOL_MAX) {
    n->pool[n->pooled++] = s;
    s = NULL;
  }
  pthread_mutex_unlock(&n->lock);
  store_close(s);
}

static int reply(json_t *j, int status, char **answer)
{
  *answer = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!*answer) {
    *answer = strdup("{\"error\":\"no_memory\"}");
    return 500;
  }
  return status;
}

static int store_error(int rc, store_t *s, char **answer)
{
  int status = rc == STORE_ERR_ARGUMENT ? 400 : rc == STORE_ERR_UNREACHABLE ? 503 : 500;
  return reply(json_pack("{s:s,s:s,s:s}", "error", store_err_name(rc), "message",
                         store_err_message(rc, false), "detail", s ? store_last_error(s) : ""),
               status, answer);
}

static const char *text(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static uint32_t u32(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  json_int_t i = json_integer_value(v);
  return json_is_integer(v) && i > 0 && i <= UINT32_MAX ? (uint32_t)i : 0;
}

static const char *const verdicts[] = {
    [STORE_GRANTED] = "granted", [STORE_HELD] = "held", [STORE_SOLD] = "sold"};

static int route_claim(store_t *s, json_t *b, char **answer)
{
  store_claim_t c;
  int rc = store_claim(s, text(b, "lane"), text(b, "ki"), u32(b, "lease_ms"), &c);
  if (rc != 0) return store_error(rc, s, answer);
  return reply(json_pack("{s:s,s:s,s:s,s:I}", "verdict", verdicts[c.verdict], "holder", c.holder,
                         "fn", c.fn, "document", (json_int_t)c.document),
               200, answer);
}

static int route_publish(store_t *s, json_t *b, char **answer)
{
  json_t *lines = json_object_get(b, "lines"), *l;
  size_t count = json_array_size(lines), i;
  store_line_t *ls = calloc(count ? count : 1, sizeof *ls);
  uint32_t conflicts = 0;
  int rc = STORE_ERR_ARGUMENT;
  if (!ls) return store_error(STORE_ERR_NO_MEMORY, s, answer);
  json_array_foreach(lines, i, l)
  {
    ls[i] = (store_line_t){text(l, "ki"), text(l, "gtin"), store_op_of(text(l, "op"))};
  }
  store_record_t r = {text(b, "lane"),
                      text(b, "fn"),
                      u32(b, "document"),
                      json_is_true(json_object_get(b, "offline")),
                      ls,
                      count,
                      json_is_true(json_object_get(b, "remark"))};
  if (json_is_array(lines)) rc = store_publish(s, &r, &conflicts);
  free(ls);
  if (rc != 0) return store_error(rc, s, answer);
  return reply(json_pack("{s:I}", "conflicts", (json_int_t)conflicts), 200, answer);
}

/* after and limit from "after=N&limit=M" (either may be missing). A
** lenient reader takes a cursor that is not ours (another feed's, kept by
** a lane that synced from the operator before) as the start. */
static bool query_numbers(const char *q, bool lenient, long long *after, unsigned *limit)
{
  *after = 0;
  *limit = 1000;
  for (const char *p = q; p && *p;) {
    char *end;
    if (!strncmp(p, "after=", 6)) {
      *after = strtoll(p + 6, &end, 10);
      if ((end == p + 6 || *after < 0 || (*end && *end != '&')) && lenient) {
        *after = 0;
        end = strchr(p, '&');
        if (!end) break;
      } else if (end == p + 6 || *after < 0) {
        return false;
      }
    } else if (!strncmp(p, "limit=", 6)) {
      unsigned long v = strtoul(p + 6, &end, 10);
      if (end == p + 6 || v == 0) return false;
      *limit = v > FEED_LIMIT ? FEED_LIMIT : (unsigned)v;
    } else {
      end = strchr(p, '&');
      if (!end) break;
    }
    p = *end == '&' ? end + 1 : end;
    if (*end && *end != '&') return false;
  }
  return true;
}

/* The feed's state names (ofd/registry.h's numbers); INTRODUCED for none. */
static const char *state_name(int state)
{
  static const char *const names[] = {"", "EMITTED", "APPLIED", "INTRODUCED", "RETIRED"};
  return names[state >= 1 && state <= 4 ? state : 3];
}

/* A feed row as the operator's sync feed has it (ofd/registry.h's fields):
** a record says sold (or back in circulation after a return); a status is
** the operator's, `sold` also when a lane of the store sold the code. */
static json_t *lm_row(const store_feed_row_t *f)
{
  const store_status_t *st = &f->status;
  if (f->op)
    return json_pack("[s,s,s,b,b,s,i,i,i]", f->ki, f->gtin,
                     f->op == STORE_OP_RETURNED ? "INTRODUCED" : "RETIRED", 0,
                     f->op == STORE_OP_SOLD, "", 0, 0, 0);
  return json_pack("[s,s,s,b,b,s,I,I,I]", st->ki, st->gtin, state_name(st->state), st->blocked,
                   st->sold, st->owner, (json_int_t)st->expire_ms, (json_int_t)st->mrp,
                   (json_int_t)st->smp);
}

/* A feed row in the node's own shape. */
static json_t *feed_row(const store_feed_row_t *f)
{
  if (f->op)
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "seq", (json_int_t)f->seq, "ki", f->ki,
                     "gtin", f->gtin, "op", store_op_name(f->op), "lane", f->lane, "fn", f->fn,
                     "document", (json_int_t)f->document, "offline", f->offline);
  return json_pack("{s:I,s:s,s:s,s:s,s:s,s:b,s:b}", "seq", (json_int_t)f->seq, "ki", f->ki, "gtin",
                   f->gtin, "op", "status", "state", state_name(f->status.state), "blocked",
                   f->status.blocked, "sold", f->status.sold);
}

/* Feed rows; lm: as the operator's sync feed (ofd/registry.h's fields). */
static int route_feed(store_t *s, const char *query, bool lm, char **answer)
{
  long long after;
  unsigned limit;
  size_t count = 0;
  store_feed_row_t *rows;
  if (!query_numbers(query, lm, &after, &limit)) return store_error(STORE_ERR_ARGUMENT, s, answer);
  if (!(rows = malloc((limit + 1) * sizeof *rows)))
    return store_error(STORE_ERR_NO_MEMORY, s, answer);
  int rc = store_feed(s, after, rows, limit + 1, &count);
  if (rc != 0) {
    free(rows);
    return store_error(rc, s, answer);
  }
  bool more = count > limit;
  if (more) count = limit;
  long long last = count ? rows[count - 1].seq : after;
  json_t *list = json_array();
  for (size_t i = 0; i < count; i++) {
    const store_feed_row_t *f = &rows[i];
    json_array_append_new(list, lm ? lm_row(f) : feed_row(f));
  }
  free(rows);
  if (!lm)
    return reply(json_pack("{s:o,s:I}", "rows", list, "last", (json_int_t)last), 200, answer);
  char a[24], nx[24];
  snprintf(a, sizeof a, "%lld", after);
  snprintf(nx, sizeof nx, "%lld", last);
  return reply(json_pack("{s:i,s:[s,s,s,s,s,s,s,s,s],s:o,s:b,s:s,s:s,s:s,s:n}", "code", 0, "fields",
                         "ki", "gtin", "state", "blocked", "sold", "owner", "expire", "mrp", "smp",
                         "codes", list, "more", more, "after", a, "next", nx, "last", nx,
                         "snapshot"),
               200, answer);
}

static int route_conflicts(store_t *s, char **answer)
{
  enum { MAX = 100000 };
  size_t count = 0;
  store_conflict_t *rows = malloc(MAX * sizeof *rows);
  if (!rows) return store_error(STORE_ERR_NO_MEMORY, s, answer);
  int rc = store_conflicts(s, rows, MAX, &count);
  if (rc != 0) {
    free(rows);
    return store_error(rc, s, answer);
  }
  json_t *list = json_array();
  for (size_t i = 0; i < count; i++)
    json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I}", "ki", rows[i].ki,
                                          "first_lane", rows[i].first_lane, "first_fn",
                                          rows[i].first_fn, "first_document",
                                          (json_int_t)rows[i].first_document, "second_lane",
                                          rows[i].second_lane, "second_fn", rows[i].second_fn,
                                          "second_document", (json_int_t)rows[i].second_document));
  free(rows);
  return reply(json_pack("{s:o}", "conflicts", list), 200, answer);
}

int store_node_answer(store_node_t *n, const char *method, const char *path, const char *query,
                      const char *body, char **answer)
{
  int rc = 0, status;
  json_t *b = NULL;
  bool post = method && !strcmp(method, "POST");
  *answer = NULL;
  if (!n || !method || !path) return reply(json_pack("{s:s}", "error", "argument"), 400, answer);
  if (post && !(b = json_loads(body ? body : "", 0, NULL)))
    return store_error(STORE_ERR_ARGUMENT, NULL, answer);
  store_t *s = take(n, &rc);
  if (!s) {
    json_decref(b);
    return store_error(rc, NULL, answer);
  }
  if (post && !strcmp(path, "/store/v1/claim")) {
    status = route_claim(s, b, answer);
  } else if (post && !strcmp(path, "/store/v1/release")) {
    rc = store_release(s, text(b, "lane"), text(b, "ki"));
    status = rc ? store_error(rc, s, answer) : reply(json_pack("{s:b}", "ok", 1), 200, answer);
  } else if (post && !strcmp(path, "/store/v1/publish")) {
    status = route_publish(s, b, answer);
  } else if (post && !strcmp(path, "/store/v1/heartbeat")) {
    uint32_t published = 0;
    rc = store_heartbeat(s, text(b, "lane"), u32(b, "lease_ms"), text(b, "fn"), &published);
    status = rc ? store_error(rc, s, answer)
                : reply(json_pack("{s:I}", "published", (json_int_t)published), 200, answer);
  } else if (!post && !strcmp(path, "/store/v1/feed")) {
    status = route_feed(s, query, false, answer);
  } else if (!post && !strcmp(path, "/api/v4/true-api/lm/codes")) {
    status = route_feed(s, query, true, answer);
  } else if (!post && !strcmp(path, "/store/v1/conflicts")) {
    status = route_conflicts(s, answer);
  } else {
    status = reply(json_pack("{s:s,s:s}", "error", "not_found", "message", path), 404, answer);
  }
  /* A database gone mid-session: the session is closed, the next request reconnects. */
  give_back(n, s, status == 503);
  json_decref(b);
  return status;
}

/* ---- the local module's API, for the whole store ------------------------- */

#define LM_CODES_MAX 100

static json_t *iso_time(int64_t ms)
{
  char text[32];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return json_null();
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return json_string(text);
}

/* One code's answer in the local module's fields (pos/serve/lm.c has the
** meaning of each); NULL when out of memory. */
static json_t *lm_code(store_node_t *n, store_t *s, json_t *cis, json_t *pg, int *rc)
{
  char ki[STORE_KI_MAX + 1] = "", gtin[15] = "";
  store_lookup_t l;
  memset(&l, 0, sizeof l);
  const char *text = json_string_value(cis);
  bool valid =
      text && n->ki_of(text, json_string_length(cis), ki, sizeof ki, gtin) && store_ki_ok(ki);
  if (valid && (*rc = store_lookup(s, ki, &l)) != 0) return NULL;
  bool found = l.has_status;
  bool sold = (found && l.status.sold) || l.state == STORE_OP_SOLD || l.state == STORE_OP_REMARKED;
  json_t *groups = json_array();
  if (json_is_integer(pg) && json_integer_value(pg) > 0) json_array_append(groups, pg);
  json_t *o =
      json_pack("{s:O,s:b,s:o,s:o,s:o,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:s,s:s,s:i,s:s}", "cis", cis,
                "valid", valid, "printView", valid ? json_string(ki) : json_incref(cis), "gtin",
                valid ? json_string(gtin) : json_null(), "groupIds", groups, "verified", found,
                "found", found, "realizable", found && l.status.state == 3 && !sold, "utilised",
                found && l.status.state >= 2, "isBlocked", found && l.status.blocked, "sold", sold,
                "isCheckedOffline", 1, "inst", "kassa-store", "version", KASSA_VERSION, "errorCode",
                !valid  ? 2
                : found ? 0
                        : 1,
                "message",
                !valid   ? "bad format"
                : !found ? "code not found"
                         : "ok");
  if (o && found && l.status.expire_ms > 0)
    json_object_set_new(o, "expireDate", iso_time(l.status.expire_ms));
  if (o && found && l.status.mrp)
    json_object_set_new(o, "mrp", json_integer((json_int_t)l.status.mrp));
  if (o && found && l.status.smp)
    json_object_set_new(o, "smp", json_integer((json_int_t)l.status.smp));
  if (o && l.state == STORE_OP_SOLD)
    json_object_set_new(
        o, "soldBy",
        json_pack("{s:s,s:s,s:I}", "lane", l.lane, "fn", l.fn, "document", (json_int_t)l.document));
  return o;
}

static int lm_error(int status, const char *message, char **answer)
{
  return reply(json_pack("{s:i,s:s}", "errorCode", status, "errorMessage", message), status,
               answer);
}

int store_node_answer_lm(store_node_t *n, const char *method, const char *path,
                         const char *client_id, const char *body, char **answer)
{
  int rc = 0, status = 200, version = 0;
  bool known = false;
  char cursor[160] = "";
  json_t *b = NULL, *list, *codes = NULL, *v;
  size_t i;
  *answer = NULL;
  if (!n->ki_of) return lm_error(501, "This node has no code parser.", answer);
  bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
  version = !strcmp(path, "/api/v1/cis/outCheck")   ? 1
            : !strcmp(path, "/api/v2/cis/outCheck") ? 2
                                                    : 0;
  if (!version && strcmp(path, "/api/v1/status")) return lm_error(404, "No such path.", answer);
  if ((version && !post) || (!version && !get)) return lm_error(405, "Wrong method.", answer);
  if (post) {
    b = json_loads(body ? body : "", 0, NULL);
    list = json_object_get(b, "cis_list");
    if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > LM_CODES_MAX) {
      json_decref(b);
      return lm_error(400, "The body must be {\"cis_list\": [...]} with 1 to 100 codes.", answer);
    }
  }
  store_t *s = take(n, &rc);
  if (!s) {
    json_decref(b);
    return lm_error(503, "The store's database does not answer.", answer);
  }
  if (client_id && ((rc = store_fn_known(s, client_id, &known)) != 0 || !known)) {
    status = rc ? lm_error(503, "The store's database does not answer.", answer)
                : lm_error(403, "X-ClientId is no FN of this store.", answer);
    goto done;
  }
  if ((rc = store_sync_cursor(s, cursor, sizeof cursor)) != 0) {
    status = lm_error(503, "The store's database does not answer.", answer);
    goto done;
  }
  if (!version) {
    status = reply(json_pack("{s:s,s:s,s:s,s:s}", "status", cursor[0] ? "ready" : "not_configured",
                             "version", KASSA_VERSION, "inst", "kassa-store", "dbVersion", cursor),
                   200, answer);
    goto done;
  }
  if (!cursor[0]) {
    status = lm_error(400, "Not configured: run `kassa store sync` first.", answer);
    goto done;
  }
  codes = json_array();
  json_array_foreach(json_object_get(b, "cis_list"), i, v)
  {
    json_t *cis = version == 1 ? v : json_object_get(v, "cis");
    json_t *one = json_is_string(cis) ? lm_code(n, s, cis, json_object_get(v, "pg"), &rc) : NULL;
    if (!one) {
      status = rc ? lm_error(503, "The store's database does not answer.", answer)
                  : lm_error(400, "cis_list[] must hold codes.", answer);
      goto done;
    }
    json_array_append_new(codes, one);
  }
  status = reply(json_pack("{s:i,s:s,s:s,s:s,s:o}", "code", 0, "description", "ok", "inst",
                           "kassa-store", "version", KASSA_VERSION, "codes", codes),
                 200, answer);
  codes = NULL;
done:
  give_back(n, s, status == 503);
  json_decref(codes);
  json_decref(b);
  return status;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* The token as a bearer, an X-API-KEY, or (the local module's way) an
** HTTP Basic password with any user name. */
static bool token_ok(store_node_t *n, struct MHD_Connection *c)
{
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-KEY");
  const char *given = auth && !strncmp(auth, "Bearer ", 7) ? auth + 7 : key;
  char *password = NULL, *user = NULL;
  size_t a = strlen(n->token);
  bool ok;
  if (n->open_access && !n->token[0]) return true;
  if (!given && auth && !strncmp(auth, "Basic ", 6)) {
    user = MHD_basic_auth_get_username_password(c, &password);
    given = password;
  }
  ok = given && strlen(given) == a && a > 0 && CRYPTO_memcmp(given, n->token, a) == 0;
  if (password) {
    memset(password, 0, strlen(password));
    MHD_free(password);
  }
  if (user) MHD_free(user);
  return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text)
{
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
  store_node_t *n = cls;
  buffer_t *b = *state;
  (void)version;
  if (!b) {
    if (!(b = calloc(1, sizeof *b))) return MHD_NO;
    b->limit = BODY_MAX;
    *state = b;
    return MHD_YES;
  }
  if (*size) {
    buffer_append(b, data, *size);
    *size = 0;
    return MHD_YES;
  }
  if (!token_ok(n, c))
    return send_text(c, 401, strdup("{\"error\":\"auth\",\"message\":\"token\"}"));
  if (b->over) return send_text(c, 413, strdup("{\"error\":\"argument\",\"message\":\"body\"}"));
  char query[64] = "";
  const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
  const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
  snprintf(query, sizeof query, "after=%.20s&limit=%.10s", after ? after : "0",
           limit ? limit : "1000");
  char *answer = NULL;
  int status =
      !strncmp(url, "/api/v1/", 8) || !strncmp(url, "/api/v2/", 8)
          ? store_node_answer_lm(n, method, url,
                                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ClientId"),
                                 b->data, &answer)
          : store_node_answer(n, method, url, query, b->data, &answer);
  return send_text(c, status, answer ? answer : strdup("{}"));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
  (void)cls;
  (void)c;
  (void)why;
  buffer_free(*state);
  free(*state);
  *state = NULL;
}

int store_node_start(const store_node_options_t *o, store_node_t **out, char *err, size_t err_size)
{
  store_node_t *n;
  store_t *first = NULL;
  struct sockaddr_in a = {.sin_family = AF_INET};
  *out = NULL;
  if (!o || !o->spec || (!o->allow_no_token && (!o->token || !o->token[0])) ||
      strlen(o->spec) >= sizeof n->spec || (o->token && strlen(o->token) >= sizeof n->token)) {
    snprintf(err, err_size, "store serve: a database and a token are needed");
    return -1;
  }
  if (inet_pton(AF_INET, o->listen ? o->listen : "127.0.0.1", &a.sin_addr) != 1) {
    snprintf(err, err_size, "store serve: %s is not an IPv4 address", o->listen);
    return -1;
  }
  a.sin_port = htons(o->port);
  if (!(n = calloc(1, sizeof *n))) return -1;
  pthread_mutex_init(&n->lock, NULL);
  snprintf(n->spec, sizeof n->spec, "%s", o->spec);
  snprintf(n->token, sizeof n->token, "%s", o->token ? o->token : "");
  n->ki_of = o->ki_of;
  n->open_access = o->allow_no_token;
  store_options_t so = {.timeout_ms = 5000};
  /* Once in front: the schema made or migrated, and a clear error now. */
  if (store_open(n->spec, &so, &first, err, err_size) != 0) goto fail;
  store_close(first);
  n->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, o->port,
      NULL, NULL, on_request, n, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, n, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_END);
  if (!n->daemon) {
    snprintf(err, err_size, "store serve: cannot listen on %s:%u",
             o->listen ? o->listen : "127.0.0.1", o->port);
    goto fail;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(n->daemon, MHD_DAEMON_INFO_BIND_PORT);
  n->port = info ? info->port : o->port;
  if (o->lm_port) {
    a.sin_port = htons(o->lm_port);
    n->lm_daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        o->lm_port, NULL, NULL, on_request, n, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, n, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_END);
    if (!n->lm_daemon) {
      snprintf(err, err_size, "store serve: cannot listen on the local-module port %u", o->lm_port);
      goto fail;
    }
    n->lm_port = o->lm_port;
  }
  *out = n;
  return 0;
fail:
  store_node_stop(n);
  return -1;
}

uint16_t store_node_port(const store_node_t *n) { return n ? n->port : 0; }
uint16_t store_node_lm_port(const store_node_t *n) { return n ? n->lm_port : 0; }

void store_node_stop(store_node_t *n)
{
  if (!n) return;
  if (n->lm_daemon) MHD_stop_daemon(n->lm_daemon);
  if (n->daemon) MHD_stop_daemon(n->daemon);
  while (n->pooled) store_close(n->pool[--n->pooled]);
  pthread_mutex_destroy(&n->lock);
  free(n);
}
