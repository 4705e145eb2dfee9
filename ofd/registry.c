/*
** ofd/registry.c: the sync feed and the remark report over libcurl (see
** registry.h).
**
** A page is parsed with jansson once and kept: the codes' strings point
** into the parsed tree instead of being copied, which is most of what makes
** a page of 10 000 codes parse in a few milliseconds (bench/cache_lookup.c
** measures it). The feed sends each code as a positional array; the
** "fields" list is compared with the one this file was written for, so a
** server that reorders fields is refused instead of misread.
**
** One curl easy handle is kept and reset between requests (its connection
** cache survives a sync of many pages); CURLOPT_NOSIGNAL keeps curl's
** timeouts away from signals.
*/
#define _GNU_SOURCE
#include "ofd/registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buffer.h"
#include "common/errtab.h"

#define ANSWER_MAX (64u << 20) /* a 10 000-code page is about 1.3 MB */
#define URL_MAX    512
#define FIELDS     9

static const char *const fields[FIELDS] = {"ki",    "gtin",   "state", "blocked", "sold",
                                           "owner", "expire", "mrp",   "smp"};

struct registry {
  char *url, *api_key;
  unsigned timeout_ms;
  CURL *curl;
  char error[1024];
};

/* ---------------------------------------------------------------------- */
/* Names and messages                                                      */

static const errtab_t errors[] = {
    {REGISTRY_OK, "ok", "Готово.", "Done."},
    {REGISTRY_ERR_ARGUMENT, "argument", "Неверный параметр запроса к реестру кодов.",
     "Bad parameter for the code registry request."},
    {REGISTRY_ERR_NO_MEMORY, "no_memory", "Не хватает памяти.", "Out of memory."},
    {REGISTRY_ERR_NETWORK, "network",
     "Нет связи с оператором маркировки или он не ответил вовремя.",
     "No connection to the marking operator, or no answer in time."},
    {REGISTRY_ERR_AUTH, "auth",
     "Оператор маркировки не принял ключ API: проверьте настройки кассы.",
     "The marking operator refused the API key: check the till's settings."},
    {REGISTRY_ERR_PROTOCOL, "protocol", "Непонятный ответ оператора маркировки.",
     "The marking operator's answer is unreadable."},
    {REGISTRY_ERR_REFUSED, "refused", "Оператор маркировки отклонил запрос (причина в ответе).",
     "The marking operator refused the request (the reason is in the answer)."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *registry_err_name(int err) { return errtab_name(errors, err); }

const char *registry_err_message(int err, bool ru) { return errtab_message(errors, err, ru); }

/* ---------------------------------------------------------------------- */
/* Pages                                                                   */

void registry_page_free(registry_page_t *page)
{
  if (!page) return;
  json_decref(page->root);
  free(page->codes);
  memset(page, 0, sizeof *page);
}

/* A cursor's text: 1..REGISTRY_CURSOR_MAX characters of [0-9a-z.], or
** only digits when digits is set. */
static bool cursor_ok(const char *s, size_t n, bool digits)
{
  if (!s || n == 0 || n > REGISTRY_CURSOR_MAX || strlen(s) != n) return false;
  for (size_t i = 0; i < n; i++) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if (!digit && (digits || !((s[i] >= 'a' && s[i] <= 'z') || s[i] == '.'))) return false;
  }
  return true;
}

static bool cursor_copy(json_t *v, bool digits, char out[REGISTRY_CURSOR_MAX + 1])
{
  const char *s = json_string_value(v);
  size_t n = s ? json_string_length(v) : 0;
  if (!cursor_ok(s, n, digits)) return false;
  memcpy(out, s, n + 1);
  return true;
}

static bool state_of(const char *s, registry_state_t *out)
{
  static const struct {
    const char *name;
    registry_state_t state;
  } states[] = {{"INTRODUCED", REGISTRY_INTRODUCED},
                {"RETIRED", REGISTRY_RETIRED},
                {"APPLIED", REGISTRY_APPLIED},
                {"EMITTED", REGISTRY_EMITTED}};
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
    if (strcmp(s, states[i].name) == 0) {
      *out = states[i].state;
      return true;
    }
  }
  return false;
}

