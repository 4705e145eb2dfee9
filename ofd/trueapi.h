/*
** ofd/trueapi.h: the permissive-mode online check of a marking code
** (разрешительный режим, DOMAIN §6), the till's side of true-api.
**
** Before each sale of a marked good the till asks the operator whether the
** code may be sold and keeps the answer's reqId and reqTimestamp for tag
** 1265. The operator publishes its hosts at cdn/info; each host reports
** its average answer time at cdn/health/check. A trueapi_t keeps that list
** ranked by avgTimeMs, refreshes it every 6 hours, and skips a host that
** failed for a while: 15 minutes after an error (refused, 5xx, not JSON, a
** failed health check), but only TRUEAPI_TIMEOUT_QUARANTINE_S (60 s) after
** a single late answer, because a late answer is what a loaded but healthy
** host gives; a second timeout in a row earns the full 15 minutes.
**
** A quarantine never leaves the till without a host to ask (issue 15): when
** every host is quarantined, the check still sends one request, to the
** best of them (the lowest avgTimeMs; the earliest release on a tie). A
** till with one host that answered late once therefore keeps asking it
** instead of selling for 15 minutes on its own records.
**
** The one promise to the cashier is time: a check never takes longer than
** its budget (1.5 s by default) in total, refresh included. Each request
** gets what is left of the budget (or a smaller per-attempt cap, when set);
** a host that does not answer in that time is quarantined and the next one
** tried while budget remains. With no answer in time the result is
** TRUEAPI_NO_ANSWER and the till decides offline from what it has (issue
** 5). CRPT's own device (ТС ПИоТ) waits 1 800 ms (its codesCheckTimeout):
** an answer after 1 800 ms is no answer here either.
**
** An answer becomes a verdict in the deny order of DOMAIN §6: the first
** failing rule wins, with the refinements of CRPT's test plan for the
** permissive-mode check (tests/data/permissive/cases.json has each case
** and where it was read):
**   - grey zone: tobacco (group 3) whose answer says grayZone = true sells
**     although realizable = false (the plan's 5.4: a pack of the
**     temporarily untraced stock); every other rule still applies;
**   - tobacco price: smp and mrp are per consumer unit (a pack); a block
**     (packageType other than UNIT, or innerUnitCount / packageQuantity
**     above 1) is priced against them times its unit count
**     (packageQuantity, else innerUnitCount, else 10, the block of the
**     public clients) (5.8, 5.9, 5.25);
**   - nicotine products (group 16): true-api's mrp is the minimum price,
**     so a sale below it is refused (5.26) and there is no maximum. trueapi_parse_answer() and
*trueapi_decide() are pure
** (no network), so the order is tested from JSON alone.
**
** Time: budgets run on the real monotonic clock (they are about sockets);
** quarantine, the refresh age and expiry dates use the injected wall clock
** (milliseconds since the epoch), so tests can move it by 15 minutes.
**
** Errors: 0 or a negative trueapi_err_t with a stable name and a message
** in Russian and English. A trueapi_t is used by one thread at a time.
*/
#ifndef KASSA_OFD_TRUEAPI_H
#define KASSA_OFD_TRUEAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum trueapi_err {
  TRUEAPI_OK = 0,
  TRUEAPI_ERR_ARGUMENT = -1,  /* NULL pointer, bad option, code too long */
  TRUEAPI_ERR_NO_MEMORY = -2, /* allocation failed */
  TRUEAPI_ERR_NO_ANSWER = -3, /* no host answered within the budget */
  TRUEAPI_ERR_NO_HOST = -4,   /* no host list: cdn/info failed, or every host is quarantined */
  TRUEAPI_ERR_AUTH = -5,      /* the operator refused the API key (HTTP 401/403) */
  TRUEAPI_ERR_PROTOCOL = -6,  /* the answer is not the JSON true-api sends */
  TRUEAPI_ERR_EMERGENCY = -7, /* HTTP 203: the check service is in emergency mode; use the
                                 local module (the plan's 5.21); no quarantine */
} trueapi_err_t;

