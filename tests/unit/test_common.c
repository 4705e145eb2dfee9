/*
** test_common.c: the helpers every module shares (common/).
**
**   - codec: base64 against RFC 4648's test vectors (section 10) and the
**     strict rules for input from outside; hex in both directions, the
**     one-spelling rule for byte strings, either case for digits;
**   - errtab: known codes, unknown codes, the ok row before the end row;
**   - buffer: growth, the limit (kept as it was, `over` set), free;
**   - db: exec with its message, a pragma's answer, a column cut to fit.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buffer.h"
#include "common/codec.h"
#include "common/db.h"
#include "common/errtab.h"
#include "common/text.h"

/* RFC 4648 section 10: BASE64("") = "", ("f") = "Zg==", ... */
static const struct {
  const char *plain, *encoded;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_vectors(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
    size_t n = strlen(rfc4648[i].plain);
    char *enc = codec_base64_encode(rfc4648[i].plain, n);
    assert_non_null(enc);
    assert_string_equal(enc, rfc4648[i].encoded);
    free(enc);
    char fixed[16];
    assert_int_equal(codec_base64_encode_to(rfc4648[i].plain, n, fixed),
                     strlen(rfc4648[i].encoded));
    assert_string_equal(fixed, rfc4648[i].encoded);

    uint8_t *out = NULL;
    size_t out_len = 99;
    assert_int_equal(
        codec_base64_decode(rfc4648[i].encoded, strlen(rfc4648[i].encoded), &out, &out_len), 0);
    assert_non_null(out);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, rfc4648[i].plain, n);
    free(out);
    /* Into a buffer exactly as large as the answer: the padding's bytes
    ** must not be written past it. */
    uint8_t exact[8];
    memset(exact, 0xEE, sizeof exact);
    assert_true(
        codec_base64_decode_to(rfc4648[i].encoded, strlen(rfc4648[i].encoded), exact, n, &out_len));
    assert_int_equal(out_len, n);
    assert_memory_equal(exact, rfc4648[i].plain, n);
    assert_int_equal(exact[n], 0xEE);
    if (n > 0)
      assert_false(codec_base64_decode_to(rfc4648[i].encoded, strlen(rfc4648[i].encoded), exact,
                                          n - 1, &out_len));
  }
}

/* What kassa took from the batch format's own test: "AB" and the rules. */
static void test_base64_strict(void **state)
{
  (void)state;
  uint8_t *out = NULL;
  size_t n = 0;
  char *enc = codec_base64_encode((const uint8_t *)"AB", 2);
  assert_string_equal(enc, "QUI=");
  free(enc);
  assert_int_equal(codec_base64_decode("QUI=", 4, &out, &n), 0);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "AB", 2);
  free(out);
  assert_int_equal(codec_base64_decode("QQ==", 4, &out, &n), 0);
  assert_int_equal(n, 1);
  free(out);
  assert_int_equal(codec_base64_decode("", 0, &out, &n), 0);
  assert_int_equal(n, 0);
  free(out);
  static const char *const bad[] = {"QQ=",  "Q===", "QQ==QQ==", "QU I", "QUI\n", "=QUI", "QU=I",
                                    "QUI-", "QUI_", "QR==",     "QUJ=", "Zh==",  "Zm9="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    out = (uint8_t *)1;
    assert_int_equal(codec_base64_decode(bad[i], strlen(bad[i]), &out, &n), -1);
    assert_null(out);
    uint8_t fixed[8];
    assert_false(codec_base64_decode_to(bad[i], strlen(bad[i]), fixed, sizeof fixed, &n));
  }
  assert_int_equal(codec_base64_decode(NULL, 0, &out, &n), -1);
}

