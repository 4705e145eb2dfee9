/*
** fn_emu.h: the FN-M emulator, a software fiscal storage behind fn.h.
**
** A faithful FN in one SQLite file (WAL, synchronous=FULL, one transaction
** per document): counters, the archive, the unsent queue, notifications,
** verification keys, and the FN's rules with its own error codes. Every
** document is signed with the FN's secret (HMAC-Streebog-256, the first 6
** bytes are tag 1077), so the operator emulator, given the same secret, can
** verify every fiscal sign.
**
** Time is injected: every rule that depends on time (24-hour shift, 30 days
** unacknowledged, 90-day keys) reads the clock given at open, so tests move
** it instead of waiting.
**
** crypto_init() must have succeeded before fn_emu_open() (the FN signs
** with Streebog and checks tails with GOST R 34.10-2012). One fn_t is used
** by one thread at a time; one process opens a given file (a second reader
** such as fn_emu_read_secret() is fine). The schema and the decisions the
** domain leaves open are described at the top of fn_emu.c.
*/
#ifndef KASSA_FISCAL_FN_EMU_H
#define KASSA_FISCAL_FN_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"

/* Seconds since the epoch, local time written as if UTC (FFD UNIXTIME). */
typedef uint32_t (*fn_clock_t)(void *user);

/*
** The real clock: local wall time as FFD writes it. Test-only: when the
** environment variable KASSA_FAKE_NOW holds FFD seconds (decimal), that
** value is the time instead, so integration tests can run the `kassa`
** commands days apart in seconds (docs/BATCH.md). This is the one place it
** is read; a value that is not a number aborts the process with a message
** rather than letting a test run on the real clock unnoticed.
*/
uint32_t fn_emu_system_clock(void *user);

#define FN_EMU_SECRET_SIZE 32

/* Capacities used when the options say 0. The real FN-M's sizes are not
** public: the checked-code table holds a full receipt of marked lines
** (DOC_MAX_ITEMS) with room to spare, the notification store a month of a
** busy shop's marked receipts. */
#define FN_EMU_DEFAULT_KM_CAPACITY           128u
#define FN_EMU_DEFAULT_NOTIFICATION_CAPACITY 50000u

typedef struct fn_emu_options {
  fn_clock_t clock; /* NULL: fn_emu_system_clock */
  void *clock_user;
  uint32_t checked_km_capacity;   /* 0: FN_EMU_DEFAULT_KM_CAPACITY (0x35 when full) */
  uint32_t notification_capacity; /* 0: FN_EMU_DEFAULT_NOTIFICATION_CAPACITY (0x34) */
  /* 1011, the register's time zone (1..11, doc_timezone_of_offset); 0: the
  ** machine's zone with the system clock (fn_emu_system_timezone), none
  ** with an injected one. */
  uint8_t timezone;
} fn_emu_options_t;

/* 1011 of the machine's local zone now (TZ; `[till] timezone` sets it), 0
** when it is not one of Russia's. */
uint8_t fn_emu_system_timezone(void);

/*
** Create a new, unregistered FN (phase READY) at `path` with FN number
** `fn_number` (16 digits) and a fresh random secret. The file is created
** 0600 and must not exist: FN_ERR_STATE when it does (an FN is never
** overwritten), FN_ERR_PARAMS for a bad number, FN_ERR_IO when the file
** cannot be made. On failure nothing is left behind.
*/
int fn_emu_create(const char *path, const char *fn_number);

/*
** fn_emu_create() with a given secret instead of a random one, for tests
** whose expected output holds a fiscal sign (a printed receipt compared
** byte for byte) and for reproducible demonstrations. A real FN's key never
** leaves it; an emulator made this way is as good as its secret is secret.
** FN_ERR_PARAMS when secret is NULL; otherwise as fn_emu_create().
*/
int fn_emu_create_with_secret(const char *path, const char *fn_number,
                              const uint8_t secret[FN_EMU_SECRET_SIZE]);