/* Stable lower-case name ("no_answer"; "unknown" otherwise) and a static
** message, Russian or English. Never NULL. */
const char *trueapi_err_name(int err);
const char *trueapi_err_message(int err, bool russian);

/* Verdicts, in the deny order of DOMAIN §6 (the first failing rule wins). */
typedef enum trueapi_verdict {
  TRUEAPI_SELL = 0,           /* "ok": every rule passed */
  TRUEAPI_BAD_FORMAT,         /* "bad_format": valid = false */
  TRUEAPI_UNKNOWN,            /* "not_found": found = false */
  TRUEAPI_NOT_APPLIED,        /* "not_applied": utilised = false */
  TRUEAPI_CRYPTO_FAILED,      /* "crypto_failed": verified = false */
  TRUEAPI_BLOCKED,            /* "blocked": isBlocked */
  TRUEAPI_SOLD,               /* "sold": sold (already withdrawn) */
  TRUEAPI_NOT_IN_CIRCULATION, /* "not_in_circulation": realizable = false */
  TRUEAPI_EXPIRED,            /* "expired": expireDate passed (dairy, water, beer) */
  TRUEAPI_PRICE_LOW,          /* "price_below_min": sale price < smp (tobacco, per unit times
                                 the units of a block) or < mrp (nicotine, group 16) */
  TRUEAPI_PRICE_HIGH,         /* "price_above_max": sale price > mrp (tobacco) */
  TRUEAPI_NO_ANSWER,          /* "no_answer": nothing in time; decide offline */
} trueapi_verdict_t;

/* Stable name (above; "unknown" for other values) and a message a cashier
** understands, Russian or English. Never NULL. */
const char *trueapi_verdict_name(trueapi_verdict_t v);
const char *trueapi_verdict_message(trueapi_verdict_t v, bool russian);

/* true-api product groups the rules need. */
#define TRUEAPI_GROUP_TOBACCO  3
#define TRUEAPI_GROUP_MILK     8
#define TRUEAPI_GROUP_OTP      12 /* alternative tobacco products */
#define TRUEAPI_GROUP_WATER    13
#define TRUEAPI_GROUP_BEER     15
#define TRUEAPI_GROUP_NICOTINE 16 /* НСП: mrp is the minimum price */

/* Units in a block whose answer names none (the public clients' default). */
#define TRUEAPI_BLOCK_UNITS 10

#define TRUEAPI_CIS_MAX    256
#define TRUEAPI_GROUPS_MAX 8

/* One element of codes[] as parsed. A boolean missing from the answer is
** false (so a missing valid/found/utilised/verified/realizable denies). */
typedef struct trueapi_code {
  char cis[TRUEAPI_CIS_MAX + 1];
  char gtin[15];
  int group_ids[TRUEAPI_GROUPS_MAX];
  size_t group_count;
  bool valid, verified, found, realizable, utilised, blocked, owner, sold, gray_zone;
  char package_type[16];     /* packageType: "UNIT", "GROUP", ... ("" when absent) */
  uint32_t inner_unit_count; /* innerUnitCount (0: absent) */
  uint32_t package_quantity; /* packageQuantity (0: absent) */
  bool has_expire;
  int64_t expire_ms; /* expireDate, ms since the epoch (UTC) */
  bool has_mrp, has_smp;
  uint64_t mrp, smp; /* kopecks */
  int error_code;
  char message[256];
} trueapi_code_t;

typedef struct trueapi_result {
  trueapi_verdict_t verdict;
  int err; /* 0 with an answer; else the trueapi_err_t (verdict TRUEAPI_NO_ANSWER) */
  trueapi_code_t code;
  char req_id[64];
  int64_t req_timestamp; /* ms */
  char tag1265[128];     /* "UUID=<reqId>&Time=<reqTimestamp>" */
  char host[256];        /* the host that answered */
  unsigned elapsed_ms;   /* real time the check took */
  unsigned hosts_tried;  /* requests sent, the answering one included */
  bool probed;           /* every host was quarantined: the best one was asked anyway */
} trueapi_result_t;

