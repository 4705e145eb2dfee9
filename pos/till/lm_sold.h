/*
** lm_sold.h: the local module's "sold goods" database (БД «Проданные
** товары»), kept by the till for front ends that register sales through
** the local-module API (POST /api/v2/cis/sell, /cis/return, /cis/sold/check,
** GET /cis/sold; pos/serve/lm.c).
**
** A front end that drives a cash register of its own asks the local module
** whether a code may be sold, sells it on that register, then tells the
** module "sold" so the next offline check says sold. The till's own sales
** never pass through here: they are in the FN archive, and the code cache's
** SOLD rows are replayed from it (pos/till/cache.h). This table holds only
** what front ends registered, by identification part (ki), in DATA/till.db;
** "is it sold" for the local module is "registered here, or sold by the
** till's own archive" (lm_sold_is_sold).
**
** A registered sale is kept LM_SOLD_KEEP_MS (30 days, the manual's
** soldStorePeriod, table 43 and figure 26), then forgotten: by then the
** operator's own status says sold.
**
** Registration and return are all or nothing: one code already sold (or,
** for a return, not registered) refuses the whole list and writes nothing,
** so a front end that retries a list never half-applies it.
*/
#ifndef KASSA_POS_TILL_LM_SOLD_H
#define KASSA_POS_TILL_LM_SOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pos/till/state.h"

#define LM_SOLD_KEEP_MS INT64_C(2592000000) /* 30 days */

typedef enum lm_sold_err {
  LM_SOLD_OK = 0,
  LM_SOLD_ERR_STORAGE = -1,  /* "storage": DATA/till.db failed */
  LM_SOLD_ERR_SOLD = -2,     /* "already_sold": a code of the list is sold already */
  LM_SOLD_ERR_NOT_SOLD = -3, /* "not_registered": a returned code was never registered */
  LM_SOLD_ERR_ARGUMENT = -4, /* "argument": NULL, empty list, an empty ki */
} lm_sold_err_t;

const char *lm_sold_err_name(int err);

/* true when the local module says sold: registered through the API, or
** sold by this till's archive and not returned (the cache's SOLD). false
** also when the storage cannot be read (the caller sees the cache anyway). */
bool lm_sold_is_sold(till_t *t, const char *ki);

/* Registers kis[0..n) as sold at now_ms, all or nothing. LM_SOLD_ERR_SOLD
** with *bad (may be NULL) the index of the first one sold already (or
** twice in the list). */
int lm_sold_register(till_t *t, const char *const *kis, size_t n, int64_t now_ms, size_t *bad);

/* Removes kis[0..n) from the registered sales, all or nothing.
** LM_SOLD_ERR_NOT_SOLD with *bad the index of the first one not there. */
int lm_sold_return(till_t *t, const char *const *kis, size_t n, size_t *bad);

/* The registered kis in registration order, from skip, at most limit of
** them: each handed to each(ki, user); *total (may be NULL) gets the count. */
int lm_sold_list(till_t *t, uint64_t skip, uint64_t limit, void (*each)(const char *ki, void *user),
                 void *user, uint64_t *total);

/* Forgets every registered sale (init with clearSold). */
int lm_sold_clear(till_t *t);

#endif /* KASSA_POS_TILL_LM_SOLD_H */
