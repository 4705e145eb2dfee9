/*
** lane_store.c: the lane's side of the store node (see lane_store.h).
**
** The lane is named by its FN number (unique in a store, stable for the
** FN's life). Being offline is a deadline, not a state machine: after a
** request the node did not answer, the lane asks nothing until one second
** has passed, so a dead node costs one timeout a second at most, never one
** per scan. Codes accepted while offline are remembered (in memory: a
** restart forgets only the flag, never a sale, which the FN keeps) so the
** published record says it was decided alone.
**
** Remarks are no FN documents: each is a row of store_remark in till.db
** (AUTOINCREMENT: its number, never reused, is the record's number in the
** lane's remark series), written before it is sent and deleted once the
** node took it, so a crash or a dead node delays it, never loses it, and a
** record sent twice changes nothing at the node.
*/
#include "pos/till/lane_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/doc.h"
#include "pos/till/state_internal.h"
#include "scanner/markcode.h"
#include "store/store.h"

#define OFFLINE_RETRY_MS 1000
#define OFFLINE_KEPT     4096

struct lane_store {
  store_t *store;
  int64_t offline_until; /* till_now_ms before which the node is not asked */
  bool dirty;            /* documents may wait to be published */
  bool offline_said;     /* the log has the going offline */
  unsigned owed;         /* ... how many, at the last look */
  char offline_kis[OFFLINE_KEPT][STORE_KI_MAX + 1];
  size_t offline_count;
};

int lane_store_open(till_t *t, lane_store_t **out, char *err, size_t err_size)
{
  const kassa_config_t *c = till_config(t);
  lane_store_t *l;
  *out = NULL;
  if (!c->store_url[0]) return 0;
  if (!(l = calloc(1, sizeof *l))) return -1;
  store_options_t o = {.timeout_ms = c->store_timeout_ms ? c->store_timeout_ms : 150,
                       .token = c->store_token};
  char why[512];
  if (strncmp(c->store_url, "http://", 7) != 0 ||
      store_open(c->store_url, &o, &l->store, why, sizeof why) != 0) {
    snprintf(err, err_size,
             "[store] url «%s» не адрес сервера магазина (http://ХОСТ:ПОРТ). / [store] url '%s' "
             "is not a store node's address (http://HOST:PORT).",
             c->store_url, c->store_url);
    free(l);
    return -1;
  }
  if (sqlite3_exec(t->db,
                   "CREATE TABLE IF NOT EXISTS store_remark(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                   " ki TEXT NOT NULL, gtin TEXT NOT NULL)",
                   NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, err_size, "till.db: %s", sqlite3_errmsg(t->db));
    store_close(l->store);
    free(l);
    return -1;
  }
  l->dirty = true; /* whatever was sold before this start may be owed */
  *out = l;
  return 0;
}

void lane_store_close(lane_store_t *l)
{
  if (!l) return;
  store_close(l->store);
  free(l);
}

static lane_store_t *link_of(till_t *t) { return t ? t->lane_store : NULL; }

static bool reachable(till_t *t, lane_store_t *l) { return till_now_ms(t) >= l->offline_until; }

/* rc from the node: an unreachable node sends the lane offline (said
** once on stderr, the service's log, and once when it answers again). */
static int noted(till_t *t, lane_store_t *l, int rc)
{
  if (rc == STORE_ERR_UNREACHABLE) {
    if (!l->offline_said)
      fprintf(stderr,
              "kassa: сервер магазина не отвечает, касса решает сама / store node "
              "unreachable, the lane decides alone: %s\n",
              store_last_error(l->store));
    l->offline_said = true;
    l->offline_until = till_now_ms(t) + OFFLINE_RETRY_MS;
  } else if (rc == 0 && l->offline_said) {
    fprintf(stderr, "kassa: сервер магазина снова отвечает / store node answers again\n");
    l->offline_said = false;
  }
  return rc;
}