static bool nonnegative(json_t *v, int64_t *out)
{
  if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
  *out = (int64_t)json_integer_value(v);
  return true;
}

/* One positional row into c (strings borrowed from the row). */
static bool row_parse(json_t *row, registry_code_t *c)
{
  json_t *v[FIELDS];
  int64_t expire, mrp, smp;
  if (!json_is_array(row) || json_array_size(row) != FIELDS) return false;
  for (size_t i = 0; i < FIELDS; i++) v[i] = json_array_get(row, i);
  if (!json_is_string(v[0]) || json_string_length(v[0]) == 0 || !json_is_string(v[1]) ||
      !json_is_string(v[2]) || !json_is_boolean(v[3]) || !json_is_boolean(v[4]) ||
      !json_is_string(v[5]) || !nonnegative(v[6], &expire) || !nonnegative(v[7], &mrp) ||
      !nonnegative(v[8], &smp) || !state_of(json_string_value(v[2]), &c->state))
    return false;
  c->ki = json_string_value(v[0]);
  c->gtin = json_string_value(v[1]);
  c->blocked = json_is_true(v[3]);
  c->sold = json_is_true(v[4]);
  c->owner = json_string_value(v[5]);
  c->expire_ms = expire;
  c->mrp = (uint64_t)mrp;
  c->smp = (uint64_t)smp;
  return true;
}

int registry_parse_page(const char *text, size_t len, registry_page_t *page)
{
  json_t *root, *list, *names, *row, *snapshot;
  size_t i, n;
  if (!text || !page) return REGISTRY_ERR_ARGUMENT;
  registry_page_free(page);
  root = json_loadb(text, len, 0, NULL);
  list = json_object_get(root, "codes");
  names = json_object_get(root, "fields");
  if (!json_is_array(list) || !json_is_array(names) || json_array_size(names) != FIELDS ||
      !json_is_integer(json_object_get(root, "code")) ||
      json_integer_value(json_object_get(root, "code")) != 0 ||
      !json_is_boolean(json_object_get(root, "more")) ||
      !cursor_copy(json_object_get(root, "after"), false, page->after) ||
      !cursor_copy(json_object_get(root, "next"), false, page->next) ||
      !cursor_copy(json_object_get(root, "last"), true, page->last))
    goto protocol;
  snapshot = json_object_get(root, "snapshot");
  if (snapshot && !json_is_null(snapshot)) {
    int64_t done, total;
    if (!nonnegative(json_object_get(snapshot, "done"), &done) ||
        !nonnegative(json_object_get(snapshot, "total"), &total))
      goto protocol;
    page->snapshot = true;
    page->done = (uint64_t)done;
    page->total = (uint64_t)total;
  }
  for (i = 0; i < FIELDS; i++) {
    const char *name = json_string_value(json_array_get(names, i));
    if (!name || strcmp(name, fields[i]) != 0) goto protocol;
  }
  page->more = json_is_true(json_object_get(root, "more"));
  n = json_array_size(list);
  if (n && !(page->codes = malloc(n * sizeof *page->codes))) {
    json_decref(root);
    registry_page_free(page);
    return REGISTRY_ERR_NO_MEMORY;
  }
  page->cap = n;
  json_array_foreach(list, i, row)
  {
    if (!row_parse(row, &page->codes[i])) goto protocol;
  }
  page->count = n;
  page->root = root;
  return 0;
protocol:
  json_decref(root);
  registry_page_free(page);
  return REGISTRY_ERR_PROTOCOL;
}

/* ---------------------------------------------------------------------- */
/* HTTP                                                                    */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Appends what curl received, up to ANSWER_MAX (the buffer doubles, so a
** megabyte page costs a handful of reallocations). Returning less than
** was offered makes curl stop with a write error. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
  buffer_t *b = user;
  size_t n = size * nmemb;
  if (buffer_append(b, ptr, n) != 0 || b->over) return 0;
  return n;
}

