/*
** store/store_local.c: the store in one SQLite file ("local:PATH"): the
** same rules as the PostgreSQL backend (store.h) for a store of one host,
** and the oracle the unit test checks the rules against without a server.
**
** SQLite has one writer at a time: every operation is one BEGIN IMMEDIATE
** transaction, so it reads and writes with no other writer between, and
** the rules are written as plainly as they read. Lease times are the
** wall clock in milliseconds (the PostgreSQL backend uses the server's).
** WAL with synchronous=FULL: a published record survives a power cut.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/db.h"
#include "store/store_internal.h"

typedef struct local {
  sqlite3 *db;
  char error[512];
} local_t;

/* The lanes' documents and their lines (a remark keyed apart: store.h). */
#define DOC_TABLE                                                                                  \
  "doc (fn TEXT NOT NULL, document INTEGER NOT NULL, lane TEXT NOT NULL,"                          \
  "  offline INTEGER NOT NULL, remark INTEGER NOT NULL DEFAULT 0,"                                 \
  "  PRIMARY KEY (fn, remark, document));"
#define RECORD_TABLE                                                                               \
  "record (seq INTEGER PRIMARY KEY AUTOINCREMENT, fn TEXT NOT NULL,"                               \
  "  document INTEGER NOT NULL, line INTEGER NOT NULL, ki TEXT NOT NULL, gtin TEXT NOT NULL,"      \
  "  op INTEGER NOT NULL, lane TEXT NOT NULL, offline INTEGER NOT NULL,"                           \
  "  remark INTEGER NOT NULL DEFAULT 0, UNIQUE (fn, remark, document, line));"

