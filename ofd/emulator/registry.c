/*
** ofd/emulator/registry.c: the sync feed and the remarking report (see
** registry.h for the routes and their answers).
**
** Why a change log and not a scan: a store of ten million codes changes a
** few thousand a day, and a till syncing every hour must not read ten
** million rows to find them. lm_feed holds one row per code, renumbered
** (AUTOINCREMENT: numbers never reused) whenever the registry row changes,
** so "what changed after N" is a range of an integer primary key, and a
** code changed twice is sent once, in its latest state. The triggers live
** in the file (store.c installs them with the store), so writers that know nothing of this module (the OISM port,
** the batch upload, `kassa-operator block` in another process) keep it;
** they DELETE then INSERT rather than INSERT OR REPLACE because an outer
** statement's conflict clause would override a trigger's.
**
** Which file: the store's own (store_path); the routes open their own
** connection to it, inside the store lock the server holds for every
** registry access.
**
** The remark's old code is set to status 'applied': among the statuses the
** store allows it is the one codes/check answers realizable=false for with
** no other flag (not sold, not blocked), which is what a code replaced by
** remarking is; lm_remarks records why, and the feed says RETIRED.
*/
#define _GNU_SOURCE
#include "ofd/emulator/registry.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ofd/emulator/admin.h"

#define BUSY_MS 5000
#define KM_MAX  512
#define INN_MAX 12

static const char page_sql[] =
    "SELECT f.seq, c.ki, c.gtin, c.status, c.blocked_code OR c.blocked_gtin OR c.blocked_series,"
    " c.owner_inn, c.expiry, c.min_price, c.max_price, r.new_ki IS NOT NULL"
    " FROM lm_feed f JOIN codes c ON c.ki = f.ki LEFT JOIN lm_remarks r ON r.old = f.ki"
    " WHERE f.seq > ?1 AND (?2 = '' OR c.owner_inn = ?2) ORDER BY f.seq LIMIT ?3";

/* ---------------------------------------------------------------------- */
/* Answers                                                                 */

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *name,
                                  const char *why)
{
  return http_send_json(
      conn, status,
      json_pack("{s:i,s:s,s:s}", "code", (int)status, "description", why, "error", name));
}

/* ---------------------------------------------------------------------- */
/* The store's file and our connection to it                               */

