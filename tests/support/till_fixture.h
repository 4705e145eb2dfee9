/*
** till_fixture.h: a throw-away till for tests: a registered FN-M emulator
** with an open shift, a code cache and a basket in a fresh temp directory,
** with every clock in the test's hand.
**
** test_till (checkout, returns, crash repair) and test_print (the printed
** receipt compared byte for byte) both need the same register: the same
** user, address, KKT and OFD, the HMAC key "0001" the FN checks 44-character
** tails with, and [till] check = offline so that every decision is the
** till's own. A test that compares output holding a fiscal sign passes a
** fixed FN secret; others pass NULL and get a random one, as a real FN has.
*/
#ifndef KASSA_TESTS_TILL_FIXTURE_H
#define KASSA_TESTS_TILL_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "pos/till/config.h"
#include "pos/till/till.h"
#include "tests/support/fn_fixture.h"

#define TILL_FIXTURE_FN_NUMBER "9999078900012345"
#define TILL_FIXTURE_T0        1793000000u /* 2026-10-27, FFD local time */

typedef struct till_fixture {
  fn_fixture_t fx;    /* dir, path, the FN's clock fx.now (fx.fn is NULL: the till owns the FN) */
  kassa_config_t cfg; /* data_dir = fx.dir, check = offline */
  till_t *till;
} till_fixture_t;

/*
** Makes dir /tmp/kassa-TAG-XXXXXX with an FN numbered
** TILL_FIXTURE_FN_NUMBER (secret: the given 32 bytes, or random when
** NULL), registered for marked goods (ООО Ромашка, ИНН 7700000000, KKT
** 0000000001012345), holding key "0001" (till_fixture_key), its shift
** opened by Иванова at TILL_FIXTURE_T0; then opens the till on it. Returns
** 0, or -1 with the reason on stderr (call till_fixture_destroy anyway).
*/
int till_fixture_create(till_fixture_t *f, const char *tag,
                        const uint8_t secret[FN_EMU_SECRET_SIZE]);

/* Opens f->till (again, after a till_close: what a restart does). The
** till's wall clock and the FN's clock both read f->fx.now. 0 or -1 (reason
** on stderr). */
int till_fixture_open(till_fixture_t *f);

/* Closes the till and removes every file and the directory (NULL-safe). */
void till_fixture_destroy(till_fixture_t *f);

/* A fixture on the heap, made by till_fixture_create (random secret), for a
** cmocka setup's *state; NULL (reason on stderr) when it could not be made.
** till_fixture_free destroys and frees it (NULL-safe). */
till_fixture_t *till_fixture_new(const char *tag);
void till_fixture_free(till_fixture_t *f);

/* till_fixture_new with a two-product shop in the catalogue: marked
** footwear "Кроссовки" at 4 990.00 (the GTIN-14 of 0460000000101 into shoes) and
** plain bread "Хлеб" at 45.00 (of 0460000000202 into bread). NULL when it
** could not be made (reason on stderr). */
till_fixture_t *till_fixture_shop(const char *tag, char shoes[15], char bread[15]);

/* The FN's HMAC key "0001" (material i * 7 + 1). */
void till_fixture_key(fn_key_t *key);

/* A catalogue entry: VAT 20 %, marking required when group is not "",
** excise for "tobacco". 0 or -1. */
int till_fixture_product(till_fixture_t *f, const char *gtin, const char *name, uint64_t price,
                         const char *group, bool strict, bool weighed);

/* GTIN-14 from 13 digits and the computed check digit. */
void till_fixture_gtin14(const char *thirteen, char out[15]);

/* ki + GS 91 0001 GS 92 + a genuine 44-character tail (HMAC-Streebog of ki
** with key 0001, base64), one tail character changed when spoil. Returns
** the length; out holds 200 bytes. */
size_t till_fixture_genuine_code(char *out, const char *ki, bool spoil);

#endif
