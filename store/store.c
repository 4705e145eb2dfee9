/*
** store/store.c: the store handle: a backend chosen from the spec's
** prefix, the checks every backend relies on (lane names, codes, records)
** made once here before the call goes through the vtable, and the error
** table.
*/
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"
#include "store/store_internal.h"

struct store_t {
  const store_backend_t *backend;
  void *self;
};

static const errtab_t errors[] = {
    {STORE_OK, "ok", "Готово.", "Done."},
    {STORE_ERR_ARGUMENT, "argument", "Неверный запрос к серверу магазина.",
     "A malformed request to the store."},
    {STORE_ERR_NO_MEMORY, "no_memory", "Недостаточно памяти.", "Out of memory."},
    {STORE_ERR_UNREACHABLE, "unreachable", "Сервер магазина не отвечает: касса решает сама.",
     "The store node does not answer: the lane decides alone."},
    {STORE_ERR_PROTOCOL, "protocol", "Сервер магазина ответил не по протоколу.",
     "The store node's answer is not the store protocol."},
    {STORE_ERR_AUTH, "auth", "Сервер магазина отклонил ключ доступа.",
     "The store node refused the token."},
    {STORE_ERR_DATABASE, "database", "База данных магазина отказала в операции.",
     "The store's database refused the operation."},
    ERRTAB_END("Неизвестная ошибка сервера магазина.", "Unknown store error."),
};

const char *store_err_name(int err) { return errtab_name(errors, err); }
const char *store_err_message(int err, bool russian)
{
  return errtab_message(errors, err, russian);
}

static const char *const op_names[] = {
    [STORE_OP_SOLD] = "sold", [STORE_OP_RETURNED] = "returned", [STORE_OP_REMARKED] = "remarked"};

const char *store_op_name(store_op_t op)
{
  return op >= STORE_OP_SOLD && op <= STORE_OP_REMARKED ? op_names[op] : NULL;
}

store_op_t store_op_of(const char *name)
{
  for (int op = STORE_OP_SOLD; name && op <= STORE_OP_REMARKED; op++)
    if (!strcmp(name, op_names[op])) return (store_op_t)op;
  return 0;
}

bool store_lane_ok(const char *lane)
{
  size_t n = lane ? strlen(lane) : 0;
  if (n == 0 || n > STORE_LANE_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-", lane[i]))
      return false;
  return true;
}

bool store_ki_ok(const char *ki)
{
  size_t n = ki ? strlen(ki) : 0;
  if (n == 0 || n > STORE_KI_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)ki[i] <= 0x20 || (unsigned char)ki[i] >= 0x7f) return false;
  return true;
}

static bool fn_ok(const char *fn)
{
  size_t n = fn ? strlen(fn) : 0;
  return n > 0 && n <= STORE_FN_MAX && strspn(fn, "0123456789") == n;
}

static bool record_ok(const store_record_t *r)
{
  if (!r || !store_lane_ok(r->lane) || !fn_ok(r->fn) || r->document == 0 || (r->count && !r->lines))
    return false;
  for (size_t i = 0; i < r->count; i++) {
    const store_line_t *l = &r->lines[i];
    if (!store_ki_ok(l->ki) || !store_op_name(l->op) || (r->remark && l->op != STORE_OP_REMARKED) ||
        (l->gtin && (strlen(l->gtin) > 14 || strspn(l->gtin, "0123456789") != strlen(l->gtin))))
      return false;
  }
  return true;
}

