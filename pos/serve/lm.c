/*
** lm.c: the Chestny ZNAK local module's API, answered by the till (see
** api_handle_lm in api.h; fields and codes from DOMAIN §6).
**
** Many POS front ends already know how to ask a local module (LM) on
** 127.0.0.1:5995 whether a code may be sold when the internet is down. The
** LM's own database is a synced copy of the operator's code statuses, which
** is exactly what the till's code cache holds (pos/till/cache.h, filled by
** `kassa cache sync`), plus the store's own knowledge: what it sold and
** what it blocked. So the till answers those front ends itself, from the
** cache, with the LM's field names, and says isCheckedOffline: true, as the
** LM does.
**
** What is checked, and the choices made where the LM's behaviour is not
** public ([open]):
**   - Authentication: HTTP Basic, as the LM takes it. When [till] api_token
**     is set, the password must equal it (constant-time, rate-limited with
**     the API token's limiter); the user name is not checked (the LM's login
**     is set at installation; any name is accepted). With no token
**     configured, no credentials are needed.
**   - X-ClientId: the LM's client id is the till's FN number. It is
**     optional; when sent it must be this till's FN number (403 otherwise),
**     so a front end wired to another till notices.
**   - Never synced: HTTP 400 with errorCode 4045 (not configured); the
**     cache older than [till] cache_stale_hours (72): HTTP 400 with
**     errorCode 4050 (sync error). GET /api/v1/status still answers, with
**     status not_configured or sync_error. "initialization" is never
**     reported: the cache is filled by a separate command, and a partial
**     sync is ready for what it holds.
**   - Fields: found = the operator's status of the code was synced;
**     isBlocked = the operator blocked it or the store did (code, GTIN or
**     series); sold = the operator says sold or this store sold it;
**     realizable = in circulation and neither sold nor remarked; utilised =
**     applied (past "emitted"); verified = found (an LM cannot check a
**     crypto tail: the FN does that at the sale); groupIds from the
**     catalogue's true-api group id, else a numeric v2 "pg".
**   - Other errors use the same shape: {"errorCode": HTTP status,
**     "errorMessage": …}.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/version.h"
#include "fiscal/fn.h"
#include "pos/serve/api.h"
#include "pos/till/cache.h"
#include "scanner/markcode.h"

#define LM_NOT_CONFIGURED 4045
#define LM_SYNC_ERROR     4050

static void lm_error(api_response_t *rs, unsigned status, int code, const char *name,
                     const char *message)
{
  rs->error = name;
  api_send_json(
      rs, status,
      json_pack("{s:i,s:s,s:s}", "errorCode", code, "errorMessage", message, "error", name));
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
  char inst[40];
  markcode_t *mc; /* scratch, about 3 KiB */
} lm_context_t;

