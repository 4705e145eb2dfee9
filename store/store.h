/*
** store/store.h: what the lanes of one store share: which lane holds a
** marking code in its open basket (a claim), what every lane sold,
** returned and remarked (records), the codes sold twice while lanes could
** not see each other (conflicts), and a cursor feed of all of it.
**
** A till alone knows only what its own FN sold. A hypermarket's 30-60
** lanes share one stock: a code sold at lane 3 must be refused at lane 7
** a second later, and a code in lane 3's open basket must not be sold at
** lane 7 meanwhile. The store's state lives in a database made for
** concurrent writers, reached through one of three backends behind one
** vtable (store_backend_t, as fiscal/fn.h does for the FN):
**
**   local:PATH       SQLite in one file: a store of one host, the tests'
**                    oracle of the rules without a server;
**   pg:CONNINFO      PostgreSQL through libpq: the store node's backend
**                    (prepared statements, one transaction per operation,
**                    a lost connection reopened once per call);
**   http://HOST:PORT the store node (`kassa store serve`, store/node.h)
**                    over HTTP: what a lane uses, with a timeout after
**                    which the lane decides alone.
**
** The rules, the same in every backend:
**   - claim(lane, ki, lease): granted when no other lane holds a live
**     lease on the code and the store has it as not sold (never sold, or
**     returned since); the holder renews it by claiming again or by a
**     heartbeat; a dead lane's claims expire with their lease. A code sold
**     is answered "sold" with the lane, FN and document that sold it.
**   - publish(record): one fiscal document of a lane (FN number, document
**     number) with its marked lines, each sold, returned or remarked.
**     Idempotent: a document already recorded changes nothing. A sale of a
**     code the store has as sold by another document becomes a conflict
**     row (receipts are facts: nothing is undone); the lane's claim on a
**     code it published goes.
**   - published(fn): the last document of an FN the store holds, the
**     pointer a lane publishes after.
**   - a remark (`kassa remark`: a damaged code replaced by a fresh one) is
**     no FN document: the lane numbers its remarks in a series of its own
**     (remark = true, document = the remark's number), keyed apart from the
**     FN's documents and idempotent the same way; its line is the old
**     code, remarked (out of circulation, like a sale, but never a
**     conflict).
**   - feed(after): records in the order the store took them, each with
**     its sequence number (the cursor).
**
** Errors: 0 or a negative store_err_t with a stable name and a Russian and
** English message; STORE_ERR_UNREACHABLE is the one a lane answers by
** deciding alone. A store_t is used by one thread at a time.
*/
#ifndef KASSA_STORE_STORE_H
#define KASSA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum store_err {
  STORE_OK = 0,
  STORE_ERR_ARGUMENT = -1,    /* NULL, a malformed code, lane or spec */
  STORE_ERR_NO_MEMORY = -2,   /* allocation failed */
  STORE_ERR_UNREACHABLE = -3, /* no answer within the timeout (node or database down) */
  STORE_ERR_PROTOCOL = -4,    /* the answer is not what the store sends */
  STORE_ERR_AUTH = -5,        /* the store node refused the token */
  STORE_ERR_DATABASE = -6,    /* the database refused an operation */
} store_err_t;

const char *store_err_name(int err);
const char *store_err_message(int err, bool russian);

#define STORE_KI_MAX   96 /* an identification part: 01 + GTIN + 21 + serial, with room */
#define STORE_LANE_MAX 32 /* a lane's name: [0-9A-Za-z._-] */
#define STORE_FN_MAX   16

typedef enum store_verdict {
  STORE_GRANTED = 1, /* the code is this lane's until the lease ends */
  STORE_HELD = 2,    /* another lane holds it (holder) */
  STORE_SOLD = 3,    /* sold (holder = the lane, fn/document = the receipt) */
} store_verdict_t;

typedef struct store_claim {
  store_verdict_t verdict;
  char holder[STORE_LANE_MAX + 1];
  char fn[STORE_FN_MAX + 1];
  uint32_t document;
} store_claim_t;

typedef enum store_op {
  STORE_OP_SOLD = 1,
  STORE_OP_RETURNED = 2,
  STORE_OP_REMARKED = 3,
} store_op_t;

/* "sold", "returned", "remarked"; NULL for anything else. */
const char *store_op_name(store_op_t op);
/* The op named, or 0. */
store_op_t store_op_of(const char *name);

typedef struct store_line {
  const char *ki;
  const char *gtin; /* "" or NULL: none */
  store_op_t op;
} store_line_t;

/* One fiscal document of a lane and its marked lines (borrowed). */
typedef struct store_record {
  const char *lane;
  const char *fn;
  uint32_t document;
  bool offline; /* decided without the store (a partition) */
  const store_line_t *lines;
  size_t count;
  bool remark; /* document is the lane's remark number, not an FN document */
} store_record_t;

