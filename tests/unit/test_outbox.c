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

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "tests/support/fn_fixture.h"
#include "common/errtab.h"
#include "ofd/outbox.h"

#define FN_NUMBER "9999078900006666"
#define T0        1700000000u
#define HOUR      3600u
#define DAY       86400u

/* The FN under test, its temp file and its hand-moved clock. */
typedef fn_fixture_t fixture_t;

static int setup(void **state)
{
  *state = fn_fixture_new("outbox", FN_NUMBER, T0);
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  fn_fixture_free(*state);
  return 0;
}

/* Registered (online, or autonomous: no OFD), the key loaded, Петрова's
** shift open. */
static void do_register(fixture_t *f, bool autonomous)
{
  assert_int_equal(fn_fixture_register(f->fn, autonomous, "TH01", "Петрова"), 0);
}

/* One receipt with one marked line; returns its document number. */
static uint32_t sell_marked(fixture_t *f, unsigned serial)
{
  fn_key_t key;
  doc_item_t it;
  uint32_t number = 0;
  fn_fixture_hmac_key(&key, "TH01");
  assert_int_equal(fn_fixture_marked_line(&it, "Ботинки", 1000, "Ob", serial, &key), 0);
  assert_int_equal(fn_fixture_sell(f->fn, &it, 1, NULL, &number), 0);
  return number;
}

static outbox_status_t status_at(fixture_t *f, uint32_t now, const outbox_policy_t *p)
{
  outbox_status_t s;
  assert_int_equal(outbox_status(f->fn, now, p, &s), 0);
  return s;
}

/* Marked goods refused at s (default policy), the reason naming the rule
** in Russian and in English; the reason. */
static outbox_notice_t expect_marked_refused(const outbox_status_t *s, const char *ru,
                                             const char *en)
{
  outbox_notice_t reason;
  assert_false(outbox_may_sell_marked(s, NULL, &reason));
  assert_non_null(strstr(reason.ru, ru));
  assert_non_null(strstr(reason.en, en));
  assert_null(strstr(reason.ru, "/ ")); /* one language a text */
  assert_true(errtab_text_whole(reason.ru) && errtab_text_whole(reason.en));
  return reason;
}

static void test_arguments(void **state)
{
  fixture_t *f = *state;
  outbox_status_t s;
  outbox_notice_t reason, w[4];
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
  assert_null(reason.name);
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
  assert_int_equal(s.first_notification_number, 1); /* 82s are numbered from 1 */
  assert_int_equal(s.first_notification_time, T0 + HOUR);
  assert_int_equal(s.oldest_notification_age, HOUR);
  assert_int_equal(s.level, OUTBOX_OK);
  assert_int_equal(s.documents_seconds_left, 30 * DAY - 2 * HOUR);

  /* Tickets and acknowledgements take them out: the FN is the truth. */
  assert_int_equal(fn_fixture_ticket(f->fn, s.first_notification_number, 0), 0);
  assert_int_equal(fn_fixture_ack(f->fn, FN_NUMBER, 1, f->now, 0), 0);
  s = status_at(f, 0, NULL);
  assert_int_equal(s.unsent_documents, 3);
  assert_int_equal(s.first_unsent_number, 2);
  assert_int_equal(s.unsent_notifications, 1);
  assert_int_equal(s.first_notification_number, 2);
  assert_int_equal(s.first_notification_time, T0 + 2 * HOUR);
  assert_int_equal(s.oldest_notification_age, 0);
  (void)r1;
}

static void test_thirty_day_rule(void **state)
{
  fixture_t *f = *state;
  outbox_notice_t reason, w[4];
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
  /* The true time left, not a fixed sentence. */
  assert_string_equal(w[0].name, "fn_warning");
  assert_non_null(strstr(w[0].ru, "25 дней: через 5 дней ФН перестанет"));
  assert_non_null(strstr(w[0].en, "for 25 days: in 5 days the FN stops"));
  s = status_at(f, T0 + 28 * DAY + 3 * HOUR, NULL);
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 1);
  assert_non_null(strstr(w[0].ru, "через 1 день 21 час ФН"));
  assert_non_null(strstr(w[0].en, "in 1 day 21 hours the FN"));

  s = status_at(f, T0 + 30 * DAY - 1, NULL);
  assert_int_equal(s.documents_level, OUTBOX_WARNING);
  assert_int_equal(s.documents_seconds_left, 1);

  s = status_at(f, T0 + 30 * DAY, NULL);
  assert_int_equal(s.documents_level, OUTBOX_BLOCKED);
  assert_int_equal(s.documents_seconds_left, 0);
  reason = expect_marked_refused(&s, "30 дней", "30 days");
  assert_non_null(strstr(reason.ru, "0x15"));

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
  outbox_notice_t reason, w[4];
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
  assert_null(reason.name);
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 1);
  assert_string_equal(w[0].name, "batch_warning");
  assert_int_equal(w[0].seconds_left, 24 * HOUR);
  assert_non_null(strstr(w[0].ru, "оператору 2 дня: через 1 день продажа"));
  assert_non_null(strstr(w[0].en, "waited 2 days: in 1 day sales"));
  /* At 49 h: 23 hours left (the old text said "72 hours"). */
  s = status_at(f, first + 49 * HOUR, NULL);
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 1);
  assert_non_null(strstr(w[0].ru, "через 23 часа продажа маркированных товаров будет остановлена"));
  assert_non_null(strstr(w[0].en, "in 23 hours sales of marked goods stop"));
  assert_null(strstr(w[0].ru, "72"));
  s = status_at(f, first + 71 * HOUR + 20 * 60, NULL);
  assert_int_equal(outbox_warnings(&s, NULL, w, 4), 1);
  assert_non_null(strstr(w[0].ru, "через 40 минут продажа"));

  s = status_at(f, first + 72 * HOUR - 1, NULL);
  assert_int_equal(s.batch_level, OUTBOX_WARNING);
  assert_true(outbox_may_sell_marked(&s, NULL, NULL));

  s = status_at(f, first + 72 * HOUR, NULL);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);
  assert_int_equal(s.batch_seconds_left, 0);
  expect_marked_refused(&s, "3 дня", "3 days");

  /* A shop whose policy only warns keeps selling, and is told so. */
  outbox_policy_t p;
  outbox_policy_defaults(&p);
  p.batch_refuses_marked = false;
  s = status_at(f, first + 80 * HOUR, &p);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);
  assert_true(outbox_may_sell_marked(&s, &p, &reason));
  assert_int_equal(outbox_warnings(&s, &p, w, 4), 1);
  assert_non_null(strstr(w[0].en, "the limit is 3 days"));
  assert_non_null(strstr(w[0].ru, "срок 3 дня"));

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
    assert_int_equal(fn_fixture_ticket(f->fn, n->number, 0), 0);
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
  return cmocka_run_group_tests(tests, fn_fixture_crypto_setup, fn_fixture_crypto_teardown);
}
