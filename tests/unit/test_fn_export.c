/*
** tests/unit/test_fn_export.c: the FN's export for remote shops (fiscal/fn.h,
** "Export for remote shops") in the emulator.
**
** What a batch relies on: notifications read in number order past any
** point (fn_notification_next_after), the export mark that moves only
** forward, survives a restart and takes exactly the unticketed
** notifications it passes off the three-day clock (the unexported count and
** the oldest unexported notification in fn_status), and an export
** signature that the operator can recompute from the FN's secret but that
** can never pass for a fiscal sign. Also: a file made before batches
** (schema version 1) is upgraded on open with nothing lost, and the
** test-only KASSA_FAKE_NOW clock.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "tests/support/fn_fixture.h"

#define FN_NUMBER "9999078900004242"
#define T0        1700000000u
#define HOUR      3600u

static int setup(void **state)
{
  *state = fn_fixture_new("export", FN_NUMBER, T0);
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  fn_fixture_free(*state);
  return 0;
}

/* An autonomous marking FN (the user's INN is asserted below) with a key
** and an open shift. */
static void ready(fn_fixture_t *f)
{
  fn_registration_t r;
  fn_key_t key;
  fn_fixture_registration(&r, true);
  strcpy(r.header.user_inn, "7707083893");
  fn_fixture_hmac_key(&key, "TX01");
  assert_int_equal(fn_fixture_prepare(f->fn, &r, &key, "Кассир"), 0);
}

/* One receipt with one marked line (its tail verified) at the fixture's
** clock. */
static void sell(fn_fixture_t *f, unsigned serial)
{
  fn_key_t key;
  doc_item_t it;
  fn_fixture_hmac_key(&key, "TX01");
  assert_int_equal(fn_fixture_marked_line(&it, "Валенки", 1500, "Ex", serial, &key), 0);
  assert_int_equal(fn_fixture_sell(f->fn, &it, 1, NULL, NULL), 0);
}

static void ticket(fn_fixture_t *f, uint32_t number)
{
  assert_int_equal(fn_fixture_ticket(f->fn, number, 0), 0);
}

static fn_status_t status_of(fn_fixture_t *f)
{
  fn_status_t s;
  assert_int_equal(fn_status(f->fn, &s), 0);
  return s;
}

