/*
** ofd/emulator/admin.h: the kassa-operator subcommands (fn add, keys new,
** issue, block, status) and the helpers the server shares with them.
*/
#ifndef KASSA_OFD_EMULATOR_ADMIN_H
#define KASSA_OFD_EMULATOR_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ofd/emulator/store.h"

/* Runs the subcommand argv[0] (argv[0] is "fn", "keys", "issue", "block",
** "price" or "status") against s. Returns the process exit code: 0 done, 1 the
** operation failed, 2 usage. */
int admin_run(store_t *s, int argc, char **argv);

/* True when argv0 names a subcommand. */
int admin_is_command(const char *argv0);

/* The identification part (KI) of a GS1 code: 01 GTIN 21 serial, everything
** before the first GS. 0 when the code is not such a code (ki = ""). */
int admin_ki(const char *km, size_t km_len, char *ki, size_t cap);

/*
** Recomputes the verification part of km with the operator's own keys and
** says whether the code carries it: a 44-character 92 must equal
** base64(HMAC-Streebog-256(key 91, KI)), an 88-character 92 must verify as
** key 91's GOST R 34.10-2012 signature of the KI, a 93 must equal the first
** four base64 characters of Streebog-256(KI). *ok is false for a code with
** no tail, an unknown key id or a tail that differs. Returns 0, or -1 when
** the store or the crypto library failed.
*/
int admin_tail_verify(store_t *s, const char *km, size_t km_len, bool *ok);

/*
** The key the OFD shares with one FN to sign its acknowledgements (1078,
** fn_emu_operator_sign): HMAC-Streebog-256(the operator's own secret,
** "KASSA-OFD-KEY-1" with its NUL || the 16-character FN number). Derived,
** not stored: the operator's secret is durable in its store, so the key an
** FN got at `fn add` is the one the server signs with after any restart;
** each FN's key differs, so one FN's key forges nothing for another.
** Returns 0, or -1 when the crypto library fails.
*/
#define ADMIN_OFD_KEY_SIZE 32
#define ADMIN_DEFAULT_INN  "7704211201" /* the OFD's INN unless --inn says */
int admin_ofd_key(const uint8_t operator_secret[STORE_SECRET_LEN], const char fn_number[17],
                  uint8_t key[ADMIN_OFD_KEY_SIZE]);

#endif
