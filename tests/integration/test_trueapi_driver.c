/*
** tests/integration/test_trueapi_driver.c: one trueapi_t (ofd/trueapi.h)
** driven line by line from stdin, so test_trueapi.py can keep its host
** ranking and quarantines across checks while it moves the clock.
**
** usage: test_trueapi_driver --cdn URL --key KEY --fn FN [--budget MS]
**                            [--attempt MS]
** Commands (one per line; one JSON line answers each):
**   refresh                 -> {"rc","hosts":[{"url","avgTimeMs","quarantined"}]}
**   check KM [PRICE]        -> {"rc","err","verdict","ru","en","reqId",
**                               "reqTimestamp","tag1265","host","elapsedMs",
**                               "tried","cis","found","sold",...}
**                              (KM with \x1d or \u001d for GS)
**   advance SECONDS         -> {"offsetMs":N}: the injected clock moves on
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ofd/trueapi.h"

#include "line_driver.h"

static int64_t offset_ms;

static int64_t test_clock(void *user)
{
  struct timespec ts;
  (void)user;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms;
}

static void hosts(trueapi_t *t, int rc)
{
  json_t *list = json_array();
  for (size_t i = 0; i < trueapi_host_count(t); i++) {
    const char *url = NULL;
    uint32_t avg = 0;
    bool q = false;
    trueapi_host(t, i, &url, &avg, &q);
    json_array_append_new(list, json_pack("{s:s,s:I,s:b}", "url", url, "avgTimeMs", (json_int_t)avg,
                                          "quarantined", q));
  }
  emit(json_pack("{s:i,s:o}", "rc", rc, "hosts", list));
}

static void check(trueapi_t *t, const char *arg, const char *price)
{
  static char km[1024];
  trueapi_result_t r;
  size_t n = unescape(arg, km, sizeof km);
  int rc = trueapi_check(t, km, n, price ? strtoull(price, NULL, 10) : 0, &r);
  emit(json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:i,s:i,s:s,s:b,s:b,s:b,s:b}", "rc", rc,
                 "err", trueapi_err_name(r.err), "verdict", trueapi_verdict_name(r.verdict), "ru",
                 trueapi_verdict_message(r.verdict, true), "en",
                 trueapi_verdict_message(r.verdict, false), "reqId", r.req_id, "reqTimestamp",
                 (json_int_t)r.req_timestamp, "tag1265", r.tag1265, "host", r.host, "elapsedMs",
                 (int)r.elapsed_ms, "tried", (int)r.hosts_tried, "cis", r.code.cis, "found",
                 r.code.found, "sold", r.code.sold, "blocked", r.code.blocked, "verified",
                 r.code.verified));
}

int main(int argc, char **argv)
{
  trueapi_options_t o;
  trueapi_t *t = NULL;
  char line[2048];
  int rc;

  memset(&o, 0, sizeof o);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--cdn") == 0) o.cdn_url = argv[i + 1];
    if (strcmp(argv[i], "--key") == 0) o.api_key = argv[i + 1];
    if (strcmp(argv[i], "--fn") == 0) o.fn_number = argv[i + 1];
    if (strcmp(argv[i], "--budget") == 0) o.budget_ms = (unsigned)atoi(argv[i + 1]);
    if (strcmp(argv[i], "--attempt") == 0) o.attempt_ms = (unsigned)atoi(argv[i + 1]);
  }
  o.clock = test_clock;
  if ((rc = trueapi_create(&o, &t)) != 0) {
    fprintf(stderr, "trueapi_create: %s\n", trueapi_err_name(rc));
    return 2;
  }
  while (fgets(line, sizeof line, stdin)) {
    char *save = NULL, *cmd = strtok_r(line, " \r\n", &save);
    char *a = cmd ? strtok_r(NULL, " \r\n", &save) : NULL;
    char *b = a ? strtok_r(NULL, " \r\n", &save) : NULL;
    if (!cmd) continue;
    if (strcmp(cmd, "refresh") == 0) {
      hosts(t, trueapi_refresh_hosts(t));
    } else if (strcmp(cmd, "hosts") == 0) {
      hosts(t, 0);
    } else if (strcmp(cmd, "check") == 0 && a) {
      check(t, a, b);
    } else if (strcmp(cmd, "advance") == 0 && a) {
      offset_ms += (int64_t)atoll(a) * 1000;
      emit(json_pack("{s:I}", "offsetMs", (json_int_t)offset_ms));
    } else {
      emit(json_pack("{s:s}", "error", "unknown command"));
    }
  }
  trueapi_destroy(t);
  return 0;
}
