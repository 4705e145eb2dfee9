/*
** fn_fixture.h: a throw-away fiscal storage for tests, and the pieces every
** test that sells through an FN needs.
**
** Tests of the FN emulator, the outbox, the batch, the delivery client, the
** till, and the drivers the integration scripts run (e2e_till, remote_till,
** the kill-loop writers) all need the same things: an FN-M emulator file in
** a fresh temp directory whose clock the test moves by hand; a registration
** for marked goods; an HMAC key the "key server" handed out; codes with
** genuine crypto tails made with that key; lines for a receipt; a receipt
** sold with its marked lines checked first; an OFD acknowledgement and an
** OISM ticket fed back. They share this instead of each carrying a copy, so
** a test's own lines say only what it proves.
**
** Nothing here asserts: functions return 0 or the FN's error (fiscal/fn.h),
** and the test decides how to fail (cmocka's assert_int_equal, a driver's
** exit status); only the drivers' helpers at the end exit, by design. The
** library links kassa_fiscal only.
*/
#ifndef KASSA_TESTS_FN_FIXTURE_H
#define KASSA_TESTS_FN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"

/* Room for any code fn_fixture_code_44 makes (a ki of up to 64 characters,
** two GS, 91 + a key id, 92 + 44 tail characters) and its NUL. */
#define FN_FIXTURE_CODE_MAX 200

typedef struct fn_fixture {
  char dir[64];             /* the temp directory                     */
  char path[128];           /* dir/fn.db                              */
  uint32_t now;             /* the FN's clock: tests set it directly  */
  fn_emu_options_t options; /* clock = now; reused when reopening     */
  fn_t *fn;
} fn_fixture_t;

/* Create dir /tmp/kassa-TAG-XXXXXX, an unregistered FN numbered fn_number
** in it, and open it with a clock reading fx->now (starting at `now`).
** Returns 0, or -1 with nothing left behind worth keeping. */
int fn_fixture_create(fn_fixture_t *fx, const char *tag, const char *fn_number, uint32_t now);

/* The same with the FN's secret given (32 bytes; NULL: random, as a real
** FN has): for tests that compare output holding a fiscal sign. */
int fn_fixture_create_with_secret(fn_fixture_t *fx, const char *tag, const char *fn_number,
                                  uint32_t now, const uint8_t secret[FN_EMU_SECRET_SIZE]);

/* Close the FN and remove its file, WAL, shared memory and directory
** (NULL-safe). */
void fn_fixture_destroy(fn_fixture_t *fx);

/* fn_fixture_create on the heap (what a cmocka set-up keeps in *state):
** the fixture, or NULL with nothing left behind. */
fn_fixture_t *fn_fixture_new(const char *tag, const char *fn_number, uint32_t now);

/* fn_fixture_destroy, then free (NULL-safe). */
void fn_fixture_free(fn_fixture_t *fx);

/* A cmocka group set-up / tear-down (the signature is cmocka's; state is
** not touched): the crypto library with the GOST engine up, then down.
** Set-up returns 0 or -1. */
int fn_fixture_crypto_setup(void **state);
int fn_fixture_crypto_teardown(void **state);

/* Standard base64 with padding, NUL-terminated; returns the length. `out`
** holds 4 * ceil(n / 3) + 1 bytes. */
size_t fn_fixture_base64(const uint8_t *in, size_t n, char *out);

/*
** The registration a test FN gets unless the test says otherwise: marked
** goods, FFD 1.2 (ffd_version 4), tax system ОСН (1062 = 1), ООО Ромашка,
** ИНН 7700000000, KKT 0000000001012345 (serial 00106700000001), г. Москва,
** ул. Тверская, 1, place Магазин, no cashier; online through ООО Такском
** (ИНН 7704211201), or autonomous (1002) with no OFD. A test whose
** assertions name a field sets that field after this call.
*/
void fn_fixture_registration(fn_registration_t *r, bool autonomous);

/* The HMAC-Streebog-256 key the tests' key server hands out: id `id` (up
** to 4 characters), 32 bytes of material, byte i = i * 7 + 1. */
void fn_fixture_hmac_key(fn_key_t *key, const char *id);

/* Registers fn with r, loads `key` (when not NULL; dated by the FN's
** clock) and opens a shift by `cashier` (when not NULL, "" for none): a
** till ready to sell. Returns 0 or the first FN error. */
int fn_fixture_prepare(fn_t *fn, const fn_registration_t *r, const fn_key_t *key,
                       const char *cashier);

/* fn_fixture_prepare with fn_fixture_registration(autonomous) and the HMAC
** key key_id: the common case. 0 or the first FN error. */
int fn_fixture_register(fn_t *fn, bool autonomous, const char *key_id, const char *cashier);

