/*
** sale.h: the receipt a cashier is building, and closing it as one fiscal
** document.
**
** The basket (the open receipt: operation, cashier, lines) lives in
** DATA/till.db, so a restart or a crash never loses what the cashier
** scanned. Lines go to the FN only when the receipt is paid: a real FN
** takes a receipt's lines at closing, and a removed line must never reach
** it. Marking codes are checked when scanned (pos/till/check.h) and stay
** accepted in the FN's table of checked codes until the close or until the
** line is removed.
**
** Closing is the one moment that must be atomic, and the FN is what makes
** it so: the basket is first marked "closing after document N" (N being the
** FN's last document), then the FN makes the receipt in one call
** (fn_receipt_make: the receipt, its sale notification and its numbering
** in one transaction, no FN receipt ever left open), then the archive is
** replayed into the code cache and the basket is deleted. till_open()
** finishes whatever a crash interrupted: if the FN holds document N+1 and
** it is a receipt, the close happened (replay, delete the basket); if not,
** an FN receipt left open (a backend without the one call) is cancelled
** and the basket is open again, its marked lines to be checked anew at
** the next payment. Sold codes therefore come only from the FN
** archive, never from the basket.
**
** Returns use the same basket with operation 2 (pos/return.h); a return
** line of a marked good whose code cannot be read carries no code and is
** recorded as waiting for remarking once the receipt is closed.
*/
#ifndef KASSA_POS_SALE_H
#define KASSA_POS_SALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/till/check.h"
#include "pos/till/state.h"

typedef enum sale_err {
  SALE_OK = 0,
  SALE_ERR_ARGUMENT = -1,    /* "argument": NULL, empty, a quantity or price out of range */
  SALE_ERR_NO_RECEIPT = -2,  /* "no_receipt": no receipt is open */
  SALE_ERR_OPEN = -3,        /* "receipt_open": a receipt is already open */
  SALE_ERR_REFUSED = -4,     /* "refused": the check refused the scan (see the decision) */
  SALE_ERR_NO_LINE = -5,     /* "no_line": no such line */
  SALE_ERR_PAYMENT = -6,     /* "payment": cash + cashless differ from the total */
  SALE_ERR_FN = -7,          /* "fn": the FN refused (till_sale_fn_error says what) */
  SALE_ERR_STORAGE = -8,     /* "storage": the basket file failed (disk full ...) */
  SALE_ERR_FULL = -9,        /* "full": DOC_MAX_ITEMS lines already */
  SALE_ERR_EMPTY = -10,      /* "empty": a receipt needs at least one line */
  SALE_ERR_WRONG_KIND = -11, /* "wrong_operation": this line does not fit this receipt */
  /* The money rules of pos/till/money.h (issue 18). */
  SALE_ERR_PRICE_NEEDS_MANAGER = -12, /* "price_needs_manager" */
  SALE_ERR_PRICE_CEILING = -13,       /* "price_ceiling" */
  SALE_ERR_QUANTITY_CEILING = -14,    /* "quantity_ceiling" */
  SALE_ERR_REFUND_ABOVE_SALE = -15,   /* "refund_above_sale" */
  SALE_ERR_RETURN_UNITS = -16,        /* "return_units" */
  SALE_ERR_SALE_NOT_FOUND = -17,      /* "sale_not_found": no sale receipt with that FD */
  SALE_ERR_SALE_LINE = -18,           /* "sale_line": that line is not this good */
} sale_err_t;

const char *sale_err_name(int err);
const char *sale_err_message(int err, bool russian);

/* One line of the basket. */
typedef struct sale_line {
  uint32_t id;    /* stable within the basket, 1.. */
  char name[257]; /* 1030 as the FN takes it (CP866-safe, folded) */
  char gtin[15];
  uint64_t price;          /* kopecks per unit */
  doc_quantity_t quantity; /* 1.000 for a piece; kg for weighed goods */
  uint64_t total;          /* kopecks */
  uint8_t vat, subject, measure;
  bool marked;
  char km[DOC_MAX_KM + 1]; /* normalized code, GS as 0x1D */
  char ki[CACHE_KI_MAX + 1];
  uint8_t km_type, tag2106, planned;
  char mark[8]; /* "[М+]" ... "" */
  bool has_industry;
  doc_industry_t industry;
  bool without_code;    /* a marked good returned without its (unreadable) code */
  bool needs_recheck;   /* its check was lost with a cancelled FN receipt */
  char answered_by[16]; /* who answered its check: check_answered_by() */
  /* A fraction of one marked piece (1291: n/d, quantity 1, planned 2 or 4,
  ** total = price * n / d half up); 0 / 0: the whole unit. */
  uint64_t fraction_numerator, fraction_denominator;
  doc_agent_t agent;           /* 1222-1226 of an agent's line; agent.sign 0: none */
  uint32_t sale_fd, sale_line; /* a return without a code: the sale line it takes back */
} sale_line_t;

