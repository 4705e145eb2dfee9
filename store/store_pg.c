/*
** store/store_pg.c: the store on PostgreSQL through libpq, the store
** node's backend (store.h has the rules).
**
** Why PostgreSQL: the store's state is written by 30-60 lanes at once; a
** database made for concurrent writers holds it, not a home-made one.
** Every operation is one transaction of prepared statements (prepared
** once per connection); a connection found broken is reset and the
** operation tried once more, so a restarted server costs one slow call.
**
** How no code is granted twice. A claim first takes the code's claim row
** (INSERT ... ON CONFLICT DO UPDATE ... WHERE the row is ours or expired:
** PostgreSQL locks the row, so of two lanes racing one gets it and the
** other gets no row back), then reads the code's state in a new statement
** snapshot: a sale published while this claim waited for the row is seen,
** and the claim row is deleted again. A publish upserts the code's state only
** when it is not already sold or remarked (the same lock), so of two sales
** of one code the second finds the first and writes a conflict row.
** Publishes take a transaction-level advisory lock, so record sequence
** numbers become visible in their order and a feed reader never skips one
** still being committed.
**
** Durability. A claim is a lease: its commit does not wait for the WAL to
** reach the disk (synchronous_commit off for the session), which halves a
** claim's time on a server that flushes (docs/BENCHMARKS.md). PostgreSQL
** stays consistent; a crash of the server itself may forget the claims of
** its last few hundred milliseconds, which is a lease that ended early: at
** worst a code two lanes then sell is a conflict row, as in a partition.
** Publishes and the operator's statuses are facts: their transaction
** turns synchronous_commit back on (with the publish lock, one round
** trip), so an answered publish is on disk.
**
** Schema: store_schema(version); version 1 creates claim, code, doc,
** record, conflict; version 2 the claim as one function (kassa_claim), so
** the hot path is one round trip instead of four (BEGIN, take, read,
** COMMIT): PL/pgSQL runs each statement of a volatile function in a new
** snapshot, so the read after the row lock still sees a sale committed
** while it waited; version 4 keys the lanes' remarks apart from their FN
** documents (doc.remark, record.remark); version 5 the publish as one
** function (kassa_publish, its lines as JSON), so the publish lock, which
** every lane's publish queues for, is held for the work inside the server
** and not for a dozen round trips of a loaded node (with 30 lanes those
** queued publishes ran past the lanes' 150 ms). store_pg_create migrates under an advisory lock, so
** two nodes starting together do not race.
*/
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"
#include "store/store_internal.h"

#define SCHEMA_VERSION 5
#define LOCK_MIGRATE   2101
#define LOCK_PUBLISH   2102

typedef struct pg {
  PGconn *conn;
  char conninfo[1024];
  char error[512];
} pg_t;

