/*
** lm.c: the Chestny ZNAK local module's API, answered by the till (see
** api_handle_lm in api.h; the methods, fields and error codes of the 2025
** manual, ../shared/reference/lm_manual_2025.txt, "ЛМЧЗ.17221426.37140-40
** 31", and the v1 forms front ends written for older manuals still send).
**
** Many POS front ends already know how to ask a local module (LM) on
** 127.0.0.1:5995 whether a code may be sold when the internet is down. The
** LM's own database is a synced copy of the operator's code statuses, which
** is exactly what the till's code cache holds (pos/till/cache.h, filled by
** `kassa cache sync` or `kassa serve`'s scheduled sync), plus the store's
** own knowledge: what it sold and what it blocked. So the till answers
** those front ends itself, from the cache, with the LM's field names, and
** says isCheckedOffline: true, as the LM does.
**
** The routes (a table, lm_routes below): status (v1 and v2), init (v1, v2)
** and safe_init, changePassword, stats, config, outCheck (v1 and v2, POST
** and the GET form `?cis=`), and the sold-goods database: cis/sell,
** cis/return, cis/sold/check, cis/sold (pos/till/lm_sold.h).
**
** What each means for the till, where the manual describes a service kassa
** is not ([open]: the LM's own behaviour is not public beyond the manual):
**   - Authentication: HTTP Basic or "Authorization: Token <token>", as the
**     manual lists. When [till] api_token is set, the password (or the
**     token) must equal it (constant-time, rate-limited with the API token's
**     limiter); the Basic user name is not checked (the LM's login is set at
**     installation). With no token configured, no credentials are needed.
**     A refusal is HTTP 401 with errorCode 4010.
**   - X-ClientId: the FN number. Optional; when sent it must be this
**     till's (403 otherwise), so a front end wired to another till notices.
**   - status: `not_configured` until the cache was first synced, `ready`,
**     `sync_error` when the last sync is older than [till]
**     cache_stale_hours (72 h, the manual's blockSyncPeriod of 3 days);
**     `initialization` and `failure` are never reported (the cache is filled
**     by the sync, a partial sync is ready for what it holds; a till that
**     cannot read its files answers 500 / 5040 instead). operationMode is
**     always `active` (kassa has no service mode); requiresDownload (v1)
**     is always false (kassa syncs by itself, no database file is loaded by
**     hand); isGreyGtin false (no grey-GTIN database); inn the FN's
**     registered user INN; name the program's name, "kassa"; serviceUrl the
**     operator's address the sync uses; lastUpdate = lastSync; dbVersion
**     the sync cursor; dbState the cache's counts under the LM's database
**     names (blocked_cis: codes the operator blocked; blocked_gtin: the
**     store's GTIN and series blocks; sold: the store's sold codes; cis:
**     codes synced); info (its content the manual does not describe):
**     {source: "kassa code cache", staleHours, stale}.
**   - init / safe_init: the GIS MT token is not needed (the sync talks to
**     the operator with [trueapi] api_key), so a well-formed request is
**     accepted and changes nothing but clearSold: true, which forgets the
**     sales front ends registered (cis/sell). Malformed: 6010 (no token),
**     6020 (kpp not 9 digits, token not a string), 6030 (kpp and fiasId).
**   - changePassword: the password is [till] api_token in kassa.conf, which
**     the till never rewrites from the network: a valid new password is
**     refused with 400 / 6021 saying where to change it; a weak one 6020.
**   - Never synced: HTTP 400 with errorCode 4045; stale: 4050 (outCheck,
**     sell); 4045 only for return, sold/check, sold and config.
**   - outCheck fields: found = the operator's status of the code was
**     synced; isBlocked = blocked by the operator or by the store (code,
**     GTIN or series); sold = the operator says sold, this store sold it,
**     or a front end registered its sale; realizable = in circulation and
**     neither sold nor remarked; utilised = applied (past "emitted");
**     verified = found (an LM cannot check a crypto tail: the FN does at the
**     sale); groupIds from the catalogue's true-api group id, else a
**     numeric pg; mrp from the operator or the code's 8005; expireDate and
**     smp when the operator gave them; productionDate from the code's AI 11
**     when it has one (the sync feed carries none); isOwner = the operator's
**     owner is the FN's registered INN; a pack sold by parts (1291)
**     answers innerUnitCount = its units and soldUnitCount = those sold
**     (the cache's account, common/part.h: 1/4 then 2/4 is 3 of 4), and
**     is sold (not realizable) only when its parts make the whole; any
**     other code innerUnitCount 1 and soldUnitCount 1 when sold else 0;
**     grayZone false (no grey-zone database);
**     errorCode 0 found, 1 not found, 2 not a marking code. v2 answers
**     carry the manual's "results" (one object per code, version = the
**     database version) beside the flat codes[] older front ends read.
**   - cis/sell, cis/return: all or nothing (pos/till/lm_sold.h): 4070 when a
**     code is sold already, 4075 when a returned code was never registered
**     (the till's own sales come back only through a return receipt). The
**     cis strings are RFC 1738 escaped, as the manual says; cis/sold
**     answers them escaped the same way.
**   - Errors: {"errorCode":N,"reason":…} as the manual's table 37, plus
**     "errorMessage" (the same words, the name older kassa answers used)
**     and "error" (a stable name).
*/
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/version.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/serve/api.h"
#include "pos/till/cache.h"
#include "pos/till/lm_sold.h"
#include "scanner/markcode.h"

