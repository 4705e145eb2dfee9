/*
** api.c: the routes of the till's HTTP JSON API and its security rules
** (see api.h for the contract, docs/API.md for every path with examples).
**
** A request goes through the same gates in the same order, so no route can
** forget one: the Host header must name the loopback (a web page that
** rebinds a name to 127.0.0.1 is refused); the API token, when one is
** configured; the route (404/405); a POST must say Content-Type:
** application/json (a browser cannot send that cross-origin without a
** preflight the service never grants, so a page cannot drive the till);
** the manager PIN for manager routes; the body must be a JSON object. Only
** then does a handler run, and a handler validates every field before it
** calls the till, so a request that fails changes nothing.
**
** The handlers are thin: each turns JSON into one call of pos/till/sale.h,
** pos/till/check.h, fiscal/fn.h, pos/till/accept.h, pos/till/cache.h,
** pos/till/office.h (reports, cash, corrections, the FN's close and
** replacement: the command line's calls) or pos/till/line_edit.h and the
** result back into JSON. Amounts are kopecks (integers); quantities are decimal
** strings or numbers with at most three decimals; a scan is the string a
** scanner sent, GS written as \u001d.
**
** The pages (pos/serve/web: the cashier screen at /, the manager screen at
** /manager) come through the same door: every path outside /api/ is a
** page, answered after the Host gate from [paths] web by a reader that can
** name only plain files of that one folder (see api.h). They are static
** files holding no secret, so they need no token; what they do goes
** through the routes below with the token and PIN the browser holds.
*/
#include "pos/serve/api.h"
#include "pos/till/fiscal_text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/errtab.h"
#include "common/text.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "ofd/outbox.h"
#include "pos/print/label.h"
#include "pos/print/print.h"
#include "pos/print/receipt.h"
#include "pos/serve/frontend.h"
#include "pos/till/accept.h"
#include "pos/till/cache.h"
#include "pos/till/check.h"
#include "pos/till/correction.h"
#include "pos/till/disk.h"
#include "pos/till/money.h"
#include "pos/till/lane_store.h"
#include "pos/till/line_edit.h"
#include "pos/till/office.h"
#include "pos/till/remark.h"
#include "pos/till/sale.h"
#include "pos/till/till_json.h"
#include "scanner/markcode.h"

#define MAX_PARAMS 2

/* Wrong tokens from one source address on one port. */
typedef struct api_source {
  char address[48]; /* the peer's address as text; "" for an unnamed one */
  bool used;
  int64_t last_ms; /* the last wrong try (the slot quiet the longest is reused) */
  api_limiter_t limiter;
} api_source_t;

struct api {
  till_t *till;
  api_clock_t clock;
  void *clock_user;
  api_source_t sources[2][API_SOURCES]; /* wrong tokens: [0] the API port, [1] the LM's */
  api_limiter_t pin;                    /* the manager PIN */
  api_background_t background;
  void *background_user;
  json_t *atol_validation; /* atol.c: the marking-code validation under way, or NULL */
};

/* ---- small pieces ------------------------------------------------------------ */

static int64_t monotonic_ms(void *user)
{
  struct timespec ts;
  (void)user;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t api_limiter_locked(const api_limiter_t *l, int64_t now_ms)
{
  return l && l->locked_until_ms > now_ms ? l->locked_until_ms - now_ms : 0;
}

void api_limiter_fail(api_limiter_t *l, int64_t now_ms)
{
  if (!l) return;
  /* A quiet hour forgives earlier locks; a quarter of an hour, earlier tries. */
  if (l->last_failure_ms && now_ms - l->last_failure_ms > API_FORGIVE_MS) l->locks = 0;
  if (l->failures == 0 || now_ms - l->window_start_ms > API_FAIL_WINDOW_MS) {
    l->failures = 0;
    l->window_start_ms = now_ms;
  }
  l->last_failure_ms = now_ms;
  if (++l->failures < API_MAX_FAILURES) return;
  int64_t lock = API_LOCK_MS;
  for (unsigned i = 0; i < l->locks && lock < API_LOCK_MAX_MS; i++) lock *= 2;
  if (lock > API_LOCK_MAX_MS) lock = API_LOCK_MAX_MS;
  l->locked_until_ms = now_ms + lock;
  l->failures = 0;
  l->locks++;
}

bool api_secret_equal(const char *given, const char *expected)
{
  if (!given || !expected || !expected[0]) return false;
  size_t n = strlen(expected), m = strlen(given);
  /* Every byte of the configured secret is compared whatever the input;
  ** a shorter input reads as zeros, the length difference is folded in. */
  unsigned diff = (unsigned)(n ^ m);
  for (size_t i = 0; i < n; i++) {
    unsigned char g = i < m ? (unsigned char)given[i] : 0;
    diff |= (unsigned)(g ^ (unsigned char)expected[i]);
  }
  return diff == 0;
}

void api_uuid(char out[37])
{
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    /* Not a secret, only an id: fall back to the clock. */
    int64_t now = monotonic_ms(NULL);
    for (size_t i = 0; i < sizeof r; i++) r[i] = (uint8_t)(now >> ((i % 8) * 8)) ^ (uint8_t)i;
  }
  r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
  r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
           r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
           r[15]);
}

till_t *api_till(api_t *api) { return api->till; }

const char *api_query(const api_request_t *rq, const char *name)
{
  return rq && rq->query && name ? rq->query(rq->query_user, name) : NULL;
}
int64_t api_monotonic_ms(api_t *api) { return api->clock(api->clock_user); }

int api_create(const api_options_t *o, api_t **out)
{
  api_t *api;
  if (!out) return -1;
  *out = NULL;
  if (!o || !o->till || !(api = calloc(1, sizeof *api))) return -1;
  api->till = o->till;
  api->clock = o->clock ? o->clock : monotonic_ms;
  api->clock_user = o->clock_user;
  api->background = o->background;
  api->background_user = o->background_user;
  *out = api;
  return 0;
}

void api_destroy(api_t *api)
{
  if (api) json_decref(api->atol_validation);
  free(api);
}

json_t **api_atol_validation(api_t *api) { return &api->atol_validation; }

void api_response_free(api_response_t *rs)
{
  if (!rs) return;
  free(rs->body);
  memset(rs, 0, sizeof *rs);
}

/* What is sent when an answer cannot be built (out of memory, text that
** is not UTF-8): still JSON, still naming the error. */
static const char internal_error[] =
    "{\"ok\":false,\"error\":\"internal\",\"message_ru\":\"Внутренняя ошибка кассы.\","
    "\"message_en\":\"Internal error of the till.\"}";

void api_send_json(api_response_t *rs, unsigned status, json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  free(rs->body);
  if (!text) {
    text = strdup(internal_error);
    status = 500;
    rs->error = "internal";
  }
  rs->body = text;
  rs->body_len = text ? strlen(text) : 0;
  rs->status = status;
}

/* ---- errors ----------------------------------------------------------------- */

/* The API's own errors: name, HTTP status, Russian, English. */
typedef enum api_err {
  E_UNAUTHORIZED,
  E_TOO_MANY,
  E_PIN_REQUIRED,
  E_PIN_WRONG,
  E_MANAGER_DISABLED,
  E_NOT_FOUND,
  E_METHOD,
  E_BAD_JSON,
  E_BAD_REQUEST,
  E_TOO_LARGE,
  E_MEDIA_TYPE,
  E_BAD_HOST,
  E_TILL,
  E_NO_DOCUMENT,
  E_NOT_A_RECEIPT,
  E__COUNT
} api_err_t;

static const struct {
  const char *name;
  unsigned status;
  const char *ru, *en;
} api_errors[E__COUNT] = {
    [E_UNAUTHORIZED] = {"unauthorized", 401, "Нужен действующий токен API.",
                        "A valid API token is required."},
    [E_TOO_MANY] = {"too_many_attempts", 429,
                    "Слишком много неверных попыток: подождите и повторите.",
                    "Too many wrong attempts: wait and try again."},
    [E_PIN_REQUIRED] = {"manager_pin_required", 403,
                        "Нужен PIN менеджера (заголовок X-Manager-PIN).",
                        "The manager PIN is required (X-Manager-PIN header)."},
    [E_PIN_WRONG] = {"manager_pin_wrong", 403, "Неверный PIN менеджера.", "Wrong manager PIN."},
    [E_MANAGER_DISABLED] = {"manager_disabled", 403,
                            "PIN менеджера не задан в настройках: действие недоступно.",
                            "No manager PIN is configured: this action is disabled."},
    [E_NOT_FOUND] = {"not_found", 404, "Нет такого адреса API.", "No such API path."},
    [E_METHOD] = {"method_not_allowed", 405, "Этот метод для адреса не поддерживается.",
                  "This method is not allowed on this path."},
    [E_BAD_JSON] = {"bad_json", 400, "Тело запроса не является объектом JSON.",
                    "The request body is not a JSON object."},
    [E_BAD_REQUEST] = {"bad_request", 400, "Неверные данные запроса.", "Bad request data."},
    [E_TOO_LARGE] = {"body_too_large", 413, "Слишком большое тело запроса.",
                     "The request body is too large."},
    [E_MEDIA_TYPE] = {"unsupported_media_type", 415,
                      "Нужен заголовок Content-Type: application/json.",
                      "Content-Type: application/json is required."},
    [E_BAD_HOST] = {"bad_host", 403, "Служба отвечает только на 127.0.0.1 и localhost.",
                    "The service answers only to 127.0.0.1 and localhost."},
    [E_TILL] = {"till", 500, "Внутренняя ошибка кассы.", "The till failed internally."},
    [E_NO_DOCUMENT] = {"no_document", 404, "Такого документа в архиве ФН нет.",
                       "No such document in the FN archive."},
    [E_NOT_A_RECEIPT] = {"not_a_receipt", 404, "Этот документ не кассовый чек.",
                         "This document is not a receipt."},
};

/* {"ok":false,"error","message_ru","message_en"} plus extra's fields
** (stolen, may be NULL). more_ru/en (may be NULL) are appended. */
static void fail_named(api_response_t *rs, unsigned status, const char *name, const char *ru,
                       const char *en, const char *more_ru, const char *more_en, json_t *extra)
{
  /* The two parts joined with a space; a text too long is cut at a word,
  ** never inside a UTF-8 character, which would make the JSON invalid. */
  char mru[2 * CHECK_MESSAGE_MAX], men[2 * CHECK_MESSAGE_MAX];
  const char *parts_ru[] = {ru, more_ru}, *parts_en[] = {en, more_en};
  errtab_join(mru, sizeof mru, parts_ru, 2);
  errtab_join(men, sizeof men, parts_en, 2);
  json_t *j =
      json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "error", name, "message_ru", mru, "message_en", men);
  if (j && extra) json_object_update(j, extra);
  json_decref(extra);
  rs->error = name;
  api_send_json(rs, status, j);
}

int api_fail(api_response_t *rs, unsigned status, const char *name, const char *ru, const char *en,
             json_t *extra)
{
  fail_named(rs, status, name, ru, en, NULL, NULL, extra);
  return -1;
}

static void fail(api_response_t *rs, api_err_t e, const char *more_ru, const char *more_en)
{
  fail_named(rs, api_errors[e].status, api_errors[e].name, api_errors[e].ru, api_errors[e].en,
             more_ru, more_en, NULL);
}

/* A field with the wrong type or value: 400 naming it. */
static void fail_field(api_response_t *rs, const char *field, const char *ru_what,
                       const char *en_what)
{
  char ru[256], en[256];
  snprintf(ru, sizeof ru, "Поле «%s»: %s.", field, ru_what);
  snprintf(en, sizeof en, "Field '%s': %s.", field, en_what);
  fail_named(rs, 400, api_errors[E_BAD_REQUEST].name, api_errors[E_BAD_REQUEST].ru,
             api_errors[E_BAD_REQUEST].en, ru, en, json_pack("{s:s}", "field", field));
}

/* The FN refused: which rule, in its own words (409; 500 for the
** emulator's disk). */
static void fail_fn(api_response_t *rs, int rc)
{
  char code[8];
  snprintf(code, sizeof code, "0x%02X", (unsigned)fn_err_device_code(rc));
  fail_named(rs, rc <= FN_ERR_IO ? 500 : 409, "fn", fn_err_message(rc, true),
             fn_err_message(rc, false), NULL, NULL,
             json_pack("{s:s,s:s}", "fn_error", fn_err_name(rc), "fn_code", code));
}