static const char *const migrations[SCHEMA_VERSION + 1] = {
    [1] = "CREATE TABLE claim (ki text PRIMARY KEY, lane text NOT NULL,"
          "  expires timestamptz NOT NULL);"
          "CREATE INDEX claim_lane ON claim (lane);"
          /* state: 1 sold, 2 returned, 3 remarked (out of circulation) */
          "CREATE TABLE code (ki text PRIMARY KEY, state smallint NOT NULL, lane text NOT NULL,"
          "  fn text NOT NULL, document integer NOT NULL);"
          "CREATE TABLE doc (fn text NOT NULL, document integer NOT NULL, lane text NOT NULL,"
          "  offline boolean NOT NULL, PRIMARY KEY (fn, document));"
          "CREATE TABLE record (seq bigserial PRIMARY KEY, fn text NOT NULL,"
          "  document integer NOT NULL, line integer NOT NULL, ki text NOT NULL,"
          "  gtin text NOT NULL, op smallint NOT NULL, lane text NOT NULL,"
          "  offline boolean NOT NULL, UNIQUE (fn, document, line));"
          "CREATE TABLE conflict (ki text NOT NULL, first_lane text NOT NULL,"
          "  first_fn text NOT NULL, first_document integer NOT NULL,"
          "  second_lane text NOT NULL, second_fn text NOT NULL,"
          "  second_document integer NOT NULL, PRIMARY KEY (ki, second_fn, second_document));",
    /* verdict: 1 granted, 2 held (holder), 3 sold (holder, fn, document). */
    [2] = "CREATE FUNCTION kassa_claim(p_ki text, p_lane text, p_lease integer,"
          "  OUT verdict smallint, OUT holder text, OUT fn text, OUT document integer)"
          " LANGUAGE plpgsql VOLATILE AS $$ BEGIN"
          "  INSERT INTO claim (ki, lane, expires)"
          "    VALUES (p_ki, p_lane, now() + p_lease * interval '1 ms')"
          "    ON CONFLICT (ki) DO UPDATE SET lane = excluded.lane, expires = excluded.expires"
          "    WHERE claim.lane = excluded.lane OR claim.expires < now()"
          "    RETURNING claim.lane INTO holder;"
          "  IF NOT FOUND THEN"
          "    SELECT c.lane INTO holder FROM claim c WHERE c.ki = p_ki;"
          "    verdict := 2; RETURN;"
          "  END IF;"
          "  SELECT c.lane, c.fn, c.document INTO holder, fn, document FROM code c"
          "    WHERE c.ki = p_ki AND c.state <> 2;"
          "  IF FOUND THEN"
          "    DELETE FROM claim c WHERE c.ki = p_ki AND c.lane = p_lane;"
          "    verdict := 3; RETURN;"
          "  END IF;"
          "  holder := ''; verdict := 1;"
          " END $$;",
    /* The operator's statuses (`kassa store sync`), numbered in the records'
    ** sequence so one cursor walks both; meta keeps the operator's cursor. */
    [3] = "CREATE TABLE status (ki text PRIMARY KEY, gtin text NOT NULL, state smallint NOT NULL,"
          "  blocked boolean NOT NULL, sold boolean NOT NULL, owner text NOT NULL,"
          "  expire bigint NOT NULL, mrp bigint NOT NULL, smp bigint NOT NULL,"
          "  seq bigint NOT NULL);"
          "CREATE INDEX status_seq ON status (seq);"
          "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);",
    /* A lane's remarks, numbered in a series of their own (store.h). */
    [4] = "ALTER TABLE doc ADD COLUMN remark boolean NOT NULL DEFAULT false;"
          "ALTER TABLE doc DROP CONSTRAINT doc_pkey, ADD PRIMARY KEY (fn, remark, document);"
          "ALTER TABLE record ADD COLUMN remark boolean NOT NULL DEFAULT false;"
          "ALTER TABLE record DROP CONSTRAINT record_fn_document_line_key,"
          "  ADD UNIQUE (fn, remark, document, line);",
    /* The publish (store.h's rules, as op_publish had them statement by
    ** statement); returns the conflict rows it made. */
    [5] = "CREATE FUNCTION kassa_publish(p_fn text, p_doc integer, p_lane text,"
          "  p_offline boolean, p_remark boolean, p_lines jsonb) RETURNS integer"
          " LANGUAGE plpgsql VOLATILE AS $$ DECLARE"
          "  l record; made integer := 0; n integer; o_lane text; o_fn text; o_doc integer;"
          " BEGIN"
          "  PERFORM pg_advisory_xact_lock(2102);"
          "  PERFORM set_config('synchronous_commit', 'on', true);"
          "  INSERT INTO doc (fn, document, lane, offline, remark)"
          "    VALUES (p_fn, p_doc, p_lane, p_offline, p_remark) ON CONFLICT DO NOTHING;"
          "  IF NOT FOUND THEN RETURN 0; END IF;"
          "  FOR l IN SELECT x.ki, x.gtin, x.op::smallint AS op, t.n AS line"
          "    FROM jsonb_array_elements(p_lines) WITH ORDINALITY AS t(e, n),"
          "    jsonb_to_record(t.e) AS x(ki text, gtin text, op integer) ORDER BY t.n LOOP"
          "    INSERT INTO record (fn, document, line, ki, gtin, op, lane, offline, remark)"
          "      VALUES (p_fn, p_doc, l.line, l.ki, l.gtin, l.op, p_lane, p_offline, p_remark);"
          "    IF l.op = 2 THEN"
          "      INSERT INTO code (ki, state, lane, fn, document)"
          "        VALUES (l.ki, 2, p_lane, p_fn, p_doc) ON CONFLICT (ki) DO UPDATE"
          "        SET state = 2, lane = excluded.lane, fn = excluded.fn,"
          "        document = excluded.document;"
          "    ELSE"
          "      INSERT INTO code (ki, state, lane, fn, document)"
          "        VALUES (l.ki, l.op, p_lane, p_fn, p_doc) ON CONFLICT (ki) DO UPDATE"
          "        SET state = excluded.state, lane = excluded.lane, fn = excluded.fn,"
          "        document = excluded.document WHERE code.state = 2;"
          "      IF NOT FOUND AND l.op = 1 THEN"
          "        SELECT c.lane, c.fn, c.document INTO o_lane, o_fn, o_doc FROM code c"
          "          WHERE c.ki = l.ki AND c.state <> 2;"
          "        IF FOUND AND (o_fn <> p_fn OR o_doc <> p_doc) THEN"
          "          INSERT INTO conflict VALUES (l.ki, o_lane, o_fn, o_doc, p_lane, p_fn, p_doc)"
          "            ON CONFLICT DO NOTHING;"
          "          GET DIAGNOSTICS n = ROW_COUNT; made := made + n;"
          "        END IF;"
          "      END IF;"
          "    END IF;"
          "    DELETE FROM claim c WHERE c.ki = l.ki AND c.lane = p_lane;"
          "  END LOOP;"
          "  RETURN made;"
          " END $$;",
};

