/*
** ofd/trueapi.c: the permissive-mode check over libcurl (see trueapi.h).
**
** The shape of one check: refresh the host list if it is missing or stale,
** build the body with jansson (which writes GS as \u001d, as true-api
** wants), then walk the ranked hosts that are not quarantined, giving each
** request what is left of the budget (or the per-attempt cap). The first
** answer that parses wins. HTTP 401/403 stops the walk (another host would
** refuse the same key) and quarantines nothing; anything else that is not
** an answer (refused, timed out, 5xx, not JSON) quarantines that host.
**
** One curl easy handle is kept and reset between requests, so its
** connection cache survives: a till talking to one host every few seconds
** does not pay a TCP handshake per scan. CURLOPT_NOSIGNAL keeps curl's
** timeouts away from signals (the till has threads).
*/
#define _GNU_SOURCE
#include "ofd/trueapi.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buffer.h"
#include "common/errtab.h"

#define ANSWER_MAX     (1u << 20)
#define MIN_ATTEMPT_MS 20u
#define URL_MAX        256
#define KM_MAX         512

typedef struct host {
  char url[URL_MAX];
  uint32_t avg_ms;
  int64_t quarantined_until; /* wall ms; 0: never */
  unsigned timeouts;         /* late answers in a row (reset by an answer) */
} host_t;

/* What one request came to. */
typedef enum attempt {
  ATTEMPT_ANSWER = 0,  /* an HTTP answer (any status) */
  ATTEMPT_ERROR = -1,  /* refused, reset, DNS, a body too big ... */
  ATTEMPT_TIMEOUT = -2 /* nothing in the time given */
} attempt_t;

struct trueapi {
  char *cdn_url, *api_key, *fn_number;
  unsigned budget_ms, attempt_ms, quarantine_s, timeout_quarantine_s, refresh_s, health_timeout_ms;
  trueapi_clock_ms_t clock;
  void *clock_user;
  CURL *curl;
  host_t hosts[TRUEAPI_HOSTS_MAX];
  size_t host_count;
  int64_t refreshed_at; /* wall ms; 0: never */
};

/* ---------------------------------------------------------------------- */
/* Names and messages                                                      */

