/*
** state.h: the till's working state and the replay of the FN archive into
** the code cache: the bottom of pos/till/, which the decision (check.h),
** the basket (sale.h), remarking and the facade (till.h) are built on.
**
** A till is the fiscal storage (DATA/fn.db, fiscal/fn.h), the code cache
** (DATA/cache.db, pos/till/cache.h), the basket's file (DATA/till.db) and
** the links to the operators (the OISM through ofd/client.h, true-api
** through ofd/trueapi.h) under one configuration (pos/till/config.h).
** This header names the handle and what every layer above may ask of it;
** opening and closing a whole till is till.h's, because opening also
** repairs the basket, which lives above this layer.
**
** Truth lives in one place. The FN's archive says what was sold and
** returned; the cache's sold/returned rows are derived from it by
** till_replay(), whose pointer moves in the same transaction as the rows.
**
** One till_t is used by one thread at a time (kassa serve serialises its
** requests on it).
*/
#ifndef KASSA_POS_TILL_STATE_H
#define KASSA_POS_TILL_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "fiscal/fn.h"
#include "pos/till/cache.h"
#include "pos/till/config.h"

typedef struct till till_t;

/* Wall clock in milliseconds since the epoch; injectable for tests. */
typedef int64_t (*till_clock_ms_t)(void *user);

typedef struct till_options {
  const kassa_config_t *config; /* required: data dir, ports, check mode, policy */
  till_clock_ms_t clock;        /* NULL: the real wall clock */
  void *clock_user;
  /* The FN's own clock (fn_emu_open's clock); NULL: the FN uses real time. */
  uint32_t (*fn_clock)(void *user);
  void *fn_clock_user;
} till_options_t;

/* The parts, borrowed for as long as the till is open. */
fn_t *till_fn(till_t *t);
cache_t *till_cache(till_t *t);
const kassa_config_t *till_config(const till_t *t);
int64_t till_now_ms(till_t *t);

/*
** Applies every FN document after the cache's pointer (sale and return
** receipts move codes to SOLD / IN_STOCK). Cheap when nothing is new.
** 0 or a negative fn_err_t / cache_err_t (the two ranges do not meet:
** cache errors are -1..-6, FN errors -0x01.. are told apart by the caller
** through *what, "fn" or "cache").
*/
int till_replay(till_t *t, const char **what);

/* till_replay() through this FN's document last (a close that just made
** it knows it, and need not ask the FN's status): documents after it, if
** another process made any, wait for the next replay. */
int till_replay_through(till_t *t, uint32_t last, const char **what);

/* till_replay_through(number) for a close that just made receipt number
** and parsed it (r, doc_parse_receipt's): when it is the cache's next
** document it is applied from r in one cache transaction, without reading
** the pointer first nor the document back from the FN (the archive never
** changes a document it holds); otherwise the replay runs as
** till_replay_through does. */
int till_replay_made(till_t *t, uint32_t number, const doc_receipt_t *r, const char **what);

/* Manager PIN check: constant-time compare against [till] manager_pin;
** false when no PIN is configured. */
bool till_manager_pin_ok(const till_t *t, const char *pin);

#endif /* KASSA_POS_TILL_STATE_H */