/* The manual's error codes (table 39). */
#define LM_AUTH           4010
#define LM_NOT_FOUND      4040
#define LM_NOT_CONFIGURED 4045
#define LM_SYNC_ERROR     4050
#define LM_ALREADY_SOLD   4070
#define LM_SALE_NOT_FOUND 4075
#define LM_INTERNAL       5040
#define LM_MISSING        6010
#define LM_BAD_BODY       6011
#define LM_BAD_VALUE      6020
#define LM_BAD_PARAMS     6021
#define LM_ONLY_ONE       6030

#define LM_BULK_MAX  1000u /* codes in one request: the manual's default max_bulk_size */
#define LM_SOLD_PAGE 100u  /* cis/sold: the default limit */
#define LM_SOLD_MAX  1000u /* ... and its maximum */
#define LM_NAME      "kassa"

static void lm_error(api_response_t *rs, unsigned status, int code, const char *name,
                     const char *message)
{
  rs->error = name;
  api_send_json(rs, status,
                json_pack("{s:i,s:s,s:s,s:s}", "errorCode", code, "reason", message, "errorMessage",
                          message, "error", name));
}

/* ISO 8601 in UTC with milliseconds, as true-api writes dates. */
static json_t *iso_time(int64_t ms)
{
  char buf[40];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return json_null();
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms % 1000));
  return json_string(buf);
}

typedef struct lm_context {
  till_t *till;
  cache_t *cache;
  fn_status_t fn;
  char inst[40];
  char cursor[CACHE_CURSOR_MAX + 1];
  int64_t last_sync; /* ms, 0 never */
  bool stale;
  markcode_t *mc; /* scratch, about 3 KiB */
} lm_context_t;

/* ---- one code ----------------------------------------------------------------- */

/* AI 11 (YYMMDD, production date) as ISO 8601, or NULL. */
static json_t *production_date(const markcode_t *mc)
{
  const char *v = markcode_ai_value(mc, "11");
  if (!v || strlen(v) != 6 || strspn(v, "0123456789") != 6) return NULL;
  struct tm tm = {0};
  tm.tm_year = 100 + (v[0] - '0') * 10 + (v[1] - '0');
  tm.tm_mon = (v[2] - '0') * 10 + (v[3] - '0') - 1;
  tm.tm_mday = (v[4] - '0') * 10 + (v[5] - '0');
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return NULL;
  return iso_time((int64_t)timegm(&tm) * 1000);
}

/* The group id of a v2 "pg" (a number or a numeric string), 0 when none. */
static long group_of(json_t *pg)
{
  if (json_is_integer(pg) && json_integer_value(pg) > 0) return (long)json_integer_value(pg);
  if (json_is_string(pg)) {
    char *end = NULL;
    long v = strtol(json_string_value(pg), &end, 10);
    if (end && !*end && v > 0) return v;
  }
  return 0;
}

/* What a cis names, as the local module reads it: the identification
** part (ki) and GTIN of a full code or of a bare ki. A tobacco pack's ki
** (14 digits and a 7-character serial) is what the manual's examples send
** and no whole code, so it is taken as it is; the parse (AI 10, 11, 8005)
** is there only for a code that parsed (parsed true). */
typedef struct lm_code {
  bool valid, parsed;
  char ki[CACHE_KI_MAX + 1];
  char gtin[15];
} lm_code_t;

static bool gtin_ok(const char *d)
{
  unsigned sum = 0;
  for (int i = 0; i < 13; i++) sum += (unsigned)(d[i] - '0') * (i % 2 == 0 ? 3u : 1u);
  return strspn(d, "0123456789") >= 14 && (10 - sum % 10) % 10 == (unsigned)(d[13] - '0');
}

static void identify(markcode_t *mc, const char *text, size_t len, lm_code_t *c)
{
  memset(c, 0, sizeof *c);
  if (markcode_parse(mc, text, len) == MARKCODE_OK &&
      (mc->kind == MARKCODE_KIND_GS1 || mc->kind == MARKCODE_KIND_TOBACCO_PACK) && mc->serial[0] &&
      mc->ki[0] && strlen(mc->ki) < sizeof c->ki) {
    c->valid = c->parsed = true;
    memcpy(c->ki, mc->ki, strlen(mc->ki) + 1); /* fits: measured above */
    snprintf(c->gtin, sizeof c->gtin, "%s", mc->gtin);
    return;
  }
  if (len == 21 && gtin_ok(text)) {
    for (size_t i = 14; i < 21; i++)
      if (text[i] < 0x21 || text[i] > 0x7e) return;
    c->valid = true;
    memcpy(c->ki, text, 21);
    memcpy(c->gtin, text, 14);
  }
}

