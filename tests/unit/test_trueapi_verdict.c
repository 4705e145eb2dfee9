/*
** tests/unit/test_trueapi_verdict.c: the deny order of the permissive-mode
** check (ofd/trueapi.h), from JSON answers alone: no network.
**
** What must hold: for every combination of the nine rules of DOMAIN §6
** (valid, found, utilised, verified, isBlocked, sold, realizable, expired,
** price) written as a true-api answer, the verdict is the first failing
** rule in that order, and "ok" only when none fails; expiry counts only for
** dairy, water and beer, price rules only for tobacco with a known sale
** price; a missing boolean denies; reqId and reqTimestamp make tag 1265;
** an answer with code != 0, no reqId or no codes[] is a protocol error;
** every verdict has a distinct stable name and both messages. CRPT's plan
** (tests/data/permissive/cases.json): a grey-zone tobacco code sells though
** not realizable, only for tobacco, and every other rule still applies; a
** block is priced against smp and mrp times its packs (packageQuantity,
** innerUnitCount, else 10 for a non-UNIT package); group 16's mrp is a
** minimum price with no maximum.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ofd/trueapi.h"

#define NOW_MS   1767225600000LL /* 2026-01-01T00:00:00Z */
#define RULES    9
#define PRICE_OK 12000u

/* Bit i set: rule i fails. Order = the deny order. */
enum {
  R_VALID,
  R_FOUND,
  R_UTILISED,
  R_VERIFIED,
  R_BLOCKED,
  R_SOLD,
  R_REALIZABLE,
  R_EXPIRED,
  R_PRICE
};

static const trueapi_verdict_t expected_for_rule[RULES] = {
    TRUEAPI_BAD_FORMAT,         TRUEAPI_UNKNOWN, TRUEAPI_NOT_APPLIED,
    TRUEAPI_CRYPTO_FAILED,      TRUEAPI_BLOCKED, TRUEAPI_SOLD,
    TRUEAPI_NOT_IN_CIRCULATION, TRUEAPI_EXPIRED, TRUEAPI_PRICE_LOW,
};

static bool fails(unsigned mask, int rule) { return (mask >> rule) & 1u; }

/* A codes/check answer for a tobacco-like code of group `group`, every
** rule passing except those in mask. */
static int answer(unsigned mask, int group, char *out, size_t cap)
{
  return snprintf(
      out, cap,
      "{\"code\":0,\"description\":\"ok\",\"reqId\":\"1b2c3d4e-0000-4000-8000-000000000001\","
      "\"reqTimestamp\":1767225600123,\"codes\":[{\"cis\":\"010460000000002221ABCDEFG\","
      "\"valid\":%s,\"printView\":\"x\",\"gtin\":\"04600000000022\",\"groupIds\":[%d],"
      "\"verified\":%s,\"found\":%s,\"realizable\":%s,\"utilised\":%s,\"isBlocked\":%s,"
      "\"ogvs\":[],\"isOwner\":false,\"expireDate\":\"%s\",\"productionDate\":null,"
      "\"errorCode\":0,\"sold\":%s,\"mrp\":15000,\"smp\":%u,\"soldUnitCount\":0,"
      "\"innerUnitCount\":0,\"grayZone\":false,\"message\":\"ok\"}]}",
      fails(mask, R_VALID) ? "false" : "true", group, fails(mask, R_VERIFIED) ? "false" : "true",
      fails(mask, R_FOUND) ? "false" : "true", fails(mask, R_REALIZABLE) ? "false" : "true",
      fails(mask, R_UTILISED) ? "false" : "true", fails(mask, R_BLOCKED) ? "true" : "false",
      fails(mask, R_EXPIRED) ? "2025-12-31T23:59:59.000Z" : "2026-01-02T00:00:00.000Z",
      fails(mask, R_SOLD) ? "true" : "false", fails(mask, R_PRICE) ? 13000u : 10000u);
}

static trueapi_verdict_t verdict_of(const char *json, uint64_t price)
{
  trueapi_result_t r;
  assert_int_equal(trueapi_parse_answer(json, strlen(json), &r), 0);
  return trueapi_decide(&r.code, NOW_MS, price);
}