/* One element of codes[]: what the store's database says about cis. */
static json_t *code_answer(lm_context_t *x, json_t *cis, json_t *pg)
{
  const char *text = json_string_value(cis);
  size_t len = json_string_length(cis);
  cache_code_t row;
  cache_product_t product;
  bool valid, have = false, found = false, blocked_here = false, has_product = false;
  markcode_t *mc = x->mc;

  memset(&row, 0, sizeof row);
  valid = markcode_parse(mc, text, len) == MARKCODE_OK &&
          (mc->kind == MARKCODE_KIND_GS1 || mc->kind == MARKCODE_KIND_TOBACCO_PACK) &&
          mc->serial[0] && mc->ki[0];
  if (valid) {
    have = cache_code_get(x->cache, mc->ki, &row) == 0;
    found = have && row.op_synced_ms != 0;
    has_product = cache_product_get(x->cache, mc->gtin, &product) == 0;
    cache_block_find(x->cache, mc->ki, mc->gtin, markcode_ai_value(mc, "10"), &blocked_here, NULL,
                     NULL);
  }
  bool sold = (found && row.op_sold) || (have && row.local == CACHE_LOCAL_SOLD);
  bool remarked = have && row.local == CACHE_LOCAL_REMARKED;
  bool blocked = (found && row.op_blocked) || blocked_here;
  json_t *groups = json_array();
  if (groups && has_product && product.group_id > 0)
    json_array_append_new(groups, json_integer(product.group_id));
  else if (groups && json_is_integer(pg) && json_integer_value(pg) > 0)
    json_array_append_new(groups, json_integer(json_integer_value(pg)));
  else if (groups && json_is_string(pg)) {
    char *end = NULL;
    long v = strtol(json_string_value(pg), &end, 10);
    if (end && !*end && v > 0) json_array_append_new(groups, json_integer(v));
  }
  uint64_t mrp = found ? row.mrp : 0;
  if (!mrp && valid && markcode_ai_value(mc, "8005"))
    mrp = strtoull(markcode_ai_value(mc, "8005"), NULL, 10);

  json_t *o = json_object();
  if (!o) {
    json_decref(groups);
    return NULL;
  }
  json_object_set(o, "cis", cis);
  json_object_set_new(o, "valid", json_boolean(valid));
  json_object_set_new(o, "printView", valid ? json_string(mc->ki) : json_incref(cis));
  json_object_set_new(o, "gtin", valid ? json_string(mc->gtin) : json_null());
  json_object_set_new(o, "groupIds", groups);
  json_object_set_new(o, "verified", json_boolean(found));
  json_object_set_new(o, "found", json_boolean(found));
  json_object_set_new(
      o, "realizable",
      json_boolean(found && row.op_state == CACHE_OP_CIRCULATION && !sold && !remarked));
  json_object_set_new(o, "utilised", json_boolean(found && row.op_state >= CACHE_OP_APPLIED));
  json_object_set_new(o, "isBlocked", json_boolean(blocked));
  if (found && row.expire_ms > 0) json_object_set_new(o, "expireDate", iso_time(row.expire_ms));
  json_object_set_new(o, "sold", json_boolean(sold));
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

/* 0 when the cache may answer; else rs filled with 4045 / 4050. */
static int cache_ready(lm_context_t *x, api_response_t *rs)
{
  int64_t last = 0;
  const kassa_config_t *cfg = till_config(x->till);
  if (cache_sync_state(x->cache, NULL, 0, &last) != 0 || last == 0) {
    lm_error(rs, 400, LM_NOT_CONFIGURED, "not_configured",
             "The local module is not configured: the code cache was never synced.");
    return -1;
  }
  if (cache_is_stale(x->cache, till_now_ms(x->till), cfg->cache_stale_hours)) {
    lm_error(rs, 400, LM_SYNC_ERROR, "sync_error",
             "The code cache is stale (no sync within the allowed hours): sync it.");
    return -1;
  }
  return 0;
}

static void out_check(lm_context_t *x, const api_request_t *rq, int version, api_response_t *rs)
{
  json_error_t je;
  json_t *body = rq->body ? json_loadb(rq->body, rq->body_len, 0, &je) : NULL;
  json_t *list = json_object_get(body, "cis_list"), *codes = NULL, *v;
  size_t i;
  char req_id[37];
  if (!json_is_array(list) || json_array_size(list) == 0 ||
      json_array_size(list) > API_LM_CODES_MAX) {
    lm_error(rs, 400, 400, "bad_request",
             version == 1 ? "The body must be {\"cis_list\":[\"<code>\", ...]} with 1 to 100 codes."
                          : "The body must be {\"cis_list\":[{\"cis\":\"<code>\",\"pg\":...}, "
                            "...]} with 1 to 100 codes.");
    goto done;
  }
  json_array_foreach(list, i, v)
  {
    json_t *cis = version == 1 ? v : json_object_get(v, "cis");
    if (!json_is_string(cis) || json_string_length(cis) == 0 ||
        json_string_length(cis) > MARKCODE_MAX_INPUT) {
      lm_error(rs, 400, 400, "bad_request",
               version == 1 ? "cis_list[] must hold codes as strings."
                            : "cis_list[] must hold objects with a \"cis\" string.");
      goto done;
    }
  }
  if (cache_ready(x, rs) != 0) goto done;
  if (!(codes = json_array())) goto oom;
  json_array_foreach(list, i, v)
  {
    json_t *one = version == 1
                      ? code_answer(x, v, NULL)
                      : code_answer(x, json_object_get(v, "cis"), json_object_get(v, "pg"));
    if (!one) goto oom;
    json_array_append_new(codes, one);
  }
  api_uuid(req_id);
  api_send_json(rs, 200,
                json_pack("{s:i,s:s,s:s,s:I,s:s,s:s,s:o}", "code", 0, "description", "ok", "reqId",
                          req_id, "reqTimestamp", (json_int_t)till_now_ms(x->till), "inst", x->inst,
                          "version", KASSA_VERSION, "codes", codes));
  codes = NULL;
  goto done;
oom:
  lm_error(rs, 500, 500, "till", "Out of memory.");
done:
  json_decref(codes);
  json_decref(body);
}

static void status(lm_context_t *x, api_response_t *rs)
{
  char cursor[CACHE_CURSOR_MAX + 1] = "";
  int64_t last = 0;
  cache_counts_t c;
  const kassa_config_t *cfg = till_config(x->till);
  memset(&c, 0, sizeof c);
  if (cache_sync_state(x->cache, cursor, sizeof cursor, &last) != 0 ||
      cache_counts(x->cache, &c) != 0) {
    lm_error(rs, 500, 500, "till", "The code cache cannot be read.");
    return;
  }
  const char *state = last == 0 ? "not_configured"
                      : cache_is_stale(x->cache, till_now_ms(x->till), cfg->cache_stale_hours)
                          ? "sync_error"
                          : "ready";
  api_send_json(rs, 200,
                json_pack("{s:s,s:I,s:s,s:s,s:s,s:{s:I,s:I,s:I,s:I,s:I}}", "status", state,
                          "lastSync", (json_int_t)last, "version", KASSA_VERSION, "inst", x->inst,
                          "dbVersion", cursor, "counters", "codes", (json_int_t)c.synced, "blocked",
                          (json_int_t)c.op_blocked, "products", (json_int_t)c.products, "sold",
                          (json_int_t)c.sold, "inStock", (json_int_t)c.in_stock));
}

int api_gate_lm(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  memset(rs, 0, sizeof *rs);
  if (!api_host_ok(rq->host, rq->port)) {
    lm_error(rs, 403, 403, "bad_host", "Only 127.0.0.1 and localhost are served.");
    return -1;
  }
  return api_check_token(api, rq->basic_password, true, rq->source, rs);
}

void api_handle_lm(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  lm_context_t x;
  fn_status_t st;
  if (api_gate_lm(api, rq, rs) != 0) return;
  x.till = api_till(api);
  x.cache = till_cache(x.till);
  if (fn_status(till_fn(x.till), &st) != 0) {
    lm_error(rs, 500, 500, "till", "The fiscal storage cannot be read.");
    return;
  }
  if (rq->client_id && strcmp(rq->client_id, st.fn_number) != 0) {
    lm_error(rs, 403, 403, "client_id", "X-ClientId is not this till's fiscal storage number.");
    return;
  }
  snprintf(x.inst, sizeof x.inst, "kassa-%s", st.fn_number);
  bool get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
  if (!strcmp(rq->path, "/api/v1/status")) {
    if (get)
      status(&x, rs);
    else
      lm_error(rs, 405, 405, "method_not_allowed", "Use GET.");
    return;
  }
  int version = !strcmp(rq->path, "/api/v1/cis/outCheck")   ? 1
                : !strcmp(rq->path, "/api/v2/cis/outCheck") ? 2
                                                            : 0;
  if (!version) {
    lm_error(rs, 404, 404, "not_found", "No such path.");
    return;
  }
  if (!post) {
    lm_error(rs, 405, 405, "method_not_allowed", "Use POST.");
    return;
  }
  if (!(x.mc = malloc(sizeof *x.mc))) {
    lm_error(rs, 500, 500, "till", "Out of memory.");
    return;
  }
  out_check(&x, rq, version, rs);
  free(x.mc);
}
