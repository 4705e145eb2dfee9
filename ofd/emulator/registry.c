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
** in the file (store.c installs them with the store), so writers that know
** nothing of this module (the OISM port, the batch upload, `kassa-operator
** block` in another process) keep it; they DELETE then INSERT rather than
** INSERT OR REPLACE because an outer statement's conflict clause would
** override a trigger's.
**
** Why a snapshot first: a till's first sync takes every code, and the log
** gives them in change order, random in ki; the till's cache is a B-tree
** on ki, which takes codes in ki order ten times faster. So a feed read
** from the start walks the registry's ki index instead, then hands over
** to the log at the change where it began (registry.h, "Cursors").
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

#include "common/codec.h"
#include "common/db.h"
#include "ofd/emulator/admin.h"

#define BUSY_MS 5000
#define KM_MAX  512
#define INN_MAX 12

/* One code as the feed's positional array (registry.h "fields"), written
** by SQLite's JSON functions, which also escape the ki (a serial may hold
** '"'). The state: sold or replaced by remarking is RETIRED; returned,
** blocked and in_circulation are INTRODUCED (the blocked flag tells). */
#define ROW_JSON                                                                                   \
  "json_array(c.ki, c.gtin,"                                                                       \
  " CASE WHEN r.new_ki IS NOT NULL OR c.status = 'sold' THEN 'RETIRED'"                            \
  " WHEN c.status = 'emitted' THEN 'EMITTED' WHEN c.status = 'applied' THEN 'APPLIED'"             \
  " ELSE 'INTRODUCED' END,"                                                                        \
  " json(CASE WHEN c.blocked_code OR c.blocked_gtin OR c.blocked_series THEN 'true' ELSE 'false'"  \
  " END), json(CASE WHEN c.status = 'sold' THEN 'true' ELSE 'false' END), c.owner_inn,"            \
  " c.expiry * 1000, c.max_price, c.min_price)"

/* The change log after a sequence number, in change order. */
static const char log_sql[] = "SELECT " ROW_JSON ", f.seq"
                              " FROM lm_feed f JOIN codes c ON c.ki = f.ki"
                              " LEFT JOIN lm_remarks r ON r.old = f.ki"
                              " WHERE f.seq > ?1 AND (?2 = '' OR c.owner_inn = ?2)"
                              " ORDER BY f.seq LIMIT ?3";

/* The snapshot after a ki, in ki order (the registry's primary key). */
static const char snapshot_sql[] = "SELECT " ROW_JSON ", c.ki"
                                   " FROM codes c LEFT JOIN lm_remarks r ON r.old = c.ki"
                                   " WHERE c.ki > ?1 AND (?2 = '' OR c.owner_inn = ?2)"
                                   " ORDER BY c.ki LIMIT ?3";

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
  char why[512];
  if (db_exec(db, text, why, sizeof why) == SQLITE_OK) return 0;
  fprintf(stderr, "kassa-operator: registry: %s\n", why);
  return -1;
}

/* Our connection to the store (whose change log store.c installs), opened
** once and kept: the routes run under the server's store lock, one at a
** time, and a kept connection keeps its page cache and its map of the file
** between pages of a sync (a fresh one per request faulted in every page of
** the index again). One store per process, so one kept connection. */
static sqlite3 *kept_db;
static char kept_path[4096];