typedef struct sale_basket {
  bool open;
  uint8_t operation; /* 1054: 1 sale, 2 sale return */
  char cashier[FN_CASHIER_SIZE];
  int64_t opened_ms;
  size_t count;
  sale_line_t lines[DOC_MAX_ITEMS];
  uint64_t total;
} sale_basket_t; /* about 240 KiB: allocate it */

/* Opens a basket (operation 1 sale or 2 return). SALE_ERR_OPEN when one is
** open, except an empty one of the other operation, which is cancelled
** first (it holds nothing). cashier may be NULL; SALE_ERR_ARGUMENT when
** fn_cashier_ok() refuses it. */
int sale_open(till_t *t, uint8_t operation, const char *cashier);

/*
** Scans a code into the open basket: the check pipeline (check_scan) for a
** sale or a return, as the basket's operation says, then a line. quantity
** NULL means one piece; for a weighed good (catalogue) it is required, in kg
** with up to 3 decimals (2108 = 11). price 0: the catalogue's. On a
** refusal returns SALE_ERR_REFUSED with the decision in *d (d may not be
** NULL); on success *line_id (may be NULL) gets the new line.
*/
int sale_add_scan(till_t *t, const char *scan, size_t len, const doc_quantity_t *quantity,
                  uint64_t price, check_decision_t *d, uint32_t *line_id);

/*
** sale_add_scan() with what a line may carry besides (issue 16): the
** fraction of a marked piece sold or returned (1291, see check_request_t;
** the line is priced price * n / d, half up, with 1023 = 1) and the agent's
** requisites (1222 one of the DOC_AGENT_* kinds, the supplier's name 1225
** and INN 1226 required, 1224's phone 1171 and 1223's fields optional; the
** receipt's 1057 is the OR of its lines). A fraction of an unmarked or a
** weighed good is a refusal (CHECK_BAD_CODE, detail "fraction"); a bad
** agent (no or several kinds, no supplier name, an INN not of 10 or 12
** digits, text past its requisite) is SALE_ERR_ARGUMENT before any check.
*/
typedef struct sale_add {
  const char *scan; /* raw scanner bytes */
  size_t len;
  const doc_quantity_t *quantity;                    /* NULL: one piece (see sale_add_scan) */
  uint64_t price;                                    /* per unit; 0: the catalogue's */
  uint64_t fraction_numerator, fraction_denominator; /* 0 / 0: none */
  const doc_agent_t *agent;                          /* NULL: not an agent's line */
} sale_add_t;
int sale_add(till_t *t, const sale_add_t *a, check_decision_t *d, uint32_t *line_id);

/* The agent kinds of 1222 (one per line) and their names for front ends
** ("bank-agent", "bank-subagent", "payment-agent", "payment-subagent",
** "attorney", "commission", "other"): the bit, or 0 for an unknown name. */
uint8_t sale_agent_kind(const char *name);
const char *sale_agent_kind_name(uint8_t sign);

/* A return line for a marked good whose code cannot be read (manager
** action): the catalogue's product for gtin, no 2000. After the close the
** good is recorded as waiting for remarking (cache_pending_add).
** It names its sale: sale_fd the FD of the sale receipt in this FN's
** archive, sale_line its line (1..) with a marked good of gtin; one unit
** is returned, at most at that line's price, and never more units or
** money than that line had left after the returns naming it before
** (kept in till.db's return_link, this basket's lines included).
** SALE_ERR_WRONG_KIND in a sale basket; SALE_ERR_SALE_NOT_FOUND,
** SALE_ERR_SALE_LINE, SALE_ERR_REFUND_ABOVE_SALE, SALE_ERR_RETURN_UNITS. */
int sale_add_without_code(till_t *t, const char *gtin, uint64_t price, uint32_t sale_fd,
                          uint32_t sale_line, uint32_t *line_id);

