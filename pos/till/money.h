/*
** money.h: the money rules of a basket line, so that no money leaves the
** till that did not come in, and no price is made up at the counter
** (issue 18).
**
** A hostile tester with a cashier's token sold a marked good at 1 kopeck,
** a weighed good by the tonne, and with the PIN that opens a return,
** refunded a pair of jeans sold for 3 490 ₽ at 10 995 116 277.75 ₽; two
** pairs were refunded without their codes when one was sold. The rules,
** each a refusal with its own stable name before the line is kept:
**
**   price_ceiling      a unit price above [till] price_max_rub;
**   quantity_ceiling   more than [till] quantity_max pieces in a line, or
**                      more than [till] weight_max_kg of a weighed good;
**   price_needs_manager
**                      a sale's price other than the catalogue's by more
**                      than [till] price_tolerance_percent (0: any other
**                      price) without the manager present (below);
**   refund_above_sale  a return line with a code priced above what that
**                      code was sold for, read from the FN archive (the
**                      sale's 1079); without a price the line takes the
**                      sold price, not today's catalogue price. A return
**                      without a code is priced at most at the catalogue's;
**   sale_not_found     a return without a code must name its sale: the FD
**                      of a sale receipt in this FN's archive;
**   sale_line          and a line of that receipt with a marked good of the
**                      returned GTIN;
**   return_units       a return without a code when the named sale line has
**                      no unit left (its quantity less the returns naming it
**                      before, this basket's included, and less its code
**                      when that came back with its code or is in this
**                      return), or its money is
**                      spent (its 1043 total less what they refunded), or
**                      when the store has no sold
**                      unit of that GTIN left to take back: the codes sold
**                      and not returned (cache), less the returns without a
**                      code recorded before (each stands for a sold code the
**                      store cannot name), less the lines of that GTIN
**                      already in this return (with or without a code).
**
** No PIN lifts the two refund rules: a refund is bounded by the sale. A
** sale sold on an FN since replaced is bounded by the catalogue price.
**
** The manager is present when the caller has checked the manager PIN for
** this one action (the API: a valid X-Manager-PIN with the request; the
** CLI: --pin-file or KASSA_PIN) and said so with till_set_manager_present;
** the caller clears it afterwards.
*/
#ifndef KASSA_POS_TILL_MONEY_H
#define KASSA_POS_TILL_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "pos/till/state.h"

/* Whether the manager PIN was checked for the action under way. */
void till_set_manager_present(till_t *t, bool present);
bool till_manager_present(const till_t *t);

/* The rule a line breaks (sale.h turns each into its SALE_ERR_*). */
typedef enum money_verdict {
  MONEY_OK = 0,
  MONEY_PRICE_NEEDS_MANAGER,
  MONEY_PRICE_CEILING,
  MONEY_QUANTITY_CEILING,
  MONEY_REFUND_ABOVE_SALE,
  MONEY_RETURN_UNITS,
  MONEY_STORAGE,        /* the cache could not be read */
  MONEY_SALE_NOT_FOUND, /* a return without a code names no sale receipt of this FN */
  MONEY_SALE_LINE,      /* the named line is not a marked line of this GTIN */
} money_verdict_t;

/* One line about to join a basket, as the rules see it. */
typedef struct money_line {
  uint8_t operation;        /* 1054 of the basket: DOC_OP_SALE or DOC_OP_SALE_RETURN */
  bool marked;              /* with its code (ki) */
  bool without_code;        /* a return of a marked good whose code cannot be read */
  const char *ki, *gtin;    /* ki "" when not marked */
  uint64_t catalogue_price; /* kopecks */
  uint64_t asked_price;     /* what the caller asked, 0: none */
  uint64_t price;           /* the line's price (in: as filled; out: maybe the sold price) */
  doc_quantity_t quantity;
  uint8_t measure;         /* 2108: 11 kg */
  size_t basket_same_gtin; /* lines of this GTIN already in the basket */
  /* A return without a code: the sale it takes back (FD of the receipt,
  ** line 1..) and what earlier returns naming that line took already
  ** (units and kopecks, this basket's included). */
  uint32_t sale_fd, sale_line;
  uint64_t sale_taken_units, sale_taken_money;
  /* Whether the basket holds a line of code ki (a return with its code). */
  bool (*basket_has_ki)(const void *basket, const char *ki);
  const void *basket;
} money_line_t;

/*
** The rules above for line m: MONEY_OK (a return's price may have been set
** to the code's sold price: m->price), or the rule broken.
*/
money_verdict_t money_line_rules(till_t *t, money_line_t *m);

/* The ceilings alone, for a line whose quantity changes after its scan
** (line_edit.h): MONEY_OK, MONEY_PRICE_CEILING or MONEY_QUANTITY_CEILING. */
money_verdict_t money_ceilings(const till_t *t, uint64_t price, doc_quantity_t quantity,
                               uint8_t measure);

#endif /* KASSA_POS_TILL_MONEY_H */
