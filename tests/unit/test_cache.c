/*
** tests/unit/test_cache.c: the till's code cache (pos/till/cache.h), function by
** function, on a real SQLite file in a temporary directory.
**
** Each contract is held on both sides: what a call writes, and that a
** refused call writes nothing (stock with a SOLD code in it, a catalogue
** with one bad line, a sync page with one bad row, a remark with a buffer
** too small). The replay pointer refuses a gap and a repeat; staleness is
** checked at 72 h exactly and one second past; a remarked code never goes
** back to stock or to SOLD; the counters always equal the rows (checked
** against the file itself with plain SQL). The crash half of the story is
** tests/crash/cache_crash.c.
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
#include <unistd.h>

#include <sqlite3.h>

#include "pos/till/cache.h"

#define HOUR_MS (3600 * (int64_t)1000)
#define T0      ((int64_t)1700000000 * 1000)

/* GTINs with valid check digits (computed by gtin_make below and checked). */
static char gtin_a[15], gtin_b[15], gtin_c[15];

typedef struct fixture {
  char dir[64];
  char path[128];
  cache_t *c;
} fixture_t;

/* "0" + 12 digits + the GS1 check digit. */
static void gtin_make(const char *twelve, char out[15])
{
  unsigned sum = 0;
  out[0] = '0';
  memcpy(out + 1, twelve, 12);
  for (int i = 0; i < 13; i++) sum += (unsigned)(out[i] - '0') * (i % 2 == 0 ? 3u : 1u);
  out[13] = (char)('0' + (10 - sum % 10) % 10);
  out[14] = '\0';
}

static void ki_make(char *out, size_t cap, const char *gtin, const char *serial)
{
  snprintf(out, cap, "01%s21%s", gtin, serial);
}

/* A full code with a 93 tail, as kassa-operator issues water. */
static void code_make(char *out, size_t cap, const char *gtin, const char *serial)
{
  snprintf(out, cap,
           "01%s21%s\x1d"
           "93abcd",
           gtin, serial);
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/kassa-cache-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/cache.db", f->dir);
  if (cache_open(f->path, &f->c) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  char cmd[160];
  cache_close(f->c);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  if (system(cmd) != 0) return -1;
  free(f);
  return 0;
}

/* One integer from plain SQL on the cache file (a second connection). */
static int64_t sql_int(const fixture_t *f, const char *query)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, query, -1, &s, NULL), SQLITE_OK);
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

/* The counters cache_counts() reports equal what the rows say. */
static void counts_agree(const fixture_t *f)
{
  cache_counts_t n;
  assert_int_equal(cache_counts(f->c, &n), 0);
  assert_int_equal(n.codes, sql_int(f, "SELECT count(*) FROM codes"));
  assert_int_equal(n.in_stock, sql_int(f, "SELECT count(*) FROM codes WHERE local = 1"));
  assert_int_equal(n.sold, sql_int(f, "SELECT count(*) FROM codes WHERE local = 2"));
  assert_int_equal(n.remarked, sql_int(f, "SELECT count(*) FROM codes WHERE local = 3"));
  assert_int_equal(n.synced, sql_int(f, "SELECT count(*) FROM codes WHERE synced != 0"));
  assert_int_equal(n.op_blocked, sql_int(f, "SELECT count(*) FROM codes WHERE op & 8"));
  assert_int_equal(n.products, sql_int(f, "SELECT count(*) FROM products"));
  assert_int_equal(n.pooled, sql_int(f, "SELECT count(*) FROM pool"));
}

static void write_file(const char *path, const char *text)
{
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
}

/* A catalogue file: the header line, then rows (a printf format). */
static void write_catalogue(const char *path, const char *rows, ...)
    __attribute__((format(printf, 2, 3)));
static void write_catalogue(const char *path, const char *rows, ...)
{
  char text[2048];
  va_list ap;
  int n = snprintf(text, sizeof text,
                   "gtin;name;price;vat;group;group_id;marking;strict;weighed;excise\n");

  va_start(ap, rows);
  vsnprintf(text + n, sizeof text - (size_t)n, rows, ap);
  va_end(ap);
  write_file(path, text);
}

/* ---------------------------------------------------------------------- */