/* Wall clock, ms since the epoch. */
typedef int64_t (*trueapi_clock_ms_t)(void *user);

#define TRUEAPI_BUDGET_MS            1500u
#define TRUEAPI_QUARANTINE_S         900u
#define TRUEAPI_TIMEOUT_QUARANTINE_S 60u /* after a single late answer */
#define TRUEAPI_REFRESH_S            21600u
#define TRUEAPI_HEALTH_TIMEOUT_MS    1000u
#define TRUEAPI_HOSTS_MAX            16

typedef struct trueapi_options {
  const char *cdn_url;           /* where cdn/info lives: "http://127.0.0.1:7793" (required) */
  const char *api_key;           /* X-API-KEY (required) */
  const char *fn_number;         /* fiscalDriveNumber (required) */
  unsigned budget_ms;            /* 0: TRUEAPI_BUDGET_MS */
  unsigned attempt_ms;           /* cap per request; 0: whatever is left of the budget */
  unsigned quarantine_s;         /* 0: TRUEAPI_QUARANTINE_S */
  unsigned timeout_quarantine_s; /* after one timeout; 0: TRUEAPI_TIMEOUT_QUARANTINE_S */
  unsigned refresh_s;            /* 0: TRUEAPI_REFRESH_S */
  unsigned health_timeout_ms;    /* per cdn/info or health request; 0: default */
  trueapi_clock_ms_t clock;      /* NULL: the real wall clock */
  void *clock_user;
} trueapi_options_t;

typedef struct trueapi trueapi_t;

/* Copies the options (strings too). *out is NULL on failure. */
int trueapi_create(const trueapi_options_t *options, trueapi_t **out);
void trueapi_destroy(trueapi_t *t); /* NULL is fine */

/*
** Fetches cdn/info, asks each host's health/check and ranks the hosts by
** avgTimeMs (fastest first). A host whose health check fails is
** quarantined; a quarantine already running survives a refresh. Returns 0
** (the list may still be all quarantined), TRUEAPI_ERR_NO_HOST when cdn/info
** gave nothing usable (the old list is kept).
*/
int trueapi_refresh_hosts(trueapi_t *t);

/* The ranked list, for status pages and tests: host i's URL (borrowed
** until the next refresh), avgTimeMs (UINT32_MAX: failed health) and
** whether it is quarantined now. TRUEAPI_ERR_ARGUMENT past the end. */
size_t trueapi_host_count(const trueapi_t *t);
int trueapi_host(const trueapi_t *t, size_t i, const char **url, uint32_t *avg_ms,
                 bool *quarantined);

/*
** Checks one code (GS as byte 0x1D; len bytes, no NUL needed). sale_price
** in kopecks drives the tobacco price rules (0: unknown, rules skipped).
** The host list is refreshed first when empty or older than refresh_s,
** inside the same budget. Hosts are asked best first, quarantined ones
** skipped; when no host outside quarantine is left and none was asked, the
** best quarantined one is asked once (out->probed). Returns 0 when a host
** answered (out->verdict is the decision), or a negative trueapi_err_t with
** out->verdict = TRUEAPI_NO_ANSWER (NO_ANSWER, NO_HOST, AUTH, EMERGENCY).
** out is always filled.
*/
int trueapi_check(trueapi_t *t, const char *km, size_t len, uint64_t sale_price,
                  trueapi_result_t *out);

/* Parses a codes/check answer (first element of codes[]) into out: code,
** req_id, req_timestamp, tag1265. 0 or TRUEAPI_ERR_PROTOCOL (also for a
** top-level code other than 0). Does not set out->verdict. */
int trueapi_parse_answer(const char *json, size_t len, trueapi_result_t *out);

/* The verdict for a parsed code at now_ms (wall clock) and a sale price
** (kopecks, for what was scanned: a block's price for a block; 0 skips the
** price rules). */
trueapi_verdict_t trueapi_decide(const trueapi_code_t *c, int64_t now_ms, uint64_t sale_price);

#endif
