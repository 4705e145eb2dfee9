/*
** state.c: the till's state: opening the FN and the code cache from the
** data directory, the links to the operators, the replay of the FN archive
** into the code cache, and the manager's PIN.
**
** The replay is the one path by which sales and returns reach the cache:
** the FN's archive is the truth, and the cache's pointer (the last document
** applied) moves in the same SQLite transaction as the rows it implies. A
** crash between the FN's commit and the cache's leaves the pointer behind,
** and the next replay applies the missing documents, each exactly once.
*/
#include "pos/till/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "device/fn_shtrih.h"
#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn_emu.h"
#include "pos/till/state_internal.h"
#include "scanner/markcode.h"

static int64_t wall_clock_ms(void *user)
{
  (void)user;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t till_now_ms(till_t *t) { return t->clock(t->clock_user); }
fn_t *till_fn(till_t *t) { return t ? t->fn : NULL; }
cache_t *till_cache(till_t *t) { return t ? t->cache : NULL; }
const kassa_config_t *till_config(const till_t *t) { return t ? &t->config : NULL; }

void till_state_close(till_t *t)
{
  if (!t) return;
  ofd_client_destroy(t->oism);
  trueapi_destroy(t->trueapi);
  db_stmts_clear(&t->basket_stmts);
  free(t->basket_kept);
  sqlite3_close(t->db);
  cache_close(t->cache);
  fn_free(t->fn);
  free(t);
}

int till_state_open(const till_options_t *o, till_t **out, char *err, size_t err_size)
{
  char path[KASSA_PATH_MAX + 16];
  fn_status_t st;
  till_t *t = NULL;
  int rc;
  if (out) *out = NULL;
  if (!o || !o->config || !out || !err || err_size == 0) return -1;
  err[0] = '\0';
  if (!(t = calloc(1, sizeof *t))) {
    snprintf(err, err_size, "Недостаточно памяти. / Out of memory.");
    return -1;
  }
  t->config = *o->config;
  t->clock = o->clock ? o->clock : wall_clock_ms;
  t->clock_user = o->clock_user;
  t->fn_clock = o->fn_clock;
  t->fn_clock_user = o->fn_clock_user;
  kassa_config_outbox_policy(&t->config, &t->policy);

  if ((rc = crypto_init()) != 0) {
    snprintf(err, err_size, "%s", crypto_error_message(rc));
    goto fail;
  }
  char spec[300];
  int kind = fn_shtrih_backend_spec(t->config.fn_backend, spec, sizeof spec);
  if (kind < 0) {
    snprintf(err, err_size,
             "[fn] backend = %s: не emulator и не shtrih:... / neither emulator nor shtrih:...",
             t->config.fn_backend);
    goto fail;
  }
  if (kind == 1) {
    /* A cash register in front of its FN (device/fn_shtrih.h, issue 22). */
    if ((rc = fn_shtrih_open(spec, t->config.fn_password, NULL, &t->fn, err, err_size)) != 0)
      goto fail;
  } else {
    snprintf(path, sizeof path, "%s/fn.db", t->config.data_dir);
    struct stat sb;
    if (stat(path, &sb) != 0) {
      snprintf(err, err_size,
               "Фискальный накопитель не найден в %s: выполните `kassa fn init`. / No fiscal "
               "storage in %s: run `kassa fn init` first.",
               t->config.data_dir, t->config.data_dir);
      goto fail;
    }
    fn_emu_options_t fo = {.clock = o->fn_clock, .clock_user = o->fn_clock_user};
    if ((rc = fn_emu_open(path, &fo, &t->fn)) != 0) {
      snprintf(err, err_size, "%s (%s)", fn_err_message(rc, false), fn_err_name(rc));
      goto fail;
    }
  }
  if ((rc = fn_status(t->fn, &st)) != 0) {
    snprintf(err, err_size, "%s (%s)", fn_err_message(rc, false), fn_err_name(rc));
    goto fail;
  }
  memcpy(t->fn_number, st.fn_number, sizeof t->fn_number);
  snprintf(path, sizeof path, "%s/cache.db", t->config.data_dir);
  if ((rc = cache_open(path, &t->cache)) != 0) {
    snprintf(err, err_size, "Не открывается кэш кодов %s. / Cannot open the code cache %s: %s",
             path, path, cache_err_message(rc, false));
    goto fail;
  }
  /* A replaced FN numbers from 1 again: the cache counts on from its base. */
  if ((rc = cache_fn_bind(t->cache, t->fn_number, &t->fn_base)) != 0) {
    snprintf(err, err_size, "Кэш кодов не принимает ФН %s. / The code cache refuses FN %s: %s",
             t->fn_number, t->fn_number, cache_err_message(rc, false));
    goto fail;
  }
  *out = t;
  return 0;
fail:
  till_state_close(t);
  return -1;
}

/* The identification part of a receipt line's code, for the cache key. */
static bool line_ki(const doc_item_t *item, char *ki, size_t size)
{
  markcode_t mc;
  if (markcode_parse(&mc, item->km, item->km_len) != MARKCODE_OK) return false;
  if (strlen(mc.ki) >= size) return false;
  memcpy(ki, mc.ki, strlen(mc.ki) + 1);
  return true;
}

/* Applies a parsed receipt or correction, this FN's document number, to the
** cache: its marked lines with their codes' ki (a line whose code does not
** parse carries no ki and is left out, as the replay always did). */
static int apply_parsed(till_t *t, uint32_t number, const doc_receipt_t *r)
{
  cache_receipt_line_t lines[DOC_MAX_ITEMS];
  char kis[DOC_MAX_ITEMS][CACHE_KI_MAX + 1];
  size_t n = 0;
  for (size_t i = 0; i < r->item_count; i++) {
    const doc_item_t *item = &r->items[i];
    if (!item->marked || !line_ki(item, kis[n], sizeof kis[n])) continue;
    lines[n] = (cache_receipt_line_t){.ki = kis[n],
                                      .km_status = item->km_status,
                                      .fraction_numerator = item->fraction_numerator,
                                      .fraction_denominator = item->fraction_denominator};
    n++;
  }
  return cache_apply_receipt(t->cache, t->fn_base + number, r->operation, lines, n);
}

/* Applies one archive document to the cache (a non-receipt only moves the
** pointer). */
static int replay_one(till_t *t, uint32_t number, doc_receipt_t *r, const char **what)
{
  static fn_document_t d; /* 32 KiB; the till is single-threaded */
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  int rc = fn_document_get(t->fn, number, &d);
  if (rc != 0) {
    *what = "fn";
    return rc;
  }
  *what = "cache";
  if (d.type != DOC_RECEIPT && d.type != DOC_CORRECTION)
    return cache_apply_receipt(t->cache, t->fn_base + number, 0, NULL, 0);
  if (doc_parse_receipt(d.data, d.len, &h, r, &total, sign) != 0) {
    /* The FN wrote it; unreadable means a bug, not a sale to guess at. */
    *what = "doc";
    return CACHE_ERR_FORMAT;
  }
  return apply_parsed(t, number, r);
}

int till_replay(till_t *t, const char **what)
{
  const char *dummy;
  fn_status_t st;
  int rc;
  if (!what) what = &dummy;
  *what = "fn";
  if ((rc = fn_status(t->fn, &st)) != 0) return rc;
  return till_replay_through(t, st.last_document, what);
}

int till_replay_through(till_t *t, uint32_t last, const char **what)
{
  const char *dummy;
  uint32_t applied = 0;
  doc_receipt_t *r = NULL;
  int rc;
  if (!what) what = &dummy;
  *what = "cache";
  if ((rc = cache_fn_applied(t->cache, &applied)) != 0) return rc;
  /* The pointer is global (cache_fn_bind): this FN's document n is base + n. */
  if (applied < t->fn_base) return CACHE_ERR_STATE;
  if (applied - t->fn_base >= last) return 0;
  if (!(r = malloc(sizeof *r))) return CACHE_ERR_IO;
  for (uint32_t n = applied - t->fn_base + 1; n <= last && rc == 0; n++)
    rc = replay_one(t, n, r, what);
  free(r);
  return rc;
}

int till_replay_made(till_t *t, uint32_t number, const doc_receipt_t *r, const char **what)
{
  const char *dummy;
  if (!what) what = &dummy;
  *what = "cache";
  /* Out of order (CACHE_ERR_STATE, nothing written): the cache is behind
  ** (another process made a document before it) or already past it. */
  int rc = apply_parsed(t, number, r);
  return rc == CACHE_ERR_STATE ? till_replay_through(t, number, what) : rc;
}

/* ---- the links to the operators ------------------------------------------ */

ofd_client_t *till_oism(till_t *t)
{
  if (!t->oism) {
    ofd_client_options_t o;
    ofd_client_options_init(&o);
    o.host = t->config.operator_host;
    o.port = t->config.operator_oism_port;
    o.profile = FRAME_PROFILE_OISM;
    o.connect_timeout_ms = (int)t->config.check_budget_ms;
    o.answer_timeout_ms = (int)t->config.check_budget_ms;
    /* A till must not stall a queue of customers on a dead link: after a
    ** failure, checks go offline for a short while, then try again. */
    o.backoff_base_ms = 2000;
    o.backoff_max_ms = 30000;
    if (ofd_client_create(&o, &t->oism) != 0) t->oism = NULL;
  }
  return t->oism;
}

trueapi_t *till_trueapi(till_t *t)
{
  if (!t->trueapi) {
    char url[300];
    kassa_config_operator_url(&t->config, url, sizeof url);
    trueapi_options_t o = {.cdn_url = url,
                           .api_key = t->config.trueapi_api_key,
                           .fn_number = t->fn_number,
                           .budget_ms = t->config.check_budget_ms,
                           /* expireDate is judged on the till's clock */
                           .clock = t->clock,
                           .clock_user = t->clock_user};
    if (trueapi_create(&o, &t->trueapi) != 0) t->trueapi = NULL;
  }
  return t->trueapi;
}

bool till_manager_pin_ok(const till_t *t, const char *pin)
{
  if (!t || !pin || !t->config.manager_pin[0]) return false;
  size_t a = strlen(t->config.manager_pin), b = strlen(pin);
  /* Constant time over the configured PIN: every byte is compared. */
  unsigned diff = (unsigned)(a ^ b);
  for (size_t i = 0; i < a; i++)
    diff |= (unsigned char)t->config.manager_pin[i] ^ (unsigned char)(i < b ? pin[i] : 0);
  return diff == 0;
}
