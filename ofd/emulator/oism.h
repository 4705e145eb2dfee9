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

#include "fiscal/tlv.h"
#include "ofd/emulator/store.h"

/* The code or its GTIN is blocked by an authority. */
bool oism_code_blocked(const store_code_t *c);

/*
** A pack sold by parts (1291 {1293, 1294}, planned status 2 / 4): the code
** stays in circulation until its parts make the whole (the Chestny ZNAK's
** soldUnitCount of innerUnitCount), and the OISM is as strict as the
** operator: a part more than is left (a sale), or than is sold (a
** return), does not fit. oism_fits() says whether `planned` (2003 of an
** 81, or 2110 of an 82's line) with the part n/d (0/0: a whole piece) fits
** the code as it stands (sale: in circulation or returned, and the part
** fits what is left; return: sold, whole or in part, and the part no more
** than is sold), and gives the code's status and account after it.
*/
typedef struct oism_next {
  const char *status; /* "sold" or "in_circulation" */
  uint64_t sold_units, inner_units;
} oism_next_t;
bool oism_fits(const store_code_t *c, uint8_t planned, uint64_t n, uint64_t d, oism_next_t *next);

/* Reads 1293 / 1294 of a 1291 item into *n / *d. 0, or -1 when malformed. */
int oism_read_fraction(const tlv_item_t *item, uint64_t *n, uint64_t *d);

/*
** Applies one sale notification (82) of FN `fn`, whose 1077 the caller has
** verified, to the registry: every 2007's code becomes sold (2110 = 1, 2)
** or in_circulation again (3, 4); a line with a fraction (1291) moves the
** pack's account by oism_fits(); an unknown or blocked code, or a part that
** does not fit, is refused (skipped and counted). Applied once per (fn, 2002): when it was applied
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