/* A cis of a sold-goods request: RFC 1738 escapes undone when what they
** give is a code, else the string as sent (the manual escapes some
** examples and not others: "04647297654361!%C5UGb" is a pack's ki). */
static void identify_escaped(markcode_t *mc, const char *text, lm_code_t *c)
{
  char plain[MARKCODE_MAX_INPUT + 1];
  size_t n = codec_percent_decode(text, plain, sizeof plain);
  if (strcmp(plain, text) != 0) {
    identify(mc, plain, n, c);
    if (c->valid) return;
  }
  identify(mc, text, strlen(text), c);
}

/* One element of codes[]: what the store's database says about cis. */
static json_t *code_answer(lm_context_t *x, json_t *cis, json_t *pg)
{
  cache_code_t row;
  cache_product_t product;
  bool have = false, found = false, blocked_here = false, has_product = false;
  markcode_t *mc = x->mc;
  lm_code_t code;

  memset(&row, 0, sizeof row);
  identify(mc, json_string_value(cis), json_string_length(cis), &code);
  bool valid = code.valid;
  if (valid) {
    have = cache_code_get(x->cache, code.ki, &row) == 0;
    found = have && row.op_synced_ms != 0;
    has_product = cache_product_get(x->cache, code.gtin, &product) == 0;
    cache_block_find(x->cache, code.ki, code.gtin, code.parsed ? markcode_ai_value(mc, "10") : NULL,
                     &blocked_here, NULL, NULL);
  }
  bool sold = (found && row.op_sold) || (valid && lm_sold_is_sold(x->till, code.ki));
  bool remarked = have && row.local == CACHE_LOCAL_REMARKED;
  bool blocked = (found && row.op_blocked) || blocked_here;
  json_t *groups = json_array();
  long group = has_product && product.group_id > 0 ? product.group_id : group_of(pg);
  if (groups && group > 0) json_array_append_new(groups, json_integer(group));
  uint64_t mrp = found ? row.mrp : 0;
  if (!mrp && code.parsed && markcode_ai_value(mc, "8005"))
    mrp = strtoull(markcode_ai_value(mc, "8005"), NULL, 10);

  json_t *o = json_object();
  if (!o) {
    json_decref(groups);
    return NULL;
  }
  json_object_set(o, "cis", cis);
  json_object_set_new(o, "valid", json_boolean(valid));
  json_object_set_new(o, "printView", valid ? json_string(code.ki) : json_incref(cis));
  json_object_set_new(o, "gtin", valid ? json_string(code.gtin) : json_null());
  json_object_set_new(o, "groupIds", groups);
  json_object_set_new(o, "verified", json_boolean(found));
  json_object_set_new(o, "found", json_boolean(found));
  json_object_set_new(
      o, "realizable",
      json_boolean(found && row.op_state == CACHE_OP_CIRCULATION && !sold && !remarked));
  json_object_set_new(o, "utilised", json_boolean(found && row.op_state >= CACHE_OP_APPLIED));
  json_object_set_new(o, "isBlocked", json_boolean(blocked));
  json_object_set_new(o, "isOwner",
                      json_boolean(found && row.owner_inn[0] && x->fn.user_inn[0] &&
                                   !strcmp(row.owner_inn, x->fn.user_inn)));
  if (found && row.expire_ms > 0) json_object_set_new(o, "expireDate", iso_time(row.expire_ms));
  json_t *made = code.parsed ? production_date(mc) : NULL;
  if (made) json_object_set_new(o, "productionDate", made);
  json_object_set_new(o, "sold", json_boolean(sold));
  /* A pack sold by parts: how many of its units are sold (the cache's
  ** account, common/part.h); any other code is one unit. */
  bool parts = have && row.local == CACHE_LOCAL_SOLD && row.part_units > 1;
  json_object_set_new(o, "innerUnitCount", json_integer(parts ? (json_int_t)row.part_units : 1));
  json_object_set_new(o, "soldUnitCount",
                      json_integer(parts  ? (json_int_t)row.part_sold
                                   : sold ? 1
                                          : 0));
  json_object_set_new(o, "grayZone", json_false());
  if (mrp) json_object_set_new(o, "mrp", json_integer((json_int_t)mrp));
  if (found && row.smp) json_object_set_new(o, "smp", json_integer((json_int_t)row.smp));
  json_object_set_new(o, "isCheckedOffline", json_true());
  json_object_set_new(o, "inst", json_string(x->inst));
  json_object_set_new(o, "version", json_string(KASSA_VERSION));
  json_object_set_new(o, "errorCode", json_integer(!valid ? 2 : found ? 0 : 1));
  json_object_set_new(o, "message",
                      json_string(!valid   ? "bad format"
                                  : !found ? "code not found"
                                           : "ok"));
  return o;
}

/* ---- gates -------------------------------------------------------------------- */

enum {
  BODY = 1,       /* a JSON object body (6011 otherwise) */
  CONFIGURED = 2, /* 4045 while never synced */
  FRESH = 4,      /* ... and 4050 when stale */
  LIST = 8,       /* cis_list of strings, checked before the cache's state */
  LIST_V2 = 16,   /* ... or of {"cis","pg"} objects */
};