void api_fail_fn(api_response_t *rs, int fn_rc) { fail_fn(rs, fn_rc); }

/* ---- JSON of the till's structures ------------------------------------------ */

/* The shapes of decisions, baskets, closed receipts and the status are
** pos/till/till_json.h's, shared with `kassa sale --json`, so the two cannot
** drift apart; the API only adds fields around them. */

/* ---- reading request fields ------------------------------------------------- */

/* 0 with *out (NULL when absent and optional), -1 with rs filled. */
static int field_string(json_t *body, const char *name, bool required, size_t max, const char **out,
                        size_t *len, api_response_t *rs)
{
  json_t *v = json_object_get(body, name);
  *out = NULL;
  if (len) *len = 0;
  if (!v || json_is_null(v)) {
    if (!required) return 0;
    fail_field(rs, name, "обязательно", "required");
    return -1;
  }
  if (!json_is_string(v)) {
    fail_field(rs, name, "должно быть строкой", "must be a string");
    return -1;
  }
  if (json_string_length(v) == 0 || json_string_length(v) > max) {
    char ru[96], en[96];
    snprintf(ru, sizeof ru, "длина от 1 до %zu байт", max);
    snprintf(en, sizeof en, "1 to %zu bytes long", max);
    fail_field(rs, name, ru, en);
    return -1;
  }
  /* Text a person wrote (a cashier's name, a reason) goes into documents
  ** and logs: no control characters (common/text.h). Scans keep their GS,
  ** documents and lists their line ends. */
  static const char *const raw[] = {"code", "utd", "list"};
  bool is_raw = false;
  for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) is_raw |= !strcmp(name, raw[i]);
  size_t at = 0;
  text_fault_t fault =
      is_raw ? TEXT_OK : text_check(json_string_value(v), json_string_length(v), &at);
  if (fault != TEXT_OK) {
    char ru[128], en[128];
    snprintf(ru, sizeof ru, "%s (байт %zu)", text_fault_ru(fault), at);
    snprintf(en, sizeof en, "%s (byte %zu)", text_fault_en(fault), at);
    fail_field(rs, name, ru, en);
    return -1;
  }
  *out = json_string_value(v);
  if (len) *len = json_string_length(v);
  return 0;
}

/* The cashier's name (1021), optional: text as field_string takes it, of
** at most what the FN takes (fn_cashier_ok: 64 characters, a Cyrillic
** letter two bytes). */
static int field_cashier(json_t *body, const char **out, api_response_t *rs)
{
  if (field_string(body, "cashier", false, 4 * FN_CASHIER_MAX_CHARS, out, NULL, rs) != 0) return -1;
  if (*out && !fn_cashier_ok(*out)) {
    fail_field(rs, "cashier", "не больше 64 символов", "at most 64 characters");
    return -1;
  }
  return 0;
}

/* A non-negative integer (kopecks, ids); *present false when absent. */
static int field_uint(json_t *body, const char *name, uint64_t max, uint64_t *out, bool *present,
                      api_response_t *rs)
{
  json_t *v = json_object_get(body, name);
  *out = 0;
  if (present) *present = false;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
    char ru[96], en[96];
    snprintf(ru, sizeof ru, "целое число от 0 до %llu", (unsigned long long)max);
    snprintf(en, sizeof en, "an integer from 0 to %llu", (unsigned long long)max);
    fail_field(rs, name, ru, en);
    return -1;
  }
  *out = (uint64_t)json_integer_value(v);
  if (present) *present = true;
  return 0;
}

static int field_quantity(json_t *body, const char *name, doc_quantity_t *q, bool *present,
                          api_response_t *rs)
{
  json_t *v = json_object_get(body, name);
  char text[64];
  *present = false;
  if (!v || json_is_null(v)) return 0;
  if (json_is_string(v))
    snprintf(text, sizeof text, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1e9)
    snprintf(text, sizeof text, "%.3f", json_real_value(v));
  else
    text[0] = '\0';
  if (!sale_quantity_parse(text, q)) {
    fail_field(rs, name, "количество больше нуля, не более трёх знаков после точки",
               "a quantity above zero with at most three decimals");
    return -1;
  }
  *present = true;
  return 0;
}

/* ---- gates -------------------------------------------------------------------- */

bool api_host_ok(const char *host, uint16_t port)
{
  static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
  if (!host) return true; /* HTTP/1.0 without Host: nothing to rebind */
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    size_t n = strlen(names[i]);
    if (strncasecmp(host, names[i], n) != 0) continue;
    if (host[n] == '\0') return true;
    if (host[n] == ':') {
      char *end = NULL;
      unsigned long p = strtoul(host + n + 1, &end, 10);
      return end && *end == '\0' && end != host + n + 1 && (port == 0 || p == port);
    }
  }
  return false;
}

static void locked(api_response_t *rs, int64_t left_ms, bool lm)
{
  rs->retry_after = (unsigned)((left_ms + 999) / 1000);
  if (lm) {
    rs->error = "too_many_attempts";
    api_send_json(rs, 429,
                  json_pack("{s:i,s:s,s:s}", "errorCode", 429, "reason",
                            "Too many wrong attempts: wait and try again.", "errorMessage",
                            "Too many wrong attempts: wait and try again."));
    return;
  }
  char ru[96], en[96];
  snprintf(ru, sizeof ru, "Повторите через %u с.", rs->retry_after);
  snprintf(en, sizeof en, "Retry in %u s.", rs->retry_after);
  fail_named(rs, 429, api_errors[E_TOO_MANY].name, api_errors[E_TOO_MANY].ru,
             api_errors[E_TOO_MANY].en, ru, en,
             json_pack("{s:I}", "retry_after", (json_int_t)rs->retry_after));
}

static void unauthorized(api_response_t *rs, bool lm)
{
  if (lm) {
    rs->error = api_errors[E_UNAUTHORIZED].name;
    rs->authenticate = "Basic realm=\"kassa local module\", charset=\"UTF-8\"";
    /* 4010: the local-module manual's "wrong credentials". */
    api_send_json(rs, 401,
                  json_pack("{s:i,s:s,s:s}", "errorCode", 4010, "reason",
                            "Неверные учётные данные. Basic authentication with the API token as "
                            "the password is required.",
                            "errorMessage",
                            "Basic authentication with the API token as the password is "
                            "required."));
    return;
  }
  fail(rs, E_UNAUTHORIZED, NULL, NULL);
  rs->authenticate = "Bearer realm=\"kassa\"";
}

/* The limiter of source on one port: its slot, or the slot quiet the
** longest made over to it. */
static api_limiter_t *source_limiter(api_t *api, bool lm, const char *source, int64_t now)
{
  api_source_t *slots = api->sources[lm ? 1 : 0], *oldest = &slots[0];
  char key[sizeof slots[0].address];
  snprintf(key, sizeof key, "%s", source ? source : "");
  for (size_t i = 0; i < API_SOURCES; i++) {
    if (slots[i].used && !strcmp(slots[i].address, key)) {
      slots[i].last_ms = now;
      return &slots[i].limiter;
    }
    if (!slots[i].used || (oldest->used && slots[i].last_ms < oldest->last_ms)) oldest = &slots[i];
  }
  memset(oldest, 0, sizeof *oldest);
  oldest->used = true;
  oldest->last_ms = now;
  memcpy(oldest->address, key, sizeof key);
  return &oldest->limiter;
}

int api_check_token(api_t *api, const char *given, bool lm, const char *source, api_response_t *rs)
{
  const char *expected = till_config(api->till)->api_token;
  int64_t now = api_monotonic_ms(api), left;
  if (!expected[0]) return 0;
  if (!given || !given[0]) {
    unauthorized(rs, lm); /* not a guess: not counted */
    return -1;
  }
  if (api_secret_equal(given, expected)) return 0; /* the right token always works */
  api_limiter_t *l = source_limiter(api, lm, source, now);
  if ((left = api_limiter_locked(l, now)) > 0) {
    locked(rs, left, lm);
    return -1;
  }
  api_limiter_fail(l, now);
  unauthorized(rs, lm);
  return -1;
}

/* The bearer token of an Authorization header, or NULL. */
static const char *bearer(const char *authorization)
{
  if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return NULL;
  authorization += 7;
  while (*authorization == ' ') authorization++;
  return authorization;
}

/* The manager PIN gate: 0, or -1 with rs filled (403 / 429). */
static int check_manager(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  int64_t now = api_monotonic_ms(api), left;
  if (!till_config(api->till)->manager_pin[0]) {
    fail(rs, E_MANAGER_DISABLED, NULL, NULL);
    return -1;
  }
  if ((left = api_limiter_locked(&api->pin, now)) > 0) {
    locked(rs, left, false);
    return -1;
  }
  if (!rq->manager_pin || !rq->manager_pin[0]) {
    fail(rs, E_PIN_REQUIRED, NULL, NULL);
    return -1;
  }
  if (till_manager_pin_ok(api->till, rq->manager_pin)) return 0;
  api_limiter_fail(&api->pin, now);
  fail(rs, E_PIN_WRONG, NULL, NULL);
  return -1;
}

int api_check_manager(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  return check_manager(api, rq, rs);
}

/* ---- sale errors ------------------------------------------------------------ */

static unsigned sale_status(int rc)
{
  switch (rc) {
  case SALE_ERR_ARGUMENT:
    return 400;
  case SALE_ERR_NO_LINE:
    return 404;
  case SALE_ERR_REFUSED:
  case SALE_ERR_PAYMENT:
  case SALE_ERR_PRICE_CEILING:
  case SALE_ERR_QUANTITY_CEILING:
  case SALE_ERR_REFUND_ABOVE_SALE:
  case SALE_ERR_RETURN_UNITS:
  case SALE_ERR_SALE_NOT_FOUND:
  case SALE_ERR_SALE_LINE:
    return 422;
  case SALE_ERR_PRICE_NEEDS_MANAGER:
    return 403; /* the same request again with X-Manager-PIN */
  case SALE_ERR_STORAGE:
    return 500;
  default:
    return 409; /* no_receipt, receipt_open, full, empty, wrong_operation */
  }
}

/* A sale.h error; d (may be NULL) is the check's decision of a refusal. */
static void fail_sale(api_t *api, api_response_t *rs, int rc, const check_decision_t *d)
{
  /* A write that failed: the data directory says why (issue 18), 507 for
  ** a full disk, 503 for a read-only one. */
  if (rc == SALE_ERR_STORAGE || (rc == SALE_ERR_FN && till_sale_fn_error(api->till) <= FN_ERR_IO)) {
    till_disk_t disk = till_disk_diagnose(till_config(api->till)->data_dir);
    if (disk != TILL_DISK_OK) {
      fail_named(rs, disk == TILL_DISK_FULL ? 507 : 503, till_disk_name(disk),
                 till_disk_message(disk, true), till_disk_message(disk, false), NULL, NULL, NULL);
      return;
    }
  }
  if (rc == SALE_ERR_FN) {
    int frc = till_sale_fn_error(api->till);
    fail_fn(rs, frc ? frc : FN_ERR_FAILURE);
    return;
  }
  if (rc == SALE_ERR_REFUSED && d) {
    /* The check's own words, with the reason's stable name. */
    fail_named(rs, 422, sale_err_name(rc), d->message_ru, d->message_en, NULL, NULL,
               json_pack("{s:s,s:o*}", "reason", check_reason_name(d->reason), "decision",
                         till_json_decision(d)));
    return;
  }
  fail_named(rs, sale_status(rc), sale_err_name(rc), sale_err_message(rc, true),
             sale_err_message(rc, false), NULL, NULL, NULL);
}

/* The open basket (malloc'd, caller frees) or NULL with rs filled. */
static sale_basket_t *basket_load(api_t *api, api_response_t *rs)
{
  sale_basket_t *b = malloc(sizeof *b);
  int rc;
  if (!b) {
    fail(rs, E_TILL, NULL, NULL);
    return NULL;
  }
  if ((rc = sale_get(api->till, b)) != 0) {
    fail_sale(api, rs, rc, NULL);
    free(b);
    return NULL;
  }
  return b;
}