static char *dup_text(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int registry_create(const registry_options_t *o, registry_t **out)
{
  registry_t *r = NULL;
  if (!out) return REGISTRY_ERR_ARGUMENT;
  *out = NULL;
  if (!o || !o->url || !o->api_key || strlen(o->url) > URL_MAX / 2 ||
      (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) ||
      strchr(o->api_key, '\n') || strchr(o->api_key, '\r'))
    return REGISTRY_ERR_ARGUMENT;
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) return REGISTRY_ERR_NO_MEMORY;
  if (!(r = calloc(1, sizeof *r))) return REGISTRY_ERR_NO_MEMORY;
  r->url = dup_text(o->url);
  r->api_key = dup_text(o->api_key);
  r->timeout_ms = o->timeout_ms ? o->timeout_ms : REGISTRY_TIMEOUT_MS;
  r->curl = curl_easy_init();
  if (!r->url || !r->api_key || !r->curl) {
    registry_destroy(r);
    return REGISTRY_ERR_NO_MEMORY;
  }
  /* The base without trailing slashes, so paths join cleanly. */
  for (size_t n = strlen(r->url); n > 0 && r->url[n - 1] == '/'; n--) r->url[n - 1] = '\0';
  *out = r;
  return 0;
}

void registry_destroy(registry_t *r)
{
  if (!r) return;
  if (r->curl) curl_easy_cleanup(r->curl);
  free(r->url);
  free(r->api_key);
  free(r);
}

const char *registry_last_error(const registry_t *r) { return r ? r->error : ""; }

/* One request; *status is the HTTP status. REGISTRY_ERR_NETWORK when no
** answer came. */
static int http_request(registry_t *r, const char *url, const char *body, long *status, buffer_t *b)
{
  struct curl_slist *headers = NULL;
  char key_header[320], curl_error[CURL_ERROR_SIZE] = "";
  int rc = REGISTRY_ERR_NO_MEMORY, n;
  CURLcode cc;

  *status = 0;
  memset(b, 0, sizeof *b);
  b->limit = ANSWER_MAX;
  curl_easy_reset(r->curl);
  n = snprintf(key_header, sizeof key_header, "X-API-KEY: %s", r->api_key);
  if (n < 0 || (size_t)n >= sizeof key_header) return REGISTRY_ERR_ARGUMENT;
  if (!(headers = curl_slist_append(headers, "Accept: application/json"))) goto done;
  if (!(headers = curl_slist_append(headers, key_header))) goto done;
  if (body && !(headers = curl_slist_append(headers, "Content-Type: application/json"))) goto done;
  curl_easy_setopt(r->curl, CURLOPT_URL, url);
  curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
  curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
  curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, b);
  curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, curl_error);
  curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (body) curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
  cc = curl_easy_perform(r->curl);
  if (cc != CURLE_OK) {
    snprintf(r->error, sizeof r->error, "%s: %s", url,
             b->over         ? "answer too large"
             : curl_error[0] ? curl_error
                             : curl_easy_strerror(cc));
    rc = b->over ? REGISTRY_ERR_PROTOCOL : REGISTRY_ERR_NETWORK;
    goto done;
  }
  curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
  rc = 0;
done:
  curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, NULL);
  curl_slist_free_all(headers);
  return rc;
}

