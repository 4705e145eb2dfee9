/*
** store/store_http.c: the store node over HTTP ("http://HOST:PORT"), what
** a lane holds: each operation is one JSON request to `kassa store serve`
** (store/node.h has the routes) within the timeout, after which the
** operation is STORE_ERR_UNREACHABLE and the lane decides alone.
**
** One curl easy handle is kept, so its connection (keep-alive) serves
** request after request; CURLOPT_NOSIGNAL keeps curl's timeouts away from
** signals. The node answers a store error as {"error": NAME}: its
** database being down is "unreachable" to the lane as well.
*/
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buffer.h"
#include "store/store_internal.h"

#define ANSWER_MAX (8u << 20)

typedef struct http {
  CURL *curl;
  char base[256];
  char auth[200];
  long timeout_ms;
  char error[1024];
} http_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t collect(char *data, size_t size, size_t n, void *user)
{
  return buffer_append(user, data, size * n) == 0 && !((buffer_t *)user)->over ? size * n : 0;
}

static const char *http_last_error(void *self) { return ((http_t *)self)->error; }

static int error_of(const char *name)
{
  static const int codes[] = {STORE_ERR_ARGUMENT, STORE_ERR_NO_MEMORY, STORE_ERR_UNREACHABLE,
                              STORE_ERR_PROTOCOL, STORE_ERR_AUTH,      STORE_ERR_DATABASE};
  for (size_t i = 0; name && i < sizeof codes / sizeof codes[0]; i++)
    if (!strcmp(name, store_err_name(codes[i]))) return codes[i];
  return STORE_ERR_PROTOCOL;
}

/* One request: POST of body (a JSON object, stolen) or GET when body is
** NULL. 0 with *answer (the parsed JSON object, to decref) or an error. */
static int request(http_t *h, const char *path, json_t *body, json_t **answer)
{
  char url[512], curl_error[CURL_ERROR_SIZE] = "";
  char *text = NULL;
  buffer_t b = {.limit = ANSWER_MAX};
  struct curl_slist *headers = NULL;
  long status = 0;
  int rc;
  *answer = NULL;
  snprintf(url, sizeof url, "%s%s", h->base, path);
  if (body && !(text = json_dumps(body, JSON_COMPACT))) {
    json_decref(body);
    return STORE_ERR_NO_MEMORY;
  }
  json_decref(body);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:"); /* no wait for a 100 before a long body */
  if (h->auth[0]) headers = curl_slist_append(headers, h->auth);
  curl_easy_setopt(h->curl, CURLOPT_URL, url);
  curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, curl_error);
  if (text)
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, text);
  else
    curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
  CURLcode cc = curl_easy_perform(h->curl);
  curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
  curl_slist_free_all(headers);
  free(text);
  if (cc != CURLE_OK) {
    snprintf(h->error, sizeof h->error, "%.400s: %.500s", url,
             curl_error[0] ? curl_error : curl_easy_strerror(cc));
    rc = b.over ? STORE_ERR_PROTOCOL : STORE_ERR_UNREACHABLE;
    goto done;
  }
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
  json_t *j = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  if (status == 401 || status == 403) {
    rc = STORE_ERR_AUTH;
  } else if (!json_is_object(j)) {
    rc = STORE_ERR_PROTOCOL;
  } else if (status != 200) {
    rc = error_of(json_string_value(json_object_get(j, "error")));
  } else {
    *answer = j;
    j = NULL;
    rc = 0;
  }
  if (rc != 0)
    snprintf(h->error, sizeof h->error, "%.400s: HTTP %ld %.400s", url, status,
             json_string_value(json_object_get(j, "message")) ?: "");
  json_decref(j);
done:
  buffer_free(&b);
  return rc;
}

static void text_to(json_t *o, const char *key, char *out, size_t size)
{
  const char *v = json_string_value(json_object_get(o, key));
  snprintf(out, size, "%s", v ? v : "");
}

static uint32_t u32_of(json_t *o, const char *key)
{
  json_int_t v = json_integer_value(json_object_get(o, key));
  return v < 0 || v > UINT32_MAX ? 0 : (uint32_t)v;
}

static int http_claim(void *self, const char *lane, const char *ki, uint32_t lease_ms,
                      store_claim_t *out)
{
  json_t *a;
  int rc = request(
      self, "/store/v1/claim",
      json_pack("{s:s,s:s,s:I}", "lane", lane, "ki", ki, "lease_ms", (json_int_t)lease_ms), &a);
  if (rc != 0) return rc;
  const char *v = json_string_value(json_object_get(a, "verdict"));
  out->verdict = !v                      ? 0
                 : !strcmp(v, "granted") ? STORE_GRANTED
                 : !strcmp(v, "held")    ? STORE_HELD
                 : !strcmp(v, "sold")    ? STORE_SOLD
                                         : 0;
  text_to(a, "holder", out->holder, sizeof out->holder);
  text_to(a, "fn", out->fn, sizeof out->fn);
  out->document = u32_of(a, "document");
  json_decref(a);
  return out->verdict ? 0 : STORE_ERR_PROTOCOL;
}

static int http_release(void *self, const char *lane, const char *ki)
{
  json_t *a;
  int rc = request(self, "/store/v1/release", json_pack("{s:s,s:s}", "lane", lane, "ki", ki), &a);
  json_decref(a);
  return rc;
}

