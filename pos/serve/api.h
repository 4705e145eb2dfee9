/*
** api.h: the till's HTTP JSON API and the local-module compatible
** endpoints, as functions from a request to a response.
**
** POS front ends, the pages and scripts drive the till over HTTP on
** 127.0.0.1 (`kassa serve`, pos/serve/service.h). This module is everything that
** happens between "a request arrived" and "this response goes back": the
** security rules (API token, manager PIN, rate limiting, Host and
** Content-Type checks), the routes under /api/… (status, check, receipts,
** items with their quantity and discount, payment with the change,
** returns, shift, X/Z reports, the drawer and cash in/out, corrections,
** the FN close and replacement, copies, the catalogue search, acceptance,
** remarking, labels, reprints),
** the pages (pos/serve/web: the cashier and manager screens, see below) and, in
** lm.c, the Chestny ZNAK local module's /api/v1/status and
** /api/v{1,2}/cis/outCheck answered from the code cache. It knows nothing
** about sockets: the service fills an api_request_t from libmicrohttpd and
** sends the api_response_t back, so the routes can be driven and fuzzed
** without a network.
**
** Every answer is UTF-8 JSON. Success is {"ok":true, ...}; every error is
** {"ok":false,"error":"<stable name>","message_ru":…,"message_en":…} with a
** fitting HTTP status, and a request that fails changes nothing (the till
** modules it calls are transactional; the API validates the whole request
** before it calls them). The names and paths are a contract documented in
** docs/API.md ("kassa serve: the HTTP API").
**
** Secrets: the token and the PIN are compared in constant time, wrong
** tries are counted (API_MAX_FAILURES within API_FAIL_WINDOW_MS lock for
** API_LOCK_MS, doubling with each lock up to API_LOCK_MAX_MS, answered 429
** with Retry-After; see api_limiter_t): the token's per port and per
** source, never refusing the right token (api_check_token), the PIN's for
** the one PIN; neither ever reaches a log or a response.
**
** An api_t is not thread-safe: the service calls it under one mutex,
** because the till behind it is single-threaded.
*/
#ifndef KASSA_POS_API_H
#define KASSA_POS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pos/till/till.h"

#define API_BODY_MAX        (64u * 1024u)         /* request bodies, bytes (413 beyond) */
#define API_ACCEPT_BODY_MAX (16u * 1024u * 1024u) /* POST /api/accept: a UTD can be large */
#define API_MAX_FAILURES    5u                    /* wrong secrets in a row before a lock */
#define API_LOCK_MS         30000                 /* the first lock */
#define API_LOCK_MAX_MS     (16 * 60 * 1000)      /* locks double up to this */
#define API_LM_CODES_MAX    100u                  /* codes in one outCheck */

/* ---- rate limiting ---------------------------------------------------------- */

#define API_FAIL_WINDOW_MS (15 * 60 * 1000) /* wrong tries count within this window */
#define API_FORGIVE_MS     (60 * 60 * 1000) /* an hour without a wrong try resets the doubling */

/*
** Wrong-secret bookkeeping for one secret (the token, or the PIN). A right
** secret does not reset it: otherwise an attacker could interleave guesses
** with the front end's own traffic. Wrong tries are counted within
** API_FAIL_WINDOW_MS of the first one; the API_MAX_FAILURES-th locks the
** secret for API_LOCK_MS, doubled for every earlier lock, at most
** API_LOCK_MAX_MS; API_FORGIVE_MS without a wrong try forgets the locks.
** While locked every try is refused, right or wrong, so a lock cannot be
** used to test guesses.
*/
typedef struct api_limiter {
  unsigned failures;       /* wrong tries in the current window */
  unsigned locks;          /* locks so far (the doubling) */
  int64_t window_start_ms; /* monotonic ms of the window's first wrong try */
  int64_t last_failure_ms; /* monotonic ms of the last wrong try, 0 none */
  int64_t locked_until_ms; /* 0 or past: not locked */
} api_limiter_t;

/* Milliseconds the secret stays locked at now_ms; 0 when it is not. */
int64_t api_limiter_locked(const api_limiter_t *l, int64_t now_ms);

/* Records a wrong try at now_ms (monotonic), locking as described above. */
void api_limiter_fail(api_limiter_t *l, int64_t now_ms);

/*
** Compares a secret someone sent with the configured one in time that
** depends only on the configured secret's length (never on where they
** differ). false when either is NULL or the configured one is empty.
*/
bool api_secret_equal(const char *given, const char *expected);

/* ---- requests and responses ------------------------------------------------- */

