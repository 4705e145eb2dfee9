/*
** correction.h: a correction receipt (31) as the till makes it.
**
** A correction registers a settlement the till did not register (income,
** 1054 = 1) or registered wrongly as income (refund, 1054 = 2): one line
** named by the reason, at one VAT rate, paid by any of the five forms
** (cash 1031, cashless 1081, an earlier prepayment offset 1215, credit
** 1216, counter-provision 1217), on the register's own initiative (1173 =
** 0) or by the tax authority's order (1173 = 1 with 1179 and the corrected
** day 1178). The command line (`kassa correction`) and the HTTP API build
** the same request and call correction_close(); the FN applies its rules
** (fiscal/fn.h fn_receipt_close_paid: the forms against the line's 1214).
**
** Works on an FN alone (the command line opens no whole till); a till's FN
** is till_fn().
*/
#ifndef KASSA_POS_TILL_CORRECTION_H
#define KASSA_POS_TILL_CORRECTION_H

#include <stdint.h>

#include "fiscal/fn.h"

typedef struct correction_request {
  uint8_t operation;  /* 1054: DOC_OP_SALE (income) or DOC_OP_SALE_RETURN (refund) */
  uint8_t tax_system; /* 1055 */
  uint8_t vat;        /* 1199 of the line, 1..DOC_VAT_MAX */
  /* 1214 of the line (DOC_PAY_*); 0 chooses from the forms: 6 (credit) when
  ** credit is the whole amount, 5 (partial credit) when it is a part, else
  ** 4 (full settlement, which a prepayment offset may pay). */
  uint8_t method;
  fn_payments_t pay;        /* the five forms; their sum is the line's amount */
  const char *reason;       /* 1030: the line's name (folded to CP866, cut at 128 characters) */
  uint8_t type;             /* 1173: 0 own initiative, 1 by order */
  uint32_t date;            /* 1178: the corrected day (local midnight as if UTC); 0: today */
  const char *order_number; /* 1179 ("" or NULL when type is 0) */
  const char *cashier;      /* 1021, may be NULL */
} correction_request_t;

/*
** Makes the correction receipt: opens it in the FN, adds the line, closes
** it with the five forms. 0 with *out filled, FN_ERR_PARAMS for a request
** no FN could take (no reason, an operation other than 1 or 2, a VAT
** outside 1..12, a method outside 0..7, no amount or one past 2^48 - 1
** kopecks), or the FN's refusal (a negative fn_err_t: FN_ERR_VALUE for
** forms that break the rules of 1214, an order without its number ...).
** A receipt the FN refused is cancelled: nothing is left open.
*/
int correction_close(fn_t *fn, const correction_request_t *r, fn_doc_result_t *out);

/* A VAT rate as people write it ("22", "22%", "22/122", "10/110", "0",
** "none") -> its 1199 value; 0 when it is none of them. */
uint8_t correction_vat_parse(const char *text);

#endif /* KASSA_POS_TILL_CORRECTION_H */
