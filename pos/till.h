/*
** till.h: one cash register's working state, opened from its data
** directory, that every checkout, return, remark and acceptance goes
** through.
**
** A till is the fiscal storage (DATA/fn.db, fiscal/fn.h), the code cache
** (DATA/cache.db, pos/cache.h), the basket of the receipt being built
** (DATA/till.db, pos/sale.h) and the links to the operators (the OISM
** through ofd/client.h, true-api through ofd/trueapi.h) under one
** configuration (pos/config.h). The `kassa` commands and `kassa serve` hold
** a till_t; they never open those files themselves, so every path into the
** till applies the same rules.
**
** Truth lives in one place. The FN's archive says what was sold and
** returned; the cache's sold/returned rows are derived from it by
** till_replay(), whose pointer moves in the same transaction as the rows.
** till_open() replays and repairs whatever a crash left half done (an open
** FN receipt, a basket caught closing), so after any crash a code is sold
** if and only if a receipt in the archive sells it.
**
** One till_t is used by one thread at a time (kassa serve serialises its
** requests on it).
*/
#ifndef KASSA_POS_TILL_H
#define KASSA_POS_TILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"
#include "ofd/outbox.h"
#include "pos/cache.h"
#include "pos/config.h"

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

/*
** Opens the till in config->data_dir: the FN must exist (`kassa fn init`),
** the cache and the basket are created when missing. Replays the FN archive
** into the cache and repairs a half-done close (see sale.h). Returns 0, or
** -1 with a message for a manager in err (Russian, then English).
*/
int till_open(const till_options_t *o, till_t **out, char *err, size_t err_size);
void till_close(till_t *t); /* NULL is fine */

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

/* Everything a status page shows. */
typedef struct till_status {
  fn_status_t fn;
  outbox_status_t outbox;
  cache_counts_t cache;
  int64_t last_sync_ms; /* 0: never */
  bool cache_stale;
  bool basket_open;
  uint32_t basket_lines;
  uint64_t basket_total;
  uint32_t key_age_days; /* days since the FN's keys were updated; UINT32_MAX never */
} till_status_t;

int till_status(till_t *t, till_status_t *out);

/* Manager PIN check: constant-time compare against [till] manager_pin;
** false when no PIN is configured. */
bool till_manager_pin_ok(const till_t *t, const char *pin);

#endif /* KASSA_POS_TILL_H */