int store_open(const char *spec, const store_options_t *o, store_t **out, char *err,
               size_t err_size)
{
  static const store_options_t none = {0};
  const store_backend_t *b;
  const char *target;
  store_t *s;
  int rc;
  if (out) *out = NULL;
  if (err && err_size) err[0] = '\0';
  if (!spec || !out) return STORE_ERR_ARGUMENT;
  if (!o) o = &none;
  if (!strncmp(spec, "local:", 6)) {
    b = &store_local_backend;
    target = spec + 6;
  } else if (!strncmp(spec, "pg:", 3)) {
    b = &store_pg_backend;
    target = spec + 3;
  } else if (!strncmp(spec, "http://", 7)) {
    b = &store_http_backend;
    target = spec;
  } else {
    if (err) snprintf(err, err_size, "store: '%s' is not local:PATH, pg:CONNINFO or http://", spec);
    return STORE_ERR_ARGUMENT;
  }
  if (!(s = calloc(1, sizeof *s))) return STORE_ERR_NO_MEMORY;
  s->backend = b;
  rc = b == &store_local_backend ? store_local_create(target, o, &s->self, err, err_size)
       : b == &store_pg_backend  ? store_pg_create(target, o, &s->self, err, err_size)
                                 : store_http_create(target, o, &s->self, err, err_size);
  if (rc != 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(store_t *s)
{
  if (!s) return;
  s->backend->destroy(s->self);
  free(s);
}

const char *store_backend_name(const store_t *s) { return s ? s->backend->name : ""; }

const char *store_last_error(const store_t *s) { return s ? s->backend->last_error(s->self) : ""; }

int store_claim(store_t *s, const char *lane, const char *ki, uint32_t lease_ms, store_claim_t *out)
{
  if (!s || !out || !store_lane_ok(lane) || !store_ki_ok(ki) || lease_ms == 0)
    return STORE_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  return s->backend->claim(s->self, lane, ki, lease_ms, out);
}

int store_release(store_t *s, const char *lane, const char *ki)
{
  if (!s || !store_lane_ok(lane) || !store_ki_ok(ki)) return STORE_ERR_ARGUMENT;
  return s->backend->release(s->self, lane, ki);
}

int store_publish(store_t *s, const store_record_t *r, uint32_t *conflicts)
{
  uint32_t dummy;
  if (!s || !record_ok(r)) return STORE_ERR_ARGUMENT;
  if (!conflicts) conflicts = &dummy;
  *conflicts = 0;
  return s->backend->publish(s->self, r, conflicts);
}

int store_heartbeat(store_t *s, const char *lane, uint32_t lease_ms, const char *fn,
                    uint32_t *published)
{
  uint32_t dummy;
  if (!s || !store_lane_ok(lane) || lease_ms == 0 || (fn && fn[0] && !fn_ok(fn)))
    return STORE_ERR_ARGUMENT;
  if (!published) published = &dummy;
  *published = 0;
  return s->backend->heartbeat(s->self, lane, lease_ms, fn && fn[0] ? fn : NULL, published);
}

int store_feed(store_t *s, int64_t after, store_feed_row_t *rows, size_t max, size_t *count)
{
  if (!s || !rows || !count || after < 0 || max == 0) return STORE_ERR_ARGUMENT;
  *count = 0;
  return s->backend->feed(s->self, after, rows, max, count);
}

int store_put_statuses(store_t *s, const store_status_t *rows, size_t count, const char *cursor)
{
  if (!s || (count && !rows) || !cursor || !s->backend->put_statuses) return STORE_ERR_ARGUMENT;
  for (size_t i = 0; i < count; i++)
    if (!store_ki_ok(rows[i].ki) || rows[i].state < 1 || rows[i].state > 4)
      return STORE_ERR_ARGUMENT;
  return s->backend->put_statuses(s->self, rows, count, cursor);
}

int store_sync_cursor(store_t *s, char *out, size_t size)
{
  if (!s || !out || size == 0 || !s->backend->sync_cursor) return STORE_ERR_ARGUMENT;
  out[0] = '\0';
  return s->backend->sync_cursor(s->self, out, size);
}

int store_lookup(store_t *s, const char *ki, store_lookup_t *out)
{
  if (!s || !out || !store_ki_ok(ki) || !s->backend->lookup) return STORE_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  return s->backend->lookup(s->self, ki, out);
}

int store_fn_known(store_t *s, const char *fn, bool *known)
{
  if (!s || !known || !s->backend->fn_known) return STORE_ERR_ARGUMENT;
  *known = false;
  if (!fn_ok(fn)) return 0;
  return s->backend->fn_known(s->self, fn, known);
}

int store_conflicts(store_t *s, store_conflict_t *rows, size_t max, size_t *count)
{
  if (!s || !rows || !count || max == 0) return STORE_ERR_ARGUMENT;
  *count = 0;
  return s->backend->conflicts(s->self, rows, max, count);
}