static void open_makes_a_private_wal_file(void **state)
{
  fixture_t *f = *state;
  struct stat st;
  cache_t *again = NULL;
  char bad[160];
  sqlite3 *db = NULL;

  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(sql_int(f, "PRAGMA user_version"), 1);
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_GTIN, gtin_a, "x"), 0);
  {
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0); /* WAL mode: the write went to the log */
    assert_int_equal(st.st_mode & 0777, 0600);
  }
  /* A second open of the same file sees the same rows. */
  assert_int_equal(cache_open(f->path, &again), 0);
  {
    bool blocked = false;
    char ki[64];
    ki_make(ki, sizeof ki, gtin_a, "AAAAAAAAAAAAA");
    assert_int_equal(cache_block_find(again, ki, NULL, NULL, &blocked, NULL, NULL), 0);
    assert_true(blocked);
  }
  cache_close(again);
  cache_close(NULL);
  /* A schema from the future is refused, not overwritten. */
  snprintf(bad, sizeof bad, "%s/future.db", f->dir);
  assert_int_equal(sqlite3_open(bad, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  again = (cache_t *)1;
  assert_int_equal(cache_open(bad, &again), CACHE_ERR_IO);
  assert_null(again);
  assert_int_equal(cache_open(NULL, &again), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_open("/nonexistent-dir/x/cache.db", &again), CACHE_ERR_IO);
  assert_string_equal(cache_err_name(CACHE_ERR_EMPTY), "empty");
  assert_string_equal(cache_err_name(CACHE_ERR_FORMAT), "format");
  assert_string_equal(cache_last_error(NULL), "");
  assert_true(strstr(cache_err_message(CACHE_ERR_EMPTY, true), "пуле") != NULL);
}

/* Lookups between cache_read_begin and cache_read_end read one snapshot:
** another connection's product appears only after the end; a write inside
** is refused and leaves nothing; a second begin inside is refused. */
static void grouped_lookups_read_one_snapshot(void **state)
{
  fixture_t *f = *state;
  cache_t *other = NULL;
  cache_product_t p, got;
  memset(&p, 0, sizeof p);
  memcpy(p.gtin, gtin_a, 15);
  snprintf(p.name, sizeof p.name, "Хлеб");
  p.price = 4500;
  p.vat = 1;
  assert_int_equal(cache_open(f->path, &other), 0);
  assert_int_equal(cache_read_begin(f->c), 0);
  assert_int_equal(cache_read_begin(f->c), CACHE_ERR_STATE);
  assert_int_equal(cache_product_get(f->c, gtin_a, &got), CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_product_put(other, &p), 0); /* a WAL reader does not block it */
  assert_int_equal(cache_product_get(f->c, gtin_a, &got), CACHE_ERR_NOT_FOUND);
  memcpy(p.gtin, gtin_b, 15);
  assert_int_not_equal(cache_product_put(f->c, &p), 0);
  cache_read_end(f->c);
  assert_int_equal(cache_product_get(f->c, gtin_a, &got), 0);
  assert_string_equal(got.name, "Хлеб");
  assert_int_equal(cache_product_get(f->c, gtin_b, &got), CACHE_ERR_NOT_FOUND);
  cache_read_end(f->c); /* nothing open: harmless */
  cache_read_end(NULL);
  cache_close(other);
}

static void products_are_checked_and_padded(void **state)
{
  fixture_t *f = *state;
  cache_product_t p, got;
  char ean8[9] = "46009999"; /* EAN-8 with its check digit */

  memset(&p, 0, sizeof p);
  memcpy(p.gtin, gtin_a, 15);
  snprintf(p.name, sizeof p.name, "Кроссовки «Бегун» 42");
  p.price = 499000;
  p.vat = 1;
  snprintf(p.group, sizeof p.group, "footwear");
  p.group_id = 2;
  p.marking_required = p.strict = true;
  assert_int_equal(cache_product_put(f->c, &p), 0);
  assert_int_equal(cache_product_get(f->c, gtin_a, &got), 0);
  assert_string_equal(got.name, p.name);
  assert_int_equal(got.price, 499000);
  assert_true(got.marking_required && got.strict && !got.weighed && !got.excise);
  assert_int_equal(got.group_id, 2);
  /* 13 digits find the same product. */
  assert_int_equal(cache_product_get(f->c, gtin_a + 1, &got), 0);
  assert_int_equal(cache_product_get(f->c, gtin_b, &got), CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_product_get(f->c, "123", &got), CACHE_ERR_ARGUMENT);
  /* An EAN-8 is stored padded. */
  snprintf(p.gtin, sizeof p.gtin, "000000%s", ean8);
  p.marking_required = p.strict = false;
  assert_int_equal(cache_product_put(f->c, &p), 0);
  assert_int_equal(cache_product_get(f->c, ean8, &got), 0);
  assert_string_equal(got.gtin, "00000046009999");
  /* Refusals write nothing. */
  memcpy(p.gtin, gtin_c, 15);
  p.gtin[13] = (char)(p.gtin[13] == '9' ? '0' : p.gtin[13] + 1); /* bad check digit */
  assert_int_equal(cache_product_put(f->c, &p), CACHE_ERR_ARGUMENT);
  memcpy(p.gtin, gtin_c, 15);
  p.name[0] = '\0';
  assert_int_equal(cache_product_put(f->c, &p), CACHE_ERR_ARGUMENT);
  memset(p.name, 'x', 129);
  p.name[129] = '\0';
  assert_int_equal(cache_product_put(f->c, &p), CACHE_ERR_ARGUMENT);
  p.name[0] = '\0';
  for (int i = 0; i < 128; i++) strcat(p.name, "ж"); /* 128 characters, 256 bytes: fine */
  p.vat = 13;
  assert_int_equal(cache_product_put(f->c, &p), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_product_get(f->c, gtin_c, &got), CACHE_ERR_NOT_FOUND);
  p.vat = 6;
  assert_int_equal(cache_product_put(f->c, &p), 0);
  assert_int_equal(cache_product_get(f->c, gtin_c, &got), 0);
  assert_int_equal(strlen(got.name), 256);
  counts_agree(f);
}

/* The catalogue is CSV read by libcsv: a quoted name may hold the ';'
** separator and a doubled quote; an unclosed quote names its line. */
static void catalogue_reads_quoted_fields(void **state)
{
  fixture_t *f = *state;
  char path[160], err[512];
  size_t count = 0;
  cache_product_t got;

  snprintf(path, sizeof path, "%s/quoted.csv", f->dir);
  write_catalogue(path,
                  "%s;\"Кеды; размер 42\";2999.90;1;footwear;2;1;1;0;0\n"
                  "%s;\"Хлеб \"\"Бородинский\"\"\";45.50;2;;0;0;0;0;0\n"
                  "\"%s\";Бананы;129;2;;0;0;0;1;0\n",
                  gtin_a, gtin_b, gtin_c);
  assert_int_equal(cache_catalogue_import(f->c, path, &count, err, sizeof err), 0);
  assert_int_equal(count, 3);
  assert_int_equal(cache_product_get(f->c, gtin_a, &got), 0);
  assert_string_equal(got.name, "Кеды; размер 42");
  assert_int_equal(got.price, 299990);
  assert_int_equal(cache_product_get(f->c, gtin_b, &got), 0);
  assert_string_equal(got.name, "Хлеб \"Бородинский\"");
  assert_int_equal(cache_product_get(f->c, gtin_c, &got), 0);
  assert_true(got.weighed);

  write_catalogue(path, "%s;\"Кеды; без кавычки;2999.90;1;footwear;2;1;1;0;0\n", gtin_a);
  err[0] = '\0';
  assert_int_equal(cache_catalogue_import(f->c, path, NULL, err, sizeof err), CACHE_ERR_FORMAT);
  assert_non_null(strstr(err, "line 2"));
  assert_non_null(strstr(err, "quote"));
  counts_agree(f);
}

static void catalogue_import_is_all_or_nothing(void **state)
{
  fixture_t *f = *state;
  char path[160], text[2048], err[512];
  size_t count = 99;
  cache_product_t got;

  snprintf(path, sizeof path, "%s/cat.csv", f->dir);
  snprintf(text, sizeof text,
           "\xEF\xBB\xBFgtin;name;price;vat;group;group_id;marking;strict;weighed;excise\r\n"
           "# shoes\r\n"
           "%s;Кеды;2999.90;1;footwear;2;1;1;0;0\r\n"
           "\r\n"
           "%s;Хлеб;45.5;2;;0;0;0;0;0\r\n"
           "%s;Бананы;129;2;;0;0;0;1;0\r\n",
           gtin_a, gtin_b, gtin_c);
  write_file(path, text);
  assert_int_equal(cache_catalogue_import(f->c, path, &count, err, sizeof err), 0);
  assert_int_equal(count, 3);
  assert_int_equal(cache_product_get(f->c, gtin_a, &got), 0);
  assert_int_equal(got.price, 299990);
  assert_int_equal(cache_product_get(f->c, gtin_b, &got), 0);
  assert_int_equal(got.price, 4550);
  assert_int_equal(cache_product_get(f->c, gtin_c, &got), 0);
  assert_true(got.weighed);

  /* A bad line 4: nothing of the file is written, the line is named. */
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_GTIN, gtin_a, NULL), 0);
  {
    char d[15], e[15];
    gtin_make("460000000101", d);
    gtin_make("460000000102", e);
    write_catalogue(path,
                    "%s;Молоко;89.90;2;dairy;8;1;0;0;0\n"
                    "%s;Кефир;79.90;2;dairy;8;1;0;0;0\n"
                    "%s;Сыр;12,50;2;dairy;8;1;0;0;0\n",
                    d, e, gtin_a);
    count = 99;
    assert_int_equal(cache_catalogue_import(f->c, path, &count, err, sizeof err), CACHE_ERR_FORMAT);
    assert_int_equal(count, 0);
    assert_non_null(strstr(err, "line 4"));
    assert_non_null(strstr(err, "строка 4"));
    assert_non_null(strstr(err, "12,50"));
    assert_int_equal(cache_product_get(f->c, d, &got), CACHE_ERR_NOT_FOUND);
    assert_int_equal(cache_product_get(f->c, gtin_a, &got), 0);
    assert_int_equal(got.price, 299990); /* line 4's product was not replaced */

    /* The same GTIN twice names both lines. */
    write_catalogue(path,
                    "%s;Молоко;89.90;2;dairy;8;1;0;0;0\n"
                    "%s;Молоко 2;89.90;2;dairy;8;1;0;0;0\n",
                    d, d);
    assert_int_equal(cache_catalogue_import(f->c, path, &count, err, sizeof err), CACHE_ERR_FORMAT);
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "line 2"));
  }
  /* Each rule, one line each. */
  {
    static const char *const bad_lines[] = {
        "%s;Имя;1.00;1;footwear;2;1;0;0\n",      /* 9 fields */
        "%s;Имя;1.00;1;footwear;2;1;0;0;0;0\n",  /* 11 fields */
        "%s;;1.00;1;footwear;2;1;0;0;0\n",       /* empty name */
        "%s;Имя;1.001;1;footwear;2;1;0;0;0\n",   /* three decimals */
        "%s;Имя;1.00;0;footwear;2;1;0;0;0\n",    /* VAT 0 */
        "%s;Имя;1.00;1;Footwear;2;1;0;0;0\n",    /* group case */
        "%s;Имя;1.00;1;;0;1;0;0;0\n",            /* marked without group */
        "%s;Имя;1.00;1;;0;0;1;0;0\n",            /* strict without marking */
        "%s;Имя;1.00;1;footwear;2;yes;0;0;0\n",  /* boolean */
        "%s;Имя;1.00;1;footwear;2000;1;0;0;0\n", /* group id */
        "1234567890123;Имя;1.00;1;;0;0;0;0;0\n", /* check digit */
    };
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
      write_catalogue(path, bad_lines[i], gtin_b);
      err[0] = '\0';
      assert_int_equal(cache_catalogue_import(f->c, path, NULL, err, sizeof err), CACHE_ERR_FORMAT);
      assert_non_null(strstr(err, "line 2"));
    }
  }
  write_file(path, "gtin;name;price\n");
  assert_int_equal(cache_catalogue_import(f->c, path, NULL, err, sizeof err), CACHE_ERR_FORMAT);
  assert_non_null(strstr(err, "line 1"));
  write_file(path, "");
  assert_int_equal(cache_catalogue_import(f->c, path, NULL, err, sizeof err), CACHE_ERR_FORMAT);
  snprintf(path, sizeof path, "%s/missing.csv", f->dir);
  assert_int_equal(cache_catalogue_import(f->c, path, NULL, err, sizeof err), CACHE_ERR_NOT_FOUND);
  /* The demo catalogue the store day uses is valid as shipped. */
  count = 0;
  assert_int_equal(cache_catalogue_import(f->c, "config/catalogue.csv", &count, err, sizeof err),
                   0);
  assert_true(count >= 12);
  counts_agree(f);
}