static void test_arguments(void **state)
{
  fn_fixture_t *f = *state;
  uint8_t mac[FN_BLOB_MAC_SIZE];
  fn_notification_t *n = malloc(sizeof *n);
  assert_non_null(n);
  assert_int_equal(fn_notification_next_after(NULL, 0, n), FN_ERR_PARAMS);
  assert_int_equal(fn_notification_next_after(f->fn, 0, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_notifications_exported(NULL, 1), FN_ERR_PARAMS);
  assert_int_equal(fn_notifications_exported(f->fn, 0), FN_ERR_PARAMS);
  assert_int_equal(fn_sign_blob(f->fn, NULL, 1, mac), FN_ERR_PARAMS);
  assert_int_equal(fn_sign_blob(f->fn, (const uint8_t *)"x", 1, NULL), FN_ERR_PARAMS);
  assert_int_equal(fn_sign_blob(NULL, (const uint8_t *)"x", 1, mac), FN_ERR_PARAMS);
  /* A backend that predates export answers "unknown command". */
  fn_backend_t old = *f->fn->backend;
  old.notifications_exported = NULL;
  fn_t shim = {&old, f->fn->self};
  assert_int_equal(fn_notifications_exported(&shim, 1), FN_ERR_UNKNOWN_COMMAND);
  /* An unregistered FN has nothing: nothing to read, no number to mark. */
  assert_int_equal(fn_notification_next_after(f->fn, 0, n), FN_ERR_NO_DATA);
  assert_int_equal(fn_notifications_exported(f->fn, 1), FN_ERR_NO_DATA);
  fn_status_t s = status_of(f);
  assert_int_equal(s.last_notification, 0);
  assert_int_equal(s.unexported_notifications, 0);
  assert_string_equal(s.user_inn, "");
  free(n);
}

static void test_read_and_mark(void **state)
{
  fn_fixture_t *f = *state;
  fn_notification_t *n = malloc(sizeof *n);
  assert_non_null(n);
  ready(f);
  f->now = T0 + 1 * HOUR;
  sell(f, 1);
  f->now = T0 + 2 * HOUR;
  sell(f, 2);
  f->now = T0 + 3 * HOUR;
  sell(f, 3);

  fn_status_t s = status_of(f);
  assert_string_equal(s.user_inn, "7707083893");
  assert_int_equal(s.last_notification, 3);
  assert_int_equal(s.unsent_notifications, 3);
  assert_int_equal(s.unexported_notifications, 3);
  assert_int_equal(s.first_unexported_notification_number, 1);
  assert_int_equal(s.first_unexported_notification_time, T0 + HOUR);
  assert_int_equal(s.notifications_exported_through, 0);
  assert_int_equal(s.notifications_exported_at, 0);

  /* Reading in order past any point. */
  for (uint32_t after = 0; after < 3; after++) {
    assert_int_equal(fn_notification_next_after(f->fn, after, n), 0);
    assert_int_equal(n->number, after + 1);
    assert_int_equal(n->time, T0 + (after + 1) * HOUR);
    assert_true(n->len > 0);
  }
  assert_int_equal(fn_notification_next_after(f->fn, 3, n), FN_ERR_NO_DATA);
  assert_int_equal(fn_notification_next_after(f->fn, 1000, n), FN_ERR_NO_DATA);

  /* A number the FN never made: refused, nothing changes. */
  assert_int_equal(fn_notifications_exported(f->fn, 4), FN_ERR_NO_DATA);
  assert_int_equal(status_of(f).unexported_notifications, 3);

  f->now = T0 + 10 * HOUR;
  assert_int_equal(fn_notifications_exported(f->fn, 2), 0);
  s = status_of(f);
  assert_int_equal(s.notifications_exported_through, 2);
  assert_int_equal(s.notifications_exported_at, T0 + 10 * HOUR);
  assert_int_equal(s.unexported_notifications, 1);
  assert_int_equal(s.first_unexported_notification_number, 3);
  assert_int_equal(s.first_unexported_notification_time, T0 + 3 * HOUR);
  /* Exported is not delivered: they still wait for tickets. */
  assert_int_equal(s.unsent_notifications, 3);
  assert_int_equal(fn_notification_next(f->fn, n), 0);
  assert_int_equal(n->number, 1);

  /* The mark never moves back; marking again changes nothing. */
  f->now = T0 + 11 * HOUR;
  assert_int_equal(fn_notifications_exported(f->fn, 1), 0);
  assert_int_equal(fn_notifications_exported(f->fn, 2), 0);
  s = status_of(f);
  assert_int_equal(s.notifications_exported_through, 2);
  assert_int_equal(s.notifications_exported_at, T0 + 10 * HOUR);
  assert_int_equal(s.unexported_notifications, 1);

  /* Tickets: an unexported one leaves the clock, an exported one only the store. */
  ticket(f, 3);
  s = status_of(f);
  assert_int_equal(s.unexported_notifications, 0);
  assert_int_equal(s.first_unexported_notification_number, 0);
  assert_int_equal(s.first_unexported_notification_time, 0);
  assert_int_equal(s.unsent_notifications, 2);
  ticket(f, 1);
  s = status_of(f);
  assert_int_equal(s.unexported_notifications, 0);
  assert_int_equal(s.unsent_notifications, 1);
  assert_int_equal(fn_notification_next_after(f->fn, 0, n), 0);
  assert_int_equal(n->number, 2); /* ticketed ones are skipped */
  assert_int_equal(fn_notification_next_after(f->fn, 2, n), FN_ERR_NO_DATA);

  /* Marking past a ticketed notification counts only the unticketed. */
  assert_int_equal(fn_notifications_exported(f->fn, 3), 0);
  s = status_of(f);
  assert_int_equal(s.notifications_exported_through, 3);
  assert_int_equal(s.unexported_notifications, 0);

  /* The next sale starts a new clock. */
  f->now = T0 + 12 * HOUR;
  sell(f, 4);
  s = status_of(f);
  assert_int_equal(s.unexported_notifications, 1);
  assert_int_equal(s.first_unexported_notification_number, 4);
  assert_int_equal(s.first_unexported_notification_time, T0 + 12 * HOUR);
  free(n);
}

static void test_durable(void **state)
{
  fn_fixture_t *f = *state;
  ready(f);
  sell(f, 10);
  sell(f, 11);
  assert_int_equal(fn_notifications_exported(f->fn, 1), 0);
  fn_free(f->fn);
  f->fn = NULL;
  assert_int_equal(fn_emu_open(f->path, &f->options, &f->fn), 0);
  fn_status_t s = status_of(f);
  assert_int_equal(s.notifications_exported_through, 1);
  assert_int_equal(s.unexported_notifications, 1);
  assert_int_equal(s.first_unexported_notification_number, 2);
  /* A closed FN still owes its batch: marking is allowed in POST. */
  assert_int_equal(fn_shift_close(f->fn, NULL, NULL), 0);
  assert_int_equal(fn_close_archive(f->fn, NULL), 0);
  assert_int_equal(fn_notifications_exported(f->fn, 2), 0);
  assert_int_equal(status_of(f).unexported_notifications, 0);
}

static void test_sign_blob(void **state)
{
  fn_fixture_t *f = *state;
  uint8_t secret[FN_EMU_SECRET_SIZE], mac[FN_BLOB_MAC_SIZE], again[FN_BLOB_MAC_SIZE];
  uint8_t plain[CRYPTO_STREEBOG256_SIZE], expect[FN_BLOB_MAC_SIZE];
  char number[17];
  static const uint8_t data[] = "{\"format\":\"kassa-batch\"}";
  assert_int_equal(fn_emu_read_secret(f->path, secret, number), 0);
  assert_int_equal(fn_sign_blob(f->fn, data, sizeof data - 1, mac), 0);
  assert_int_equal(fn_emu_blob_mac(secret, data, sizeof data - 1, expect), 0);
  assert_memory_equal(mac, expect, sizeof mac);
  /* The prefix is part of it: not the plain HMAC of the data. */
  assert_int_equal(crypto_hmac_streebog256(secret, sizeof secret, data, sizeof data - 1, plain), 0);
  assert_memory_not_equal(mac, plain, sizeof mac);
  /* Deterministic, and any change of the data changes it. */
  assert_int_equal(fn_sign_blob(f->fn, data, sizeof data - 1, again), 0);
  assert_memory_equal(mac, again, sizeof mac);
  assert_int_equal(fn_sign_blob(f->fn, data, sizeof data - 2, again), 0);
  assert_memory_not_equal(mac, again, sizeof mac);
  assert_int_equal(fn_sign_blob(f->fn, NULL, 0, again), 0); /* empty is allowed */

  /* No export signature is a fiscal sign: sign the bytes a fiscal sign
  ** covers and compare with the document's real 1077. */
  ready(f);
  fn_document_t *doc = malloc(sizeof *doc);
  uint8_t *part = malloc(DOC_MAX_DOCUMENT), sign[DOC_SIGN_SIZE];
  size_t part_len = 0;
  assert_non_null(doc);
  assert_non_null(part);
  assert_int_equal(fn_document_get(f->fn, 1, doc), 0);
  assert_int_equal(doc_signed_part(doc->data, doc->len, part, DOC_MAX_DOCUMENT, &part_len, sign),
                   0);
  assert_int_equal(fn_sign_blob(f->fn, part, part_len, mac), 0);
  assert_memory_not_equal(mac, sign, DOC_SIGN_SIZE);
  assert_int_equal(fn_emu_verify_sign(secret, doc->data, doc->len), 0);
  free(part);
  free(doc);
}

static void exec_sql(const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  char *err = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK) fprintf(stderr, "sql: %s\n", err ? err : "?");
  sqlite3_free(err);
  sqlite3_close(db);
  assert_int_equal(rc, SQLITE_OK);
}