static int cache_gate(lm_context_t *x, unsigned flags, api_response_t *rs)
{
  if (!(flags & (CONFIGURED | FRESH))) return 0;
  if (x->last_sync == 0) {
    lm_error(rs, 400, LM_NOT_CONFIGURED, "not_configured",
             "Недопустимый статус системы: not_configured. The local module is not configured: "
             "the code cache was never synced.");
    return -1;
  }
  if ((flags & FRESH) && x->stale) {
    lm_error(rs, 400, LM_SYNC_ERROR, "sync_error",
             "Офлайн проверка КИ невозможна: статус системы sync_error. The code cache is stale "
             "(no sync within the allowed hours): sync it.");
    return -1;
  }
  return 0;
}

static const char *state_name(const lm_context_t *x)
{
  return x->last_sync == 0 ? "not_configured" : x->stale ? "sync_error" : "ready";
}

/* ---- outCheck ----------------------------------------------------------------- */

/* Answers a list of (cis, pg) pairs; version 2 adds the manual's results. */
static void out_check_list(lm_context_t *x, json_t *list, int version, api_response_t *rs)
{
  json_t *codes = json_array(), *results = version == 2 ? json_array() : NULL, *v;
  size_t i;
  char req_id[37];
  int64_t now = till_now_ms(x->till);
  if (!codes || (version == 2 && !results)) goto oom;
  api_uuid(req_id);
  json_array_foreach(list, i, v)
  {
    json_t *cis = json_is_string(v) ? v : json_object_get(v, "cis");
    json_t *one = code_answer(x, cis, json_is_object(v) ? json_object_get(v, "pg") : NULL);
    if (!one) goto oom;
    if (results) {
      bool valid = json_is_true(json_object_get(one, "valid"));
      json_t *r = json_pack("{s:s,s:I,s:s,s:s,s:s,s:i}", "version", x->cursor, "reqTimestamp",
                            (json_int_t)now, "reqId", req_id, "inst", x->inst, "description",
                            valid ? "ok" : "invalid format cis", "code", valid ? 0 : 400);
      if (!r) {
        json_decref(one);
        goto oom;
      }
      if (valid) json_object_set_new(r, "codes", json_pack("[O]", one));
      json_array_append_new(results, r);
    }
    json_array_append_new(codes, one);
  }
  json_t *j = json_pack("{s:i,s:s,s:s,s:I,s:s,s:s,s:o}", "code", 0, "description", "ok", "reqId",
                        req_id, "reqTimestamp", (json_int_t)now, "inst", x->inst, "version",
                        KASSA_VERSION, "codes", codes);
  if (j && results) json_object_set_new(j, "results", results);
  api_send_json(rs, 200, j);
  return;
oom:
  json_decref(codes);
  json_decref(results);
  lm_error(rs, 500, LM_INTERNAL, "till", "Out of memory.");
}

/* A cis string as a request may hold it: 1..MARKCODE_MAX_INPUT bytes. */
static bool cis_ok(json_t *cis)
{
  return json_is_string(cis) && json_string_length(cis) > 0 &&
         json_string_length(cis) <= MARKCODE_MAX_INPUT;
}

/* The cis_list of a request: 0 with *out borrowed, or -1 with rs filled. */
static int cis_list(json_t *body, bool objects_allowed, json_t **out, api_response_t *rs)
{
  json_t *list = json_object_get(body, "cis_list"), *v;
  size_t i;
  if (!json_is_array(list) || json_array_size(list) == 0) {
    lm_error(rs, 400, LM_MISSING, "bad_request",
             "Не указан обязательный параметр cis_list. The body must hold a non-empty cis_list.");
    return -1;
  }
  if (json_array_size(list) > LM_BULK_MAX) {
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request", "cis_list length is too long (1000 at most).");
    return -1;
  }
  json_array_foreach(list, i, v)
  {
    json_t *cis = objects_allowed && json_is_object(v) ? json_object_get(v, "cis") : v;
    if (!cis_ok(cis)) {
      lm_error(rs, 400, LM_BAD_VALUE, "bad_request",
               objects_allowed ? "Недопустимое значение параметра cis_list: codes as strings or "
                                 "objects with a \"cis\" string."
                               : "Недопустимое значение параметра cis_list: codes as strings.");
      return -1;
    }
  }
  *out = list;
  return 0;
}

static void r_out_check(lm_context_t *x, const api_request_t *rq, json_t *body, int version,
                        api_response_t *rs)
{
  json_t *list = NULL, *tz = json_object_get(body, "tz");
  (void)rq;
  if (tz && (!json_is_integer(tz) || json_integer_value(tz) < -12 || json_integer_value(tz) > 14)) {
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request", "Недопустимое значение параметра tz.");
    return;
  }
  if (cis_list(body, version == 2, &list, rs) != 0) return;
  out_check_list(x, list, version, rs);
}

static void r_check_v1(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  r_out_check(x, rq, b, 1, rs);
}

static void r_check_v2(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  r_out_check(x, rq, b, 2, rs);
}

