/*
** full_receipt.h: a receipt in one call. A front end (1C, a web shop, a
** kiosk, an ATOL-style task) sends the whole receipt at once: the lines
** with the name, price, quantity, VAT, payment method and subject it
** already knows, the marking codes, agent data and fractions, the payments
** and the buyer's contact; the till checks every code through the same
** pipeline as a scan (pos/till/check.h), and either refuses the whole
** receipt with each refused line's reason, or closes it in the FN.
**
** The front end's data wins: a line's name, price and VAT are what it
** sends; the catalogue fills only what it leaves out, and a code whose
** GTIN the catalogue lacks is checked against the front end's product
** (check_scan_given). With force_catalogue ([till] force_catalogue =
** yes) a product the catalogue has is sold with the catalogue's
** name, price and VAT whatever the front end says, and a code the
** catalogue lacks is refused as for a scan.
**
** Nothing is kept on refusal: every code the check accepted is declined in
** the FN again. The codes under check are journalled in DATA/till.db
** (the basket's `checking` table) before the FN hears of them, so a crash
** declines them at the next start (sale.h). The cashier's basket is not
** used: a receipt in one call is refused (SALE_ERR_OPEN) while a basket
** is open, and while it runs nothing else can (the till is single-threaded).
*/
#ifndef KASSA_POS_TILL_FULL_RECEIPT_H
#define KASSA_POS_TILL_FULL_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/till/check.h"
#include "pos/till/sale.h"
#include "pos/till/state.h"

/* One line as the front end sends it; has_* false: take it from the
** catalogue (or the default: piece, full settlement, the subject the
** code implies). */
typedef struct full_line {
  char name[257]; /* UTF-8, "" for the catalogue's */
  uint64_t price; /* kopecks per unit */
  bool has_price;
  doc_quantity_t quantity; /* 1 when !has_quantity */
  bool has_quantity;
  uint8_t measure; /* 2108 */
  bool has_measure;
  uint8_t vat;                       /* 1199, 0: the catalogue's (none when it has none) */
  uint8_t method;                    /* 1214, 0: full settlement */
  uint8_t subject;                   /* 1212, 0: from the code (33 / 31 marked, 1 plain) */
  char code[MARKCODE_MAX_INPUT + 1]; /* a marking code or a barcode; "" for neither */
  size_t code_len;
  uint64_t fraction_numerator, fraction_denominator; /* 1291, 0/0: none */
  doc_agent_t agent;                                 /* agent.sign 0: none */
} full_line_t;

typedef struct full_receipt {
  uint8_t operation;             /* 1 sale, 2 sale return */
  char cashier[FN_CASHIER_SIZE]; /* fn_cashier_ok(); the doors check it */
  size_t count;
  full_line_t lines[DOC_MAX_ITEMS];
  fn_payments_t payments;
  uint64_t tendered;    /* cash handed over, 0: exactly the cash */
  bool force_catalogue; /* the catalogue's data wins (see above) */
  bool correction;      /* a correction receipt (31) with corr\'s 1173 and 1174 */
  fn_correction_t corr;
} full_receipt_t; /* large: allocate it */

/* The verdict on one line. */
typedef struct full_line_result {
  bool allow;
  const char *reason; /* check_reason_name(), or "argument" for the line's own data */
  char message_ru[CHECK_MESSAGE_MAX], message_en[CHECK_MESSAGE_MAX]; /* the check's, whole */
  const char *field;         /* the field at fault for "argument", else NULL */
  check_decision_t decision; /* for a line with a code */
  bool checked;              /* decision is filled */
} full_line_result_t;

/*
** Checks every line and, when each is allowed and the payments add up,
** closes the receipt in the FN. 0 with *closed filled; SALE_ERR_REFUSED
** with results[i] saying why for each line (results: req->count entries,
** every one filled in either case); SALE_ERR_PAYMENT when the payments
** are not the total; SALE_ERR_OPEN while the basket is open; SALE_ERR_EMPTY
** without lines; SALE_ERR_ARGUMENT for a cashier fn_cashier_ok() refuses
** (or an operation other than sale and return); SALE_ERR_FN
** (till_sale_fn_error) when the FN refuses;
** SALE_ERR_STORAGE. On any error nothing is sold and every code is declined.
*/
int full_receipt_close(till_t *t, const full_receipt_t *req, full_line_result_t *results,
                       sale_closed_t *closed);

#endif /* KASSA_POS_TILL_FULL_RECEIPT_H */
