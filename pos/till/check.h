/*
** check.h: the decision for one scan at the till: may this good be sold
** (or taken back) now, and if not, why, in words a cashier reads from a
** metre away.
**
** The pipeline runs cheapest first and stops at the first refusal:
**
**   1. parse the scan (scanner/markcode.h): a code that is not a code;
**   2. the catalogue: unknown GTIN, a mark of another product group than
**      the catalogue's, a plain barcode of a good that must carry a mark;
**   3. the receipt: the same code twice;
**   4. the store's own records: sold, blocked (code, GTIN, series),
**      remarked, not in stock (strict accounting only);
**   5. the delivery deadlines (ofd/outbox.h): the FN's 30 days, the remote
**      shop's three-day batch;
**   6. the FN: the crypto tail (tag 2106 bits 1 and 2), its key table;
**   7. the operator within the budget ([till] budget_ms, 1.5 s): the OISM
**      through the FN (81 -> 83) and/or true-api codes/check, as [till]
**      check says; true-api's answer is judged in the deny order of DOMAIN
**      §6 and gives the 1265 value; before a return's OISM request, the
**      sale notifications the FN still owes from the code's sale on are
**      delivered, so the OISM answers about a sale it has heard of;
**   8. without any answer: the cached operator statuses, isBlocked and sold
**      only (the local module's offline rule), saying when the cache is
**      stale; when the cache can answer as the local module does (synced,
**      not stale) the line carries the offline 1265 form
**      "UUID=<reqId>&Time=<ms>&Inst=<inst>&Ver=<db version>" (CRPT's plan,
**      cases 5.17-5.21), the UUID made by the till as the local module
**      makes its reqId;
**   9. expiry (AI 17 / 7003 or the operator's expireDate) for dairy, water
**      and beer, and the tobacco price rules (above the MRP from 8005, below
**      the operator's minimum price); nicotine products (group 16) below
**      the cached minimum price (the local module's mrp).
**
** true-api's verdict itself (ofd/trueapi.h) carries the plan's rules: the
** grey zone sells, a block is priced against the per-pack minimum times
** its packs, group 16's mrp is a minimum. A late answer never leaves the
** till without a host to ask at the next scan (the quarantined host is
** probed), so "sold on the till's own records" only happens when no host
** answered this very scan.
**
** Every refusal has a stable reason name (a contract: the API, the pages
** and the tests match on it), a Russian and an English message, and
** declines the code in the FN so it leaves the table of checked codes.
*/
#ifndef KASSA_POS_CHECK_H
#define KASSA_POS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "ofd/outbox.h"
#include "pos/till/cache.h"
#include "pos/till/state.h"
#include "scanner/markcode.h"

/* Reasons, in pipeline order. Names (check_reason_name) never change. */
typedef enum check_reason {
  CHECK_OK = 0,            /* "ok" */
  CHECK_BAD_CODE,          /* "bad_code": not a readable marking code or barcode */
  CHECK_UNSUPPORTED,       /* "unsupported": EGAIS alcohol codes are not sold here */
  CHECK_UNKNOWN_PRODUCT,   /* "unknown_product": GTIN not in the catalogue */
  CHECK_GROUP_MISMATCH,    /* "group_mismatch": the mark does not fit the product group */
  CHECK_MARK_REQUIRED,     /* "mark_required": plain barcode of a good that must be marked */
  CHECK_DUPLICATE,         /* "duplicate": the same code is already in this receipt */
  CHECK_SOLD_HERE,         /* "already_sold": sold by this store and not returned */
  CHECK_BLOCKED_LOCAL,     /* "blocked": blocked in the store's records */
  CHECK_REMARKED,          /* "remarked": replaced by a new code */
  CHECK_NOT_IN_STOCK,      /* "not_in_stock": strict accounting, code never accepted */
  CHECK_NOT_SOLD_HERE,     /* "not_sold_here": return of a code this store did not sell */
  CHECK_DEADLINE,          /* "delivery_overdue": FN 30 days / three-day batch passed */
  CHECK_FN_REFUSED,        /* "fn_refused": the FN refused the check (keys, table full) */
  CHECK_COUNTERFEIT,       /* "counterfeit": the crypto tail does not verify */
  CHECK_NO_KEY,            /* "no_key": the FN has no key for this code: update keys */
  CHECK_OP_BAD_FORMAT,     /* "op_bad_format": the operator says the code is malformed */
  CHECK_OP_NOT_FOUND,      /* "op_not_found": unknown to the operator */
  CHECK_OP_NOT_APPLIED,    /* "op_not_applied": emitted but never applied */
  CHECK_OP_CRYPTO,         /* "op_crypto_failed": the operator's crypto check failed */
  CHECK_OP_BLOCKED,        /* "op_blocked": blocked by an authority */
  CHECK_OP_SOLD,           /* "op_sold": already withdrawn from circulation */
  CHECK_OP_NOT_REALIZABLE, /* "op_not_in_circulation" */
  CHECK_OISM_REFUSED,      /* "oism_refused": the OISM answered 2109 = 2 */
  CHECK_OISM_SUSPENDED,    /* "oism_suspended": 2109 = 3, circulation suspended */
  CHECK_OFFLINE_BLOCKED,   /* "offline_blocked": no answer; cached isBlocked */
  CHECK_OFFLINE_SOLD,      /* "offline_sold": no answer; cached sold */
  CHECK_EXPIRED,           /* "expired" */
  CHECK_PRICE_ABOVE_MAX,   /* "price_above_max": tobacco above its MRP */
  CHECK_PRICE_BELOW_MIN,   /* "price_below_min": tobacco below the minimum price */
  /* The store node (pos/till/lane_store.h), asked last, before the FN accepts. */
  CHECK_STORE_HELD,    /* "store_held": in another lane's open basket */
  CHECK_STORE_SOLD,    /* "store_sold": sold at a lane of this store */
  CHECK_STORE_OFFLINE, /* "store_offline": no store node, and the group's policy refuses */
  CHECK_TILL_DISK,     /* "till_disk": the till's disk full or read-only (detail says) */
  CHECK__COUNT
} check_reason_t;