/* A code's status as the operator's feed gave it (`kassa store sync`);
** state in ofd/registry.h's numbers: 1 emitted, 2 applied, 3 introduced,
** 4 retired. */
typedef struct store_status {
  char ki[STORE_KI_MAX + 1];
  char gtin[15];
  char owner[13];
  int state;
  bool blocked, sold;
  int64_t expire_ms;
  uint64_t mrp, smp;
} store_status_t;

/* A line of the feed: a lane's record (op set) or an operator status (op
** 0, status set; its `sold` also true when a lane of the store sold it). */
typedef struct store_feed_row {
  int64_t seq;
  char ki[STORE_KI_MAX + 1];
  char gtin[15];
  store_op_t op;
  char lane[STORE_LANE_MAX + 1];
  char fn[STORE_FN_MAX + 1];
  uint32_t document;
  bool offline;
  store_status_t status;
} store_feed_row_t;

typedef struct store_conflict {
  char ki[STORE_KI_MAX + 1];
  char first_lane[STORE_LANE_MAX + 1], first_fn[STORE_FN_MAX + 1];
  uint32_t first_document;
  char second_lane[STORE_LANE_MAX + 1], second_fn[STORE_FN_MAX + 1];
  uint32_t second_document;
} store_conflict_t;

typedef struct store_t store_t;

typedef struct store_options {
  uint32_t timeout_ms; /* http: the whole request (150 when 0); pg: connect timeout */
  const char *token;   /* http: the node's bearer token ("" or NULL: none) */
  bool no_migrate;     /* local, pg: the schema is known to be current (the node's pool) */
} store_options_t;

/*
** Opens a store from its spec: "local:PATH", "pg:CONNINFO" or
** "http://HOST:PORT". local and pg create or migrate their schema.
** 0 with *out, or a store_err_t with *out NULL and the reason in err.
*/
int store_open(const char *spec, const store_options_t *o, store_t **out, char *err,
               size_t err_size);
void store_close(store_t *s); /* NULL is fine */

/* The backend's name: "local", "pg", "http". */
const char *store_backend_name(const store_t *s);
/* The last failure's detail for a log ("" none). */
const char *store_last_error(const store_t *s);

/* True when lane is 1..STORE_LANE_MAX of [0-9A-Za-z._-], ki
** 1..STORE_KI_MAX printable ASCII without space. */
bool store_lane_ok(const char *lane);
bool store_ki_ok(const char *ki);

/* The operations (see the rules above). */
int store_claim(store_t *s, const char *lane, const char *ki, uint32_t lease_ms,
                store_claim_t *out);
int store_release(store_t *s, const char *lane, const char *ki);
/* *conflicts (may be NULL): conflict rows this record made (0 when repeated). */
int store_publish(store_t *s, const store_record_t *r, uint32_t *conflicts);
/* Renews every live claim of lane for lease_ms; *published (may be NULL):
** the last document of fn the store holds (0: none). */
int store_heartbeat(store_t *s, const char *lane, uint32_t lease_ms, const char *fn,
                    uint32_t *published);
/* Up to max records after seq `after`, in order; *count rows written. */
int store_feed(store_t *s, int64_t after, store_feed_row_t *rows, size_t max, size_t *count);
/* Up to max conflict rows in (ki, second fn, second document) order. */
int store_conflicts(store_t *s, store_conflict_t *rows, size_t max, size_t *count);

/* `kassa store sync`: a page of the operator's feed and its cursor, in one
** transaction (a killed sync resumes after the last page stored); the
** rows enter the store's feed after everything before them. local and pg
** only (http: STORE_ERR_ARGUMENT). */
int store_put_statuses(store_t *s, const store_status_t *rows, size_t count, const char *cursor);
/* The operator feed's cursor stored with the last page ("" from the start). */
int store_sync_cursor(store_t *s, char *out, size_t size);

/* What the store knows of one code, for the local-module answers. */
typedef struct store_lookup {
  bool has_status; /* the operator's status was synced (status set) */
  store_status_t status;
  store_op_t state; /* the lanes' last word: 0 none, SOLD, RETURNED, REMARKED */
  char lane[STORE_LANE_MAX + 1];
  char fn[STORE_FN_MAX + 1];
  uint32_t document;
} store_lookup_t;

/* local and pg only. */
int store_lookup(store_t *s, const char *ki, store_lookup_t *out);
/* True (*known) when fn has published a document to this store. */
int store_fn_known(store_t *s, const char *fn, bool *known);

#endif /* KASSA_STORE_STORE_H */