/* The discounted lines of a basket's JSON get "list_price" and
** "discount_percent" (pos/till/line_edit.h): the page shows both prices. */
static void basket_discounts(api_t *api, json_t *receipt)
{
  sale_line_discount_t d[DOC_MAX_ITEMS];
  size_t n = 0, i;
  json_t *line;
  if (!receipt || sale_line_discounts(api->till, d, DOC_MAX_ITEMS, &n) != 0) return;
  json_array_foreach(json_object_get(receipt, "lines"), i, line)
  {
    json_int_t id = json_integer_value(json_object_get(line, "id"));
    for (size_t k = 0; k < n; k++)
      if (d[k].line_id == id) {
        json_object_set_new(line, "list_price", json_integer((json_int_t)d[k].list_price));
        json_object_set_new(line, "discount_percent", json_integer(d[k].percent));
      }
  }
}

/* {"ok":true,"receipt":basket} plus extra (stolen, may be NULL). */
static void send_basket(api_t *api, api_response_t *rs, unsigned status, json_t *extra)
{
  sale_basket_t *b = basket_load(api, rs);
  if (!b) {
    json_decref(extra);
    return;
  }
  json_t *j = json_pack("{s:b,s:o*}", "ok", 1, "receipt", till_json_basket(b));
  free(b);
  basket_discounts(api, json_object_get(j, "receipt"));
  if (j && extra) json_object_update(j, extra);
  json_decref(extra);
  api_send_json(rs, status, j);
}

/* ---- handlers --------------------------------------------------------------- */

typedef void (*handler_t)(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                          api_response_t *rs);

/* Keys this old get a warning; the FN stops checking tails at 90 days. */
#define KEYS_WARN_DAYS 60u

/* Sets key in the object obj (when both exist) to v (stolen). */
static void put(json_t *obj, const char *key, json_t *v)
{
  if (json_is_object(obj))
    json_object_set_new(obj, key, v);
  else
    json_decref(v);
}

static void h_status(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                     api_response_t *rs)
{
  const kassa_config_t *cfg = till_config(api->till);
  till_status_t st;
  outbox_policy_t policy;
  outbox_notice_t why;
  char both[2 * OUTBOX_NOTICE_MAX + 8];
  int rc;
  (void)rq, (void)body, (void)params;
  if ((rc = till_status(api->till, &st)) != 0) {
    fail_fn(rs, rc);
    return;
  }
  kassa_config_outbox_policy(cfg, &policy);
  const fn_status_t *f = &st.fn;
  const outbox_status_t *o = &st.outbox;
  bool may_sell = outbox_may_sell_marked(o, &policy, &why);
  uint32_t shift_age =
      f->shift_open && f->now > f->shift_opened_at ? f->now - f->shift_opened_at : 0;
  json_t *j = till_json_status(&st, &policy);
  if (!j) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  /* What a manager's screen needs on top of the shared shape: the
  ** deadlines in hours, whether marked goods sell, and every warning in
  ** one list, most urgent first. */
  json_t *ob = json_object_get(j, "outbox");
  put(ob, "documents_hours_left", json_integer(o->documents_seconds_left / 3600u));
  put(ob, "batch_hours_left", json_integer(o->batch_seconds_left / 3600u));
  put(ob, "may_sell_marked", json_boolean(may_sell));
  outbox_notice_both(&why, both, sizeof both);
  put(ob, "refusal", may_sell ? json_null() : json_string(both));
  put(ob, "refusal_notice", may_sell ? json_null() : till_json_notice(&why));
  /* The three-day clock, for the manager's screen: whether it runs for
  ** this till, and the notifications no batch has taken yet. */
  put(ob, "batch_applies", json_boolean(f->autonomous || policy.batch_applies_online));
  put(ob, "unexported_notifications", json_integer(o->unexported_notifications));
  put(ob, "oldest_unexported_age_s", json_integer(o->oldest_unexported_age));
  put(ob, "batch_deadline_hours", json_integer(policy.batch_refuse_hours));
  json_t *fnj = json_object_get(j, "fn");
  put(fnj, "checked_codes", json_integer(f->checked_km));
  put(fnj, "checked_capacity", json_integer(f->checked_km_capacity));
  put(fnj, "shift_over_24h", json_boolean(f->shift_open && shift_age > 24u * 3600u));
  json_t *ca = json_object_get(j, "cache");
  put(ca, "synced", json_integer((json_int_t)st.cache.synced));
  put(ca, "op_blocked", json_integer((json_int_t)st.cache.op_blocked));
  put(ca, "stale_hours", json_integer(cfg->cache_stale_hours ? cfg->cache_stale_hours : 72));
  unsigned store_owed = 0;
  const char *store_state = lane_store_state(api->till, &store_owed);
  if (store_state[0]) /* [store] url: the store node's link (lane_store.h) */
    put(j, "store", json_pack("{s:s,s:i}", "state", store_state, "documents_owed", store_owed));
  json_t *warnings = json_array();
  json_t *owarn = json_object_get(ob, "warnings");
  size_t i;
  json_t *w;
  json_array_foreach(owarn, i, w) json_array_append(warnings, w);
  if (f->shift_open && shift_age > 24u * 3600u)
    json_array_append_new(warnings,
                          json_string("Смена длится больше 24 часов: закройте её. / The shift "
                                      "is over 24 hours old: close it."));
  if (st.cache_stale)
    json_array_append_new(warnings,
                          json_string(st.last_sync_ms
                                          ? "Кэш кодов устарел: синхронизируйте его (kassa cache "
                                            "sync). / The code cache is stale: sync it."
                                          : "Кэш кодов ни разу не синхронизирован. / The code "
                                            "cache has never been synced."));
  if (st.keys_by_device)
    ; /* the register loads its FN's keys itself: nothing for the manager to do */
  else if (f->marking && st.key_age_days == UINT32_MAX)
    json_array_append_new(warnings,
                          json_string("В ФН нет ключей проверки: загрузите их (kassa ofd keys). "
                                      "/ The FN has no verification keys: load them."));
  else if (f->marking && st.key_age_days >= KEYS_WARN_DAYS)
    json_array_append_new(warnings,
                          json_string("Ключи проверки ФН скоро устареют: обновите их (kassa ofd "
                                      "keys). / The FN's verification keys are getting old: "
                                      "update them."));
  if (api->background) {
    /* The sender, the scheduled sync and the key updates (background.h). */
    json_t *bg = api->background(api->background_user);
    json_array_foreach(json_object_get(bg, "warnings"), i, w) json_array_append(warnings, w);
    put(j, "background", bg ? bg : json_null());
  }
  put(j, "warnings", warnings);
  put(j, "ok", json_true());
  put(j, "check_mode", json_string(cfg->check_mode));
  put(j, "budget_ms", json_integer(cfg->check_budget_ms));
  put(j, "discount_without_pin_percent", json_integer(cfg->discount_without_pin_percent));
  api_send_json(rs, 200, j);
}

static void h_reasons(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                      api_response_t *rs)
{
  json_t *list = json_array();
  (void)api, (void)rq, (void)body, (void)params;
  for (int r = 1; list && r < CHECK__COUNT; r++)
    json_array_append_new(
        list, json_pack("{s:s,s:s,s:s,s:s,s:s}", "reason", check_reason_name((check_reason_t)r),
                        "message_ru", check_reason_message((check_reason_t)r, true), "message_en",
                        check_reason_message((check_reason_t)r, false), "short_ru",
                        check_reason_short((check_reason_t)r, true), "short_en",
                        check_reason_short((check_reason_t)r, false)));
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "reasons", list));
}

/* The marked codes (kis) of the open basket, for the duplicate rule. */
static size_t basket_kis(const sale_basket_t *b, const char **kis)
{
  size_t n = 0;
  for (size_t i = 0; b->open && i < b->count; i++)
    if (b->lines[i].marked && b->lines[i].ki[0]) kis[n++] = b->lines[i].ki;
  return n;
}

/* Longest scan a request may carry (markcode refuses longer input anyway). */
#define SCAN_MAX  1024
#define PRICE_MAX (UINT64_C(1) << 40)

static void h_check(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                    api_response_t *rs)
{
  const char *code, *purpose_name, *kis[DOC_MAX_ITEMS];
  size_t len;
  uint64_t price;
  check_purpose_t purpose = CHECK_FOR_SALE;
  (void)rq, (void)params;
  if (field_string(body, "code", true, SCAN_MAX, &code, &len, rs) != 0 ||
      field_uint(body, "price", PRICE_MAX, &price, NULL, rs) != 0 ||
      field_string(body, "purpose", false, 16, &purpose_name, NULL, rs) != 0)
    return;
  if (purpose_name && !strcmp(purpose_name, "return"))
    purpose = CHECK_FOR_RETURN;
  else if (purpose_name && strcmp(purpose_name, "sale") != 0) {
    fail_field(rs, "purpose", "«sale» или «return»", "\"sale\" or \"return\"");
    return;
  }
  sale_basket_t *b = basket_load(api, rs); /* fills rs when it fails */
  if (!b) return;
  check_decision_t *d = malloc(sizeof *d);
  if (!d) {
    fail(rs, E_TILL, NULL, NULL);
    free(b);
    return;
  }
  /* Codes already in the basket are the duplicate rule's: they must never
  ** reach the FN here, or the decline below would drop a line's check. */
  size_t n = basket_kis(b, kis);
  /* Only a question: check_probe declines the code in the FN itself. */
  if (check_probe(api->till, code, len, purpose, price, kis, n, d) != 0) {
    fail_named(rs, 500, api_errors[E_TILL].name, d->message_ru, d->message_en, NULL, NULL, NULL);
  } else {
    json_t *j = till_json_decision(d);
    if (j) json_object_set_new(j, "ok", json_true());
    api_send_json(rs, 200, j);
  }
  free(b);
  free(d);
}

static void h_receipt_open(api_t *api, const api_request_t *rq, json_t *body,
                           const uint32_t *params, api_response_t *rs)
{
  const char *op_name, *cashier;
  uint8_t op = DOC_OP_SALE;
  int rc;
  (void)params;
  if (field_string(body, "operation", false, 16, &op_name, NULL, rs) != 0 ||
      field_cashier(body, &cashier, rs) != 0)
    return;
  if (op_name && !strcmp(op_name, "return"))
    op = DOC_OP_SALE_RETURN;
  else if (op_name && strcmp(op_name, "sale") != 0) {
    fail_field(rs, "operation", "«sale» или «return»", "\"sale\" or \"return\"");
    return;
  }
  /* A return gives money back: a manager's decision. */
  if (op == DOC_OP_SALE_RETURN && check_manager(api, rq, rs) != 0) return;
  if ((rc = sale_open(api->till, op, cashier)) != 0) {
    fail_sale(api, rs, rc, NULL);
    return;
  }
  send_basket(api, rs, 201, NULL);
}

static void h_receipt_get(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                          api_response_t *rs)
{
  (void)rq, (void)body, (void)params;
  send_basket(api, rs, 200, NULL);
}

static void h_receipt_cancel(api_t *api, const api_request_t *rq, json_t *body,
                             const uint32_t *params, api_response_t *rs)
{
  int rc;
  (void)rq, (void)body, (void)params;
  if ((rc = sale_cancel(api->till)) != 0) {
    fail_sale(api, rs, rc, NULL);
    return;
  }
  api_send_json(rs, 200, json_pack("{s:b,s:b}", "ok", 1, "cancelled", 1));
}

/*
** POST /api/receipts/current/items: a scan into the basket (sale_add, as
** `kassa sale add`), with what a line may carry besides, in the shape of a
** line of /api/receipts/full: "fraction" ("1/4" or {numerator,
** denominator}: N of the D pieces of a marked pack, 1291, never with
** "quantity") and "agent_info" / "supplier_info" (one agent kind of 1222,
** the supplier's name and INN required). A malformed one is a 400 naming
** the field before anything is checked; a fraction of an unmarked good is
** the check's refusal (422, detail "fraction").
*/
#define AGENT_RU                                                                                                           \
  "один вид агента (agent_info.agents) и поставщик (supplier_info): name и inn из 10 или 12 " \
  "цифр, телефоны до 19 знаков"