/*
** The places a reason is read in, and what each holds (a test checks every
** row of the table against these, in both languages):
**  - the banner: the cashier screen's refusal, the API's message_*: the
**    reason's own sentence in at most CHECK_BANNER_CHARS characters (two
**    lines of the banner's large type at 1024 px), the whole message with
**    its longest detail in CHECK_MESSAGE_MAX bytes, never cut;
**  - a receipt line: the short form, at most CHECK_SHORT_CHARS characters
**    (one line of a 58 mm receipt; the banner's "причина" line);
**  - the log: "name: message_en" as one line of at most CHECK_LOG_BYTES.
*/
#define CHECK_BANNER_CHARS 120
#define CHECK_SHORT_CHARS  32
#define CHECK_LOG_BYTES    1024

const char *check_reason_name(check_reason_t r);
const char *check_reason_message(check_reason_t r, bool russian);
/* The short form (see the places above). Never NULL. */
const char *check_reason_short(check_reason_t r, bool russian);

/* The bytes of a decision's message: the longest reason with its longest
** detail (the 72-hour refusal with its notice) fits whole; a test holds
** every reason to it. */
#define CHECK_MESSAGE_MAX 768

/* What the check is for: 2003 planned status. */
typedef enum check_purpose {
  CHECK_FOR_SALE = 1,   /* 2003 = 1 (piece) or 2 (measured) */
  CHECK_FOR_RETURN = 3, /* 2003 = 3 (piece) or 4 (measured) */
} check_purpose_t;

typedef struct check_decision {
  bool allow;
  check_reason_t reason;
  char message_ru[CHECK_MESSAGE_MAX]; /* the reason, with details (the code's parse error ...) */
  char message_en[CHECK_MESSAGE_MAX];
  char detail[128]; /* machine detail: markcode error name, FN error name, "" */
  /* A deadline coming although the sale may go on (ofd/outbox.h: the
  ** 48-hour batch warning, day 25 of the FN's 30), "" when none. */
  char warning_ru[OUTBOX_NOTICE_MAX];
  char warning_en[OUTBOX_NOTICE_MAX];
  /* What was scanned. */
  bool marked; /* a marking code (not a plain barcode) */
  markcode_kind_t kind;
  char ki[CACHE_KI_MAX + 1];
  char gtin[15];
  char normalized[MARKCODE_MAX_INPUT + 1]; /* GS as 0x1D */
  size_t normalized_len;
  bool has_product;
  cache_product_t product;
  /* For the receipt line (valid when allow and marked). */
  uint8_t km_type;  /* 2100 */
  uint8_t tag2106;  /* 2106 as the FN reports it */
  const char *mark; /* "[М+]", "[М-]", "[М]" (UTF-8), "" for an unmarked good */
  uint8_t planned;  /* 2003: 1/3 a piece, 2/4 a measured good or a fraction */
  bool has_1265;
  doc_industry_t industry; /* 1260 with 1265 "UUID=...&Time=..." (online) or
                              "UUID=...&Time=...&Inst=...&Ver=..." (local module) */
  char req_id[64];
  int64_t req_timestamp;
  /* How it was decided. */
  bool fn_checked; /* the FN ran its tail check */
  bool oism_answered;
  bool trueapi_answered;
  bool offline;          /* no operator answered: cached statuses decided */
  bool cache_stale;      /* ... and the cache is older than [till] cache_stale_hours */
  bool lm_checked;       /* ... and the cache answered as the local module (offline 1265) */
  uint8_t trueapi_tried; /* codes/check requests sent for this scan (0: nobody asked) */
  bool trueapi_probed;   /* ... one of them to a quarantined host (no other was left) */
  bool store_claimed;    /* the store node granted the code to this lane */
  bool store_offline;    /* the store node did not answer: sold on the lane's own decision */
  uint32_t elapsed_us;
} check_decision_t;

