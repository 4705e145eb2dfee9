/*
** fuzz_api.c: the HTTP API's JSON bodies (pos/serve/api.h), on a real till.
**
** One till is made once (a temporary data directory: an FN registered for
** marking with a key, a shift open, a small catalogue; checks offline so no
** network is touched). Each input's first byte picks a route, the rest is
** the request body, handed to api_handle() exactly as the service would
** (token and manager PIN correct, so the handlers themselves run). What
** must hold: no crash or sanitizer report; every answer is JSON with a
** status the API documents; an error answer carries its stable name.
** Receipts may really open, fill and close: the FN's own rules apply;
** so may receipts in one call and ATOL-style tasks.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "pos/serve/api.h"
#include "pos/till/cache.h"
#include "pos/till/till.h"
#include "tests/support/fn_fixture.h"

static const struct {
  const char *method, *path;
} routes[] = {
    {"POST", "/api/check"},
    {"POST", "/api/receipts"},
    {"POST", "/api/receipts/current/items"},
    {"POST", "/api/receipts/current/items/without-code"},
    {"POST", "/api/receipts/current/pay"},
    {"DELETE", "/api/receipts/current"},
    {"DELETE", "/api/receipts/current/items/1"},
    {"POST", "/api/accept"},
    {"POST", "/api/remark"},
    {"POST", "/api/blocks"},
    {"DELETE", "/api/blocks"},
    {"GET", "/api/status"},
    {"POST", "/api/receipts/full"},
    {"POST", "/api/v2/requests"},
};

static api_t *api;
static till_t *till;
static char dir[] = "/tmp/kassa-fuzz-api-XXXXXX";

static void cleanup(void)
{
  char cmd[96];
  till_close(till);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "fuzz_api: could not remove %s\n", dir);
}

static void die(const char *what)
{
  fprintf(stderr, "fuzz_api: set-up failed: %s\n", what);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  char path[128], err[512];
  fn_t *fn = NULL;
  fn_registration_t r;
  fn_key_t key = {.id = "0001", .kind = FN_KEY_HMAC, .len = 32};
  if (!mkdtemp(dir) || crypto_init() != 0) die("temp dir / crypto");
  atexit(cleanup);
  snprintf(path, sizeof path, "%s/fn.db", dir);
  fn_fixture_registration(&r, false);
  for (size_t i = 0; i < key.len; i++) key.material[i] = (uint8_t)i;
  if (fn_emu_create(path, "9999078900099999") != 0 || fn_emu_open(path, NULL, &fn) != 0 ||
      fn_fixture_prepare(fn, &r, &key, "") != 0)
    die("FN");
  fn_free(fn);
  kassa_config_t cfg;
  kassa_config_defaults(&cfg);
  snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
  snprintf(cfg.check_mode, sizeof cfg.check_mode, "offline");
  snprintf(cfg.manager_pin, sizeof cfg.manager_pin, "2468");
  snprintf(cfg.api_token, sizeof cfg.api_token, "fuzz-token");
  till_options_t o = {.config = &cfg};
  if (till_open(&o, &till, err, sizeof err) != 0) die(err);
  cache_product_t shoes = {.gtin = "04600000001012",
                           .name = "Shoes",
                           .price = 1000,
                           .vat = 1,
                           .group = "footwear",
                           .marking_required = true};
  cache_product_t bread = {.gtin = "04600000005058", .name = "Bread", .price = 50, .vat = 1};
  if (cache_product_put(till_cache(till), &shoes) != 0 ||
      cache_product_put(till_cache(till), &bread) != 0)
    die("catalogue");
  api_options_t ao = {.till = till};
  if (api_create(&ao, &api) != 0) die("api");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  size_t route = data[0] % (sizeof routes / sizeof routes[0]);
  char *body = malloc(size);
  if (!body) return 0;
  memcpy(body, data + 1, size - 1);
  body[size - 1] = '\0';
  api_request_t rq = {.method = routes[route].method,
                      .path = routes[route].path,
                      .body = body,
                      .body_len = size - 1,
                      .host = "127.0.0.1",
                      .content_type = "application/json",
                      .authorization = "Bearer fuzz-token",
                      .manager_pin = "2468"};
  api_response_t rs = {0};
  api_handle(api, &rq, &rs);
  /* Every answer is a JSON object with a status the API uses; an error
  ** names itself. */
  if (rs.status < 200 || rs.status > 599 || !rs.body) {
    fprintf(stderr, "fuzz_api: %s %s answered status %u, body %s\n", rq.method, rq.path, rs.status,
            rs.body ? rs.body : "(none)");
    abort();
  }
  json_error_t e;
  json_t *j = json_loadb(rs.body, rs.body_len, 0, &e);
  if (!j || !json_is_object(j)) abort();
  if (rs.status >= 400 && !json_is_string(json_object_get(j, "error"))) {
    fprintf(stderr, "fuzz_api: %u without an error name: %s\n", rs.status, rs.body);
    abort();
  }
  json_decref(j);
  api_response_free(&rs);
  free(body);
  return 0;
}
