/*
** ofd/registry.h: the till's client of the operator's code registry: the
** sync feed its local code cache is filled from, and the remarking report
** (the routes are described in ofd/emulator/registry.h).
**
** A till decides offline from what it synced last (DOMAIN §6: the local
** module refuses to check after 72 hours without a sync), so `kassa cache
** sync` pulls the feed page by page: registry_fetch_page() gets one page
** of code statuses after a cursor, and the caller stores each page with
** the page's "next" cursor in one transaction (pos/till/cache.h,
** cache_sync_apply), which makes a killed sync resume where it stopped.
** After remarking a good the till tells the operator which code replaced
** which (registry_report_remark), so the old code can never sell again
** anywhere.
**
** The module knows HTTP and the feed's JSON, nothing of the cache: a page
** is a list of registry_code_t whose strings point into the page (valid
** until the page is freed or refilled). registry_parse_page() is pure, so
** the format is tested and benchmarked without a network.
**
** Errors: 0 or a negative registry_err_t with a stable name and a message
** in Russian and English; registry_last_error() gives the detail for logs
** (the HTTP status, the operator's own error text, curl's reason). A
** registry_t is used by one thread at a time.
*/
#ifndef KASSA_OFD_REGISTRY_H
#define KASSA_OFD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum registry_err {
  REGISTRY_OK = 0,
  REGISTRY_ERR_ARGUMENT = -1,  /* NULL, malformed cursor, owner or code */
  REGISTRY_ERR_NO_MEMORY = -2, /* allocation failed */
  REGISTRY_ERR_NETWORK = -3,   /* no connection, or no answer within the timeout */
  REGISTRY_ERR_AUTH = -4,      /* the operator refused the API key (HTTP 401/403) */
  REGISTRY_ERR_PROTOCOL = -5,  /* the answer is not what the feed sends */
  REGISTRY_ERR_REFUSED = -6,   /* the operator refused the remark (4xx, reason in the result) */
} registry_err_t;

/* Stable name ("network"; "unknown" otherwise) and a static message,
** Russian or English. Never NULL. */
const char *registry_err_name(int err);
const char *registry_err_message(int err, bool russian);

/* A code's state in the feed. The numbers are those of pos/till/cache.h's
** cache_op_state_t, on purpose: the CLI copies them across. */
typedef enum registry_state {
  REGISTRY_EMITTED = 1,    /* "EMITTED" */
  REGISTRY_APPLIED = 2,    /* "APPLIED" */
  REGISTRY_INTRODUCED = 3, /* "INTRODUCED": in circulation, sellable unless blocked */
  REGISTRY_RETIRED = 4,    /* "RETIRED": sold, or replaced by remarking */
} registry_state_t;

/* One code of a page. Strings borrowed from the page. */
typedef struct registry_code {
  const char *ki;
  const char *gtin;  /* "" when the operator sent none */
  const char *owner; /* INN, "" none */
  registry_state_t state;
  bool blocked, sold;
  int64_t expire_ms; /* 0: none */
  uint64_t mrp, smp; /* kopecks, 0: none */
} registry_code_t;

/* Cursors are opaque: at most this many characters of [0-9a-z.]. */
#define REGISTRY_CURSOR_MAX 120

/* One page of the feed. Zero it before the first use; registry_page_free
** releases it (and leaves it zeroed, ready to be filled again). */
typedef struct registry_page {
  registry_code_t *codes;
  size_t count;
  char after[REGISTRY_CURSOR_MAX + 1]; /* the cursor asked with */
  char next[REGISTRY_CURSOR_MAX + 1];  /* ask with this next time */
  char last[REGISTRY_CURSOR_MAX + 1];  /* the newest change the operator has */
  bool more;                           /* false: the feed is exhausted at `last` */
  bool snapshot;                       /* a page of the first, full copy (in ki order) */
  uint64_t done, total;                /* snapshot pages: codes sent so far, of about total */
  void *root;                          /* private: the parsed JSON the strings live in */
  size_t cap;                          /* private */
} registry_page_t;

void registry_page_free(registry_page_t *page); /* NULL is fine */

/*
** Parses one feed page (the JSON of registry.h) into page, replacing what
** it held. Checks the "fields" list, every row's shape and types, the
** state names, the cursors' characters, and the snapshot's counts. 0, REGISTRY_ERR_PROTOCOL
** (page left empty) or REGISTRY_ERR_NO_MEMORY.
*/
int registry_parse_page(const char *json, size_t len, registry_page_t *page);

#define REGISTRY_TIMEOUT_MS 15000u
#define REGISTRY_PAGE_LIMIT 5000u

typedef struct registry_options {
  const char *url;     /* the operator's HTTP base: "http://127.0.0.1:7793" (required) */
  const char *api_key; /* X-API-KEY (required) */
  unsigned timeout_ms; /* per request, connection included; 0: REGISTRY_TIMEOUT_MS */
} registry_options_t;

typedef struct registry registry_t;

/* Copies the options. *out is NULL on failure. */
int registry_create(const registry_options_t *options, registry_t **out);
void registry_destroy(registry_t *r); /* NULL is fine */

/* The detail of the last failure, for logs ("" when none). Never NULL. */
const char *registry_last_error(const registry_t *r);

/*
** Fetches the page after `after` (a cursor from a previous page; NULL or
** "" from the start) of at most `limit` codes (0: REGISTRY_PAGE_LIMIT;
** the operator allows 1..10000), only codes owned by `owner` when it is an
** INN (NULL or "": all), within the timeout. Fills page as
** registry_parse_page does.
*/
int registry_fetch_page(registry_t *r, const char *owner, const char *after, unsigned limit,
                        registry_page_t *page);

/* What the operator said to a remark report. */
typedef struct registry_remark_result {
  unsigned http_status; /* 0 when no answer came */
  bool repeated;        /* the operator had this remark already */
  char new_ki[65];      /* the new code's KI as the operator took it */
  char owner[13];       /* the owner the new code went into circulation for */
  char error[32];       /* the operator's error name when refused ("old_state" ...) */
  char description[256];
} registry_remark_result_t;

/*
** Reports a remark: `old` is the replaced code's KI or "return:DOC:LINE"
** (a return without a code), new_code the full new code (GS as 0x1D,
** new_len bytes), owner an INN or NULL (the operator keeps the old code's
** owner). 0 when the operator took it (or had it already: out->repeated);
** REGISTRY_ERR_REFUSED with out->error/description when it refused (a sold
** or blocked old code, an unknown or used new code, a tail that does not
** verify); the other errors as for registry_fetch_page.
*/
int registry_report_remark(registry_t *r, const char *old, const char *new_code, size_t new_len,
                           const char *owner, registry_remark_result_t *out);

#endif
