/*
** office.h: the manager's fiscal operations, one function each, shared by
** the command line (`kassa report`, `cash`, `fn close`, `fn replace`) and
** the HTTP API (`kassa serve`), so both apply the same rules
** and refuse with the same reasons.
**
**   report      X-report (the settlement state report, 21) or Z-report (the
**               shift close, 5): the document, its totals read back from
**               what the FN sealed (1194 per operation and payment form, 1157
**               since registration) and the drawer's counters;
**   cash        cash in / cash out: the drawer's counters (drawer.h), never
**               a fiscal document; a cash out past the drawer's balance is
**               refused;
**   (a correction receipt (31) is pos/till/correction.h's, beside these;
**   office_date_parse reads its 1178 as people write it);
**   fn close    the FN close report (6), only once the FN owes nothing;
**   fn replace  (till_fn_replace) the closed FN kept as DATA/fn-NUMBER.db, a
**               new one created as DATA/fn.db and registered with an 11 whose
**               1205 says "FN replaced", with the old one's registration
**               data; an open till carries on with the new FN.
**
** Every function changes nothing when it refuses; the refusal says why in
** an office_fail_t: a stable name, the FN's or the drawer's own error when
** one of them refused, and a sentence in Russian and in English that
** names the rule (and the FN's code, 0x16 "shift over 24 hours").
*/
#ifndef KASSA_POS_TILL_OFFICE_H
#define KASSA_POS_TILL_OFFICE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/till/drawer.h"
#include "pos/till/state.h"

typedef enum office_err {
  OFFICE_OK = 0,
  OFFICE_ERR_ARGUMENT = -1,        /* "argument": a value out of range (names the field) */
  OFFICE_ERR_FN = -2,              /* "fn": the FN refused (fn_error) */
  OFFICE_ERR_DRAWER = -3,          /* "drawer": the drawer refused (drawer_error) */
  OFFICE_ERR_OWED = -4,            /* "owed": documents or notifications not delivered */
  OFFICE_ERR_NOT_CLOSED = -5,      /* "fn_not_closed": a replacement needs a closed FN */
  OFFICE_ERR_NO_REGISTRATION = -6, /* "no_registration": none in the old FN's archive */
  OFFICE_ERR_FILES = -7,           /* "files": the old FN could not be kept, or the new made */
  OFFICE_ERR_MEMORY = -8,          /* "memory" */
  OFFICE_ERR_DEVICE = -9,          /* "device": the FN is in a cash register, replaced there */
} office_err_t;

/* Why an operation was refused. */
typedef struct office_fail {
  int err;            /* office_err_t */
  int fn_error;       /* OFFICE_ERR_FN: the negative fn_err_t */
  int drawer_error;   /* OFFICE_ERR_DRAWER: the drawer_err_t */
  uint32_t documents; /* OFFICE_ERR_OWED, _NOT_CLOSED: what the FN owes */
  uint32_t notifications;
  const char *field; /* OFFICE_ERR_ARGUMENT: the input it is about */
  char message_ru[384], message_en[384];
} office_fail_t;

/* The stable name of an office_err_t ("owed"); never NULL. */
const char *office_err_name(int err);

/* ---- the drawer and the reports -------------------------------------------- */

/* The drawer of the open shift. */
typedef struct office_drawer {
  bool shift_open;
  uint32_t shift; /* the open shift's number, 0 none */
  char fn_number[17];
  drawer_totals_t moves; /* cash in / out of the shift */
  uint64_t balance;      /* what the drawer should hold (drawer_balance) */
} office_drawer_t;

/* The drawer's counters now (all zero when no shift is open). */
int office_drawer(fn_t *fn, const char *data_dir, office_drawer_t *out, office_fail_t *why);