/* The 31-character identification part of a footwear code: 01, GTIN
** 04600000000017, 21, then a serial of `prefix` (2 characters, keeping
** each test's codes apart) and `serial` in 11 digits. */
void fn_fixture_ki(char ki[32], const char *prefix, unsigned serial);

/* ki GS 91 key_id GS 92 tail, where the tail is a genuine 44-character one
** made with key's material: base64 of HMAC-Streebog-256(ki). key_id is the
** key the code names (key->id, or another to name a key the FN lacks).
** Returns the length, 0 when the HMAC fails; out holds
** FN_FIXTURE_CODE_MAX bytes. */
size_t fn_fixture_code_44(char *out, const char *ki, const char *key_id, const fn_key_t *key);

/* A receipt line of one piece of an unmarked good: name, price (kopecks,
** also the total), VAT 1 (1199), subject 1 (1212), full payment (1214 = 4). */
void fn_fixture_item(doc_item_t *it, const char *name, uint64_t price);

/* The same line of a marked good: subject 33, the code km (NUL-terminated,
** at most DOC_MAX_KM bytes), planned status "piece sold" (2110 = 1). */
void fn_fixture_marked_item(doc_item_t *it, const char *name, uint64_t price, const char *km);

/* The marked line of the footwear code fn_fixture_ki(prefix, serial) with
** a genuine 44-character tail made with key (and naming it). Returns 0, or
** FN_ERR_FAILURE when the HMAC fails. */
int fn_fixture_marked_line(doc_item_t *it, const char *name, uint64_t price, const char *prefix,
                           unsigned serial, const fn_key_t *key);

/*
** Sells the n lines in one receipt (1054 = 1 sale, tax system 1, cashier
** may be NULL), paid in cash: every marked line is first checked with the
** FN, whose verdict on its tail must be FN_TAIL_VALID (else FN_ERR_VALUE,
** no receipt begun), and accepted. The receipt's 1040 goes to *number when
** number is not NULL. Returns 0 or the first FN error.
*/
int fn_fixture_sell(fn_t *fn, const doc_item_t *items, size_t n, const char *cashier,
                    uint32_t *number);

/* The tests' OFD (INN FN_FIXTURE_OFD_INN, the one fn_fixture_registration
** names) and the key it shares with every fixture FN at creation
** (fn_emu_share_ofd_key): byte i = i * 13 + 5. */
#define FN_FIXTURE_OFD_INN "7704211201"
void fn_fixture_ofd_key(uint8_t key[FN_EMU_OFD_KEY_SIZE]);

/* That OFD's acknowledgement (7) of document `number` of FN fn_number,
** answer code 1022 = answer, dated `time`, its 1078 signed with the key
** over the sealed document[0..document_len) (NULL: a document without
** 1077), into buf[0..cap). 0, FN_ERR_FAILURE when the HMAC fails,
** FN_ERR_PARAMS when the 7 cannot be built. */
int fn_fixture_ack_build(const char *fn_number, uint32_t number, uint32_t time, uint8_t answer,
                         const uint8_t *document, size_t document_len, uint8_t *buf, size_t cap,
                         size_t *len);

/* The same for the FN's own document `number` (read back from fn), fed to
** fn_document_ack: its result (FN_ERR_PARAMS when the 7 cannot be built). */
int fn_fixture_ack(fn_t *fn, const char *fn_number, uint32_t number, uint32_t time, uint8_t answer);

/* The OISM's ticket (84) for notification `number`, 2111 = result, fed to
** fn_notification_ticket: its result (FN_ERR_PARAMS when the 84 cannot be
** built). */
int fn_fixture_ticket(fn_t *fn, uint32_t number, uint8_t result);

/* ---- for the drivers the integration scripts run ----------------------- */

/* Names the program in fn_fixture_fail's messages ("test" until called). */
void fn_fixture_driver(const char *name);

/* Ends fn_fixture_fail's messages with " (WHAT kept in DIR)": where a failed
** run left its files for a look (dir is read at the failure). */
void fn_fixture_kept(const char *what, const char *dir);

/* Prints "NAME: message" on stderr and exits 1: a driver's one way out
** when a step does not go as a real till needs it to. */
_Noreturn void fn_fixture_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Fails with "what: FN name (English message)" unless rc is 0. */
void fn_fixture_must(int rc, const char *what);

/* Opens DIR/fn.db with the system clock (which KASSA_FAKE_NOW moves);
** fails when it cannot. */
fn_t *fn_fixture_open_dir(const char *dir);

/* One code as `kassa-operator issue` prints it (\x1d or \x1D for GS, \\
** for a backslash; the line ends at NUL, CR or LF) into km. Returns the
** length (0 for an empty line); fails when the code is longer than
** DOC_MAX_KM. */
size_t fn_fixture_unescape(const char *line, char km[DOC_MAX_KM + 1]);

/* Writes km with every GS as \x1d (what fn_fixture_unescape reads). */
void fn_fixture_print_escaped(FILE *out, const char *km);

#endif