static int registry_db(const http_options_t *o, sqlite3 **out)
{
  const char *path = store_path(o->store);
  sqlite3 *db = NULL;

  *out = NULL;
  if (!path || !path[0] || strlen(path) >= sizeof kept_path) {
    fprintf(stderr, "kassa-operator: registry: the store has no file\n");
    return -1;
  }
  if (kept_db && strcmp(kept_path, path) == 0) {
    *out = kept_db;
    return 0;
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) goto fail;
  sqlite3_busy_timeout(db, BUSY_MS);
  if (exec(db, "PRAGMA synchronous=FULL") != 0 || exec(db, "PRAGMA mmap_size=4294967296") != 0 ||
      exec(db, "PRAGMA cache_size=-65536") != 0)
    goto fail;
  sqlite3_close(kept_db);
  kept_db = db;
  snprintf(kept_path, sizeof kept_path, "%s", path);
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

/* A number: decimal digits, at most 18 of them (NULL: 0). */
static bool parse_number(const char *s, sqlite3_int64 *out)
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

/* Where a page starts (registry.h, "Cursors"). */
typedef struct feed_cursor {
  bool snapshot;
  sqlite3_int64 seq; /* the log: after this change; a snapshot: the log's end when it began */
  sqlite3_int64 total, done; /* a snapshot: its size when it began, codes sent before this page */
  char ki[KM_MAX + 1];       /* a snapshot: after this ki ("" from the first) */
} feed_cursor_t;

/* Splits "N.N.N" numbers off text in turn; NULL when malformed. */
static const char *number_field(const char *text, sqlite3_int64 *out)
{
  char digits[20];
  size_t n = strspn(text, "0123456789");
  if (n == 0 || n >= sizeof digits || text[n] != '.') return NULL;
  memcpy(digits, text, n);
  digits[n] = '\0';
  return parse_number(digits, out) ? text + n + 1 : NULL;
}

/* "N": the change log after N. "sSEQ.TOTAL.DONE.HEX": a snapshot, HEX the
** lowercase hex of the last ki sent. Absent or "0": a new snapshot. */
static bool parse_cursor(const char *s, feed_cursor_t *c)
{
  const char *p;
  size_t n;
  memset(c, 0, sizeof *c);
  if (!s || strcmp(s, "0") == 0) {
    c->snapshot = true;
    c->total = -1; /* counted when the first page is made */
    return true;
  }
  if (s[0] != 's') return parse_number(s, &c->seq);
  c->snapshot = true;
  if (!(p = number_field(s + 1, &c->seq)) || !(p = number_field(p, &c->total)) ||
      !(p = number_field(p, &c->done)))
    return false;
  n = strlen(p);
  if (n % 2 || n / 2 > KM_MAX || c->done > c->total) return false;
  if (!codec_hex_decode(p, n, (uint8_t *)c->ki, n / 2) || memchr(c->ki, '\0', n / 2))
    return false; /* a ki holds no NUL */
  c->ki[n / 2] = '\0';
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

static const char *column(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

static bool single_int(sqlite3 *db, const char *sql, const char *owner, sqlite3_int64 *out)
{
  sqlite3_stmt *st = NULL;
  bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            (!owner || sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC) == SQLITE_OK) &&
            sqlite3_step(st) == SQLITE_ROW;
  if (ok) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return ok;
}

/* The cursor of a snapshot page that ended at ki; false when it would be
** longer than FEED_CURSOR_MAX (a ki of more than about 40 characters, which
** no marking code has). */
static bool snapshot_cursor(const feed_cursor_t *c, sqlite3_int64 done, const char *ki,
                            char out[FEED_CURSOR_MAX + 1])
{
  static const char hex[] = "0123456789abcdef";
  int n = snprintf(out, FEED_CURSOR_MAX + 1, "s%lld.%lld.%lld.", (long long)c->seq,
                   (long long)c->total, (long long)done);
  size_t at = (size_t)n;
  if (n < 0 || at + 2 * strlen(ki) > FEED_CURSOR_MAX) return false;
  for (const unsigned char *p = (const unsigned char *)ki; *p; p++) {
    out[at++] = hex[*p >> 4];
    out[at++] = hex[*p & 15];
  }
  out[at] = '\0';
  return true;
}

/* A growing text buffer for the page's rows. */
typedef struct text {
  char *data;
  size_t len, cap;
} text_t;

static bool text_add(text_t *t, const char *s, size_t n)
{
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 1 << 16;
    char *grown;
    while (cap < t->len + n + 1) cap *= 2;
    if (!(grown = realloc(t->data, cap))) return false;
    t->data = grown;
    t->cap = cap;
  }
  memcpy(t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = '\0';
  return true;
}

/* The page's text: the header jansson writes, then "codes" spliced in from
** the rows SQLite wrote (a 10 000-code page is a megabyte; building it as
** jansson values cost the operator more than the till's whole sync). */
static char *page_text(json_t *header, const text_t *rows)
{
  char *head = json_dumps(header, JSON_COMPACT);
  size_t n = head ? strlen(head) : 0;
  text_t out = {0};
  json_decref(header);
  if (n < 2 || head[n - 1] != '}' || !text_add(&out, head, n - 1) ||
      !text_add(&out, ",\"codes\":[", 10) ||
      !text_add(&out, rows->data ? rows->data : "", rows->len) || !text_add(&out, "]}", 2)) {
    free(out.data);
    out.data = NULL;
  }
  free(head);
  return out.data;
}

/* One page, read in one read transaction so "next" and "last" agree. NULL
** on failure (the reason went to stderr). */
static char *feed_page(sqlite3 *db, const char *after_text, feed_cursor_t *c, const char *owner,
                       unsigned limit)
{
  sqlite3_stmt *st = NULL;
  json_t *snapshot = NULL;
  text_t rows = {0};
  char *out = NULL;
  sqlite3_int64 last = 0, seen = 0;
  unsigned count = 0;
  int rc;
  bool more;
  char next[FEED_CURSOR_MAX + 1], last_text[24], ki[KM_MAX + 1] = "";

  if (exec(db, "BEGIN") != 0) goto done;
  if (!single_int(db, "SELECT coalesce(max(seq), 0) FROM lm_feed", NULL, &last)) goto rollback;
  if (c->snapshot && c->total < 0) {
    /* A new snapshot: the log's end now, where the till goes on after it. */
    c->seq = last;
    if (!single_int(db, "SELECT count(*) FROM codes WHERE ?1 = '' OR owner_inn = ?1", owner,
                    &c->total))
      goto rollback;
  }
  if (sqlite3_prepare_v2(db, c->snapshot ? snapshot_sql : log_sql, -1, &st, NULL) != SQLITE_OK)
    goto rollback;
  if (c->snapshot)
    sqlite3_bind_text(st, 1, c->ki, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64(st, 1, c->seq);
  sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, limit);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *row = (const char *)sqlite3_column_text(st, 0);
    if (!row || (count && !text_add(&rows, ",", 1)) ||
        !text_add(&rows, row, (size_t)sqlite3_column_bytes(st, 0)))
      goto rollback;
    if (c->snapshot)
      snprintf(ki, sizeof ki, "%s", column(st, 1));
    else
      seen = sqlite3_column_int64(st, 1);
    count++;
  }
  if (rc != SQLITE_DONE) goto rollback;
  sqlite3_finalize(st);
  st = NULL;
  exec(db, "COMMIT");
  if (c->snapshot && count == limit) {
    /* More of the snapshot may follow (codes added since it began can
    ** make it longer than its total; the log sends them again anyway). */
    sqlite3_int64 done_now = c->done + count;
    if (!snapshot_cursor(c, done_now, ki, next)) {
      fprintf(stderr, "kassa-operator: registry: ki too long for a cursor: %.64s\n", ki);
      goto done;
    }
    more = true;
    snapshot = json_pack("{s:I,s:I}", "done", (json_int_t)done_now, "total", (json_int_t)c->total);
  } else if (c->snapshot) {
    /* The snapshot is whole: the log goes on from where it stood when the
    ** snapshot began, so every change made meanwhile comes again. */
    snprintf(next, sizeof next, "%lld", (long long)c->seq);
    more = c->seq < last;
    snapshot = json_pack("{s:I,s:I}", "done", (json_int_t)(c->done + count), "total",
                         (json_int_t)c->total);
  } else {
    /* A full page ends at its last row; a short one read to the end. */
    sqlite3_int64 n = count == limit ? seen : (last > c->seq ? last : c->seq);
    snprintf(next, sizeof next, "%lld", (long long)n);
    more = n < last;
  }
  snprintf(last_text, sizeof last_text, "%lld", (long long)last);
  out = page_text(json_pack("{s:i,s:s,s:s,s:s,s:s,s:b,s:o*,s:[s,s,s,s,s,s,s,s,s]}", "code", 0,
                            "description", "ok", "after", after_text, "next", next, "last",
                            last_text, "more", more, "snapshot", snapshot, "fields", "ki", "gtin",
                            "state", "blocked", "sold", "owner", "expire", "mrp", "smp"),
                  &rows);
  snapshot = NULL;
  if (!out) fprintf(stderr, "kassa-operator: registry: feed: out of memory\n");
  goto done;
rollback:
  fprintf(stderr, "kassa-operator: registry: feed: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  st = NULL;
  exec(db, "ROLLBACK");
done:
  sqlite3_finalize(st);
  json_decref(snapshot);
  free(rows.data);
  return out;
}

static enum MHD_Result codes_route(const http_options_t *o, struct MHD_Connection *conn)
{
  const char *after_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
  const char *limit_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
  const char *owner = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "owner");
  sqlite3_int64 limit = REGISTRY_LIMIT;
  feed_cursor_t after;
  sqlite3 *db = NULL;
  char *page;

  if (!api_key_ok(o, conn)) return send_error(conn, 401, "auth", "invalid or missing X-API-KEY");
  if (!parse_cursor(after_arg, &after))
    return send_error(conn, 400, "cursor", "after must be a cursor from a previous page");
  if (limit_arg && (!parse_number(limit_arg, &limit) || limit < 1 || limit > REGISTRY_LIMIT_MAX))
    return send_error(conn, 400, "limit", "limit must be 1..10000");
  if (owner && owner[0] && !inn_valid(owner))
    return send_error(conn, 400, "owner", "owner must be an INN of 10 or 12 digits");
  pthread_mutex_lock(o->lock);
  page = registry_db(o, &db) == 0 ? feed_page(db, after_arg ? after_arg : "0", &after,
                                              owner ? owner : "", (unsigned)limit)
                                  : NULL;
  pthread_mutex_unlock(o->lock);
  if (!page) return send_error(conn, 500, "store", "the registry could not be read");
  return http_send_text(conn, 200, page);
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