#define AGENT_EN                                                                                   \
  "one agent kind (agent_info.agents) and the supplier (supplier_info): name and an inn of 10 "    \
  "or 12 digits, phones up to 19 characters"
static void h_item_add(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                       api_response_t *rs)
{
  const char *code, *field = NULL;
  size_t len;
  doc_quantity_t q;
  doc_agent_t agent;
  bool has_q;
  sale_add_t a = {0};
  uint32_t id = 0;
  int rc;
  (void)rq, (void)params;
  if (field_string(body, "code", true, SCAN_MAX, &code, &len, rs) != 0 ||
      field_uint(body, "price", PRICE_MAX, &a.price, NULL, rs) != 0 ||
      field_quantity(body, "quantity", &q, &has_q, rs) != 0)
    return;
  json_t *fraction = json_object_get(body, "fraction");
  json_t *agent_info = json_object_get(body, "agent_info");
  json_t *supplier = json_object_get(body, "supplier_info");
  if (fraction &&
      (has_q || !frontend_fraction(fraction, &a.fraction_numerator, &a.fraction_denominator))) {
    fail_field(rs, "fraction", "дробь «n/d», 0 < n < d, без «quantity»",
               "a fraction \"n/d\", 0 < n < d, never with \"quantity\"");
    return;
  }
  bool agent_given = agent_info || supplier;
  if (agent_given &&
      frontend_agent(agent_info, supplier, &frontend_agent_keys_kassa, &agent, &field) != 0) {
    fail_field(rs, !strcmp(field, "supplier") ? "supplier_info" : "agent_info", AGENT_RU, AGENT_EN);
    return;
  }
  check_decision_t *d = malloc(sizeof *d);
  if (!d) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  a.scan = code;
  a.len = len;
  a.quantity = has_q ? &q : NULL;
  a.agent = agent_given ? &agent : NULL;
  if ((rc = sale_add(api->till, &a, d, &id)) == SALE_ERR_ARGUMENT && !d->allow && agent_given) {
    /* Refused before any check: the agent's requisites (sale_add). */
    fail_field(rs, sale_agent_kind_name(agent.sign)[0] ? "supplier_info" : "agent_info", AGENT_RU,
               AGENT_EN);
  } else if (rc == SALE_ERR_ARGUMENT && d->allow && d->has_product) {
    /* The check passed and the line could not be made: the quantity. Say
    ** which rule, with the decision, so a front end can ask for a weight. */
    bool weigh = d->product.weighed && !has_q;
    fail_named(rs, 400, sale_err_name(rc),
               weigh ? "Весовой товар: укажите вес в килограммах (не более трёх знаков после "
                       "точки)."
               : d->product.weighed ? "Вес: больше нуля, не более трёх знаков после точки."
               : d->marked ? "Маркированный товар продаётся поштучно: количество 1."
                           : "Штучный товар: количество — целое число больше нуля.",
               weigh ? "A weighed good: give its weight in kilograms (at most three decimals)."
               : d->product.weighed ? "Weight: above zero, at most three decimals."
               : d->marked          ? "A marked good is sold one piece at a time: quantity 1."
                                    : "A piece good: the quantity is a whole number above zero.",
               NULL, NULL,
               json_pack("{s:s,s:o*}", "field", "quantity", "decision", till_json_decision(d)));
  } else if (rc != 0)
    fail_sale(api, rs, rc, d);
  else
    send_basket(
        api, rs, 201,
        json_pack("{s:I,s:o*}", "line_id", (json_int_t)id, "decision", till_json_decision(d)));
  free(d);
}

static void h_item_without_code(api_t *api, const api_request_t *rq, json_t *body,
                                const uint32_t *params, api_response_t *rs)
{
  const char *gtin;
  uint64_t price, sale_fd = 0, sale_line = 0;
  bool has_fd = false, has_line = false;
  uint32_t id = 0;
  int rc;
  (void)rq, (void)params;
  if (field_string(body, "gtin", true, 14, &gtin, NULL, rs) != 0 ||
      field_uint(body, "price", PRICE_MAX, &price, NULL, rs) != 0 ||
      field_uint(body, "sale_fd", 0x7FFFFFFF, &sale_fd, &has_fd, rs) != 0 ||
      field_uint(body, "sale_line", DOC_MAX_ITEMS, &sale_line, &has_line, rs) != 0)
    return;
  if (!has_fd || !has_line || !sale_fd || !sale_line) {
    fail_field(rs, !has_fd || !sale_fd ? "sale_fd" : "sale_line",
               "нужны ФД чека продажи и номер строки в нём",
               "the sale receipt's FD and its line number are needed");
    return;
  }
  if ((rc = sale_add_without_code(api->till, gtin, price, (uint32_t)sale_fd, (uint32_t)sale_line,
                                  &id)) != 0) {
    if (rc == SALE_ERR_ARGUMENT) {
      fail_field(rs, "gtin", "нет в справочнике или не GTIN",
                 "not in the catalogue, or not a GTIN");
      return;
    }
    fail_sale(api, rs, rc, NULL);
    return;
  }
  send_basket(api, rs, 201, json_pack("{s:I}", "line_id", (json_int_t)id));
}

static void h_item_remove(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                          api_response_t *rs)
{
  int rc;
  (void)rq, (void)body;
  if ((rc = sale_remove(api->till, params[0])) != 0) {
    fail_sale(api, rs, rc, NULL);
    return;
  }
  send_basket(api, rs, 200, NULL);
}

/* Receipt widths a printer takes: 32 (58 mm) to 48 (80 mm), and some slack. */
#define WIDTH_MIN     24u
#define WIDTH_MAX     80u
#define WIDTH_DEFAULT 48u

/* Dots a module of the QR picture on the pages: 6 makes a receipt's QR
** (version 6-8) about 250-300 pixels, readable from a phone on a screen. */
#define QR_PAGE_MODULE 6u

/* The receipt QR as a base64 PNG for the pages (print_qr_png), or JSON
** null when there is none or it cannot be drawn: the string still is. */
static json_t *qr_png_json(const char *qr)
{
  uint8_t *png = NULL;
  size_t len = 0;
  char *b64 = NULL;
  if (qr && qr[0] && print_qr_png(qr, QR_PAGE_MODULE, &png, &len) == 0)
    b64 = codec_base64_encode(png, len);
  free(png);
  json_t *j = b64 ? json_string(b64) : json_null();
  free(b64);
  return j;
}

json_t *api_qr_png(const char *qr) { return qr_png_json(qr); }

static void h_receipt_full(api_t *api, const api_request_t *rq, json_t *body,
                           const uint32_t *params, api_response_t *rs)
{
  (void)params;
  receipt_full_handle(api, rq, body, rs);
}

static void h_atol_post(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                        api_response_t *rs)
{
  (void)params;
  atol_handle_post(api, rq, body, rs);
}

static void h_atol_get(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                       api_response_t *rs)
{
  (void)body, (void)params;
  atol_handle_get(api, rq->path + strlen("/api/v2/requests/"), rs);
}

static void h_pay(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                  api_response_t *rs)
{
  const char *method;
  uint64_t cash, cashless, width, tendered;
  bool has_cash, has_cashless, has_width, has_tendered;
  sale_closed_t closed;
  int rc, text_err = 0;
  (void)rq, (void)params;
  if (field_string(body, "method", false, 16, &method, NULL, rs) != 0 ||
      field_uint(body, "cash", PRICE_MAX, &cash, &has_cash, rs) != 0 ||
      field_uint(body, "cashless", PRICE_MAX, &cashless, &has_cashless, rs) != 0 ||
      field_uint(body, "width", WIDTH_MAX, &width, &has_width, rs) != 0 ||
      field_uint(body, "tendered", PRICE_MAX, &tendered, &has_tendered, rs) != 0)
    return;
  if (has_width && width < WIDTH_MIN) {
    fail_field(rs, "width", "от 24 до 80 символов", "24 to 80 characters");
    return;
  }
  if (method && (has_cash || has_cashless)) {
    fail_field(rs, "method", "либо method, либо суммы cash/cashless",
               "either method or the cash/cashless amounts");
    return;
  }
  if (!method && !has_cash && !has_cashless) {
    fail_field(rs, "method", "укажите method или суммы cash/cashless",
               "give method or the cash/cashless amounts");
    return;
  }
  if (method) {
    sale_basket_t *b = basket_load(api, rs);
    if (!b) return;
    uint64_t total = b->total;
    bool open = b->open;
    free(b);
    if (!open) {
      fail_sale(api, rs, SALE_ERR_NO_RECEIPT, NULL);
      return;
    }
    if (!strcmp(method, "cash"))
      cash = total;
    else if (!strcmp(method, "cashless"))
      cashless = total;
    else {
      fail_field(rs, "method", "«cash» или «cashless»", "\"cash\" or \"cashless\"");
      return;
    }
  }
  check_decision_t *d = malloc(sizeof *d);
  if (!d) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  memset(d, 0, sizeof *d);
  /* The cash handed over (tendered) gives the change: sale_close_paid's
  ** rule, a tendered sum below the cash part is refused ("payment"). */
  sale_payment_t pay = {.cash = cash, .cashless = cashless, .tendered = tendered};
  if ((rc = sale_close_paid(api->till, &pay, &closed, d)) != 0) {
    fail_sale(api, rs, rc, rc == SALE_ERR_REFUSED ? d : NULL);
    free(d);
    return;
  }
  free(d);
  char *text = receipt_text(api->till, closed.doc.number,
                            has_width ? (unsigned)width : WIDTH_DEFAULT, &text_err);
  json_t *receipt = till_json_closed(&closed);
  if (receipt) {
    json_object_set_new(receipt, "text", text ? json_string(text) : json_null());
    json_object_set_new(receipt, "qr_png", qr_png_json(closed.qr));
  }
  free(text);
  /* The receipt is closed whatever the text did: the FN archive has it,
  ** and GET /api/receipts/{fd}/text prints it again. */
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "receipt", receipt));
}

/* The optional ?width= of a printed form (reprints, copies): 0 with *width
** (WIDTH_DEFAULT when absent), or -1 with rs filled. */
static int query_width(const api_request_t *rq, unsigned *width, api_response_t *rs)
{
  *width = WIDTH_DEFAULT;
  if (!rq->query_width) return 0;
  char *end = NULL;
  unsigned long w = strtoul(rq->query_width, &end, 10);
  if (!end || *end || w < WIDTH_MIN || w > WIDTH_MAX) {
    fail_field(rs, "width", "от 24 до 80 символов", "24 to 80 characters");
    return -1;
  }
  *width = (unsigned)w;
  return 0;
}

static void h_reprint(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                      api_response_t *rs)
{
  unsigned width;
  int err, rc;
  (void)body;
  if (query_width(rq, &width, rs) != 0) return;
  fn_document_t *doc = malloc(sizeof *doc);
  if (!doc) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  rc = fn_document_get(till_fn(api->till), params[0], doc);
  uint16_t type = doc->type;
  free(doc);
  if (rc == FN_ERR_NO_DATA || rc == FN_ERR_PARAMS) {
    fail(rs, E_NO_DOCUMENT, NULL, NULL);
    return;
  }
  if (rc != 0) {
    fail_fn(rs, rc);
    return;
  }
  if (type != DOC_RECEIPT && type != DOC_CORRECTION) {
    fail(rs, E_NOT_A_RECEIPT, NULL, NULL);
    return;
  }
  receipt_layout_t layout;
  if ((err = receipt_layout(api->till, params[0], width, &layout)) != 0) {
    if (err < 0 && err > -0x200)
      fail_fn(rs, err);
    else
      fail(rs, E_TILL, NULL, NULL);
    return;
  }
  api_send_json(rs, 200,
                json_pack("{s:b,s:I,s:i,s:s,s:s,s:o}", "ok", 1, "document", (json_int_t)params[0],
                          "width", (int)width, "text", layout.text, "qr", layout.qr, "qr_png",
                          qr_png_json(layout.qr)));
  receipt_layout_free(&layout);
}

