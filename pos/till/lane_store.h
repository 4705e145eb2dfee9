/*
** lane_store.h: a lane's link to the store node (store/store.h), the two
** moments the till asks it, and what the lane does when it cannot.
**
** Without [store] url none of this runs and the till decides alone, as
** it always has. With it:
**   - before a marked code is accepted into a sale's basket, the lane
**     claims it (a lease it renews by every publish, whose heartbeat
**     renews all its claims); a code another lane holds or sold is
**     refused; a code the lane removes from the basket is released;
**   - after a receipt closes, the lane publishes every FN document after
**     the store's pointer for this FN (the FN's archive is the truth; a
**     document published twice changes nothing);
**   - a remark (the old code out of circulation) is kept in till.db and
**     published like a receipt, numbered in the lane's own remark series;
**   - a return is accepted for a code any lane of the store sold;
**   - when the node does not answer within [store] timeout_ms (150), the
**     lane is offline for a second (no scan waits for it meanwhile) and
**     decides alone: a product group in [store] offline_refuse
**     ("tobacco" by default) is refused, any other sold and remembered as
**     sold offline; on reconnection it publishes before it claims anything
**     new, and a code two lanes sold meanwhile becomes a conflict row at
**     the node (nothing fiscal is undone).
*/
#ifndef KASSA_POS_TILL_LANE_STORE_H
#define KASSA_POS_TILL_LANE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "pos/till/state.h"

typedef struct lane_store lane_store_t;

/* The link for this till's [store] section: NULL (and 0) when there is no
** url; -1 with err when the url or token is malformed. The node need not
** be up. */
int lane_store_open(till_t *t, lane_store_t **out, char *err, size_t err_size);
void lane_store_close(lane_store_t *l); /* NULL is fine */

typedef enum lane_claim {
  LANE_CLAIM_GRANTED = 0,     /* the store node gave the code to this lane */
  LANE_CLAIM_ALONE,           /* no store node (none configured, or offline): the group allows */
  LANE_CLAIM_HELD,            /* another lane holds it in its basket */
  LANE_CLAIM_SOLD,            /* a lane of the store sold it */
  LANE_CLAIM_OFFLINE_REFUSED, /* offline, and [store] offline_refuse names the group */
} lane_claim_t;

/*
** Claims ki (the identification part of a code of product group `group`)
** for the open sale. *detail: the lane holding or selling it, or the
** group refused offline (borrowed until the next call), else NULL.
*/
lane_claim_t lane_store_claim(till_t *t, const char *ki, const char *group, const char **detail);

/* True when the store has ki as sold by some lane (a return may be taken
** here); false when it has not or cannot say. */
bool lane_store_sold_anywhere(till_t *t, const char *ki);

/* Gives back a claim (a line removed from the basket). */
void lane_store_release(till_t *t, const char *ki);

/* Publishes what the FN holds after the store's pointer; quiet on failure
** (tried again before the next claim). */
void lane_store_publish(till_t *t);

/* Keeps a remark of ki (`kassa remark`, the API's remark: the old code,
** of GTIN gtin) in DATA/till.db for the store and publishes what is owed;
** quiet on failure (kept, and published before the next claim). Nothing
** without a store. */
void lane_store_remark(till_t *t, const char *ki, const char *gtin);

/* For the status: "" (no store), "online" or "offline"; documents owed. */
const char *lane_store_state(till_t *t, unsigned *owed);

#endif /* KASSA_POS_TILL_LANE_STORE_H */
