/*
** tests/unit/test_store_shared.c: the store's rules (store/store.h) on the SQLite
** backend, and the node's routes (store/node.h) without a network, over a
** real file in a temporary directory. The PostgreSQL backend runs the same
** rules under 4..30 racing lanes in tests/integration/test_store_lanes.py.
**
** Each rule is held on both sides: a claim granted to one lane is refused
** to another until released or expired; a sold code is refused with who
** sold it and granted again after its return; a publish repeated changes
** nothing; a second sale of a code by another document is exactly one
** conflict row naming both; malformed input changes nothing.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/node.h"
#include "store/store.h"

#define KI_A "0104601234501026215abcdefgh"
#define KI_B "010460123450102621zyxwvut"

typedef struct fixture {
  char dir[64];
  char spec[128];
  store_t *s;
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  char err[256];
  snprintf(f->dir, sizeof f->dir, "/tmp/kassa-store-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->spec, sizeof f->spec, "local:%s/store.db", f->dir);
  assert_int_equal(store_open(f->spec, NULL, &f->s, err, sizeof err), 0);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  char cmd[128];
  store_close(f->s);
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static void publish(store_t *s, const char *lane, const char *fn, uint32_t doc, const char *ki,
                    store_op_t op, uint32_t *conflicts)
{
  store_line_t l = {ki, "04601234501026", op};
  store_record_t r = {lane, fn, doc, false, &l, 1, false};
  assert_int_equal(store_publish(s, &r, conflicts), 0);
}

/* A lane's remark is numbered in its own series: remark 1 is not FN
** document 1, moves no pointer, is idempotent, and takes the code out of
** circulation; a sale after it (a partition) is a conflict like a second
** sale; a remark record holds remarked lines only. */
static void test_remark_series(void **state)
{
  fixture_t *f = *state;
  store_claim_t c;
  store_feed_row_t rows[4];
  size_t n = 0;
  uint32_t conflicts = 9, published = 9;
  store_line_t l = {KI_B, "04601234501026", STORE_OP_REMARKED};
  store_record_t r = {"lane1", "9999078900000001", 1, false, &l, 1, true};
  publish(f->s, "lane1", "9999078900000001", 1, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(store_publish(f->s, &r, &conflicts), 0);
  assert_int_equal(conflicts, 0);
  assert_int_equal(store_publish(f->s, &r, &conflicts), 0); /* again: nothing */
  assert_int_equal(store_heartbeat(f->s, "lane1", 1000, "9999078900000001", &published), 0);
  assert_int_equal(published, 1); /* the FN's pointer, not the remark's */
  assert_int_equal(store_feed(f->s, 0, rows, 4, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rows[1].ki, KI_B);
  assert_int_equal(rows[1].op, STORE_OP_REMARKED);
  assert_int_equal(store_claim(f->s, "lane2", KI_B, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_SOLD);
  publish(f->s, "lane2", "9999078900000002", 5, KI_B, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 1);
  l.op = STORE_OP_SOLD;
  r.document = 2;
  assert_int_equal(store_publish(f->s, &r, NULL), STORE_ERR_ARGUMENT);
}

static void test_claim_is_exclusive(void **state)
{
  fixture_t *f = *state;
  store_claim_t c;
  assert_int_equal(store_claim(f->s, "lane1", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_GRANTED);
  /* Renewed by its holder, refused to another lane, named. */
  assert_int_equal(store_claim(f->s, "lane1", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_GRANTED);
  assert_int_equal(store_claim(f->s, "lane2", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_HELD);
  assert_string_equal(c.holder, "lane1");
  /* Another lane's release does nothing; the holder's frees it. */
  assert_int_equal(store_release(f->s, "lane2", KI_A), 0);
  assert_int_equal(store_claim(f->s, "lane2", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_HELD);
  assert_int_equal(store_release(f->s, "lane1", KI_A), 0);
  assert_int_equal(store_claim(f->s, "lane2", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_GRANTED);
}

static void test_lease_expires_and_heartbeat_renews(void **state)
{
  fixture_t *f = *state;
  store_claim_t c;
  assert_int_equal(store_claim(f->s, "dead", KI_A, 50, &c), 0);
  assert_int_equal(store_claim(f->s, "alive", KI_B, 50, &c), 0);
  assert_int_equal(store_heartbeat(f->s, "alive", 60000, NULL, NULL), 0);
  usleep(120 * 1000);
  assert_int_equal(store_claim(f->s, "other", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_GRANTED); /* the dead lane's lease ran out */
  assert_int_equal(store_claim(f->s, "other", KI_B, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_HELD); /* renewed by the heartbeat */
  assert_string_equal(c.holder, "alive");
}

/* A local file made before remarks had a series of their own (no remark
** column) is rebuilt at open with what it held. */
static void test_local_file_before_remarks(void **state)
{
  fixture_t *f = *state;
  char path[128], spec[160], err[256];
  sqlite3 *db;
  store_t *s = NULL;
  store_feed_row_t rows[2];
  size_t n = 0;
  uint32_t published = 0;
  snprintf(path, sizeof path, "%s/old.db", f->dir);
  snprintf(spec, sizeof spec, "local:%s", path);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "CREATE TABLE doc (fn TEXT NOT NULL, document INTEGER NOT NULL,"
                   " lane TEXT NOT NULL, offline INTEGER NOT NULL, PRIMARY KEY (fn, document));"
                   "CREATE TABLE record (seq INTEGER PRIMARY KEY AUTOINCREMENT, fn TEXT NOT NULL,"
                   " document INTEGER NOT NULL, line INTEGER NOT NULL, ki TEXT NOT NULL,"
                   " gtin TEXT NOT NULL, op INTEGER NOT NULL, lane TEXT NOT NULL,"
                   " offline INTEGER NOT NULL, UNIQUE (fn, document, line));"
                   "INSERT INTO doc VALUES ('9999078900000001', 7, 'lane1', 0);"
                   "INSERT INTO record (fn, document, line, ki, gtin, op, lane, offline) VALUES"
                   " ('9999078900000001', 7, 1, '" KI_A "', '04601234501026', 1, 'lane1', 0);",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(store_open(spec, NULL, &s, err, sizeof err), 0);
  assert_int_equal(store_heartbeat(s, "lane1", 1000, "9999078900000001", &published), 0);
  assert_int_equal(published, 7);
  assert_int_equal(store_feed(s, 0, rows, 2, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].ki, KI_A);
  /* Remark 7 of the same FN is not document 7. */
  store_line_t l = {KI_B, "", STORE_OP_REMARKED};
  store_record_t r = {"lane1", "9999078900000001", 7, false, &l, 1, true};
  assert_int_equal(store_publish(s, &r, NULL), 0);
  assert_int_equal(store_feed(s, 0, rows, 2, &n), 0);
  assert_int_equal(n, 2);
  store_close(s);
}

static void test_sold_then_returned(void **state)
{
  fixture_t *f = *state;
  store_claim_t c;
  uint32_t conflicts = 9, published = 0;
  assert_int_equal(store_claim(f->s, "lane1", KI_A, 60000, &c), 0);
  publish(f->s, "lane1", "9999078900000001", 7, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 0);
  assert_int_equal(store_claim(f->s, "lane2", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_SOLD);
  assert_string_equal(c.holder, "lane1");
  assert_string_equal(c.fn, "9999078900000001");
  assert_int_equal(c.document, 7);
  /* Sold is sold for its own lane too. */
  assert_int_equal(store_claim(f->s, "lane1", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_SOLD);
  assert_int_equal(store_heartbeat(f->s, "lane1", 1000, "9999078900000001", &published), 0);
  assert_int_equal(published, 7);
  /* Returned at another lane: sellable again. */
  publish(f->s, "lane2", "9999078900000002", 3, KI_A, STORE_OP_RETURNED, &conflicts);
  assert_int_equal(store_claim(f->s, "lane2", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_GRANTED);
  /* Remarked: out of circulation for good. */
  publish(f->s, "lane2", "9999078900000002", 4, KI_B, STORE_OP_REMARKED, &conflicts);
  assert_int_equal(store_claim(f->s, "lane1", KI_B, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_SOLD);
}

static void test_repeated_publish_and_conflicts(void **state)
{
  fixture_t *f = *state;
  store_feed_row_t rows[8];
  store_conflict_t cs[4];
  size_t n = 0;
  uint32_t conflicts = 0;
  publish(f->s, "lane1", "9999078900000001", 5, KI_A, STORE_OP_SOLD, &conflicts);
  publish(f->s, "lane1", "9999078900000001", 5, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 0);
  assert_int_equal(store_feed(f->s, 0, rows, 8, &n), 0);
  assert_int_equal(n, 1); /* the repeat added no record */
  /* The same code sold by a second lane during a partition. */
  publish(f->s, "lane2", "9999078900000002", 9, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 1);
  publish(f->s, "lane2", "9999078900000002", 9, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 0);
  assert_int_equal(store_conflicts(f->s, cs, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(cs[0].ki, KI_A);
  assert_string_equal(cs[0].first_fn, "9999078900000001");
  assert_int_equal(cs[0].first_document, 5);
  assert_string_equal(cs[0].second_lane, "lane2");
  assert_int_equal(cs[0].second_document, 9);
  /* The feed: both sales in order, after a cursor. */
  assert_int_equal(store_feed(f->s, 0, rows, 8, &n), 0);
  assert_int_equal(n, 2);
  assert_true(rows[0].seq < rows[1].seq);
  assert_string_equal(rows[1].lane, "lane2");
  assert_int_equal(store_feed(f->s, rows[0].seq, rows, 8, &n), 0);
  assert_int_equal(n, 1);
}

static void test_bad_input_changes_nothing(void **state)
{
  fixture_t *f = *state;
  store_claim_t c;
  store_feed_row_t rows[2];
  size_t n = 9;
  store_line_t bad = {"has space", "", STORE_OP_SOLD}, good = {KI_A, "", STORE_OP_SOLD};
  store_line_t both[2] = {good, bad};
  store_record_t r = {"lane1", "9999078900000001", 1, false, both, 2, false};
  assert_int_equal(store_publish(f->s, &r, NULL), STORE_ERR_ARGUMENT);
  r.lane = "bad lane";
  r.lines = &good;
  r.count = 1;
  assert_int_equal(store_publish(f->s, &r, NULL), STORE_ERR_ARGUMENT);
  r.lane = "lane1";
  r.fn = "12ab";
  assert_int_equal(store_publish(f->s, &r, NULL), STORE_ERR_ARGUMENT);
  assert_int_equal(store_claim(f->s, "", KI_A, 1000, &c), STORE_ERR_ARGUMENT);
  assert_int_equal(store_claim(f->s, "lane1", KI_A, 0, &c), STORE_ERR_ARGUMENT);
  assert_int_equal(store_feed(f->s, 0, rows, 2, &n), 0);
  assert_int_equal(n, 0);
  store_t *other = (store_t *)f; /* overwritten with NULL on failure */
  assert_int_equal(store_open("ftp://x", NULL, &other, NULL, 0), STORE_ERR_ARGUMENT);
  assert_null(other);
  assert_string_equal(store_err_name(STORE_ERR_UNREACHABLE), "unreachable");
}

/* The node's routes, as a lane's requests reach them. */
static void test_node_routes(void **state)
{
  fixture_t *f = *state;
  store_node_t *n = NULL;
  char err[256], *a = NULL;
  store_node_options_t o = {.spec = f->spec, .port = 0, .token = "t0k"};
  assert_int_equal(store_node_start(&o, &n, err, sizeof err), 0);
  assert_int_equal(store_node_answer(n, "POST", "/store/v1/claim", NULL,
                                     "{\"lane\":\"l1\",\"ki\":\"" KI_A "\",\"lease_ms\":9000}", &a),
                   200);
  assert_non_null(strstr(a, "\"verdict\":\"granted\""));
  free(a);
  assert_int_equal(store_node_answer(n, "POST", "/store/v1/claim", NULL,
                                     "{\"lane\":\"l2\",\"ki\":\"" KI_A "\",\"lease_ms\":9000}", &a),
                   200);
  assert_non_null(strstr(a, "\"verdict\":\"held\""));
  free(a);
  const char *rec = "{\"lane\":\"l1\",\"fn\":\"9999078900000001\",\"document\":2,"
                    "\"offline\":false,\"lines\":[{\"ki\":\"" KI_A "\",\"gtin\":\"\",\"op\":"
                    "\"sold\"}]}";
  assert_int_equal(store_node_answer(n, "POST", "/store/v1/publish", NULL, rec, &a), 200);
  assert_non_null(strstr(a, "\"conflicts\":0"));
  free(a);
  /* The operator's feed shape, for `kassa cache sync`. */
  assert_int_equal(
      store_node_answer(n, "GET", "/api/v4/true-api/lm/codes", "after=0&limit=5", NULL, &a), 200);
  assert_non_null(strstr(a, "\"RETIRED\",false,true"));
  assert_non_null(strstr(a, "\"next\":\"1\""));
  free(a);
  assert_int_equal(store_node_answer(n, "POST", "/store/v1/publish", NULL, "{not json", &a), 400);
  free(a);
  assert_int_equal(store_node_answer(n, "POST", "/store/v1/claim", NULL,
                                     "{\"lane\":\"l1\",\"ki\":\"\",\"lease_ms\":9000}", &a),
                   400);
  free(a);
  assert_int_equal(store_node_answer(n, "GET", "/store/v1/feed", "after=-1", NULL, &a), 400);
  free(a);
  assert_int_equal(store_node_answer(n, "GET", "/nowhere", NULL, NULL, &a), 404);
  free(a);
  store_node_stop(n);
  /* No token, no node. */
  o.token = NULL;
  assert_int_equal(store_node_start(&o, &n, err, sizeof err), -1);
  assert_null(n);
}

/* The lane's side: the http backend against a node on a free loopback
** port, every operation, the same rules as the node's own backend. */
static void test_http_backend(void **state)
{
  fixture_t *f = *state;
  store_node_t *n = NULL;
  store_t *h = NULL, *wrong = NULL;
  store_claim_t c;
  store_feed_row_t rows[4];
  store_conflict_t cs[4];
  size_t count = 0;
  uint32_t conflicts = 9, published = 0;
  char err[256], url[64];
  store_node_options_t o = {.spec = f->spec, .port = 0, .token = "t0k"};
  assert_int_equal(store_node_start(&o, &n, err, sizeof err), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%u", store_node_port(n));
  store_options_t so = {.timeout_ms = 5000, .token = "t0k"};
  assert_int_equal(store_open(url, &so, &h, err, sizeof err), 0);
  assert_string_equal(store_backend_name(h), "http");
  assert_int_equal(store_claim(h, "lane1", KI_A, 60000, &c), 0);
  assert_int_equal(c.verdict, STORE_GRANTED);
  assert_int_equal(store_claim(f->s, "lane2", KI_A, 60000, &c), 0); /* the node's file */
  assert_int_equal(c.verdict, STORE_HELD);
  publish(h, "lane1", "9999078900000001", 3, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 0);
  publish(h, "lane2", "9999078900000002", 4, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(conflicts, 1);
  assert_int_equal(store_heartbeat(h, "lane1", 1000, "9999078900000001", &published), 0);
  assert_int_equal(published, 3);
  assert_int_equal(store_feed(h, 0, rows, 4, &count), 0);
  assert_int_equal(count, 2);
  assert_int_equal(rows[1].op, STORE_OP_SOLD);
  assert_string_equal(rows[1].fn, "9999078900000002");
  assert_int_equal(store_conflicts(h, cs, 4, &count), 0);
  assert_int_equal(count, 1);
  assert_int_equal(cs[0].second_document, 4);
  assert_int_equal(store_release(h, "lane1", KI_B), 0);
  assert_int_equal(store_put_statuses(h, NULL, 0, ""), STORE_ERR_ARGUMENT); /* database only */
  /* A wrong token is refused; a node gone is unreachable (the lane decides alone). */
  so.token = "wrong";
  assert_int_equal(store_open(url, &so, &wrong, err, sizeof err), 0);
  assert_int_equal(store_claim(wrong, "lane1", KI_B, 1000, &c), STORE_ERR_AUTH);
  store_node_stop(n);
  assert_int_equal(store_claim(h, "lane1", KI_B, 1000, &c), STORE_ERR_UNREACHABLE);
  store_close(wrong);
  store_close(h);
}

/* kassa store sync's statuses join the feed after the records, with the
** lanes' sales folded into `sold`. */
static void test_statuses_in_the_feed(void **state)
{
  fixture_t *f = *state;
  store_status_t st[2] = {{.ki = KI_A, .gtin = "04601234501026", .state = 3},
                          {.ki = KI_B, .gtin = "04601234501026", .state = 3, .blocked = true}};
  store_feed_row_t rows[8];
  size_t n = 0;
  char cursor[32];
  uint32_t conflicts;
  publish(f->s, "lane1", "9999078900000001", 2, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(store_sync_cursor(f->s, cursor, sizeof cursor), 0);
  assert_string_equal(cursor, "");
  assert_int_equal(store_put_statuses(f->s, st, 2, "17"), 0);
  assert_int_equal(store_sync_cursor(f->s, cursor, sizeof cursor), 0);
  assert_string_equal(cursor, "17");
  assert_int_equal(store_feed(f->s, 0, rows, 8, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(rows[0].op, STORE_OP_SOLD);
  assert_int_equal(rows[1].op, 0);
  assert_true(rows[1].status.sold); /* the operator said INTRODUCED; lane1 sold it */
  assert_false(rows[2].status.sold);
  assert_true(rows[2].status.blocked);
  assert_true(rows[0].seq < rows[1].seq && rows[1].seq < rows[2].seq);
  /* A status updated again moves to the end of the feed. */
  st[1].blocked = false;
  assert_int_equal(store_put_statuses(f->s, &st[1], 1, "18"), 0);
  assert_int_equal(store_feed(f->s, rows[2].seq, rows, 8, &n), 0);
  assert_int_equal(n, 1);
  assert_false(rows[0].status.blocked);
  st[0].state = 9;
  assert_int_equal(store_put_statuses(f->s, st, 1, "19"), STORE_ERR_ARGUMENT);
}

/* A stand-in for the scanner's parser: the code up to its first GS is
** the identification part, characters 2..15 the GTIN. */
static bool stub_ki(const char *code, size_t len, char *ki, size_t size, char gtin[15])
{
  size_t n = strcspn(code, "\x1d");
  if (len < 18 || n >= size || strncmp(code, "01", 2)) return false;
  memcpy(ki, code, n);
  ki[n] = '\0';
  memcpy(gtin, code + 2, 14);
  gtin[14] = '\0';
  return true;
}

/* The local module's API on the node: sold at any lane is sold; an FN not
** of the store is refused; nothing before the first `kassa store sync`. */
static void test_node_local_module(void **state)
{
  fixture_t *f = *state;
  store_node_t *n = NULL;
  char err[256], *a = NULL;
  uint32_t conflicts;
  store_status_t st[2] = {{.ki = KI_A, .gtin = "04601234501026", .state = 3},
                          {.ki = KI_B, .gtin = "04601234501026", .state = 3}};
  store_node_options_t o = {.spec = f->spec, .token = "t0k", .ki_of = stub_ki};
  const char *ask = "{\"cis_list\":[\"" KI_A "\\u001d93abcd\",\"" KI_B "\",\"x\"]}";
  assert_int_equal(store_node_start(&o, &n, err, sizeof err), 0);
  assert_int_equal(store_node_answer_lm(n, "POST", "/api/v1/cis/outCheck", NULL, ask, &a), 400);
  free(a); /* never synced: not configured */
  assert_int_equal(store_put_statuses(f->s, st, 2, "5"), 0);
  publish(f->s, "lane1", "9999078900000001", 4, KI_A, STORE_OP_SOLD, &conflicts);
  assert_int_equal(
      store_node_answer_lm(n, "POST", "/api/v1/cis/outCheck", "9999078900000001", ask, &a), 200);
  assert_non_null(strstr(a, "\"sold\":true"));
  assert_non_null(strstr(a, "\"soldBy\""));
  assert_non_null(strstr(a, "\"realizable\":true")); /* KI_B */
  assert_non_null(strstr(a, "\"valid\":false"));     /* "x" */
  free(a);
  assert_int_equal(
      store_node_answer_lm(n, "POST", "/api/v1/cis/outCheck", "9999078900000077", ask, &a), 403);
  free(a);
  assert_int_equal(store_node_answer_lm(n, "GET", "/api/v1/status", NULL, NULL, &a), 200);
  assert_non_null(strstr(a, "\"ready\""));
  free(a);
  assert_int_equal(store_node_answer_lm(n, "GET", "/api/v1/cis/outCheck", NULL, NULL, &a), 405);
  free(a);
  store_node_stop(n);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_claim_is_exclusive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lease_expires_and_heartbeat_renews, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sold_then_returned, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remark_series, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_file_before_remarks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_repeated_publish_and_conflicts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_routes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_backend, setup, teardown),
      cmocka_unit_test_setup_teardown(test_statuses_in_the_feed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_local_module, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
