/*
** state_internal.h: the till's state as a struct, shared by the files of
** pos/till/ that make up the till (state.c, till.c, check.c, sale.c,
** remark.c) and nobody else; everyone outside holds an opaque till_t.
*/
#ifndef KASSA_POS_TILL_STATE_INTERNAL_H
#define KASSA_POS_TILL_STATE_INTERNAL_H

#include <sqlite3.h>

#include "common/db.h"
#include "ofd/client.h"
#include "ofd/outbox.h"
#include "ofd/trueapi.h"
#include "pos/till/state.h"

struct till {
  kassa_config_t config;
  till_clock_ms_t clock;
  void *clock_user;
  fn_t *fn;
  cache_t *cache;
  sqlite3 *db;                   /* DATA/till.db: the basket */
  db_stmts_t basket_stmts;       /* its statements, compiled once (common/db.h) */
  struct sale_kept *basket_kept; /* the basket as till.db last had it (sale.c); NULL: none */
  ofd_client_t *oism;            /* lazily created */
  trueapi_t *trueapi;            /* lazily created */
  outbox_policy_t policy;
  char fn_number[17];
  uint32_t fn_base;              /* the cache's global number before this FN's document 1 */
  int last_fn_error;             /* of the last SALE_ERR_FN */
  struct lane_store *lane_store; /* [store] url: the store node (lane_store.h); NULL: none */
  /* The FN's clock as opened (till_fn_replace opens the new FN with it). */
  uint32_t (*fn_clock)(void *user);
  void *fn_clock_user;
  bool manager_present; /* the PIN was checked for this action (pos/till/money.h) */
};

/*
** Opens the state in o->config->data_dir: the FN (which must exist) and
** the code cache (created when missing). The basket's file, the replay and
** the basket's crash repair are the facade's next steps (till.c). Returns 0 with *out set, or -1
*with a
** message for a manager in err (Russian, then English) and *out NULL.
*/
int till_state_open(const till_options_t *o, till_t **out, char *err, size_t err_size);
void till_state_close(till_t *t); /* NULL is fine */

/* The links to the operators, created on first use; NULL when the
** configuration has none or creating them failed. */
ofd_client_t *till_oism(till_t *t);
trueapi_t *till_trueapi(till_t *t);

/* sale.c: creates the basket tables; repairs a close a crash interrupted
** (see sale.h). 0 or -1 with err filled. Called by till_open() only. */
int sale_store_open(till_t *t, char *err, size_t err_size);
int sale_recover(till_t *t, char *err, size_t err_size);

#endif /* KASSA_POS_TILL_STATE_INTERNAL_H */
