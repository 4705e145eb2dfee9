/*
** background.h: the work `kassa serve` does without being asked, in one
** thread of its own: delivering, syncing, updating keys.
**
** Without it a till delivers only when someone runs `kassa ofd flush`, and
** receipts pile up in the FN until its 30-day rule blocks the till; the
** code cache goes stale unless someone runs `kassa cache sync`; the FN's
** verification keys expire after 90 days unless someone runs `kassa ofd
** keys`. The background thread does the three on its own:
**
**   sender  documents to the OFD, then sale notifications to the OISM, as
**           soon as the service says one was made (background_wake, after
**           every request that changed something) and every
**           [service] send_interval_s anyway; after a network fault the
**           next try waits for the client's backoff (ofd/client.h: 1 s
**           doubling to 5 min, with jitter), wakes or not. An autonomous
**           FN has no OFD: its notifications leave in batches (kassa batch).
**   sync    the code cache from the operator's feed every
**           [service] sync_interval_min (resuming from the stored cursor,
**           as `kassa cache sync` does); a failure is tried again after
**           a minute, doubling up to the interval.
**   keys    the FN's verification keys from the key server once they are
**           [service] keys_refresh_days old (or the FN has none), looked at
**           hourly; a failure is tried again with the client's backoff.
**
** The till is never touched and its mutex never taken: the thread opens its
** own connections to DATA/fn.db and DATA/cache.db (SQLite in WAL mode, each
** file's writers wait for each other with a busy timeout, exactly as when a
** `kassa ofd flush` runs beside the service), so a slow or dead operator
** never holds up a cashier. The FN remains the only queue: the thread keeps
** nothing but counters for the status page.
**
** What each task last did is background_status_json()'s, which
** /api/status shows under "background" (and the manager's overview).
*/
#ifndef KASSA_POS_BACKGROUND_H
#define KASSA_POS_BACKGROUND_H

#include <stddef.h>

#include <jansson.h>

#include "pos/till/config.h"

typedef struct background background_t;

/*
** Opens the thread's own FN connection (DATA/fn.db, which must exist:
** till_open has checked it) and starts the thread; the first delivery is
** tried at once. config is copied. Returns 0, or -1 with a message for a
** manager in err (Russian, then English); nothing is left running then.
** With [service] background = no it starts nothing and *out is NULL (not
** an error): every other function takes NULL.
*/
int background_start(const kassa_config_t *config, background_t **out, char *err, size_t err_size);

/* Something may have been made: the sender looks now (unless it is waiting
** out a backoff). Cheap; never blocks on the network. */
void background_wake(background_t *b);

/*
** What each task last did, as a new JSON object:
**   {"enabled":bool, "sender":{...}, "sync":{...}, "keys":{...}, "warnings":[...]}
** each task {"state":"idle|running|waiting|off", "runs", "failures" (in a row),
** "last_run", "last_success" (epoch seconds, 0 never), "last_error" (stable
** name or null), "detail" (English, or null), "next_in_s"} plus its counts
** (sender: documents, notifications; sync: codes; keys: keys). warnings
** holds the Russian / English sentences a manager should see. NULL b:
** {"enabled":false}. NULL only when out of memory.
*/
json_t *background_status_json(background_t *b);

/* Stops the thread (a network exchange in flight ends within its timeouts)
** and frees everything. NULL is fine. */
void background_stop(background_t *b);

#endif /* KASSA_POS_BACKGROUND_H */
