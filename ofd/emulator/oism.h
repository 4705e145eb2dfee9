/*
** ofd/emulator/oism.h: the OISM's handling of sale notifications, shared
** by the frame port (an 82 that came online, operator.c) and the batch
** upload (82s that came in a remote shop's file, http.c), so a code is
** taken out of circulation the same way whichever road its notification
** took, and a notification is applied once whichever road it took first.
*/
#ifndef KASSA_OFD_EMULATOR_OISM_H
#define KASSA_OFD_EMULATOR_OISM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <pthread.h>

#include "ofd/emulator/store.h"

/* The code or its GTIN is blocked by an authority. */
bool oism_code_blocked(const store_code_t *c);

/*
** Applies one sale notification (82) of FN `fn`, whose 1077 the caller has
** verified, to the registry: every 2007's code becomes sold (2110 = 1, 2)
** or in_circulation again (3, 4); an unknown or blocked code is refused
** (skipped and counted). Applied once per (fn, 2002): when it was applied
** before, nothing changes and *repeated is true. *result is 2111 (0 every
** line applied, 1 any refused) and *refused the 2006 count of refused
** lines (at most 254), the first application's for a repeat. The caller
** holds the store's lock and an open transaction (store_begin), and
** commits or rolls back. Returns 0, 1 when the document is malformed or
** its 2002 is not `number` (nothing written), -1 when the store failed.
*/
int oism_apply_notification(store_t *s, const char *fn, const uint8_t *doc, size_t len,
                            uint32_t number, uint32_t now, uint8_t *result, uint8_t *refused,
                            bool *repeated);

/*
** The batch upload endpoint (docs/BATCH.md): body is a batch file. Checks
** it (ofd/batch.h: format, each notification against its sealed 82), finds
** the FN's secret, verifies the batch signature and every 82's own fiscal
** sign, then applies every notification in one transaction and answers
** with a ticket (84) for each. *status is the HTTP status and *answer the
** JSON to send (NULL only when out of memory):
**   200 {"code":0,"description":"ok","fnNumber","count","applied",
**        "repeated","refusedLines","tickets":[{"number","result",
**        "refusedLines","document":base64 84}]}
**   400 malformed (not a batch), 422 inconsistent or a notification whose
**   sign does not verify, 404 unknown_fn, 403 bad_signature, 500 store:
**        {"code":status,"error":name,"description":why}; nothing applied.
** The caller passes the store and its lock; `now` dates the applications.
*/
void oism_batch_upload(store_t *s, pthread_mutex_t *lock, const char *body, size_t len,
                       uint32_t now, unsigned *status, json_t **answer);

#endif