/* name, parameter count, SQL: prepared on every (re)connection. */
static const struct {
  const char *name;
  int params;
  const char *sql;
} statements[] = {
    {"claim", 3, "SELECT verdict, holder, fn, document FROM kassa_claim($1, $2, $3)"},
    {"claim_drop", 2, "DELETE FROM claim WHERE ki = $1 AND lane = $2"},
    {"claim_renew", 2,
     "UPDATE claim SET expires = now() + $2 * interval '1 ms' WHERE lane = $1 AND expires >= "
     "now()"},
    {"doc_last", 1, "SELECT coalesce(max(document), 0) FROM doc WHERE fn = $1 AND NOT remark"},
    {"publish", 6, "SELECT kassa_publish($1, $2, $3, $4, $5, $6)"},
    {"feed", 2,
     "SELECT seq, ki, gtin, op, lane, fn, document, offline, 0, false, false, '', 0, 0, 0 "
     "FROM record WHERE seq > $1 UNION ALL "
     "SELECT s.seq, s.ki, s.gtin, 0, '', '', 0, false, s.state, s.blocked, "
     "s.sold OR coalesce(c.state <> 2, false), s.owner, s.expire, s.mrp, s.smp "
     "FROM status s LEFT JOIN code c ON c.ki = s.ki WHERE s.seq > $1 ORDER BY 1 LIMIT $2"},
    {"status_put", 9,
     "INSERT INTO status VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nextval('record_seq_seq')) "
     "ON CONFLICT (ki) DO UPDATE SET gtin = excluded.gtin, state = excluded.state, "
     "blocked = excluded.blocked, sold = excluded.sold, owner = excluded.owner, "
     "expire = excluded.expire, mrp = excluded.mrp, smp = excluded.smp, seq = excluded.seq"},
    {"meta_put", 2,
     "INSERT INTO meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
    {"meta_get", 1, "SELECT value FROM meta WHERE key = $1"},
    {"lookup", 1,
     "SELECT s.gtin, s.state, s.blocked, s.sold, s.owner, s.expire, s.mrp, s.smp, "
     "c.state, c.lane, c.fn, c.document, s.ki IS NOT NULL FROM (SELECT $1::text AS ki) k "
     "LEFT JOIN status s ON s.ki = k.ki LEFT JOIN code c ON c.ki = k.ki"},
    {"fn_known", 1, "SELECT 1 FROM doc WHERE fn = $1 LIMIT 1"},
    {"conflicts", 1,
     "SELECT ki, first_lane, first_fn, first_document, second_lane, second_fn, "
     "second_document FROM conflict ORDER BY ki, second_fn, second_document LIMIT $1"},
    /* ... and this transaction's commit waits for the WAL on disk (the
    ** operator's statuses; kassa_publish takes the same). */
    {"publish_lock", 0,
     "SELECT pg_advisory_xact_lock(2102), set_config('synchronous_commit', 'on', true)"},
};

static const char *pg_last_error(void *self) { return ((pg_t *)self)->error; }

static void note(pg_t *p, const char *what)
{
  const char *m = p->conn ? PQerrorMessage(p->conn) : "";
  /* The server's words may be Russian (lc_messages): cut, if need be, at a
  ** character, or the node's JSON answer could not carry them. */
  errtab_format(NULL, 0, p->error, sizeof p->error, "", "%s: %s", what,
                m && m[0] ? m : "no connection");
  size_t n = strlen(p->error);
  while (n > 0 && (p->error[n - 1] == '\n' || p->error[n - 1] == ' ')) p->error[--n] = '\0';
}

/* The failure's class: the connection is gone (the lane decides alone)
** or the database refused (a bug or a full disk: reported as such). */
static int failure(pg_t *p, const char *what)
{
  note(p, what);
  return PQstatus(p->conn) == CONNECTION_OK ? STORE_ERR_DATABASE : STORE_ERR_UNREACHABLE;
}

static int simple(pg_t *p, const char *sql)
{
  PGresult *r = PQexec(p->conn, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  PQclear(r);
  return ok ? 0 : failure(p, sql);
}

static int migrate(pg_t *p)
{
  int version = 0, rc;
  PGresult *r;
  char sql[96];
  if ((rc = simple(p, "BEGIN")) != 0) return rc;
  snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d)", LOCK_MIGRATE);
  if ((rc = simple(p, sql)) != 0 ||
      (rc = simple(p, "CREATE TABLE IF NOT EXISTS store_schema (version integer NOT NULL)")) != 0)
    goto fail;
  r = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM store_schema");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    PQclear(r);
    rc = failure(p, "schema version");
    goto fail;
  }
  version = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (version > SCHEMA_VERSION) {
    snprintf(p->error, sizeof p->error,
             "the store's schema is version %d, newer than this kassa's %d", version,
             SCHEMA_VERSION);
    rc = STORE_ERR_DATABASE;
    goto fail;
  }
  for (int v = version + 1; v <= SCHEMA_VERSION; v++) {
    snprintf(sql, sizeof sql, "DELETE FROM store_schema; INSERT INTO store_schema VALUES (%d)", v);
    if ((rc = simple(p, migrations[v])) != 0 || (rc = simple(p, sql)) != 0) goto fail;
  }
  return simple(p, "COMMIT");
fail:
  PQexec(p->conn, "ROLLBACK");
  return rc;
}