/* Every combination; the first failing rule wins. Expiry and price both
** apply only when the group allows: here the expiry rule is exercised with
** dairy (8) and the price rule with tobacco (3), separately. */
static void test_deny_order_all_combinations(void **state)
{
  char json[2048];
  (void)state;
  for (unsigned mask = 0; mask < (1u << RULES); mask++) {
    trueapi_verdict_t want = TRUEAPI_SELL, got;
    int group = TRUEAPI_GROUP_TOBACCO;
    unsigned m = mask;
    /* One code cannot be dairy and tobacco: split by the expiry bit. */
    if (fails(mask, R_EXPIRED)) {
      group = TRUEAPI_GROUP_MILK;
      m &= ~(1u << R_PRICE);
    }
    for (int rule = 0; rule < RULES; rule++) {
      if (fails(m, rule)) {
        want = expected_for_rule[rule];
        break;
      }
    }
    answer(m, group, json, sizeof json);
    got = verdict_of(json, PRICE_OK);
    if (got != want)
      fail_msg("mask 0x%03x: want %s, got %s", m, trueapi_verdict_name(want),
               trueapi_verdict_name(got));
  }
}

static void test_group_scoped_rules(void **state)
{
  char json[2048];
  (void)state;
  /* Expired date on footwear (2): no expiry rule. On water and beer: yes. */
  answer(1u << R_EXPIRED, 2, json, sizeof json);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_SELL);
  answer(1u << R_EXPIRED, TRUEAPI_GROUP_WATER, json, sizeof json);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_EXPIRED);
  answer(1u << R_EXPIRED, TRUEAPI_GROUP_BEER, json, sizeof json);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_EXPIRED);
  /* Tobacco price: below smp (13000), above mrp (15000), at the bounds,
  ** and unknown (0): skipped. */
  answer(1u << R_PRICE, TRUEAPI_GROUP_TOBACCO, json, sizeof json);
  assert_int_equal(verdict_of(json, 12999), TRUEAPI_PRICE_LOW);
  assert_int_equal(verdict_of(json, 13000), TRUEAPI_SELL);
  assert_int_equal(verdict_of(json, 15000), TRUEAPI_SELL);
  assert_int_equal(verdict_of(json, 15001), TRUEAPI_PRICE_HIGH);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_SELL);
  /* The same prices on footwear: no price rule. */
  answer(1u << R_PRICE, 2, json, sizeof json);
  assert_int_equal(verdict_of(json, 1), TRUEAPI_SELL);
  assert_int_equal(verdict_of(json, 99999), TRUEAPI_SELL);
  /* Alternative tobacco (12) follows the tobacco rules. */
  answer(0, TRUEAPI_GROUP_OTP, json, sizeof json);
  assert_int_equal(verdict_of(json, 20000), TRUEAPI_PRICE_HIGH);
}

static void test_missing_fields_deny(void **state)
{
  trueapi_result_t r;
  const char *bare = "{\"code\":0,\"reqId\":\"a\",\"reqTimestamp\":5,\"codes\":[{\"cis\":\"x\"}]}";
  const char *no_verified =
      "{\"code\":0,\"reqId\":\"a\",\"reqTimestamp\":5,\"codes\":[{\"valid\":true,"
      "\"found\":true,\"utilised\":true,\"realizable\":true}]}";
  (void)state;
  assert_int_equal(trueapi_parse_answer(bare, strlen(bare), &r), 0);
  assert_int_equal(trueapi_decide(&r.code, NOW_MS, 0), TRUEAPI_BAD_FORMAT);
  assert_int_equal(trueapi_parse_answer(no_verified, strlen(no_verified), &r), 0);
  assert_int_equal(trueapi_decide(&r.code, NOW_MS, 0), TRUEAPI_CRYPTO_FAILED);
  assert_int_equal(trueapi_decide(NULL, NOW_MS, 0), TRUEAPI_BAD_FORMAT);
}

static void test_tag1265_and_fields(void **state)
{
  char json[2048];
  trueapi_result_t r;
  (void)state;
  answer(0, TRUEAPI_GROUP_MILK, json, sizeof json);
  assert_int_equal(trueapi_parse_answer(json, strlen(json), &r), 0);
  assert_string_equal(r.req_id, "1b2c3d4e-0000-4000-8000-000000000001");
  assert_true(r.req_timestamp == 1767225600123LL);
  assert_string_equal(r.tag1265, "UUID=1b2c3d4e-0000-4000-8000-000000000001&Time=1767225600123");
  assert_string_equal(r.code.gtin, "04600000000022");
  assert_string_equal(r.code.cis, "010460000000002221ABCDEFG");
  assert_int_equal(r.code.group_count, 1);
  assert_int_equal(r.code.group_ids[0], TRUEAPI_GROUP_MILK);
  assert_true(r.code.has_expire && r.code.expire_ms == 1767312000000LL);
  assert_true(r.code.has_mrp && r.code.mrp == 15000u);
  assert_true(r.code.has_smp && r.code.smp == 10000u);
}