static void stock_add_is_all_or_nothing(void **state)
{
  fixture_t *f = *state;
  char k[4][64];
  const char *kis[4];
  size_t bad = 99;
  uint64_t n = 0;
  cache_code_t row;
  cache_receipt_line_t line;

  for (int i = 0; i < 4; i++) {
    char serial[16];
    snprintf(serial, sizeof serial, "SER%010d", i);
    ki_make(k[i], sizeof k[i], i < 3 ? gtin_a : gtin_b, serial);
    kis[i] = k[i];
  }
  assert_int_equal(cache_stock_add(f->c, kis, 2, &bad), 0);
  assert_int_equal(cache_stock_count(f->c, gtin_a, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(cache_code_get(f->c, k[0], &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK);
  assert_string_equal(row.gtin, gtin_a);
  assert_int_equal(row.op_synced_ms, 0);
  /* Again: stays in stock, no duplicate. */
  assert_int_equal(cache_stock_add(f->c, kis, 2, NULL), 0);
  assert_int_equal(cache_stock_count(f->c, NULL, &n), 0);
  assert_int_equal(n, 2);

  /* Sell k[1] through the replay, then try to stock [k2, k1, k3]. */
  line = (cache_receipt_line_t){.ki = k[1], .gtin = NULL, .km_status = 1};
  assert_int_equal(cache_apply_receipt(f->c, 1, 1, &line, 1), 0);
  {
    const char *mixed[3] = {k[2], k[1], k[3]};
    assert_int_equal(cache_stock_add(f->c, mixed, 3, &bad), CACHE_ERR_STATE);
    assert_int_equal(bad, 1);
    assert_non_null(strstr(cache_last_error(f->c), "sold"));
  }
  assert_int_equal(cache_code_get(f->c, k[2], &row), CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_code_get(f->c, k[3], &row), CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_stock_count(f->c, gtin_a, &n), 0);
  assert_int_equal(n, 1);
  /* A full code (with GS) is not a ki. */
  {
    char full[80];
    const char *one[1] = {full};
    code_make(full, sizeof full, gtin_a, "SER0000000009");
    assert_int_equal(cache_stock_add(f->c, one, 1, &bad), CACHE_ERR_ARGUMENT);
    assert_int_equal(bad, 0);
    one[0] = "";
    assert_int_equal(cache_stock_add(f->c, one, 1, &bad), CACHE_ERR_ARGUMENT);
  }
  /* Stock by GTIN counts tobacco packs by their 14-digit prefix. */
  {
    char pack[32];
    const char *one[1] = {pack};
    snprintf(pack, sizeof pack, "%s+A13gPh", gtin_b);
    assert_int_equal(cache_stock_add(f->c, one, 1, NULL), 0);
    assert_int_equal(cache_stock_count(f->c, gtin_b, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cache_code_get(f->c, pack, &row), 0);
    assert_string_equal(row.gtin, gtin_b);
  }
  assert_int_equal(cache_stock_count(f->c, "12", &n), CACHE_ERR_ARGUMENT);
  counts_agree(f);
}

static void replay_pointer_refuses_gaps_and_repeats(void **state)
{
  fixture_t *f = *state;
  uint32_t applied = 99;
  char k[3][64];
  cache_receipt_line_t lines[3];
  cache_code_t row;
  cache_counts_t n;

  for (int i = 0; i < 3; i++) {
    char serial[16];
    snprintf(serial, sizeof serial, "RCP%010d", i);
    ki_make(k[i], sizeof k[i], gtin_a, serial);
    lines[i] = (cache_receipt_line_t){.ki = k[i], .gtin = gtin_a, .km_status = 1};
  }
  assert_int_equal(cache_fn_applied(f->c, &applied), 0);
  assert_int_equal(applied, 0);
  /* A gap: document 2 before 1. */
  assert_int_equal(cache_apply_receipt(f->c, 2, 1, lines, 3), CACHE_ERR_STATE);
  assert_int_equal(cache_code_get(f->c, k[0], &row), CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_apply_receipt(f->c, 0, 1, lines, 3), CACHE_ERR_STATE);
  /* Document 1, a registration report: only the pointer. */
  assert_int_equal(cache_apply_receipt(f->c, 1, 0, NULL, 0), 0);
  /* Document 2 sells three codes. */
  assert_int_equal(cache_apply_receipt(f->c, 2, 1, lines, 3), 0);
  assert_int_equal(cache_fn_applied(f->c, &applied), 0);
  assert_int_equal(applied, 2);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(cache_code_get(f->c, k[i], &row), 0);
    assert_int_equal(row.local, CACHE_LOCAL_SOLD);
    assert_int_equal(row.sold_document, 2);
  }
  /* A repeat of 2 is refused and changes nothing. */
  assert_int_equal(cache_apply_receipt(f->c, 2, 2, lines, 1), CACHE_ERR_STATE);
  assert_int_equal(cache_code_get(f->c, k[0], &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  /* Document 3 returns k0: back in stock, both documents kept. */
  lines[0].km_status = 3;
  assert_int_equal(cache_apply_receipt(f->c, 3, 2, lines, 1), 0);
  assert_int_equal(cache_code_get(f->c, k[0], &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK);
  assert_int_equal(row.sold_document, 2);
  assert_int_equal(row.returned_document, 3);
  /* Document 4, a purchase (operation 3): only the pointer moves. */
  assert_int_equal(cache_apply_receipt(f->c, 4, 3, lines + 1, 1), 0);
  assert_int_equal(cache_code_get(f->c, k[1], &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  assert_int_equal(row.returned_document, 0);
  /* A malformed line refuses the document whole. */
  {
    cache_receipt_line_t badl[2] = {{.ki = k[1], .km_status = 3}, {.ki = NULL, .km_status = 3}};
    assert_int_equal(cache_apply_receipt(f->c, 5, 2, badl, 2), CACHE_ERR_ARGUMENT);
    assert_int_equal(cache_code_get(f->c, k[1], &row), 0);
    assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  }
  assert_int_equal(cache_fn_applied(f->c, &applied), 0);
  assert_int_equal(applied, 4);
  assert_int_equal(cache_counts(f->c, &n), 0);
  assert_int_equal(n.sold, 2);
  assert_int_equal(n.in_stock, 1);
  counts_agree(f);
}

/* A pack sold by parts (1291): the replay keeps its account, SOLD while
** any of it is sold, IN_STOCK again when every part is back; a part past
** the account (the archive is the truth) goes as far as it can. */
static void parts_of_a_pack(void **state)
{
  fixture_t *f = *state;
  char k[2][64];
  cache_code_t row;
  uint32_t doc = 0;
  ki_make(k[0], sizeof k[0], gtin_a, "PARTS00000001");
  ki_make(k[1], sizeof k[1], gtin_a, "PARTS00000002");
  const struct {
    int ki;
    uint8_t operation, status;
    uint64_t n, d;
    cache_local_state_t local;
    uint64_t sold, units;
  } steps[] = {
      {0, 1, 2, 1, 4, CACHE_LOCAL_SOLD, 1, 4},     /* 1/4 */
      {0, 1, 2, 2, 4, CACHE_LOCAL_SOLD, 3, 4},     /* + 2/4 */
      {0, 1, 2, 1, 4, CACHE_LOCAL_SOLD, 4, 4},     /* + 1/4: sold out */
      {0, 2, 4, 1, 4, CACHE_LOCAL_SOLD, 3, 4},     /* 1/4 back */
      {0, 2, 4, 3, 4, CACHE_LOCAL_IN_STOCK, 0, 0}, /* the rest back */
      {0, 1, 2, 1, 3, CACHE_LOCAL_SOLD, 1, 3},     /* 1/3 */
      {0, 1, 2, 1, 4, CACHE_LOCAL_SOLD, 7, 12},    /* + 1/4 */
      {0, 1, 2, 2, 3, CACHE_LOCAL_SOLD, 0, 0},     /* past the rest: sold out, whole */
      {0, 2, 3, 0, 0, CACHE_LOCAL_IN_STOCK, 0, 0}, /* the whole back */
      {1, 1, 1, 0, 0, CACHE_LOCAL_SOLD, 0, 0},     /* sold whole */
      {1, 2, 4, 1, 4, CACHE_LOCAL_SOLD, 3, 4},     /* a quarter of it back */
      {1, 2, 4, 7, 8, CACHE_LOCAL_IN_STOCK, 0, 0}, /* more than is sold back: nothing sold */
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    cache_receipt_line_t line = {.ki = k[steps[i].ki],
                                 .km_status = steps[i].status,
                                 .fraction_numerator = steps[i].n,
                                 .fraction_denominator = steps[i].d};
    assert_int_equal(cache_apply_receipt(f->c, ++doc, steps[i].operation, &line, 1), 0);
    assert_int_equal(cache_code_get(f->c, k[steps[i].ki], &row), 0);
    assert_int_equal(row.local, steps[i].local);
    assert_int_equal(row.part_sold, steps[i].sold);
    assert_int_equal(row.part_units, steps[i].units);
    counts_agree(f);
  }
  assert_int_equal(sql_int(f, "SELECT count(*) FROM parts"), 0);
}

static void blocks_by_code_gtin_and_series(void **state)
{
  fixture_t *f = *state;
  char ki[64], other[64], series[64];
  bool blocked = true;
  cache_block_kind_t kind = 0;
  const char *reason = NULL;

  ki_make(ki, sizeof ki, gtin_a, "BLK0000000001");
  ki_make(other, sizeof other, gtin_b, "BLK0000000002");
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L1", &blocked, &kind, &reason), 0);
  assert_false(blocked);
  assert_null(reason);

  snprintf(series, sizeof series, "%s/L1", gtin_a + 1); /* 13 digits: padded */
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_SERIES, series, "partia"), 0);
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L1", &blocked, &kind, &reason), 0);
  assert_true(blocked);
  assert_int_equal(kind, CACHE_BLOCK_SERIES);
  assert_string_equal(reason, "partia");
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L2", &blocked, &kind, NULL), 0);
  assert_false(blocked);
  assert_int_equal(cache_block_find(f->c, ki, NULL, NULL, &blocked, NULL, NULL), 0);
  assert_false(blocked);

  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_GTIN, gtin_a, "Роспотребнадзор"), 0);
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L2", &blocked, &kind, &reason), 0);
  assert_true(blocked);
  assert_int_equal(kind, CACHE_BLOCK_GTIN);
  assert_string_equal(reason, "Роспотребнадзор");
  /* The series is more specific than the GTIN. */
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L1", &blocked, &kind, NULL), 0);
  assert_int_equal(kind, CACHE_BLOCK_SERIES);
  /* And the code more specific than both; putting again replaces the reason. */
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_CODE, ki, "first"), 0);
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_CODE, ki, "second"), 0);
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L1", &blocked, &kind, &reason), 0);
  assert_int_equal(kind, CACHE_BLOCK_CODE);
  assert_string_equal(reason, "second");
  /* A code of another GTIN is not touched; an explicit GTIN overrides the ki's. */
  assert_int_equal(cache_block_find(f->c, other, NULL, "L1", &blocked, NULL, NULL), 0);
  assert_false(blocked);
  assert_int_equal(cache_block_find(f->c, other, gtin_a, NULL, &blocked, &kind, NULL), 0);
  assert_true(blocked);
  assert_int_equal(kind, CACHE_BLOCK_GTIN);

  assert_int_equal(cache_block_remove(f->c, CACHE_BLOCK_CODE, ki), 0);
  assert_int_equal(cache_block_remove(f->c, CACHE_BLOCK_CODE, ki), CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_block_remove(f->c, CACHE_BLOCK_GTIN, gtin_a), 0);
  assert_int_equal(cache_block_remove(f->c, CACHE_BLOCK_SERIES, series), 0);
  assert_int_equal(cache_block_find(f->c, ki, NULL, "L1", &blocked, NULL, NULL), 0);
  assert_false(blocked);

  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_SERIES, gtin_a, NULL), CACHE_ERR_ARGUMENT);
  snprintf(series, sizeof series, "%s/", gtin_a);
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_SERIES, series, NULL), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_GTIN, "4600000000000", NULL),
                   CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_block_put(f->c, (cache_block_kind_t)7, ki, NULL), CACHE_ERR_ARGUMENT);
  {
    char longer[CACHE_REASON_MAX + 2];
    memset(longer, 'r', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_CODE, ki, longer), CACHE_ERR_ARGUMENT);
  }
  counts_agree(f);
}