static const errtab_t errors[] = {
    {TRUEAPI_OK, "ok", "Готово.", "Done."},
    {TRUEAPI_ERR_ARGUMENT, "argument", "Неверный параметр проверки кода.",
     "Bad parameter for the code check."},
    {TRUEAPI_ERR_NO_MEMORY, "no_memory", "Не хватает памяти.", "Out of memory."},
    {TRUEAPI_ERR_NO_ANSWER, "no_answer",
     "Честный ЗНАК не ответил вовремя: решение принимается без него.",
     "Chestny ZNAK did not answer in time: deciding without it."},
    {TRUEAPI_ERR_NO_HOST, "no_host",
     "Нет доступных серверов Честного ЗНАКа: решение принимается без них.",
     "No Chestny ZNAK server is available: deciding without it."},
    {TRUEAPI_ERR_AUTH, "auth", "Честный ЗНАК не принял ключ API: проверьте настройки кассы.",
     "Chestny ZNAK refused the API key: check the till's settings."},
    {TRUEAPI_ERR_PROTOCOL, "protocol", "Непонятный ответ Честного ЗНАКа.",
     "Chestny ZNAK sent an answer we cannot read."},
    {TRUEAPI_ERR_EMERGENCY, "emergency",
     "Сервис проверки Честного ЗНАКа в аварийном режиме: проверка через локальный "
     "модуль.",
     "Chestny ZNAK's check service is in emergency mode: checking through the local "
     "module."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *trueapi_err_name(int err) { return errtab_name(errors, err); }

const char *trueapi_err_message(int err, bool ru) { return errtab_message(errors, err, ru); }

static const struct {
  const char *name, *ru, *en;
} verdicts[] = {
    [TRUEAPI_SELL] = {"ok", "Продажа разрешена.", "Sale allowed."},
    [TRUEAPI_BAD_FORMAT] = {"bad_format",
                            "Код маркировки повреждён или неверного формата: продажа запрещена.",
                            "The marking code is damaged or malformed: sale refused."},
    [TRUEAPI_UNKNOWN] = {"not_found",
                         "Код маркировки не найден в Честном ЗНАКе: продажа запрещена.",
                         "The marking code is not known to Chestny ZNAK: sale refused."},
    [TRUEAPI_NOT_APPLIED] = {"not_applied",
                             "Код маркировки не нанесён (не введён в оборот): продажа запрещена.",
                             "The marking code was never applied to goods: sale refused."},
    [TRUEAPI_CRYPTO_FAILED] =
        {"crypto_failed", "Криптохвост кода не прошёл проверку (подделка?): продажа запрещена.",
         "The code's crypto tail failed verification (fake?): sale refused."},
    [TRUEAPI_BLOCKED] = {"blocked", "Продажа заблокирована по решению госоргана.",
                         "Sale blocked by a government authority."},
    [TRUEAPI_SOLD] = {"sold", "Этот товар уже продан (выведен из оборота): продажа запрещена.",
                      "This item has already been sold (withdrawn): sale refused."},
    [TRUEAPI_NOT_IN_CIRCULATION] = {"not_in_circulation", "Товар не в обороте: продажа запрещена.",
                                    "The item is not in circulation: sale refused."},
    [TRUEAPI_EXPIRED] = {"expired", "Срок годности товара истёк: продажа запрещена.",
                         "The item is past its expiry date: sale refused."},
    [TRUEAPI_PRICE_LOW] = {"price_below_min",
                           "Цена ниже минимальной розничной цены: продажа запрещена.",
                           "The price is below the minimum retail price: sale refused."},
    [TRUEAPI_PRICE_HIGH] = {"price_above_max",
                            "Цена выше максимальной розничной цены (МРЦ): продажа запрещена.",
                            "The price is above the maximum retail price: sale refused."},
    [TRUEAPI_NO_ANSWER] = {"no_answer", "Честный ЗНАК не ответил: касса решает по своим данным.",
                           "Chestny ZNAK did not answer: the till decides from its own data."},
};

const char *trueapi_verdict_name(trueapi_verdict_t v)
{
  return (unsigned)v < sizeof verdicts / sizeof verdicts[0] ? verdicts[v].name : "unknown";
}

const char *trueapi_verdict_message(trueapi_verdict_t v, bool ru)
{
  if ((unsigned)v >= sizeof verdicts / sizeof verdicts[0])
    return ru ? "Неизвестный результат проверки." : "Unknown check result.";
  return ru ? verdicts[v].ru : verdicts[v].en;
}

/* ---------------------------------------------------------------------- */
/* Parsing and the deny order                                              */

static bool get_bool(json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

static void copy_string(json_t *o, const char *k, char *out, size_t cap)
{
  const char *v = json_string_value(json_object_get(o, k));
  snprintf(out, cap, "%s", v ? v : "");
}

/* "2026-03-01T00:00:00.000Z" (fraction and Z optional) or a number of ms. */
static bool parse_date(json_t *v, int64_t *ms)
{
  struct tm tm;
  const char *s = json_string_value(v), *rest;
  if (json_is_integer(v)) {
    *ms = (int64_t)json_integer_value(v);
    return true;
  }
  if (!s) return false;
  memset(&tm, 0, sizeof tm);
  rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) {
    memset(&tm, 0, sizeof tm);
    rest = strptime(s, "%Y-%m-%d", &tm);
  }
  if (!rest) return false;
  *ms = (int64_t)timegm(&tm) * 1000;
  return true;
}

/* A non-negative count; 0 when absent or not a number. */
static uint32_t get_count(json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  if (!json_is_integer(v) || json_integer_value(v) <= 0) return 0;
  return json_integer_value(v) > 1000000 ? 1000000u : (uint32_t)json_integer_value(v);
}

static bool get_kopecks(json_t *o, const char *k, uint64_t *out)
{
  json_t *v = json_object_get(o, k);
  if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

int trueapi_parse_answer(const char *text, size_t len, trueapi_result_t *out)
{
  json_t *root = NULL, *codes, *c, *groups, *g;
  trueapi_code_t *k;
  const char *req_id;
  size_t i;
  int rc = TRUEAPI_ERR_PROTOCOL, n;

  if (!text || !out) return TRUEAPI_ERR_ARGUMENT;
  k = &out->code;
  memset(k, 0, sizeof *k);
  out->req_id[0] = out->tag1265[0] = '\0';
  out->req_timestamp = 0;
  root = json_loadb(text, len, 0, NULL);
  if (!json_is_object(root) || !json_is_integer(json_object_get(root, "code")) ||
      json_integer_value(json_object_get(root, "code")) != 0)
    goto fail;
  req_id = json_string_value(json_object_get(root, "reqId"));
  if (!req_id || !*req_id || strlen(req_id) >= sizeof out->req_id ||
      !json_is_integer(json_object_get(root, "reqTimestamp")))
    goto fail;
  snprintf(out->req_id, sizeof out->req_id, "%s", req_id);
  out->req_timestamp = (int64_t)json_integer_value(json_object_get(root, "reqTimestamp"));
  n = snprintf(out->tag1265, sizeof out->tag1265, "UUID=%s&Time=%lld", out->req_id,
               (long long)out->req_timestamp);
  if (n < 0 || (size_t)n >= sizeof out->tag1265) goto fail;
  codes = json_object_get(root, "codes");
  if (!json_is_array(codes) || !json_is_object(c = json_array_get(codes, 0))) goto fail;
  copy_string(c, "cis", k->cis, sizeof k->cis);
  copy_string(c, "gtin", k->gtin, sizeof k->gtin);
  copy_string(c, "message", k->message, sizeof k->message);
  groups = json_object_get(c, "groupIds");
  json_array_foreach(groups, i, g)
  {
    if (json_is_integer(g) && k->group_count < TRUEAPI_GROUPS_MAX)
      k->group_ids[k->group_count++] = (int)json_integer_value(g);
  }
  k->valid = get_bool(c, "valid");
  k->verified = get_bool(c, "verified");
  k->found = get_bool(c, "found");
  k->realizable = get_bool(c, "realizable");
  k->utilised = get_bool(c, "utilised");
  k->blocked = get_bool(c, "isBlocked");
  k->owner = get_bool(c, "isOwner");
  k->sold = get_bool(c, "sold");
  k->gray_zone = get_bool(c, "grayZone");
  copy_string(c, "packageType", k->package_type, sizeof k->package_type);
  k->inner_unit_count = get_count(c, "innerUnitCount");
  k->package_quantity = get_count(c, "packageQuantity");
  k->has_expire = parse_date(json_object_get(c, "expireDate"), &k->expire_ms);
  k->has_mrp = get_kopecks(c, "mrp", &k->mrp);
  k->has_smp = get_kopecks(c, "smp", &k->smp);
  k->error_code = (int)json_integer_value(json_object_get(c, "errorCode"));
  rc = 0;
fail:
  json_decref(root);
  if (rc != 0) {
    out->req_id[0] = out->tag1265[0] = '\0';
    out->req_timestamp = 0;
  }
  return rc;
}

static bool in_group(const trueapi_code_t *c, int a, int b, int d)
{
  for (size_t i = 0; i < c->group_count; i++) {
    if (c->group_ids[i] == a || c->group_ids[i] == b || c->group_ids[i] == d) return true;
  }
  return false;
}

/* Consumer units in what was scanned: 1 for a unit (a pack), the answer's
** count for a block (packageQuantity, else innerUnitCount, else 10). A
** block is a packageType other than UNIT, or a count above 1. */
static uint64_t units_of(const trueapi_code_t *c)
{
  bool unit = !c->package_type[0] || !strcmp(c->package_type, "UNIT");
  if (c->package_quantity > 1) return c->package_quantity;
  if (c->inner_unit_count > 1) return c->inner_unit_count;
  return unit ? 1u : TRUEAPI_BLOCK_UNITS;
}

/* The price rules, one row per group family: who they apply to, whether
** mrp is a maximum (tobacco) or the minimum (nicotine). */
static const struct {
  int groups[3];
  bool mrp_is_minimum;
} price_rules[] = {
    {{TRUEAPI_GROUP_TOBACCO, TRUEAPI_GROUP_OTP, -1}, false},
    {{TRUEAPI_GROUP_NICOTINE, -1, -1}, true},
};

static trueapi_verdict_t price_verdict(const trueapi_code_t *c, uint64_t sale_price)
{
  uint64_t units = units_of(c);
  for (size_t i = 0; i < sizeof price_rules / sizeof price_rules[0]; i++) {
    const int *g = price_rules[i].groups;
    if (!in_group(c, g[0], g[1], g[2])) continue;
    if (price_rules[i].mrp_is_minimum) {
      if (c->has_mrp && c->mrp > 0 && sale_price < c->mrp * units) return TRUEAPI_PRICE_LOW;
      return TRUEAPI_SELL;
    }
    if (c->has_smp && c->smp > 0 && sale_price < c->smp * units) return TRUEAPI_PRICE_LOW;
    if (c->has_mrp && c->mrp > 0 && sale_price > c->mrp * units) return TRUEAPI_PRICE_HIGH;
    return TRUEAPI_SELL;
  }
  return TRUEAPI_SELL;
}

trueapi_verdict_t trueapi_decide(const trueapi_code_t *c, int64_t now_ms, uint64_t sale_price)
{
  if (!c || !c->valid) return TRUEAPI_BAD_FORMAT;
  if (!c->found) return TRUEAPI_UNKNOWN;
  if (!c->utilised) return TRUEAPI_NOT_APPLIED;
  if (!c->verified) return TRUEAPI_CRYPTO_FAILED;
  if (c->blocked) return TRUEAPI_BLOCKED;
  if (c->sold) return TRUEAPI_SOLD;
  /* Grey zone: tobacco of the untraced stock sells though not "realizable". */
  if (!c->realizable && !(c->gray_zone && in_group(c, TRUEAPI_GROUP_TOBACCO, -1, -1)))
    return TRUEAPI_NOT_IN_CIRCULATION;
  if (c->has_expire && c->expire_ms < now_ms &&
      in_group(c, TRUEAPI_GROUP_MILK, TRUEAPI_GROUP_WATER, TRUEAPI_GROUP_BEER))
    return TRUEAPI_EXPIRED;
  if (sale_price > 0) return price_verdict(c, sale_price);
  return TRUEAPI_SELL;
}

/* ---------------------------------------------------------------------- */
/* HTTP                                                                    */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int64_t wall_ms(void *user)
{
  struct timespec ts;
  (void)user;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t now_of(const trueapi_t *t) { return t->clock(t->clock_user); }

/* Appends what curl received, up to ANSWER_MAX; returning less than was
** offered makes curl stop with a write error. */
static size_t on_data(char *p, size_t size, size_t n, void *user)
{
  buffer_t *b = user;
  size_t add = size * n;
  if (buffer_append(b, p, add) != 0 || b->over) return 0;
  return add;
}

/*
** One request: GET (body NULL) or POST of body to url within timeout_ms.
** *status is the HTTP status (0: no answer); the answer goes to b (the
** caller frees b->data). ATTEMPT_ANSWER when an HTTP answer came,
** ATTEMPT_TIMEOUT when the time ran out, ATTEMPT_ERROR otherwise.
*/
static attempt_t http_request(trueapi_t *t, const char *url, const char *body, unsigned timeout_ms,
                              long *status, buffer_t *b)
{
  struct curl_slist *headers = NULL;
  char key_header[320];
  attempt_t rc = ATTEMPT_ERROR;
  CURLcode cc;
  int n;

  *status = 0;
  memset(b, 0, sizeof *b);
  b->limit = ANSWER_MAX;
  curl_easy_reset(t->curl);
  n = snprintf(key_header, sizeof key_header, "X-API-KEY: %s", t->api_key);
  if (n < 0 || (size_t)n >= sizeof key_header) goto fail;
  if (!(headers = curl_slist_append(headers, "Accept: application/json"))) goto fail;
  if (body && !(headers = curl_slist_append(headers, "Content-Type: application/json"))) goto fail;
  if (body && !(headers = curl_slist_append(headers, key_header))) goto fail;
  curl_easy_setopt(t->curl, CURLOPT_URL, url);
  curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, b);
  curl_easy_setopt(t->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (body) curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
  if ((cc = curl_easy_perform(t->curl)) != CURLE_OK) {
    if (cc == CURLE_OPERATION_TIMEDOUT) rc = ATTEMPT_TIMEOUT;
    goto fail;
  }
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, status);
  rc = ATTEMPT_ANSWER;
fail:
  curl_slist_free_all(headers);
  return rc;
}

static int join_url(char *out, size_t cap, const char *base, const char *path)
{
  size_t n = strlen(base);
  int w;
  while (n > 0 && base[n - 1] == '/') n--;
  w = snprintf(out, cap, "%.*s%s", (int)n, base, path);
  return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Hosts                                                                   */

static bool quarantined(const host_t *h, int64_t now) { return h->quarantined_until > now; }

/* A failure: 15 minutes for an error or a second timeout in a row, the
** short quarantine for a first timeout. */
static void quarantine(trueapi_t *t, host_t *h, bool timeout)
{
  unsigned s = t->quarantine_s;
  if (timeout && h->timeouts++ == 0) s = t->timeout_quarantine_s;
  if (!timeout) h->timeouts = 0;
  h->quarantined_until = now_of(t) + (int64_t)s * 1000;
}

static unsigned left_ms(uint64_t deadline)
{
  uint64_t now = mono_ms();
  return now >= deadline ? 0u : (unsigned)(deadline - now);
}

/* The refresh, bounded by deadline (monotonic ms; 0: none). */
static int refresh(trueapi_t *t, uint64_t deadline)
{
  host_t fresh[TRUEAPI_HOSTS_MAX];
  size_t count = 0, i;
  char url[URL_MAX + 64];
  buffer_t b = {0};
  json_t *root = NULL, *hosts, *h;
  long status = 0;
  unsigned timeout = t->health_timeout_ms;
  int64_t now = now_of(t);
  int rc = TRUEAPI_ERR_NO_HOST;

  if (deadline && left_ms(deadline) < timeout) timeout = left_ms(deadline);
  if (timeout < MIN_ATTEMPT_MS) return TRUEAPI_ERR_NO_ANSWER;
  if (join_url(url, sizeof url, t->cdn_url, "/api/v4/true-api/cdn/info") != 0)
    return TRUEAPI_ERR_ARGUMENT;
  if (http_request(t, url, NULL, timeout, &status, &b) != ATTEMPT_ANSWER || status != 200)
    goto fail;
  root = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
  hosts = json_object_get(root, "hosts");
  if (!json_is_array(hosts)) goto fail;
  json_array_foreach(hosts, i, h)
  {
    const char *u = json_string_value(json_object_get(h, "host"));
    if (!u || strlen(u) >= URL_MAX || count == TRUEAPI_HOSTS_MAX) continue;
    memset(&fresh[count], 0, sizeof fresh[count]);
    snprintf(fresh[count].url, URL_MAX, "%s", u);
    fresh[count].avg_ms = UINT32_MAX;
    count++;
  }
  if (count == 0) goto fail;
  for (i = 0; i < count; i++) {
    host_t *x = &fresh[i];
    buffer_t hb = {0};
    json_t *hj = NULL, *avg;
    /* A running quarantine survives the refresh, with its count. */
    for (size_t j = 0; j < t->host_count; j++) {
      if (strcmp(t->hosts[j].url, x->url) == 0) {
        x->quarantined_until = t->hosts[j].quarantined_until;
        x->timeouts = t->hosts[j].timeouts;
      }
    }
    timeout = t->health_timeout_ms;
    if (deadline && left_ms(deadline) < timeout) timeout = left_ms(deadline);
    if (timeout >= MIN_ATTEMPT_MS &&
        join_url(url, sizeof url, x->url, "/api/v4/true-api/cdn/health/check") == 0 &&
        http_request(t, url, NULL, timeout, &status, &hb) == ATTEMPT_ANSWER && status == 200 &&
        (hj = json_loadb(hb.data ? hb.data : "", hb.len, 0, NULL)) &&
        json_integer_value(json_object_get(hj, "code")) == 0 &&
        json_is_integer(avg = json_object_get(hj, "avgTimeMs")) && json_integer_value(avg) >= 0) {
      json_int_t v = json_integer_value(avg);
      x->avg_ms = v >= (json_int_t)UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)v;
    } else if (timeout >= MIN_ATTEMPT_MS) {
      x->avg_ms = UINT32_MAX;
      x->quarantined_until = now + (int64_t)t->quarantine_s * 1000;
    }
    json_decref(hj);
    buffer_free(&hb);
  }
  /* Stable insertion sort by avgTimeMs: ties keep cdn/info's order. */
  for (i = 1; i < count; i++) {
    host_t x = fresh[i];
    size_t j = i;
    while (j > 0 && fresh[j - 1].avg_ms > x.avg_ms) {
      fresh[j] = fresh[j - 1];
      j--;
    }
    fresh[j] = x;
  }
  memcpy(t->hosts, fresh, count * sizeof fresh[0]);
  t->host_count = count;
  t->refreshed_at = now;
  rc = 0;
fail:
  json_decref(root);
  buffer_free(&b);
  return rc;
}

int trueapi_refresh_hosts(trueapi_t *t)
{
  if (!t) return TRUEAPI_ERR_ARGUMENT;
  return refresh(t, 0);
}

size_t trueapi_host_count(const trueapi_t *t) { return t ? t->host_count : 0; }

int trueapi_host(const trueapi_t *t, size_t i, const char **url, uint32_t *avg_ms,
                 bool *is_quarantined)
{
  if (!t || i >= t->host_count) return TRUEAPI_ERR_ARGUMENT;
  if (url) *url = t->hosts[i].url;
  if (avg_ms) *avg_ms = t->hosts[i].avg_ms;
  if (is_quarantined) *is_quarantined = quarantined(&t->hosts[i], now_of(t));
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Life cycle and the check                                                */

int trueapi_create(const trueapi_options_t *o, trueapi_t **out)
{
  trueapi_t *t = NULL;
  if (!out) return TRUEAPI_ERR_ARGUMENT;
  *out = NULL;
  if (!o || !o->cdn_url || !o->api_key || !o->fn_number || strlen(o->cdn_url) >= URL_MAX ||
      strlen(o->api_key) > 200)
    return TRUEAPI_ERR_ARGUMENT;
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) return TRUEAPI_ERR_NO_MEMORY;
  if (!(t = calloc(1, sizeof *t))) return TRUEAPI_ERR_NO_MEMORY;
  t->cdn_url = strdup(o->cdn_url);
  t->api_key = strdup(o->api_key);
  t->fn_number = strdup(o->fn_number);
  t->curl = curl_easy_init();
  if (!t->cdn_url || !t->api_key || !t->fn_number || !t->curl) goto fail;
  t->budget_ms = o->budget_ms ? o->budget_ms : TRUEAPI_BUDGET_MS;
  t->attempt_ms = o->attempt_ms;
  t->quarantine_s = o->quarantine_s ? o->quarantine_s : TRUEAPI_QUARANTINE_S;
  t->timeout_quarantine_s =
      o->timeout_quarantine_s ? o->timeout_quarantine_s : TRUEAPI_TIMEOUT_QUARANTINE_S;
  t->refresh_s = o->refresh_s ? o->refresh_s : TRUEAPI_REFRESH_S;
  t->health_timeout_ms = o->health_timeout_ms ? o->health_timeout_ms : TRUEAPI_HEALTH_TIMEOUT_MS;
  t->clock = o->clock ? o->clock : wall_ms;
  t->clock_user = o->clock ? o->clock_user : NULL;
  *out = t;
  return 0;
fail:
  trueapi_destroy(t);
  return TRUEAPI_ERR_NO_MEMORY;
}

void trueapi_destroy(trueapi_t *t)
{
  if (!t) return;
  if (t->curl) curl_easy_cleanup(t->curl);
  free(t->cdn_url);
  free(t->api_key);
  free(t->fn_number);
  free(t);
}

static void no_answer(trueapi_result_t *out, int err, uint64_t start)
{
  out->verdict = TRUEAPI_NO_ANSWER;
  out->err = err;
  out->elapsed_ms = (unsigned)(mono_ms() - start);
}

/* What asking one host came to. */
typedef enum ask {
  ASK_ANSWERED, /* out holds the verdict */
  ASK_FAILED,   /* no answer: the host is quarantined, try another */
  ASK_STOP,     /* auth refused or emergency: *rc says which, stop the walk */
} ask_t;

static ask_t ask_host(trueapi_t *t, host_t *h, const char *body, uint64_t deadline,
                      uint64_t sale_price, trueapi_result_t *out, int *rc)
{
  char url[URL_MAX + 64];
  unsigned timeout = left_ms(deadline);
  buffer_t b;
  long status = 0;
  attempt_t got;
  if (t->attempt_ms && t->attempt_ms < timeout) timeout = t->attempt_ms;
  if (join_url(url, sizeof url, h->url, "/api/v4/true-api/codes/check") != 0) {
    quarantine(t, h, false);
    return ASK_FAILED;
  }
  out->hosts_tried++;
  got = http_request(t, url, body, timeout, &status, &b);
  if (got == ATTEMPT_ANSWER && (status == 401 || status == 403)) {
    buffer_free(&b);
    *rc = TRUEAPI_ERR_AUTH;
    return ASK_STOP;
  }
  if (got == ATTEMPT_ANSWER && status == 203) { /* alive, but no verdict to give */
    buffer_free(&b);
    *rc = TRUEAPI_ERR_EMERGENCY;
    return ASK_STOP;
  }
  if (got == ATTEMPT_ANSWER && status == 200 && b.data &&
      trueapi_parse_answer(b.data, b.len, out) == 0) {
    buffer_free(&b);
    h->timeouts = 0;
    h->quarantined_until = 0;
    snprintf(out->host, sizeof out->host, "%s", h->url);
    out->verdict = trueapi_decide(&out->code, now_of(t), sale_price);
    out->err = 0;
    return ASK_ANSWERED;
  }
  buffer_free(&b);
  quarantine(t, h, got == ATTEMPT_TIMEOUT);
  return ASK_FAILED;
}

int trueapi_check(trueapi_t *t, const char *km, size_t len, uint64_t sale_price,
                  trueapi_result_t *out)
{
  uint64_t start = mono_ms(), deadline;
  json_t *req = NULL;
  char *body = NULL;
  int rc = TRUEAPI_ERR_NO_ANSWER;
  bool asked[TRUEAPI_HOSTS_MAX] = {false};
  size_t i, best = SIZE_MAX;
  int64_t now;

  if (!out) return TRUEAPI_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (!t || !km || len == 0 || len > KM_MAX) {
    no_answer(out, TRUEAPI_ERR_ARGUMENT, start);
    return TRUEAPI_ERR_ARGUMENT;
  }
  deadline = start + t->budget_ms;
  if (t->host_count == 0 || now_of(t) - t->refreshed_at >= (int64_t)t->refresh_s * 1000) {
    int r = refresh(t, deadline);
    if (r != 0 && t->host_count == 0) {
      rc = r == TRUEAPI_ERR_NO_ANSWER ? r : TRUEAPI_ERR_NO_HOST;
      goto fail;
    }
  }
  req = json_pack("{s:[s%],s:s}", "codes", km, len, "fiscalDriveNumber", t->fn_number);
  if (!req || !(body = json_dumps(req, JSON_COMPACT))) {
    rc = TRUEAPI_ERR_NO_MEMORY;
    goto fail;
  }
  /* The free hosts, best first. */
  for (i = 0; i < t->host_count; i++) {
    host_t *h = &t->hosts[i];
    if (quarantined(h, now_of(t))) continue;
    if (left_ms(deadline) < MIN_ATTEMPT_MS) break;
    asked[i] = true;
    switch (ask_host(t, h, body, deadline, sale_price, out, &rc)) {
    case ASK_ANSWERED:
      goto answered;
    case ASK_STOP:
      goto fail;
    case ASK_FAILED:
      break;
    }
  }
  /* None answered: the best quarantined host not asked yet gets one try. */
  now = now_of(t);
  for (i = 0; i < t->host_count; i++) {
    if (asked[i] || !quarantined(&t->hosts[i], now)) continue;
    if (best == SIZE_MAX || t->hosts[i].quarantined_until < t->hosts[best].quarantined_until)
      best = i;
  }
  if (best != SIZE_MAX && left_ms(deadline) >= MIN_ATTEMPT_MS) {
    out->probed = true;
    switch (ask_host(t, &t->hosts[best], body, deadline, sale_price, out, &rc)) {
    case ASK_ANSWERED:
      goto answered;
    case ASK_STOP:
      goto fail;
    case ASK_FAILED:
      break;
    }
  }
  if (out->hosts_tried == 0 && left_ms(deadline) >= MIN_ATTEMPT_MS) rc = TRUEAPI_ERR_NO_HOST;
fail:
  json_decref(req);
  free(body);
  no_answer(out, rc, start);
  return rc;
answered:
  out->elapsed_ms = (unsigned)(mono_ms() - start);
  json_decref(req);
  free(body);
  return 0;
}