static int exec(sqlite3 *db, const char *text)
{
  char *msg = NULL;
  if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "kassa-operator: registry: %s: %s\n", text, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* Opens our connection to the store (whose change log store.c installs). */
static int registry_db(const http_options_t *o, sqlite3 **out)
{
  const char *path = store_path(o->store);
  sqlite3 *db = NULL;

  *out = NULL;
  if (!path || !path[0]) {
    fprintf(stderr, "kassa-operator: registry: the store has no file\n");
    return -1;
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) goto fail;
  sqlite3_busy_timeout(db, BUSY_MS);
  if (exec(db, "PRAGMA synchronous=FULL") != 0) goto fail;
  *out = db;
  return 0;
fail:
  if (db) fprintf(stderr, "kassa-operator: registry: %s: %s\n", path, sqlite3_errmsg(db));
  sqlite3_close(db);
  return -1;
}

/* ---------------------------------------------------------------------- */
/* GET codes                                                               */

static bool api_key_ok(const http_options_t *o, struct MHD_Connection *conn)
{
  const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-KEY");
  return key && o->api_key && strcmp(key, o->api_key) == 0;
}

/* A cursor: decimal digits, at most 18 of them. */
static bool parse_cursor(const char *s, sqlite3_int64 *out)
{
  size_t n = s ? strlen(s) : 0;
  sqlite3_int64 v = 0;
  if (!s) {
    *out = 0;
    return true;
  }
  if (n == 0 || n > 18) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

static bool inn_valid(const char *s)
{
  size_t n = strlen(s);
  if (n != 10 && n != 12) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

/* The feed's state for a registry row. */
static const char *feed_state(const char *status, bool remarked)
{
  if (remarked || strcmp(status, "sold") == 0) return "RETIRED";
  if (strcmp(status, "emitted") == 0) return "EMITTED";
  if (strcmp(status, "applied") == 0) return "APPLIED";
  return "INTRODUCED"; /* in_circulation, returned, blocked (the flag says it) */
}

static const char *column(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

/* One page, read in one read transaction so "next" and "last" agree. */
static json_t *feed_page(sqlite3 *db, sqlite3_int64 after, const char *owner, unsigned limit)
{
  sqlite3_stmt *st = NULL;
  json_t *codes = json_array(), *out = NULL;
  sqlite3_int64 last = 0, next = after, seen = 0;
  unsigned count = 0;
  int rc;
  char next_text[24], last_text[24], after_text[24];

  if (!codes || exec(db, "BEGIN") != 0) goto done;
  if (sqlite3_prepare_v2(db, page_sql, -1, &st, NULL) != SQLITE_OK) goto rollback;
  sqlite3_bind_int64(st, 1, after);
  sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, limit);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *row;
    seen = sqlite3_column_int64(st, 0);
    row =
        json_pack("[s,s,s,b,b,s,I,I,I]", column(st, 1), column(st, 2),
                  feed_state(column(st, 3), sqlite3_column_int(st, 9) != 0),
                  sqlite3_column_int(st, 4) != 0, strcmp(column(st, 3), "sold") == 0, column(st, 5),
                  (json_int_t)sqlite3_column_int64(st, 6) * 1000,
                  (json_int_t)sqlite3_column_int64(st, 8), (json_int_t)sqlite3_column_int64(st, 7));
    if (!row || json_array_append_new(codes, row) != 0) goto rollback;
    count++;
  }
  if (rc != SQLITE_DONE) goto rollback;
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT coalesce(max(seq), 0) FROM lm_feed", -1, &st, NULL) !=
          SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW)
    goto rollback;
  last = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  exec(db, "COMMIT");
  /* A full page ends at its last row; a short one read to the end. */
  next = count == limit ? seen : (last > after ? last : after);
  snprintf(after_text, sizeof after_text, "%lld", (long long)after);
  snprintf(next_text, sizeof next_text, "%lld", (long long)next);
  snprintf(last_text, sizeof last_text, "%lld", (long long)last);
  out = json_pack("{s:i,s:s,s:s,s:s,s:s,s:b,s:[s,s,s,s,s,s,s,s,s],s:o}", "code", 0, "description",
                  "ok", "after", after_text, "next", next_text, "last", last_text, "more",
                  next < last, "fields", "ki", "gtin", "state", "blocked", "sold", "owner",
                  "expire", "mrp", "smp", "codes", codes);
  codes = NULL;
  goto done;
rollback:
  fprintf(stderr, "kassa-operator: registry: feed: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  st = NULL;
  exec(db, "ROLLBACK");
done:
  sqlite3_finalize(st);
  json_decref(codes);
  return out;
}

static enum MHD_Result codes_route(const http_options_t *o, struct MHD_Connection *conn)
{
  const char *after_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
  const char *limit_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
  const char *owner = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "owner");
  sqlite3_int64 after = 0, limit = REGISTRY_LIMIT;
  sqlite3 *db = NULL;
  json_t *page;

  if (!api_key_ok(o, conn)) return send_error(conn, 401, "auth", "invalid or missing X-API-KEY");
  if (!parse_cursor(after_arg, &after))
    return send_error(conn, 400, "cursor", "after must be a cursor from a previous page");
  if (limit_arg && (!parse_cursor(limit_arg, &limit) || limit < 1 || limit > REGISTRY_LIMIT_MAX))
    return send_error(conn, 400, "limit", "limit must be 1..10000");
  if (owner && owner[0] && !inn_valid(owner))
    return send_error(conn, 400, "owner", "owner must be an INN of 10 or 12 digits");
  pthread_mutex_lock(o->lock);
  page =
      registry_db(o, &db) == 0 ? feed_page(db, after, owner ? owner : "", (unsigned)limit) : NULL;
  sqlite3_close(db);
  pthread_mutex_unlock(o->lock);
  if (!page) return send_error(conn, 500, "store", "the registry could not be read");
  return http_send_json(conn, 200, page);
}

/* ---------------------------------------------------------------------- */
/* POST remark                                                             */

typedef struct registry_row {
  bool found;
  char status[16];
  char owner[INN_MAX + 1];
  bool blocked;
} registry_row_t;

static int row_get(sqlite3 *db, const char *ki, registry_row_t *r)
{
  sqlite3_stmt *st = NULL;
  int rc;
  memset(r, 0, sizeof *r);
  if (sqlite3_prepare_v2(db,
                         "SELECT status, owner_inn, blocked_code OR blocked_gtin OR blocked_series"
                         " FROM codes WHERE ki = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, ki, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    r->found = true;
    snprintf(r->status, sizeof r->status, "%s", column(st, 0));
    snprintf(r->owner, sizeof r->owner, "%s", column(st, 1));
    r->blocked = sqlite3_column_int(st, 2) != 0;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The new_ki an old key was remarked to ("" none) and the owner it went
** to (owner may be NULL), or the old key a new ki replaced (by_new). */
static int remark_find(sqlite3 *db, const char *key, bool by_new, char *out, size_t cap,
                       char owner[INN_MAX + 1])
{
  sqlite3_stmt *st = NULL;
  int rc;
  out[0] = '\0';
  if (sqlite3_prepare_v2(db,
                         by_new ? "SELECT old, owner FROM lm_remarks WHERE new_ki = ?1"
                                : "SELECT new_ki, owner FROM lm_remarks WHERE old = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) snprintf(out, cap, "%s", column(st, 0));
  if (rc == SQLITE_ROW && owner) snprintf(owner, INN_MAX + 1, "%s", column(st, 1));
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Runs one write with up to three text parameters and an integer ?4. */
static int run(sqlite3 *db, const char *text, const char *a, const char *b, const char *c,
               sqlite3_int64 n)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK) return -1;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  if (c) sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
  if (n) sqlite3_bind_int64(st, 4, n);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* "return:DOC:LINE" with positive numbers. */
static bool return_key(const char *s)
{
  unsigned long doc = 0, line = 0;
  int used = 0;
  if (strncmp(s, "return:", 7) != 0) return false;
  if (sscanf(s + 7, "%lu:%lu%n", &doc, &line, &used) != 2 || s[7 + used] != '\0') return false;
  return doc > 0 && line > 0 && s[7] >= '0' && s[7] <= '9';
}

typedef struct remark_request {
  char old[STORE_KI_MAX + 32];
  bool old_is_return;
  char new_km[KM_MAX + 1];
  size_t new_len;
  char new_ki[STORE_KI_MAX + 1];
  char owner[INN_MAX + 1];
} remark_request_t;

/* Reads and checks the body; 0, or the HTTP status with *why. */
static unsigned remark_parse(const char *body, size_t len, remark_request_t *q, const char **why)
{
  json_t *in = body ? json_loadb(body, len, 0, NULL) : NULL;
  const char *old = json_string_value(json_object_get(in, "old"));
  const char *km = json_string_value(json_object_get(in, "new"));
  json_t *owner = json_object_get(in, "owner");
  size_t km_len = km ? json_string_length(json_object_get(in, "new")) : 0;
  unsigned status = 400;
  memset(q, 0, sizeof *q);
  *why = "body must be {\"old\":KI or \"return:DOC:LINE\",\"new\":CODE[,\"owner\":INN]}";
  if (!old || !km || km_len == 0 || km_len > KM_MAX || strlen(old) >= sizeof q->old ||
      (owner && !json_is_null(owner) && !json_is_string(owner)))
    goto done;
  memcpy(q->new_km, km, km_len);
  q->new_len = km_len;
  if (!admin_ki(q->new_km, km_len, q->new_ki, sizeof q->new_ki) ||
      memchr(q->new_km, '\x1d', km_len) == NULL) {
    *why = "new must be a full GS1 marking code with its verification part";
    goto done;
  }
  if (return_key(old)) {
    q->old_is_return = true;
    snprintf(q->old, sizeof q->old, "%s", old);
  } else if (!admin_ki(old, strlen(old), q->old, sizeof q->old)) {
    *why = "old must be a code's KI (01 GTIN 21 serial) or return:DOC:LINE";
    goto done;
  }
  if (json_is_string(owner) && json_string_length(owner) > 0) {
    if (!inn_valid(json_string_value(owner))) {
      *why = "owner must be an INN of 10 or 12 digits";
      goto done;
    }
    snprintf(q->owner, sizeof q->owner, "%s", json_string_value(owner));
  }
  if (strcmp(q->old, q->new_ki) == 0) {
    *why = "old and new are the same code";
    goto done;
  }
  status = 0;
done:
  json_decref(in);
  return status;
}

/* The remark in one transaction on db; 0 with *repeated, or a status. */
static unsigned remark_apply(sqlite3 *db, remark_request_t *q, bool *repeated, const char **name,
                             const char **why)
{
  registry_row_t old_row, new_row;
  char other[STORE_KI_MAX + 32], stored_owner[INN_MAX + 1] = "";
  unsigned status = 500;
  *repeated = false;
  *name = "store";
  *why = "the registry could not be written";
  if (exec(db, "BEGIN IMMEDIATE") != 0) return 500;
  if (remark_find(db, q->old, false, other, sizeof other, stored_owner) != 0) goto fail;
  if (other[0]) {
    if (strcmp(other, q->new_ki) == 0) {
      memcpy(q->owner, stored_owner, sizeof q->owner);
      *repeated = true;
      status = 0;
    } else {
      status = 409;
      *name = "already_remarked";
      *why = "the old code was already remarked to another code";
    }
    goto fail; /* nothing to write either way */
  }
  if (remark_find(db, q->new_ki, true, other, sizeof other, NULL) != 0) goto fail;
  if (other[0]) {
    status = 409;
    *name = "new_used";
    *why = "the new code already replaced another code";
    goto fail;
  }
  if (row_get(db, q->new_ki, &new_row) != 0) goto fail;
  if (!new_row.found) {
    status = 404;
    *name = "new_unknown";
    *why = "the new code is not in the registry: order codes first";
    goto fail;
  }
  if (new_row.blocked ||
      (strcmp(new_row.status, "emitted") != 0 && strcmp(new_row.status, "applied") != 0 &&
       strcmp(new_row.status, "in_circulation") != 0)) {
    status = 409;
    *name = "new_used";
    *why = "the new code is sold, returned or blocked: it cannot be a fresh label";
    goto fail;
  }
  if (!q->old_is_return) {
    if (row_get(db, q->old, &old_row) != 0) goto fail;
    if (!old_row.found) {
      status = 404;
      *name = "old_unknown";
      *why = "the old code is not in the registry";
      goto fail;
    }
    if (old_row.blocked || (strcmp(old_row.status, "in_circulation") != 0 &&
                            strcmp(old_row.status, "returned") != 0)) {
      status = 409;
      *name = "old_state";
      *why = strcmp(old_row.status, "sold") == 0 ? "the old code is sold: return the good first"
                                                 : "the old code is blocked or not in circulation";
      goto fail;
    }
    if (!q->owner[0]) snprintf(q->owner, sizeof q->owner, "%s", old_row.owner);
    if (run(db, "UPDATE codes SET status = 'applied' WHERE ki = ?1", q->old, NULL, NULL, 0) != 0)
      goto fail;
  }
  if (!q->owner[0]) snprintf(q->owner, sizeof q->owner, "%s", new_row.owner);
  if (run(db, "UPDATE codes SET status = 'in_circulation', owner_inn = ?2 WHERE ki = ?1", q->new_ki,
          q->owner, NULL, 0) != 0 ||
      run(db, "INSERT INTO lm_remarks (old, new_ki, owner, at) VALUES (?1, ?2, ?3, ?4)", q->old,
          q->new_ki, q->owner, (sqlite3_int64)time(NULL)) != 0)
    goto fail;
  if (exec(db, "COMMIT") != 0) goto fail;
  return 0;
fail:
  exec(db, "ROLLBACK");
  return status;
}

static enum MHD_Result remark_route(const http_options_t *o, struct MHD_Connection *conn,
                                    const char *body, size_t len)
{
  remark_request_t q;
  const char *why = NULL, *name = "bad_request";
  sqlite3 *db = NULL;
  bool verified = false, repeated = false;
  unsigned status;

  if (!api_key_ok(o, conn)) return send_error(conn, 401, "auth", "invalid or missing X-API-KEY");
  if ((status = remark_parse(body, len, &q, &why)) != 0) return send_error(conn, status, name, why);
  pthread_mutex_lock(o->lock);
  if (admin_tail_verify(o->store, q.new_km, q.new_len, &verified) != 0) {
    status = 500;
    name = "store";
    why = "the keys could not be read";
  } else if (!verified) {
    status = 422;
    name = "crypto_failed";
    why = "the new code's verification part does not verify: not a code the operator issued";
  } else if (registry_db(o, &db) != 0) {
    status = 500;
    name = "store";
    why = "the registry could not be opened";
  } else {
    status = remark_apply(db, &q, &repeated, &name, &why);
  }
  sqlite3_close(db);
  pthread_mutex_unlock(o->lock);
  if (status != 0) return send_error(conn, status, name, why);
  return http_send_json(conn, 200,
                        json_pack("{s:i,s:s,s:s,s:s,s:s,s:b}", "code", 0, "description", "ok",
                                  "old", q.old, "new", q.new_ki, "owner", q.owner, "repeated",
                                  repeated));
}

enum MHD_Result registry_http(const http_options_t *o, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *body, size_t len)
{
  const char *route = url + strlen(REGISTRY_PREFIX);
  if (strcmp(route, "codes") == 0) {
    if (strcmp(method, "GET") != 0) return send_error(conn, 405, "method", "use GET");
    return codes_route(o, conn);
  }
  if (strcmp(route, "remark") == 0) {
    if (strcmp(method, "POST") != 0) return send_error(conn, 405, "method", "use POST");
    return remark_route(o, conn, body, len);
  }
  return send_error(conn, 404, "not_found", "no such endpoint");
}
