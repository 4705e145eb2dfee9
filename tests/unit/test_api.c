/*
** test_api.c: the HTTP API's security rules without a network: the rate
** limiter on its own clock (locks, doubling, the cap, the window, the hour
** that forgives), the constant-time comparison, the loopback Host check,
** the body limits, and the gates of api_handle() and api_handle_lm() in
** their order, on a real till (an FN emulator file from tests/support) with
** the API's monotonic clock moved by hand, so a 30-second lock is seen to
** end. tests/integration/test_api.py drives the same code over HTTP.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "pos/serve/api.h"
#include "pos/till/config.h"
#include "pos/till/till.h"
#include "tests/support/fn_fixture.h"

#define FN_NUMBER "9999078900012399"
#define TOKEN     "s3cret-token"
#define PIN       "1357"
#define PORT      8780

/* ---- the limiter -------------------------------------------------------------- */

static void limiter_locks_after_five_and_doubles(void **state)
{
  (void)state;
  api_limiter_t l = {0};
  int64_t t = 1000000;
  for (unsigned i = 1; i < API_MAX_FAILURES; i++) {
    api_limiter_fail(&l, t);
    assert_int_equal(api_limiter_locked(&l, t), 0);
  }
  api_limiter_fail(&l, t);
  assert_int_equal(api_limiter_locked(&l, t), API_LOCK_MS);
  assert_int_equal(api_limiter_locked(&l, t + API_LOCK_MS - 1), 1);
  assert_int_equal(api_limiter_locked(&l, t + API_LOCK_MS), 0);
  /* The next five wrong tries lock twice as long, then four times ... */
  int64_t expected = 2 * API_LOCK_MS;
  for (int round = 0; round < 8; round++) {
    t += 60 * 1000;
    for (unsigned i = 0; i < API_MAX_FAILURES; i++) api_limiter_fail(&l, t);
    assert_int_equal(api_limiter_locked(&l, t), expected);
    t += expected;
    expected = expected * 2 > API_LOCK_MAX_MS ? API_LOCK_MAX_MS : expected * 2;
  }
  /* ... up to the cap, never beyond. */
  assert_int_equal(expected, API_LOCK_MAX_MS);
}

static void limiter_window_and_forgiveness(void **state)
{
  (void)state;
  api_limiter_t l = {0};
  int64_t t = 5000;
  /* Four wrong tries, then a quarter of an hour passes: they are forgotten. */
  for (int i = 0; i < 4; i++) api_limiter_fail(&l, t + i);
  t += API_FAIL_WINDOW_MS + 1000;
  for (int i = 0; i < 4; i++) api_limiter_fail(&l, t + i);
  assert_int_equal(api_limiter_locked(&l, t + 10), 0);
  api_limiter_fail(&l, t + 10);
  assert_int_equal(api_limiter_locked(&l, t + 10), API_LOCK_MS);
  /* An hour without a wrong try forgives the lock: the next is 30 s again. */
  t += API_LOCK_MS + API_FORGIVE_MS + 1000;
  for (unsigned i = 0; i < API_MAX_FAILURES; i++) api_limiter_fail(&l, t);
  assert_int_equal(api_limiter_locked(&l, t), API_LOCK_MS);
}

static void secret_compare(void **state)
{
  (void)state;
  assert_true(api_secret_equal("abc", "abc"));
  assert_false(api_secret_equal("ab", "abc"));
  assert_false(api_secret_equal("abcd", "abc"));
  assert_false(api_secret_equal("abd", "abc"));
  assert_false(api_secret_equal("", "abc"));
  assert_false(api_secret_equal(NULL, "abc"));
  assert_false(api_secret_equal("", "")); /* nothing configured never matches */
  assert_false(api_secret_equal("x", NULL));
}

static void host_check(void **state)
{
  (void)state;
  assert_true(api_host_ok("127.0.0.1:8780", PORT));
  assert_true(api_host_ok("localhost:8780", PORT));
  assert_true(api_host_ok("LOCALHOST", PORT));
  assert_true(api_host_ok("[::1]:8780", PORT));
  assert_true(api_host_ok(NULL, PORT)); /* HTTP/1.0 */
  assert_false(api_host_ok("127.0.0.1:8781", PORT));
  assert_false(api_host_ok("127.0.0.1.evil.example", PORT));
  assert_false(api_host_ok("evil.example:8780", PORT));
  assert_false(api_host_ok("localhost:", PORT));
  assert_false(api_host_ok("localhost:87x0", PORT));
}

static void body_limits(void **state)
{
  (void)state;
  assert_int_equal(api_body_limit("POST", "/api/check"), API_BODY_MAX);
  assert_int_equal(api_body_limit("POST", "/api/accept"), API_ACCEPT_BODY_MAX);
  assert_int_equal(api_body_limit("GET", "/api/accept"), API_BODY_MAX);
}

/* ---- the gates on a real till ---------------------------------------------------- */

typedef struct fixture {
  fn_fixture_t fx;
  kassa_config_t cfg;
  till_t *till;
  api_t *api;
  int64_t now; /* the API's monotonic clock */
} fixture_t;

