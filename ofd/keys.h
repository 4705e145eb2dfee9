/*
** ofd/keys.h: the key server's answer, as TLV.
**
** A till's FN checks the crypto tails of marking codes with verification
** keys it gets from the key server (OKP). The real server's format is not
** public, so the key update that travels on the KEYS port (answer
** container type 91) is ours ([open]): a flat TLV list in the FFD framing
** (tag u16 LE, length u16 LE, value), with tags from a private range that
** no FFD requisite uses (0xFE00-0xFE0F):
**
**   0xFE00 KEYS_TAG_WHEN      4 bytes, uint32 LE: the date of the update
**                             (FFD UNIXTIME), exactly once, first
**   0xFE01 KEYS_TAG_KEY       a list, once per key (0 or more), holding
**     0xFE02 KEYS_TAG_ID        4 bytes: the AI 91 value, printable ASCII
**     0xFE03 KEYS_TAG_KIND      1 byte: FN_KEY_GOST (1) or FN_KEY_HMAC (2)
**     0xFE04 KEYS_TAG_MATERIAL  1..256 bytes: GOST public key (DER) or
**                               HMAC secret
**   each exactly once, in this order.
**
** The tags are not in the FFD dictionary (fiscal/tlv.c): the writer puts
** them raw and the reader decodes them as told, so the dictionary stays
** the law's. The builder's output is what the parser takes, byte for byte;
** the parser trusts nothing (it is what comes off the network).
**
** The client side calls keys_parse_update() and hands the keys to
** fn_key_update(); the operator emulator calls keys_build_update().
*/
#ifndef KASSA_OFD_KEYS_H
#define KASSA_OFD_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"

#define KEYS_TAG_WHEN     0xFE00u
#define KEYS_TAG_KEY      0xFE01u
#define KEYS_TAG_ID       0xFE02u
#define KEYS_TAG_KIND     0xFE03u
#define KEYS_TAG_MATERIAL 0xFE04u

/* Bytes one key takes at most in an update (list header, id, kind,
** 256 bytes of material). */
#define KEYS_ENTRY_MAX (4u + (4u + 4u) + (4u + 1u) + (4u + 256u))

typedef enum keys_error {
  KEYS_OK = 0,
  KEYS_ERR_ARGUMENT = -1,  /* NULL pointer, a key no FN could take */
  KEYS_ERR_NO_SPACE = -2,  /* buf (build) or keys (parse) too small */
  KEYS_ERR_MALFORMED = -3, /* parse: bad TLV, unknown tag, wrong order or length */
} keys_error_t;

/* A stable lower-case code ("malformed") and an English sentence; never NULL. */
const char *keys_error_code(int error);
const char *keys_error_message(int error);

/*
** Encodes n keys (keys may be NULL when n is 0) dated `when` into
** buf[0..cap) and stores the length in *len. Each key needs a 4-character
** printable id (id[4] NUL), kind FN_KEY_GOST or FN_KEY_HMAC and len
** 1..256, else KEYS_ERR_ARGUMENT. KEYS_ERR_NO_SPACE when cap is too small.
** On error *len is 0.
*/
int keys_build_update(const fn_key_t *keys, size_t n, uint32_t when, uint8_t *buf, size_t cap,
                      size_t *len);

/*
** Decodes an update from buf[0..len) into keys[0..cap) (keys may be NULL
** when cap is 0), the count into *n and the date into *when. Refuses with
** KEYS_ERR_MALFORMED anything keys_build_update() would not write: a
** missing or repeated date, a tag outside the list above, a field of the
** wrong length, a kind other than 1 or 2, an id that is not 4 printable
** characters, trailing bytes. KEYS_ERR_NO_SPACE when there are more than
** cap keys. keys, *n and *when are written only on success (keys[i] is
** fully initialised, id NUL-terminated).
*/
int keys_parse_update(const uint8_t *buf, size_t len, fn_key_t *keys, size_t cap, size_t *n,
                      uint32_t *when);

#endif /* KASSA_OFD_KEYS_H */
