/*
** ofd/emulator/store.h: the operator emulator's durable state.
**
** One SQLite file (DIR/operator.db, WAL, synchronous=FULL) holds what the
** three operators know: the FNs the OFD serves and their secrets (to check
** fiscal signs), the documents received, the OISM's registry of marking
** codes, the sale notifications applied, the key server's keys, and the
** operator's own secret (for its sign, 1078). The server serialises calls
** with one mutex: a store_t is used by one thread at a time.
**
** Every function returns 0, STORE_NOT_FOUND, or STORE_ERR (SQLite failed;
** the message went to stderr). Every statement is prepared with bound
** parameters.
*/
#ifndef KASSA_OFD_EMULATOR_STORE_H
#define KASSA_OFD_EMULATOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"

#define STORE_NOT_FOUND  1
#define STORE_ERR        (-1)
#define STORE_SECRET_LEN 32
#define STORE_KI_MAX     64

typedef struct store store_t;

/* Opens (creating DIR 0700 and the schema when missing) the store in dir.
** *out is NULL on failure. */
int store_open(const char *dir, store_t **out);
void store_close(store_t *s); /* NULL is fine */

/* The path of the store's SQLite file (DIR/operator.db), for modules that
** open their own connection to it (the registry feed); NULL for NULL. */
const char *store_path(const store_t *s);

/*
** A write transaction (BEGIN IMMEDIATE ... COMMIT). Calls nest: inside an
** open one, store_begin opens a savepoint, store_commit releases it and
** store_rollback undoes only what was done since that store_begin; the
** outermost commit makes it all durable at once (the frame port's group
** commit). Every store_begin ends in exactly one store_commit (0) or
** store_rollback (also after a store_commit that failed).
*/
int store_begin(store_t *s);
int store_commit(store_t *s);
void store_rollback(store_t *s);

/* The operator's own secret, made at first open. */
void store_operator_secret(const store_t *s, uint8_t secret[STORE_SECRET_LEN]);

/* FNs: add or replace; look up the secret (STORE_NOT_FOUND). */
int store_fn_put(store_t *s, const char *fn_number, const uint8_t secret[STORE_SECRET_LEN]);
int store_fn_secret(store_t *s, const char *fn_number, uint8_t secret[STORE_SECRET_LEN]);

/*
** Stores a document once per (fn, number). When a row exists already,
** nothing is written; *same says whether its bytes equal tlv, and
** *received_at is the first reception's time (so a redelivery gets the
** identical acknowledgement).
*/
int store_document_put(store_t *s, const char *fn_number, uint32_t number, uint16_t type,
                       const uint8_t *tlv, size_t len, uint32_t now, uint32_t *received_at,
                       bool *same);
/* How many documents are stored for an FN (tests, status). */
int store_document_count(store_t *s, const char *fn_number, uint32_t *count);

/* Keys. material: HMAC secret or GOST private key (DER); public_part:
** what the FN gets (the HMAC secret again, or the GOST public key DER). */
int store_key_put(store_t *s, const char *id, int kind, const uint8_t *material, size_t len,
                  const uint8_t *public_part, size_t public_len, uint32_t created);
/* The newest key of a kind: id (5 bytes) and material (STORE_NOT_FOUND). */
int store_key_newest(store_t *s, int kind, char id[5], uint8_t *material, size_t cap, size_t *len);
int store_key_exists(store_t *s, const char *id, bool *exists);
/* All keys as the FN takes them (public parts), oldest first. */
int store_keys_public(store_t *s, fn_key_t *keys, size_t cap, size_t *n);

/* A row of the OISM registry. status is one of emitted, applied,
** in_circulation, sold, returned, blocked. */
typedef struct store_code {
  char ki[STORE_KI_MAX + 1];
  char km[DOC_MAX_KM + 1];
  char gtin[15];
  char group[16];
  char owner_inn[13];
  char status[16];
  bool blocked_code, blocked_gtin, blocked_series;
  uint32_t expiry;                    /* 0: none */
  uint64_t min_price, max_price;      /* kopecks, 0: none */
  char remarked_to[STORE_KI_MAX + 1]; /* the new code's ki when remarked (lm_remarks), "" */
  /* A pack sold by parts (1291, common/part.h): sold_units of inner_units
  ** (table code_parts); 0 / 0 when none of it is sold by parts. Status
  ** stays in_circulation until the parts make the whole, then sold. */
  uint64_t sold_units, inner_units;
} store_code_t;

int store_code_put(store_t *s, const store_code_t *c);
int store_code_get(store_t *s, const char *ki, store_code_t *c);
int store_code_set_status(store_t *s, const char *ki, const char *status);
/* Sets a code's status and its account of parts in one go (inner_units 0
** or 1: no account, the row is removed). */
int store_code_set_parts(store_t *s, const char *ki, const char *status, uint64_t sold_units,
                         uint64_t inner_units);
/* Blocks one code (status blocked) or every code of a GTIN; *changed rows. */
int store_code_block(store_t *s, const char *ki, const char *gtin, int *changed);
/* Sets the minimum (smp) and maximum (mrp) retail prices, in kopecks (0:
** none), of every code of a GTIN; *changed rows. */
int store_code_price(store_t *s, const char *gtin, uint64_t min_price, uint64_t max_price,
                     int *changed);

/* One key by its 4-character id: its kind (FN_KEY_HMAC, FN_KEY_GOST) and
** its public part (the HMAC secret itself, or the GOST public key DER), to
** verify a tail the operator made. STORE_NOT_FOUND when no key has the id. */
int store_key_public(store_t *s, const char *id, int *kind, uint8_t *public_part, size_t cap,
                     size_t *len);

/* Notifications: the stored result of (fn, number), or STORE_NOT_FOUND. */
int store_notification_get(store_t *s, const char *fn_number, uint32_t number, uint8_t *result,
                           uint8_t *refused);
int store_notification_put(store_t *s, const char *fn_number, uint32_t number, uint32_t now,
                           uint8_t result, uint8_t refused);

#endif
