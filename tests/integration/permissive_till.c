/*
** tests/integration/permissive_till.c: one whole till (check_scan with the
** FN emulator, the catalogue and the code cache) in permissive mode against
** a true-api on loopback, driven line by line from stdin, so
** test_permissive.py can play CRPT's test plan case by case at the till.
**
** The till is tests/support/till_fixture.h's, with [till] check = trueapi,
** the 1.5 s budget and [trueapi] cdn_url / api_key from the command line.
** Its clock stands still (the fixture's), so a host quarantined after a
** late answer stays quarantined for every later case: what the plan's
** cases after a timeout then show is whether the till still asks a host.
**
** usage: permissive_till --cdn URL --key KEY
** Commands (one per line; one JSON line answers each):
**   product GTIN GROUP PRICE  -> {"rc"}: a catalogue entry (marked, not strict)
**   lm KI BLOCKED SOLD        -> {"rc"}: the local module's row (0/1 flags),
**                                stored with the cache's sync position "plan-1"
**   lm-sync                   -> {"rc"}: the cache synced now (no rows)
**   check KM PRICE            -> {"rc","allow","reason","detail","tag1265",
**                                "trueapiAnswered","offline","lmChecked",
**                                "tried","probed","ru","en"}
**                                (KM with \u001d or \x1d for GS)
** Exit 0 at the end of stdin; 2 when the till cannot be made.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/till/cache.h"
#include "pos/till/check.h"
#include "tests/support/till_fixture.h"

#include "line_driver.h"

static void check(till_fixture_t *f, const char *arg, const char *price)
{
  static char km[1024];
  check_decision_t d;
  size_t n = unescape(arg, km, sizeof km);
  int rc = check_probe(f->till, km, n, CHECK_FOR_SALE, strtoull(price, NULL, 10), NULL, 0, &d);
  emit(json_pack("{s:i,s:b,s:s,s:s,s:s?,s:b,s:b,s:b,s:i,s:b,s:s,s:s}", "rc", rc, "allow", d.allow,
                 "reason", check_reason_name(d.reason), "detail", d.detail, "tag1265",
                 d.has_1265 ? d.industry.value : NULL, "trueapiAnswered", d.trueapi_answered,
                 "offline", d.offline, "lmChecked", d.lm_checked, "tried", (int)d.trueapi_tried,
                 "probed", d.trueapi_probed, "ru", d.message_ru, "en", d.message_en));
}

static int lm_row(till_fixture_t *f, const char *ki, bool blocked, bool sold, bool any)
{
  cache_sync_row_t row = {
      .ki = ki, .gtin = NULL, .state = CACHE_OP_CIRCULATION, .blocked = blocked, .sold = sold};
  char gtin[15] = "";
  if (any && strlen(ki) >= 16 && !strncmp(ki, "01", 2)) {
    memcpy(gtin, ki + 2, 14);
    row.gtin = gtin;
  } else if (any && strlen(ki) >= 14) {
    memcpy(gtin, ki, 14);
    row.gtin = gtin;
  }
  return cache_sync_apply(till_cache(f->till), any ? &row : NULL, any ? 1 : 0, "plan-1",
                          till_now_ms(f->till));
}

int main(int argc, char **argv)
{
  till_fixture_t f;
  const char *cdn = NULL, *key = NULL;
  char line[2048];
  int code = 0;

  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--cdn")) cdn = argv[i + 1];
    if (!strcmp(argv[i], "--key")) key = argv[i + 1];
  }
  if (!cdn || !key) {
    fprintf(stderr, "usage: permissive_till --cdn URL --key KEY\n");
    return 2;
  }
  if (till_fixture_create(&f, "permissive", NULL) != 0) {
    till_fixture_destroy(&f);
    return 2;
  }
  /* Reopen in permissive mode (the fixture opens offline). */
  till_close(f.till);
  f.till = NULL;
  snprintf(f.cfg.check_mode, sizeof f.cfg.check_mode, "trueapi");
  snprintf(f.cfg.trueapi_cdn_url, sizeof f.cfg.trueapi_cdn_url, "%s", cdn);
  snprintf(f.cfg.trueapi_api_key, sizeof f.cfg.trueapi_api_key, "%s", key);
  f.cfg.check_budget_ms = 1500;
  if (till_fixture_open(&f) != 0) {
    till_fixture_destroy(&f);
    return 2;
  }
  while (fgets(line, sizeof line, stdin)) {
    char *save = NULL, *cmd = strtok_r(line, " \r\n", &save);
    char *a = cmd ? strtok_r(NULL, " \r\n", &save) : NULL;
    char *b = a ? strtok_r(NULL, " \r\n", &save) : NULL;
    char *c = b ? strtok_r(NULL, " \r\n", &save) : NULL;
    if (!cmd) continue;
    if (!strcmp(cmd, "product") && c) {
      int rc = till_fixture_product(&f, a, "Товар плана", strtoull(c, NULL, 10), b, false, false);
      emit(json_pack("{s:i}", "rc", rc));
    } else if (!strcmp(cmd, "lm") && c) {
      emit(json_pack("{s:i}", "rc", lm_row(&f, a, atoi(b) != 0, atoi(c) != 0, true)));
    } else if (!strcmp(cmd, "lm-sync")) {
      emit(json_pack("{s:i}", "rc", lm_row(&f, "", false, false, false)));
    } else if (!strcmp(cmd, "check") && b) {
      check(&f, a, b);
    } else {
      emit(json_pack("{s:s}", "error", "unknown command"));
      code = 1;
    }
  }
  till_fixture_destroy(&f);
  return code;
}
