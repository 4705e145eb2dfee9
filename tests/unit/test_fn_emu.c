/*
** tests/unit/test_fn_emu.c: the FN-M emulator (fiscal/fn_emu.h) through the
** FN interface (fiscal/fn.h).
**
** Every test gets a fresh directory with a real SQLite FN file and an
** injected clock it moves by hand: that is how the 24-hour, 30-day and
** 90-day rules are reached in milliseconds. Tails are made the way the
** operator makes them: a GOST R 34.10-2012 key pair generated here signs
** the identification part for 88-character tails, an HMAC-Streebog-256 key
** makes 44-character ones, and the FN gets only the public key and the HMAC
** key through a key update. Fiscal signs are checked with the secret read
** back from the file, as the operator emulator will.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "tests/support/fn_fixture.h"
#include "fiscal/tlv.h"

#define FN_NUMBER "9999078900001234"
#define OFD_INN   "7704211201"
#define T0        1700000000u /* 2023-11-14 22:13:20 */
#define HOUR      3600u
#define DAY       86400u
#define GS        "\x1d"

/* Keys the "operator" made; the FN gets them through fn_key_update(). */
static crypto_key_t *gost_key;
static fn_key_t key_gost; /* id "TG01": GOST public key, 88-char tails */
static fn_key_t key_hmac; /* id "TH01": HMAC key, 44-char tails */

/* The FN under test, its temp file and its hand-moved clock. */
typedef fn_fixture_t fixture_t;

/* ---------------------------------------------------------------------- */
/* Set-up                                                                  */

static int group_setup(void **state)
{
  (void)state;
  uint8_t der[256];
  size_t len = 0;
  if (crypto_init() != 0) return -1;
  if (crypto_key_generate(&gost_key) != 0) return -1;
  if (crypto_key_export(gost_key, CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, der, sizeof der, &len) != 0)
    return -1;
  memset(&key_gost, 0, sizeof key_gost);
  memcpy(key_gost.id, "TG01", 5);
  key_gost.kind = FN_KEY_GOST;
  key_gost.len = len;
  memcpy(key_gost.material, der, len);
  fn_fixture_hmac_key(&key_hmac, "TH01");
  return 0;
}

static int group_teardown(void **state)
{
  (void)state;
  crypto_key_free(gost_key);
  crypto_shutdown();
  return 0;
}

static void open_fn(fixture_t *f)
{
  assert_int_equal(fn_emu_open(f->path, &f->options, &f->fn), 0);
  assert_non_null(f->fn);
}

static void reopen(fixture_t *f)
{
  fn_free(f->fn);
  f->fn = NULL;
  open_fn(f);
}

static int setup(void **state)
{
  *state = fn_fixture_new("fn", FN_NUMBER, T0);
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  fn_fixture_free(*state);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Helpers: registration, items, codes                                     */

/* The shared registration (tests/support/fn_fixture.h), by Иванова, with
** two tax systems so that a receipt can name one the FN was not given. */
static void registration_fill(fn_registration_t *r, bool autonomous)
{
  fn_fixture_registration(r, autonomous);
  strcpy(r->header.cashier, "Иванова");
  r->reg.tax_systems = 0x01 | 0x04; /* ОСН and УСН доход-расход */
}

static void do_register(fixture_t *f, bool autonomous)
{
  fn_registration_t r;
  fn_doc_result_t res;
  registration_fill(&r, autonomous);
  assert_int_equal(fn_register(f->fn, &r, false, &res), 0);
  assert_int_equal(res.number, 1);
}

/* Registered, keys loaded, a shift open. */
static void ready_to_sell(fixture_t *f, bool autonomous)
{
  do_register(f, autonomous);
  fn_key_t keys[2] = {key_gost, key_hmac};
  assert_int_equal(fn_key_update(f->fn, keys, 2, f->now), 0);
  assert_int_equal(fn_shift_open(f->fn, "Иванова", NULL), 0);
}

static doc_item_t plain_item(const char *name, uint64_t price)
{
  doc_item_t it;
  fn_fixture_item(&it, name, price);
  return it;
}

static doc_item_t marked_item(const char *km, size_t km_len, uint64_t price)
{
  doc_item_t it;
  assert_int_equal(strlen(km), km_len);
  fn_fixture_marked_item(&it, "Кроссовки", price, km);
  it.km_type = 0; /* the FN decides */
  it.product_tag = 1305;
  snprintf(it.product_value, sizeof it.product_value, "%.*s", (int)(km_len < 31 ? km_len : 31), km);
  return it;
}

/* The identification part: 01 + GTIN + 21 + a 13-character serial. */
static void make_ki(char ki[32], unsigned serial) { fn_fixture_ki(ki, "Sx", serial); }

/* A footwear-style code with a genuine 88-character tail. */
static size_t code_88(char *out, const char *ki, const char *key_id)
{
  uint8_t sig[CRYPTO_SIGNATURE_SIZE];
  char tail[96];
  assert_int_equal(crypto_sign(gost_key, (const uint8_t *)ki, strlen(ki), sig), 0);
  assert_int_equal(fn_fixture_base64(sig, sizeof sig, tail), 88);
  return (size_t)sprintf(out, "%s" GS "91%s" GS "92%s", ki, key_id, tail);
}

/* A code with a genuine 44-character tail. */
static size_t code_44(char *out, const char *ki, const char *key_id)
{
  size_t n = fn_fixture_code_44(out, ki, key_id, &key_hmac);
  assert_int_equal(n, strlen(ki) + strlen(GS "91") + strlen(key_id) + strlen(GS "92") + 44);
  return n;
}

/* A dairy-style code with a 93 short tail and a weight after it. */
static size_t code_93(char *out, const char *ki)
{
  return (size_t)sprintf(out, "%s" GS "93dGVz" GS "3103000500", ki);
}

static void check_accept(fixture_t *f, const doc_item_t *it, fn_km_check_t *res)
{
  fn_km_check_t local;
  if (!res) res = &local;
  assert_int_equal(fn_km_check(f->fn, it, res), 0);
  assert_int_equal(fn_km_accept(f->fn, it->km, it->km_len, true), 0);
}

/* A one-line receipt paid in cash; returns its document number. */
static uint32_t sell_plain(fixture_t *f, uint8_t operation, uint64_t price)
{
  fn_doc_result_t res;
  doc_item_t it = plain_item("Хлеб", price);
  assert_int_equal(fn_receipt_begin(f->fn, operation, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, price, 0, false, &res), 0);
  return res.number;
}

/* A receipt with one marked line (code from a serial); returns its number. */
static uint32_t sell_marked(fixture_t *f, unsigned serial)
{
  char ki[32], km[300];
  fn_doc_result_t res;
  make_ki(ki, serial);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = marked_item(km, n, 5000);
  check_accept(f, &it, NULL);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, 0, 5000, false, &res), 0);
  return res.number;
}

static void status_of(fixture_t *f, fn_status_t *s) { assert_int_equal(fn_status(f->fn, s), 0); }

static void ack(fixture_t *f, uint32_t number, uint8_t answer, const char *fn_number, int expect)
{
  assert_int_equal(fn_fixture_ack(f->fn, fn_number, number, f->now, answer), expect);
}

static void ticket(fixture_t *f, uint32_t number, uint8_t result, int expect)
{
  assert_int_equal(fn_fixture_ticket(f->fn, number, result), expect);
}

/* Counts occurrences of a tag anywhere in a TLV list (entering STLVs the
** dictionary knows); ORs the one-byte values of that tag into *bits_or. */
static unsigned count_tag(const uint8_t *data, size_t len, uint16_t tag, unsigned *bits_or)
{
  tlv_reader_t r;
  tlv_item_t it;
  unsigned n = 0;
  tlv_reader_init(&r, data, len);
  while (tlv_reader_next(&r, &it) == 0) {
    if (it.tag == tag) {
      n++;
      if (bits_or && it.length == 1) *bits_or |= it.value[0];
    }
    const tlv_tag_info_t *info = tlv_tag_lookup(it.tag);
    if (info && info->type == TLV_TYPE_STLV) n += count_tag(it.value, it.length, tag, bits_or);
  }
  return n;
}

/* ---------------------------------------------------------------------- */
/* Creation and files                                                      */

static void test_create_and_open(void **state)
{
  fixture_t *f = *state;
  struct stat st;
  fn_t *other = (fn_t *)(uintptr_t)1;
  char path[160];

  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(fn_emu_create(f->path, FN_NUMBER), FN_ERR_STATE);
  snprintf(path, sizeof path, "%s/bad.db", f->dir);
  assert_int_equal(fn_emu_create(path, "12345"), FN_ERR_PARAMS);
  assert_int_equal(fn_emu_create(path, "99990789000012X4"), FN_ERR_PARAMS);
  assert_int_equal(access(path, F_OK), -1); /* nothing left behind */
  assert_int_equal(fn_emu_open(path, NULL, &other), FN_ERR_IO);
  assert_null(other);

  fn_status_t s;
  status_of(f, &s);
  assert_int_equal(s.phase, FN_PHASE_READY);
  assert_string_equal(s.fn_number, FN_NUMBER);
  assert_int_equal(s.last_document, 0);
  assert_int_equal(s.now, T0);
  assert_int_equal(s.checked_km_capacity, FN_EMU_DEFAULT_KM_CAPACITY);

  uint8_t secret[FN_EMU_SECRET_SIZE], zero[FN_EMU_SECRET_SIZE] = {0};
  char number[17];
  assert_int_equal(fn_emu_read_secret(f->path, secret, number), 0);
  assert_string_equal(number, FN_NUMBER);
  assert_memory_not_equal(secret, zero, sizeof secret);

  /* The file is WAL, its companions are private too, and the secret reads
  ** the same with the FN closed. */
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  sqlite3_close(db);
  snprintf(path, sizeof path, "%s-wal", f->path);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  uint8_t again[FN_EMU_SECRET_SIZE];
  fn_free(f->fn);
  f->fn = NULL;
  assert_int_equal(fn_emu_read_secret(f->path, again, number), 0);
  assert_memory_equal(secret, again, sizeof secret);
  open_fn(f);

  /* The real clock is local time written as if it were UTC. */
  time_t now = time(NULL);
  struct tm local;
  assert_non_null(localtime_r(&now, &local));
  long long expected = (long long)now + local.tm_gmtoff;
  long long clock_now = (long long)fn_emu_system_clock(NULL);
  assert_true(clock_now >= expected && clock_now <= expected + 2);

  /* A file that is not an FN is refused. */
  snprintf(path, sizeof path, "%s/other.db", f->dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  other = (fn_t *)(uintptr_t)1;
  assert_int_equal(fn_emu_open(path, NULL, &other), FN_ERR_FAILURE);
  assert_null(other);
  unlink(path);
}

/* ---------------------------------------------------------------------- */
/* Lifecycle and state                                                     */

static void test_lifecycle(void **state)
{
  fixture_t *f = *state;
  fn_doc_result_t res;
  fn_registration_t r;
  fn_status_t s;
  fn_document_t *d = malloc(sizeof *d);
  doc_summary_t sum;
  doc_item_t it = plain_item("Хлеб", 100);
  assert_non_null(d);

  /* Not registered: nothing but registration. */
  assert_int_equal(fn_shift_open(f->fn, "", NULL), FN_ERR_STATE);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_STATE);
  assert_int_equal(fn_state_report(f->fn, NULL), FN_ERR_STATE);
  assert_int_equal(fn_close_archive(f->fn, NULL), FN_ERR_STATE);
  registration_fill(&r, false);
  assert_int_equal(fn_register(f->fn, &r, true, NULL), FN_ERR_STATE); /* re before first */

  do_register(f, false);
  assert_int_equal(fn_register(f->fn, &r, false, NULL), FN_ERR_STATE); /* twice */
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_STATE);   /* no shift */
  f->now += 60;
  assert_int_equal(fn_shift_open(f->fn, "Иванова", &res), 0);
  assert_int_equal(res.number, 2);
  assert_int_equal(res.shift_number, 1);
  assert_int_equal(fn_shift_open(f->fn, "Иванова", NULL), FN_ERR_STATE); /* twice */
  assert_int_equal(fn_register(f->fn, &r, true, NULL), FN_ERR_STATE);    /* re in a shift */

  /* One receipt of each operation, and a correction. */
  for (uint8_t op = 1; op <= 4; op++) {
    f->now += 60;
    assert_int_equal(sell_plain(f, op, 100u * op), 2u + op);
  }
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_STATE); /* one at a time */
  assert_int_equal(fn_shift_close(f->fn, "", NULL), FN_ERR_STATE);   /* receipt open */
  assert_int_equal(fn_state_report(f->fn, NULL), FN_ERR_STATE);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, true, &res), 0);
  assert_int_equal(res.number, 7);
  assert_int_equal(res.receipt_number, 5);
  assert_int_equal(fn_receipt_cancel(f->fn), FN_ERR_STATE); /* nothing open */

  assert_int_equal(fn_state_report(f->fn, &res), 0);
  assert_int_equal(res.number, 8);
  assert_int_equal(fn_close_archive(f->fn, NULL), FN_ERR_STATE); /* shift open */
  assert_int_equal(fn_shift_close(f->fn, "Иванова", &res), 0);
  assert_int_equal(res.number, 9);
  assert_int_equal(fn_shift_close(f->fn, "Иванова", NULL), FN_ERR_STATE);
  assert_int_equal(fn_register(f->fn, &r, true, &res), 0); /* re-registration between shifts */
  assert_int_equal(res.number, 10);
  assert_int_equal(fn_state_report(f->fn, &res), 0);
  assert_int_equal(res.number, 11);
  assert_int_equal(fn_close_archive(f->fn, &res), 0);
  assert_int_equal(res.number, 12);

  /* Closed: the archive is read-only; every new document is 0x02. */
  status_of(f, &s);
  assert_int_equal(s.phase, FN_PHASE_POST);
  assert_int_equal(fn_register(f->fn, &r, false, NULL), FN_ERR_STATE);
  assert_int_equal(fn_register(f->fn, &r, true, NULL), FN_ERR_STATE);
  assert_int_equal(fn_shift_open(f->fn, "", NULL), FN_ERR_STATE);
  assert_int_equal(fn_shift_close(f->fn, "", NULL), FN_ERR_STATE);
  assert_int_equal(fn_state_report(f->fn, NULL), FN_ERR_STATE);
  assert_int_equal(fn_close_archive(f->fn, NULL), FN_ERR_STATE);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_STATE);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_STATE);
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, false, NULL), FN_ERR_STATE);
  fn_km_check_t kc;
  char ki[32], km[300];
  make_ki(ki, 1);
  size_t n = code_93(km, ki);
  doc_item_t m = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &m, &kc), FN_ERR_STATE);
  assert_int_equal(fn_key_update(f->fn, &key_hmac, 1, f->now), FN_ERR_STATE);

  /* The archive: forms in order. */
  static const uint16_t forms[] = {1, 2, 3, 3, 3, 3, 31, 21, 5, 11, 21, 6};
  for (uint32_t i = 1; i <= 12; i++) {
    assert_int_equal(fn_document_get(f->fn, i, d), 0);
    assert_int_equal(d->number, i);
    assert_int_equal(d->type, forms[i - 1]);
    assert_int_equal(doc_summarize(d->data, d->len, &sum), 0);
    assert_int_equal(sum.type, forms[i - 1]);
    assert_int_equal(sum.number, i);
    assert_true(sum.has_sign);
  }
  assert_int_equal(fn_document_get(f->fn, 13, d), FN_ERR_NO_DATA);
  free(d);
}