static void test_hex(void **state)
{
  (void)state;
  static const uint8_t bytes[] = {0x00, 0x1d, 0xab, 0xff};
  char text[9];
  codec_hex_encode(bytes, sizeof bytes, CODEC_HEX_LOWER, text);
  assert_string_equal(text, "001dabff");
  codec_hex_encode(bytes, sizeof bytes, CODEC_HEX_UPPER, text);
  assert_string_equal(text, "001DABFF");
  codec_hex_encode(bytes, 0, CODEC_HEX_LOWER, text);
  assert_string_equal(text, "");

  uint8_t back[4];
  assert_true(codec_hex_decode("001dabff", 8, back, sizeof back));
  assert_memory_equal(back, bytes, sizeof bytes);
  /* A byte string has one spelling: upper case, odd lengths, other
  ** characters and a wrong length are refused. */
  assert_false(codec_hex_decode("001DABFF", 8, back, sizeof back));
  assert_false(codec_hex_decode("001dabf", 7, back, sizeof back));
  assert_false(codec_hex_decode("001dabfg", 8, back, sizeof back));
  assert_false(codec_hex_decode("001dab", 6, back, sizeof back));
  assert_false(codec_hex_decode(" 01dabff", 8, back, sizeof back));
  assert_false(codec_hex_decode(NULL, 0, back, 0));
  assert_true(codec_hex_decode("", 0, back, 0));

  /* A digit in either case. */
  static const char digits[] = "0123456789abcdefABCDEF";
  static const int values[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                               11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
    assert_int_equal(codec_hex_digit(digits[i]), values[i]);
  assert_int_equal(codec_hex_digit('g'), -1);
  assert_int_equal(codec_hex_digit('G'), -1);
  assert_int_equal(codec_hex_digit('/'), -1);
  assert_int_equal(codec_hex_digit(':'), -1);
  assert_int_equal(codec_hex_digit('\0'), -1);
}

enum { T_OK = 0, T_ONE = -1, T_TWO = -2, T_GAP = -5 };
static const errtab_t table[] = {
    {T_OK, "ok", "Готово.", "Done."},      {T_ONE, "one", "Один.", "One."},
    {T_TWO, "two", "Два.", "Two."},        {T_GAP, "gap", "Пять.", "Five."},
    ERRTAB_END("Неизвестно.", "Unknown."),
};

/* RFC 1738 escapes, as the local-module manual's examples write them:
** "0104850013000162215aBcDe%2B%26zXy" is "...5aBcDe+&zXy". */
static void test_percent(void **state)
{
  char out[64];
  (void)state;
  assert_int_equal(codec_percent_decode("0104850013000162215aBcDe%2B%26zXy", out, sizeof out), 29);
  assert_string_equal(out, "0104850013000162215aBcDe+&zXy");
  char *e = codec_percent_encode("0104850013000162215aBcDe+&zXy");
  assert_non_null(e);
  assert_string_equal(e, "0104850013000162215aBcDe%2B%26zXy");
  free(e);
  e = codec_percent_encode("04647297654361!VUyRMj-_.*'()~ \x1d");
  assert_string_equal(e, "04647297654361!VUyRMj-_.*'()%7E%20%1D");
  free(e);
  /* %00 stays as written (a NUL would cut the string); a stray % too. */
  codec_percent_decode("a%00b%zzc%4", out, sizeof out);
  assert_string_equal(out, "a%00b%zzc%4");
  /* Cut to fit, always terminated. */
  assert_int_equal(codec_percent_decode("abcdef", out, 4), 3);
  assert_string_equal(out, "abc");
  assert_null(codec_percent_encode(NULL));
}

static void test_errtab(void **state)
{
  (void)state;
  assert_string_equal(errtab_name(table, T_OK), "ok");
  assert_string_equal(errtab_message(table, T_OK, false), "Done.");
  assert_string_equal(errtab_name(table, T_TWO), "two");
  assert_string_equal(errtab_message(table, T_TWO, true), "Два.");
  assert_string_equal(errtab_name(table, T_GAP), "gap");
  assert_string_equal(errtab_message(table, T_GAP, false), "Five.");
  assert_ptr_equal(errtab_find(table, T_ONE), &table[1]);
  for (int code = -3; code >= -4; code--) { /* inside the gap */
    assert_string_equal(errtab_name(table, code), "unknown");
    assert_string_equal(errtab_message(table, code, true), "Неизвестно.");
  }
  assert_string_equal(errtab_name(table, 7), "unknown");
  assert_string_equal(errtab_message(table, -100, false), "Unknown.");
  assert_null(errtab_find(table, 7)->name);
}

/* Both languages from one argument list; a text cut to fit is cut between
** UTF-8 characters, never inside one. */
static void test_errtab_format(void **state)
{
  (void)state;
  char ru[64], en[64];
  errtab_format(ru, sizeof ru, en, sizeof en, "Строка %u: %s", "Line %u: %s", 7u, "x");
  assert_string_equal(ru, "Строка 7: x");
  assert_string_equal(en, "Line 7: x");
  /* "Ошибка" is 12 bytes; every buffer size from 1 to 14 must leave whole
  ** characters only. */
  for (size_t size = 1; size <= 14; size++) {
    char cut[16];
    memset(cut, 'Z', sizeof cut);
    errtab_format(cut, size, NULL, 0, "Ошибка", "Error");
    size_t len = strlen(cut);
    assert_true(len < size);
    assert_int_equal(len % 2, 0); /* Cyrillic letters are two bytes each */
    assert_memory_equal(cut, "Ошибка", len);
  }
  errtab_format(NULL, 0, en, 4, "-", "Error");
  assert_string_equal(en, "Err");
  /* Words: a message too long ends after a whole word, with "…". */
  errtab_format(ru, 24, en, 16, "Строка %u: неверный символ", "Line %u: bad character", 7u);
  assert_string_equal(ru, "Строка 7…"); /* "Строка 7: н" would fit; no half word */
  assert_string_equal(en, "Line 7: bad…");
}

static void test_buffer(void **state)
{
  (void)state;
  buffer_t b = {.limit = 10000};
  char piece[1000];
  memset(piece, 'x', sizeof piece);
  for (int i = 0; i < 10; i++) assert_int_equal(buffer_append(&b, piece, sizeof piece), 0);
  assert_int_equal(b.len, 10000);
  assert_false(b.over);
  assert_true(b.cap <= b.limit + 1);
  assert_int_equal(b.data[b.len], '\0');
  /* One byte past the limit: dropped, said, the rest kept as it was. */
  assert_int_equal(buffer_append(&b, "y", 1), 0);
  assert_true(b.over);
  assert_int_equal(b.len, 10000);
  assert_int_equal(b.data[9999], 'x');
  /* Once over, even what would fit is dropped: the body is already lost. */
  buffer_free(&b);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  b.limit = 8;
  assert_int_equal(buffer_append(&b, "123456789", 9), 0);
  assert_true(b.over);
  assert_int_equal(buffer_append(&b, "1", 1), 0);
  assert_int_equal(b.len, 0);
  buffer_free(&b);
  b.limit = 8;
  assert_int_equal(buffer_append(&b, "1234", 4), 0);
  assert_int_equal(buffer_append(&b, "", 0), 0);
  assert_int_equal(buffer_append(&b, "5678", 4), 0);
  assert_false(b.over);
  assert_string_equal(b.data, "12345678");
  buffer_free(&b);
  buffer_free(NULL);
}

static void test_db(void **state)
{
  (void)state;
  sqlite3 *db = NULL;
  char err[256] = "", out[8];
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  assert_int_equal(
      db_exec(db, "CREATE TABLE t(v TEXT); INSERT INTO t VALUES('hello world')", err, sizeof err),
      SQLITE_OK);
  assert_string_equal(err, "");
  assert_int_not_equal(db_exec(db, "INSERT INTO nowhere VALUES(1)", err, sizeof err), SQLITE_OK);
  assert_non_null(strstr(err, "INSERT INTO nowhere VALUES(1): "));
  assert_non_null(strstr(err, "nowhere"));
  assert_int_not_equal(db_exec(db, "SELEC 1", NULL, 0), SQLITE_OK);

  assert_int_equal(db_pragma_text(db, "PRAGMA user_version", out, sizeof out), SQLITE_OK);
  assert_string_equal(out, "0");
  assert_int_equal(db_pragma_text(db, "SELECT v FROM t", out, sizeof out), SQLITE_OK);
  assert_string_equal(out, "hello w"); /* cut to fit, NUL-terminated */
  assert_int_equal(db_pragma_text(db, "SELECT v FROM t WHERE 0", out, sizeof out), SQLITE_OK);
  assert_string_equal(out, "");
  assert_int_not_equal(db_pragma_text(db, "SELECT nothing FROM t", out, sizeof out), SQLITE_OK);

  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT v, NULL FROM t", -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  char big[64] = "junk";
  db_column_text(s, 0, big, sizeof big);
  assert_string_equal(big, "hello world");
  db_column_text(s, 1, big, sizeof big);
  assert_string_equal(big, "");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

/* Buffers sharing a budget: past it a piece is dropped and the buffer is
** busy; freeing gives the bytes back (issue 18). */
static void test_buffer_budget(void **state)
{
  (void)state;
  buffer_budget_t budget = {.max = 1500};
  buffer_t a = {.limit = 1000, .budget = &budget}, b = {.limit = 1000, .budget = &budget};
  char piece[1000];
  memset(piece, 'x', sizeof piece);
  assert_int_equal(buffer_append(&a, piece, 1000), 0);
  assert_false(a.busy);
  assert_int_equal(buffer_append(&b, piece, 600), 0); /* 1600 > 1500: dropped */
  assert_true(b.busy);
  assert_int_equal(b.len, 0);
  assert_int_equal(buffer_append(&b, piece, 10), 0); /* busy stays busy */
  assert_int_equal(b.len, 0);
  assert_int_equal(budget.used, 1000);
  buffer_free(&a);
  assert_int_equal(budget.used, 0);
  buffer_t c = {.limit = 1000, .budget = &budget};
  assert_int_equal(buffer_append(&c, piece, 600), 0);
  assert_false(c.busy);
  buffer_free(&c);
  buffer_free(&b);
  assert_int_equal(budget.used, 0);
}

/* The one UTF-8 validator (RFC 3629's rules) and the log escaper (issue 18). */
static void test_text(void **state)
{
  (void)state;
  size_t at = 99;
  static const struct {
    const char *s;
    size_t n;
    text_fault_t fault;
    size_t at;
  } cases[] = {
      {"Кроссовки «Бег» 44", 0, TEXT_OK, 0},
      {"plain", 0, TEXT_OK, 0},
      {"ab\x1b[31m", 0, TEXT_CONTROL, 2}, /* ESC: a terminal escape */
      {"a\x1d"
       "b",
       0, TEXT_CONTROL, 1},                       /* GS */
      {"a\nb", 0, TEXT_CONTROL, 1},               /* a forged log line */
      {"a\x7f", 0, TEXT_CONTROL, 1},              /* DEL */
      {"a\xc2\x85", 0, TEXT_CONTROL, 1},          /* U+0085, a C1 control */
      {"a\xc0\x80", 0, TEXT_BAD_UTF8, 1},         /* overlong NUL */
      {"a\xed\xa0\x80", 0, TEXT_BAD_UTF8, 1},     /* a surrogate */
      {"a\xf4\x90\x80\x80", 0, TEXT_BAD_UTF8, 1}, /* past U+10FFFF */
      {"\xd0", 0, TEXT_BAD_UTF8, 0},              /* cut */
      {"\xff", 0, TEXT_BAD_UTF8, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);
    assert_int_equal(text_check(cases[i].s, n, &at), cases[i].fault);
    if (cases[i].fault != TEXT_OK) assert_int_equal(at, cases[i].at);
  }
  char out[64];
  assert_string_equal(text_log_escape("/api/x\nFORGED\x1b[31m", out, sizeof out),
                      "/api/x\\x0aFORGED\\x1b[31m");
  assert_string_equal(text_log_escape("a\\b\xffЖ", out, sizeof out), "a\\\\b\\xffЖ");
  assert_string_equal(text_log_escape(NULL, out, sizeof out), "");
  /* Cut to fit, never inside an escape or a character. */
  assert_string_equal(text_log_escape("ab\n", out, 5), "ab");
  assert_string_equal(text_log_escape("aЖ", out, 3), "a");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_base64_vectors),
      cmocka_unit_test(test_base64_strict),
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_percent),
      cmocka_unit_test(test_errtab),
      cmocka_unit_test(test_errtab_format),
      cmocka_unit_test(test_buffer),
      cmocka_unit_test(test_buffer_budget),
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_db),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