static int prepare_all(pg_t *p)
{
  for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) {
    PGresult *r =
        PQprepare(p->conn, statements[i].name, statements[i].sql, statements[i].params, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) return failure(p, statements[i].name);
  }
  return 0;
}

/* The server's notices ("relation exists, skipping") are not for a log. */
static void quiet(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

static int connect_now(pg_t *p)
{
  if (p->conn) PQfinish(p->conn);
  p->conn = PQconnectdb(p->conninfo);
  if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
    note(p, "connect");
    return STORE_ERR_UNREACHABLE;
  }
  PQsetNoticeProcessor(p->conn, quiet, NULL);
  return simple(p, "SET synchronous_commit = off");
}

/* A live connection with the statements prepared: the one there, else a
** new one (a restarted server, a dropped link). */
static int ensure(pg_t *p)
{
  int rc;
  if (p->conn && PQstatus(p->conn) == CONNECTION_OK) return 0;
  if ((rc = connect_now(p)) != 0) return rc;
  return prepare_all(p);
}

/* Runs a prepared statement; the result (to PQclear) or NULL after
** recording why. */
static PGresult *run(pg_t *p, const char *name, int n, const char *const *params)
{
  PGresult *r = PQexecPrepared(p->conn, name, n, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  PQclear(r);
  note(p, name);
  return NULL;
}

static void rollback(pg_t *p)
{
  if (PQstatus(p->conn) == CONNECTION_OK) PQclear(PQexec(p->conn, "ROLLBACK"));
}

/* ---- the operations, each one transaction -------------------------------- */

typedef int (*op_fn)(pg_t *p, void *args);

/* Runs op inside BEGIN/COMMIT on a live connection; when the connection
** broke on the way, once more on a fresh one. */
static int transaction(pg_t *p, op_fn op, void *args)
{
  int rc = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    if ((rc = ensure(p)) != 0) continue;
    if ((rc = simple(p, "BEGIN")) == 0) {
      rc = op(p, args);
      if (rc == 0)
        rc = simple(p, "COMMIT");
      else
        rollback(p);
    }
    if (rc != STORE_ERR_UNREACHABLE) return rc;
  }
  return rc;
}