static void test_counters_and_numbering(void **state)
{
  fixture_t *f = *state;
  fn_status_t s;
  fn_doc_result_t res;
  fn_document_t *d = malloc(sizeof *d);
  doc_summary_t sum;
  assert_non_null(d);

  ready_to_sell(f, false);
  for (unsigned i = 1; i <= 3; i++) {
    f->now += 10;
    doc_item_t it = plain_item("Молоко", 8990);
    assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x04, "Петров"), 0);
    assert_int_equal(fn_receipt_add(f->fn, &it), 0);
    assert_int_equal(fn_receipt_add(f->fn, &it), 0);
    assert_int_equal(fn_receipt_close(f->fn, 10000, 7980, false, &res), 0);
    assert_int_equal(res.number, 2 + i);
    assert_int_equal(res.receipt_number, i);
    assert_int_equal(res.shift_number, 1);
    assert_int_equal(res.time, f->now);
    assert_int_equal(res.fiscal_sign, doc_fiscal_sign_printed(res.sign));
    assert_int_equal(fn_document_get(f->fn, res.number, d), 0);
    assert_int_equal(doc_summarize(d->data, d->len, &sum), 0);
    assert_int_equal(sum.total, 17980);
    assert_int_equal(sum.shift_number, 1);
    assert_memory_equal(sum.sign, res.sign, 6);
  }
  assert_int_equal(sell_plain(f, DOC_OP_SALE_RETURN, 500), 6);
  status_of(f, &s);
  assert_int_equal(s.last_document, 6);
  assert_int_equal(s.last_time, f->now);
  assert_int_equal(s.receipts_in_shift, 4);
  assert_int_equal(s.shift_totals.receipts[DOC_OP_SALE], 3);
  assert_int_equal(s.shift_totals.amount[DOC_OP_SALE], 3 * 17980);
  assert_int_equal(s.shift_totals.receipts[DOC_OP_SALE_RETURN], 1);
  assert_int_equal(s.shift_totals.amount[DOC_OP_SALE_RETURN], 500);

  /* A new shift: its number goes up, the receipt number starts again,
  ** shift totals reset, the FN's totals do not. */
  assert_int_equal(fn_shift_close(f->fn, "", &res), 0);
  assert_int_equal(res.number, 7);
  assert_int_equal(fn_shift_open(f->fn, "", &res), 0);
  assert_int_equal(res.shift_number, 2);
  assert_int_equal(sell_plain(f, DOC_OP_SALE, 100), 9);
  assert_int_equal(fn_document_get(f->fn, 9, d), 0);
  assert_int_equal(count_tag(d->data, d->len, 1042, NULL), 1);
  status_of(f, &s);
  assert_int_equal(s.receipts_in_shift, 1);
  assert_int_equal(s.shift_number, 2);
  assert_int_equal(s.shift_totals.receipts[DOC_OP_SALE], 1);
  assert_int_equal(s.shift_totals.amount[DOC_OP_SALE], 100);
  assert_int_equal(s.fn_totals.receipts[DOC_OP_SALE], 4);
  assert_int_equal(s.fn_totals.amount[DOC_OP_SALE], 3 * 17980 + 100);

  /* Payments must add up to the lines; no lines, no receipt. */
  doc_item_t it = plain_item("Хлеб", 4500);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, ""), 0);
  assert_int_equal(fn_receipt_close(f->fn, 0, 0, false, NULL), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, 4000, 0, false, NULL), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_close(f->fn, 5000, 0, false, NULL), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_close(f->fn, 4000, 500, false, &res), 0);
  assert_int_equal(res.number, 10);
  /* A tax system not registered, or two at once. */
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x02, ""), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x05, ""), FN_ERR_VALUE);
  /* A line the format refuses is refused when added, not at closing. */
  it = plain_item("Евро €", 100);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_VALUE);
  status_of(f, &s);
  assert_true(s.receipt_open);
  assert_int_equal(s.receipt_items, 0);
  assert_int_equal(fn_receipt_cancel(f->fn), 0);
  status_of(f, &s);
  assert_false(s.receipt_open);
  assert_int_equal(s.last_document, 10);
  free(d);
}

/*
** Reports and corrections: the counters of 1194 and 1157 in a state report
** (21) and a shift close (5), added up from what was sold, and a
** correction receipt by order (1173 = 1, 1174 {1178, 1179}). Expected
** values by hand:
**   sale 1: 4999.00 at 22 % + 89.90 at 10 %, cash 88.90 + card 5000.00;
**           VAT 22 %: 499900 * 22 / 122 = 90145.90 -> 90146;
**           VAT 10 %: 8990 * 10 / 110 = 817.27 -> 817
**   sale 2: 45.00 without VAT, cash (1105 = 4500)
**   return: 4999.00 at 22 %, card (VAT 90146)
**   correction by order: sale of 100.00 at 22 %, cash (VAT 1803.28 -> 1803)
*/
static void add_line(fixture_t *f, const char *name, uint64_t price, uint8_t vat)
{
  doc_item_t it = plain_item(name, price);
  it.vat = vat;
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
}

static void expect_op(const doc_op_totals_t *o, uint32_t count, uint64_t total, uint64_t cash,
                      uint64_t cashless)
{
  assert_int_equal(o->count, count);
  assert_int_equal(o->total, total);
  assert_int_equal(o->cash, cash);
  assert_int_equal(o->cashless, cashless);
}

static void expect_day(const doc_totals_t *t)
{
  expect_op(&t->receipts[DOC_OP_SALE], 2, 508890 + 4500, 8890 + 4500, 500000);
  assert_int_equal(t->receipts[DOC_OP_SALE].vat_present, (1u << 11) | (1u << 2) | (1u << 6));
  assert_int_equal(t->receipts[DOC_OP_SALE].vat[11], 90146);
  assert_int_equal(t->receipts[DOC_OP_SALE].vat[2], 817);
  assert_int_equal(t->receipts[DOC_OP_SALE].vat[6], 4500);
  expect_op(&t->receipts[DOC_OP_SALE_RETURN], 1, 499900, 0, 499900);
  assert_int_equal(t->receipts[DOC_OP_SALE_RETURN].vat[11], 90146);
  expect_op(&t->receipts[DOC_OP_PURCHASE], 0, 0, 0, 0);
  assert_int_equal(t->corrections[DOC_OP_SALE].count, 1);
  assert_int_equal(t->corrections[DOC_OP_SALE].total, 10000);
}

static void test_reports_and_corrections(void **state)
{
  fixture_t *f = *state;
  fn_doc_result_t res, x, z;
  fn_document_t *d = malloc(sizeof *d);
  doc_totals_t t;
  assert_non_null(d);
  ready_to_sell(f, false);

  f->now += 60;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  add_line(f, "Кроссовки", 499900, 11);
  add_line(f, "Молоко", 8990, 2);
  assert_int_equal(fn_receipt_close(f->fn, 8890, 500000, false, NULL), 0);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  add_line(f, "Хлеб", 4500, 6);
  assert_int_equal(fn_receipt_close(f->fn, 4500, 0, false, NULL), 0);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE_RETURN, 0x01, "Иванова"), 0);
  add_line(f, "Кроссовки", 499900, 11);
  assert_int_equal(fn_receipt_close(f->fn, 0, 499900, false, NULL), 0);

  /* A correction by order: its rules, then the document. */
  fn_correction_t c = {.type = 1, .date = T0 - DAY, .order_number = "12-34/5"};
  fn_correction_t bad = c;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  add_line(f, "Кроссовки", 10000, 11);
  bad.order_number[0] = '\0'; /* by order without the order */
  assert_int_equal(fn_correction_close(f->fn, 10000, 0, &bad, NULL), FN_ERR_VALUE);
  bad = c;
  bad.type = 0; /* own initiative with an order number */
  assert_int_equal(fn_correction_close(f->fn, 10000, 0, &bad, NULL), FN_ERR_VALUE);
  bad = c;
  bad.date = f->now + DAY; /* a settlement in the future */
  assert_int_equal(fn_correction_close(f->fn, 10000, 0, &bad, NULL), FN_ERR_VALUE);
  bad = c;
  bad.type = 2;
  assert_int_equal(fn_correction_close(f->fn, 10000, 0, &bad, NULL), FN_ERR_VALUE);
  assert_int_equal(fn_correction_close(f->fn, 10000, 0, &c, &res), 0);
  assert_int_equal(fn_document_get(f->fn, res.number, d), 0);
  assert_int_equal(d->type, DOC_CORRECTION);
  {
    tlv_reader_t top, body, basis;
    tlv_item_t outer, it;
    uint8_t type = 9;
    uint32_t date = 0;
    bool seen_1173 = false, seen_1174 = false;
    tlv_reader_init(&top, d->data, d->len);
    assert_int_equal(tlv_reader_next(&top, &outer), 0);
    assert_int_equal(tlv_reader_enter(&outer, &body), 0);
    while (tlv_reader_next(&body, &it) == 0) {
      if (it.tag == 1173) {
        seen_1173 = true;
        assert_int_equal(tlv_get_byte(&it, &type), 0);
      }
      if (it.tag != 1174) continue;
      seen_1174 = true;
      assert_int_equal(tlv_reader_enter(&it, &basis), 0);
      assert_int_equal(tlv_reader_next(&basis, &it), 0);
      assert_int_equal(it.tag, 1178);
      assert_int_equal(tlv_get_unixtime(&it, &date), 0);
      assert_int_equal(tlv_reader_next(&basis, &it), 0);
      assert_int_equal(it.tag, 1179);
      assert_int_equal(it.length, 7);
      assert_memory_equal(it.value, "12-34/5", 7);
    }
    assert_true(seen_1173 && seen_1174);
    assert_int_equal(type, 1);
    assert_int_equal(date, T0 - DAY);
    /* 100.00 at 22 %: 1803. */
    static doc_receipt_t r;
    doc_header_t h;
    uint64_t total = 0;
    uint8_t sign[6];
    assert_int_equal(doc_parse_receipt(d->data, d->len, &h, &r, &total, sign), 0);
    assert_int_equal(r.vat_sums[11], 1803);
  }

  /* X: the state report inside the shift carries 1194 and 1157. */
  assert_int_equal(fn_totals(f->fn, true, &t), 0);
  expect_day(&t);
  assert_int_equal(fn_state_report(f->fn, &x), 0);
  assert_int_equal(fn_document_get(f->fn, x.number, d), 0);
  assert_int_equal(count_tag(d->data, d->len, 1194, NULL), 1);
  assert_int_equal(count_tag(d->data, d->len, 1157, NULL), 1);
  memset(&t, 0xAA, sizeof t);
  assert_int_equal(doc_parse_totals(d->data, d->len, 1194, &t), 0);
  expect_day(&t);
  assert_int_equal(doc_parse_totals(d->data, d->len, 1157, &t), 0);
  expect_day(&t);
  {
    /* 1134: every receipt and correction, 4. */
    tlv_reader_t top, body, inner;
    tlv_item_t outer, it;
    uint32_t all = 0;
    tlv_reader_init(&top, d->data, d->len);
    assert_int_equal(tlv_reader_next(&top, &outer), 0);
    assert_int_equal(tlv_reader_enter(&outer, &body), 0);
    while (tlv_reader_next(&body, &it) == 0 && it.tag != 1194) {}
    assert_int_equal(it.tag, 1194);
    assert_int_equal(tlv_reader_enter(&it, &inner), 0);
    assert_int_equal(tlv_reader_next(&inner, &it), 0);
    assert_int_equal(it.tag, 1134);
    assert_int_equal(tlv_get_uint32(&it, &all), 0);
    assert_int_equal(all, 4);
  }

  /* Z: the shift close carries the same; a new shift starts from 0, the
  ** FN's totals go on. */
  assert_int_equal(fn_shift_close(f->fn, "Иванова", &z), 0);
  assert_int_equal(fn_document_get(f->fn, z.number, d), 0);
  assert_int_equal(doc_parse_totals(d->data, d->len, 1194, &t), 0);
  expect_day(&t);
  assert_int_equal(fn_totals(f->fn, true, &t), 0);
  expect_op(&t.receipts[DOC_OP_SALE], 0, 0, 0, 0);
  assert_int_equal(fn_shift_open(f->fn, "Иванова", NULL), 0);
  assert_int_equal(sell_plain(f, DOC_OP_SALE, 100), z.number + 2);
  assert_int_equal(fn_totals(f->fn, true, &t), 0);
  expect_op(&t.receipts[DOC_OP_SALE], 1, 100, 100, 0);
  assert_int_equal(fn_totals(f->fn, false, &t), 0);
  expect_op(&t.receipts[DOC_OP_SALE], 3, 508890 + 4500 + 100, 8890 + 4500 + 100, 500000);
  /* A 21 outside a shift has 1157 only. */
  assert_int_equal(fn_shift_close(f->fn, "", NULL), 0);
  assert_int_equal(fn_state_report(f->fn, &x), 0);
  assert_int_equal(fn_document_get(f->fn, x.number, d), 0);
  assert_int_equal(doc_parse_totals(d->data, d->len, 1194, &t), DOC_ERR_MISSING);
  assert_int_equal(doc_parse_totals(d->data, d->len, 1157, &t), 0);
  assert_int_equal(t.receipts[DOC_OP_SALE].count, 3);
  free(d);
}

