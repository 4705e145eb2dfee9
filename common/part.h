/*
** common/part.h: how much of one marked pack is sold, when it is sold in
** parts (FFD 1.2's 1291 {1293 numerator, 1294 denominator}, planned status
** 2 / 4).
**
** A pack that carries one marking code may be sold by parts: a quarter of
** a cheese head, three of ten rolls. The code stays in circulation until
** its parts add up to the whole; the Chestny ZNAK answers say so with
** soldUnitCount of innerUnitCount. Both sides of kassa keep that account
** by the same rules, the till in its code cache (pos/till/cache.h) and
** kassa-operator in its registry (ofd/emulator/store.h), so the
** arithmetic lives here once:
**
**   - a pack's account is `sold` of `units` (units 0: no part sold yet, or
**     sold whole by a piece line); parts with other denominators are
**     brought to the least common multiple (1/4 then 1/2 is 3/4; 1/3 then
**     1/4 is 7/12), so the counts stay what a person sold as long as the
**     denominators agree;
**   - a part may be sold when it fits in what is left, returned when it is
**     no more than what is sold; a whole (piece) line needs the whole
**     pack: none of it sold (sale) or all of it (return);
**   - the last part sells the pack out (sold == units); a return of every
**     part sold gives the pack back whole (units 0 again).
**
** Numbers are bounded (PART_UNITS_MAX): a denominator past it, or a least
** common multiple past it, is refused (PART_ERR_RANGE) and changes nothing.
*/
#ifndef KASSA_COMMON_PART_H
#define KASSA_COMMON_PART_H

#include <stdbool.h>
#include <stdint.h>

#define PART_UNITS_MAX 1000000u /* the largest units a pack's account holds */

typedef enum part_err {
  PART_OK = 0,
  PART_ERR_ARGUMENT = -1, /* a part that is not 0 < n < d (or 0/0, the whole) */
  PART_ERR_EXCEEDS = -2,  /* more than is left (a sale) or than is sold (a return) */
  PART_ERR_RANGE = -3,    /* a denominator or the common one past PART_UNITS_MAX */
} part_err_t;

/* One pack's account: sold of units; {0, 0} nothing sold by parts. */
typedef struct part_account {
  uint64_t sold, units;
} part_account_t;

/* true when the account says the pack is sold out by its parts. */
bool part_sold_out(const part_account_t *a);

/*
** Sells (sale true) or returns one line's part of the pack on *a: n/d the
** line's 1291 (0/0: a whole piece line). *a is the pack's account as the
** code stands: when the code is sold whole (by a piece line) pass {1, 1}.
** Writes the new account into *out (may be a) only on PART_OK: after it
** {0, 0} means nothing of the pack is sold, sold == units sold out.
** PART_ERR_EXCEEDS when the part does not fit; PART_ERR_ARGUMENT,
** PART_ERR_RANGE as above.
*/
int part_apply(const part_account_t *a, bool sale, uint64_t n, uint64_t d, part_account_t *out);

/* The part left to sell, as "n/d" text (for messages), into buf (at least
** 48 bytes); the whole "1/1" when nothing is sold. Returns buf. */
const char *part_left_text(const part_account_t *a, char *buf, unsigned size);

#endif /* KASSA_COMMON_PART_H */