static void copy(char *dst, size_t size, const char *src) { snprintf(dst, size, "%s", src); }

/* state, blocked, sold, owner, expire, mrp, smp of row i from column col on. */
static void status_columns(const PGresult *r, int i, int col, store_status_t *st)
{
  st->state = atoi(PQgetvalue(r, i, col));
  st->blocked = PQgetvalue(r, i, col + 1)[0] == 't';
  st->sold = PQgetvalue(r, i, col + 2)[0] == 't';
  copy(st->owner, sizeof st->owner, PQgetvalue(r, i, col + 3));
  st->expire_ms = strtoll(PQgetvalue(r, i, col + 4), NULL, 10);
  st->mrp = strtoull(PQgetvalue(r, i, col + 5), NULL, 10);
  st->smp = strtoull(PQgetvalue(r, i, col + 6), NULL, 10);
}

/* One prepared statement as its own transaction (a function of the
** schema), once more on a fresh connection when the one there broke: its
** one-row result (to PQclear), or NULL with *rc. */
static PGresult *call(pg_t *p, const char *name, int n, const char *const *params, int *rc)
{
  for (int attempt = 0; attempt < 2; attempt++) {
    if ((*rc = ensure(p)) != 0) continue;
    PGresult *r = run(p, name, n, params);
    if (!r) {
      if ((*rc = failure(p, name)) != STORE_ERR_UNREACHABLE) return NULL;
      continue;
    }
    if (PQntuples(r) == 1) return r;
    PQclear(r);
    *rc = STORE_ERR_DATABASE;
    return NULL;
  }
  return NULL;
}

/* kassa_claim (migration 2). */
static int pg_claim(void *self, const char *lane, const char *ki, uint32_t lease_ms,
                    store_claim_t *out)
{
  char lease[16];
  int rc = 0;
  snprintf(lease, sizeof lease, "%u", lease_ms);
  const char *params[3] = {ki, lane, lease};
  PGresult *r = call(self, "claim", 3, params, &rc);
  if (!r) return rc;
  out->verdict = (store_verdict_t)atoi(PQgetvalue(r, 0, 0));
  copy(out->holder, sizeof out->holder, PQgetvalue(r, 0, 1));
  copy(out->fn, sizeof out->fn, PQgetvalue(r, 0, 2));
  out->document = (uint32_t)strtoul(PQgetvalue(r, 0, 3), NULL, 10);
  PQclear(r);
  return out->verdict >= STORE_GRANTED && out->verdict <= STORE_SOLD ? 0 : STORE_ERR_DATABASE;
}

