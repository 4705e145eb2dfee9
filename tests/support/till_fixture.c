/*
** till_fixture.c: the throw-away till of till_fixture.h.
*/
#include "tests/support/till_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "pos/till/cache.h"

static uint32_t fn_clock(void *user) { return ((till_fixture_t *)user)->fx.now; }

static int64_t wall_clock(void *user) { return (int64_t)((till_fixture_t *)user)->fx.now * 1000; }

void till_fixture_key(fn_key_t *key) { fn_fixture_hmac_key(key, "0001"); }

int till_fixture_open(till_fixture_t *f)
{
  char err[512];
  till_options_t o = {.config = &f->cfg,
                      .clock = wall_clock,
                      .clock_user = f,
                      .fn_clock = fn_clock,
                      .fn_clock_user = f};
  if (till_open(&o, &f->till, err, sizeof err) == 0) return 0;
  fprintf(stderr, "till_open: %s\n", err);
  f->till = NULL;
  return -1;
}

int till_fixture_create(till_fixture_t *f, const char *tag,
                        const uint8_t secret[FN_EMU_SECRET_SIZE])
{
  fn_registration_t r;
  fn_key_t key;
  int rc;
  memset(f, 0, sizeof *f);
  if (crypto_init() != 0) {
    fprintf(stderr, "till_fixture: crypto_init failed (GOST engine?)\n");
    return -1;
  }
  if (fn_fixture_create_with_secret(&f->fx, tag, TILL_FIXTURE_FN_NUMBER, TILL_FIXTURE_T0, secret) !=
      0) {
    fprintf(stderr, "till_fixture: cannot make the FN file in %s\n",
            f->fx.dir[0] ? f->fx.dir : "/tmp");
    return -1;
  }
  fn_fixture_registration(&r, false);
  till_fixture_key(&key);
  if ((rc = fn_fixture_prepare(f->fx.fn, &r, &key, "Иванова")) != 0) {
    fprintf(stderr, "till_fixture: FN set-up: %s\n", fn_err_name(rc));
    return -1;
  }
  fn_free(f->fx.fn); /* the till opens the file itself */
  f->fx.fn = NULL;
  kassa_config_defaults(&f->cfg);
  snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->fx.dir);
  snprintf(f->cfg.check_mode, sizeof f->cfg.check_mode, "offline");
  return till_fixture_open(f);
}

void till_fixture_destroy(till_fixture_t *f)
{
  static const char *const extra[] = {"cache.db", "cache.db-wal", "cache.db-shm",
                                      "till.db",  "till.db-wal",  "till.db-shm"};
  char path[256];
  if (!f) return;
  till_close(f->till);
  f->till = NULL;
  if (!f->fx.dir[0]) return;
  for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", f->fx.dir, extra[i]);
    unlink(path);
  }
  fn_fixture_destroy(&f->fx);
}

till_fixture_t *till_fixture_new(const char *tag)
{
  till_fixture_t *f = calloc(1, sizeof *f);
  if (f && till_fixture_create(f, tag, NULL) != 0) {
    till_fixture_free(f);
    return NULL;
  }
  return f;
}

void till_fixture_free(till_fixture_t *f)
{
  till_fixture_destroy(f);
  free(f);
}

till_fixture_t *till_fixture_shop(const char *tag, char shoes[15], char bread[15])
{
  till_fixture_t *f = till_fixture_new(tag);
  if (!f) return NULL;
  till_fixture_gtin14("0460000000101", shoes);
  till_fixture_gtin14("0460000000202", bread);
  if (till_fixture_product(f, shoes, "Кроссовки", 499000, "footwear", false, false) != 0 ||
      till_fixture_product(f, bread, "Хлеб", 4500, "", false, false) != 0) {
    till_fixture_free(f);
    return NULL;
  }
  return f;
}

int till_fixture_product(till_fixture_t *f, const char *gtin, const char *name, uint64_t price,
                         const char *group, bool strict, bool weighed)
{
  cache_product_t p;
  memset(&p, 0, sizeof p);
  snprintf(p.gtin, sizeof p.gtin, "%s", gtin);
  snprintf(p.name, sizeof p.name, "%s", name);
  p.price = price;
  p.vat = 1;
  snprintf(p.group, sizeof p.group, "%s", group);
  p.marking_required = group[0] != '\0';
  p.strict = strict;
  p.weighed = weighed;
  p.excise = !strcmp(group, "tobacco");
  return cache_product_put(till_cache(f->till), &p) == 0 ? 0 : -1;
}

void till_fixture_gtin14(const char *thirteen, char out[15])
{
  int sum = 0;
  for (int i = 0; i < 13; i++) sum += (thirteen[i] - '0') * (i % 2 == 0 ? 3 : 1);
  snprintf(out, 15, "%.13s%d", thirteen, (10 - sum % 10) % 10);
}

size_t till_fixture_genuine_code(char *out, const char *ki, bool spoil)
{
  fn_key_t key;
  till_fixture_key(&key);
  size_t n = fn_fixture_code_44(out, ki, key.id, &key);
  if (n && spoil) { /* one character of the tail, never the 91 or 92 */
    char *c = out + n - 44 + 5;
    *c = *c == 'A' ? 'B' : 'A';
  }
  return n;
}
