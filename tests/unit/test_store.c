/*
** tests/unit/test_store.c: kassa-operator's store transactions
** (ofd/emulator/store.h), the ground its group commit stands on.
**
** The frame port answers everything one read brought inside one store
** transaction, and a sale notification's own handling (oism.c) opens and
** ends a transaction inside it. So store_begin must nest: an inner commit
** makes nothing durable by itself, an inner rollback undoes only its own
** part, and the outer commit makes the rest durable at once. Each case is
** checked through a second connection to the same file, which sees only
** what is committed, as a restarted operator would.
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

#include <sqlite3.h>

#include "ofd/emulator/store.h"

#define FN_A "9999078900001111"
#define FN_B "9999078900002222"

typedef struct fixture {
  char dir[64];
  store_t *store;
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/kassa-store-XXXXXX");
  if (!mkdtemp(f->dir) || store_open(f->dir, &f->store) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  char path[128];
  store_close(f->store);
  static const char *const files[] = {"operator.db", "operator.db-wal", "operator.db-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
    unlink(path);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

/* Rows a second connection sees: what is committed. */
static int committed(fixture_t *f, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int n = -1;
  assert_int_equal(sqlite3_open_v2(store_path(f->store), &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

static void put_document(fixture_t *f, const char *fn, uint32_t number)
{
  uint8_t tlv[4] = {3, 0, 0, 0};
  uint32_t at = 0;
  bool same = false;
  tlv[3] = (uint8_t)number;
  assert_int_equal(store_document_put(f->store, fn, number, 3, tlv, sizeof tlv, 1000, &at, &same),
                   0);
  assert_true(same);
}

static void put_note(fixture_t *f, const char *fn, uint32_t number)
{
  assert_int_equal(store_notification_put(f->store, fn, number, 1000, 0, 0), 0);
}

/* A group: an inner commit is durable only with the outer one; an inner
** rollback takes back its own part and nothing else. */
static void test_nested_in_a_group(void **state)
{
  fixture_t *f = *state;
  assert_int_equal(store_begin(f->store), 0); /* the group */
  put_document(f, FN_A, 1);
  assert_int_equal(store_begin(f->store), 0); /* a notification, applied */
  put_note(f, FN_A, 1);
  assert_int_equal(store_commit(f->store), 0);
  assert_int_equal(store_begin(f->store), 0); /* a notification found malformed */
  put_note(f, FN_A, 2);
  store_rollback(f->store);
  put_document(f, FN_A, 2);
  /* Nothing is visible outside before the group commits. */
  assert_int_equal(committed(f, "SELECT count(*) FROM documents"), 0);
  assert_int_equal(committed(f, "SELECT count(*) FROM notifications"), 0);
  assert_int_equal(store_commit(f->store), 0);
  assert_int_equal(committed(f, "SELECT count(*) FROM documents"), 2);
  assert_int_equal(committed(f, "SELECT count(*) FROM notifications"), 1);
  assert_int_equal(committed(f, "SELECT number FROM notifications"), 1);
}

/* A group rolled back (the store failed mid-group) takes its inner
** commits with it; the store is usable afterwards, at depth 0 again. */
static void test_group_rolled_back(void **state)
{
  fixture_t *f = *state;
  assert_int_equal(store_begin(f->store), 0);
  put_document(f, FN_B, 7);
  assert_int_equal(store_begin(f->store), 0);
  put_note(f, FN_B, 7);
  assert_int_equal(store_commit(f->store), 0);
  store_rollback(f->store);
  assert_int_equal(committed(f, "SELECT count(*) FROM documents"), 0);
  assert_int_equal(committed(f, "SELECT count(*) FROM notifications"), 0);
  /* Depth 0: a plain transaction begins and commits as before. */
  assert_int_equal(store_begin(f->store), 0);
  put_document(f, FN_B, 8);
  assert_int_equal(store_commit(f->store), 0);
  assert_int_equal(committed(f, "SELECT count(*) FROM documents"), 1);
  /* And without any transaction, a write commits on its own. */
  put_note(f, FN_B, 8);
  assert_int_equal(committed(f, "SELECT count(*) FROM notifications"), 1);
  uint32_t n = 0;
  assert_int_equal(store_document_count(f->store, FN_B, &n), 0);
  assert_int_equal(n, 1);
}

/* Two levels of nesting (a savepoint inside a savepoint) unwind in order. */
static void test_deep_nesting(void **state)
{
  fixture_t *f = *state;
  assert_int_equal(store_begin(f->store), 0);
  put_document(f, FN_A, 10);
  assert_int_equal(store_begin(f->store), 0);
  put_document(f, FN_A, 11);
  assert_int_equal(store_begin(f->store), 0);
  put_document(f, FN_A, 12);
  store_rollback(f->store);                    /* 12 */
  assert_int_equal(store_commit(f->store), 0); /* 11 kept, in the group */
  assert_int_equal(store_commit(f->store), 0);
  assert_int_equal(committed(f, "SELECT count(*) FROM documents"), 2);
  assert_int_equal(committed(f, "SELECT max(number) FROM documents"), 11);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nested_in_a_group, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_rolled_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