static bool was_offline(const lane_store_t *l, const char *ki)
{
  for (size_t i = 0; i < l->offline_count; i++)
    if (!strcmp(l->offline_kis[i], ki)) return true;
  return false;
}

/* One FN document as a record: its marked lines, sold or returned. */
static int publish_one(till_t *t, lane_store_t *l, uint32_t number, doc_receipt_t *r)
{
  static fn_document_t d; /* the till is single-threaded */
  static char kis[DOC_MAX_ITEMS][STORE_KI_MAX + 1], gtins[DOC_MAX_ITEMS][15];
  store_line_t lines[DOC_MAX_ITEMS];
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  markcode_t mc;
  size_t n = 0;
  bool offline = false;
  if (fn_document_get(t->fn, number, &d) != 0) return STORE_ERR_ARGUMENT;
  if ((d.type == DOC_RECEIPT || d.type == DOC_CORRECTION) &&
      doc_parse_receipt(d.data, d.len, &h, r, &total, sign) == 0 &&
      (r->operation == DOC_OP_SALE || r->operation == DOC_OP_SALE_RETURN)) {
    for (size_t i = 0; i < r->item_count; i++) {
      const doc_item_t *it = &r->items[i];
      if (!it->marked || markcode_parse(&mc, it->km, it->km_len) != MARKCODE_OK ||
          strlen(mc.ki) > STORE_KI_MAX)
        continue;
      memcpy(kis[n], mc.ki, strlen(mc.ki) + 1); /* fits: measured above */
      snprintf(gtins[n], sizeof gtins[n], "%.14s", mc.gtin);
      lines[n] = (store_line_t){kis[n], gtins[n],
                                r->operation == DOC_OP_SALE ? STORE_OP_SOLD : STORE_OP_RETURNED};
      offline = offline || was_offline(l, kis[n]);
      n++;
    }
  }
  store_record_t rec = {t->fn_number, t->fn_number, number, offline, lines, n, false};
  return store_publish(l->store, &rec, NULL);
}

/* Publishes the remarks kept in till.db, oldest first, each deleted once
** the node took it; 0 when none is left. */
static int publish_remarks(till_t *t, lane_store_t *l)
{
  sqlite3_stmt *s = NULL;
  int rc = 0;
  if (sqlite3_prepare_v2(t->db, "SELECT id, ki, gtin FROM store_remark ORDER BY id", -1, &s,
                         NULL) != SQLITE_OK)
    return STORE_ERR_ARGUMENT;
  while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(s, 0);
    store_line_t line = {(const char *)sqlite3_column_text(s, 1),
                         (const char *)sqlite3_column_text(s, 2), STORE_OP_REMARKED};
    store_record_t rec = {t->fn_number, t->fn_number, (uint32_t)id, false, &line, 1, true};
    rc = noted(t, l, store_publish(l->store, &rec, NULL));
    if (rc == STORE_ERR_ARGUMENT) rc = 0; /* a row the store can never take: dropped */
    if (rc == 0) {
      char sql[64];
      snprintf(sql, sizeof sql, "DELETE FROM store_remark WHERE id = %lld", (long long)id);
      sqlite3_exec(t->db, sql, NULL, NULL, NULL);
    }
  }
  sqlite3_finalize(s);
  return rc;
}

/* Publishes after the node's pointer, then the remarks; 0 when nothing is
** owed any more. */
static int publish_owed(till_t *t, lane_store_t *l)
{
  fn_status_t st;
  uint32_t published = 0;
  doc_receipt_t *r;
  int rc;
  if (fn_status(t->fn, &st) != 0) return STORE_ERR_ARGUMENT;
  rc = store_heartbeat(l->store, t->fn_number, t->config.store_lease_ms, t->fn_number, &published);
  if (rc != 0) return noted(t, l, rc);
  if (published >= st.last_document) {
    l->owed = 0;
    l->offline_count = 0;
    if ((rc = publish_remarks(t, l)) == 0) l->dirty = false;
    return rc;
  }
  l->owed = st.last_document - published;
  if (!(r = malloc(sizeof *r))) return STORE_ERR_NO_MEMORY;
  for (uint32_t n = published + 1; n <= st.last_document && rc == 0; n++) {
    rc = noted(t, l, publish_one(t, l, n, r));
    if (rc == 0) l->owed--;
  }
  free(r);
  if (rc == 0) {
    l->offline_count = 0;
    if ((rc = publish_remarks(t, l)) == 0) l->dirty = false;
  }
  return rc;
}