static void test_protocol_errors(void **state)
{
  static const char *const bad[] = {
      "",
      "not json",
      "[]",
      "{\"code\":1,\"reqId\":\"a\",\"reqTimestamp\":5,\"codes\":[{}]}",
      "{\"code\":0,\"reqTimestamp\":5,\"codes\":[{}]}",
      "{\"code\":0,\"reqId\":\"a\",\"codes\":[{}]}",
      "{\"code\":0,\"reqId\":\"a\",\"reqTimestamp\":5}",
      "{\"code\":0,\"reqId\":\"a\",\"reqTimestamp\":5,\"codes\":[]}",
      "{\"code\":0,\"reqId\":\"\",\"reqTimestamp\":5,\"codes\":[{}]}",
  };
  trueapi_result_t r;
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&r, 0x55, sizeof r);
    assert_int_equal(trueapi_parse_answer(bad[i], strlen(bad[i]), &r), TRUEAPI_ERR_PROTOCOL);
    assert_string_equal(r.tag1265, "");
  }
  assert_int_equal(trueapi_parse_answer(NULL, 0, &r), TRUEAPI_ERR_ARGUMENT);
}

static void test_names_and_messages(void **state)
{
  (void)state;
  for (int v = TRUEAPI_SELL; v <= TRUEAPI_NO_ANSWER; v++) {
    const char *name = trueapi_verdict_name((trueapi_verdict_t)v);
    assert_string_not_equal(name, "unknown");
    assert_true(strlen(trueapi_verdict_message((trueapi_verdict_t)v, true)) > 0);
    assert_true(strlen(trueapi_verdict_message((trueapi_verdict_t)v, false)) > 0);
    for (int w = v + 1; w <= TRUEAPI_NO_ANSWER; w++)
      assert_string_not_equal(name, trueapi_verdict_name((trueapi_verdict_t)w));
  }
  assert_string_equal(trueapi_verdict_name(TRUEAPI_SOLD), "sold");
  assert_string_equal(trueapi_verdict_name(TRUEAPI_NO_ANSWER), "no_answer");
  assert_string_equal(trueapi_verdict_name((trueapi_verdict_t)99), "unknown");
  assert_string_equal(trueapi_err_name(TRUEAPI_ERR_NO_ANSWER), "no_answer");
  assert_string_equal(trueapi_err_name(-99), "unknown");
  assert_non_null(trueapi_err_message(-99, true));
}

static void test_create_refuses(void **state)
{
  trueapi_options_t o;
  trueapi_t *t = (trueapi_t *)&o;
  trueapi_result_t r;
  (void)state;
  memset(&o, 0, sizeof o);
  assert_int_equal(trueapi_create(&o, &t), TRUEAPI_ERR_ARGUMENT);
  assert_null(t);
  assert_int_equal(trueapi_create(NULL, NULL), TRUEAPI_ERR_ARGUMENT);
  trueapi_destroy(NULL);
  assert_int_equal(trueapi_check(NULL, "x", 1, 0, &r), TRUEAPI_ERR_ARGUMENT);
  assert_int_equal(r.verdict, TRUEAPI_NO_ANSWER);
}

/* An answer for group `group` with realizable/grayZone and package fields
** as given; every deny rule before realizable passes. */
static void package_answer(char *out, size_t cap, int group, bool realizable, bool gray,
                           const char *package_type, int inner, int quantity, int smp, int mrp)
{
  snprintf(out, cap,
           "{\"code\":0,\"description\":\"ok\",\"reqId\":\"r\",\"reqTimestamp\":1,"
           "\"codes\":[{\"cis\":\"x\",\"valid\":true,\"found\":true,\"utilised\":true,"
           "\"verified\":true,\"isBlocked\":false,\"sold\":false,\"realizable\":%s,"
           "\"grayZone\":%s,\"groupIds\":[%d],\"packageType\":\"%s\",\"innerUnitCount\":%d,"
           "\"packageQuantity\":%d,\"smp\":%d,\"mrp\":%d}]}",
           realizable ? "true" : "false", gray ? "true" : "false", group, package_type, inner,
           quantity, smp, mrp);
}