/* An X (21) or Z (5) report as made. */
typedef struct office_report {
  bool z;
  fn_doc_result_t doc;
  uint32_t shift;            /* the shift reported; 0 when none was open (an X outside a shift) */
  bool has_shift_totals;     /* the document carries 1194 */
  doc_totals_t shift_totals; /* 1194 as sealed */
  doc_totals_t fn_totals;    /* 1157 as sealed */
  bool has_drawer;           /* a shift was open: the drawer's counters below */
  drawer_totals_t moves;
  uint64_t balance;
} office_report_t; /* a few KiB */

/*
** Makes the X-report (z false: fn_state_report) or the Z-report (z true:
** fn_shift_close with cashier, "" or NULL for none) and reads its totals
** back from the sealed document. The drawer is counted with the shift's
** totals as they were just before (a Z closes the shift it reports).
*/
int office_report(fn_t *fn, const char *data_dir, bool z, const char *cashier, office_report_t *out,
                  office_fail_t *why);

/*
** The report as JSON (one shape for `kassa report --json` and the API):
** {"report":"x|z","document","time","fiscal_sign","shift","shift_totals"
** (null without 1194),"fn_totals","drawer":{"cash_in","cash_ins","cash_out",
** "cash_outs","balance"}}; totals are {"receipts":{op:…},"corrections":{op:…}}
** for op sale, sale_return, purchase, purchase_return, each {"count","total",
** "cash","cashless","prepaid","credit","other","vat":[{"vat","label","sum"}]}.
** Kopecks throughout. NULL when out of memory.
*/
json_t *office_report_json(const office_report_t *r);

/* The totals of one doc_totals_t in that shape. */
json_t *office_totals_json(const doc_totals_t *t);

/* The stable names of 1054 for JSON ("sale" ...), "" outside 1..4. */
const char *office_operation_name(int operation);

/* ---- cash in / out ---------------------------------------------------------- */

typedef struct office_cash {
  uint32_t shift;
  uint64_t amount;
  uint64_t balance; /* after the movement */
} office_cash_t;

/* Cash in (in true) or out of the drawer, kopecks 1 .. 2^48 - 1, in the
** open shift; a cash out past the balance is DRAWER_ERR_SHORT. */
int office_cash(fn_t *fn, const char *data_dir, bool in, uint64_t amount, office_cash_t *out,
                office_fail_t *why);

/* ---- correction receipts ---------------------------------------------------- */

/* A correction receipt (31) is pos/till/correction.h's correction_close(). */

/* YYYY-MM-DD (2000..2099, a real day) -> that midnight as the FN writes
** times (local time written as if UTC); false otherwise. */
bool office_date_parse(const char *text, uint32_t *out);

/* ---- FN close and replacement ------------------------------------------------ */

/* The FN close report (6): OFFICE_ERR_OWED while documents or notifications
** are undelivered; the FN's own rules after that (a shift open: close it). */
int office_fn_close(fn_t *fn, fn_doc_result_t *out, office_fail_t *why);

typedef struct office_replaced {
  char old_number[17], new_number[17];
  char kept[4200];     /* where the old FN's archive now is */
  fn_doc_result_t doc; /* the new FN's 11 */
} office_replaced_t;

/*
** Replaces the open till's FN: the current one must be closed
** (office_fn_close) and owe nothing (OFFICE_ERR_NOT_CLOSED says what it
** owes); it is kept as DATA/fn-<its number>.db, a new FN numbered
** new_number (16 digits) is created as DATA/fn.db and registered with an 11
** (1205: FN replaced) with the data of the old one's last 1 or 11 and
** cashier. The till then works with the new FN: the cache numbers its
** documents after all of the old one's. If the new FN cannot be made the
** old file goes back where it was. An FN inside a cash register ([fn]
** backend = shtrih:…) is replaced at the register: OFFICE_ERR_DEVICE.
*/
int till_fn_replace(till_t *t, const char *new_number, const char *cashier, office_replaced_t *out,
                    office_fail_t *why);

#endif /* KASSA_POS_TILL_OFFICE_H */