static void shift(api_t *api, json_t *body, bool open, api_response_t *rs)
{
  const char *cashier;
  fn_doc_result_t res;
  int rc;
  if (field_cashier(body, &cashier, rs) != 0) return;
  rc = open ? fn_shift_open(till_fn(api->till), cashier, &res)
            : fn_shift_close(till_fn(api->till), cashier, &res);
  if (rc != 0) {
    fail_fn(rs, rc);
    return;
  }
  /* Keep the cache's replay pointer level with the archive. */
  till_replay(api->till, NULL);
  api_send_json(rs, 200,
                json_pack("{s:b,s:{s:b,s:I},s:I,s:I,s:I}", "ok", 1, "shift", "open", open, "number",
                          (json_int_t)res.shift_number, "document", (json_int_t)res.number,
                          "fiscal_sign", (json_int_t)res.fiscal_sign, "time",
                          (json_int_t)res.time));
}

static void h_shift_open(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                         api_response_t *rs)
{
  (void)rq, (void)params;
  shift(api, body, true, rs);
}

static void h_shift_close(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                          api_response_t *rs)
{
  (void)rq, (void)params;
  shift(api, body, false, rs);
}

/* ---- acceptance and remarking (manager) -------------------------------------- */

static void fail_accept(api_response_t *rs, const accept_error_t *e)
{
  fail_named(rs, e->code == ACCEPT_ERR_NO_MEMORY ? 500 : 400, accept_err_name(e->code),
             e->message_ru[0] ? e->message_ru : accept_err_message(e->code, true),
             e->message_en[0] ? e->message_en : accept_err_message(e->code, false), NULL, NULL,
             json_pack("{s:I}", "line", (json_int_t)e->line));
}

/* The scanned delivery: a list text, or an array of scans joined by
** newlines (one code per line is what accept_doc_parse_list reads). */
static char *scanned_text(json_t *v, size_t *len, api_response_t *rs)
{
  char *text = NULL;
  size_t n = 0, i;
  json_t *one;
  *len = 0;
  if (!v || json_is_null(v)) {
    /* Nothing scanned: every code of the document is missing. */
    if (!(text = strdup(""))) fail(rs, E_TILL, NULL, NULL);
    return text;
  }
  if (json_is_string(v)) {
    *len = json_string_length(v);
    if ((text = malloc(*len + 1))) memcpy(text, json_string_value(v), *len + 1);
    if (!text) fail(rs, E_TILL, NULL, NULL);
    return text;
  }
  if (!json_is_array(v)) {
    fail_field(rs, "scanned", "строка или массив строк", "a string or an array of strings");
    return NULL;
  }
  json_array_foreach(v, i, one)
  {
    if (!json_is_string(one) || memchr(json_string_value(one), '\n', json_string_length(one))) {
      fail_field(rs, "scanned", "массив строк без переводов строки",
                 "an array of strings without newlines");
      return NULL;
    }
    n += json_string_length(one) + 1;
  }
  if (!(text = malloc(n + 1))) {
    fail(rs, E_TILL, NULL, NULL);
    return NULL;
  }
  n = 0;
  json_array_foreach(v, i, one)
  {
    memcpy(text + n, json_string_value(one), json_string_length(one));
    n += json_string_length(one);
    text[n++] = '\n';
  }
  text[n] = '\0';
  *len = n;
  return text;
}

static void h_accept(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                     api_response_t *rs)
{
  const char *utd, *list, *decision_name, *name;
  size_t utd_len, list_len, scanned_len = 0;
  accept_decision_t decision = ACCEPT_DECIDE_NONE;
  accept_doc_t *document = NULL, *delivery = NULL;
  accept_report_t *report = NULL;
  accept_error_t err;
  char *scanned = NULL;
  int rc;
  (void)rq, (void)params;
  if (field_string(body, "utd", false, API_ACCEPT_BODY_MAX, &utd, &utd_len, rs) != 0 ||
      field_string(body, "list", false, API_ACCEPT_BODY_MAX, &list, &list_len, rs) != 0 ||
      field_string(body, "decision", false, 16, &decision_name, NULL, rs) != 0 ||
      field_string(body, "name", false, 255, &name, NULL, rs) != 0)
    return;
  if (!utd == !list) {
    fail_field(rs, "utd", "нужно ровно одно из полей utd (XML УПД) и list (список кодов)",
               "give exactly one of utd (the UTD XML) and list (a code list)");
    return;
  }
  if (!decision_name || !strcmp(decision_name, "compare"))
    decision = ACCEPT_DECIDE_NONE;
  else if (!strcmp(decision_name, "all"))
    decision = ACCEPT_DECIDE_ALL;
  else if (!strcmp(decision_name, "part"))
    decision = ACCEPT_DECIDE_PART;
  else if (!strcmp(decision_name, "reject"))
    decision = ACCEPT_DECIDE_REJECT;
  else {
    fail_field(rs, "decision", "compare, all, part или reject", "compare, all, part or reject");
    return;
  }
  if (!(scanned = scanned_text(json_object_get(body, "scanned"), &scanned_len, rs))) return;
  memset(&err, 0, sizeof err);
  rc = utd ? accept_doc_parse_utd(utd, utd_len, name ? name : "utd", &document, &err)
           : accept_doc_parse_list(list, list_len, name ? name : "list", &document, &err);
  if (rc != 0) {
    fail_accept(rs, &err);
    goto done;
  }
  memset(&err, 0, sizeof err);
  if ((rc = accept_doc_parse_list(scanned, scanned_len, "scanned", &delivery, &err)) != 0) {
    fail_accept(rs, &err);
    goto done;
  }
  if ((rc = accept_compare(document, delivery, &report)) != 0) {
    fail_named(rs, rc == ACCEPT_ERR_NO_MEMORY ? 500 : 422, accept_err_name(rc),
               accept_err_message(rc, true), accept_err_message(rc, false), NULL, NULL, NULL);
    goto done;
  }
  rc = decision == ACCEPT_DECIDE_NONE ? 0 : accept_decide(report, till_cache(api->till), decision);
  json_t *j = accept_report_to_json(report);
  if (!j) {
    fail(rs, E_TILL, NULL, NULL);
    goto done;
  }
  if (rc == ACCEPT_ERR_REFUSED || rc == ACCEPT_ERR_CACHE) {
    /* The report says why; nothing became stock. */
    json_object_set_new(j, "ok", json_false());
    json_object_set_new(
        j, "error",
        json_string(rc == ACCEPT_ERR_REFUSED ? "acceptance_refused" : accept_err_name(rc)));
    json_object_set_new(j, "message_ru", json_string(report->message_ru));
    json_object_set_new(j, "message_en", json_string(report->message_en));
    rs->error = rc == ACCEPT_ERR_REFUSED ? "acceptance_refused" : "cache";
    api_send_json(rs, rc == ACCEPT_ERR_REFUSED ? 422 : 500, j);
    goto done;
  }
  if (rc != 0) {
    json_decref(j);
    fail_named(rs, 500, accept_err_name(rc), accept_err_message(rc, true),
               accept_err_message(rc, false), NULL, NULL, NULL);
    goto done;
  }
  /* A comparison is an answer, not a failure: "clean" says whether the
  ** delivery matches the document. */
  json_object_set_new(j, "clean", json_boolean(json_is_true(json_object_get(j, "ok"))));
  json_object_set_new(j, "ok", json_true());
  json_object_set_new(j, "message_ru", json_string(report->message_ru));
  api_send_json(rs, 200, j);
done:
  accept_report_free(report);
  accept_doc_free(delivery);
  accept_doc_free(document);
  free(scanned);
}

static unsigned remark_status(int rc)
{
  switch (rc) {
  case REMARK_ERR_ARGUMENT:
    return 400;
  case REMARK_ERR_CODE:
    return 422;
  case REMARK_ERR_NOT_FOUND:
    return 404;
  case REMARK_ERR_STORAGE:
    return 500;
  default:
    return 409; /* state, pool_empty */
  }
}

/* A new code for a damaged one (pos/till/remark.h): {"code": old scan} or
** {"pending_id": N} of a return without a code; the answer carries the new
** code and its DataMatrix label as a base64 PNG. */
static void h_remark(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                     api_response_t *rs)
{
  const char *code;
  size_t len = 0;
  uint64_t pending = 0;
  bool has_pending;
  remark_result_t r;
  char *png64 = NULL;
  (void)rq, (void)params;
  if (field_string(body, "code", false, SCAN_MAX, &code, &len, rs) != 0 ||
      field_uint(body, "pending_id", INT64_MAX, &pending, &has_pending, rs) != 0)
    return;
  if (!code == !has_pending || (has_pending && pending == 0)) {
    fail_field(rs, "code", "нужно ровно одно из полей code и pending_id",
               "give exactly one of code and pending_id");
    return;
  }
  memset(&r, 0, sizeof r);
  int rc = remark_good(api->till, code, len, (int64_t)pending, &r);
  if (rc != 0) {
    fail_named(rs, remark_status(rc), remark_err_name(rc), remark_err_message(rc, true),
               remark_err_message(rc, false), NULL, NULL, NULL);
    return;
  }
  unsigned char *png = NULL;
  size_t png_len = 0;
  label_error_t le;
  if (label_png(r.new_code, r.new_code_len, NULL, &png, &png_len, &le) != 0)
    rc = REMARK_ERR_LABEL;
  else
    png64 = codec_base64_encode(png, png_len);
  free(png);
  json_t *j = json_pack("{s:s,s:s,s:s%,s:b,s:o,s:o,s:o}", "old", r.old, "gtin", r.gtin, "new_code",
                        r.new_code, r.new_code_len, "reported", r.reported, "report_error",
                        r.reported ? json_null() : json_string(r.report_error), "label_png",
                        png64 ? json_string(png64) : json_null(), "label_error",
                        rc == REMARK_ERR_LABEL ? json_string(remark_err_name(rc)) : json_null());
  free(png64);
  /* The remark stands even when the label failed: it is in the cache. */
  api_send_json(rs, 201, json_pack("{s:b,s:o*}", "ok", 1, "remark", j));
}

/* A remarking label again (the label printer jammed, a second copy): the
** DataMatrix PNG and the printable page of pos/print/label.h, only for a code
** this store took from its pool for a remark, and only for the whole code
** (with its crypto tail: a label without it would not sell). */
static void h_label(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                    api_response_t *rs)
{
  const char *code;
  size_t len = 0, png_len = 0, html_len = 0;
  label_text_t text;
  label_error_t le;
  cache_code_t cc;
  unsigned char *png = NULL;
  char *html = NULL, *png64 = NULL;
  int rc;
  (void)rq, (void)params;
  if (field_string(body, "code", true, SCAN_MAX, &code, &len, rs) != 0) return;
  memset(&le, 0, sizeof le);
  if ((rc = label_describe(code, len, NULL, &text, &le)) != 0) {
    fail_named(rs, rc == LABEL_ERR_NO_MEMORY ? 500 : 422, label_err_name(rc), le.message_ru,
               le.message_en, NULL, NULL, json_pack("{s:s}", "field", "code"));
    return;
  }
  char ki[CACHE_KI_MAX + 1];
  markcode_t *mc = malloc(sizeof *mc);
  bool whole = mc && markcode_parse(mc, code, len) == MARKCODE_OK && mc->tail[0] &&
               strlen(mc->ki) < sizeof ki;
  if (whole) memcpy(ki, mc->ki, strlen(mc->ki) + 1);
  free(mc);
  if (!whole) {
    fail_named(rs, 422, "no_tail", "Нужен полный код с кодом проверки (91/92 или 93).",
               "The whole code with its verification part (91/92 or 93) is required.", NULL, NULL,
               json_pack("{s:s}", "field", "code"));
    return;
  }
  rc = cache_code_get(till_cache(api->till), ki, &cc);
  if (rc != 0 && rc != CACHE_ERR_NOT_FOUND) {
    fail_named(rs, 500, cache_err_name(rc), cache_err_message(rc, true),
               cache_err_message(rc, false), NULL, NULL, NULL);
    return;
  }
  if (rc == CACHE_ERR_NOT_FOUND || !cc.remarked_from[0]) {
    fail_named(rs, 409, "not_remarked",
               "Этот код не выдан этим магазином при перемаркировке: этикетка не печатается.",
               "This store did not issue this code by remarking: no label is printed.", NULL, NULL,
               json_pack("{s:s}", "field", "code"));
    return;
  }
  if ((rc = label_png(code, len, NULL, &png, &png_len, &le)) != 0 ||
      (rc = label_html(code, len, NULL, &html, &html_len, &le)) != 0) {
    fail_named(rs, 500, label_err_name(rc), le.message_ru, le.message_en, NULL, NULL, NULL);
    goto done;
  }
  if (!(png64 = codec_base64_encode(png, png_len))) {
    fail(rs, E_TILL, NULL, NULL);
    goto done;
  }
  api_send_json(rs, 200,
                json_pack("{s:b,s:{s:s,s:s,s:s,s:s,s:s%,s:s}}", "ok", 1, "label", "gtin", text.gtin,
                          "serial", text.serial, "bracketed", text.bracketed, "remarked_from",
                          cc.remarked_from, "html", html, html_len, "png", png64));
done:
  free(png64);
  free(html);
  free(png);
}