/* GET /api/v{1,2}/cis/outCheck?cis=CODE[&pg=N]: one code, as the older
** manuals' GET form (the value percent-decoded by the service). */
static void r_check_get(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  const char *cis = api_query(rq, "cis"), *pg = api_query(rq, "pg");
  (void)b;
  if (!cis || !cis[0]) {
    lm_error(rs, 400, LM_MISSING, "bad_request", "Не указан обязательный параметр cis.");
    return;
  }
  json_t *list = pg ? json_pack("[{s:s,s:s}]", "cis", cis, "pg", pg) : json_pack("[s]", cis);
  if (!list || !cis_ok(json_is_object(json_array_get(list, 0))
                           ? json_object_get(json_array_get(list, 0), "cis")
                           : json_array_get(list, 0))) {
    json_decref(list);
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request", "Недопустимое значение параметра cis.");
    return;
  }
  out_check_list(x, list, strstr(rq->path, "/v2/") ? 2 : 1, rs);
  json_decref(list);
}

/* ---- status, stats, config ---------------------------------------------------- */

static void r_status(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  cache_counts_t c;
  char url[300];
  (void)rq, (void)b;
  memset(&c, 0, sizeof c);
  if (cache_counts(x->cache, &c) != 0) {
    lm_error(rs, 500, LM_INTERNAL, "till", "The code cache cannot be read.");
    return;
  }
  kassa_config_operator_url(till_config(x->till), url, sizeof url);
  json_t *db_state = json_pack("{s:{s:I},s:{s:I},s:{s:I},s:{s:I}}", "cis", "localDocCount",
                               (json_int_t)c.synced, "blocked_cis", "localDocCount",
                               (json_int_t)c.op_blocked, "blocked_gtin", "localDocCount",
                               (json_int_t)c.blocked, "sold", "localDocCount", (json_int_t)c.sold);
  uint32_t stale_hours = till_config(x->till)->cache_stale_hours;
  json_t *j = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:o*,s:b,s:b,s:{s:I,s:I,s:I,s:I,s:I}}", "version",
      KASSA_VERSION, "status", state_name(x), "serviceUrl", url, "operationMode", "active", "name",
      LM_NAME, "lastUpdate", (json_int_t)x->last_sync, "lastSync", (json_int_t)x->last_sync, "inst",
      x->inst, "inn", x->fn.user_inn, "dbVersion", x->cursor, "dbState", db_state, "isGreyGtin", 0,
      "requiresDownload", 0, "counters", "codes", (json_int_t)c.synced, "blocked",
      (json_int_t)c.op_blocked, "products", (json_int_t)c.products, "sold", (json_int_t)c.sold,
      "inStock", (json_int_t)c.in_stock);
  /* "info" (added in 2025, its content not described): what a person
  ** reading the status wants to know about this stand-in. */
  if (j)
    json_object_set_new(j, "info",
                        json_pack("{s:s,s:I,s:b}", "source", "kassa code cache", "staleHours",
                                  (json_int_t)(stale_hours ? stale_hours : 72), "stale", x->stale));
  api_send_json(rs, 200, j);
}

static void count_one(const char *ki, void *user)
{
  (void)ki;
  (*(uint64_t *)user)++;
}

static void r_stats(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  cache_counts_t c;
  uint64_t registered = 0, seen = 0;
  (void)rq, (void)b;
  memset(&c, 0, sizeof c);
  if (cache_counts(x->cache, &c) != 0 ||
      lm_sold_list(x->till, 0, 0, count_one, &seen, &registered) != 0) {
    lm_error(rs, 500, LM_INTERNAL, "till", "The code cache cannot be read.");
    return;
  }
  api_send_json(rs, 200,
                json_pack("{s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{s:s,s:I,s:s,s:b}}", "ts",
                          (json_int_t)till_now_ms(x->till), "db", "cis", (json_int_t)c.synced,
                          "blocked_cis", (json_int_t)c.op_blocked, "blocked_gtin",
                          (json_int_t)c.blocked, "products", (json_int_t)c.products, "sold",
                          (json_int_t)c.sold, "soldRegistered", (json_int_t)registered, "sync",
                          "status", state_name(x), "lastSync", (json_int_t)x->last_sync,
                          "dbVersion", x->cursor, "stale", x->stale));
}

/* The registered user's name (1048 of registration document 1), "" when
** it cannot be read. */
static void user_name(lm_context_t *x, char *out, size_t size)
{
  fn_document_t *doc = malloc(sizeof *doc);
  doc_header_t h;
  doc_registration_t reg;
  out[0] = '\0';
  if (doc && fn_document_get(till_fn(x->till), 1, doc) == 0 &&
      doc_parse_registration(doc->data, doc->len, &h, &reg) == 0)
    snprintf(out, size, "%s", h.user_name);
  free(doc);
}