/*
** A prepayment and its final settlement, a sale on credit and the credit's
** payment, through the FN: the forms land in 1215/1216, the FN's rules
** refuse what the format forbids (nothing changes then), and the shift's
** totals carry 1218/1219 (prepaid 100.00, credit 60.00).
*/
static void test_prepayment_and_credit(void **state)
{
  fixture_t *f = *state;
  fn_doc_result_t res;
  fn_document_t *d = malloc(sizeof *d);
  static doc_receipt_t r;
  doc_header_t h;
  doc_totals_t t;
  uint64_t total;
  uint8_t sign[6];
  assert_non_null(d);
  ready_to_sell(f, false);
  doc_item_t it = plain_item("Диван", 10000);

  /* The prepayment: 100 %, in cash. */
  it.payment_method = DOC_PAY_PREPAYMENT_FULL;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  fn_payments_t bad = {.prepaid = 10000};
  assert_int_equal(fn_receipt_close_paid(f->fn, &bad, NULL, NULL), FN_ERR_VALUE);
  fn_payments_t cash = {.cash = 10000};
  assert_int_equal(fn_receipt_close_paid(f->fn, &cash, NULL, &res), 0);

  /* The settlement when the sofa is handed over: offset by the prepayment. */
  it.payment_method = DOC_PAY_FULL;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  fn_payments_t offset = {.prepaid = 10000};
  assert_int_equal(fn_receipt_close_paid(f->fn, &offset, NULL, &res), 0);
  assert_int_equal(fn_document_get(f->fn, res.number, d), 0);
  assert_int_equal(doc_parse_receipt(d->data, d->len, &h, &r, &total, sign), 0);
  assert_int_equal(r.prepaid, 10000);
  assert_int_equal(r.cash, 0);
  assert_int_equal(r.items[0].payment_method, DOC_PAY_FULL);

  /* Partly on credit, then the credit paid. */
  it.payment_method = DOC_PAY_PARTIAL_CREDIT;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  fn_payments_t part = {.cashless = 4000, .credit = 6000};
  assert_int_equal(fn_receipt_close_paid(f->fn, &part, NULL, &res), 0);
  it.payment_method = DOC_PAY_CREDIT_PAYMENT;
  it.price = it.total = 6000;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  fn_payments_t on_credit = {.credit = 6000};
  assert_int_equal(fn_receipt_close_paid(f->fn, &on_credit, NULL, NULL), FN_ERR_VALUE);
  fn_payments_t paid = {.cash = 6000};
  assert_int_equal(fn_receipt_close_paid(f->fn, &paid, NULL, &res), 0);

  /* Sale totals: 4 receipts, 10000 + 10000 + 10000 + 6000 = 36000;
  ** cash 10000 + 6000, card 4000, prepaid 10000, credit 6000. */
  assert_int_equal(fn_totals(f->fn, true, &t), 0);
  assert_int_equal(t.receipts[DOC_OP_SALE].count, 4);
  assert_int_equal(t.receipts[DOC_OP_SALE].total, 36000);
  assert_int_equal(t.receipts[DOC_OP_SALE].cash, 16000);
  assert_int_equal(t.receipts[DOC_OP_SALE].cashless, 4000);
  assert_int_equal(t.receipts[DOC_OP_SALE].prepaid, 10000);
  assert_int_equal(t.receipts[DOC_OP_SALE].credit, 6000);
  assert_int_equal(fn_shift_close(f->fn, "", &res), 0);
  assert_int_equal(fn_document_get(f->fn, res.number, d), 0);
  assert_int_equal(count_tag(d->data, d->len, 1218, NULL), 2); /* in 1194 and in 1157 */
  assert_int_equal(count_tag(d->data, d->len, 1219, NULL), 2);
  assert_int_equal(doc_parse_totals(d->data, d->len, 1194, &t), 0);
  assert_int_equal(t.receipts[DOC_OP_SALE].prepaid, 10000);
  assert_int_equal(t.receipts[DOC_OP_SALE].credit, 6000);
  free(d);
}

/* A quarter of a marked good at 800.00 (1291 1/4, status 2). */
static doc_item_t quarter_item(const char *km, size_t n)
{
  doc_item_t it = marked_item(km, n, 80000);
  it.quantity = (doc_quantity_t){25, 2};
  it.total = 20000;
  it.fraction_numerator = 1;
  it.fraction_denominator = 4;
  it.km_status = DOC_KM_MEASURED_SOLD;
  return it;
}

/* A ticket sold as a commission agent (1222 bit 32, 1224, 1226). */
static doc_item_t agent_ticket(void)
{
  doc_item_t ticket = plain_item("Билет", 50000);
  ticket.agent.sign = 32;
  strcpy(ticket.agent.supplier_name, "ООО Театр");
  strcpy(ticket.agent.supplier_inn, "7707083893");
  return ticket;
}

/*
** A marked good sold as a quarter and returned (1291, statuses 2 and 4 in
** 81, 3 and 82), and an agent's line (1057, 1222-1226), through the FN:
** the extra requisites survive the open receipt's storage (a reopen in
** the middle) and reach the sealed documents.
*/
static void test_fraction_and_agent(void **state)
{
  fixture_t *f = *state;
  char ki[32], km[300];
  fn_km_check_t chk;
  fn_doc_result_t res;
  fn_notification_t *note = malloc(sizeof *note);
  fn_document_t *d = malloc(sizeof *d);
  static doc_receipt_t r;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  assert_non_null(note);
  assert_non_null(d);
  ready_to_sell(f, false);
  make_ki(ki, 77);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = quarter_item(km, n);
  assert_int_equal(fn_km_check(f->fn, &it, &chk), 0);
  assert_int_equal(count_tag(chk.request, chk.request_len, 1291, NULL), 1);
  assert_int_equal(fn_km_accept(f->fn, it.km, it.km_len, true), 0);
  doc_item_t ticket = agent_ticket();
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  reopen(f); /* the open receipt is rows: its extras too */
  assert_int_equal(fn_receipt_add(f->fn, &ticket), 0);
  assert_int_equal(fn_receipt_close(f->fn, 70000, 0, false, &res), 0);
  assert_int_equal(fn_document_get(f->fn, res.number, d), 0);
  assert_int_equal(doc_parse_receipt(d->data, d->len, &h, &r, &total, sign), 0);
  assert_int_equal(r.items[0].fraction_denominator, 4);
  assert_int_equal(r.items[0].km_status, DOC_KM_MEASURED_SOLD);
  assert_int_equal(r.items[1].agent.sign, 32);
  assert_string_equal(r.items[1].agent.supplier_inn, "7707083893");
  assert_int_equal(count_tag(d->data, d->len, 1057, NULL), 1);
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  unsigned status = 0;
  assert_int_equal(count_tag(note->data, note->len, 2110, &status), 1);
  assert_int_equal(status, DOC_KM_MEASURED_SOLD);
  assert_int_equal(count_tag(note->data, note->len, 1291, NULL), 1);

  /* The quarter comes back: status 4. */
  it.km_status = DOC_KM_MEASURED_RETURNED;
  assert_int_equal(fn_km_check(f->fn, &it, &chk), 0);
  status = 0;
  assert_int_equal(count_tag(chk.request, chk.request_len, 2003, &status), 1);
  assert_int_equal(status, DOC_KM_MEASURED_RETURNED);
  assert_int_equal(fn_km_accept(f->fn, it.km, it.km_len, true), 0);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE_RETURN, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, 20000, 0, false, &res), 0);
  assert_int_equal(fn_document_get(f->fn, res.number, d), 0);
  assert_int_equal(doc_parse_receipt(d->data, d->len, &h, &r, &total, sign), 0);
  assert_int_equal(r.operation, DOC_OP_SALE_RETURN);
  assert_int_equal(r.items[0].km_status, DOC_KM_MEASURED_RETURNED);
  assert_int_equal(r.items[0].fraction_numerator, 1);
  free(note);
  free(d);
}

/*
** A new FN replacing a closed one: its first document is an 11 with 1205
** bit 0; an 11 without that bit is refused from READY, a 1 is still fine.
** The registration data come back from the archive whole.
*/
static void test_replacement_registration(void **state)
{
  fixture_t *f = *state;
  fn_registration_t r, back;
  fn_doc_result_t res;
  fn_document_t *d = malloc(sizeof *d);
  assert_non_null(d);
  registration_fill(&r, false);
  r.reg.reason_mask = 0;
  assert_int_equal(fn_register(f->fn, &r, true, NULL), FN_ERR_STATE);
  r.reg.reason_mask = FN_REREG_FN_REPLACED;
  assert_int_equal(fn_register(f->fn, &r, true, &res), 0);
  assert_int_equal(res.number, 1);
  assert_int_equal(fn_document_get(f->fn, 1, d), 0);
  assert_int_equal(d->type, DOC_REREGISTRATION);
  memset(&back, 0, sizeof back);
  assert_int_equal(doc_parse_registration(d->data, d->len, &back.header, &back.reg), 0);
  assert_string_equal(back.header.kkt_reg_number, r.header.kkt_reg_number);
  assert_string_equal(back.header.user_inn, r.header.user_inn);
  assert_string_equal(back.header.user_name, r.header.user_name);
  assert_string_equal(back.header.address, r.header.address);
  assert_string_equal(back.reg.ofd_inn, r.reg.ofd_inn);
  assert_int_equal(back.reg.tax_systems, r.reg.tax_systems);
  assert_int_equal(back.reg.marking, r.reg.marking);
  assert_int_equal(back.reg.reason_mask, FN_REREG_FN_REPLACED);
  assert_false(back.header.autonomous);
  /* Registered: it sells. */
  assert_int_equal(fn_shift_open(f->fn, "Иванова", NULL), 0);
  assert_int_equal(sell_plain(f, DOC_OP_SALE, 100), 3);
  free(d);
}

/* ---------------------------------------------------------------------- */
/* The clock rules                                                         */

static void test_rule_24_hours(void **state)
{
  fixture_t *f = *state;
  doc_item_t it = plain_item("Хлеб", 100);
  fn_doc_result_t res;
  ready_to_sell(f, false);
  uint32_t opened = f->now;

  /* A receipt begun inside the 24 hours cannot close after them. */
  f->now = opened + 24 * HOUR - 5;
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  f->now = opened + 24 * HOUR; /* exactly 24 h: still allowed */
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, false, NULL), 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  f->now = opened + 24 * HOUR + 1;
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, false, NULL), FN_ERR_SHIFT_OVERDUE);
  assert_int_equal(fn_receipt_cancel(f->fn), 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_SHIFT_OVERDUE);
  assert_int_equal(fn_shift_open(f->fn, "", NULL), FN_ERR_SHIFT_OVERDUE);
  assert_int_equal(fn_err_device_code(FN_ERR_SHIFT_OVERDUE), 0x16);
  /* Closing is the way out, and then a new shift starts fresh. */
  f->now = opened + 30 * HOUR;
  assert_int_equal(fn_shift_close(f->fn, "", NULL), 0);
  assert_int_equal(fn_shift_open(f->fn, "", &res), 0);
  assert_int_equal(res.shift_number, 2);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
}

static void test_rule_30_days(void **state)
{
  fixture_t *f = *state;
  fn_status_t s;
  do_register(f, false); /* document 1 at T0, never acknowledged */
  assert_int_equal(fn_shift_open(f->fn, "", NULL), 0);
  status_of(f, &s);
  assert_int_equal(s.unsent_documents, 2);
  assert_int_equal(s.first_unsent_number, 1);
  assert_int_equal(s.first_unsent_time, T0);

  f->now = T0 + 30 * DAY; /* exactly 30 days: still allowed */
  assert_int_equal(fn_shift_close(f->fn, "", NULL), 0);
  f->now = T0 + 30 * DAY + 1;
  assert_int_equal(fn_shift_open(f->fn, "", NULL), FN_ERR_OFD_OVERDUE);
  assert_int_equal(fn_state_report(f->fn, NULL), FN_ERR_OFD_OVERDUE);
  assert_int_equal(fn_close_archive(f->fn, NULL), FN_ERR_OFD_OVERDUE);
  fn_registration_t r;
  registration_fill(&r, false);
  assert_int_equal(fn_register(f->fn, &r, true, NULL), FN_ERR_OFD_OVERDUE);

  /* The OFD acknowledges document 1: the oldest unsent is now 2 (T0). */
  ack(f, 1, 0, FN_NUMBER, 0);
  assert_int_equal(fn_shift_open(f->fn, "", NULL), FN_ERR_OFD_OVERDUE);
  ack(f, 2, 0, FN_NUMBER, 0);
  status_of(f, &s);
  assert_int_equal(s.first_unsent_number, 3);
  assert_int_equal(s.first_unsent_time, T0 + 30 * DAY);
  assert_int_equal(fn_shift_open(f->fn, "", NULL), 0);

  /* A shift open when the block comes: even closing it is refused until
  ** the OFD answers (the rule covers every document). */
  f->now = T0 + 60 * DAY + 1;
  assert_int_equal(fn_shift_close(f->fn, "", NULL), FN_ERR_OFD_OVERDUE);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_SHIFT_OVERDUE);
  ack(f, 3, 0, FN_NUMBER, 0);
  ack(f, 4, 0, FN_NUMBER, 0);
  assert_int_equal(fn_shift_close(f->fn, "", NULL), 0);
}

