/*
** till.h: one cash register as its callers see it: opened from its data
** directory, closed, and its status. Every checkout, return, remark and
** acceptance goes through the till_t it hands out.
**
** The `kassa` commands and `kassa serve` hold a till_t; they never open the
** FN, the cache or the basket's file themselves, so every path into the
** till applies the same rules. What a till is made of, and what every layer
** may ask of it, is state.h (included here); the decision for a scan is
** check.h, the basket sale.h.
**
** till_open() replays the FN archive into the cache and repairs whatever a
** crash left half done (an open FN receipt, a basket caught closing), so
** after any crash a code is sold if and only if a receipt in the archive
** sells it.
*/
#ifndef KASSA_POS_TILL_H
#define KASSA_POS_TILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"
#include "ofd/outbox.h"
#include "pos/till/cache.h"
#include "pos/till/state.h"

/*
** Opens the till in config->data_dir: the FN must exist (`kassa fn init`),
** the cache and the basket are created when missing. Replays the FN archive
** into the cache and repairs a half-done close (see sale.h). Returns 0, or
** -1 with a message for a manager in err (Russian, then English).
*/
int till_open(const till_options_t *o, till_t **out, char *err, size_t err_size);
void till_close(till_t *t); /* NULL is fine */

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
  bool keys_by_device;   /* a register loads its FN's keys itself (FN_CAP_DEVICE_KEYS):
                         ** key_age_days says nothing kassa could act on */
} till_status_t;

int till_status(till_t *t, till_status_t *out);

#endif /* KASSA_POS_TILL_H */