static void r_config(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  const kassa_config_t *cfg = till_config(x->till);
  char id[40], url[300], name[513];
  const char *n = x->fn.fn_number;
  (void)rq, (void)b;
  /* A stable id of this till's configuration in the manual's UUID shape:
  ** the FN number's 16 digits, then zeros. */
  snprintf(id, sizeof id, "%.8s-%.4s-%.4s-0000-000000000000", n, n + 8, n + 12);
  kassa_config_operator_url(cfg, url, sizeof url);
  user_name(x, name, sizeof name);
  int64_t block = (int64_t)(cfg->cache_stale_hours ? cfg->cache_stale_hours : 72) * 3600000;
  api_send_json(
      rs, 200,
      json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:I,s:b,s:s,s:I,s:I,s:s,s:s,s:[i],s:[i],s:s,s:s}", "_id",
                id, "type", "lm", "blockSyncPeriod", (json_int_t)block, "logLevel", "error",
                "statsStorePeriod", (json_int_t)259200000, "soldStorePeriod",
                (json_int_t)LM_SOLD_KEEP_MS, "sendStatsInterval", (json_int_t)600000, "sendStats",
                0, "operationMode", "active", "receiptLmStorePeriod", (json_int_t)604800000,
                "syncMaxRetry", (json_int_t)3600000, "replicationInstUrls", url, "statsDbUrl", "",
                "blockedGtin", 0, "blockedCis", 0, "inn", x->fn.user_inn, "name", name));
}

/* ---- init, safe_init, changePassword ------------------------------------------ */

static void r_init(lm_context_t *x, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  json_t *token = json_object_get(body, "token"), *kpp = json_object_get(body, "kpp");
  json_t *fias = json_object_get(body, "fiasId"), *clear = json_object_get(body, "clearSold");
  (void)rq;
  if (!token) {
    lm_error(rs, 400, LM_MISSING, "bad_request", "Не указан обязательный параметр token.");
    return;
  }
  if (!json_is_string(token) || json_string_length(token) == 0 ||
      json_string_length(token) > 4096) {
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request", "Недопустимое значение параметра token.");
    return;
  }
  if (kpp && fias) {
    lm_error(rs, 400, LM_ONLY_ONE, "bad_request",
             "Должно быть указано только одно значение из: [kpp, fiasId].");
    return;
  }
  if (kpp && (!json_is_string(kpp) || json_string_length(kpp) != 9 ||
              strspn(json_string_value(kpp), "0123456789AZ") != 9)) {
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request", "Недопустимое значение параметра kpp.");
    return;
  }
  if ((fias && !json_is_string(fias)) || (clear && !json_is_boolean(clear))) {
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request",
             fias && !json_is_string(fias) ? "Недопустимое значение параметра fiasId."
                                           : "Недопустимое значение параметра clearSold.");
    return;
  }
  if (json_is_true(clear) && lm_sold_clear(x->till) != 0) {
    lm_error(rs, 500, LM_INTERNAL, "till", "The sold-goods database cannot be cleared.");
    return;
  }
  api_send_json(rs, 200, json_pack("{s:s}", "status", state_name(x)));
}

static void r_safe_init(lm_context_t *x, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  (void)rq;
  if (json_object_size(body) == 0) {
    lm_error(rs, 400, LM_MISSING, "bad_request",
             "Не указан обязательный параметр: the activation JSON.");
    return;
  }
  api_send_json(rs, 200, json_pack("{s:s}", "status", state_name(x)));
}

static void r_password(lm_context_t *x, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  json_t *pw = json_object_get(body, "newPassword");
  (void)x, (void)rq;
  if (!pw) {
    lm_error(rs, 400, LM_MISSING, "bad_request", "Не указан обязательный параметр newPassword.");
    return;
  }
  const char *p = json_string_value(pw);
  bool letter = false, digit = false;
  for (const char *c = p; c && *c; c++) {
    letter |= isalpha((unsigned char)*c) || (unsigned char)*c >= 0x80;
    digit |= isdigit((unsigned char)*c) != 0;
  }
  if (!p || json_string_length(pw) < 8 || !letter || !digit) {
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request",
             "Недопустимое значение параметра newPassword: at least 8 characters, letters and "
             "digits.");
    return;
  }
  lm_error(rs, 400, LM_BAD_PARAMS, "password_in_config",
           "Пароль кассы задаётся в kassa.conf ([till] api_token). The password is [till] "
           "api_token in kassa.conf: change it there and restart kassa serve.");
}

/* ---- the sold-goods database ---------------------------------------------------- */

/* The ki of each cis of the list (RFC 1738 escapes undone, then parsed),
** into kis (each LM_KI_SIZE bytes): 0, or -1 with rs filled. */
#define LM_KI_SIZE (CACHE_KI_MAX + 1)

static int list_kis(lm_context_t *x, json_t *list, char *kis, const char **ptrs, api_response_t *rs)
{
  json_t *v;
  size_t i;
  lm_code_t code;
  json_array_foreach(list, i, v)
  {
    identify_escaped(x->mc, json_string_value(v), &code);
    if (!code.valid) {
      char msg[160];
      snprintf(msg, sizeof msg, "Недопустимое значение параметра cis_list[%zu]: not a code.", i);
      lm_error(rs, 400, LM_BAD_VALUE, "bad_request", msg);
      return -1;
    }
    snprintf(kis + i * LM_KI_SIZE, LM_KI_SIZE, "%s", code.ki);
    ptrs[i] = kis + i * LM_KI_SIZE;
  }
  return 0;
}