struct release_args {
  const char *lane, *ki;
};

static int op_release(pg_t *p, void *a)
{
  struct release_args *r = a;
  const char *params[2] = {r->ki, r->lane};
  PGresult *res = run(p, "claim_drop", 2, params);
  if (!res) return failure(p, "release");
  PQclear(res);
  return 0;
}

static int pg_release(void *self, const char *lane, const char *ki)
{
  struct release_args a = {lane, ki};
  return transaction(self, op_release, &a);
}

/* One call of kassa_publish (migration 5), its own transaction; the
** lines go as a JSON array of {ki, gtin, op}. */
static int pg_publish(void *self, const store_record_t *rec, uint32_t *conflicts)
{
  pg_t *p = self;
  char doc[16];
  json_t *lines = json_array();
  char *text = NULL;
  int rc = STORE_ERR_NO_MEMORY;
  for (size_t i = 0; lines && i < rec->count; i++) {
    const store_line_t *l = &rec->lines[i];
    if (json_array_append_new(lines, json_pack("{s:s,s:s,s:i}", "ki", l->ki, "gtin",
                                               l->gtin ? l->gtin : "", "op", (int)l->op)) != 0)
      goto done;
  }
  if (!lines || !(text = json_dumps(lines, JSON_COMPACT))) goto done;
  snprintf(doc, sizeof doc, "%u", rec->document);
  const char *params[6] = {
      rec->fn, doc, rec->lane, rec->offline ? "t" : "f", rec->remark ? "t" : "f", text};
  PGresult *r = call(p, "publish", 6, params, &rc);
  if (r) {
    *conflicts = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
    rc = 0;
    PQclear(r);
  }
done:
  free(text);
  json_decref(lines);
  return rc;
}

struct heartbeat_args {
  const char *lane, *fn;
  uint32_t lease_ms, *published;
};

static int op_heartbeat(pg_t *p, void *a)
{
  struct heartbeat_args *h = a;
  char lease[16];
  PGresult *r;
  snprintf(lease, sizeof lease, "%u", h->lease_ms);
  const char *renew[2] = {h->lane, lease};
  if (!(r = run(p, "claim_renew", 2, renew))) return failure(p, "heartbeat");
  PQclear(r);
  if (!h->fn) return 0;
  if (!(r = run(p, "doc_last", 1, &h->fn))) return failure(p, "pointer");
  *h->published = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return 0;
}

static int pg_heartbeat(void *self, const char *lane, uint32_t lease_ms, const char *fn,
                        uint32_t *published)
{
  struct heartbeat_args a = {lane, fn, lease_ms, published};
  return transaction(self, op_heartbeat, &a);
}

struct feed_args {
  int64_t after;
  store_feed_row_t *rows;
  size_t max, *count;
};

static int op_feed(pg_t *p, void *a)
{
  struct feed_args *f = a;
  char after[24], limit[24];
  snprintf(after, sizeof after, "%lld", (long long)f->after);
  snprintf(limit, sizeof limit, "%zu", f->max);
  const char *params[2] = {after, limit};
  PGresult *r = run(p, "feed", 2, params);
  if (!r) return failure(p, "feed");
  int n = PQntuples(r);
  for (int i = 0; i < n; i++) {
    store_feed_row_t *row = &f->rows[i];
    memset(row, 0, sizeof *row);
    row->seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    copy(row->ki, sizeof row->ki, PQgetvalue(r, i, 1));
    copy(row->gtin, sizeof row->gtin, PQgetvalue(r, i, 2));
    row->op = (store_op_t)atoi(PQgetvalue(r, i, 3));
    copy(row->lane, sizeof row->lane, PQgetvalue(r, i, 4));
    copy(row->fn, sizeof row->fn, PQgetvalue(r, i, 5));
    row->document = (uint32_t)strtoul(PQgetvalue(r, i, 6), NULL, 10);
    row->offline = PQgetvalue(r, i, 7)[0] == 't';
    store_status_t *st = &row->status;
    copy(st->ki, sizeof st->ki, row->ki);
    copy(st->gtin, sizeof st->gtin, row->gtin);
    status_columns(r, i, 8, st);
  }
  *f->count = (size_t)n;
  PQclear(r);
  return 0;
}