/*
** Open an existing FN file. On success *out is an fn_t the caller frees
** with fn_free() (*out is NULL on failure). options may be NULL (system
** clock, default capacities). FN_ERR_IO when the file cannot be opened,
** is not a database, or its file system cannot do WAL; FN_ERR_FAILURE when
** it is a database but not an FN file of this version, or the GOST engine
** is not initialized.
*/
int fn_emu_open(const char *path, const fn_emu_options_t *options, fn_t **out);

/* The FN's secret (for the operator emulator to verify fiscal signs) and
** FN number (NUL-terminated), read from the file without opening it as an
** FN; works while another process has it open. */
int fn_emu_read_secret(const char *path, uint8_t secret[FN_EMU_SECRET_SIZE], char fn_number[17]);

/*
** The emulator's export signature (fn_sign_blob in fn.h): mac =
** HMAC-Streebog-256(secret, FN_EMU_BLOB_PREFIX with its NUL || data). The
** prefix starts with bytes no document starts with (a document is an STLV
** whose tag is a small form code), so an export signature can never be a
** fiscal sign. The operator side verifies batches with the same function.
** FN_ERR_PARAMS for NULLs (data may be NULL when len is 0), FN_ERR_NO_MEMORY,
** FN_ERR_FAILURE when the crypto library fails. Needs crypto_init().
*/
#define FN_EMU_BLOB_PREFIX "KASSA-EXPORT-1"
int fn_emu_blob_mac(const uint8_t secret[FN_EMU_SECRET_SIZE], const uint8_t *data, size_t len,
                    uint8_t mac[FN_BLOB_MAC_SIZE]);

/*
** Verify the fiscal sign of a sealed document with an FN secret: 0 when the
** 1077 inside matches HMAC-Streebog-256(secret, signed part), else
** FN_ERR_VALUE (also for a document without 1077 or a malformed one).
** Works for fiscal documents, requests (81) and notifications (82). Used by
** the operator emulator and by `kassa fsck`. Needs crypto_init().
*/
int fn_emu_verify_sign(const uint8_t secret[FN_EMU_SECRET_SIZE], const uint8_t *doc, size_t len);

/*
** The OFD link's key (fn_emu.c, "The OFD link"). An FN clears a document
** only on an acknowledgement (7) whose 1017 is the OFD it is registered
** with and whose 1078 is fn_emu_operator_sign() of it under the key the
** OFD shared. The OFD computes the same to sign.
**
** fn_emu_operator_sign: out = the first 18 bytes of HMAC-Streebog-256(key,
** FN_EMU_OPERATOR_SIGN_PREFIX with its NUL || 1041 (16 bytes, NUL-padded)
** || 1017 (12, NUL-padded) || 1040 (uint32 LE) || 1012 (uint32 LE) || 1022
** || the acknowledged document's 1077 (6 bytes)). FN_ERR_PARAMS for NULLs,
** FN_ERR_FAILURE when the HMAC fails (crypto_init() first).
**
** fn_emu_share_ofd_key: stores (ofd_inn, key) in the FN file at path,
** replacing an earlier one, durably (one committed statement), while the
** till may have the file open. FN_ERR_PARAMS for NULLs or an INN not of 10
** or 12 characters, FN_ERR_IO, FN_ERR_FAILURE when the file is not an FN.
*/
#define FN_EMU_OFD_KEY_SIZE         32
#define FN_EMU_OPERATOR_SIGN_SIZE   18 /* 1078's length */
#define FN_EMU_OPERATOR_SIGN_PREFIX "KASSA-OFD-ACK-1"
int fn_emu_operator_sign(const uint8_t key[FN_EMU_OFD_KEY_SIZE], const doc_ack_t *a,
                         const uint8_t document_sign[DOC_SIGN_SIZE],
                         uint8_t out[FN_EMU_OPERATOR_SIGN_SIZE]);
int fn_emu_share_ofd_key(const char *path, const char *ofd_inn,
                         const uint8_t key[FN_EMU_OFD_KEY_SIZE]);

#endif
