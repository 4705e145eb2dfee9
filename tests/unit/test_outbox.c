/*
** tests/unit/test_outbox.c: what the till owes and the deadlines that
** follow from it (ofd/outbox.h), read from a real emulated FN.
**
** The FN's clock and the `now` given to outbox_status() are injected, so
** each threshold is checked on both sides of its exact second: the 25-day
** warning and 30-day block of unacknowledged documents, and the 48-hour
** warning and 72-hour refusal of marked sales for an autonomous till whose
** sale notifications wait for their batch.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "tests/support/fn_fixture.h"
#include "ofd/outbox.h"

#define FN_NUMBER "9999078900006666"
#define T0        1700000000u
#define HOUR      3600u
#define DAY       86400u
#define GS        "\x1d"

static const uint8_t key_material[32] = {
    0x21, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

/* The FN under test, its temp file and its hand-moved clock. */
typedef fn_fixture_t fixture_t;
#define FX(f) (f)

static int group_setup(void **state)
{
  (void)state;
  return crypto_init() == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
  (void)state;
  crypto_shutdown();
  return 0;
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  if (!f || fn_fixture_create(FX(f), "outbox", FN_NUMBER, T0) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  fn_fixture_destroy(FX(f));
  free(f);
  return 0;
}

static void do_register(fixture_t *f, bool autonomous)
{
  fn_registration_t r;
  fn_key_t key;
  memset(&r, 0, sizeof r);
  strcpy(r.header.kkt_reg_number, "0000000001012345");
  strcpy(r.header.user_inn, "7700000000");
  strcpy(r.header.user_name, "ИП Северный");
  strcpy(r.header.address, "с. Дальнее");
  strcpy(r.header.place, "Магазин");
  r.header.autonomous = autonomous;
  r.reg.tax_systems = 1;
  if (!autonomous) {
    strcpy(r.reg.ofd_inn, "7704211201");
    strcpy(r.reg.ofd_name, "ОФД");
  }
  strcpy(r.reg.kkt_serial, "00106700000042");
  r.reg.marking = true;
  r.reg.ffd_version = 4;
  assert_int_equal(fn_register(f->fn, &r, false, NULL), 0);
  memset(&key, 0, sizeof key);
  memcpy(key.id, "TH01", 5);
  key.kind = FN_KEY_HMAC;
  key.len = sizeof key_material;
  memcpy(key.material, key_material, sizeof key_material);
  assert_int_equal(fn_key_update(f->fn, &key, 1, 0), 0);
  assert_int_equal(fn_shift_open(f->fn, "Петрова", NULL), 0);
}

/* One receipt with one marked line; returns its document number. */
static uint32_t sell_marked(fixture_t *f, unsigned serial)
{
  char ki[40], tail[48];
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  doc_item_t it;
  fn_km_check_t check;
  fn_doc_result_t res;
  memset(&it, 0, sizeof it);
  strcpy(it.name, "Ботинки");
  it.price = it.total = 1000;
  it.quantity = (doc_quantity_t){1, 0};
  it.vat = 1;
  it.subject = 33;
  it.payment_method = 4;
  snprintf(ki, sizeof ki,
           "0104600000000017"
           "21"
           "Ob%011u",
           serial);
  assert_int_equal(crypto_hmac_streebog256(key_material, sizeof key_material, (const uint8_t *)ki,
                                           strlen(ki), mac),
                   0);
  fn_fixture_base64(mac, sizeof mac, tail);
  it.marked = true;
  it.km_len = (size_t)snprintf(it.km, sizeof it.km, "%s" GS "91TH01" GS "92%s", ki, tail);
  it.km_status = DOC_KM_PIECE_SOLD;
  assert_int_equal(fn_km_check(f->fn, &it, &check), 0);
  assert_int_equal(fn_km_accept(f->fn, it.km, it.km_len, true), 0);
  assert_int_equal(fn_receipt_begin(f->fn, DOC_OP_SALE, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(f->fn, &it), 0);
  assert_int_equal(fn_receipt_close(f->fn, 1000, 0, false, &res), 0);
  return res.number;
}

static outbox_status_t status_at(fixture_t *f, uint32_t now, const outbox_policy_t *p)
{
  outbox_status_t s;
  assert_int_equal(outbox_status(f->fn, now, p, &s), 0);
  return s;
}

static void test_arguments(void **state)
{
  fixture_t *f = *state;
  outbox_status_t s;
  const char *reason = "x";
  const char *w[4];
  assert_int_equal(outbox_status(NULL, 0, NULL, &s), FN_ERR_PARAMS);
  assert_int_equal(outbox_status(f->fn, 0, NULL, NULL), FN_ERR_PARAMS);
  assert_false(outbox_may_sell_marked(NULL, NULL, &reason));
  assert_int_equal(outbox_warnings(NULL, NULL, w, 4), 0);
  assert_string_equal(outbox_level_name(OUTBOX_WARNING), "warning");
  /* An unregistered FN owes nothing. */
  s = status_at(f, 0, NULL);
  assert_int_equal(s.unsent_documents, 0);
  assert_int_equal(s.unsent_notifications, 0);
  assert_int_equal(s.level, OUTBOX_OK);
  assert_true(outbox_may_sell_marked(&s, NULL, &reason));
  assert_null(reason);
}

static void test_counts_and_ages(void **state)
{
  fixture_t *f = *state;
  do_register(f, false); /* documents 1 (registration) and 2 (shift open) */
  f->now = T0 + HOUR;
  uint32_t r1 = sell_marked(f, 1);
  f->now = T0 + 2 * HOUR;
  sell_marked(f, 2);
  outbox_status_t s = status_at(f, 0, NULL); /* 0: the FN's own clock */
  assert_string_equal(s.fn_number, FN_NUMBER);
  assert_false(s.autonomous);
  assert_int_equal(s.now, T0 + 2 * HOUR);
  assert_int_equal(s.unsent_documents, 4);
  assert_int_equal(s.first_unsent_number, 1);
  assert_int_equal(s.first_unsent_time, T0);
  assert_int_equal(s.oldest_document_age, 2 * HOUR);
  assert_int_equal(s.unsent_notifications, 2);
  assert_true(s.first_notification_number >= 1);
  assert_int_equal(s.first_notification_time, T0 + HOUR);
  assert_int_equal(s.oldest_notification_age, HOUR);
  assert_int_equal(s.level, OUTBOX_OK);
  assert_int_equal(s.documents_seconds_left, 30 * DAY - 2 * HOUR);

  /* Tickets and acknowledgements take them out: the FN is the truth. */
  uint8_t buf[256];
  size_t len = 0;
  doc_km_ticket_t t = {s.first_notification_number, 0, 0};
  assert_int_equal(doc_build_km_ticket(&t, buf, sizeof buf, &len), 0);
  assert_int_equal(fn_notification_ticket(f->fn, buf, len), 0);
  doc_ack_t a;
  memset(&a, 0, sizeof a);
  strcpy(a.ofd_inn, "7704211201");
  strcpy(a.fn_number, FN_NUMBER);
  a.document_number = 1;
  a.time = f->now;
  a.operator_sign_len = 18;
  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(fn_document_ack(f->fn, buf, len), 0);
  s = status_at(f, 0, NULL);
  assert_int_equal(s.unsent_documents, 3);
  assert_int_equal(s.first_unsent_number, 2);
  assert_int_equal(s.unsent_notifications, 1);
  assert_int_equal(s.first_notification_time, T0 + 2 * HOUR);
  assert_int_equal(s.oldest_notification_age, 0);
  (void)r1;
}

static void test_thirty_day_rule(void **state)
{
  fixture_t *f = *state;
  const char *reason = NULL;
  const char *w[4];
  do_register(f, false);
  outbox_status_t s = status_at(f, T0 + 25 * DAY - 1, NULL);
  assert_int_equal(s.documents_level, OUTBOX_OK);
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 0);

  s = status_at(f, T0 + 25 * DAY, NULL);
  assert_int_equal(s.documents_level, OUTBOX_WARNING);
  assert_int_equal(s.level, OUTBOX_WARNING);
  assert_int_equal(s.documents_seconds_left, 5 * DAY);
  assert_true(outbox_may_sell_marked(&s, NULL, &reason));
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 1);
  assert_non_null(strstr(w[0], "25"));

  s = status_at(f, T0 + 30 * DAY - 1, NULL);
  assert_int_equal(s.documents_level, OUTBOX_WARNING);
  assert_int_equal(s.documents_seconds_left, 1);

  s = status_at(f, T0 + 30 * DAY, NULL);
  assert_int_equal(s.documents_level, OUTBOX_BLOCKED);
  assert_int_equal(s.documents_seconds_left, 0);
  assert_false(outbox_may_sell_marked(&s, NULL, &reason));
  assert_non_null(reason);
  assert_non_null(strstr(reason, "0x15"));
  assert_non_null(strstr(reason, "30 дней"));
  assert_non_null(strstr(reason, "30 days"));

  /* The FN agrees: at 30 days + 1 s it refuses a new document. */
  f->now = T0 + 30 * DAY + 1;
  assert_int_equal(fn_shift_close(f->fn, NULL, NULL), FN_ERR_OFD_OVERDUE);

  /* A policy can warn earlier; the block is the FN's own and stays. */
  outbox_policy_t p;
  outbox_policy_defaults(&p);
  p.fn_warn_days = 10;
  s = status_at(f, T0 + 10 * DAY, &p);
  assert_int_equal(s.documents_level, OUTBOX_WARNING);
}