/*
** Runs the pipeline on one scan (raw scanner bytes, any form markcode_parse
** repairs) for `purpose`. price: the sale price per piece in kopecks (0:
** the catalogue's). in_receipt: kis already in the open receipt (for the
** duplicate rule), may be NULL with count 0. On allow with a marked code the
** FN holds the code accepted (fn_km_accept true); on refusal the code is
** declined. Returns 0 with *out filled whatever the decision (a refusal is
** a result), or -1 when the till itself failed (out->message_* say why).
*/
int check_scan(till_t *t, const char *scan, size_t len, check_purpose_t purpose, uint64_t price,
               const char *const *in_receipt, size_t in_receipt_count, check_decision_t *out);

/*
** check_scan() for a front end that brings its own product data (a
** receipt in one call): when the catalogue has no product for the code's
** GTIN, *given (may be NULL: then unknown_product as usual) stands in for
** it: its price, weighed flag and group feed the rules, and a marked code
** is held to the group's shape only when given->group names one. A
** product the catalogue has is the catalogue's, as for any scan.
*/
int check_scan_given(till_t *t, const char *scan, size_t len, check_purpose_t purpose,
                     uint64_t price, const char *const *in_receipt, size_t in_receipt_count,
                     const cache_product_t *given, check_decision_t *out);

/* The same decision as a question only (the API's check, `kassa sale
** check`): an allowed code is declined in the FN at once instead of kept
** accepted, so nothing waits in the FN's table and no line is added. */
int check_probe(till_t *t, const char *scan, size_t len, check_purpose_t purpose, uint64_t price,
                const char *const *in_receipt, size_t in_receipt_count, check_decision_t *out);

/*
** The check with everything the line will be (issue 16): check_scan(),
** check_scan_given() and check_probe() are this with no fraction. A marked good sold or returned
** in a fraction of its unit (a quarter of a pack that carries one code:
** FFD 1.2's 1291 {1293 numerator, 1294 denominator}, the denominator being
** how many the code's pack holds) is planned as 2 (sale) or 4 (return),
** like a measured good, and the FN's request (81) carries 1291 with 1023 =
** 1 (the format's rule for a line with 1291). A fraction needs 0 < n < d
** and a marked piece good (not weighed): otherwise the decision is
** CHECK_BAD_CODE with detail "fraction" and nothing reaches the FN.
*/
typedef struct check_request {
  const char *scan; /* raw scanner bytes */
  size_t len;
  check_purpose_t purpose;
  uint64_t price; /* per unit, kopecks; 0: the catalogue's */
  const char *const *in_receipt;
  size_t in_receipt_count;
  uint64_t fraction_numerator, fraction_denominator; /* 0 / 0: the whole unit */
  bool keep; /* true: an allowed code stays accepted (check_scan); false: a question */
  const cache_product_t *given; /* NULL, or the product as for check_scan_given() */
} check_request_t;
int check_run(till_t *t, const check_request_t *req, check_decision_t *out);

/* Who answered the check about the code (stable names): "oism" (the OISM
** through the FN), "trueapi", "both", "local_module" (the cache as the
** local module), "cache" (offline, the cached statuses), "" (nobody: a
** plain good, or no answer and no cache). Never NULL. */
const char *check_answered_by(const check_decision_t *d);

/* The 2106 mark printed before a marked item (DOMAIN §3): "[М+]" for 15,
** "[М-]" for 1, 5, 7, 17, "[М]" otherwise. */
const char *check_mark_for(uint8_t tag2106);

#endif /* KASSA_POS_CHECK_H */