static void test_rule_90_days(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res;
  char ki[32], km[300];
  do_register(f, false);
  make_ki(ki, 7);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = marked_item(km, n, 100);

  /* Never updated: marking is blocked. */
  assert_int_equal(fn_km_check(f->fn, &it, &res), FN_ERR_KEYS_EXPIRED);
  assert_int_equal(fn_key_update(f->fn, &key_hmac, 1, T0), 0);
  f->now = T0 + 90 * DAY; /* exactly 90 days: still allowed */
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_VALID);
  f->now = T0 + 90 * DAY + 1;
  assert_int_equal(fn_km_check(f->fn, &it, &res), FN_ERR_KEYS_EXPIRED);
  assert_int_equal(fn_err_device_code(FN_ERR_KEYS_EXPIRED), 0x36);
  fn_status_t s;
  status_of(f, &s);
  assert_int_equal(s.keys_updated_at, T0);
  /* An update with a date: checks work again. An older date never moves
  ** the table's date back. */
  assert_int_equal(fn_key_update(f->fn, &key_hmac, 1, 0), 0); /* 0: the FN's clock */
  assert_int_equal(fn_key_update(f->fn, NULL, 0, T0), 0);
  status_of(f, &s);
  assert_int_equal(s.keys_updated_at, T0 + 90 * DAY + 1);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
}

static void test_time_backwards(void **state)
{
  fixture_t *f = *state;
  ready_to_sell(f, false);
  f->now += 100;
  assert_int_equal(sell_plain(f, 1, 100), 3);
  f->now -= 1;
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), FN_ERR_TIME);
  assert_int_equal(fn_shift_close(f->fn, "", NULL), FN_ERR_TIME);
  assert_int_equal(fn_state_report(f->fn, NULL), FN_ERR_TIME);
  f->now += 1; /* the same second as the last document is fine */
  assert_int_equal(fn_state_report(f->fn, NULL), 0);
}

/* ---------------------------------------------------------------------- */
/* Crypto tails                                                            */

static void test_tails(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res;
  char ki[32], km[300];
  size_t n;
  doc_item_t it;
  do_register(f, false);
  fn_key_t keys[2] = {key_gost, key_hmac};
  assert_int_equal(fn_key_update(f->fn, keys, 2, T0), 0);

  /* Genuine 88-character tail: GOST signature over the KI. */
  make_ki(ki, 1);
  n = code_88(km, ki, "TG01");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_VALID);
  assert_int_equal(res.km_type, 2);
  assert_int_equal(res.check_result, DOC_2106_TAIL_CHECKED | DOC_2106_TAIL_VALID);

  /* One changed character of the tail (still base64), and of the serial. */
  char bad[300];
  memcpy(bad, km, n + 1);
  char *tail = strstr(bad, GS "92") + 3;
  tail[10] = tail[10] == 'A' ? 'B' : 'A';
  it = marked_item(bad, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_INVALID);
  assert_int_equal(res.check_result, DOC_2106_TAIL_CHECKED);
  memcpy(bad, km, n + 1);
  bad[20] = bad[20] == 'x' ? 'y' : 'x';
  it = marked_item(bad, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_INVALID);
  /* A tail that is not base64 at all is invalid, not a crash. */
  memcpy(bad, km, n + 1);
  tail = strstr(bad, GS "92") + 3;
  tail[0] = '*';
  it = marked_item(bad, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_INVALID);

  /* Genuine 44-character tail: HMAC over the KI. */
  make_ki(ki, 2);
  n = code_44(km, ki, "TH01");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_VALID);
  assert_int_equal(res.km_type, 4);
  assert_int_equal(res.check_result, 3);
  memcpy(bad, km, n + 1);
  tail = strstr(bad, GS "92") + 3;
  tail[5] = tail[5] == 'q' ? 'r' : 'q';
  it = marked_item(bad, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_INVALID);
  assert_int_equal(res.check_result, 1);

  /* Wrong key id: the FN has no such key (and a 44 tail becomes type 3). */
  make_ki(ki, 3);
  n = code_88(km, ki, "ZZ99");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_NO_KEY);
  assert_int_equal(res.check_result, 0);
  n = code_44(km, ki, "ZZ99");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_NO_KEY);
  assert_int_equal(res.km_type, 3);
  /* A key of the wrong kind for the tail's length is no key for it. */
  n = code_88(km, ki, "TH01");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_NO_KEY);

  /* 93 short tail: not checkable by the FN, type 5. */
  n = code_93(km, ki);
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_UNCHECKABLE);
  assert_int_equal(res.km_type, 5);
  assert_int_equal(res.check_result, 0);

  /* Expired key: TG01 was last delivered at T0; a later update carried
  ** only TH01, so the table is fresh (no 0x36) but TG01 is 91 days old. */
  f->now = T0 + 60 * DAY;
  assert_int_equal(fn_key_update(f->fn, &key_hmac, 1, f->now), 0);
  f->now = T0 + 91 * DAY;
  make_ki(ki, 4);
  n = code_88(km, ki, "TG01");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_KEY_EXPIRED);
  assert_int_equal(res.km_type, 2);
  assert_int_equal(res.check_result, 0);
  n = code_44(km, ki, "TH01");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_VALID);
  /* Refreshing TG01 makes its codes checkable again. */
  assert_int_equal(fn_key_update(f->fn, &key_gost, 1, f->now), 0);
  n = code_88(km, ki, "TG01");
  it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.tail_status, FN_TAIL_VALID);

  /* The request (81) for the OISM is sealed with the FN's sign. */
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char number[17];
  doc_summary_t sum;
  assert_int_equal(fn_emu_read_secret(f->path, secret, number), 0);
  assert_true(res.request_len > 0);
  assert_int_equal(fn_emu_verify_sign(secret, res.request, res.request_len), 0);
  assert_int_equal(doc_summarize(res.request, res.request_len, &sum), 0);
  assert_int_equal(sum.type, DOC_KM_REQUEST);
  assert_int_equal(count_tag(res.request, res.request_len, 2000, NULL), 1);

  /* A GOST key the FN cannot read is refused, and nothing changes. */
  fn_key_t broken = key_gost;
  memcpy(broken.id, "TG02", 5);
  broken.material[3] ^= 0xFF;
  broken.len = 20;
  assert_int_equal(fn_key_update(f->fn, &broken, 1, f->now), FN_ERR_VALUE);
}

/* ---------------------------------------------------------------------- */
/* The checked-code table                                                  */

static void test_km_not_checked(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res;
  char ki[32], km[300];
  ready_to_sell(f, false);
  make_ki(ki, 11);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = marked_item(km, n, 100);

  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_KM_NOT_CHECKED); /* never checked */
  assert_int_equal(fn_km_accept(f->fn, km, n, true), FN_ERR_NO_DATA);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_KM_NOT_CHECKED); /* not accepted */
  assert_int_equal(fn_km_accept(f->fn, km, n, false), 0);              /* declined: gone */
  assert_int_equal(fn_km_accept(f->fn, km, n, true), FN_ERR_NO_DATA);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_KM_NOT_CHECKED);
  check_accept(f, &it, &res);
  /* The FN writes its own findings, whatever the till claims. */
  it.check_result = 0x0F;
  it.km_type = 1;
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_VALUE);        /* the same piece twice */
  assert_int_equal(fn_km_accept(f->fn, km, n, false), FN_ERR_STATE); /* it is in the receipt */
  assert_int_equal(fn_km_check(f->fn, &it, &res), FN_ERR_STATE);
  assert_int_equal(fn_err_device_code(FN_ERR_KM_NOT_CHECKED), 0x3E);

  /* Cancelling the receipt takes its codes out of the table. */
  fn_status_t s;
  status_of(f, &s);
  assert_int_equal(s.checked_km, 1);
  assert_int_equal(fn_receipt_cancel(f->fn), 0);
  status_of(f, &s);
  assert_int_equal(s.checked_km, 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_KM_NOT_CHECKED);
}

static void test_km_table_full(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res;
  char ki[32], km[3][300];
  size_t n[3];
  doc_item_t it[3];
  f->options.checked_km_capacity = 2;
  reopen(f);
  ready_to_sell(f, false);
  for (unsigned i = 0; i < 3; i++) {
    make_ki(ki, 20 + i);
    n[i] = code_44(km[i], ki, "TH01");
    it[i] = marked_item(km[i], n[i], 100);
  }
  assert_int_equal(fn_km_check(f->fn, &it[0], &res), 0);
  assert_int_equal(fn_km_check(f->fn, &it[1], &res), 0);
  assert_int_equal(fn_km_check(f->fn, &it[2], &res), FN_ERR_KM_TABLE_FULL);
  assert_int_equal(fn_err_device_code(FN_ERR_KM_TABLE_FULL), 0x35);
  assert_int_equal(fn_km_check(f->fn, &it[1], &res), 0); /* a re-check takes no new place */
  fn_status_t s;
  status_of(f, &s);
  assert_int_equal(s.checked_km, 2);
  assert_int_equal(s.checked_km_capacity, 2);
  /* Selling one frees its place. */
  assert_int_equal(fn_km_accept(f->fn, km[0], n[0], true), 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it[0]), 0);
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, false, NULL), 0);
  assert_int_equal(fn_km_check(f->fn, &it[2], &res), 0);
  assert_int_equal(fn_km_check(f->fn, &it[0], &res), FN_ERR_KM_TABLE_FULL);
  /* Declining one frees its place too. */
  assert_int_equal(fn_km_accept(f->fn, km[1], n[1], false), 0);
  assert_int_equal(fn_km_check(f->fn, &it[0], &res), 0);
}

