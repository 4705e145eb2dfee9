/*
** tests/unit/test_registry.c: the till's reading of the operator's sync
** feed (ofd/registry.h, registry_parse_page), without a network.
**
** A page is trusted only when it is exactly the feed's shape: the field
** list in its order, every row's types, a known state, cursors of the
** feed's alphabet, snapshot counts that are numbers. Anything else is a
** protocol error that leaves the page empty, so a half-read page can never
** be stored with a cursor that skips codes.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ofd/registry.h"

#define FIELDS                                                                                     \
  "\"fields\":[\"ki\",\"gtin\",\"state\",\"blocked\",\"sold\",\"owner\",\"expire\",\"mrp\","       \
  "\"smp\"]"
#define ROW1                                                                                       \
  "[\"010460123450102621G01t\\\"X\",\"04601234501026\",\"INTRODUCED\",false,false,\"7707083893\"," \
  "0,15000,11000]"
#define ROW2 "[\"0104601234501026215Z7AB\",\"\",\"RETIRED\",true,true,\"\",1767225600000,0,0]"

static int parse(const char *text, registry_page_t *page)
{
  return registry_parse_page(text, strlen(text), page);
}

static void snapshot_page_read(void **state)
{
  (void)state;
  registry_page_t page;
  memset(&page, 0, sizeof page);
  assert_int_equal(parse("{\"code\":0,\"description\":\"ok\",\"after\":\"0\","
                         "\"next\":\"s25.2.2.30313034\",\"last\":\"25\",\"more\":true,"
                         "\"snapshot\":{\"done\":2,\"total\":2}," FIELDS ",\"codes\":[" ROW1
                         "," ROW2 "]}",
                         &page),
                   0);
  assert_int_equal(page.count, 2);
  assert_string_equal(page.codes[0].ki, "010460123450102621G01t\"X");
  assert_string_equal(page.codes[0].gtin, "04601234501026");
  assert_int_equal(page.codes[0].state, REGISTRY_INTRODUCED);
  assert_false(page.codes[0].blocked);
  assert_int_equal(page.codes[0].mrp, 15000);
  assert_int_equal(page.codes[0].smp, 11000);
  assert_int_equal(page.codes[1].state, REGISTRY_RETIRED);
  assert_true(page.codes[1].blocked && page.codes[1].sold);
  assert_int_equal(page.codes[1].expire_ms, 1767225600000LL);
  assert_string_equal(page.next, "s25.2.2.30313034");
  assert_string_equal(page.last, "25");
  assert_true(page.more && page.snapshot);
  assert_int_equal(page.done, 2);
  assert_int_equal(page.total, 2);
  registry_page_free(&page);
}

static void log_page_read(void **state)
{
  (void)state;
  registry_page_t page;
  memset(&page, 0, sizeof page);
  assert_int_equal(parse("{\"code\":0,\"description\":\"ok\",\"after\":\"25\",\"next\":\"26\","
                         "\"last\":\"26\",\"more\":false," FIELDS ",\"codes\":[" ROW2 "]}",
                         &page),
                   0);
  assert_int_equal(page.count, 1);
  assert_false(page.snapshot);
  assert_false(page.more);
  assert_string_equal(page.after, "25");
  registry_page_free(&page);
}

/* Each of these is one change away from a good page; each must be refused
** and leave the page empty. */
static void malformed_pages_refused(void **state)
{
  (void)state;
  static const char *const bad[] = {
      /* fields out of order */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false,"
      "\"fields\":[\"gtin\",\"ki\",\"state\",\"blocked\",\"sold\",\"owner\",\"expire\",\"mrp\","
      "\"smp\"],\"codes\":[]}",
      /* a cursor with a capital letter (not the feed's alphabet) */
      "{\"code\":0,\"after\":\"0\",\"next\":\"s1.1.1.ABCD\",\"last\":\"1\",\"more\":false," FIELDS
      ",\"codes\":[]}",
      /* a cursor with a slash: it would split the cache's OWNER/CURSOR */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1/2\",\"last\":\"1\",\"more\":false," FIELDS
      ",\"codes\":[]}",
      /* "last" is a change number: digits only */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"s1\",\"more\":false," FIELDS
      ",\"codes\":[]}",
      /* snapshot counts that are not numbers */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false,"
      "\"snapshot\":{\"done\":\"2\",\"total\":2}," FIELDS ",\"codes\":[]}",
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false,"
      "\"snapshot\":{\"done\":-1,\"total\":2}," FIELDS ",\"codes\":[]}",
      /* an unknown state */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false," FIELDS
      ",\"codes\":[[\"0104601234501026215Z7AB\",\"\",\"LOST\",true,true,\"\",0,0,0]]}",
      /* a row one field short */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false," FIELDS
      ",\"codes\":[[\"0104601234501026215Z7AB\",\"\",\"RETIRED\",true,true,\"\",0,0]]}",
      /* a negative price */
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false," FIELDS
      ",\"codes\":[[\"0104601234501026215Z7AB\",\"\",\"RETIRED\",true,true,\"\",0,-1,0]]}",
      /* an error answer */
      "{\"code\":500,\"description\":\"store\",\"error\":\"store\"}",
      /* not JSON at all; truncated */
      "<html>",
      "{\"code\":0,\"after\":\"0\",\"next\":\"1\",\"last\":\"1\",\"more\":false," FIELDS
      ",\"codes\":[" ROW1,
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    registry_page_t page;
    memset(&page, 0, sizeof page);
    if (parse(bad[i], &page) != REGISTRY_ERR_PROTOCOL) fail_msg("bad page %zu was read", i);
    assert_int_equal(page.count, 0);
    assert_null(page.codes);
    assert_false(page.snapshot);
  }
}

/* A cursor longer than REGISTRY_CURSOR_MAX is refused, one at the limit
** read. */
static void cursor_length_limit(void **state)
{
  (void)state;
  char text[1024], cursor[REGISTRY_CURSOR_MAX + 2];
  registry_page_t page;
  memset(&page, 0, sizeof page);
  memset(cursor, 'a', sizeof cursor);
  cursor[REGISTRY_CURSOR_MAX] = '\0';
  snprintf(text, sizeof text,
           "{\"code\":0,\"after\":\"0\",\"next\":\"%s\",\"last\":\"1\",\"more\":true," FIELDS
           ",\"codes\":[]}",
           cursor);
  assert_int_equal(parse(text, &page), 0);
  assert_string_equal(page.next, cursor);
  registry_page_free(&page);
  cursor[REGISTRY_CURSOR_MAX] = 'a';
  cursor[REGISTRY_CURSOR_MAX + 1] = '\0';
  snprintf(text, sizeof text,
           "{\"code\":0,\"after\":\"0\",\"next\":\"%s\",\"last\":\"1\",\"more\":true," FIELDS
           ",\"codes\":[]}",
           cursor);
  assert_int_equal(parse(text, &page), REGISTRY_ERR_PROTOCOL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(snapshot_page_read),
      cmocka_unit_test(log_page_read),
      cmocka_unit_test(malformed_pages_refused),
      cmocka_unit_test(cursor_length_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