static int pg_feed(void *self, int64_t after, store_feed_row_t *rows, size_t max, size_t *count)
{
  struct feed_args a = {after, rows, max, count};
  return transaction(self, op_feed, &a);
}

struct conflicts_args {
  store_conflict_t *rows;
  size_t max, *count;
};

static int op_conflicts(pg_t *p, void *a)
{
  struct conflicts_args *c = a;
  char limit[24];
  snprintf(limit, sizeof limit, "%zu", c->max);
  const char *params[1] = {limit};
  PGresult *r = run(p, "conflicts", 1, params);
  if (!r) return failure(p, "conflicts");
  int n = PQntuples(r);
  for (int i = 0; i < n; i++) {
    store_conflict_t *row = &c->rows[i];
    memset(row, 0, sizeof *row);
    copy(row->ki, sizeof row->ki, PQgetvalue(r, i, 0));
    copy(row->first_lane, sizeof row->first_lane, PQgetvalue(r, i, 1));
    copy(row->first_fn, sizeof row->first_fn, PQgetvalue(r, i, 2));
    row->first_document = (uint32_t)strtoul(PQgetvalue(r, i, 3), NULL, 10);
    copy(row->second_lane, sizeof row->second_lane, PQgetvalue(r, i, 4));
    copy(row->second_fn, sizeof row->second_fn, PQgetvalue(r, i, 5));
    row->second_document = (uint32_t)strtoul(PQgetvalue(r, i, 6), NULL, 10);
  }
  *c->count = (size_t)n;
  PQclear(r);
  return 0;
}

static int pg_conflicts(void *self, store_conflict_t *rows, size_t max, size_t *count)
{
  struct conflicts_args a = {rows, max, count};
  return transaction(self, op_conflicts, &a);
}

struct statuses_args {
  const store_status_t *rows;
  size_t count;
  const char *cursor;
};

static int op_statuses(pg_t *p, void *a)
{
  struct statuses_args *s = a;
  PGresult *r;
  if (!(r = run(p, "publish_lock", 0, NULL))) return failure(p, "status lock");
  PQclear(r);
  for (size_t i = 0; i < s->count; i++) {
    const store_status_t *st = &s->rows[i];
    char state[8], expire[24], mrp[24], smp[24];
    snprintf(state, sizeof state, "%d", st->state);
    snprintf(expire, sizeof expire, "%lld", (long long)st->expire_ms);
    snprintf(mrp, sizeof mrp, "%llu", (unsigned long long)st->mrp);
    snprintf(smp, sizeof smp, "%llu", (unsigned long long)st->smp);
    const char *params[9] = {
        st->ki, st->gtin, state, st->blocked ? "t" : "f", st->sold ? "t" : "f", st->owner,
        expire, mrp,      smp};
    if (!(r = run(p, "status_put", 9, params))) return failure(p, "status");
    PQclear(r);
  }
  const char *meta[2] = {"operator_cursor", s->cursor};
  if (!(r = run(p, "meta_put", 2, meta))) return failure(p, "cursor");
  PQclear(r);
  return 0;
}

static int pg_put_statuses(void *self, const store_status_t *rows, size_t count, const char *cursor)
{
  struct statuses_args a = {rows, count, cursor};
  return transaction(self, op_statuses, &a);
}

struct cursor_args {
  char *out;
  size_t size;
};

static int op_cursor(pg_t *p, void *a)
{
  struct cursor_args *c = a;
  const char *key = "operator_cursor";
  PGresult *r = run(p, "meta_get", 1, &key);
  if (!r) return failure(p, "cursor");
  if (PQntuples(r)) copy(c->out, c->size, PQgetvalue(r, 0, 0));
  PQclear(r);
  return 0;
}