static int64_t api_clock(void *user) { return ((fixture_t *)user)->now; }

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  char err[512];
  if (!f || crypto_init() != 0 || fn_fixture_create(&f->fx, "api", FN_NUMBER, 1793000000u) != 0)
    return -1;
  fn_free(f->fx.fn); /* the till opens its own */
  f->fx.fn = NULL;
  kassa_config_defaults(&f->cfg);
  snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->fx.dir);
  snprintf(f->cfg.api_token, sizeof f->cfg.api_token, "%s", TOKEN);
  snprintf(f->cfg.manager_pin, sizeof f->cfg.manager_pin, "%s", PIN);
  till_options_t to = {.config = &f->cfg};
  if (till_open(&to, &f->till, err, sizeof err) != 0) {
    fprintf(stderr, "till_open: %s\n", err);
    return -1;
  }
  f->now = 1000;
  api_options_t ao = {.till = f->till, .clock = api_clock, .clock_user = f};
  if (api_create(&ao, &f->api) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  static const char *const files[] = {"cache.db", "cache.db-wal", "cache.db-shm",
                                      "till.db",  "till.db-wal",  "till.db-shm"};
  char path[sizeof f->fx.dir + 16];
  api_destroy(f->api);
  till_close(f->till);
  /* The till's own files, so the fixture can remove its directory. */
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", f->fx.dir, files[i]);
    unlink(path);
  }
  fn_fixture_destroy(&f->fx);
  free(f);
  return 0;
}

/* One request; the response's "error" (or "" on success) into err. */
static unsigned call(fixture_t *f, bool lm, const char *method, const char *path, const char *auth,
                     const char *pin, const char *body, char *err, size_t size)
{
  api_request_t rq = {.method = method,
                      .path = path,
                      .body = body,
                      .body_len = body ? strlen(body) : 0,
                      .host = "127.0.0.1:8780",
                      .content_type = "application/json",
                      .port = PORT};
  api_response_t rs;
  if (lm)
    rq.basic_password = auth;
  else {
    rq.authorization = auth;
    rq.manager_pin = pin;
  }
  if (lm)
    api_handle_lm(f->api, &rq, &rs);
  else
    api_handle(f->api, &rq, &rs);
  json_t *j = rs.body ? json_loads(rs.body, 0, NULL) : NULL;
  const char *e = json_string_value(json_object_get(j, "error"));
  snprintf(err, size, "%s", e ? e : "");
  if (lm && json_is_integer(json_object_get(j, "errorCode")))
    snprintf(err, size, "%lld", (long long)json_integer_value(json_object_get(j, "errorCode")));
  json_decref(j);
  unsigned status = rs.status;
  api_response_free(&rs);
  return status;
}

#define BEARER "Bearer " TOKEN

static void gates_in_order(void **state)
{
  fixture_t *f = *state;
  char e[64];
  api_request_t rq = {.method = "GET", .path = "/api/status", .host = "evil.example", .port = PORT};
  api_response_t rs;
  /* A foreign Host is refused before the token is even looked at. */
  api_handle(f->api, &rq, &rs);
  assert_int_equal(rs.status, 403);
  assert_non_null(strstr(rs.body, "\"bad_host\""));
  api_response_free(&rs);
  /* The token before the route: an unknown path without it is 401. */
  assert_int_equal(call(f, false, "GET", "/api/nothing", NULL, NULL, NULL, e, sizeof e), 401);
  assert_int_equal(call(f, false, "GET", "/api/nothing", BEARER, NULL, NULL, e, sizeof e), 404);
  assert_int_equal(call(f, false, "PUT", "/api/status", BEARER, NULL, NULL, e, sizeof e), 405);
  assert_int_equal(call(f, false, "GET", "/api/status", BEARER, NULL, NULL, e, sizeof e), 200);
  assert_string_equal(e, "");
  assert_int_equal(call(f, false, "POST", "/api/check", BEARER, NULL, "[1]", e, sizeof e), 400);
  assert_string_equal(e, "bad_json");
  assert_int_equal(call(f, false, "POST", "/api/check", BEARER, NULL, "{}", e, sizeof e), 400);
  assert_string_equal(e, "bad_request");
  /* The manager gate comes after the route, before the handler. */
  assert_int_equal(call(f, false, "GET", "/api/remark/pending", BEARER, NULL, NULL, e, sizeof e),
                   403);
  assert_string_equal(e, "manager_pin_required");
  assert_int_equal(call(f, false, "GET", "/api/remark/pending", BEARER, PIN, NULL, e, sizeof e),
                   200);
}