void lane_store_publish(till_t *t)
{
  lane_store_t *l = link_of(t);
  if (!l) return;
  l->dirty = true;
  if (reachable(t, l)) publish_owed(t, l);
}

void lane_store_remark(till_t *t, const char *ki, const char *gtin)
{
  lane_store_t *l = link_of(t);
  sqlite3_stmt *s = NULL;
  if (!l || !ki) return;
  if (sqlite3_prepare_v2(t->db, "INSERT INTO store_remark(ki, gtin) VALUES(?, ?)", -1, &s, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(s, 1, ki, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, gtin ? gtin : "", -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      fprintf(stderr, "kassa: till.db: %s\n", sqlite3_errmsg(t->db));
  }
  sqlite3_finalize(s);
  lane_store_publish(t);
}

/* Offline: the group's policy decides ([store] offline_refuse, a list). */
static lane_claim_t decide_alone(till_t *t, lane_store_t *l, const char *ki, const char *group,
                                 const char **detail)
{
  const char *list = t->config.store_offline_refuse;
  size_t g = strlen(group);
  for (const char *p = list; g && (p = strstr(p, group)); p += g)
    if ((p == list || p[-1] == ',' || p[-1] == ' ') &&
        (p[g] == '\0' || p[g] == ',' || p[g] == ' ')) {
      *detail = group;
      return LANE_CLAIM_OFFLINE_REFUSED;
    }
  if (l->offline_count < OFFLINE_KEPT)
    snprintf(l->offline_kis[l->offline_count++], STORE_KI_MAX + 1, "%s", ki);
  return LANE_CLAIM_ALONE;
}

lane_claim_t lane_store_claim(till_t *t, const char *ki, const char *group, const char **detail)
{
  static store_claim_t c; /* *detail points into it */
  lane_store_t *l = link_of(t);
  *detail = NULL;
  if (!l) return LANE_CLAIM_ALONE;
  /* Back from a partition: what was sold alone goes first. */
  if (reachable(t, l) && l->dirty) publish_owed(t, l);
  if (!reachable(t, l)) return decide_alone(t, l, ki, group, detail);
  int rc = noted(t, l, store_claim(l->store, t->fn_number, ki, t->config.store_lease_ms, &c));
  if (rc != 0) return decide_alone(t, l, ki, group, detail);
  if (c.verdict == STORE_GRANTED) return LANE_CLAIM_GRANTED;
  *detail = c.holder;
  return c.verdict == STORE_HELD ? LANE_CLAIM_HELD : LANE_CLAIM_SOLD;
}

bool lane_store_sold_anywhere(till_t *t, const char *ki)
{
  lane_store_t *l = link_of(t);
  store_claim_t c;
  if (!l || !reachable(t, l)) return false;
  if (noted(t, l, store_claim(l->store, t->fn_number, ki, 1000, &c)) != 0) return false;
  if (c.verdict == STORE_GRANTED) store_release(l->store, t->fn_number, ki);
  return c.verdict == STORE_SOLD;
}

void lane_store_release(till_t *t, const char *ki)
{
  lane_store_t *l = link_of(t);
  if (l && reachable(t, l)) noted(t, l, store_release(l->store, t->fn_number, ki));
}

const char *lane_store_state(till_t *t, unsigned *owed)
{
  lane_store_t *l = link_of(t);
  if (owed) *owed = l ? l->owed : 0;
  if (!l) return "";
  return reachable(t, l) ? "online" : "offline";
}