/* cis/sell (add) and cis/return: all or nothing, {"results":[{success,cis}]}. */
static void sell_or_return(lm_context_t *x, json_t *body, bool sell, api_response_t *rs)
{
  json_t *list = NULL, *v;
  size_t i, bad = 0;
  if (cis_list(body, false, &list, rs) != 0) return;
  size_t n = json_array_size(list);
  char *kis = calloc(n, LM_KI_SIZE);
  const char **ptrs = calloc(n, sizeof *ptrs);
  if (!kis || !ptrs) {
    lm_error(rs, 500, LM_INTERNAL, "till", "Out of memory.");
    goto done;
  }
  if (list_kis(x, list, kis, ptrs, rs) != 0) goto done;
  int rc = sell ? lm_sold_register(x->till, ptrs, n, till_now_ms(x->till), &bad)
                : lm_sold_return(x->till, ptrs, n, &bad);
  if (rc == LM_SOLD_ERR_SOLD || rc == LM_SOLD_ERR_NOT_SOLD) {
    char msg[400];
    snprintf(msg, sizeof msg,
             sell ? "Регистрация факта продажи невозможна, факт продажи товара %s уже "
                    "зарегистрирован."
                  : "Регистрация факта продажи товара %s не найдена.",
             ptrs[bad]);
    lm_error(rs, 400, sell ? LM_ALREADY_SOLD : LM_SALE_NOT_FOUND, lm_sold_err_name(rc), msg);
    goto done;
  }
  if (rc != 0) {
    lm_error(rs, 500, LM_INTERNAL, "till", "The sold-goods database cannot be written.");
    goto done;
  }
  json_t *results = json_array();
  json_array_foreach(list, i, v)
      json_array_append_new(results, json_pack("{s:b,s:O}", "success", 1, "cis", v));
  api_send_json(rs, sell ? 201 : 200, json_pack("{s:o*}", "results", results));
done:
  free(kis);
  free(ptrs);
}

static void r_sell(lm_context_t *x, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  (void)rq;
  sell_or_return(x, body, true, rs);
}

static void r_return(lm_context_t *x, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  (void)rq;
  sell_or_return(x, body, false, rs);
}

static void r_sold_check(lm_context_t *x, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  json_t *list = NULL, *v;
  size_t i;
  (void)rq;
  if (cis_list(body, false, &list, rs) != 0) return;
  size_t n = json_array_size(list);
  char *kis = calloc(n, LM_KI_SIZE);
  const char **ptrs = calloc(n, sizeof *ptrs);
  if (!kis || !ptrs) {
    lm_error(rs, 500, LM_INTERNAL, "till", "Out of memory.");
  } else if (list_kis(x, list, kis, ptrs, rs) == 0) {
    json_t *results = json_array();
    json_array_foreach(list, i, v) json_array_append_new(
        results, json_pack("{s:b,s:O}", "isSold", lm_sold_is_sold(x->till, ptrs[i]), "cis", v));
    api_send_json(rs, 200, json_pack("{s:o*}", "results", results));
  }
  free(kis);
  free(ptrs);
}

static void append_escaped(const char *ki, void *user)
{
  char *e = codec_percent_encode(ki);
  if (e) json_array_append_new(user, json_string(e));
  free(e);
}

/* A query number 0..max: 0 with *out (dflt when absent), -1 with rs filled. */
static int query_number(const api_request_t *rq, const char *name, uint64_t dflt, uint64_t max,
                        uint64_t *out, api_response_t *rs)
{
  const char *v = api_query(rq, name);
  char *end = NULL;
  *out = dflt;
  if (!v) return 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (!v[0] || !end || *end || !isdigit((unsigned char)v[0]) || n > max) {
    char msg[96];
    snprintf(msg, sizeof msg, "Недопустимое значение параметра %s.", name);
    lm_error(rs, 400, LM_BAD_VALUE, "bad_request", msg);
    return -1;
  }
  *out = n;
  return 0;
}

static void r_sold_list(lm_context_t *x, const api_request_t *rq, json_t *b, api_response_t *rs)
{
  uint64_t skip, limit, total = 0;
  (void)b;
  if (query_number(rq, "skip", 0, UINT32_MAX, &skip, rs) != 0 ||
      query_number(rq, "limit", LM_SOLD_PAGE, LM_SOLD_MAX, &limit, rs) != 0)
    return;
  json_t *list = json_array();
  if (!list || lm_sold_list(x->till, skip, limit, append_escaped, list, &total) != 0) {
    json_decref(list);
    lm_error(rs, 500, LM_INTERNAL, "till", "The sold-goods database cannot be read.");
    return;
  }
  api_send_json(rs, 200,
                json_pack("{s:I,s:o}", "total_count", (json_int_t)total, "cis_list", list));
}

/* ---- routing -------------------------------------------------------------------- */

typedef void (*lm_handler_t)(lm_context_t *x, const api_request_t *rq, json_t *body,
                             api_response_t *rs);