static void test_km_answer(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res, ans;
  char ki[32], km[300];
  uint8_t buf[512];
  size_t len = 0;
  ready_to_sell(f, false);
  make_ki(ki, 30);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  doc_summary_t sum;
  assert_int_equal(doc_summarize(res.request, res.request_len, &sum), 0);

  /* The OISM answers by request number: status correct. */
  doc_km_answer_t a;
  memset(&a, 0, sizeof a);
  a.request_number = sum.number;
  a.request_time = sum.time;
  a.km_type = 4;
  a.status_answer = 1;
  a.processing_code = 0;
  assert_int_equal(doc_build_km_answer(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(fn_km_answer(f->fn, buf, len, &ans), 0);
  assert_int_equal(ans.check_result, 15); /* [М+] */
  /* A second answer, by code, says circulation suspended: bit 8 goes. */
  memcpy(a.km, km, n);
  a.km_len = n;
  a.status_answer = 3;
  assert_int_equal(doc_build_km_answer(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(fn_km_answer(f->fn, buf, len, &ans), 0);
  assert_int_equal(ans.check_result, 7);
  /* An answer to a request nobody made. */
  a.km_len = 0;
  a.request_number = 999;
  assert_int_equal(doc_build_km_answer(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(fn_km_answer(f->fn, buf, len, &ans), FN_ERR_NO_DATA);
  /* Garbage is not an answer. */
  buf[0] = 0x54;
  assert_int_equal(fn_km_answer(f->fn, buf, len, &ans), FN_ERR_VALUE);

  /* The receipt carries what the FN last concluded. */
  assert_int_equal(fn_km_accept(f->fn, km, n, true), 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  fn_doc_result_t r;
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, false, &r), 0);
  fn_document_t *d = malloc(sizeof *d);
  assert_non_null(d);
  assert_int_equal(fn_document_get(f->fn, r.number, d), 0);
  unsigned bits = 0;
  assert_int_equal(count_tag(d->data, d->len, 2106, &bits), 1);
  assert_int_equal(bits, 7);
  bits = 0;
  assert_int_equal(count_tag(d->data, d->len, 2107, &bits), 1);
  assert_int_equal(bits, 1); /* a negative OISM answer */
  free(d);
}

/* ---------------------------------------------------------------------- */
/* The receipt with marked lines (issue 3's acceptance case)               */

static void test_marked_receipt(void **state)
{
  fixture_t *f = *state;
  fn_doc_result_t res;
  fn_status_t s;
  fn_document_t *d = malloc(sizeof *d);
  fn_notification_t *note = malloc(sizeof *note);
  char ki[32], km[3][300];
  size_t n[3];
  doc_item_t items[4];
  fn_km_check_t kc;
  assert_non_null(d);
  assert_non_null(note);
  ready_to_sell(f, false);

  make_ki(ki, 101);
  n[0] = code_88(km[0], ki, "TG01");
  make_ki(ki, 102);
  n[1] = code_44(km[1], ki, "TH01");
  make_ki(ki, 103);
  n[2] = code_93(km[2], ki);
  for (int i = 0; i < 3; i++) {
    items[i] = marked_item(km[i], n[i], 100u * (unsigned)(i + 1));
    check_accept(f, &items[i], &kc);
  }
  items[3] = plain_item("Пакет", 700);
  status_of(f, &s);
  assert_int_equal(s.checked_km, 3);

  f->now += 30;
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(fn_receipt_add(f->fn, &items[i]), 0);
  assert_int_equal(fn_receipt_close(f->fn, 300, 1000, false, &res), 0);
  assert_int_equal(res.number, 3);
  assert_int_equal(res.receipt_number, 1);

  /* Stored and fetched back. */
  assert_int_equal(fn_document_get(f->fn, 3, d), 0);
  assert_int_equal(d->type, DOC_RECEIPT);
  assert_int_equal(d->time, f->now);
  assert_false(d->acknowledged);
  assert_int_equal(count_tag(d->data, d->len, 1059, NULL), 4);
  assert_int_equal(count_tag(d->data, d->len, 2000, NULL), 3);
  assert_int_equal(count_tag(d->data, d->len, 2106, NULL), 3);
  assert_int_equal(count_tag(d->data, d->len, 1077, NULL), 1);
  unsigned types = 0;
  assert_int_equal(count_tag(d->data, d->len, 2100, &types), 3);
  assert_int_equal(types, 2 | 4 | 5);
  unsigned flag = 0;
  assert_int_equal(count_tag(d->data, d->len, 2107, &flag), 1);
  assert_int_equal(flag, 0); /* no negative check */
  doc_summary_t sum;
  assert_int_equal(doc_summarize(d->data, d->len, &sum), 0);
  assert_int_equal(sum.total, 1300);
  assert_int_equal(sum.number, 3);
  assert_memory_equal(sum.sign, res.sign, 6);

  /* Listed: it is in the archive and in the OFD queue after 1 and 2. */
  for (uint32_t i = 1; i <= 2; i++) {
    assert_int_equal(fn_document_next_unsent(f->fn, d), 0);
    assert_int_equal(d->number, i);
    ack(f, i, 0, FN_NUMBER, 0);
  }
  assert_int_equal(fn_document_next_unsent(f->fn, d), 0);
  assert_int_equal(d->number, 3);

  /* Shown as JSON with the FNS names. */
  int err = -1;
  char *json = doc_to_json(d->data, d->len, &err);
  assert_non_null(json);
  assert_int_equal(err, 0);
  assert_non_null(strstr(json, "\"receipt\""));
  assert_non_null(strstr(json, "\"fiscalDocumentNumber\":3"));
  assert_non_null(strstr(json, "\"totalSum\":1300"));
  assert_non_null(strstr(json, "\"items\":["));
  assert_non_null(strstr(json, "\"markingCode\""));
  assert_non_null(strstr(json, "\"checkingProdInformationResult\":3"));
  assert_non_null(strstr(json, "\"fiscalSign\""));
  assert_non_null(strstr(json, "\"fiscalDriveNumber\":\"" FN_NUMBER "\""));
  free(json);

  /* Its fiscal sign verifies with the FN's secret, and fails when any one
  ** byte changes (a price, the code, the sign itself). */
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char number[17];
  assert_int_equal(fn_emu_read_secret(f->path, secret, number), 0);
  assert_int_equal(fn_emu_verify_sign(secret, d->data, d->len), 0);
  for (size_t at = 8; at < d->len; at += d->len / 23) {
    uint8_t keep = d->data[at];
    d->data[at] ^= 0x01;
    assert_int_not_equal(fn_emu_verify_sign(secret, d->data, d->len), 0);
    d->data[at] = keep;
  }
  d->data[d->len - 1] ^= 0x80; /* the last byte of 1077 */
  assert_int_equal(fn_emu_verify_sign(secret, d->data, d->len), FN_ERR_VALUE);
  d->data[d->len - 1] ^= 0x80;
  secret[0] ^= 1; /* another FN's secret */
  assert_int_equal(fn_emu_verify_sign(secret, d->data, d->len), FN_ERR_VALUE);
  secret[0] ^= 1;

  /* The sale notification was queued with it, sealed, naming the receipt
  ** and its three codes; the codes left the checked table. */
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 1);
  assert_int_equal(note->receipt_number, 3);
  assert_int_equal(fn_emu_verify_sign(secret, note->data, note->len), 0);
  assert_int_equal(count_tag(note->data, note->len, 2007, NULL), 3);
  assert_int_equal(doc_summarize(note->data, note->len, &sum), 0);
  assert_int_equal(sum.type, DOC_KM_NOTIFICATION);
  status_of(f, &s);
  assert_int_equal(s.checked_km, 0);
  assert_int_equal(s.unsent_notifications, 1);
  assert_int_equal(s.first_unsent_notification_time, f->now);

  free(note);
  free(d);
}

/* ---------------------------------------------------------------------- */
/* Queues: OFD acknowledgements, OISM tickets                              */

static void test_unsent_and_ack(void **state)
{
  fixture_t *f = *state;
  fn_document_t *d = malloc(sizeof *d);
  fn_status_t s;
  assert_non_null(d);
  assert_int_equal(fn_document_next_unsent(f->fn, d), FN_ERR_NO_DATA);
  ready_to_sell(f, false);
  f->now += 100;
  assert_int_equal(sell_plain(f, 1, 100), 3);

  assert_int_equal(fn_document_next_unsent(f->fn, d), 0);
  assert_int_equal(d->number, 1);
  assert_int_equal(d->type, DOC_REGISTRATION);
  ack(f, 1, 0, FN_NUMBER, 0);
  ack(f, 1, 0, FN_NUMBER, 0); /* delivered twice: harmless */
  assert_int_equal(fn_document_get(f->fn, 1, d), 0);
  assert_true(d->acknowledged);
  assert_int_equal(fn_document_next_unsent(f->fn, d), 0);
  assert_int_equal(d->number, 2);

  ack(f, 2, 0, "9999078900009999", FN_ERR_VALUE); /* another FN's */
  ack(f, 77, 0, FN_NUMBER, FN_ERR_NO_DATA);       /* no such document */
  ack(f, 2, 1, FN_NUMBER, FN_ERR_VALUE);          /* the OFD refused it */
  uint8_t junk[8] = {7, 0, 4, 0, 1, 2, 3, 4};
  assert_int_equal(fn_document_ack(f->fn, junk, sizeof junk), FN_ERR_VALUE);
  status_of(f, &s);
  assert_int_equal(s.unsent_documents, 2);
  assert_int_equal(s.first_unsent_number, 2);

  ack(f, 3, 0, FN_NUMBER, 0); /* out of order is fine */
  status_of(f, &s);
  assert_int_equal(s.unsent_documents, 1);
  ack(f, 2, 0, FN_NUMBER, 0);
  assert_int_equal(fn_document_next_unsent(f->fn, d), FN_ERR_NO_DATA);
  status_of(f, &s);
  assert_int_equal(s.unsent_documents, 0);
  assert_int_equal(s.first_unsent_time, 0);
  free(d);
}

static void test_notifications_and_tickets(void **state)
{
  fixture_t *f = *state;
  fn_notification_t *note = malloc(sizeof *note);
  fn_status_t s;
  assert_non_null(note);
  ready_to_sell(f, false);
  assert_int_equal(fn_notification_next(f->fn, note), FN_ERR_NO_DATA);
  assert_int_equal(sell_plain(f, 1, 100), 3); /* no marked line: no notification */
  assert_int_equal(fn_notification_next(f->fn, note), FN_ERR_NO_DATA);
  assert_int_equal(sell_marked(f, 201), 4);
  assert_int_equal(sell_marked(f, 202), 5);
  status_of(f, &s);
  assert_int_equal(s.unsent_notifications, 2);

  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 1);
  assert_int_equal(note->receipt_number, 4);
  ticket(f, 1, 0, 0);
  ticket(f, 1, 0, 0); /* twice: harmless */
  ticket(f, 9, 0, FN_ERR_NO_DATA);
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 2);
  assert_int_equal(note->receipt_number, 5);
  ticket(f, 2, 1, 0); /* a "bad" ticket still clears it: resending would not help */
  assert_int_equal(fn_notification_next(f->fn, note), FN_ERR_NO_DATA);
  status_of(f, &s);
  assert_int_equal(s.unsent_notifications, 0);
  free(note);
}

/* ---- group commits (fn_document_ack_batch, fn_notification_ticket_batch) */

/* Answers as the operator builds them, each in its own buffer. */
typedef struct answer_buf {
  uint8_t data[256];
  size_t len;
} answer_buf_t;

/* The FN whose documents ack_bytes signs over (set by the tests that use it). */
static fn_t *ack_source;

/* The tests' OFD's acknowledgement, signed as kassa-operator signs (over
** the FN's own document when it has one). */
static fn_bytes_t ack_bytes(answer_buf_t *b, const char *fn_number, uint32_t number, uint8_t answer)
{
  fn_document_t *d = malloc(sizeof *d);
  assert_non_null(d);
  bool have = ack_source && fn_document_get(ack_source, number, d) == 0;
  assert_int_equal(fn_fixture_ack_build(fn_number, number, T0, answer, have ? d->data : NULL,
                                        have ? d->len : 0, b->data, sizeof b->data, &b->len),
                   0);
  free(d);
  return (fn_bytes_t){.data = b->data, .len = b->len};
}

static fn_bytes_t ticket_bytes(answer_buf_t *b, uint32_t number, uint8_t result)
{
  doc_km_ticket_t t = {number, result, 0};
  assert_int_equal(doc_build_km_ticket(&t, b->data, sizeof b->data, &b->len), 0);
  return (fn_bytes_t){.data = b->data, .len = b->len};
}

static bool acknowledged(fixture_t *f, uint32_t number)
{
  fn_document_t *d = malloc(sizeof *d);
  assert_non_null(d);
  assert_int_equal(fn_document_get(f->fn, number, d), 0);
  bool yes = d->acknowledged;
  assert_true(d->queued);
  free(d);
  return yes;
}

static uint32_t unsent_documents(fixture_t *f)
{
  fn_status_t s;
  status_of(f, &s);
  return s.unsent_documents;
}

/* Documents 1..8 owed (registration, shift open, six receipts). */
static void eight_documents(fixture_t *f)
{
  ready_to_sell(f, false);
  for (int i = 0; i < 6; i++) {
    f->now += 10;
    sell_plain(f, 1, 100);
  }
  assert_int_equal(unsent_documents(f), 8);
}

/* An acknowledgement the way a real OFD writes it: no 1041 and no 1040 in
** the document (signed over them all the same); the FN takes them from what
** the container's header named (fn_bytes_t), and where both say they must
** agree. */
static fn_bytes_t ack_headers_only(answer_buf_t *b, uint32_t number, const char *header_fn,
                                   uint32_t header_number)
{
  fn_bytes_t whole = ack_bytes(b, FN_NUMBER, number, 0);
  doc_ack_t a;
  assert_int_equal(doc_parse_ack(whole.data, whole.len, &a), 0);
  a.fn_number[0] = '\0';
  a.document_number = 0;
  assert_int_equal(doc_build_ack(&a, b->data, sizeof b->data, &b->len), 0);
  return (fn_bytes_t){
      .data = b->data, .len = b->len, .fn_number = header_fn, .document_number = header_number};
}

static void test_ack_named_by_headers(void **state)
{
  fixture_t *f = *state;
  answer_buf_t b[2];
  fn_bytes_t one;
  size_t applied = 99;
  ack_source = f->fn;
  eight_documents(f);

  /* Nothing names the document, or only the FN: refused, nothing cleared. */
  one = ack_headers_only(&b[0], 1, NULL, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), FN_ERR_VALUE);
  one = ack_headers_only(&b[0], 1, FN_NUMBER, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), FN_ERR_VALUE);
  /* Another FN's header. */
  one = ack_headers_only(&b[0], 1, "9999078900000001", 1);
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), FN_ERR_VALUE);
  /* The header names document 2, the sign covers document 1: not trusted. */
  one = ack_headers_only(&b[0], 1, FN_NUMBER, 2);
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), FN_ERR_OFD_ANSWER);
  assert_int_equal(unsent_documents(f), 8);
  for (uint32_t n = 1; n <= 2; n++) assert_false(acknowledged(f, n));

  /* Named by the headers: cleared. */
  one = ack_headers_only(&b[0], 1, FN_NUMBER, 1);
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), 0);
  assert_int_equal(applied, 1);
  assert_true(acknowledged(f, 1));
  assert_int_equal(unsent_documents(f), 7);

  /* A document that names itself and a header that disagrees: refused. */
  one = ack_bytes(&b[1], FN_NUMBER, 2, 0);
  one.document_number = 3;
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), FN_ERR_VALUE);
  one.document_number = 2;
  one.fn_number = "9999078900000001";
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), FN_ERR_VALUE);
  assert_false(acknowledged(f, 2));
  /* Both agree: cleared. */
  one.fn_number = FN_NUMBER;
  assert_int_equal(fn_document_ack_batch(f->fn, &one, 1, &applied), 0);
  assert_true(acknowledged(f, 2));
  assert_int_equal(unsent_documents(f), 6);
}