/* The block a request names: exactly one of "code" (a scan, blocked by
** its ki), "gtin" or "series" ("GTIN/BATCH"). 0, or -1 with rs filled. */
static int block_target(json_t *body, cache_block_kind_t *kind, char *value, size_t size,
                        api_response_t *rs)
{
  const char *code, *gtin, *series;
  size_t len;
  if (field_string(body, "code", false, SCAN_MAX, &code, &len, rs) != 0 ||
      field_string(body, "gtin", false, 14, &gtin, NULL, rs) != 0 ||
      field_string(body, "series", false, 64, &series, NULL, rs) != 0)
    return -1;
  if (!!code + !!gtin + !!series != 1) {
    fail_field(rs, "code", "нужно ровно одно из полей code, gtin, series",
               "give exactly one of code, gtin, series");
    return -1;
  }
  if (code) {
    markcode_t *mc = malloc(sizeof *mc);
    bool ok = mc && markcode_parse(mc, code, len) == MARKCODE_OK &&
              (mc->kind == MARKCODE_KIND_GS1 || mc->kind == MARKCODE_KIND_TOBACCO_PACK ||
               mc->kind == MARKCODE_KIND_FUR) &&
              mc->ki[0] && strlen(mc->ki) < size;
    if (ok) memcpy(value, mc->ki, strlen(mc->ki) + 1); /* fits: checked above */
    free(mc);
    if (!ok) {
      fail_field(rs, "code", "не читается как код маркировки", "not a readable marking code");
      return -1;
    }
    *kind = CACHE_BLOCK_CODE;
    return 0;
  }
  snprintf(value, size, "%s", gtin ? gtin : series);
  *kind = gtin ? CACHE_BLOCK_GTIN : CACHE_BLOCK_SERIES;
  return 0;
}

static void h_block_add(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                        api_response_t *rs)
{
  cache_block_kind_t kind;
  char value[CACHE_KI_MAX + 1];
  const char *reason;
  int rc;
  (void)rq, (void)params;
  if (block_target(body, &kind, value, sizeof value, rs) != 0 ||
      field_string(body, "reason", false, CACHE_REASON_MAX, &reason, NULL, rs) != 0)
    return;
  if ((rc = cache_block_put(till_cache(api->till), kind, value, reason)) != 0) {
    if (rc == CACHE_ERR_ARGUMENT) {
      fail_field(rs, cache_block_kind_name(kind), "неверное значение блокировки",
                 "not a valid value for this block");
      return;
    }
    fail_named(rs, 500, cache_err_name(rc), cache_err_message(rc, true),
               cache_err_message(rc, false), NULL, NULL, NULL);
    return;
  }
  api_send_json(rs, 201,
                json_pack("{s:b,s:{s:s,s:s,s:s}}", "ok", 1, "block", "kind",
                          cache_block_kind_name(kind), "value", value, "reason",
                          reason ? reason : ""));
}

static void h_block_remove(api_t *api, const api_request_t *rq, json_t *body,
                           const uint32_t *params, api_response_t *rs)
{
  cache_block_kind_t kind;
  char value[CACHE_KI_MAX + 1];
  int rc;
  (void)rq, (void)params;
  if (block_target(body, &kind, value, sizeof value, rs) != 0) return;
  if ((rc = cache_block_remove(till_cache(api->till), kind, value)) == CACHE_ERR_NOT_FOUND) {
    fail_named(rs, 404, "no_block", "Такой блокировки нет.", "There is no such block.", NULL, NULL,
               NULL);
    return;
  }
  if (rc != 0) {
    fail_named(rs, rc == CACHE_ERR_ARGUMENT ? 400 : 500, cache_err_name(rc),
               cache_err_message(rc, true), cache_err_message(rc, false), NULL, NULL, NULL);
    return;
  }
  api_send_json(rs, 200,
                json_pack("{s:b,s:{s:s,s:s}}", "ok", 1, "removed", "kind",
                          cache_block_kind_name(kind), "value", value));
}

#define PENDING_MAX 1000

static void h_pending(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                      api_response_t *rs)
{
  size_t n = 0;
  (void)rq, (void)body, (void)params;
  cache_pending_t *list = calloc(PENDING_MAX, sizeof *list);
  if (!list || cache_pending_list(till_cache(api->till), list, PENDING_MAX, &n) != 0) {
    free(list);
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++) {
    /* The product's name, so a manager sees what to label ("" if gone). */
    cache_product_t product;
    if (cache_product_get(till_cache(api->till), list[i].gtin, &product) != 0)
      product.name[0] = '\0';
    json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:I,s:I,s:I}", "id", (json_int_t)list[i].id,
                                         "gtin", list[i].gtin, "name", product.name, "return_fd",
                                         (json_int_t)list[i].return_document, "line",
                                         (json_int_t)list[i].line, "created_ms",
                                         (json_int_t)list[i].created_ms));
  }
  free(list);
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "pending", arr));
}

/* ---- a line's quantity and discount, the catalogue search ------------------------- */

/* A line_edit.h refusal: its stable name, 404 / 409 / 400 / 500. */
static void fail_line_edit(api_response_t *rs, int rc)
{
  unsigned status = rc == LINE_EDIT_ERR_NO_LINE            ? 404
                    : rc == LINE_EDIT_ERR_NO_RECEIPT       ? 409
                    : rc == LINE_EDIT_ERR_STORAGE          ? 500
                    : rc == LINE_EDIT_ERR_NOT_DISCOUNTABLE ? 409
                                                           : 400;
  fail_named(rs, status, line_edit_err_name(rc), line_edit_err_message(rc, true),
             line_edit_err_message(rc, false), NULL, NULL, NULL);
}

static void h_item_quantity(api_t *api, const api_request_t *rq, json_t *body,
                            const uint32_t *params, api_response_t *rs)
{
  doc_quantity_t q;
  bool has;
  int rc;
  (void)rq;
  if (field_quantity(body, "quantity", &q, &has, rs) != 0) return;
  if (!has) {
    fail_field(rs, "quantity", "обязательно", "required");
    return;
  }
  if ((rc = sale_line_set_quantity(api->till, params[0], &q)) != 0) {
    fail_line_edit(rs, rc);
    return;
  }
  send_basket(api, rs, 200, NULL);
}

/* {"percent": 0..99}; above [till] discount_without_pin_percent the
** manager PIN (X-Manager-PIN) is asked, as for any manager route. */
static void h_item_discount(api_t *api, const api_request_t *rq, json_t *body,
                            const uint32_t *params, api_response_t *rs)
{
  uint64_t percent;
  bool has;
  int rc;
  if (field_uint(body, "percent", 99, &percent, &has, rs) != 0) return;
  if (!has) {
    fail_field(rs, "percent", "обязательно", "required");
    return;
  }
  if (sale_discount_needs_manager(api->till, (unsigned)percent) && check_manager(api, rq, rs) != 0)
    return;
  if ((rc = sale_line_set_discount(api->till, params[0], (unsigned)percent)) != 0) {
    fail_line_edit(rs, rc);
    return;
  }
  send_basket(api, rs, 200, NULL);
}

#define SEARCH_MAX 20

/* {"query": part of a name or of a GTIN} -> up to SEARCH_MAX products. */
static void h_catalogue_search(api_t *api, const api_request_t *rq, json_t *body,
                               const uint32_t *params, api_response_t *rs)
{
  const char *query;
  size_t n = 0;
  (void)rq, (void)params;
  if (field_string(body, "query", true, 128, &query, NULL, rs) != 0) return;
  cache_product_t *found = calloc(SEARCH_MAX, sizeof *found);
  if (!found) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  int rc = cache_product_search(till_cache(api->till), query, found, SEARCH_MAX, &n);
  if (rc == CACHE_ERR_ARGUMENT) {
    free(found);
    fail_field(rs, "query", "от 2 символов", "at least 2 characters");
    return;
  }
  if (rc != 0) {
    free(found);
    fail_named(rs, 500, cache_err_name(rc), cache_err_message(rc, true),
               cache_err_message(rc, false), NULL, NULL, NULL);
    return;
  }
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++)
    json_array_append_new(
        list, json_pack("{s:s,s:s,s:I,s:i,s:b,s:b}", "gtin", found[i].gtin, "name", found[i].name,
                        "price", (json_int_t)found[i].price, "vat", found[i].vat, "weighed",
                        found[i].weighed, "marked", found[i].marking_required));
  free(found);
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "products", list));
}

/* ---- reports, cash, corrections, the FN's close and replacement ----------------- */

/* The calls of pos/till/office.h, the ones `kassa report`, `cash`,
** `correction` and `fn close|replace` make: the same rules, the same
** reasons. An office_fail_t becomes the API's error: a field's 400, the
** FN's refusal (409 with fn_error and fn_code), the drawer's (its own
** name: "short", "no_shift", "amount"), or what the FN still owes. */
static void fail_office(api_response_t *rs, const office_fail_t *why)
{
  char code[8];
  switch (why->err) {
  case OFFICE_ERR_ARGUMENT:
    fail_named(rs, 400, api_errors[E_BAD_REQUEST].name, why->message_ru, why->message_en, NULL,
               NULL, json_pack("{s:s}", "field", why->field ? why->field : ""));
    return;
  case OFFICE_ERR_FN:
    snprintf(code, sizeof code, "0x%02X", (unsigned)fn_err_device_code(why->fn_error));
    fail_named(rs, why->fn_error <= FN_ERR_IO ? 500 : 409, "fn", why->message_ru, why->message_en,
               NULL, NULL,
               json_pack("{s:s,s:s}", "fn_error", fn_err_name(why->fn_error), "fn_code", code));
    return;
  case OFFICE_ERR_DRAWER:
    fail_named(rs,
               why->drawer_error == DRAWER_ERR_STORAGE  ? 500
               : why->drawer_error == DRAWER_ERR_AMOUNT ? 400
                                                        : 409,
               drawer_err_name(why->drawer_error), why->message_ru, why->message_en, NULL, NULL,
               NULL);
    return;
  case OFFICE_ERR_DEVICE:
    fail_named(rs, 409, office_err_name(why->err), why->message_ru, why->message_en, NULL, NULL,
               NULL);
    return;
  case OFFICE_ERR_OWED:
  case OFFICE_ERR_NOT_CLOSED:
  case OFFICE_ERR_NO_REGISTRATION:
    fail_named(rs, 409, office_err_name(why->err), why->message_ru, why->message_en, NULL, NULL,
               json_pack("{s:I,s:I}", "documents", (json_int_t)why->documents, "notifications",
                         (json_int_t)why->notifications));
    return;
  default:
    fail_named(rs, 500, office_err_name(why->err), why->message_ru, why->message_en, NULL, NULL,
               NULL);
  }
}

/* A body's "width" for a printed form: 0 with *width, -1 with rs filled. */
static int body_width(json_t *body, unsigned *width, api_response_t *rs)
{
  uint64_t w;
  bool has;
  if (field_uint(body, "width", WIDTH_MAX, &w, &has, rs) != 0) return -1;
  if (has && w < WIDTH_MIN) {
    fail_field(rs, "width", "от 24 до 80 символов", "24 to 80 characters");
    return -1;
  }
  *width = has ? (unsigned)w : WIDTH_DEFAULT;
  return 0;
}

/* The printed form of an X/Z report (5 or 21) from the archive, as text
** (malloc'd) or NULL; drawer may be NULL. */
static char *report_text(api_t *api, uint32_t number, const report_drawer_t *drawer, unsigned width)
{
  receipt_layout_t layout;
  char *text = NULL;
  fn_document_t *doc = malloc(sizeof *doc);
  if (doc && fn_document_get(till_fn(api->till), number, doc) == 0 &&
      report_layout(doc->data, doc->len, drawer, width, &layout) == 0) {
    text = layout.text;
    layout.text = NULL;
    receipt_layout_free(&layout);
  }
  free(doc);
  return text;
}