static const struct {
  const char *method, *path;
  lm_handler_t handler;
  unsigned flags;
} lm_routes[] = {
    {"GET", "/api/v1/status", r_status, 0},
    {"GET", "/api/v2/status", r_status, 0},
    {"POST", "/api/v1/init", r_init, BODY},
    {"POST", "/api/v2/init", r_init, BODY},
    {"POST", "/api/v2/safe_init", r_safe_init, BODY},
    {"PUT", "/api/v2/changePassword", r_password, BODY},
    {"GET", "/api/v2/stats", r_stats, 0},
    {"GET", "/api/v2/config", r_config, CONFIGURED},
    {"POST", "/api/v1/cis/outCheck", r_check_v1, BODY | LIST | FRESH},
    {"GET", "/api/v1/cis/outCheck", r_check_get, FRESH},
    {"POST", "/api/v2/cis/outCheck", r_check_v2, BODY | LIST_V2 | FRESH},
    {"GET", "/api/v2/cis/outCheck", r_check_get, FRESH},
    {"POST", "/api/v2/cis/sell", r_sell, BODY | LIST | FRESH},
    {"POST", "/api/v2/cis/return", r_return, BODY | LIST | CONFIGURED},
    {"POST", "/api/v2/cis/sold/check", r_sold_check, BODY | LIST | CONFIGURED},
    {"GET", "/api/v2/cis/sold", r_sold_list, CONFIGURED},
};

size_t api_lm_route_count(void) { return sizeof lm_routes / sizeof lm_routes[0]; }

void api_lm_route(size_t i, const char **method, const char **path)
{
  *method = i < api_lm_route_count() ? lm_routes[i].method : NULL;
  *path = i < api_lm_route_count() ? lm_routes[i].path : NULL;
}

/* The token of "Authorization: Token <t>", or NULL. */
static const char *token_auth(const char *authorization)
{
  if (!authorization || strncasecmp(authorization, "Token ", 6) != 0) return NULL;
  authorization += 6;
  while (*authorization == ' ') authorization++;
  return authorization;
}

int api_gate_lm(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  memset(rs, 0, sizeof *rs);
  if (!api_host_ok(rq->host, rq->port)) {
    lm_error(rs, 403, 403, "bad_host", "Only 127.0.0.1 and localhost are served.");
    return -1;
  }
  const char *token = token_auth(rq->authorization);
  return api_check_token(api, token ? token : rq->basic_password, true, rq->source, rs);
}

void api_handle_lm(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  lm_context_t x;
  json_t *body = NULL;
  size_t route = SIZE_MAX;
  bool path_known = false;
  memset(&x, 0, sizeof x);
  if (api_gate_lm(api, rq, rs) != 0) return;
  x.till = api_till(api);
  x.cache = till_cache(x.till);
  if (fn_status(till_fn(x.till), &x.fn) != 0) {
    lm_error(rs, 500, LM_INTERNAL, "till", "The fiscal storage cannot be read.");
    return;
  }
  if (rq->client_id && strcmp(rq->client_id, x.fn.fn_number) != 0) {
    lm_error(rs, 403, 403, "client_id", "X-ClientId is not this till's fiscal storage number.");
    return;
  }
  snprintf(x.inst, sizeof x.inst, "kassa-%s", x.fn.fn_number);
  if (cache_sync_state(x.cache, x.cursor, sizeof x.cursor, &x.last_sync) != 0) {
    lm_error(rs, 500, LM_INTERNAL, "till", "The code cache cannot be read.");
    return;
  }
  x.stale = x.last_sync != 0 &&
            cache_is_stale(x.cache, till_now_ms(x.till), till_config(x.till)->cache_stale_hours);
  for (size_t i = 0; i < api_lm_route_count() && route == SIZE_MAX; i++) {
    if (strcmp(lm_routes[i].path, rq->path) != 0) continue;
    path_known = true;
    if (!strcmp(lm_routes[i].method, rq->method)) route = i;
  }
  if (route == SIZE_MAX) {
    if (path_known)
      lm_error(rs, 405, 405, "method_not_allowed", "This method is not allowed on this path.");
    else
      lm_error(rs, 404, LM_NOT_FOUND, "not_found",
               "Запрашиваемые данные не найдены: no such path.");
    return;
  }
  unsigned flags = lm_routes[route].flags;
  if (flags & BODY) {
    json_error_t je;
    body = rq->body && rq->body_len ? json_loadb(rq->body, rq->body_len, 0, &je) : json_object();
    if (!json_is_object(body)) {
      json_decref(body);
      lm_error(rs, 400, LM_BAD_BODY, "bad_request",
               "Некорректный формат тела запроса: a JSON object is expected.");
      return;
    }
  }
  json_t *list;
  if ((flags & (LIST | LIST_V2)) && cis_list(body, (flags & LIST_V2) != 0, &list, rs) != 0) {
    json_decref(body);
    return;
  }
  if (cache_gate(&x, flags, rs) != 0 || !(x.mc = malloc(sizeof *x.mc))) {
    if (!rs->body) lm_error(rs, 500, LM_INTERNAL, "till", "Out of memory.");
    json_decref(body);
    return;
  }
  lm_routes[route].handler(&x, rq, body, rs);
  free(x.mc);
  json_decref(body);
}