static void sync_pages_keep_local_state(void **state)
{
  fixture_t *f = *state;
  char k[3][64], cursor[CACHE_CURSOR_MAX + 1] = "x";
  const char *kis[1];
  int64_t last = -1;
  cache_code_t row;
  cache_sync_row_t rows[3];
  cache_counts_t n;

  for (int i = 0; i < 3; i++) {
    char serial[16];
    snprintf(serial, sizeof serial, "SYN%010d", i);
    ki_make(k[i], sizeof k[i], gtin_a, serial);
  }
  assert_int_equal(cache_sync_state(f->c, cursor, sizeof cursor, &last), 0);
  assert_string_equal(cursor, "");
  assert_int_equal(last, 0);
  kis[0] = k[0];
  assert_int_equal(cache_stock_add(f->c, kis, 1, NULL), 0);

  rows[0] = (cache_sync_row_t){.ki = k[0],
                               .gtin = gtin_a,
                               .state = CACHE_OP_CIRCULATION,
                               .owner_inn = "7700000001",
                               .expire_ms = T0 + 1000};
  rows[1] = (cache_sync_row_t){.ki = k[1],
                               .state = CACHE_OP_CIRCULATION,
                               .blocked = true,
                               .owner_inn = "7700000001",
                               .mrp = 15000,
                               .smp = 11000};
  rows[2] = (cache_sync_row_t){
      .ki = k[2], .state = CACHE_OP_RETIRED, .sold = true, .owner_inn = "770000000123"};
  assert_int_equal(cache_sync_apply(f->c, rows, 3, "page-1", T0), 0);
  assert_int_equal(cache_sync_state(f->c, cursor, sizeof cursor, &last), 0);
  assert_string_equal(cursor, "page-1");
  assert_int_equal(last, T0);
  assert_int_equal(cache_code_get(f->c, k[0], &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK); /* untouched */
  assert_int_equal(row.op_state, CACHE_OP_CIRCULATION);
  assert_string_equal(row.owner_inn, "7700000001");
  assert_int_equal(row.expire_ms, T0 + 1000);
  assert_int_equal(row.op_synced_ms, T0);
  assert_int_equal(cache_code_get(f->c, k[1], &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_NONE);
  assert_true(row.op_blocked);
  assert_false(row.op_sold);
  assert_int_equal(row.mrp, 15000);
  assert_int_equal(row.smp, 11000);
  assert_int_equal(cache_code_get(f->c, k[2], &row), 0);
  assert_int_equal(row.op_state, CACHE_OP_RETIRED);
  assert_true(row.op_sold);
  assert_string_equal(row.owner_inn, "770000000123");
  assert_int_equal(cache_counts(f->c, &n), 0);
  assert_int_equal(n.codes, 3);
  assert_int_equal(n.synced, 3);
  assert_int_equal(n.op_blocked, 1);
  assert_int_equal(n.in_stock, 1);

  /* The next page unblocks k1; the counters follow. */
  rows[1].blocked = false;
  assert_int_equal(cache_sync_apply(f->c, rows + 1, 1, "page-2", T0 + 5), 0);
  assert_int_equal(cache_code_get(f->c, k[1], &row), 0);
  assert_false(row.op_blocked);
  assert_int_equal(row.op_synced_ms, T0 + 5);
  assert_int_equal(cache_counts(f->c, &n), 0);
  assert_int_equal(n.op_blocked, 0);
  assert_int_equal(n.synced, 3);

  /* A page with one bad row writes nothing: not the rows, not the cursor. */
  rows[0].state = CACHE_OP_EMITTED;
  rows[1].owner_inn = "77";
  assert_int_equal(cache_sync_apply(f->c, rows, 2, "page-3", T0 + 9), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_code_get(f->c, k[0], &row), 0);
  assert_int_equal(row.op_state, CACHE_OP_CIRCULATION);
  assert_int_equal(cache_sync_state(f->c, cursor, sizeof cursor, &last), 0);
  assert_string_equal(cursor, "page-2");
  assert_int_equal(last, T0 + 5);
  rows[1].owner_inn = NULL;
  rows[1].state = (cache_op_state_t)9;
  assert_int_equal(cache_sync_apply(f->c, rows + 1, 1, "page-3", T0 + 9), CACHE_ERR_ARGUMENT);
  /* An empty page still records the cursor and the time. */
  assert_int_equal(cache_sync_apply(f->c, NULL, 0, "page-3", T0 + 9), 0);
  assert_int_equal(cache_sync_state(f->c, cursor, sizeof cursor, &last), 0);
  assert_string_equal(cursor, "page-3");
  {
    char tiny[4];
    assert_int_equal(cache_sync_state(f->c, tiny, sizeof tiny, NULL), CACHE_ERR_ARGUMENT);
  }
  counts_agree(f);
}

static void stale_after_72_hours(void **state)
{
  fixture_t *f = *state;
  assert_true(cache_is_stale(f->c, T0, 72)); /* never synced */
  assert_int_equal(cache_sync_apply(f->c, NULL, 0, "c", T0), 0);
  assert_false(cache_is_stale(f->c, T0, 72));
  assert_false(cache_is_stale(f->c, T0 + 72 * HOUR_MS, 72));
  assert_true(cache_is_stale(f->c, T0 + 72 * HOUR_MS + 1000, 72));
  assert_false(cache_is_stale(f->c, T0 + 72 * HOUR_MS, 0)); /* 0 means 72 */
  assert_true(cache_is_stale(f->c, T0 + 72 * HOUR_MS + 1000, 0));
  assert_true(cache_is_stale(f->c, T0 + 2 * HOUR_MS, 1));
  assert_true(cache_is_stale(NULL, T0, 72));
}

static void remarking_from_the_pool(void **state)
{
  fixture_t *f = *state;
  char fresh[3][80], old[64], sold[64], label[128];
  const char *codes[4];
  const char *kis[2];
  size_t added = 0;
  uint64_t n = 0;
  cache_code_t row;
  cache_pending_t pending[4];
  size_t count = 0;
  int64_t pid = 0, again = 0;

  for (int i = 0; i < 3; i++) {
    char serial[16];
    snprintf(serial, sizeof serial, "NEW%010d", i);
    code_make(fresh[i], sizeof fresh[i], i < 2 ? gtin_a : gtin_b, serial);
    codes[i] = fresh[i];
  }
  ki_make(old, sizeof old, gtin_a, "OLD0000000001");
  ki_make(sold, sizeof sold, gtin_a, "OLD0000000002");
  kis[0] = old;
  kis[1] = sold;
  assert_int_equal(cache_stock_add(f->c, kis, 2, NULL), 0);
  {
    cache_receipt_line_t line = {.ki = sold, .km_status = 1};
    assert_int_equal(cache_apply_receipt(f->c, 1, 1, &line, 1), 0);
  }
  /* An empty pool. */
  assert_int_equal(cache_remark(f->c, gtin_a, old, 0, label, sizeof label), CACHE_ERR_EMPTY);

  /* A bad code refuses the whole pool file; the index is named. */
  codes[3] = "not a code";
  assert_int_equal(cache_pool_add(f->c, codes, 4, &added), CACHE_ERR_FORMAT);
  assert_non_null(strstr(cache_last_error(f->c), "code 3"));
  assert_int_equal(cache_pool_count(f->c, NULL, &n), 0);
  assert_int_equal(n, 0);
  /* A code the store already holds is not fresh. */
  {
    char held[80];
    const char *one[1] = {held};
    code_make(held, sizeof held, gtin_a, "OLD0000000001");
    assert_int_equal(cache_pool_add(f->c, one, 1, &added), CACHE_ERR_STATE);
  }
  assert_int_equal(cache_pool_add(f->c, codes, 3, &added), 0);
  assert_int_equal(added, 3);
  assert_int_equal(cache_pool_add(f->c, codes, 2, &added), 0); /* pooled already: skipped */
  assert_int_equal(added, 0);
  assert_int_equal(cache_pool_count(f->c, gtin_a, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(cache_pool_count(f->c, gtin_c, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(cache_remark(f->c, gtin_c, NULL, 1, label, sizeof label), CACHE_ERR_EMPTY);

  /* Refusals that leave the pool alone. */
  assert_int_equal(cache_remark(f->c, gtin_a, sold, 0, label, sizeof label), CACHE_ERR_STATE);
  assert_int_equal(cache_remark(f->c, gtin_b, old, 0, label, sizeof label), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_remark(f->c, gtin_a, old, 0, label, 10), CACHE_ERR_ARGUMENT);
  {
    char unknown[64];
    ki_make(unknown, sizeof unknown, gtin_a, "UNK0000000001");
    assert_int_equal(cache_remark(f->c, gtin_a, unknown, 0, label, sizeof label),
                     CACHE_ERR_NOT_FOUND);
  }
  assert_int_equal(cache_pool_count(f->c, gtin_a, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(cache_code_get(f->c, old, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK);

  /* Remark the old code: the oldest pooled code becomes its label. */
  assert_int_equal(cache_remark(f->c, gtin_a, old, 0, label, sizeof label), 0);
  assert_string_equal(label, fresh[0]);
  assert_int_equal(cache_code_get(f->c, old, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_REMARKED);
  assert_int_equal(strncmp(row.remarked_to, fresh[0], strlen(row.remarked_to)), 0);
  {
    char new_ki[64];
    ki_make(new_ki, sizeof new_ki, gtin_a, "NEW0000000000");
    assert_string_equal(row.remarked_to, new_ki);
    assert_int_equal(cache_code_get(f->c, new_ki, &row), 0);
    assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK);
    assert_string_equal(row.remarked_from, old);
  }
  assert_int_equal(cache_pool_count(f->c, gtin_a, &n), 0);
  assert_int_equal(n, 1);
  /* The old code never sells again: not to stock, not remarked twice, and a
  ** receipt naming it (the archive is the truth about receipts) leaves it
  ** REMARKED. */
  assert_int_equal(cache_stock_add(f->c, kis, 1, NULL), CACHE_ERR_STATE);
  assert_int_equal(cache_remark(f->c, gtin_a, old, 0, label, sizeof label), CACHE_ERR_STATE);
  {
    cache_receipt_line_t line = {.ki = old, .km_status = 1};
    assert_int_equal(cache_apply_receipt(f->c, 2, 1, &line, 1), 0);
    assert_int_equal(cache_code_get(f->c, old, &row), 0);
    assert_int_equal(row.local, CACHE_LOCAL_REMARKED);
    assert_int_equal(row.sold_document, 2);
    line.km_status = 3;
    assert_int_equal(cache_apply_receipt(f->c, 3, 2, &line, 1), 0);
    assert_int_equal(cache_code_get(f->c, old, &row), 0);
    assert_int_equal(row.local, CACHE_LOCAL_REMARKED);
  }

  /* A return without a code: pending, then remarked, then closed. */
  assert_int_equal(cache_pending_add(f->c, gtin_a, 7, 2, T0, &pid), 0);
  assert_true(pid > 0);
  assert_int_equal(cache_pending_add(f->c, gtin_a, 7, 2, T0 + 1, &again), 0);
  assert_int_equal(again, pid); /* replayed after a crash: the same row */
  assert_int_equal(cache_pending_add(f->c, gtin_b, 7, 2, T0, &again), CACHE_ERR_STATE);
  assert_int_equal(cache_pending_add(f->c, gtin_a, 0, 2, T0, &again), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_pending_list(f->c, pending, 4, &count), 0);
  assert_int_equal(count, 1);
  assert_int_equal(pending[0].id, pid);
  assert_int_equal(pending[0].return_document, 7);
  assert_int_equal(pending[0].line, 2);
  assert_string_equal(pending[0].gtin, gtin_a);
  assert_int_equal(pending[0].created_ms, T0);
  {
    cache_pending_t one;
    assert_int_equal(cache_pending_get(f->c, pid, &one), 0);
    assert_int_equal(one.id, pid);
    assert_int_equal(one.return_document, 7);
    assert_int_equal(one.line, 2);
    assert_string_equal(one.gtin, gtin_a);
    assert_int_equal(cache_pending_get(f->c, pid + 100, &one), CACHE_ERR_NOT_FOUND);
  }
  assert_int_equal(cache_remark(f->c, gtin_b, NULL, pid, label, sizeof label), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_remark(f->c, gtin_a, NULL, pid + 100, label, sizeof label),
                   CACHE_ERR_NOT_FOUND);
  assert_int_equal(cache_remark(f->c, gtin_a, NULL, pid, label, sizeof label), 0);
  assert_string_equal(label, fresh[1]);
  assert_int_equal(cache_pending_list(f->c, pending, 4, &count), 0);
  assert_int_equal(count, 0);
  {
    cache_pending_t one; /* remarked: no longer open */
    assert_int_equal(cache_pending_get(f->c, pid, &one), CACHE_ERR_NOT_FOUND);
  }
  {
    char new_ki[64];
    ki_make(new_ki, sizeof new_ki, gtin_a, "NEW0000000001");
    assert_int_equal(cache_code_get(f->c, new_ki, &row), 0);
    assert_string_equal(row.remarked_from, "return:7:2");
    assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK);
  }
  /* Closed is closed; and now the GTIN's pool is empty. */
  assert_int_equal(cache_remark(f->c, gtin_b, NULL, pid, label, sizeof label), CACHE_ERR_STATE);
  assert_int_equal(cache_pending_add(f->c, gtin_a, 8, 1, T0, &pid), 0);
  assert_int_equal(cache_remark(f->c, gtin_a, NULL, pid, label, sizeof label), CACHE_ERR_EMPTY);
  {
    cache_counts_t c;
    assert_int_equal(cache_counts(f->c, &c), 0);
    assert_int_equal(c.remarked, 1);
    assert_int_equal(c.pooled, 1);
    assert_int_equal(c.pending, 1);
  }
  counts_agree(f);
}

static void null_arguments_are_refused(void **state)
{
  fixture_t *f = *state;
  cache_code_t row;
  cache_counts_t n;
  uint32_t applied;
  assert_int_equal(cache_code_get(NULL, "x", &row), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_code_get(f->c, NULL, &row), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_code_get(f->c, "0104600000000000\x1d", &row), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_counts(NULL, &n), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_fn_applied(f->c, NULL), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_fn_applied(NULL, &applied), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_stock_add(f->c, NULL, 1, NULL), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_stock_add(f->c, NULL, 0, NULL), 0);
  assert_int_equal(cache_sync_apply(f->c, NULL, 0, NULL, T0), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_sync_apply(f->c, NULL, 0, "c", 0), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_pool_add(f->c, NULL, 1, NULL), CACHE_ERR_ARGUMENT);
  assert_int_equal(cache_remark(f->c, gtin_a, NULL, 0, NULL, 0), CACHE_ERR_ARGUMENT);
  assert_string_equal(cache_local_name(CACHE_LOCAL_REMARKED), "remarked");
  assert_string_equal(cache_op_name(CACHE_OP_CIRCULATION), "circulation");
  assert_string_equal(cache_block_kind_name(CACHE_BLOCK_SERIES), "series");
}

int main(void)
{
  gtin_make("460000000001", gtin_a);
  gtin_make("460000000002", gtin_b);
  gtin_make("460000000003", gtin_c);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(open_makes_a_private_wal_file, setup, teardown),
      cmocka_unit_test_setup_teardown(products_are_checked_and_padded, setup, teardown),
      cmocka_unit_test_setup_teardown(grouped_lookups_read_one_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(catalogue_import_is_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(catalogue_reads_quoted_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(stock_add_is_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(replay_pointer_refuses_gaps_and_repeats, setup, teardown),
      cmocka_unit_test_setup_teardown(parts_of_a_pack, setup, teardown),
      cmocka_unit_test_setup_teardown(blocks_by_code_gtin_and_series, setup, teardown),
      cmocka_unit_test_setup_teardown(sync_pages_keep_local_state, setup, teardown),
      cmocka_unit_test_setup_teardown(stale_after_72_hours, setup, teardown),
      cmocka_unit_test_setup_teardown(remarking_from_the_pool, setup, teardown),
      cmocka_unit_test_setup_teardown(null_arguments_are_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