static void test_ack_batch(void **state)
{
  fixture_t *f = *state;
  answer_buf_t b[8];
  fn_bytes_t list[8];
  size_t applied = 99;
  ack_source = f->fn;
  eight_documents(f);

  /* All applied, in one call. */
  for (uint32_t i = 0; i < 3; i++) list[i] = ack_bytes(&b[i], FN_NUMBER, i + 1, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, list, 3, &applied), 0);
  assert_int_equal(applied, 3);
  assert_int_equal(unsent_documents(f), 5);
  for (uint32_t n = 1; n <= 3; n++) assert_true(acknowledged(f, n));
  assert_false(acknowledged(f, 4));

  /* A second acknowledgement is harmless, inside a batch too: 2 again and
  ** 4 twice count once. */
  list[0] = ack_bytes(&b[0], FN_NUMBER, 2, 0);
  list[1] = ack_bytes(&b[1], FN_NUMBER, 4, 0);
  list[2] = ack_bytes(&b[2], FN_NUMBER, 4, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, list, 3, &applied), 0);
  assert_int_equal(applied, 3);
  assert_int_equal(unsent_documents(f), 4);

  /* Stops at the first refused entry; the ones before it stay applied,
  ** it and the ones after it do not. Each refusal the single call makes. */
  struct {
    fn_bytes_t bad;
    int expect;
  } refusals[4];
  answer_buf_t bad[4];
  refusals[0].bad = ack_bytes(&bad[0], "9999078900009999", 6, 0); /* another FN's */
  refusals[0].expect = FN_ERR_VALUE;
  refusals[1].bad = ack_bytes(&bad[1], FN_NUMBER, 77, 0); /* no such document */
  refusals[1].expect = FN_ERR_NO_DATA;
  refusals[2].bad = ack_bytes(&bad[2], FN_NUMBER, 6, 3); /* the OFD refused it (1022 = 3) */
  refusals[2].expect = FN_ERR_VALUE;
  static const uint8_t junk[8] = {7, 0, 4, 0, 1, 2, 3, 4}; /* malformed */
  refusals[3].bad = (fn_bytes_t){.data = junk, .len = sizeof junk};
  refusals[3].expect = FN_ERR_VALUE;
  /* Documents 5, 6, 7: each batch is (good, refused, 8). */
  for (uint32_t r = 0; r < 3; r++) {
    list[0] = ack_bytes(&b[0], FN_NUMBER, 5 + r, 0);
    list[1] = refusals[r].bad;
    list[2] = ack_bytes(&b[2], FN_NUMBER, 8, 0);
    applied = 99;
    assert_int_equal(fn_document_ack_batch(f->fn, list, 3, &applied), refusals[r].expect);
    assert_int_equal(applied, 1);
    assert_true(acknowledged(f, 5 + r));
    assert_false(acknowledged(f, 8)); /* after the refusal: not applied */
  }
  assert_int_equal(unsent_documents(f), 1);
  /* A refusal first (the malformed one): nothing applied, nothing changed. */
  list[0] = refusals[3].bad;
  list[1] = ack_bytes(&b[1], FN_NUMBER, 8, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, list, 2, &applied), refusals[3].expect);
  assert_int_equal(applied, 0);
  assert_int_equal(unsent_documents(f), 1);
  assert_false(acknowledged(f, 8));

  /* The state survives a restart: the batches were committed. */
  reopen(f);
  ack_source = f->fn;
  assert_int_equal(unsent_documents(f), 1);
  for (uint32_t n = 1; n <= 7; n++) assert_true(acknowledged(f, n));
  list[0] = ack_bytes(&b[0], FN_NUMBER, 8, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, list, 1, NULL), 0);
  assert_int_equal(unsent_documents(f), 0);
}

/* One acknowledgement of document `number` forged as `how` says, fed to
** the FN alone: its result. how: 0 honest, 1 1078 all zero, 2 signed with
** a key the FN was never given, 3 another OFD's INN (right key), 4 the
** honest sign of document 1 on an acknowledgement of `number`. */
static int forged_ack(fixture_t *f, uint32_t number, int how)
{
  answer_buf_t b;
  doc_ack_t a;
  uint8_t key[FN_EMU_OFD_KEY_SIZE];
  ack_source = f->fn;
  ack_bytes(&b, FN_NUMBER, how == 4 ? 1 : number, 0);
  assert_int_equal(doc_parse_ack(b.data, b.len, &a), 0);
  fn_fixture_ofd_key(key);
  fn_document_t *d = malloc(sizeof *d);
  doc_summary_t sum;
  assert_non_null(d);
  assert_int_equal(fn_document_get(f->fn, number, d), 0);
  assert_int_equal(doc_summarize(d->data, d->len, &sum), 0);
  free(d);
  if (how == 1) memset(a.operator_sign, 0, sizeof a.operator_sign);
  if (how == 2) {
    key[31] ^= 0x01;
    assert_int_equal(fn_emu_operator_sign(key, &a, sum.sign, a.operator_sign), 0);
  }
  if (how == 3) {
    strcpy(a.ofd_inn, "7707083893");
    assert_int_equal(fn_emu_operator_sign(key, &a, sum.sign, a.operator_sign), 0);
  }
  if (how == 4) a.document_number = number; /* the sign stays document 1's */
  assert_int_equal(doc_build_ack(&a, b.data, sizeof b.data, &b.len), 0);
  return fn_document_ack(f->fn, b.data, b.len);
}

/*
** Issue 15: an acknowledgement the FN cannot trust clears nothing. Each
** forgery of document 3's acknowledgement is refused with
** FN_ERR_OFD_ANSWER, counted with its reason, and 3 stays owed; the
** honest one then clears it. In a batch, the ones before a forgery stay
** applied. The key is durable (a reopen keeps it), and an FN that was
** never given a key refuses every acknowledgement (no_key).
*/
static void test_ack_forged(void **state)
{
  static const int reasons[] = {0, FN_ACK_REFUSAL_BAD_SIGN, FN_ACK_REFUSAL_BAD_SIGN,
                                FN_ACK_REFUSAL_OTHER_OFD, FN_ACK_REFUSAL_BAD_SIGN};
  fixture_t *f = *state;
  fn_status_t s;
  eight_documents(f);
  assert_int_equal(fn_status(f->fn, &s), 0);
  assert_true(s.ofd_key_shared);
  assert_int_equal(s.ofd_answers_refused, 0);
  assert_int_equal(s.ofd_answer_refused_reason, FN_ACK_REFUSAL_NONE);
  for (int how = 1; how <= 4; how++) {
    f->now += 5;
    assert_int_equal(forged_ack(f, 3, how), FN_ERR_OFD_ANSWER);
    assert_false(acknowledged(f, 3));
    assert_int_equal(unsent_documents(f), 8);
    assert_int_equal(fn_status(f->fn, &s), 0);
    assert_int_equal(s.ofd_answers_refused, (uint32_t)how);
    assert_int_equal(s.ofd_answer_refused_document, 3);
    assert_int_equal(s.ofd_answer_refused_reason, reasons[how]);
    assert_int_equal(s.ofd_answer_refused_at, f->now);
    assert_int_equal(s.first_unsent_number, 1);
  }
  /* A forgery in the middle of a window: the honest ones before it apply. */
  answer_buf_t b[3];
  fn_bytes_t list[3];
  size_t applied = 99;
  list[0] = ack_bytes(&b[0], FN_NUMBER, 1, 0);
  list[1] = ack_bytes(&b[1], FN_NUMBER, 2, 0);
  list[2] = ack_bytes(&b[2], FN_NUMBER, 3, 0);
  memset(b[1].data + b[1].len - 18, 0, 18); /* 1078 is the last requisite: zeroed */
  assert_int_equal(fn_document_ack_batch(f->fn, list, 3, &applied), FN_ERR_OFD_ANSWER);
  assert_int_equal(applied, 1);
  assert_true(acknowledged(f, 1));
  assert_false(acknowledged(f, 2));
  assert_false(acknowledged(f, 3));
  /* The key survives a restart; the honest acknowledgements clear. */
  reopen(f);
  ack_source = f->fn;
  assert_int_equal(forged_ack(f, 2, 0), 0);
  assert_int_equal(forged_ack(f, 3, 0), 0);
  assert_int_equal(forged_ack(f, 3, 1), FN_ERR_OFD_ANSWER); /* a forged copy still refused */
  assert_true(acknowledged(f, 3));
  assert_int_equal(unsent_documents(f), 5);
  assert_int_equal(fn_status(f->fn, &s), 0);
  assert_int_equal(s.ofd_answers_refused, 6);

  /* Sharing again replaces the key: the old one's signs no longer verify. */
  uint8_t other[FN_EMU_OFD_KEY_SIZE];
  fn_fixture_ofd_key(other);
  other[0] ^= 0x55;
  assert_int_equal(fn_emu_share_ofd_key(f->path, OFD_INN, other), 0);
  assert_int_equal(forged_ack(f, 4, 0), FN_ERR_OFD_ANSWER);
  assert_false(acknowledged(f, 4));
  assert_int_equal(fn_emu_share_ofd_key(f->path, "77", other), FN_ERR_PARAMS);
  assert_int_equal(fn_emu_share_ofd_key(NULL, OFD_INN, other), FN_ERR_PARAMS);
}

/* An FN no OFD gave a key refuses every acknowledgement (no_key). */
static void test_ack_without_key(void **state)
{
  fixture_t *f = *state;
  fn_status_t s;
  char path[sizeof f->path + 16];
  fn_t *bare = NULL;
  fn_registration_t r;
  snprintf(path, sizeof path, "%s.bare", f->path);
  assert_int_equal(fn_emu_create(path, FN_NUMBER), 0);
  assert_int_equal(fn_emu_open(path, &f->options, &bare), 0);
  fn_fixture_registration(&r, false);
  assert_int_equal(fn_fixture_prepare(bare, &r, NULL, NULL), 0);
  assert_int_equal(fn_status(bare, &s), 0);
  assert_false(s.ofd_key_shared);
  assert_int_equal(fn_fixture_ack(bare, FN_NUMBER, 1, T0, 0), FN_ERR_OFD_ANSWER);
  assert_int_equal(fn_status(bare, &s), 0);
  assert_int_equal(s.unsent_documents, 1);
  assert_int_equal(s.ofd_answers_refused, 1);
  assert_int_equal(s.ofd_answer_refused_reason, FN_ACK_REFUSAL_NO_KEY);
  assert_string_equal(fn_ack_refusal_name(FN_ACK_REFUSAL_NO_KEY), "no_key");
  /* Given the key (as `kassa-operator fn add` does, with the FN open). */
  uint8_t key[FN_EMU_OFD_KEY_SIZE];
  fn_fixture_ofd_key(key);
  assert_int_equal(fn_emu_share_ofd_key(path, OFD_INN, key), 0);
  assert_int_equal(fn_fixture_ack(bare, FN_NUMBER, 1, T0, 0), 0);
  assert_int_equal(fn_status(bare, &s), 0);
  assert_int_equal(s.unsent_documents, 0);
  fn_free(bare);
  unlink(path);
  snprintf(path, sizeof path, "%s.bare-wal", f->path);
  unlink(path);
  snprintf(path, sizeof path, "%s.bare-shm", f->path);
  unlink(path);
}

static void test_ack_batch_arguments(void **state)
{
  fixture_t *f = *state;
  answer_buf_t b[2];
  fn_bytes_t list[2];
  size_t applied = 99;
  ack_source = f->fn;
  eight_documents(f);
  list[0] = ack_bytes(&b[0], FN_NUMBER, 1, 0);
  list[1] = ack_bytes(&b[1], FN_NUMBER, 2, 0);
  assert_int_equal(fn_document_ack_batch(NULL, list, 2, &applied), FN_ERR_PARAMS);
  assert_int_equal(applied, 0);
  assert_int_equal(fn_document_ack_batch(f->fn, NULL, 1, &applied), FN_ERR_PARAMS);
  assert_int_equal(fn_notification_ticket_batch(f->fn, NULL, 1, &applied), FN_ERR_PARAMS);
  /* An entry without bytes refuses the whole call before anything. */
  list[1].len = 0;
  applied = 99;
  assert_int_equal(fn_document_ack_batch(f->fn, list, 2, &applied), FN_ERR_PARAMS);
  assert_int_equal(applied, 0);
  list[1].len = b[1].len;
  list[1].data = NULL;
  assert_int_equal(fn_document_ack_batch(f->fn, list, 2, &applied), FN_ERR_PARAMS);
  assert_int_equal(unsent_documents(f), 8);
  /* Nothing to do is done. */
  assert_int_equal(fn_document_ack_batch(f->fn, NULL, 0, &applied), 0);
  assert_int_equal(applied, 0);
  assert_int_equal(fn_notification_ticket_batch(f->fn, NULL, 0, NULL), 0);

  /* A backend without the batch entries: the single call in a loop, with
  ** the same outcome and count. */
  fn_backend_t old = *f->fn->backend;
  old.document_ack_batch = NULL;
  old.notification_ticket_batch = NULL;
  fn_t shim = {&old, f->fn->self};
  list[1] = ack_bytes(&b[1], FN_NUMBER, 99, 0);
  assert_int_equal(fn_document_ack_batch(&shim, list, 2, &applied), FN_ERR_NO_DATA);
  assert_int_equal(applied, 1);
  assert_true(acknowledged(f, 1));
  list[1] = ack_bytes(&b[1], FN_NUMBER, 2, 0);
  assert_int_equal(fn_document_ack_batch(&shim, list, 2, &applied), 0);
  assert_int_equal(applied, 2);
  assert_int_equal(unsent_documents(f), 6);
  answer_buf_t tb;
  fn_bytes_t t = ticket_bytes(&tb, 1, 0);
  assert_int_equal(fn_notification_ticket_batch(&shim, &t, 1, &applied), FN_ERR_NO_DATA);
  assert_int_equal(applied, 0);
}

