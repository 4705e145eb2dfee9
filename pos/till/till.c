/*
** till.c: the till as its callers see it: opening one from its data
** directory (the state, then the basket, the replay and the basket's crash
** repair, in that order) and the status every page shows.
**
** This is the top of pos/till/: it may use every layer below (state.h,
** check.h, sale.h), and none of them uses it, which is what keeps the
** state, the decision and the basket out of a circle.
*/
#include "pos/till/till.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/till/disk.h"
#include "pos/till/lane_store.h"
#include "pos/till/sale.h"
#include "pos/till/state_internal.h"

/* The store link (lane_store.h) sits above the state: the facade opens
** and closes it around the state. */
static void close_all(till_t *t)
{
  if (t) lane_store_close(t->lane_store);
  till_state_close(t);
}

void till_close(till_t *t) { close_all(t); }

/* A failed open whose cause is the data directory's file system (full, or
** read-only) says that instead (issue 18); -1 either way. */
static int open_failed(const till_options_t *o, char *err, size_t err_size)
{
  till_disk_t disk = o && o->config ? till_disk_diagnose(o->config->data_dir) : TILL_DISK_OK;
  if (disk != TILL_DISK_OK && err && err_size)
    snprintf(err, err_size, "%s / %s (%s)", till_disk_message(disk, true),
             till_disk_message(disk, false), till_disk_name(disk));
  return -1;
}

int till_open(const till_options_t *o, till_t **out, char *err, size_t err_size)
{
  const char *what = NULL;
  till_t *t = NULL;
  int rc;
  if (till_state_open(o, &t, err, err_size) != 0) return open_failed(o, err, err_size);
  if (sale_store_open(t, err, err_size) != 0) goto fail;
  if ((rc = till_replay(t, &what)) != 0) {
    snprintf(err, err_size,
             "Не удалось перенести архив ФН в кэш. / Replaying the FN archive "
             "into the cache failed: %s %s",
             what, what && !strcmp(what, "fn") ? fn_err_name(rc) : cache_err_name(rc));
    goto fail;
  }
  if (sale_recover(t, err, err_size) != 0) goto fail;
  if (lane_store_open(t, &t->lane_store, err, err_size) != 0) goto fail;
  *out = t;
  return 0;
fail:
  close_all(t);
  return open_failed(o, err, err_size);
}

int till_status(till_t *t, till_status_t *out)
{
  int rc;
  if (!t || !out) return FN_ERR_PARAMS;
  memset(out, 0, sizeof *out);
  if ((rc = fn_status(t->fn, &out->fn)) != 0) return rc;
  if ((rc = outbox_status(t->fn, 0, &t->policy, &out->outbox)) != 0) return rc;
  if (cache_counts(t->cache, &out->cache) != 0) return FN_ERR_IO;
  char cursor[CACHE_CURSOR_MAX + 1];
  if (cache_sync_state(t->cache, cursor, sizeof cursor, &out->last_sync_ms) != 0)
    out->last_sync_ms = 0;
  out->cache_stale = cache_is_stale(t->cache, till_now_ms(t), t->config.cache_stale_hours);
  out->key_age_days = out->fn.keys_updated_at == 0 || out->fn.now < out->fn.keys_updated_at
                          ? (out->fn.keys_updated_at == 0 ? UINT32_MAX : 0)
                          : (out->fn.now - out->fn.keys_updated_at) / 86400u;
  out->keys_by_device = (fn_capabilities(t->fn) & FN_CAP_DEVICE_KEYS) != 0;
  sale_basket_t *b = malloc(sizeof *b);
  if (b && sale_get(t, b) == 0) {
    out->basket_open = b->open;
    out->basket_lines = (uint32_t)b->count;
    out->basket_total = b->total;
  }
  free(b);
  return 0;
}