static bool digits_only(const char *s, size_t max)
{
  size_t n = strlen(s);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

/* The operator's own words from an error answer, for the log. */
static void error_detail(registry_t *r, const char *url, long status, const buffer_t *b)
{
  json_t *j = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
  const char *why = json_string_value(json_object_get(j, "description"));
  /* A real operator answers in Russian: cut, if need be, at a character. */
  errtab_format(NULL, 0, r->error, sizeof r->error, "", "%s: HTTP %ld%s%s", url, status,
                why ? ": " : "", why ? why : "");
  json_decref(j);
}

int registry_fetch_page(registry_t *r, const char *owner, const char *after, unsigned limit,
                        registry_page_t *page)
{
  char url[URL_MAX + 128];
  buffer_t b;
  long status = 0;
  int rc, n;

  if (!r || !page) return REGISTRY_ERR_ARGUMENT;
  r->error[0] = '\0';
  if (after && after[0] && !cursor_ok(after, strlen(after), false)) return REGISTRY_ERR_ARGUMENT;
  if (owner && owner[0] &&
      (!digits_only(owner, 12) || (strlen(owner) != 10 && strlen(owner) != 12)))
    return REGISTRY_ERR_ARGUMENT;
  if (limit == 0) limit = REGISTRY_PAGE_LIMIT;
  n = snprintf(url, sizeof url, "%s/api/v4/true-api/lm/codes?after=%s&limit=%u%s%s", r->url,
               after && after[0] ? after : "0", limit, owner && owner[0] ? "&owner=" : "",
               owner && owner[0] ? owner : "");
  if (n < 0 || (size_t)n >= sizeof url) return REGISTRY_ERR_ARGUMENT;
  if ((rc = http_request(r, url, NULL, &status, &b)) != 0) goto done;
  if (status == 401 || status == 403) {
    error_detail(r, url, status, &b);
    rc = REGISTRY_ERR_AUTH;
  } else if (status != 200) {
    error_detail(r, url, status, &b);
    rc = REGISTRY_ERR_PROTOCOL;
  } else if ((rc = registry_parse_page(b.data ? b.data : "", b.len, page)) != 0) {
    snprintf(r->error, sizeof r->error, "%s: the page is not the feed's JSON", url);
  }
done:
  buffer_free(&b);
  return rc;
}

int registry_report_remark(registry_t *r, const char *old, const char *new_code, size_t new_len,
                           const char *owner, registry_remark_result_t *out)
{
  char url[URL_MAX + 64], *body = NULL;
  json_t *in = NULL, *answer = NULL;
  buffer_t b = {0};
  long status = 0;
  int rc;

  if (out) memset(out, 0, sizeof *out);
  if (!r || !old || !old[0] || !new_code || !new_len || !out) return REGISTRY_ERR_ARGUMENT;
  r->error[0] = '\0';
  snprintf(url, sizeof url, "%s/api/v4/true-api/lm/remark", r->url);
  /* jansson writes GS as \u001d, as the operator's JSON wants. */
  in = json_pack("{s:s,s:s%}", "old", old, "new", new_code, new_len);
  if (in && owner && owner[0]) json_object_set_new(in, "owner", json_string(owner));
  if (!in || !(body = json_dumps(in, JSON_COMPACT))) {
    rc = in ? REGISTRY_ERR_NO_MEMORY : REGISTRY_ERR_ARGUMENT;
    goto done;
  }
  if ((rc = http_request(r, url, body, &status, &b)) != 0) goto done;
  out->http_status = (unsigned)status;
  answer = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  if (status == 401 || status == 403) {
    error_detail(r, url, status, &b);
    rc = REGISTRY_ERR_AUTH;
  } else if (status == 200) {
    const char *ki = json_string_value(json_object_get(answer, "new"));
    const char *inn = json_string_value(json_object_get(answer, "owner"));
    if (!ki || !inn || !json_is_boolean(json_object_get(answer, "repeated"))) {
      snprintf(r->error, sizeof r->error, "%s: the answer is not the remark's JSON", url);
      rc = REGISTRY_ERR_PROTOCOL;
      goto done;
    }
    out->repeated = json_is_true(json_object_get(answer, "repeated"));
    snprintf(out->new_ki, sizeof out->new_ki, "%s", ki);
    snprintf(out->owner, sizeof out->owner, "%s", inn);
  } else if (status >= 400 && status < 500 && json_is_string(json_object_get(answer, "error"))) {
    snprintf(out->error, sizeof out->error, "%s",
             json_string_value(json_object_get(answer, "error")));
    snprintf(out->description, sizeof out->description, "%s",
             json_string_value(json_object_get(answer, "description"))
                 ? json_string_value(json_object_get(answer, "description"))
                 : "");
    error_detail(r, url, status, &b);
    rc = REGISTRY_ERR_REFUSED;
  } else {
    error_detail(r, url, status, &b);
    rc = REGISTRY_ERR_PROTOCOL;
  }
done:
  json_decref(answer);
  json_decref(in);
  free(body);
  buffer_free(&b);
  return rc;
}