static int pg_sync_cursor(void *self, char *out, size_t size)
{
  struct cursor_args a = {out, size};
  return transaction(self, op_cursor, &a);
}

struct lookup_args {
  const char *ki;
  store_lookup_t *out;
};

static int op_lookup(pg_t *p, void *a)
{
  struct lookup_args *l = a;
  store_lookup_t *o = l->out;
  PGresult *r = run(p, "lookup", 1, &l->ki);
  if (!r) return failure(p, "lookup");
  if (PQntuples(r) == 1) {
    o->has_status = PQgetvalue(r, 0, 12)[0] == 't';
    copy(o->status.ki, sizeof o->status.ki, l->ki);
    copy(o->status.gtin, sizeof o->status.gtin, PQgetvalue(r, 0, 0));
    status_columns(r, 0, 1, &o->status);
    /* code.state: 1 sold, 2 returned, 3 remarked (store_op_t's numbers) */
    o->state = (store_op_t)atoi(PQgetvalue(r, 0, 8));
    copy(o->lane, sizeof o->lane, PQgetvalue(r, 0, 9));
    copy(o->fn, sizeof o->fn, PQgetvalue(r, 0, 10));
    o->document = (uint32_t)strtoul(PQgetvalue(r, 0, 11), NULL, 10);
  }
  PQclear(r);
  return 0;
}

static int pg_lookup(void *self, const char *ki, store_lookup_t *out)
{
  struct lookup_args a = {ki, out};
  return transaction(self, op_lookup, &a);
}

struct known_args {
  const char *fn;
  bool *known;
};

static int op_known(pg_t *p, void *a)
{
  struct known_args *k = a;
  PGresult *r = run(p, "fn_known", 1, &k->fn);
  if (!r) return failure(p, "fn");
  *k->known = PQntuples(r) > 0;
  PQclear(r);
  return 0;
}

static int pg_fn_known(void *self, const char *fn, bool *known)
{
  struct known_args a = {fn, known};
  return transaction(self, op_known, &a);
}

static void pg_destroy(void *self)
{
  pg_t *p = self;
  if (!p) return;
  if (p->conn) PQfinish(p->conn);
  free(p);
}

int store_pg_create(const char *target, const store_options_t *o, void **self, char *err,
                    size_t err_size)
{
  pg_t *p;
  int rc;
  if (strlen(target) >= sizeof p->conninfo - 32) return STORE_ERR_ARGUMENT;
  if (!(p = calloc(1, sizeof *p))) return STORE_ERR_NO_MEMORY;
  /* A connect timeout (whole seconds, at least 1) unless the conninfo has one. */
  unsigned secs = o->timeout_ms ? (o->timeout_ms + 999) / 1000 : 5;
  if (strstr(target, "connect_timeout") || strstr(target, "://"))
    snprintf(p->conninfo, sizeof p->conninfo, "%s", target);
  else
    snprintf(p->conninfo, sizeof p->conninfo, "%s connect_timeout=%u", target, secs);
  if ((rc = connect_now(p)) != 0 || (!o->no_migrate && (rc = migrate(p)) != 0) ||
      (rc = prepare_all(p)) != 0) {
    if (err) snprintf(err, err_size, "store pg: %s", p->error);
    pg_destroy(p);
    return rc;
  }
  *self = p;
  return 0;
}

const store_backend_t store_pg_backend = {
    .name = "pg",
    .claim = pg_claim,
    .release = pg_release,
    .publish = pg_publish,
    .heartbeat = pg_heartbeat,
    .feed = pg_feed,
    .conflicts = pg_conflicts,
    .put_statuses = pg_put_statuses,
    .sync_cursor = pg_sync_cursor,
    .lookup = pg_lookup,
    .fn_known = pg_fn_known,
    .last_error = pg_last_error,
    .destroy = pg_destroy,
};