static void test_ticket_batch(void **state)
{
  fixture_t *f = *state;
  answer_buf_t b[4];
  fn_bytes_t list[4];
  fn_status_t s;
  size_t applied = 99;
  ready_to_sell(f, false);
  for (unsigned i = 0; i < 5; i++) sell_marked(f, 500 + i);
  status_of(f, &s);
  assert_int_equal(s.unsent_notifications, 5);
  assert_int_equal(s.unexported_notifications, 5);

  /* In order, one call; a bad ticket (2111 = 1) clears too; a repeat and a
  ** ticket already taken are harmless. */
  list[0] = ticket_bytes(&b[0], 1, 0);
  list[1] = ticket_bytes(&b[1], 2, 1);
  list[2] = ticket_bytes(&b[2], 2, 1);
  assert_int_equal(fn_notification_ticket_batch(f->fn, list, 3, &applied), 0);
  assert_int_equal(applied, 3);
  status_of(f, &s);
  assert_int_equal(s.unsent_notifications, 3);
  assert_int_equal(s.unexported_notifications, 3);
  assert_int_equal(s.first_unsent_notification_time, T0);

  /* Stops at an unknown notification, keeping the one before it. */
  list[0] = ticket_bytes(&b[0], 3, 0);
  list[1] = ticket_bytes(&b[1], 42, 0);
  list[2] = ticket_bytes(&b[2], 4, 0);
  assert_int_equal(fn_notification_ticket_batch(f->fn, list, 3, &applied), FN_ERR_NO_DATA);
  assert_int_equal(applied, 1);
  fn_notification_t *note = malloc(sizeof *note);
  assert_non_null(note);
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 4); /* 3 cleared, 4 not */

  /* Stops at a malformed one. */
  static const uint8_t junk[6] = {0x54, 0, 2, 0, 1, 2};
  list[0] = ticket_bytes(&b[0], 4, 0);
  list[1] = (fn_bytes_t){.data = junk, .len = sizeof junk};
  list[2] = ticket_bytes(&b[2], 5, 0);
  assert_int_equal(fn_notification_ticket_batch(f->fn, list, 3, &applied), FN_ERR_VALUE);
  assert_int_equal(applied, 1);
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 5);

  /* An answer whose header names another FN (a header damaged on the
  ** way, answered as an unknown FN's with 2111 = 1) or another
  ** notification than its ticket clears nothing. */
  list[0] = ticket_bytes(&b[0], 5, 1);
  list[0].fn_number = "9999078900008384";
  assert_int_equal(fn_notification_ticket_batch(f->fn, list, 1, &applied), FN_ERR_VALUE);
  assert_int_equal(applied, 0);
  list[0].fn_number = NULL;
  list[0].document_number = 4;
  assert_int_equal(fn_notification_ticket_batch(f->fn, list, 1, &applied), FN_ERR_VALUE);
  assert_int_equal(applied, 0);
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 5);

  /* The export mark: a ticketed notification past the mark leaves the
  ** unexported count, one at or below it does not. */
  assert_int_equal(fn_notifications_exported(f->fn, 4), 0);
  status_of(f, &s);
  assert_int_equal(s.unexported_notifications, 1);
  list[0] = ticket_bytes(&b[0], 5, 0);
  list[0].fn_number = FN_NUMBER; /* a header that names this FN and this notification */
  list[0].document_number = 5;
  assert_int_equal(fn_notification_ticket_batch(f->fn, list, 1, &applied), 0);
  assert_int_equal(applied, 1);
  status_of(f, &s);
  assert_int_equal(s.unsent_notifications, 0);
  assert_int_equal(s.unexported_notifications, 0);
  assert_int_equal(fn_notification_next(f->fn, note), FN_ERR_NO_DATA);
  free(note);
}

static void test_notification_store_full(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res;
  char ki[32], km[300];
  f->options.notification_capacity = 1;
  reopen(f);
  ready_to_sell(f, false);
  assert_int_equal(sell_marked(f, 301), 3);
  make_ki(ki, 302);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), FN_ERR_NOTIFY_FULL);
  ticket(f, 1, 0, 0);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
}

static void test_autonomous(void **state)
{
  fixture_t *f = *state;
  fn_km_check_t res;
  fn_status_t s;
  fn_document_t *d = malloc(sizeof *d);
  fn_notification_t *note = malloc(sizeof *note);
  char ki[32], km[300];
  uint8_t buf[512];
  size_t len = 0;
  assert_non_null(d);
  assert_non_null(note);
  ready_to_sell(f, true);
  status_of(f, &s);
  assert_true(s.autonomous);
  assert_int_equal(s.unsent_documents, 0); /* nothing goes to an OFD */
  assert_int_equal(fn_document_next_unsent(f->fn, d), FN_ERR_NO_DATA);
  ack(f, 1, 0, FN_NUMBER, FN_ERR_STATE);

  /* Bit 16 on every check; no OISM answers. */
  make_ki(ki, 401);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t it = marked_item(km, n, 100);
  assert_int_equal(fn_km_check(f->fn, &it, &res), 0);
  assert_int_equal(res.check_result, DOC_2106_AUTONOMOUS | 3);
  doc_km_answer_t a;
  memset(&a, 0, sizeof a);
  a.request_number = 1;
  a.status_answer = 1;
  assert_int_equal(doc_build_km_answer(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(fn_km_answer(f->fn, buf, len, &res), FN_ERR_STATE);
  assert_int_equal(fn_km_accept(f->fn, km, n, true), 0);
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, 100, 0, false, NULL), 0);

  /* The notification is kept for export. */
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->receipt_number, 3);

  /* No 30-day rule: 40 days on, documents are still made. */
  f->now += 40 * DAY;
  assert_int_equal(fn_shift_close(f->fn, "", NULL), 0);
  assert_int_equal(fn_key_update(f->fn, &key_hmac, 1, f->now), 0);
  assert_int_equal(fn_shift_open(f->fn, "", NULL), 0);
  assert_int_equal(sell_plain(f, 1, 100), 6);
  assert_int_equal(fn_notification_next(f->fn, note), 0);
  assert_int_equal(note->number, 1);
  free(note);
  free(d);
}

/* ---------------------------------------------------------------------- */
/* Restart                                                                 */

static void test_reopen_same_state(void **state)
{
  fixture_t *f = *state;
  fn_status_t before, after;
  fn_doc_result_t res;
  char ki[32], km[300];
  ready_to_sell(f, false);
  assert_int_equal(sell_plain(f, 1, 100), 3);
  assert_int_equal(sell_marked(f, 501), 4);
  ack(f, 1, 0, FN_NUMBER, 0);
  /* A receipt half built, a code checked but not yet sold. */
  make_ki(ki, 502);
  size_t n = code_88(km, ki, "TG01");
  doc_item_t it = marked_item(km, n, 4200);
  doc_item_t plain = plain_item("Хлеб", 100);
  check_accept(f, &it, NULL);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_add(f->fn, &plain), 0);
  status_of(f, &before);
  assert_true(before.receipt_open);
  assert_int_equal(before.receipt_items, 2);

  reopen(f);
  status_of(f, &after);
  assert_memory_equal(&before, &after, sizeof before);

  /* The receipt goes on where it was. */
  assert_int_equal(fn_receipt_close(f->fn, 4300, 0, false, &res), 0);
  assert_int_equal(res.number, 5);
  assert_int_equal(res.receipt_number, 3);
  status_of(f, &after);
  assert_int_equal(after.checked_km, 0);
  assert_int_equal(after.unsent_notifications, 2);
  assert_int_equal(after.unsent_documents, 4);
  assert_int_equal(after.fn_totals.amount[DOC_OP_SALE], 100 + 5000 + 4300);
}

/*
** The emulator keeps what the file said between calls (fn_emu.c, seen_t)
** and reads again when another connection committed: two handles on one
** file, each changing what the other kept, must each see the other's
** documents, open receipt, lines and checked codes at once.
*/
static void test_two_handles_see_each_other(void **state)
{
  fixture_t *f = *state;
  fn_t *other = NULL;
  fn_status_t a, b;
  fn_doc_result_t res;
  char ki[32], km[300];
  ready_to_sell(f, false);
  assert_int_equal(fn_emu_open(f->path, &f->options, &other), 0);
  status_of(f, &a);
  assert_int_equal(fn_status(other, &b), 0);
  /* A receipt by the other handle: this one's status and numbering move. */
  doc_item_t bread = plain_item("Хлеб", 100), milk = plain_item("Молоко", 250);
  assert_int_equal(fn_receipt_begin(other, DOC_OP_SALE, 0x01, "Петрова"), 0);
  assert_int_equal(fn_receipt_add(other, &bread), 0);
  status_of(f, &b);
  assert_true(b.receipt_open);
  assert_int_equal(b.receipt_items, 1);
  assert_int_equal(fn_receipt_close(other, 100, 0, false, &res), 0);
  status_of(f, &b);
  assert_false(b.receipt_open);
  assert_int_equal(b.last_document, a.last_document + 1);
  assert_int_equal(b.receipts_in_shift, a.receipts_in_shift + 1);
  assert_int_equal(b.unsent_documents, a.unsent_documents + 1);
  assert_int_equal(b.shift_totals.amount[DOC_OP_SALE], a.shift_totals.amount[DOC_OP_SALE] + 100);
  /* This handle's receipt is numbered after it. */
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &bread), 0);
  /* The other handle adds a line to it, then this one: both are sold. */
  assert_int_equal(fn_receipt_add(other, &milk), 0);
  assert_int_equal(fn_receipt_add(f->fn, &bread), 0);
  /* Paying only this handle's two lines is refused: the other's is in it. */
  assert_int_equal(fn_receipt_close(f->fn, 200, 0, false, &res), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_close(f->fn, 100 + 250 + 100, 0, false, &res), 0);
  assert_int_equal(res.number, a.last_document + 2);
  assert_int_equal(res.receipt_number, a.receipts_in_shift + 2);
  /* A receipt the other handle cancels is gone for this one too. */
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &bread), 0);
  assert_int_equal(fn_receipt_cancel(other), 0);
  assert_int_equal(fn_receipt_add(f->fn, &bread), FN_ERR_STATE);
  status_of(f, &b);
  assert_false(b.receipt_open);
  assert_int_equal(b.receipt_items, 0);
  /* A code this handle checked and the other declined cannot be sold. */
  make_ki(ki, 601);
  size_t n = code_44(km, ki, "TH01");
  doc_item_t shoe = marked_item(km, n, 5000);
  check_accept(f, &shoe, NULL);
  assert_int_equal(fn_status(other, &b), 0);
  assert_int_equal(b.checked_km, 1);
  assert_int_equal(fn_km_accept(other, shoe.km, shoe.km_len, false), 0);
  status_of(f, &b);
  assert_int_equal(b.checked_km, 0);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &shoe), FN_ERR_KM_NOT_CHECKED);
  assert_int_equal(fn_receipt_cancel(f->fn), 0);
  fn_free(other);
}

/* The status this handle gives (parts of it kept between calls) equals the
** one a handle opened now reads whole from the file (but for the clock). */
static void status_is_the_files(fixture_t *f)
{
  fn_t *fresh = NULL;
  fn_status_t kept, read;
  status_of(f, &kept);
  assert_int_equal(fn_emu_open(f->path, &f->options, &fresh), 0);
  assert_int_equal(fn_status(fresh, &read), 0);
  fn_free(fresh);
  read.now = kept.now;
  assert_memory_equal(&kept, &read, sizeof kept);
}

/*
** The status by parts (fn_emu.c, emu_status): after each kind of change a
** handle makes itself (receipts plain and marked, from an empty queue and
** onto a full one, acknowledgements, tickets, an export, a cancelled
** receipt, the shift's close and open), its status equals a fresh one.
*/
static void test_kept_status_is_the_files(void **state)
{
  fixture_t *f = *state;
  doc_item_t bread = plain_item("Хлеб", 100);
  ready_to_sell(f, false);
  status_is_the_files(f);
  for (uint32_t n = 1; n <= 2; n++) ack(f, n, 0, FN_NUMBER, 0); /* the queue empty */
  status_is_the_files(f);
  sell_plain(f, DOC_OP_SALE, 100); /* 3: onto an empty queue */
  status_is_the_files(f);
  sell_marked(f, 701); /* 4 and notification 1 */
  status_is_the_files(f);
  sell_marked(f, 702); /* onto both queues */
  status_is_the_files(f);
  ack(f, 3, 0, FN_NUMBER, 0); /* the head moves */
  status_is_the_files(f);
  ticket(f, 1, 0, 0);
  status_is_the_files(f);
  assert_int_equal(fn_notifications_exported(f->fn, 2), 0);
  status_is_the_files(f);
  sell_marked(f, 703); /* after the export mark */
  status_is_the_files(f);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(f->fn, &bread), 0);
  status_is_the_files(f);
  assert_int_equal(fn_receipt_cancel(f->fn), 0);
  status_is_the_files(f);
  assert_int_equal(fn_shift_close(f->fn, "Иванова", NULL), 0);
  status_is_the_files(f);
  assert_int_equal(fn_shift_open(f->fn, "Иванова", NULL), 0);
  status_is_the_files(f);
}

/* One receipt of a marked quarter with 1260 and an agent's ticket, begun
** and filled on fx; closed after a reopen when `reread` (every line read
** back from the file) or on the same handle (the lines it kept). Returns
** the receipt's document number. */
/* A quarter of a marked piece with 1260 (its code checked and accepted)
** and an agent's ticket: the lines kept_lines_receipt sells. */
static void kept_lines_items(fixture_t *fx, doc_item_t items[2])
{
  char ki[32], km[300];
  make_ki(ki, 88);
  size_t n = code_44(km, ki, "TH01");
  items[0] = quarter_item(km, n);
  items[0].has_industry = true;
  strcpy(items[0].industry.authority, "030");
  strcpy(items[0].industry.date, "21.11.2023");
  strcpy(items[0].industry.number, "1944");
  strcpy(items[0].industry.value, "mode=horeca");
  check_accept(fx, &items[0], NULL);
  items[1] = agent_ticket();
}

static uint32_t kept_lines_receipt(fixture_t *fx, bool reread)
{
  fn_doc_result_t res;
  doc_item_t items[2];
  kept_lines_items(fx, items);
  assert_int_equal(fn_receipt_begin(fx->fn, DOC_OP_SALE, 0x01, "Иванова"), 0);
  assert_int_equal(fn_receipt_add(fx->fn, &items[0]), 0);
  assert_int_equal(fn_receipt_add(fx->fn, &items[1]), 0);
  if (reread) reopen(fx);
  assert_int_equal(fn_receipt_close(fx->fn, 70000, 0, false, &res), 0);
  return res.number;
}