static int schema_version(const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int v = -1;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT schema_version FROM meta", -1, &s, NULL),
                   SQLITE_OK);
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

static void test_schema_upgrade(void **state)
{
  fn_fixture_t *f = *state;
  ready(f);
  f->now = T0 + HOUR;
  sell(f, 20);
  f->now = T0 + 2 * HOUR;
  sell(f, 21);
  ticket(f, 1);
  fn_free(f->fn);
  f->fn = NULL;
  /* What a file written before batches looks like. */
  exec_sql(f->path, "ALTER TABLE meta DROP COLUMN exported_through;"
                    "ALTER TABLE meta DROP COLUMN exported_at;"
                    "ALTER TABLE meta DROP COLUMN unexported_notifications;"
                    "UPDATE meta SET schema_version = 1;");
  assert_int_equal(schema_version(f->path), 1);
  assert_int_equal(fn_emu_open(f->path, &f->options, &f->fn), 0);
  assert_int_equal(schema_version(f->path), 2);
  fn_status_t s = status_of(f);
  assert_int_equal(s.unsent_notifications, 1);
  assert_int_equal(s.unexported_notifications, 1);
  assert_int_equal(s.first_unexported_notification_number, 2);
  assert_int_equal(s.first_unexported_notification_time, T0 + 2 * HOUR);
  assert_int_equal(s.notifications_exported_through, 0);
  /* And it works as a version 2 file from then on. */
  assert_int_equal(fn_notifications_exported(f->fn, 2), 0);
  assert_int_equal(status_of(f).unexported_notifications, 0);
  /* A version this code does not know is refused, not guessed at. */
  fn_free(f->fn);
  f->fn = NULL;
  exec_sql(f->path, "UPDATE meta SET schema_version = 99;");
  assert_int_equal(fn_emu_open(f->path, &f->options, &f->fn), FN_ERR_FAILURE);
  exec_sql(f->path, "UPDATE meta SET schema_version = 2;");
  assert_int_equal(fn_emu_open(f->path, &f->options, &f->fn), 0);
}

static void test_fake_now(void **state)
{
  (void)state;
  assert_int_equal(setenv("KASSA_FAKE_NOW", "1234567", 1), 0);
  assert_int_equal(fn_emu_system_clock(NULL), 1234567u);
  assert_int_equal(unsetenv("KASSA_FAKE_NOW"), 0);
  uint32_t real = fn_emu_system_clock(NULL);
  /* The real clock: within a day of time() whatever the time zone. */
  long long diff = (long long)real - (long long)time(NULL);
  assert_true(diff > -86400 && diff < 86400);
  /* A value that is not FFD seconds stops the process with a message. */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setenv("KASSA_FAKE_NOW", "tomorrow", 1);
    if (!freopen("/dev/null", "w", stderr)) _exit(1);
    (void)fn_emu_system_clock(NULL);
    _exit(0);
  }
  int wstatus = 0;
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  assert_true(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGABRT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_and_mark, setup, teardown),
      cmocka_unit_test_setup_teardown(test_durable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sign_blob, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schema_upgrade, setup, teardown),
      cmocka_unit_test(test_fake_now),
  };
  return cmocka_run_group_tests(tests, fn_fixture_crypto_setup, fn_fixture_crypto_teardown);
}