static void report(api_t *api, json_t *body, bool z, api_response_t *rs)
{
  const char *cashier = NULL;
  unsigned width;
  office_fail_t why;
  if ((z && field_cashier(body, &cashier, rs) != 0) || body_width(body, &width, rs) != 0) return;
  office_report_t *r = malloc(sizeof *r);
  if (!r) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  if (office_report(till_fn(api->till), till_config(api->till)->data_dir, z, cashier, r, &why) !=
      0) {
    fail_office(rs, &why);
    free(r);
    return;
  }
  /* Keep the cache's replay pointer level with the archive. */
  till_replay(api->till, NULL);
  report_drawer_t dr = {r->moves.in, r->moves.out, r->balance};
  char *text = report_text(api, r->doc.number, r->has_drawer ? &dr : NULL, width);
  json_t *j = office_report_json(r);
  free(r);
  put(j, "text", text ? json_string(text) : json_null());
  free(text);
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "report", j));
}

static void h_report_x(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                       api_response_t *rs)
{
  (void)rq, (void)params;
  report(api, body, false, rs);
}

static void h_report_z(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                       api_response_t *rs)
{
  (void)rq, (void)params;
  report(api, body, true, rs);
}

static void h_drawer(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                     api_response_t *rs)
{
  office_drawer_t d;
  office_fail_t why;
  (void)rq, (void)body, (void)params;
  if (office_drawer(till_fn(api->till), till_config(api->till)->data_dir, &d, &why) != 0) {
    fail_office(rs, &why);
    return;
  }
  api_send_json(rs, 200,
                json_pack("{s:b,s:{s:b,s:I,s:I,s:I,s:I,s:I,s:I}}", "ok", 1, "drawer", "shift_open",
                          d.shift_open, "shift", (json_int_t)d.shift, "cash_in",
                          (json_int_t)d.moves.in, "cash_ins", (json_int_t)d.moves.ins, "cash_out",
                          (json_int_t)d.moves.out, "cash_outs", (json_int_t)d.moves.outs, "balance",
                          (json_int_t)d.balance));
}

static void cash(api_t *api, json_t *body, bool in, api_response_t *rs)
{
  uint64_t amount;
  bool has;
  office_cash_t done;
  office_fail_t why;
  if (field_uint(body, "amount", PRICE_MAX, &amount, &has, rs) != 0) return;
  if (!has || amount == 0) {
    fail_field(rs, "amount", "сумма в копейках больше нуля", "an amount in kopecks above zero");
    return;
  }
  if (office_cash(till_fn(api->till), till_config(api->till)->data_dir, in, amount, &done, &why) !=
      0) {
    fail_office(rs, &why);
    return;
  }
  api_send_json(rs, 200,
                json_pack("{s:b,s:{s:s,s:I,s:I,s:I}}", "ok", 1, "cash", "kind", in ? "in" : "out",
                          "amount", (json_int_t)done.amount, "shift", (json_int_t)done.shift,
                          "balance", (json_int_t)done.balance));
}

static void h_cash_in(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                      api_response_t *rs)
{
  (void)rq, (void)params;
  cash(api, body, true, rs);
}

static void h_cash_out(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                       api_response_t *rs)
{
  (void)rq, (void)params;
  cash(api, body, false, rs);
}

/* {"operation":"income|refund","cash","cashless","prepaid","credit","other",
** "method","vat":"22","reason","order","date":"YYYY-MM-DD","cashier","width"}:
** pos/till/correction.h's correction_close, as `kassa correction` calls it. */
static void h_correction(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                         api_response_t *rs)
{
  const char *operation, *vat, *date, *order;
  uint64_t method;
  unsigned width;
  correction_request_t c = {.tax_system = (uint8_t)till_config(api->till)->tax_system};
  struct {
    const char *name;
    uint64_t *to;
  } forms[] = {{"cash", &c.pay.cash},
               {"cashless", &c.pay.cashless},
               {"prepaid", &c.pay.prepaid},
               {"credit", &c.pay.credit},
               {"other", &c.pay.other}};
  fn_doc_result_t res;
  int rc;
  (void)rq, (void)params;
  if (field_string(body, "operation", true, 16, &operation, NULL, rs) != 0 ||
      field_string(body, "vat", true, 16, &vat, NULL, rs) != 0 ||
      field_string(body, "reason", true, 512, &c.reason, NULL, rs) != 0 ||
      field_string(body, "order", false, 32, &order, NULL, rs) != 0 ||
      field_string(body, "date", false, 10, &date, NULL, rs) != 0 ||
      field_cashier(body, &c.cashier, rs) != 0 ||
      field_uint(body, "method", 7, &method, NULL, rs) != 0 || body_width(body, &width, rs) != 0)
    return;
  uint64_t total = 0;
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    if (field_uint(body, forms[i].name, PRICE_MAX, forms[i].to, NULL, rs) != 0) return;
    total += *forms[i].to;
  }
  c.operation = !strcmp(operation, "income")   ? DOC_OP_SALE
                : !strcmp(operation, "refund") ? DOC_OP_SALE_RETURN
                                               : 0;
  c.method = (uint8_t)method;
  c.type = order ? 1 : 0;
  c.order_number = order;
  if (!c.operation) {
    fail_field(rs, "operation", "«income» (приход) или «refund» (возврат прихода)",
               "\"income\" or \"refund\"");
    return;
  }
  if (!(c.vat = correction_vat_parse(vat))) {
    fail_field(rs, "vat", "22, 22/122, 20, 20/120, 10, 10/110, 7, 7/107, 5, 5/105, 0 или none",
               "22, 22/122, 20, 20/120, 10, 10/110, 7, 7/107, 5, 5/105, 0 or none");
    return;
  }
  if (total == 0 || total >= (UINT64_C(1) << 48)) {
    fail_field(rs, "amount", "сумма больше нуля и меньше 2^48 копеек (cash, cashless ...)",
               "an amount above zero and below 2^48 kopecks (cash, cashless ...)");
    return;
  }
  if ((date && !office_date_parse(date, &c.date)) || (order && !date)) {
    fail_field(rs, "date",
               order && !date ? "коррекция по предписанию требует даты расчёта ГГГГ-ММ-ДД"
                              : "дата ГГГГ-ММ-ДД",
               order && !date ? "a correction by order needs the settlement's date YYYY-MM-DD"
                              : "a date YYYY-MM-DD");
    return;
  }
  if ((rc = correction_close(till_fn(api->till), &c, &res)) != 0) {
    if (rc == FN_ERR_PARAMS)
      fail(rs, E_BAD_REQUEST, NULL, NULL);
    else
      fail_fn(rs, rc);
    return;
  }
  till_replay(api->till, NULL);
  int err = 0;
  char *text = receipt_text(api->till, res.number, width, &err);
  json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:s,s:I,s:i,s:i,s:o}", "document", (json_int_t)res.number,
                        "time", (json_int_t)res.time, "fiscal_sign", (json_int_t)res.fiscal_sign,
                        "shift", (json_int_t)res.shift_number, "operation", operation, "total",
                        (json_int_t)total, "vat", (int)c.vat, "correction_type", (int)c.type,
                        "text", text ? json_string(text) : json_null());
  free(text);
  api_send_json(rs, 201, json_pack("{s:b,s:o*}", "ok", 1, "correction", j));
}

static json_t *doc_result_json(const fn_doc_result_t *r)
{
  return json_pack("{s:I,s:I,s:I}", "document", (json_int_t)r->number, "time", (json_int_t)r->time,
                   "fiscal_sign", (json_int_t)r->fiscal_sign);
}

static void h_fn_close(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                       api_response_t *rs)
{
  fn_doc_result_t res;
  office_fail_t why;
  (void)rq, (void)body, (void)params;
  if (office_fn_close(till_fn(api->till), &res, &why) != 0) {
    fail_office(rs, &why);
    return;
  }
  till_replay(api->till, NULL);
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "fn_close", doc_result_json(&res)));
}

static void h_fn_replace(api_t *api, const api_request_t *rq, json_t *body, const uint32_t *params,
                         api_response_t *rs)
{
  const char *number, *cashier;
  office_fail_t why;
  (void)rq, (void)params;
  if (field_string(body, "fn_number", true, 16, &number, NULL, rs) != 0 ||
      field_cashier(body, &cashier, rs) != 0)
    return;
  office_replaced_t *r = malloc(sizeof *r);
  if (!r) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  if (till_fn_replace(api->till, number, cashier, r, &why) != 0) {
    fail_office(rs, &why);
    free(r);
    return;
  }
  const char *kept = strrchr(r->kept, '/');
  json_t *j = doc_result_json(&r->doc);
  put(j, "old_fn", json_string(r->old_number));
  put(j, "new_fn", json_string(r->new_number));
  put(j, "kept", json_string(kept ? kept + 1 : r->kept));
  free(r);
  api_send_json(rs, 200, json_pack("{s:b,s:o*}", "ok", 1, "replaced", j));
}

/* A copy from the archive (`kassa fd copy`): a receipt or correction as
** printed, an X/Z report with its totals; "КОПИЯ" on top. */
static void h_document_copy(api_t *api, const api_request_t *rq, json_t *body,
                            const uint32_t *params, api_response_t *rs)
{
  unsigned width;
  int rc, err = 0;
  json_t *totals = NULL;
  char *text = NULL;
  (void)body;
  if (query_width(rq, &width, rs) != 0) return;
  fn_document_t *doc = malloc(sizeof *doc);
  if (!doc) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  if ((rc = fn_document_get(till_fn(api->till), params[0], doc)) != 0) {
    free(doc);
    if (rc == FN_ERR_NO_DATA || rc == FN_ERR_PARAMS)
      fail(rs, E_NO_DOCUMENT, NULL, NULL);
    else
      fail_fn(rs, rc);
    return;
  }
  uint16_t type = doc->type;
  const char *kind = type == DOC_RECEIPT        ? "receipt"
                     : type == DOC_CORRECTION   ? "correction"
                     : type == DOC_SHIFT_CLOSE  ? "z"
                     : type == DOC_STATE_REPORT ? "x"
                                                : NULL;
  if (type == DOC_SHIFT_CLOSE || type == DOC_STATE_REPORT) {
    static doc_totals_t t;
    if (doc_parse_totals(doc->data, doc->len, 1194, &t) == 0)
      totals = json_pack("{s:o*}", "shift_totals", office_totals_json(&t));
    else
      totals = json_pack("{s:n}", "shift_totals");
    if (totals && doc_parse_totals(doc->data, doc->len, 1157, &t) == 0)
      json_object_set_new(totals, "fn_totals", office_totals_json(&t));
    text = report_text(api, params[0], NULL, width);
  } else if (kind) {
    text = receipt_text(api->till, params[0], width, &err);
  }
  free(doc);
  if (!kind) {
    fail_named(rs, 404, "not_printable", "Копию печатают для чеков, чеков коррекции и отчётов X/Z.",
               "A copy is made of receipts, correction receipts and X/Z reports.", NULL, NULL,
               NULL);
    json_decref(totals);
    return;
  }
  if (!text) {
    json_decref(totals);
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  size_t n = strlen(text) + 64;
  char *copy = malloc(n);
  /* Centred by characters: "КОПИЯ" is 5 characters and 10 bytes. */
  if (copy) snprintf(copy, n, "%*s%s\n%s", (int)((width - 5) / 2), "", "КОПИЯ", text);
  free(text);
  json_t *j = json_pack("{s:b,s:I,s:s,s:i,s:o}", "ok", 1, "document", (json_int_t)params[0], "kind",
                        kind, "width", (int)width, "text", copy ? json_string(copy) : json_null());
  free(copy);
  if (j && totals) json_object_update(j, totals);
  json_decref(totals);
  api_send_json(rs, 200, j);
}

/* ---- the pages ----------------------------------------------------------------- */

static const struct {
  const char *extension, *content_type;
} page_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
};

#define PAGE_NAME_MAX 64

