/*
** device/fn_shtrih.h: a Shtrih-M cash register as an fn_backend_t.
**
** `[fn] backend = shtrih:tcp:HOST:PORT` or `shtrih:serial:PORT[@BAUD]`
** (`[fn] password`, default 30) puts a real register where the FN
** emulator was. Each fn.h call becomes the register's FN commands (the FF
** group) over shtrih_link.h; the answers become fn.h's structures; the
** FN's error bytes stay the FN's codes (0x16 is FN_ERR_SHIFT_OVERDUE
** here too), the register's own refusals are FN_ERR_DEVICE and a silent
** or broken link FN_ERR_DEVICE_LINK, with the register's words kept for
** fn_shtrih_last_error(). A connection that broke is opened again by the
** next call (a `kassa serve` outlives a register's restart); the call
** that saw it break is not repeated: the register may have run it.
**
** What the backend does today (the rest answers FN_ERR_UNKNOWN_COMMAND,
** never a made-up success; docs/HARDWARE.md keeps the list):
**   status       FF01 (phase, FN number, shift, last document, clock),
**                FF39 (documents the OFD has not acknowledged), FF40
**                (shift and receipt numbers), 10h (open receipt lines)
**   shift        FF41+FF0B open, FF42+FF43 close; the cashier's 1021
**                by FF0C between the steps (and before FF45 for a receipt)
**   X report     FF37+FF38 (the settlement-state report)
**   documents    FF0A (type, ticket) + FF3A/FF3B (the TLV) for
**                fn_document_get and fn_document_next_unsent
**   receipt      FF46 per line (operation 1..4, so returns too; tax rows
**                incl. 11/12 for 22 %), FF4D for a line's 2108, agent and
**                1260, FF67 for its code, FF45 close with cash,
**                cashless, 1215, 1216, 1217; FF08 cancels an open one;
**                a correction: FF08, FF35, the lines again, FF0C 1173/1174;
**                the buyer's contact 1008 by FF0C before FF45
**   marking      FF61 check (1291 in its TLV list for a part of the unit),
**                FF69 accept/decline, FF70 status
**   totals       fn_totals from the FN's archive (receipts since the
**                shift opened; since registration, all of them)
**   FN close     FF3D+FF3E
**   registration 1Eh into tables 17/18 (FFD version, the header's texts,
**                the OFD, marking, 1205), FF05 begin, FF06 registration
**                or FF34 re-registration (INN, RNM, 1062, work mode)
** The register delivers to the OFD itself (FN_CAP_DEVICE_DELIVERS): its
** documents are not kassa's to send, its notifications neither; it loads
** its FN's verification keys itself (FN_CAP_DEVICE_KEYS).
*/
#ifndef KASSA_DEVICE_FN_SHTRIH_H
#define KASSA_DEVICE_FN_SHTRIH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/shtrih_cmd.h"
#include "device/shtrih_link.h"
#include "fiscal/fn.h"

/*
** Splits a `[fn] backend` value: "emulator" (or "" / NULL) is 0 with
** spec ""; "shtrih:tcp:HOST:PORT" / "shtrih:serial:PORT[@BAUD]" is 1 with
** spec the link's part ("tcp:HOST:PORT"); anything else -1.
*/
int fn_shtrih_backend_spec(const char *backend, char *spec, size_t spec_size);

/*
** Connects to the register at spec (shtrih_link_open's form) and checks
** that it answers (FCh). On 0, *out is an fn_t to free with fn_free().
** On failure *out is NULL, the return is FN_ERR_DEVICE_LINK (no answer,
** cannot connect, a bad spec) or FN_ERR_NO_MEMORY, and err holds the
** reason in Russian and English. options may be NULL (the link's
** defaults).
*/
int fn_shtrih_open(const char *spec, uint32_t password, const shtrih_link_options_t *options,
                   fn_t **out, char *err, size_t err_size);

/* What `kassa device probe` prints: the register, its FN, the OFD queue.
** A part the register would not give (an older model without FF39h, a
** replayed log) has its rc (an fn_err_t) and words; the others stand. */
typedef struct fn_shtrih_facts {
  shtrih_device_type_t device;                             /* FCh: always there on success */
  shtrih_short_status_t kkt;                               /* 10h */
  shtrih_fn_status_t fn;                                   /* FF01h */
  shtrih_exchange_status_t exchange;                       /* FF39h */
  int kkt_rc, fn_rc, exchange_rc;                          /* 0: read */
  char kkt_error[648], fn_error[648], exchange_error[648]; /* "ru / en" when not */
} fn_shtrih_facts_t;

/*
** Reads the facts. 0 when the register said who it is (FCh), whatever
** the other parts gave; otherwise FCh's failure. A broken link at any
** step, or the register refusing the password (4Fh), fails the whole
** call (FN_ERR_DEVICE_LINK / FN_ERR_DEVICE, words in
** fn_shtrih_last_error): those are not partial facts. FN_ERR_PARAMS for
** an fn that is not this backend's.
*/
int fn_shtrih_facts(fn_t *fn, fn_shtrih_facts_t *out);

/*
** The last failure in words: "ККТ: ошибка 0x4F: Неверный пароль" (the
** register's error byte and its table text), the link's message, or ""
** after a success. Never NULL; valid until the next call on fn.
*/
const char *fn_shtrih_last_error(fn_t *fn, bool russian);

#endif