/* A quantity as a cashier or a front end types it ("2", "0.532",
** "0,532"): at most three decimals, above zero. false otherwise. */
bool sale_quantity_parse(const char *text, doc_quantity_t *q);

/* price x quantity in kopecks, half up (the quantity has its scale's
** decimals); false past 2^40 kopecks, a line no receipt takes. */
bool sale_line_total(uint64_t price, doc_quantity_t q, uint64_t *out);

/*
** Sets item's product code (1163) from the code the line was sold by
** (a marking code, or a barcode for a plain good): 1163's tag and value
** when the code parses and names one that fits; item is left as it was
** otherwise. code need not end in a zero byte.
*/
void sale_item_product_code(doc_item_t *item, const char *code, size_t len);

/* Removes a line; a marked line's code is declined in the FN. */
int sale_remove(till_t *t, uint32_t line_id);

/* The basket as it is (out->open false when none). */
int sale_get(till_t *t, sale_basket_t *out);

/* Drops the basket; its codes are declined in the FN. */
int sale_cancel(till_t *t);

/* What a closed receipt gave. */
typedef struct sale_closed {
  fn_doc_result_t doc; /* number, time, sign, printed FP, shift, receipt number */
  uint8_t operation;
  uint64_t total, cash, cashless;
  size_t lines, marked_lines;
  char qr[256]; /* the receipt QR string */
  /* The receipt-level VAT sums read back from the archived receipt, by
  ** 1199 value (fiscal/doc.h doc_vat_rate); bit n of vat_present: rate n. */
  uint64_t vat_sums[DOC_VAT_MAX + 1];
  uint16_t vat_present;
  /* The other payment forms (1215, 1216, 1217), the settlement method of
  ** the lines (1214), and the cash the customer handed over with the
  ** change given back (till level: neither is a requisite). */
  uint64_t prepaid, credit, other;
  uint8_t method;
  uint64_t tendered, change;
  /* The FN closed the receipt (the sale happened) but the till could not
  ** write its own bookkeeping (the cache's sold codes, clearing the basket:
  ** a full disk). Nothing is lost: the next sale_open() or till_open()
  ** finishes it from the archive. Tell the manager; never sell it again. */
  bool bookkeeping_pending;
} sale_closed_t;

/*
** Pays and closes: cash + cashless must equal the basket's total
** (SALE_ERR_PAYMENT). Lines whose check was lost are checked again first
** (a refusal now is SALE_ERR_REFUSED with *d; the line stays for the
** cashier to remove). The FN's refusal is SALE_ERR_FN, with the FN's error
** kept for till_sale_fn_error(); nothing is sold then and the basket stays
** open. d may be NULL.
*/
int sale_close(till_t *t, uint64_t cash, uint64_t cashless, sale_closed_t *out,
               check_decision_t *d);

/* How a basket is paid: the five forms (kopecks), the settlement method
** (1214, DOC_PAY_*; 0 means 4, full settlement) of every line, and the cash
** tendered (0: exactly cash). */
typedef struct sale_payment {
  uint64_t cash, cashless, prepaid, credit, other;
  uint8_t method;
  uint64_t tendered;
} sale_payment_t;

/*
** sale_close() with every payment form: the five must add up to the total
** and keep the FN's rules of 1214 (doc_payment_rules; the FN's refusal is
** SALE_ERR_FN with FN_ERR_VALUE); a method outside 0..7 or tendered cash
** below the cash part is SALE_ERR_PAYMENT. out->change = tendered - cash.
*/
int sale_close_paid(till_t *t, const sale_payment_t *p, sale_closed_t *out, check_decision_t *d);

/* A settlement method (1214) by the name front ends use: "prepayment-full"
** 1, "prepayment" 2, "advance" 3, "full" 4, "partial-credit" 5, "credit" 6,
** "credit-payment" 7; 0 for anything else. */
uint8_t sale_method_of(const char *name);

/* The SALE_ERR_* of a money rule broken (pos/till/money.h's verdict). */
int sale_err_of_money(int verdict);

/* The FN error (negative fn_err_t) of the last SALE_ERR_FN, 0 otherwise. */
int till_sale_fn_error(const till_t *t);

#endif /* KASSA_POS_SALE_H */