static void test_grey_zone(void **state)
{
  char json[1024];
  trueapi_result_t r;
  (void)state;
  /* 5.4: tobacco, not realizable, grey zone: sells (and the price rules hold). */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, false, true, "UNIT", 0, 0, 13700, 0);
  assert_int_equal(trueapi_parse_answer(json, strlen(json), &r), 0);
  assert_true(r.code.gray_zone);
  assert_int_equal(trueapi_decide(&r.code, NOW_MS, 17700), TRUEAPI_SELL);
  assert_int_equal(trueapi_decide(&r.code, NOW_MS, 13699), TRUEAPI_PRICE_LOW);
  /* Not grey: not in circulation. Grey but not tobacco: still refused. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, false, false, "UNIT", 0, 0, 0, 0);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_NOT_IN_CIRCULATION);
  package_answer(json, sizeof json, TRUEAPI_GROUP_MILK, false, true, "UNIT", 0, 0, 0, 0);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_NOT_IN_CIRCULATION);
  /* The grey zone lifts only realizable: a sold grey-zone pack stays sold. */
  const char *sold = "{\"code\":0,\"reqId\":\"r\",\"reqTimestamp\":1,\"codes\":[{\"valid\":true,"
                     "\"found\":true,\"utilised\":true,\"verified\":true,\"sold\":true,"
                     "\"grayZone\":true,\"groupIds\":[3]}]}";
  assert_int_equal(verdict_of(sold, 0), TRUEAPI_SOLD);
}

static void test_block_prices(void **state)
{
  char json[1024];
  trueapi_result_t r;
  (void)state;
  /* A pack: smp per pack. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, true, false, "UNIT", 1, 0, 20000, 0);
  assert_int_equal(verdict_of(json, 19900), TRUEAPI_PRICE_LOW);
  assert_int_equal(verdict_of(json, 20000), TRUEAPI_SELL);
  /* 5.25: a block of 10 at 1 990.00 with smp 200.00 a pack: refused; the
  ** old per-pack comparison would have sold it. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, true, false, "GROUP", 10, 0, 20000, 0);
  assert_int_equal(trueapi_parse_answer(json, strlen(json), &r), 0);
  assert_string_equal(r.code.package_type, "GROUP");
  assert_int_equal(r.code.inner_unit_count, 10);
  assert_int_equal(trueapi_decide(&r.code, NOW_MS, 199000), TRUEAPI_PRICE_LOW);
  assert_int_equal(trueapi_decide(&r.code, NOW_MS, 200000), TRUEAPI_SELL);
  /* packageQuantity wins over innerUnitCount. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, true, false, "GROUP", 10, 20, 10000, 0);
  assert_int_equal(verdict_of(json, 199999), TRUEAPI_PRICE_LOW);
  assert_int_equal(verdict_of(json, 200000), TRUEAPI_SELL);
  /* A block that names no count: 10 packs. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, true, false, "GROUP", 0, 0, 10000, 0);
  assert_int_equal(verdict_of(json, 99999), TRUEAPI_PRICE_LOW);
  assert_int_equal(verdict_of(json, 100000), TRUEAPI_SELL);
  /* The maximum scales the same way. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_TOBACCO, true, false, "GROUP", 10, 0, 0, 18000);
  assert_int_equal(verdict_of(json, 180000), TRUEAPI_SELL);
  assert_int_equal(verdict_of(json, 180001), TRUEAPI_PRICE_HIGH);
}

static void test_nicotine_minimum(void **state)
{
  char json[1024];
  (void)state;
  /* 5.26: group 16, mrp = the minimum price; no maximum. */
  package_answer(json, sizeof json, TRUEAPI_GROUP_NICOTINE, true, false, "UNIT", 0, 0, 0, 15000);
  assert_int_equal(verdict_of(json, 14999), TRUEAPI_PRICE_LOW);
  assert_int_equal(verdict_of(json, 15000), TRUEAPI_SELL);
  assert_int_equal(verdict_of(json, 999999), TRUEAPI_SELL);
  assert_int_equal(verdict_of(json, 0), TRUEAPI_SELL); /* price unknown: skipped */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deny_order_all_combinations),
      cmocka_unit_test(test_group_scoped_rules),
      cmocka_unit_test(test_missing_fields_deny),
      cmocka_unit_test(test_tag1265_and_fields),
      cmocka_unit_test(test_protocol_errors),
      cmocka_unit_test(test_names_and_messages),
      cmocka_unit_test(test_create_refuses),
      cmocka_unit_test(test_grey_zone),
      cmocka_unit_test(test_block_prices),
      cmocka_unit_test(test_nicotine_minimum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
