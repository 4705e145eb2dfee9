/*
** store/store_internal.h: the backend vtable behind store_t (store.h), for
** the files of store/ only: store.c dispatches, store_local.c (SQLite),
** store_pg.c (libpq) and store_http.c (the store node) implement it.
*/
#ifndef KASSA_STORE_STORE_INTERNAL_H
#define KASSA_STORE_STORE_INTERNAL_H

#include "store/store.h"

typedef struct store_backend {
  const char *name;
  int (*claim)(void *self, const char *lane, const char *ki, uint32_t lease_ms, store_claim_t *out);
  int (*release)(void *self, const char *lane, const char *ki);
  int (*publish)(void *self, const store_record_t *r, uint32_t *conflicts);
  int (*heartbeat)(void *self, const char *lane, uint32_t lease_ms, const char *fn,
                   uint32_t *published);
  int (*feed)(void *self, int64_t after, store_feed_row_t *rows, size_t max, size_t *count);
  int (*conflicts)(void *self, store_conflict_t *rows, size_t max, size_t *count);
  int (*put_statuses)(void *self, const store_status_t *rows, size_t count, const char *cursor);
  int (*sync_cursor)(void *self, char *out, size_t size);
  int (*lookup)(void *self, const char *ki, store_lookup_t *out);
  int (*fn_known)(void *self, const char *fn, bool *known);
  const char *(*last_error)(void *self);
  void (*destroy)(void *self);
} store_backend_t;

/* Each backend's constructor: target is what follows "local:" / "pg:", or
** the whole http:// URL. 0 with *self, or a store_err_t with err filled. */
int store_local_create(const char *target, const store_options_t *o, void **self, char *err,
                       size_t err_size);
int store_pg_create(const char *target, const store_options_t *o, void **self, char *err,
                    size_t err_size);
int store_http_create(const char *target, const store_options_t *o, void **self, char *err,
                      size_t err_size);

extern const store_backend_t store_local_backend, store_pg_backend, store_http_backend;

#endif /* KASSA_STORE_STORE_INTERNAL_H */