static const char schema[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS claim (ki TEXT PRIMARY KEY, lane TEXT NOT NULL,"
    "  expires INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS claim_lane ON claim (lane);"
    "CREATE TABLE IF NOT EXISTS code (ki TEXT PRIMARY KEY, state INTEGER NOT NULL,"
    "  lane TEXT NOT NULL, fn TEXT NOT NULL, document INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS " DOC_TABLE "CREATE TABLE IF NOT EXISTS " RECORD_TABLE
    "CREATE TABLE IF NOT EXISTS conflict (ki TEXT NOT NULL, first_lane TEXT NOT NULL,"
    "  first_fn TEXT NOT NULL, first_document INTEGER NOT NULL, second_lane TEXT NOT NULL,"
    "  second_fn TEXT NOT NULL, second_document INTEGER NOT NULL,"
    "  PRIMARY KEY (ki, second_fn, second_document));"
    "CREATE TABLE IF NOT EXISTS status (ki TEXT PRIMARY KEY, gtin TEXT NOT NULL,"
    "  state INTEGER NOT NULL, blocked INTEGER NOT NULL, sold INTEGER NOT NULL,"
    "  owner TEXT NOT NULL, expire INTEGER NOT NULL, mrp INTEGER NOT NULL, smp INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS status_seq ON status (seq);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/* A file made before the lanes' remarks were keyed apart from their FN
** documents (the remark column): doc and record rebuilt with it, in one
** transaction. */
static const char add_remark[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE doc RENAME TO doc_old; ALTER TABLE record RENAME TO record_old;"
    "CREATE TABLE " DOC_TABLE "CREATE TABLE " RECORD_TABLE
    "INSERT INTO doc (fn, document, lane, offline) SELECT * FROM doc_old;"
    "INSERT INTO record (seq, fn, document, line, ki, gtin, op, lane, offline)"
    "  SELECT * FROM record_old;"
    "DROP TABLE doc_old; DROP TABLE record_old; COMMIT;";

/* The next number of the one feed records and statuses share (writers are
** serialised by BEGIN IMMEDIATE). */
#define NEXT_SEQ                                                                                   \
  "(SELECT coalesce(max(s), 0) + 1 FROM (SELECT max(seq) AS s FROM record UNION ALL "              \
  "SELECT max(seq) FROM status))"

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *local_last_error(void *self) { return ((local_t *)self)->error; }

static int fail(local_t *l, const char *what)
{
  snprintf(l->error, sizeof l->error, "%s: %s", what, sqlite3_errmsg(l->db));
  return STORE_ERR_DATABASE;
}

/* Prepares sql and binds the text arguments (NULL ends them; "#N" binds
** the integer N). NULL after recording why. */
static sqlite3_stmt *stmt(local_t *l, const char *sql, const char *const *args)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(l->db, sql, -1, &s, NULL) != SQLITE_OK) {
    fail(l, sql);
    return NULL;
  }
  for (int i = 0; args && args[i]; i++) {
    if (args[i][0] == '#')
      sqlite3_bind_int64(s, i + 1, strtoll(args[i] + 1, NULL, 10));
    else
      sqlite3_bind_text(s, i + 1, args[i], -1, SQLITE_STATIC);
  }
  return s;
}

/* Runs a statement with no rows wanted; sqlite3_changes() after. */
static int step_done(local_t *l, const char *sql, const char *const *args)
{
  sqlite3_stmt *s = stmt(l, sql, args);
  int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : fail(l, sql);
}

static int begin(local_t *l)
{
  return db_exec(l->db, "BEGIN IMMEDIATE", NULL, 0) == SQLITE_OK ? 0 : fail(l, "begin");
}

static int end(local_t *l, int rc)
{
  if (rc == 0 && db_exec(l->db, "COMMIT", NULL, 0) == SQLITE_OK) return 0;
  if (rc == 0) rc = fail(l, "commit");
  db_exec(l->db, "ROLLBACK", NULL, 0);
  return rc;
}

static void column(sqlite3_stmt *s, int col, char *out, size_t size)
{
  db_column_text(s, col, out, size);
}

/* A lane, its FN and a document number from column col on. */
static void who_columns(sqlite3_stmt *s, int col, char lane[STORE_LANE_MAX + 1],
                        char fn[STORE_FN_MAX + 1], uint32_t *document)
{
  column(s, col, lane, STORE_LANE_MAX + 1);
  column(s, col + 1, fn, STORE_FN_MAX + 1);
  *document = (uint32_t)sqlite3_column_int64(s, col + 2);
}

/* state, blocked, sold, owner, expire, mrp, smp from column col on. */
static void status_columns(sqlite3_stmt *s, int col, store_status_t *st)
{
  st->state = sqlite3_column_int(s, col);
  st->blocked = sqlite3_column_int(s, col + 1) != 0;
  st->sold = sqlite3_column_int(s, col + 2) != 0;
  column(s, col + 3, st->owner, sizeof st->owner);
  st->expire_ms = sqlite3_column_int64(s, col + 4);
  st->mrp = (uint64_t)sqlite3_column_int64(s, col + 5);
  st->smp = (uint64_t)sqlite3_column_int64(s, col + 6);
}

static int local_claim(void *self, const char *lane, const char *ki, uint32_t lease_ms,
                       store_claim_t *out)
{
  local_t *l = self;
  char until[24], now[24];
  int rc;
  sqlite3_stmt *s;
  int64_t t = now_ms();
  snprintf(now, sizeof now, "#%lld", (long long)t);
  snprintf(until, sizeof until, "#%lld", (long long)(t + lease_ms));
  if ((rc = begin(l)) != 0) return rc;
  const char *a[] = {ki, NULL};
  if (!(s = stmt(l, "SELECT lane, fn, document FROM code WHERE ki = ? AND state <> 2", a)))
    return end(l, STORE_ERR_DATABASE);
  if (sqlite3_step(s) == SQLITE_ROW) {
    out->verdict = STORE_SOLD;
    column(s, 0, out->holder, sizeof out->holder);
    column(s, 1, out->fn, sizeof out->fn);
    out->document = (uint32_t)sqlite3_column_int64(s, 2);
    sqlite3_finalize(s);
    return end(l, 0);
  }
  sqlite3_finalize(s);
  if (!(s = stmt(l, "SELECT lane FROM claim WHERE ki = ? AND lane <> ? AND expires >= ?",
                 (const char *const[]){ki, lane, now, NULL})))
    return end(l, STORE_ERR_DATABASE);
  if (sqlite3_step(s) == SQLITE_ROW) {
    out->verdict = STORE_HELD;
    column(s, 0, out->holder, sizeof out->holder);
    sqlite3_finalize(s);
    return end(l, 0);
  }
  sqlite3_finalize(s);
  out->verdict = STORE_GRANTED;
  return end(l, step_done(l, "INSERT OR REPLACE INTO claim (ki, lane, expires) VALUES (?, ?, ?)",
                          (const char *const[]){ki, lane, until, NULL}));
}

static int local_release(void *self, const char *lane, const char *ki)
{
  local_t *l = self;
  int rc = begin(l);
  if (rc != 0) return rc;
  return end(l, step_done(l, "DELETE FROM claim WHERE ki = ? AND lane = ?",
                          (const char *const[]){ki, lane, NULL}));
}

/* One sold or remarked line: the code's state, or a conflict row. */
static int sell_line(local_t *l, const store_record_t *r, const store_line_t *line, const char *doc,
                     uint32_t *conflicts)
{
  sqlite3_stmt *s = stmt(l, "SELECT lane, fn, document FROM code WHERE ki = ? AND state <> 2",
                         (const char *const[]){line->ki, NULL});
  const char *state = line->op == STORE_OP_SOLD ? "#1" : "#3";
  if (!s) return STORE_ERR_DATABASE;
  if (sqlite3_step(s) != SQLITE_ROW) {
    sqlite3_finalize(s);
    return step_done(l, "INSERT OR REPLACE INTO code VALUES (?, ?, ?, ?, ?)",
                     (const char *const[]){line->ki, state, r->lane, r->fn, doc, NULL});
  }
  char lane[STORE_LANE_MAX + 1], fn[STORE_FN_MAX + 1], first[24];
  column(s, 0, lane, sizeof lane);
  column(s, 1, fn, sizeof fn);
  uint32_t first_doc = (uint32_t)sqlite3_column_int64(s, 2);
  sqlite3_finalize(s);
  if (line->op != STORE_OP_SOLD || (!strcmp(fn, r->fn) && first_doc == r->document)) return 0;
  snprintf(first, sizeof first, "#%u", first_doc);
  int rc = step_done(l, "INSERT OR IGNORE INTO conflict VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (const char *const[]){line->ki, lane, fn, first, r->lane, r->fn, doc, NULL});
  if (rc == 0) *conflicts += (uint32_t)sqlite3_changes(l->db);
  return rc;
}

static int local_publish(void *self, const store_record_t *r, uint32_t *conflicts)
{
  local_t *l = self;
  char doc[16], line[24], op[8];
  const char *offline = r->offline ? "#1" : "#0", *remark = r->remark ? "#1" : "#0";
  int rc = begin(l);
  if (rc != 0) return rc;
  snprintf(doc, sizeof doc, "#%u", r->document);
  if ((rc = step_done(l, "INSERT OR IGNORE INTO doc VALUES (?, ?, ?, ?, ?)",
                      (const char *const[]){r->fn, doc, r->lane, offline, remark, NULL})) != 0)
    return end(l, rc);
  if (sqlite3_changes(l->db) == 0) return end(l, 0); /* a repeated publish */
  for (size_t i = 0; i < r->count && rc == 0; i++) {
    const store_line_t *ln = &r->lines[i];
    snprintf(line, sizeof line, "#%zu", i + 1);
    snprintf(op, sizeof op, "#%d", (int)ln->op);
    rc = step_done(l,
                   "INSERT INTO record (fn, document, line, ki, gtin, op, lane, offline, remark, "
                   "seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, " NEXT_SEQ ")",
                   (const char *const[]){r->fn, doc, line, ln->ki, ln->gtin ? ln->gtin : "", op,
                                         r->lane, offline, remark, NULL});
    if (rc == 0 && ln->op == STORE_OP_RETURNED)
      rc = step_done(l, "INSERT OR REPLACE INTO code VALUES (?, 2, ?, ?, ?)",
                     (const char *const[]){ln->ki, r->lane, r->fn, doc, NULL});
    else if (rc == 0)
      rc = sell_line(l, r, ln, doc, conflicts);
    if (rc == 0)
      rc = step_done(l, "DELETE FROM claim WHERE ki = ? AND lane = ?",
                     (const char *const[]){ln->ki, r->lane, NULL});
  }
  return end(l, rc);
}

static int local_heartbeat(void *self, const char *lane, uint32_t lease_ms, const char *fn,
                           uint32_t *published)
{
  local_t *l = self;
  char now[24], until[24];
  int64_t t = now_ms();
  sqlite3_stmt *s;
  int rc = begin(l);
  if (rc != 0) return rc;
  snprintf(now, sizeof now, "#%lld", (long long)t);
  snprintf(until, sizeof until, "#%lld", (long long)(t + lease_ms));
  rc = step_done(l, "UPDATE claim SET expires = ? WHERE lane = ? AND expires >= ?",
                 (const char *const[]){until, lane, now, NULL});
  if (rc == 0 && fn) {
    if (!(s = stmt(l, "SELECT coalesce(max(document), 0) FROM doc WHERE fn = ? AND NOT remark",
                   (const char *const[]){fn, NULL})))
      return end(l, STORE_ERR_DATABASE);
    if (sqlite3_step(s) == SQLITE_ROW) *published = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  return end(l, rc);
}

static int local_feed(void *self, int64_t after, store_feed_row_t *rows, size_t max, size_t *count)
{
  local_t *l = self;
  char a[24], m[24];
  snprintf(a, sizeof a, "#%lld", (long long)after);
  snprintf(m, sizeof m, "#%zu", max);
  sqlite3_stmt *s =
      stmt(l,
           "SELECT seq, ki, gtin, op, lane, fn, document, offline, 0, 0, 0, '', 0, 0, 0 "
           "FROM record WHERE seq > ?1 UNION ALL "
           "SELECT s.seq, s.ki, s.gtin, 0, '', '', 0, 0, s.state, s.blocked, "
           "s.sold OR coalesce(c.state <> 2, 0), s.owner, s.expire, s.mrp, s.smp "
           "FROM status s LEFT JOIN code c ON c.ki = s.ki WHERE s.seq > ?1 ORDER BY 1 LIMIT ?2",
           (const char *const[]){a, m, NULL});
  if (!s) return STORE_ERR_DATABASE;
  while (*count < max && sqlite3_step(s) == SQLITE_ROW) {
    store_feed_row_t *row = &rows[(*count)++];
    memset(row, 0, sizeof *row);
    row->seq = sqlite3_column_int64(s, 0);
    column(s, 1, row->ki, sizeof row->ki);
    column(s, 2, row->gtin, sizeof row->gtin);
    row->op = (store_op_t)sqlite3_column_int(s, 3);
    column(s, 4, row->lane, sizeof row->lane);
    column(s, 5, row->fn, sizeof row->fn);
    row->document = (uint32_t)sqlite3_column_int64(s, 6);
    row->offline = sqlite3_column_int(s, 7) != 0;
    store_status_t *st = &row->status;
    snprintf(st->ki, sizeof st->ki, "%s", row->ki);
    snprintf(st->gtin, sizeof st->gtin, "%s", row->gtin);
    status_columns(s, 8, st);
  }
  sqlite3_finalize(s);
  return 0;
}

static int local_conflicts(void *self, store_conflict_t *rows, size_t max, size_t *count)
{
  local_t *l = self;
  sqlite3_stmt *s = stmt(l,
                         "SELECT ki, first_lane, first_fn, first_document, second_lane, "
                         "second_fn, second_document FROM conflict "
                         "ORDER BY ki, second_fn, second_document",
                         NULL);
  if (!s) return STORE_ERR_DATABASE;
  while (*count < max && sqlite3_step(s) == SQLITE_ROW) {
    store_conflict_t *c = &rows[(*count)++];
    memset(c, 0, sizeof *c);
    column(s, 0, c->ki, sizeof c->ki);
    who_columns(s, 1, c->first_lane, c->first_fn, &c->first_document);
    who_columns(s, 4, c->second_lane, c->second_fn, &c->second_document);
  }
  sqlite3_finalize(s);
  return 0;
}

static int local_put_statuses(void *self, const store_status_t *rows, size_t count,
                              const char *cursor)
{
  local_t *l = self;
  int rc = begin(l);
  if (rc != 0) return rc;
  for (size_t i = 0; i < count && rc == 0; i++) {
    const store_status_t *st = &rows[i];
    char state[8], expire[24], mrp[24], smp[24];
    snprintf(state, sizeof state, "#%d", st->state);
    snprintf(expire, sizeof expire, "#%lld", (long long)st->expire_ms);
    snprintf(mrp, sizeof mrp, "#%llu", (unsigned long long)st->mrp);
    snprintf(smp, sizeof smp, "#%llu", (unsigned long long)st->smp);
    rc = step_done(
        l, "INSERT OR REPLACE INTO status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, " NEXT_SEQ ")",
        (const char *const[]){st->ki, st->gtin, state, st->blocked ? "#1" : "#0",
                              st->sold ? "#1" : "#0", st->owner, expire, mrp, smp, NULL});
  }
  if (rc == 0)
    rc = step_done(l, "INSERT OR REPLACE INTO meta VALUES ('operator_cursor', ?)",
                   (const char *const[]){cursor, NULL});
  return end(l, rc);
}

static int local_sync_cursor(void *self, char *out, size_t size)
{
  local_t *l = self;
  sqlite3_stmt *s = stmt(l, "SELECT value FROM meta WHERE key = 'operator_cursor'", NULL);
  if (!s) return STORE_ERR_DATABASE;
  if (sqlite3_step(s) == SQLITE_ROW) column(s, 0, out, size);
  sqlite3_finalize(s);
  return 0;
}

static int local_lookup(void *self, const char *ki, store_lookup_t *o)
{
  local_t *l = self;
  sqlite3_stmt *s = stmt(l,
                         "SELECT s.gtin, s.state, s.blocked, s.sold, s.owner, s.expire, s.mrp, "
                         "s.smp, c.state, c.lane, c.fn, c.document, s.ki IS NOT NULL "
                         "FROM (SELECT ? AS ki) k LEFT JOIN status s ON s.ki = k.ki "
                         "LEFT JOIN code c ON c.ki = k.ki",
                         (const char *const[]){ki, NULL});
  if (!s) return STORE_ERR_DATABASE;
  if (sqlite3_step(s) == SQLITE_ROW) {
    o->has_status = sqlite3_column_int(s, 12) != 0;
    snprintf(o->status.ki, sizeof o->status.ki, "%s", ki);
    column(s, 0, o->status.gtin, sizeof o->status.gtin);
    status_columns(s, 1, &o->status);
    o->state = (store_op_t)sqlite3_column_int(s, 8);
    who_columns(s, 9, o->lane, o->fn, &o->document);
  }
  sqlite3_finalize(s);
  return 0;
}

static int local_fn_known(void *self, const char *fn, bool *known)
{
  local_t *l = self;
  sqlite3_stmt *s =
      stmt(l, "SELECT 1 FROM doc WHERE fn = ? LIMIT 1", (const char *const[]){fn, NULL});
  if (!s) return STORE_ERR_DATABASE;
  *known = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return 0;
}

static void local_destroy(void *self)
{
  local_t *l = self;
  if (!l) return;
  sqlite3_close(l->db);
  free(l);
}

int store_local_create(const char *target, const store_options_t *o, void **self, char *err,
                       size_t err_size)
{
  local_t *l;
  (void)o;
  if (!target[0]) return STORE_ERR_ARGUMENT;
  if (!(l = calloc(1, sizeof *l))) return STORE_ERR_NO_MEMORY;
  if (sqlite3_open(target, &l->db) != SQLITE_OK || sqlite3_busy_timeout(l->db, 5000) != SQLITE_OK ||
      db_exec(l->db, schema, l->error, sizeof l->error) != SQLITE_OK ||
      (sqlite3_exec(l->db, "SELECT remark FROM doc LIMIT 0", NULL, NULL, NULL) != SQLITE_OK &&
       db_exec(l->db, add_remark, l->error, sizeof l->error) != SQLITE_OK)) {
    if (err)
      snprintf(err, err_size, "store local %s: %s", target,
               l->error[0] ? l->error : sqlite3_errmsg(l->db));
    local_destroy(l);
    return STORE_ERR_DATABASE;
  }
  *self = l;
  return 0;
}

const store_backend_t store_local_backend = {
    .name = "local",
    .claim = local_claim,
    .release = local_release,
    .publish = local_publish,
    .heartbeat = local_heartbeat,
    .feed = local_feed,
    .conflicts = local_conflicts,
    .put_statuses = local_put_statuses,
    .sync_cursor = local_sync_cursor,
    .lookup = local_lookup,
    .fn_known = local_fn_known,
    .last_error = local_last_error,
    .destroy = local_destroy,
};