static void token_lock_ends(void **state)
{
  fixture_t *f = *state;
  char e[64];
  /* Missing tokens are not guesses. */
  for (int i = 0; i < 10; i++)
    assert_int_equal(call(f, false, "GET", "/api/status", NULL, NULL, NULL, e, sizeof e), 401);
  assert_int_equal(call(f, false, "GET", "/api/status", BEARER, NULL, NULL, e, sizeof e), 200);
  for (unsigned i = 0; i < API_MAX_FAILURES; i++)
    assert_int_equal(call(f, false, "GET", "/api/status", "Bearer x", NULL, NULL, e, sizeof e),
                     401);
  /* Locked: this source's wrong tries are 429 (not counted again), the right
  ** token keeps working, and the LM port keeps its own count (issue 18). */
  assert_int_equal(call(f, false, "GET", "/api/status", "Bearer y", NULL, NULL, e, sizeof e), 429);
  assert_string_equal(e, "too_many_attempts");
  assert_int_equal(call(f, false, "GET", "/api/status", BEARER, NULL, NULL, e, sizeof e), 200);
  assert_int_equal(call(f, true, "GET", "/api/v1/status", "wrong", NULL, NULL, e, sizeof e), 401);
  assert_int_equal(call(f, true, "GET", "/api/v1/status", TOKEN, NULL, NULL, e, sizeof e), 200);
  f->now += API_LOCK_MS - 1;
  assert_int_equal(call(f, false, "GET", "/api/status", "Bearer y", NULL, NULL, e, sizeof e), 429);
  f->now += 1;
  assert_int_equal(call(f, false, "GET", "/api/status", "Bearer y", NULL, NULL, e, sizeof e), 401);
}

/* Wrong tokens are counted per source: one source's lock is not another's. */
static void token_lock_per_source(void **state)
{
  fixture_t *f = *state;
  api_response_t rs = {0};
  for (unsigned i = 0; i < API_MAX_FAILURES; i++) {
    assert_int_equal(api_check_token(f->api, "x", false, "127.0.0.2", &rs), -1);
    assert_int_equal(rs.status, 401);
    api_response_free(&rs);
  }
  assert_int_equal(api_check_token(f->api, "x", false, "127.0.0.2", &rs), -1);
  assert_int_equal(rs.status, 429);
  api_response_free(&rs);
  assert_int_equal(api_check_token(f->api, "x", false, "127.0.0.3", &rs), -1);
  assert_int_equal(rs.status, 401);
  api_response_free(&rs);
  assert_int_equal(api_check_token(f->api, TOKEN, false, "127.0.0.2", &rs), 0);
  /* A crowd of sources evicts the quietest; the table never grows. */
  for (unsigned i = 0; i < 3 * API_SOURCES; i++) {
    char source[32];
    snprintf(source, sizeof source, "10.0.%u.%u", i / 250, i % 250);
    assert_int_equal(api_check_token(f->api, "x", true, source, &rs), -1);
    api_response_free(&rs);
  }
}

static void pin_lock_ends(void **state)
{
  fixture_t *f = *state;
  char e[64];
  for (unsigned i = 0; i < API_MAX_FAILURES; i++) {
    assert_int_equal(
        call(f, false, "GET", "/api/remark/pending", BEARER, "0000", NULL, e, sizeof e), 403);
    assert_string_equal(e, "manager_pin_wrong");
  }
  assert_int_equal(call(f, false, "GET", "/api/remark/pending", BEARER, PIN, NULL, e, sizeof e),
                   429);
  /* The PIN's lock is not the token's. */
  assert_int_equal(call(f, false, "GET", "/api/status", BEARER, NULL, NULL, e, sizeof e), 200);
  f->now += API_LOCK_MS;
  assert_int_equal(call(f, false, "GET", "/api/remark/pending", BEARER, PIN, NULL, e, sizeof e),
                   200);
}

static void lm_before_sync(void **state)
{
  fixture_t *f = *state;
  char e[64];
  assert_int_equal(call(f, true, "GET", "/api/v1/status", NULL, NULL, NULL, e, sizeof e), 401);
  assert_string_equal(e, "4010");
  assert_int_equal(call(f, true, "GET", "/api/v1/status", TOKEN, NULL, NULL, e, sizeof e), 200);
  assert_int_equal(call(f, true, "POST", "/api/v1/cis/outCheck", TOKEN, NULL,
                        "{\"cis_list\":[\"0104601234501026215Qbag!\"]}", e, sizeof e),
                   400);
  assert_string_equal(e, "4045");
  assert_int_equal(
      call(f, true, "POST", "/api/v2/cis/outCheck", TOKEN, NULL, "{\"cis_list\":[5]}", e, sizeof e),
      400);
  assert_string_equal(e, "6020");
  assert_int_equal(call(f, true, "GET", "/api/v9/x", TOKEN, NULL, NULL, e, sizeof e), 404);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(limiter_locks_after_five_and_doubles),
      cmocka_unit_test(limiter_window_and_forgiveness),
      cmocka_unit_test(secret_compare),
      cmocka_unit_test(host_check),
      cmocka_unit_test(body_limits),
      cmocka_unit_test_setup_teardown(gates_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(token_lock_ends, setup, teardown),
      cmocka_unit_test_setup_teardown(token_lock_per_source, setup, teardown),
      cmocka_unit_test_setup_teardown(pin_lock_ends, setup, teardown),
      cmocka_unit_test_setup_teardown(lm_before_sync, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