static void test_three_day_batch(void **state)
{
  fixture_t *f = *state;
  const char *reason = NULL;
  const char *w[4];
  do_register(f, true);
  f->now = T0 + 5 * HOUR;
  sell_marked(f, 10);
  f->now = T0 + 6 * HOUR;
  sell_marked(f, 11);
  const uint32_t first = T0 + 5 * HOUR;

  outbox_status_t s = status_at(f, first + 48 * HOUR - 1, NULL);
  assert_true(s.autonomous);
  assert_int_equal(s.unsent_documents, 0); /* an autonomous FN queues none for an OFD */
  assert_int_equal(s.unsent_notifications, 2);
  assert_int_equal(s.first_notification_time, first);
  assert_int_equal(s.batch_level, OUTBOX_OK);
  assert_int_equal(s.batch_seconds_left, 24 * HOUR + 1);

  s = status_at(f, first + 48 * HOUR, NULL);
  assert_int_equal(s.batch_level, OUTBOX_WARNING);
  assert_int_equal(s.level, OUTBOX_WARNING);
  assert_true(outbox_may_sell_marked(&s, NULL, &reason));
  assert_null(reason);
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 1);
  assert_non_null(strstr(w[0], "48"));

  s = status_at(f, first + 72 * HOUR - 1, NULL);
  assert_int_equal(s.batch_level, OUTBOX_WARNING);
  assert_true(outbox_may_sell_marked(&s, NULL, NULL));

  s = status_at(f, first + 72 * HOUR, NULL);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);
  assert_int_equal(s.batch_seconds_left, 0);
  assert_false(outbox_may_sell_marked(&s, NULL, &reason));
  assert_non_null(reason);
  assert_non_null(strstr(reason, "3 дня"));
  assert_non_null(strstr(reason, "3 days"));

  /* A shop whose policy only warns keeps selling, and is told so. */
  outbox_policy_t p;
  outbox_policy_defaults(&p);
  p.batch_refuses_marked = false;
  s = status_at(f, first + 80 * HOUR, &p);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);
  assert_true(outbox_may_sell_marked(&s, &p, &reason));
  assert_int_equal(outbox_warnings(&s, &p, w, 4), 1);
  assert_non_null(strstr(w[0], "3 days"));

  /* Configurable hours. */
  p.batch_refuses_marked = true;
  p.batch_warn_hours = 12;
  p.batch_refuse_hours = 24;
  s = status_at(f, first + 12 * HOUR, &p);
  assert_int_equal(s.batch_level, OUTBOX_WARNING);
  s = status_at(f, first + 24 * HOUR, &p);
  assert_false(outbox_may_sell_marked(&s, &p, NULL));

  /* The batch delivered (tickets for both): selling again. */
  for (int i = 0; i < 2; i++) {
    fn_notification_t *n = malloc(sizeof *n);
    assert_non_null(n);
    assert_int_equal(fn_notification_next(f->fn, n), 0);
    doc_km_ticket_t t = {n->number, 0, 0};
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(doc_build_km_ticket(&t, buf, sizeof buf, &len), 0);
    assert_int_equal(fn_notification_ticket(f->fn, buf, len), 0);
    free(n);
  }
  s = status_at(f, first + 100 * HOUR, NULL);
  assert_int_equal(s.unsent_notifications, 0);
  assert_int_equal(s.level, OUTBOX_OK);
  assert_true(outbox_may_sell_marked(&s, NULL, NULL));
}

static void test_batch_rule_online(void **state)
{
  fixture_t *f = *state;
  do_register(f, false);
  sell_marked(f, 20);
  /* An online till sends notifications as it goes: no batch deadline by
  ** default, only when the policy asks for it. */
  outbox_status_t s = status_at(f, T0 + 80 * HOUR, NULL);
  assert_int_equal(s.batch_level, OUTBOX_OK);
  outbox_policy_t p;
  outbox_policy_defaults(&p);
  p.batch_applies_online = true;
  s = status_at(f, T0 + 80 * HOUR, &p);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);
  assert_false(outbox_may_sell_marked(&s, &p, NULL));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counts_and_ages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_thirty_day_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_three_day_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_rule_online, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