static int http_publish(void *self, const store_record_t *r, uint32_t *conflicts)
{
  json_t *lines = json_array(), *a;
  for (size_t i = 0; lines && i < r->count; i++)
    json_array_append_new(lines, json_pack("{s:s,s:s,s:s}", "ki", r->lines[i].ki, "gtin",
                                           r->lines[i].gtin ? r->lines[i].gtin : "", "op",
                                           store_op_name(r->lines[i].op)));
  json_t *body = json_pack("{s:s,s:s,s:I,s:b,s:b,s:o}", "lane", r->lane, "fn", r->fn, "document",
                           (json_int_t)r->document, "offline", r->offline, "remark", r->remark,
                           "lines", lines);
  if (!body) return STORE_ERR_NO_MEMORY;
  int rc = request(self, "/store/v1/publish", body, &a);
  if (rc == 0) *conflicts = u32_of(a, "conflicts");
  json_decref(a);
  return rc;
}

static int http_heartbeat(void *self, const char *lane, uint32_t lease_ms, const char *fn,
                          uint32_t *published)
{
  json_t *a;
  int rc = request(self, "/store/v1/heartbeat",
                   json_pack("{s:s,s:I,s:s}", "lane", lane, "lease_ms", (json_int_t)lease_ms, "fn",
                             fn ? fn : ""),
                   &a);
  if (rc == 0) *published = u32_of(a, "published");
  json_decref(a);
  return rc;
}

static int http_feed(void *self, int64_t after, store_feed_row_t *rows, size_t max, size_t *count)
{
  char path[96];
  json_t *a, *list, *row;
  size_t i;
  snprintf(path, sizeof path, "/store/v1/feed?after=%lld&limit=%zu", (long long)after, max);
  int rc = request(self, path, NULL, &a);
  if (rc != 0) return rc;
  list = json_object_get(a, "rows");
  json_array_foreach(list, i, row)
  {
    if (*count >= max) break;
    store_feed_row_t *f = &rows[(*count)++];
    memset(f, 0, sizeof *f);
    f->seq = json_integer_value(json_object_get(row, "seq"));
    text_to(row, "ki", f->ki, sizeof f->ki);
    text_to(row, "gtin", f->gtin, sizeof f->gtin);
    f->op = store_op_of(json_string_value(json_object_get(row, "op")));
    text_to(row, "lane", f->lane, sizeof f->lane);
    text_to(row, "fn", f->fn, sizeof f->fn);
    f->document = u32_of(row, "document");
    f->offline = json_is_true(json_object_get(row, "offline"));
  }
  rc = json_is_array(list) ? 0 : STORE_ERR_PROTOCOL; /* list lives in a */
  json_decref(a);
  return rc;
}

static int http_conflicts(void *self, store_conflict_t *rows, size_t max, size_t *count)
{
  json_t *a, *list, *row;
  size_t i;
  int rc = request(self, "/store/v1/conflicts", NULL, &a);
  if (rc != 0) return rc;
  list = json_object_get(a, "conflicts");
  json_array_foreach(list, i, row)
  {
    if (*count >= max) break;
    store_conflict_t *c = &rows[(*count)++];
    memset(c, 0, sizeof *c);
    text_to(row, "ki", c->ki, sizeof c->ki);
    text_to(row, "first_lane", c->first_lane, sizeof c->first_lane);
    text_to(row, "first_fn", c->first_fn, sizeof c->first_fn);
    c->first_document = u32_of(row, "first_document");
    text_to(row, "second_lane", c->second_lane, sizeof c->second_lane);
    text_to(row, "second_fn", c->second_fn, sizeof c->second_fn);
    c->second_document = u32_of(row, "second_document");
  }
  rc = json_is_array(list) ? 0 : STORE_ERR_PROTOCOL; /* list lives in a */
  json_decref(a);
  return rc;
}

static void http_destroy(void *self)
{
  http_t *h = self;
  if (!h) return;
  if (h->curl) curl_easy_cleanup(h->curl);
  free(h);
}

int store_http_create(const char *target, const store_options_t *o, void **self, char *err,
                      size_t err_size)
{
  http_t *h;
  if (strlen(target) >= sizeof h->base || (o->token && strlen(o->token) > 150))
    return STORE_ERR_ARGUMENT;
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK || !(h = calloc(1, sizeof *h))) return STORE_ERR_NO_MEMORY;
  snprintf(h->base, sizeof h->base, "%s", target);
  for (size_t n = strlen(h->base); n > 0 && h->base[n - 1] == '/'; n--) h->base[n - 1] = '\0';
  if (o->token && o->token[0])
    snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", o->token);
  h->timeout_ms = o->timeout_ms ? (long)o->timeout_ms : 150;
  if (!(h->curl = curl_easy_init())) {
    http_destroy(h);
    if (err) snprintf(err, err_size, "store http: curl_easy_init failed");
    return STORE_ERR_NO_MEMORY;
  }
  curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
  curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
  curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h->curl, CURLOPT_TCP_NODELAY, 1L);
  *self = h;
  return 0;
}

const store_backend_t store_http_backend = {
    .name = "http",
    .claim = http_claim,
    .release = http_release,
    .publish = http_publish,
    .heartbeat = http_heartbeat,
    .feed = http_feed,
    .conflicts = http_conflicts,
    .last_error = http_last_error,
    .destroy = http_destroy,
};