/* One request, as the service read it. Strings are borrowed for the call;
** absent headers are NULL. */
typedef struct api_request {
  const char *method;      /* "GET", "POST", "DELETE" ... */
  const char *path;        /* "/api/status", without the query string */
  const char *query_width; /* ?width= of a reprint, or NULL */
  const char *body;        /* NUL-terminated copy of the body, or NULL */
  size_t body_len;
  const char *host;          /* Host header */
  const char *content_type;  /* Content-Type header */
  const char *authorization; /* Authorization header ("Bearer …") */
  const char *manager_pin;   /* X-Manager-PIN header */
  const char *basic_user;    /* HTTP Basic credentials, decoded (LM port) */
  const char *basic_password;
  const char *client_id;       /* X-ClientId header (LM port) */
  uint16_t port;               /* the port the request came in on (Host check) */
  const char *idempotency_key; /* Idempotency-Key header, or NULL */
  /* The query string's arguments, percent-decoded: query(query_user, name)
  ** is the value of name or NULL (query NULL: no arguments). */
  const char *(*query)(void *query_user, const char *name);
  void *query_user;
  const char *source; /* the peer's address as text (the lock-out's key), or NULL */
} api_request_t;

/* The query argument name of rq, or NULL. */
const char *api_query(const api_request_t *rq, const char *name);

/* One response; free it with api_response_free(). */
typedef struct api_response {
  unsigned status; /* HTTP status */
  char *body;      /* malloc'd UTF-8 JSON, NUL-terminated */
  size_t body_len;
  unsigned retry_after;     /* seconds for a Retry-After header, 0: none */
  const char *authenticate; /* static WWW-Authenticate value, or NULL */
  const char *error;        /* static stable error name for the log, NULL on success */
  const char *content_type; /* static; NULL: application/json (every API answer) */
  const char *allow;        /* static Allow header of a 405, or NULL */
  bool page;                /* one of the pages (pos/serve/web): sent with the pages' security
                               headers (Content-Security-Policy, frame-ancestors) */
} api_response_t;

void api_response_free(api_response_t *rs); /* NULL is fine; leaves it empty */

typedef struct api api_t;

/* The monotonic clock the limiter runs on (ms); injectable for tests. */
typedef int64_t (*api_clock_t)(void *user);

/* A JSON object /api/status shows under "background" (stolen); its
** "warnings" join the status's warnings. pos/serve/background.h's. */
typedef json_t *(*api_background_t)(void *user);

typedef struct api_options {
  till_t *till;      /* required; borrowed for the api's life */
  api_clock_t clock; /* NULL: CLOCK_MONOTONIC */
  void *clock_user;
  api_background_t background; /* NULL: no background work ("background" absent) */
  void *background_user;
} api_options_t;

/* Creates the API over an open till. 0, or -1 (NULL till, out of memory). */
int api_create(const api_options_t *o, api_t **out);
void api_destroy(api_t *api); /* NULL is fine */

/*
** The most body bytes a request to (method, path) may carry: API_BODY_MAX,
** or API_ACCEPT_BODY_MAX for POST /api/accept. The service answers 413
** (api_too_large) beyond it without calling the routes.
*/
size_t api_body_limit(const char *method, const char *path);

/* The 413 answer ("body_too_large"), for the main API or the LM port. */
void api_too_large(bool lm, size_t limit, api_response_t *rs);

/*
** The pages (the cashier screen at /, the manager screen at /manager, and
** the files they load, from [paths] web) are answered by api_handle too:
** every path outside /api/ is a page. A page is a plain file named by one
** path segment of lower-case letters, digits, '-' and '_' with a known
** extension (html, css, js, png, svg, ico, woff2, txt); "/" is index.html
** and "/manager" manager.html. Nothing else is ever opened: no '/', no
** dot file, no "..", no symbolic link (O_NOFOLLOW), only regular files of
** at most API_PAGE_MAX bytes, so no request reaches outside the folder.
** GET only (405 with Allow: GET). The Host gate applies; the token does
** not, because the pages hold no secret: they ask the API with the token
** the browser was given (docs/OPERATIONS.md, "The pages").
*/
#define API_PAGE_MAX (4u * 1024u * 1024u)

/* true when path is one of the pages' (not under /api/). */
bool api_is_page_path(const char *path);

/*
** Answers one request to the main API (the http port). rs is filled
** completely (status, body, headers); on a failure to allocate, status
** 500 with body NULL. Never NULL arguments.
*/
void api_handle(api_t *api, const api_request_t *rq, api_response_t *rs);

/*
** Answers one request to the local-module port (lm.c): every method of
** the 2025 local-module manual (status, init, safe_init, changePassword,
** stats, config, outCheck v1/v2 with their GET forms, cis/sell, cis/return,
** cis/sold/check, cis/sold), with its field names and error codes: HTTP 400
** with errorCode 4045 while the cache was never synced, 4050 when it is
** stale, 401 / 4010 for a wrong password. Basic auth password (or
** "Authorization: Token T") = [till] api_token when one is set;
** X-ClientId, when sent, must be this till's FN number.
*/
void api_handle_lm(api_t *api, const api_request_t *rq, api_response_t *rs);