bool api_is_page_path(const char *path)
{
  return path && path[0] == '/' && strcmp(path, "/api") != 0 && strncmp(path, "/api/", 5) != 0;
}

/* The file a page path names, into name (PAGE_NAME_MAX + 1 bytes), with
** its Content-Type; false for anything that is not one segment of
** [a-z0-9][a-z0-9_-]* "." extension. With one dot and no '/' allowed, no
** path can climb out of the folder or reach a dot file. */
static bool page_file(const char *path, char *name, const char **type)
{
  const char *p = !strcmp(path, "/")          ? "index.html"
                  : !strcmp(path, "/manager") ? "manager.html"
                                              : path + 1;
  const char *dot = NULL;
  size_t n = strlen(p);
  if (n == 0 || n > PAGE_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '.' && !dot && i > 0) {
      dot = p + i;
      continue;
    }
    bool plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!plain && !((c == '-' || c == '_') && i > 0 && !dot)) return false;
  }
  if (!dot) return false;
  for (size_t i = 0; i < sizeof page_types / sizeof page_types[0]; i++)
    if (!strcmp(dot + 1, page_types[i].extension)) {
      memcpy(name, p, n + 1);
      *type = page_types[i].content_type;
      return true;
    }
  return false;
}

/* A page's error, as a small HTML page in both languages. */
static void page_fail(api_response_t *rs, unsigned status, const char *name, const char *ru,
                      const char *en)
{
  static const char form[] =
      "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>%u</title></head>"
      "<body><h1>%u</h1><p>%s</p><p lang=\"en\">%s</p><p><a href=\"/\">Касса</a> · "
      "<a href=\"/manager\">Менеджер</a></p></body></html>\n";
  int n = snprintf(NULL, 0, form, status, status, ru, en);
  free(rs->body);
  rs->body = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (rs->body) snprintf(rs->body, (size_t)n + 1, form, status, status, ru, en);
  rs->body_len = rs->body ? (size_t)n : 0;
  rs->status = status;
  rs->error = name;
  rs->content_type = "text/html; charset=utf-8";
  rs->page = true;
}

/* Reads the regular file name of folder dir whole: 0, -1 no such plain
** file (missing, a link, a folder, a device), -2 over API_PAGE_MAX, -3 a
** read error or no memory. */
static int page_read(const char *dir, const char *name, char **out, size_t *len)
{
  struct stat st;
  char *buf = NULL;
  size_t got = 0;
  int rc = -1, fd = -1, dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  /* O_NOFOLLOW: a link planted in the folder is not followed out of it;
  ** O_NONBLOCK: a FIFO does not hang the service (it is refused below). */
  fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) goto done;
  rc = -2;
  if (st.st_size < 0 || (uint64_t)st.st_size > API_PAGE_MAX) goto done;
  rc = -3;
  if (!(buf = malloc((size_t)st.st_size + 1))) goto done;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) goto done;
    got += (size_t)r;
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  buf = NULL;
  rc = 0;
done:
  free(buf);
  if (fd >= 0) close(fd);
  close(dfd);
  return rc;
}

static void serve_page(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  const char *dir = till_config(api->till)->web_dir, *type = NULL;
  char name[PAGE_NAME_MAX + 1];
  char *body = NULL;
  size_t len = 0;
  if (!page_file(rq->path, name, &type)) {
    page_fail(rs, 404, api_errors[E_NOT_FOUND].name, "Такой страницы нет.",
              "There is no such page.");
    return;
  }
  if (strcmp(rq->method, "GET") != 0) {
    page_fail(rs, 405, api_errors[E_METHOD].name, "Страницы только читаются (GET).",
              "Pages are read only (GET).");
    rs->allow = "GET";
    return;
  }
  int rc = dir[0] ? page_read(dir, name, &body, &len) : -1;
  if (rc == -1) {
    page_fail(rs, 404, api_errors[E_NOT_FOUND].name,
              "Такой страницы нет (папка страниц — [paths] web в настройках).",
              "There is no such page (the pages' folder is [paths] web in the config).");
    return;
  }
  if (rc != 0) {
    page_fail(rs, 500, "page", "Страницу не удалось прочитать.", "The page could not be read.");
    return;
  }
  free(rs->body);
  rs->body = body;
  rs->body_len = len;
  rs->status = 200;
  rs->content_type = type;
  rs->page = true;
}

/* ---- routing ------------------------------------------------------------------ */

enum { MANAGER = 1 };

typedef struct route {
  const char *method;
  const char *pattern; /* "{n}" matches a decimal number 1..4294967295 */
  handler_t handler;
  unsigned flags;
} route_t;

static const route_t routes[] = {
    {"GET", "/api/status", h_status, 0},
    {"GET", "/api/reasons", h_reasons, 0},
    {"POST", "/api/check", h_check, 0},
    {"POST", "/api/receipts", h_receipt_open, 0}, /* a return asks for the PIN itself */
    {"GET", "/api/receipts/current", h_receipt_get, 0},
    {"DELETE", "/api/receipts/current", h_receipt_cancel, 0},
    {"POST", "/api/receipts/current/items", h_item_add, 0},
    {"POST", "/api/receipts/current/items/without-code", h_item_without_code, MANAGER},
    {"DELETE", "/api/receipts/current/items/{n}", h_item_remove, 0},
    {"POST", "/api/receipts/current/items/{n}/quantity", h_item_quantity, 0},
    {"POST", "/api/receipts/current/items/{n}/discount", h_item_discount, 0}, /* PIN above */
    {"POST", "/api/catalogue/search", h_catalogue_search, 0},
    {"POST", "/api/receipts/current/pay", h_pay, 0},
    {"POST", "/api/receipts/full", h_receipt_full, 0},
    {"POST", "/api/v2/requests", h_atol_post, 0},
    {"GET", "/api/v2/requests/{s}", h_atol_get, 0},
    {"GET", "/api/receipts/{n}/text", h_reprint, 0},
    {"POST", "/api/shift/open", h_shift_open, 0},
    {"POST", "/api/shift/close", h_shift_close, 0},
    {"POST", "/api/accept", h_accept, MANAGER},
    {"POST", "/api/remark", h_remark, MANAGER},
    {"GET", "/api/remark/pending", h_pending, MANAGER},
    {"POST", "/api/labels", h_label, MANAGER},
    {"POST", "/api/blocks", h_block_add, MANAGER},
    {"DELETE", "/api/blocks", h_block_remove, MANAGER},
    {"POST", "/api/reports/x", h_report_x, 0},
    {"POST", "/api/reports/z", h_report_z, 0},
    {"GET", "/api/drawer", h_drawer, MANAGER},
    {"POST", "/api/cash/in", h_cash_in, MANAGER},
    {"POST", "/api/cash/out", h_cash_out, MANAGER},
    {"POST", "/api/corrections", h_correction, MANAGER},
    {"POST", "/api/fn/close", h_fn_close, MANAGER},
    {"POST", "/api/fn/replace", h_fn_replace, MANAGER},
    {"GET", "/api/documents/{n}/copy", h_document_copy, 0},
};

/* Matches path against pattern segment by segment; numbers into params
** ("{n}"); "{s}" takes a name segment, which the handler reads from the path. */
static bool match(const char *pattern, const char *path, uint32_t *params)
{
  size_t np = 0;
  while (*pattern && *path) {
    if (!strncmp(pattern, "{n}", 3)) {
      char *end = NULL;
      if (!isdigit((unsigned char)*path)) return false;
      unsigned long long v = strtoull(path, &end, 10);
      if (v == 0 || v > UINT32_MAX || (*end && *end != '/') || np >= MAX_PARAMS) return false;
      params[np++] = (uint32_t)v;
      pattern += 3;
      path = end;
      continue;
    }
    if (!strncmp(pattern, "{s}", 3)) {
      /* A name segment (an ATOL task's uuid): 1..64 of [A-Za-z0-9_-]. */
      size_t n = strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
      if (n == 0 || n > 64 || (path[n] && path[n] != '/')) return false;
      pattern += 3;
      path += n;
      continue;
    }
    if (*pattern != *path) return false;
    pattern++, path++;
  }
  return !*pattern && !*path;
}

size_t api_body_limit(const char *method, const char *path)
{
  if (method && path && !strcmp(method, "POST") && !strcmp(path, "/api/accept"))
    return API_ACCEPT_BODY_MAX;
  return API_BODY_MAX;
}

void api_too_large(bool lm, size_t limit, api_response_t *rs)
{
  char ru[96], en[96];
  if (lm) {
    rs->error = api_errors[E_TOO_LARGE].name;
    api_send_json(rs, 413,
                  json_pack("{s:i,s:s,s:s}", "errorCode", 413, "reason",
                            "The request body is too large.", "errorMessage",
                            "The request body is too large."));
    return;
  }
  snprintf(ru, sizeof ru, "Не более %zu байт.", limit);
  snprintf(en, sizeof en, "At most %zu bytes.", limit);
  fail_named(rs, 413, api_errors[E_TOO_LARGE].name, api_errors[E_TOO_LARGE].ru,
             api_errors[E_TOO_LARGE].en, ru, en, json_pack("{s:I}", "limit", (json_int_t)limit));
}

static bool is_json_type(const char *content_type)
{
  if (!content_type) return false;
  while (*content_type == ' ') content_type++;
  size_t n = strlen("application/json");
  return !strncasecmp(content_type, "application/json", n) &&
         (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

int api_gate(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  memset(rs, 0, sizeof *rs);
  if (!api_host_ok(rq->host, rq->port)) {
    fail(rs, E_BAD_HOST, NULL, NULL);
    return -1;
  }
  if (api_is_page_path(rq->path)) return 0; /* static files without a secret: no token */
  return api_check_token(api, bearer(rq->authorization), false, rq->source, rs);
}

void api_handle(api_t *api, const api_request_t *rq, api_response_t *rs)
{
  const route_t *route = NULL;
  uint32_t params[MAX_PARAMS] = {0};
  bool path_known = false;
  json_t *body = NULL;
  if (api_gate(api, rq, rs) != 0) return;
  if (api_is_page_path(rq->path)) {
    serve_page(api, rq, rs);
    return;
  }
  for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !route; i++) {
    uint32_t p[MAX_PARAMS] = {0};
    if (!match(routes[i].pattern, rq->path, p)) continue;
    path_known = true;
    if (strcmp(routes[i].method, rq->method) != 0) continue;
    route = &routes[i];
    memcpy(params, p, sizeof params);
  }
  if (!route) {
    fail(rs, path_known ? E_METHOD : E_NOT_FOUND, NULL, NULL);
    return;
  }
  if (!strcmp(rq->method, "POST") && !is_json_type(rq->content_type)) {
    fail(rs, E_MEDIA_TYPE, NULL, NULL);
    return;
  }
  /* A manager route needs the PIN; any other request may bring it, for a
  ** manager's decision inside a cashier's action (a price other than the
  ** catalogue's, pos/till/money.h). Either way a wrong PIN is counted. */
  bool manager = (route->flags & MANAGER) || (rq->manager_pin && rq->manager_pin[0]);
  if (manager && check_manager(api, rq, rs) != 0) return;
  if (rq->body && rq->body_len > 0) {
    json_error_t je;
    body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!body || !json_is_object(body)) {
      char ru[256], en[256];
      if (body) {
        snprintf(ru, sizeof ru, "Ожидался объект.");
        snprintf(en, sizeof en, "An object was expected.");
      } else {
        /* jansson quotes the input, which may be anything */
        fiscal_text_utf8_clean(je.text);
        snprintf(ru, sizeof ru, "Строка %d, позиция %d: %s.", je.line, je.column, je.text);
        snprintf(en, sizeof en, "Line %d, column %d: %s.", je.line, je.column, je.text);
      }
      json_decref(body);
      fail(rs, E_BAD_JSON, ru, en);
      return;
    }
  } else if (!(body = json_object())) {
    fail(rs, E_TILL, NULL, NULL);
    return;
  }
  till_set_manager_present(api->till, manager);
  if (retry_before(api, rq, body, rs) == 0) { /* a repeat is answered there */
    route->handler(api, rq, body, params, rs);
    retry_after(api, rq, rs);
  }
  till_set_manager_present(api->till, false);
  json_decref(body);
  if (!rs->body && rs->status == 0) rs->status = 500;
}
