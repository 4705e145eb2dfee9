/*
** till_internal.h: the till's state, shared by the files that make up the
** till (till.c, check.c, sale.c, return.c, remark.c) and nobody else.
*/
#ifndef KASSA_POS_TILL_INTERNAL_H
#define KASSA_POS_TILL_INTERNAL_H

#include <sqlite3.h>

#include "ofd/client.h"
#include "ofd/outbox.h"
#include "ofd/trueapi.h"
#include "pos/till.h"

struct till {
  kassa_config_t config;
  till_clock_ms_t clock;
  void *clock_user;
  fn_t *fn;
  cache_t *cache;
  sqlite3 *db;        /* DATA/till.db: the basket */
  ofd_client_t *oism; /* lazily created */
  trueapi_t *trueapi; /* lazily created */
  outbox_policy_t policy;
  char fn_number[17];
  int last_fn_error; /* of the last SALE_ERR_FN */
};

/* sale.c: creates the basket tables; repairs a close a crash interrupted
** (see sale.h). 0 or -1 with err filled. */
int sale_store_open(till_t *t, char *err, size_t err_size);
int sale_recover(till_t *t, char *err, size_t err_size);

/* check.c: the links to the operators, created on first use. NULL when the
** configuration has none. */
ofd_client_t *till_oism(till_t *t);
trueapi_t *till_trueapi(till_t *t);

#endif