/* The local-module routes, for the contract test (docs/openapi.yaml):
** how many, and the i-th one's method and path (NULL beyond the last). */
size_t api_lm_route_count(void);
void api_lm_route(size_t i, const char **method, const char **path);

/* ---- shared by api.c and lm.c ------------------------------------------------ */

/* The till and its clock, for lm.c. */
till_t *api_till(api_t *api);
int64_t api_monotonic_ms(api_t *api);

/* Serialises j (stolen; NULL is an allocation that failed) into rs with
** status; 500 with no body when that fails. */
void api_send_json(api_response_t *rs, unsigned status, json_t *j);

/*
** Checks the API token sent with a request (the bearer token on the main
** port, the Basic password on the LM port) against [till] api_token: 0
** when it matches or no token is configured, else rs is filled (401, or
** 429 with Retry-After; in the LM's error format when lm) and -1 is
** returned. A missing token is refused but not counted as a wrong try.
**
** The lock-out protects without locking the shop: wrong tries are counted
** per port and per source address (the peer's IP as text; NULL counts as
** one unnamed source), so a wrong LM password never touches the API
** port's count and one noisy client locks only itself; a source that is
** locked has its wrong tries answered 429 (not counted again) until the
** lock ends; the right token is accepted from every source at every
** moment, so the cashier who holds it keeps working during an attack.
** That is safe because the token is a long random secret (the package
** writes 32 hex digits): the limit makes guessing noisy and slow per
** source, the token's length makes it hopeless (docs/OPERATIONS.md).
** API_SOURCES sources are remembered per port; the one quiet the longest
** makes room for a new one.
*/
#define API_SOURCES 64
int api_check_token(api_t *api, const char *given, bool lm, const char *source, api_response_t *rs);

/*
** The gates a request passes on its head alone, before any body is read:
** the Host header and the token (not for the pages, which hold no secret).
** 0, or -1 with rs filled as api_handle would fill it. api_handle and
** api_handle_lm run them again, so a route never sees a request they
** refuse; a right token is never counted, so calling both costs nothing.
*/
int api_gate(api_t *api, const api_request_t *rq, api_response_t *rs);
int api_gate_lm(api_t *api, const api_request_t *rq, api_response_t *rs);

/* The manager PIN gate (X-Manager-PIN): 0, or -1 with rs filled (403 /
** 429). A return gives money back: a manager's decision on every door. */
int api_check_manager(api_t *api, const api_request_t *rq, api_response_t *rs);

/* Host header check shared by both ports: loopback names only. */
bool api_host_ok(const char *host, uint16_t port);

/* The routes outside api.c (receipt_full.c, atol.c, retry.c) answer
** errors in the API's shape: {"ok":false,"error":name,"message_ru",
** "message_en"} plus extra's fields (stolen, may be NULL), with status.
** Returns -1, so a reader can return it. api_fail_fn: the FN refused (409;
** 500 for the emulator's disk), naming its rule. */
int api_fail(api_response_t *rs, unsigned status, const char *name, const char *ru, const char *en,
             json_t *extra);
void api_fail_fn(api_response_t *rs, int fn_rc);

/* Routes and gates defined outside api.c (declared here, so api.c needs
** no header of theirs and nothing circles back):
** receipt_full_handle (receipt_full.c) answers POST /api/receipts/full.
** retry_before / retry_after (retry.c): safe retries around every
** state-changing request that carries an Idempotency-Key header.
** retry_before() runs before the route's handler: 1 when it answered (a
** stored answer again, the receipt a crash swallowed made again from the
** archive, or a refusal: a key used for another request is 422
** idempotency_conflict, a malformed key 400), 0 when the handler is to run
** (the key is then claimed, pending, with the FN's last document number).
** retry_after() stores a 2xx answer with the key, and frees the key of any
** other answer (nothing changed). */
void receipt_full_handle(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs);
/* atol.c: POST /api/v2/requests and GET /api/v2/requests/{uuid}, ATOL's
** JSON tasks; the marking-code validation under way lives in the api
** (api_atol_validation: a JSON object or NULL, owned by the api). */
void atol_handle_post(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs);
void atol_handle_get(api_t *api, const char *uuid, api_response_t *rs);
json_t **api_atol_validation(api_t *api);
/* atol.c: settles an ATOL request's claim a crash left pending (key
** "atol:UUID", request the kept body), for retry.c. */
void atol_settle(api_t *api, const char *key, uint32_t after_document, const char *request);
int retry_before(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs);
void retry_after(api_t *api, const api_request_t *rq, const api_response_t *rs);

/* The receipt QR as a base64 PNG for the pages, or JSON null. */
json_t *api_qr_png(const char *qr);

/* A random (version 4) UUID as text, for reqId. */
void api_uuid(char out[37]);

#endif /* KASSA_POS_API_H */
