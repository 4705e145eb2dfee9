/*
** tests/unit/test_keys.c: the key server's update (ofd/keys.h).
**
** What must hold: an update built from keys parses back to the same keys
** and date; the bytes are the documented layout; and anything the builder
** would not write (a cut, a changed tag, a bad kind, trailing bytes, a
** missing date) is refused without touching the caller's outputs, as is a
** key no FN could take on the way out.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ofd/keys.h"

static fn_key_t make_key(const char *id, uint8_t kind, size_t len, uint8_t seed)
{
  fn_key_t k;
  memset(&k, 0, sizeof k);
  memcpy(k.id, id, 5);
  k.kind = kind;
  k.len = len;
  for (size_t i = 0; i < len; i++) k.material[i] = (uint8_t)(seed + i);
  return k;
}

static void test_round_trip(void **state)
{
  (void)state;
  fn_key_t in[3] = {make_key("TH01", FN_KEY_HMAC, 32, 1), make_key("AB+z", FN_KEY_GOST, 256, 7),
                    make_key("0000", FN_KEY_HMAC, 1, 9)};
  fn_key_t out[4];
  uint8_t buf[2048];
  size_t len = 0, n = 0;
  uint32_t when = 0;

  assert_int_equal(keys_build_update(in, 3, 1700000000u, buf, sizeof buf, &len), 0);
  /* The date comes first: tag FE00, length 4, LE value. */
  assert_int_equal(buf[0], 0x00);
  assert_int_equal(buf[1], 0xFE);
  assert_int_equal(buf[2], 4);
  assert_int_equal(buf[3], 0);
  assert_int_equal(len, 8 + 3 * 21 + 32 + 256 + 1);
  assert_int_equal(keys_parse_update(buf, len, out, 4, &n, &when), 0);
  assert_int_equal(n, 3);
  assert_int_equal(when, 1700000000u);
  for (size_t i = 0; i < 3; i++) {
    assert_string_equal(out[i].id, in[i].id);
    assert_int_equal(out[i].kind, in[i].kind);
    assert_int_equal(out[i].len, in[i].len);
    assert_memory_equal(out[i].material, in[i].material, in[i].len);
  }
  /* No keys: a session with the key server that only dates the table. */
  assert_int_equal(keys_build_update(NULL, 0, 5, buf, sizeof buf, &len), 0);
  assert_int_equal(len, 8);
  assert_int_equal(keys_parse_update(buf, len, NULL, 0, &n, &when), 0);
  assert_int_equal(n, 0);
  assert_int_equal(when, 5);
}

static void test_build_refuses(void **state)
{
  (void)state;
  fn_key_t k = make_key("TH01", FN_KEY_HMAC, 32, 1);
  uint8_t buf[64];
  size_t len = 99;

  fn_key_t bad = k;
  bad.kind = 3;
  assert_int_equal(keys_build_update(&bad, 1, 0, buf, sizeof buf, &len), KEYS_ERR_ARGUMENT);
  assert_int_equal(len, 0);
  bad = k;
  bad.len = 0;
  assert_int_equal(keys_build_update(&bad, 1, 0, buf, sizeof buf, &len), KEYS_ERR_ARGUMENT);
  bad = k;
  bad.id[2] = ' ';
  assert_int_equal(keys_build_update(&bad, 1, 0, buf, sizeof buf, &len), KEYS_ERR_ARGUMENT);
  assert_int_equal(keys_build_update(NULL, 1, 0, buf, sizeof buf, &len), KEYS_ERR_ARGUMENT);
  assert_int_equal(keys_build_update(&k, 1, 0, buf, 20, &len), KEYS_ERR_NO_SPACE);
  assert_int_equal(len, 0);
}

static void test_parse_refuses(void **state)
{
  (void)state;
  fn_key_t in[2] = {make_key("TH01", FN_KEY_HMAC, 32, 1), make_key("GO01", FN_KEY_GOST, 64, 2)};
  fn_key_t out[2];
  uint8_t buf[512], copy[520];
  size_t len = 0, n = 77;
  uint32_t when = 77;

  assert_int_equal(keys_build_update(in, 2, 42, buf, sizeof buf, &len), 0);
  /* Every cut short of the whole is refused, outputs untouched. */
  for (size_t cut = 0; cut < len; cut++) {
    int rc = keys_parse_update(buf, cut, out, 2, &n, &when);
    if (cut == 8 || cut == 8 + 21 + 32) continue; /* whole prefixes: fewer keys, still valid */
    assert_int_equal(rc, KEYS_ERR_MALFORMED);
  }
  n = 77;
  when = 77;
  assert_int_equal(keys_parse_update(buf, 3, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  assert_int_equal(n, 77);
  assert_int_equal(when, 77);
  /* Too many keys for the array. */
  assert_int_equal(keys_parse_update(buf, len, out, 1, &n, &when), KEYS_ERR_NO_SPACE);
  /* Trailing byte. */
  memcpy(copy, buf, len);
  copy[len] = 0;
  assert_int_equal(keys_parse_update(copy, len + 1, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  /* The date's tag changed. */
  memcpy(copy, buf, len);
  copy[0] = 0x05;
  assert_int_equal(keys_parse_update(copy, len, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  /* The first key's kind (after date 8, list header 4, id 8, kind header 4) made 3. */
  memcpy(copy, buf, len);
  assert_int_equal(copy[8 + 4 + 8 + 4], FN_KEY_HMAC);
  copy[8 + 4 + 8 + 4] = 3;
  assert_int_equal(keys_parse_update(copy, len, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  /* An id byte that is not printable. */
  memcpy(copy, buf, len);
  copy[8 + 4 + 4] = 0x1d;
  assert_int_equal(keys_parse_update(copy, len, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  /* The id and the kind swapped tags: wrong order. */
  memcpy(copy, buf, len);
  copy[8 + 4] = 0x03;
  assert_int_equal(keys_parse_update(copy, len, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  /* A list length that runs past the end. */
  memcpy(copy, buf, len);
  copy[8 + 2] = 0xFF;
  assert_int_equal(keys_parse_update(copy, len, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  /* Two dates. */
  memcpy(copy, buf, 8);
  memcpy(copy + 8, buf, len);
  assert_int_equal(keys_parse_update(copy, len + 8, out, 2, &n, &when), KEYS_ERR_MALFORMED);
  assert_int_equal(keys_parse_update(NULL, 0, out, 2, &n, &when), KEYS_ERR_ARGUMENT);
  assert_int_equal(n, 77);
  assert_int_equal(when, 77);
  assert_string_equal(keys_error_code(KEYS_ERR_MALFORMED), "malformed");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_build_refuses),
      cmocka_unit_test(test_parse_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