/* The sealed receipt and notification of two FNs with one secret agree. */
static void same_documents(fixture_t *a, uint32_t na, fixture_t *b, uint32_t nb)
{
  fn_document_t *d1 = malloc(sizeof *d1), *d2 = malloc(sizeof *d2);
  fn_notification_t *n1 = malloc(sizeof *n1), *n2 = malloc(sizeof *n2);
  assert_non_null(d1);
  assert_non_null(d2);
  assert_non_null(n1);
  assert_non_null(n2);
  assert_int_equal(na, nb);
  assert_int_equal(fn_document_get(a->fn, na, d1), 0);
  assert_int_equal(fn_document_get(b->fn, nb, d2), 0);
  assert_int_equal(d1->type, DOC_RECEIPT);
  assert_int_equal(d1->len, d2->len);
  assert_memory_equal(d1->data, d2->data, d1->len);
  assert_int_equal(fn_notification_next_after(a->fn, 0, n1), 0);
  assert_int_equal(fn_notification_next_after(b->fn, 0, n2), 0);
  assert_int_equal(n1->receipt_number, na);
  assert_int_equal(n1->len, n2->len);
  assert_memory_equal(n1->data, n2->data, n1->len);
  free(d1);
  free(d2);
  free(n1);
  free(n2);
}

/*
** The lines an FN handle keeps between its calls are exactly what it would
** read back from the file: two FNs with one secret and one clock make the
** same receipt, one closing it on the handle that filled it, the other
** after a reopen; the sealed receipts and notifications are equal byte for
** byte.
*/
static void test_kept_lines_are_the_files(void **state)
{
  fixture_t *f = *state;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char fn_number[17];
  fixture_t twin;
  assert_int_equal(fn_emu_read_secret(f->path, secret, fn_number), 0);
  assert_int_equal(fn_fixture_create_with_secret(&twin, "fn-twin", FN_NUMBER, T0, secret), 0);
  ready_to_sell(f, false);
  ready_to_sell(&twin, false);
  uint32_t kept = kept_lines_receipt(f, false);
  uint32_t read = kept_lines_receipt(&twin, true);
  same_documents(f, kept, &twin, read);
  fn_fixture_destroy(&twin);
}

/* The kept_lines_receipt() lines as one order (the code checked first). */
static int make_kept_lines(fixture_t *fx, const fn_t *via, fn_doc_result_t *res)
{
  doc_item_t items[2];
  kept_lines_items(fx, items);
  fn_receipt_order_t o = {.operation = DOC_OP_SALE,
                          .tax_system = 0x01,
                          .cashier = "Иванова",
                          .items = items,
                          .count = 2,
                          .pay = {.cash = 70000}};
  return fn_receipt_make((fn_t *)via, &o, res);
}

/*
** fn_receipt_make is the single calls in one: an FN making the receipt as
** one order and its twin (one secret, one clock) making it by
** fn_receipt_begin / add / close seal the same bytes, receipt and
** notification; so does the wrapper's own way for a backend without the
** call. Either leaves no receipt open and the sold code out of the table.
*/
static void test_receipt_make_is_the_single_calls(void **state)
{
  fixture_t *f = *state;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char fn_number[17];
  fixture_t twin, third;
  fn_doc_result_t res;
  fn_status_t s;
  assert_int_equal(fn_emu_read_secret(f->path, secret, fn_number), 0);
  assert_int_equal(fn_fixture_create_with_secret(&twin, "fn-twin", FN_NUMBER, T0, secret), 0);
  assert_int_equal(fn_fixture_create_with_secret(&third, "fn-third", FN_NUMBER, T0, secret), 0);
  ready_to_sell(f, false);
  ready_to_sell(&twin, false);
  ready_to_sell(&third, false);

  uint32_t by_steps = kept_lines_receipt(f, false);
  assert_int_equal(make_kept_lines(&twin, twin.fn, &res), 0);
  same_documents(f, by_steps, &twin, res.number);
  assert_int_equal(res.receipt_number, 1);
  status_of(&twin, &s);
  assert_false(s.receipt_open);
  assert_int_equal(s.checked_km, 0);
  assert_int_equal(s.last_document, res.number);

  /* A backend without the call: the wrapper makes the single calls. */
  fn_backend_t steps = *third.fn->backend;
  steps.receipt_make = NULL;
  fn_t by_wrapper = {&steps, third.fn->self};
  assert_int_equal(make_kept_lines(&third, &by_wrapper, &res), 0);
  same_documents(f, by_steps, &third, res.number);
  status_of(&third, &s);
  assert_false(s.receipt_open);
  assert_int_equal(s.checked_km, 0);
  fn_fixture_destroy(&twin);
  fn_fixture_destroy(&third);
}

/* What fn_receipt_make refuses, it refuses having changed nothing. */
static void expect_unchanged(fixture_t *f, const fn_status_t *before)
{
  fn_status_t now;
  status_of(f, &now);
  assert_int_equal(now.last_document, before->last_document);
  assert_int_equal(now.receipt_open, before->receipt_open);
  assert_int_equal(now.receipt_items, before->receipt_items);
  assert_int_equal(now.checked_km, before->checked_km);
  assert_int_equal(now.receipts_in_shift, before->receipts_in_shift);
}

static void test_receipt_make_refusals(void **state)
{
  fixture_t *f = *state;
  fn_status_t before;
  fn_doc_result_t res;
  char ki[32], km[2][300];
  size_t n[2];
  ready_to_sell(f, false);
  make_ki(ki, 21);
  n[0] = code_44(km[0], ki, "TH01");
  make_ki(ki, 22);
  n[1] = code_44(km[1], ki, "TH01");
  doc_item_t items[3] = {marked_item(km[0], n[0], 100), marked_item(km[0], n[0], 100),
                         plain_item("Хлеб", 50)};
  fn_receipt_order_t o = {.operation = DOC_OP_SALE, .tax_system = 0x01, .items = items};
  status_of(f, &before);

  o.count = 1; /* never checked: 0x3E */
  o.pay.cash = 100;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_KM_NOT_CHECKED);
  expect_unchanged(f, &before);
  assert_int_equal(fn_km_check(f->fn, &items[0], &(fn_km_check_t){0}), 0);
  status_of(f, &before);
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_KM_NOT_CHECKED); /* not accepted */
  expect_unchanged(f, &before);
  assert_int_equal(fn_km_accept(f->fn, km[0], n[0], true), 0);
  status_of(f, &before);

  o.count = 2; /* the same piece twice */
  o.pay.cash = 200;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_VALUE);
  expect_unchanged(f, &before);
  o.count = 0; /* no lines */
  o.pay.cash = 0;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_VALUE);
  expect_unchanged(f, &before);
  items[1] = items[2];
  o.count = 2; /* paid short */
  o.pay.cash = 149;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_VALUE);
  expect_unchanged(f, &before);
  o.pay.cash = 150; /* a tax system the FN was not registered with */
  o.tax_system = 0x80;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_VALUE);
  expect_unchanged(f, &before);
  o.tax_system = 0x01;
  o.operation = 9;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_PARAMS);
  o.operation = DOC_OP_SALE;
  o.count = DOC_MAX_ITEMS + 1;
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_TLV_SIZE);
  o.count = 2;
  assert_int_equal(fn_receipt_make(NULL, &o, &res), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_make(f->fn, NULL, &res), FN_ERR_PARAMS);
  expect_unchanged(f, &before);

  /* A receipt open by the single calls stays as it is. */
  doc_item_t bag = plain_item("Пакет", 7);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 0x01, ""), 0);
  assert_int_equal(fn_receipt_add(f->fn, &bag), 0);
  status_of(f, &before);
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), FN_ERR_STATE);
  expect_unchanged(f, &before);
  assert_int_equal(fn_receipt_cancel(f->fn), 0);

  /* The refusals left the accepted code usable: the order goes through. */
  status_of(f, &before);
  assert_int_equal(before.checked_km, 1);
  assert_int_equal(fn_receipt_make(f->fn, &o, &res), 0);
  assert_int_equal(res.number, before.last_document + 1);
  status_of(f, &before);
  assert_false(before.receipt_open);
  assert_int_equal(before.checked_km, 0);
}

/* ---------------------------------------------------------------------- */
/* Wrappers and the error table                                            */

static void test_wrappers_and_errors(void **state)
{
  fixture_t *f = *state;
  fn_status_t s;
  fn_document_t *d = malloc(sizeof *d);
  fn_notification_t *note = malloc(sizeof *note);
  fn_km_check_t kc;
  fn_registration_t r;
  doc_item_t it = plain_item("Хлеб", 100);
  uint8_t byte = 0;
  fn_t empty = {NULL, NULL};
  assert_non_null(d);
  assert_non_null(note);
  registration_fill(&r, false);

  assert_int_equal(fn_status(NULL, &s), FN_ERR_PARAMS);
  assert_int_equal(fn_status(&empty, &s), FN_ERR_PARAMS);
  assert_int_equal(fn_status(f->fn, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_register(NULL, &r, false, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_register(f->fn, NULL, false, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_shift_open(NULL, "", NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_shift_close(NULL, "", NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_state_report(NULL, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_close_archive(NULL, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_begin(NULL, 1, 1, ""), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_begin(f->fn, 0, 1, ""), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_begin(f->fn, 5, 1, ""), FN_ERR_PARAMS);
  char long_name[100];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  assert_int_equal(fn_receipt_begin(f->fn, 1, 1, long_name), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_add(NULL, &it), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_add(f->fn, NULL), FN_ERR_PARAMS);
  it.marked = true; /* marked without a code */
  assert_int_equal(fn_receipt_add(f->fn, &it), FN_ERR_PARAMS);
  assert_int_equal(fn_km_check(f->fn, &it, &kc), FN_ERR_PARAMS);
  it.marked = false;
  assert_int_equal(fn_receipt_close(NULL, 0, 0, false, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_receipt_cancel(NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_km_check(NULL, &it, &kc), FN_ERR_PARAMS);
  assert_int_equal(fn_km_answer(f->fn, NULL, 1, &kc), FN_ERR_PARAMS);
  assert_int_equal(fn_km_accept(f->fn, NULL, 1, true), FN_ERR_PARAMS);
  assert_int_equal(fn_km_accept(f->fn, "x", 0, true), FN_ERR_PARAMS);
  assert_int_equal(fn_document_next_unsent(NULL, d), FN_ERR_PARAMS);
  assert_int_equal(fn_document_ack(f->fn, &byte, 0), FN_ERR_PARAMS);
  assert_int_equal(fn_document_get(f->fn, 0, d), FN_ERR_PARAMS);
  assert_int_equal(fn_document_get(f->fn, 1, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_notification_next(NULL, note), FN_ERR_PARAMS);
  assert_int_equal(fn_notification_ticket(f->fn, NULL, 3), FN_ERR_PARAMS);
  assert_int_equal(fn_key_update(f->fn, NULL, 1, 0), FN_ERR_PARAMS);
  fn_key_t k = key_hmac;
  memcpy(k.id, "ABC", 4); /* 91 is four characters */
  assert_int_equal(fn_key_update(f->fn, &k, 1, 0), FN_ERR_PARAMS);
  k = key_hmac;
  k.kind = 9;
  assert_int_equal(fn_key_update(f->fn, &k, 1, 0), FN_ERR_PARAMS);
  fn_free(NULL);

  /* The table: device codes, stable names, messages in both languages. */
  assert_int_equal(fn_err_device_code(FN_ERR_OFD_OVERDUE), 0x15);
  assert_int_equal(fn_err_device_code(FN_ERR_STATE), 0x02);
  assert_int_equal(fn_err_device_code(FN_ERR_IO), 0);
  assert_int_equal(fn_err_device_code(0), 0);
  assert_string_equal(fn_err_name(FN_ERR_SHIFT_OVERDUE), "shift_overdue");
  assert_string_equal(fn_err_name(-0x77), "unknown");
  assert_string_equal(fn_err_message(FN_ERR_SHIFT_OVERDUE, true),
                      "Смена длится больше 24 часов: закройте смену");
  assert_string_equal(fn_err_message(FN_ERR_SHIFT_OVERDUE, false),
                      "The shift is over 24 hours old: close the shift");
  static const int all[] = {FN_OK,
                            FN_ERR_UNKNOWN_COMMAND,
                            FN_ERR_STATE,
                            FN_ERR_FAILURE,
                            FN_ERR_PARAMS,
                            FN_ERR_TIME,
                            FN_ERR_NO_DATA,
                            FN_ERR_VALUE,
                            FN_ERR_TLV_SIZE,
                            FN_ERR_OFD_OVERDUE,
                            FN_ERR_SHIFT_OVERDUE,
                            FN_ERR_NOTIFY_FULL,
                            FN_ERR_KM_TABLE_FULL,
                            FN_ERR_KEYS_EXPIRED,
                            FN_ERR_KM_NOT_CHECKED,
                            FN_ERR_IO,
                            FN_ERR_NO_MEMORY};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    assert_string_not_equal(fn_err_name(all[i]), "unknown");
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(fn_err_name(all[i]), fn_err_name(all[j]));
    assert_true(strlen(fn_err_message(all[i], true)) > 5);
    assert_true(strlen(fn_err_message(all[i], false)) > 5);
  }
  free(note);
  free(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_and_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counters_and_numbering, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reports_and_corrections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replacement_registration, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepayment_and_credit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fraction_and_agent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rule_24_hours, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rule_30_days, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rule_90_days, setup, teardown),
      cmocka_unit_test_setup_teardown(test_time_backwards, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_km_not_checked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_km_table_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_km_answer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_marked_receipt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsent_and_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notifications_and_tickets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ack_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ack_named_by_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ack_batch_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ack_forged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ack_without_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ticket_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notification_store_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_autonomous, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_same_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_handles_see_each_other, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_lines_are_the_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_status_is_the_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrappers_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receipt_make_is_the_single_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receipt_make_refusals, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
