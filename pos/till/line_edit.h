/*
** line_edit.h: changing a line of the open basket after it was scanned:
** its quantity, and a discount on it.
**
** A cashier who scanned one tin of paint and sells five changes the
** quantity instead of scanning four more; a customer with a voucher gets a
** discount on a line. Both rewrite the line in DATA/till.db (sale.h's
** basket), never the FN: lines reach the FN only when the receipt is paid.
**
** Quantity: the rules of a scan (sale_add_scan): a marked good and a good
** returned without its code are one piece each (a second piece is a second
** scan of its own code), a piece good is a whole number, a weighed good
** (2108 = 11) up to three decimals of a kilogram; the total is price x
** quantity, half up.
**
** Discount: a whole percentage of the line's list price (the price it was
** scanned at). The FFD has no requisite for a discount in FFD 1.2: the
** price on the receipt (1079) is the price with the discount, and the sum
** (1043) is that price x the quantity, so the receipt's price, sum, VAT
** (from the sum) and total are all the discounted ones:
**   discounted price = list price - round_half_up(list price x percent / 100)
**   sum              = round_half_up(discounted price x quantity)
** (a part of a marked pack, 1291 n/d, stays that part: round_half_up(
** discounted price x n / d), as sale.c prices it)
** 0 % takes the discount off (the list price again). The list price and the
** percentage are kept beside the line (table line_discount, gone with the
** line by a trigger), so a second discount replaces the first instead of
** compounding it and a page can show both prices. Returns are not
** discounted (they give back what the receipt took), and neither are
** excisable marked goods (1212 = 31: tobacco and alcohol have minimum
** prices the check enforced at the scanned price). Above
** [till] discount_without_pin_percent a discount is a manager's decision:
** sale_discount_needs_manager() says so, and the caller asks for the PIN.
*/
#ifndef KASSA_POS_TILL_LINE_EDIT_H
#define KASSA_POS_TILL_LINE_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "pos/till/state.h"

typedef enum line_edit_err {
  LINE_EDIT_OK = 0,
  LINE_EDIT_ERR_NO_RECEIPT = -1,       /* "no_receipt": no receipt is open */
  LINE_EDIT_ERR_NO_LINE = -2,          /* "no_line": no such line */
  LINE_EDIT_ERR_QUANTITY = -3,         /* "quantity": against the line's quantity rule */
  LINE_EDIT_ERR_PERCENT = -4,          /* "percent": a discount outside 0..99 */
  LINE_EDIT_ERR_NOT_DISCOUNTABLE = -5, /* "not_discountable": a return, an excisable good */
  LINE_EDIT_ERR_STORAGE = -6,          /* "storage": DATA/till.db failed */
} line_edit_err_t;

/* The stable name and a message in Russian or English; never NULL. */
const char *line_edit_err_name(int err);
const char *line_edit_err_message(int err, bool russian);

/* Sets line line_id's quantity (see above). */
int sale_line_set_quantity(till_t *t, uint32_t line_id, const doc_quantity_t *quantity);

/* Sets (percent 1..99) or takes off (0) a discount on line line_id. */
int sale_line_set_discount(till_t *t, uint32_t line_id, unsigned percent);

/* Whether a discount of percent needs the manager PIN. */
bool sale_discount_needs_manager(const till_t *t, unsigned percent);

/* A discounted line of the open basket. */
typedef struct sale_line_discount {
  uint32_t line_id;
  uint64_t list_price; /* kopecks: the price before the discount */
  unsigned percent;
} sale_line_discount_t;

/* The discounted lines of the open basket (at most max), *count how many. */
int sale_line_discounts(till_t *t, sale_line_discount_t *out, size_t max, size_t *count);

#endif /* KASSA_POS_TILL_LINE_EDIT_H */
