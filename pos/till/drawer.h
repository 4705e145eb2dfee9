/*
** drawer.h: the cash drawer's counters (cash in / cash out).
**
** Putting change into the drawer in the morning (внесение) and taking the
** takings out (выплата, инкассация) are not fiscal documents: the FN never
** hears of them. The till keeps them itself, one row per movement in
** DATA/till.db (table `drawer`), so the X and Z reports can say how much
** cash should be in the drawer: what was put in, minus what was taken out,
** plus the cash of the shift's sales and corrections, minus the cash of
** its returns (the FN's totals, fiscal/doc.h doc_totals_t).
**
** A movement belongs to the FN's open shift (the till's day); a cash out
** larger than the drawer holds is refused. The file is shared with the
** basket (pos/till/sale.c) and opened here on its own connection, so the
** command line can use it without opening a whole till.
*/
#ifndef KASSA_POS_TILL_DRAWER_H
#define KASSA_POS_TILL_DRAWER_H

#include <stdbool.h>
#include <stdint.h>

#include "fiscal/doc.h"

typedef struct drawer drawer_t;

typedef enum drawer_err {
  DRAWER_OK = 0,
  DRAWER_ERR_STORAGE = -1, /* DATA/till.db could not be opened, read or written */
  DRAWER_ERR_AMOUNT = -2,  /* zero, or past what a receipt can hold (2^48 - 1 kopecks) */
  DRAWER_ERR_SHORT = -3,   /* a cash out larger than the drawer holds */
  DRAWER_ERR_NO_SHIFT = -4 /* no shift is open: a movement belongs to one */
} drawer_err_t;

/* A stable name ("short") and a message in Russian or English; never NULL. */
const char *drawer_err_name(int err);
const char *drawer_err_message(int err, bool russian);

/* One shift's movements. */
typedef struct drawer_totals {
  uint32_t ins, outs; /* how many of each */
  uint64_t in, out;   /* their sums, kopecks */
} drawer_totals_t;

/* Opens (creating the table when needed) DATA/till.db under data_dir. */
int drawer_open(const char *data_dir, drawer_t **out);
/* Closes; NULL is fine. */
void drawer_close(drawer_t *d);

/* The movements of shift `shift` of FN fn_number (all zero when none): a
** replaced FN numbers its shifts from 1 again. */
int drawer_totals(drawer_t *d, const char *fn_number, uint32_t shift, drawer_totals_t *out);

/*
** The cash the drawer should hold in a shift: put in - taken out + cash of
** sales and corrections of sales - cash of sale returns and their
** corrections (+ purchases' returns - purchases, for a register that buys).
** fn_shift is the FN's totals of that shift (fn_totals(fn, true, ...)).
** Never negative (0 if the counters disagree).
*/
uint64_t drawer_balance(const drawer_totals_t *moves, const doc_totals_t *fn_shift);

/*
** Records a movement in `shift` of FN fn_number (0: no shift open, DRAWER_ERR_NO_SHIFT) at
** `time`: in (true) or out. An out past `balance` (drawer_balance() now)
** is DRAWER_ERR_SHORT and records nothing.
*/
int drawer_move(drawer_t *d, bool in, uint64_t amount, const char *fn_number, uint32_t shift,
                uint32_t time, uint64_t balance);

#endif
