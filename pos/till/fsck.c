/*
** fsck.c: see fsck.h. Read-only: the FN and the cache are opened, read and
** closed; nothing is replayed or repaired (the till does that at start).
**
** The sales check collects one event per marked line of every receipt
** (ki, document, sale or return), sorts them by code and document, and
** walks each code's history once: O(n log n) in the number of marked
** lines, whatever the order the archive gives them in.
*/
#include "pos/till/fsck.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/part.h"
#include "common/db.h"
#include "common/errtab.h"
#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "pos/till/cache.h"
#include "scanner/markcode.h"

typedef struct event {
  char ki[CACHE_KI_MAX + 1];
  uint32_t document;
  uint8_t operation;               /* 1 sale, 2 return */
  uint64_t numerator, denominator; /* the line's 1291, 0 / 0 the whole piece */
} event_t;

__attribute__((format(printf, 3, 4))) static void problem(fsck_report_t *r, const char *check,
                                                          const char *format, ...)
{
  if (r->problem_count < FSCK_MAX_PROBLEMS) {
    va_list ap;
    va_start(ap, format);
    snprintf(r->problems[r->problem_count].check, sizeof r->problems[0].check, "%s", check);
    /* Cut, if need be, at a character: `kassa fsck --json` drops a
    ** problem whose text is not valid UTF-8. */
    errtab_vformat(NULL, 0, r->problems[r->problem_count].detail, sizeof r->problems[0].detail, "",
                   format, ap);
    va_end(ap);
  }
  r->problem_count++;
}

__attribute__((format(printf, 2, 3))) static void note(fsck_report_t *r, const char *format, ...)
{
  if (r->note_count >= sizeof r->notes / sizeof r->notes[0]) return;
  va_list ap;
  va_start(ap, format);
  errtab_vformat(NULL, 0, r->notes[r->note_count++], sizeof r->notes[0], "", format, ap);
  va_end(ap);
}

static int by_code_then_document(const void *a, const void *b)
{
  const event_t *x = a, *y = b;
  int c = strcmp(x->ki, y->ki);
  if (c) return c;
  return x->document < y->document ? -1 : x->document > y->document;
}

static int add_event(event_t **events, size_t *n, size_t *cap, const event_t *e)
{
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 1024;
    event_t *grown = realloc(*events, c * sizeof *grown);
    if (!grown) return -1;
    *events = grown;
    *cap = c;
  }
  (*events)[(*n)++] = *e;
  return 0;
}

/* The archive: numbering, signs, the outbox, and the sale events. base is
** the cache's global number before this FN's document 1 (cache_fn_bind: a
** replaced FN's documents come first), so events of every FN sort in the
** order they happened; *cap is the events' capacity, shared across FNs. */
static int read_archive(fn_t *fn, const uint8_t *secret, uint32_t base, fsck_report_t *r,
                        event_t **events, size_t *n, size_t *cap_io, char *err, size_t err_size)
{
  static fn_document_t doc;
  fn_status_t st;
  doc_summary_t sum;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  size_t cap = *cap_io;
  uint32_t unacked = 0, first_unacked = 0;
  doc_receipt_t *rc_doc = malloc(sizeof *rc_doc);
  markcode_t *mc = malloc(sizeof *mc);
  int rc = -1;
  if (!rc_doc || !mc || fn_status(fn, &st) != 0) {
    snprintf(err, err_size, "cannot read the FN's state");
    goto done;
  }
  r->documents = base + st.last_document;
  r->unsent_documents += st.unsent_documents;
  for (uint32_t num = 1; num <= st.last_document; num++) {
    if (fn_document_get(fn, num, &doc) != 0) {
      problem(r, "documents", "document %u is missing from the archive", num);
      continue;
    }
    if (doc_summarize(doc.data, doc.len, &sum) != 0 || sum.number != num || sum.type != doc.type)
      problem(r, "documents", "document %u: its TLV says number %u, form %u (row: form %u)", num,
              sum.number, sum.type, doc.type);
    if (secret && fn_emu_verify_sign(secret, doc.data, doc.len) != 0)
      problem(r, "signs", "document %u: the fiscal sign does not verify", num);
    uint16_t lacking = 0;
    if (doc_check_required(doc.data, doc.len, &lacking) == DOC_ERR_MISSING)
      problem(r, "documents", "document %u (form %u) lacks the requisite %u its form needs", num,
              doc.type, lacking);
    /* Registration and reports of an autonomous FN are never queued. */
    if (!doc.acknowledged && !st.autonomous) {
      unacked++;
      if (!first_unacked) first_unacked = num;
    }
    if (doc.type != DOC_RECEIPT && doc.type != DOC_CORRECTION) continue;
    if (doc_parse_receipt(doc.data, doc.len, &h, rc_doc, &total, sign) != 0) {
      problem(r, "documents", "receipt %u does not parse", num);
      continue;
    }
    r->receipts++;
    if (rc_doc->operation != DOC_OP_SALE && rc_doc->operation != DOC_OP_SALE_RETURN) continue;
    for (size_t i = 0; i < rc_doc->item_count; i++) {
      const doc_item_t *it = &rc_doc->items[i];
      event_t e = {.document = base + num,
                   .operation = rc_doc->operation,
                   .numerator = it->fraction_numerator,
                   .denominator = it->fraction_denominator};
      if (!it->marked) continue;
      if (markcode_parse(mc, it->km, it->km_len) != MARKCODE_OK || strlen(mc->ki) >= sizeof e.ki) {
        problem(r, "sales", "receipt %u line %zu: its code does not parse", num, i + 1);
        continue;
      }
      memcpy(e.ki, mc->ki, strlen(mc->ki) + 1);
      if (add_event(events, n, &cap, &e) != 0) {
        snprintf(err, err_size, "out of memory");
        goto done;
      }
    }
  }
  if (!st.autonomous &&
      (unacked != st.unsent_documents || (unacked && first_unacked != st.first_unsent_number)))
    problem(r, "outbox",
            "the FN counts %u unsent documents from %u; the archive's flags say %u from %u",
            st.unsent_documents, st.first_unsent_number, unacked, first_unacked);
  rc = 0;
done:
  *cap_io = cap;
  free(rc_doc);
  free(mc);
  return rc;
}

/*
** The FNs this register had before the current one (the cache's bindings,
** in order), each kept as DATA/fn-<number>.db when it was replaced: their
** documents and sales come first. A replaced FN must owe nothing.
*/
static int read_replaced(const char *data_dir, cache_t *cache, const char *current,
                         uint32_t *current_base, fsck_report_t *r, event_t **events, size_t *n,
                         size_t *cap, char *err, size_t err_size)
{
  cache_fn_binding_t b[64];
  size_t count = 0;
  *current_base = 0;
  if (!cache || cache_fn_bindings(cache, b, 64, &count) != 0) return 0;
  /* A new FN the till has not opened yet is bound where the pointer is. */
  if (count > 0) *current_base = r->cache_applied;
  for (size_t i = 0; i < count && i < 64; i++) {
    char path[1100];
    uint8_t secret[FN_EMU_SECRET_SIZE];
    char number[17];
    fn_t *old = NULL;
    fn_status_t st;
    if (!strcmp(b[i].fn_number, current)) {
      *current_base = b[i].base;
      continue;
    }
    snprintf(path, sizeof path, "%.1000s/fn-%.16s.db", data_dir, b[i].fn_number);
    if (fn_emu_open(path, NULL, &old) != 0) {
      problem(r, "documents", "the replaced FN %s is not in %s", b[i].fn_number, path);
      continue;
    }
    bool have_secret = fn_emu_read_secret(path, secret, number) == 0;
    int rc =
        read_archive(old, have_secret ? secret : NULL, b[i].base, r, events, n, cap, err, err_size);
    if (rc == 0 && fn_status(old, &st) == 0 &&
        (st.phase != FN_PHASE_POST || st.unsent_documents || st.unsent_notifications))
      problem(r, "outbox", "the replaced FN %s is not closed or still owes %u documents",
              b[i].fn_number, st.unsent_documents);
    note(r, "replaced FN %s: FD %u..%u of the cache's numbering", b[i].fn_number, b[i].base + 1,
         r->documents);
    fn_free(old);
    if (rc != 0) return rc;
  }
  return 0;
}

/* A code the archive says is sold now. */
typedef struct sold {
  const char *ki;
  uint32_t document;
} sold_t;

static int by_ki(const void *a, const void *b)
{
  return strcmp(((const sold_t *)a)->ki, ((const sold_t *)b)->ki);
}

/*
** The cache's own SOLD rows, read straight from its table: fsck checks the
** rows, not the cache's counters (which are what a bug would get wrong
** too). Every SOLD row must be a code the archive sells now.
*/
static void check_cache_rows(const char *data_dir, const sold_t *sold, size_t n, fsck_report_t *r)
{
  char path[1100];
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  snprintf(path, sizeof path, "%s/cache.db", data_dir);
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT ki, sold_doc FROM codes WHERE local = 2", -1, &s, NULL) !=
          SQLITE_OK) {
    note(r, "the cache's rows could not be read: %s", db ? sqlite3_errmsg(db) : "no memory");
  } else {
    while (sqlite3_step(s) == SQLITE_ROW) {
      sold_t key = {(const char *)sqlite3_column_text(s, 0), 0};
      uint32_t doc = (uint32_t)sqlite3_column_int64(s, 1);
      const sold_t *hit = key.ki ? bsearch(&key, sold, n, sizeof *sold, by_ki) : NULL;
      if (!hit)
        problem(r, "cache",
                "code %s is sold by FD %u in the cache; no receipt in the archive "
                "sells it now",
                key.ki ? key.ki : "?", doc);
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

/* Each code's history in order, then the cache against the final state. */
static void check_sales(const char *data_dir, event_t *events, size_t n, cache_t *cache,
                        fsck_report_t *r)
{
  sold_t *sold = malloc((n ? n : 1) * sizeof *sold);
  size_t nsold = 0;
  if (!sold) {
    problem(r, "sales", "out of memory");
    return;
  }
  if (n > 0) qsort(events, n, sizeof *events, by_code_then_document); /* NULL when none */
  for (size_t i = 0; i < n;) {
    size_t j = i;
    uint32_t sold_by = 0;
    part_account_t have = {0, 0}; /* the pack's account, as the cache keeps it */
    for (; j < n && !strcmp(events[j].ki, events[i].ki); j++) {
      const event_t *e = &events[j];
      bool sale = e->operation == DOC_OP_SALE, whole = !e->denominator && have.units <= 1;
      part_account_t next;
      if (sale)
        r->marked_sales++;
      else
        r->returns++;
      if (part_apply(&have, sale, e->numerator, e->denominator, &next) != PART_OK) {
        if (sale && whole)
          problem(r, "sales", "code %s sold twice: FD %u and FD %u without a return between", e->ki,
                  sold_by, e->document);
        else if (whole)
          problem(r, "sales", "code %s returned by FD %u but not sold before it", e->ki,
                  e->document);
        else
          problem(r, "sales", "code %s: FD %u %s more of its pack than %s", e->ki, e->document,
                  sale ? "sells" : "takes back", sale ? "is left" : "was sold");
        next = sale ? (part_account_t){1, 1} : (part_account_t){0, 0}; /* as the cache */
      }
      have = next;
      if (!have.sold)
        sold_by = 0;
      else if (sale)
        sold_by = e->document;
    }
    if (sold_by) {
      r->sold_now++;
      /* Sales the cache has not replayed yet are the next start's work. */
      if (sold_by <= r->cache_applied) sold[nsold++] = (sold_t){events[i].ki, sold_by};
    }
    if (cache && sold_by && sold_by <= r->cache_applied) {
      cache_code_t row;
      if (cache_code_get(cache, events[i].ki, &row) != 0 || row.local != CACHE_LOCAL_SOLD ||
          row.sold_document != sold_by)
        problem(r, "cache", "code %s is sold by FD %u; the cache does not say so", events[i].ki,
                sold_by);
      else if (have.units > 1 && (row.part_sold != have.sold || row.part_units != have.units))
        problem(r, "cache",
                "code %s: the archive sells %llu of %llu units of its pack, the cache %llu of %llu",
                events[i].ki, (unsigned long long)have.sold, (unsigned long long)have.units,
                (unsigned long long)row.part_sold, (unsigned long long)row.part_units);
    }
    i = j;
  }
  if (cache) check_cache_rows(data_dir, sold, nsold, r); /* events are sorted by ki already */
  free(sold);
}

/*
** SQLite's own check of every database of the directory (issue 18: a
** cache.db or till.db cut in half used to pass, because fsck read only what
** its invariants needed). A file that cannot be opened, is not a database
** or fails PRAGMA integrity_check is a problem "integrity" with SQLite's
** first words about it.
*/
static void check_integrity(const char *data_dir, fsck_report_t *r)
{
  static const char *const files[] = {"fn.db", "cache.db", "till.db"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[1100], verdict[200] = "";
    sqlite3 *db = NULL;
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", data_dir, files[i]);
    if (stat(path, &sb) != 0) continue;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) rc = db_pragma_text(db, "PRAGMA integrity_check", verdict, sizeof verdict);
    if (rc != SQLITE_OK || strcmp(verdict, "ok") != 0)
      problem(r, "integrity", "%s: %s", files[i],
              verdict[0] ? verdict
              : db       ? sqlite3_errmsg(db)
                         : "cannot be opened");
    sqlite3_close(db);
  }
}

int fsck_archive_tail(fn_t *fn, const char *fn_path, uint32_t count, char *err, size_t err_size)
{
  static fn_document_t doc;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char fn_number[17];
  fn_status_t st;
  doc_summary_t sum;
  if (!fn || !err || err_size == 0) return -1;
  err[0] = '\0';
  if (fn_status(fn, &st) != 0) {
    snprintf(err, err_size, "the FN's state cannot be read");
    return -1;
  }
  bool have_secret = fn_path && fn_emu_read_secret(fn_path, secret, fn_number) == 0;
  uint32_t from = st.last_document > count ? st.last_document - count + 1 : 1;
  for (uint32_t num = from; num <= st.last_document; num++) {
    if (fn_document_get(fn, num, &doc) != 0) {
      snprintf(err, err_size, "document %u is missing from the archive", num);
      return -1;
    }
    if (doc_summarize(doc.data, doc.len, &sum) != 0 || sum.number != num || sum.type != doc.type) {
      snprintf(err, err_size, "document %u: its TLV says number %u, form %u (row: form %u)", num,
               sum.number, sum.type, doc.type);
      return -1;
    }
    if (have_secret && fn_emu_verify_sign(secret, doc.data, doc.len) != 0) {
      snprintf(err, err_size, "document %u: the fiscal sign does not verify", num);
      return -1;
    }
  }
  return 0;
}

static void check_basket(const char *data_dir, fn_t *fn, fsck_report_t *r)
{
  char path[1100];
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  snprintf(path, sizeof path, "%s/till.db", data_dir);
  struct stat sb;
  if (stat(path, &sb) != 0) return;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT closing_after FROM basket", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    uint32_t after = (uint32_t)sqlite3_column_int64(s, 0);
    fn_status_t st;
    if (after > 0 && fn_status(fn, &st) == 0)
      note(r,
           "a receipt was being closed after FD %u when the till stopped; the next start "
           "finishes it (%s)",
           after, st.last_document > after ? "the FN has it: it is sold" : "the FN has not");
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

int fsck_run(const char *data_dir, fsck_report_t *out, char *err, size_t err_size)
{
  char path[1100];
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char fn_number[17];
  fn_t *fn = NULL;
  cache_t *cache = NULL;
  event_t *events = NULL;
  size_t n = 0;
  int rc = -1;
  struct stat sb;
  if (!data_dir || !out || !err) return -1;
  memset(out, 0, sizeof *out);
  if (crypto_init() != 0) {
    snprintf(err, err_size, "the GOST engine is not available");
    return -1;
  }
  snprintf(path, sizeof path, "%s/fn.db", data_dir);
  if (stat(path, &sb) != 0 || fn_emu_open(path, NULL, &fn) != 0) {
    snprintf(err, err_size, "no readable fiscal storage in %s", data_dir);
    return -1;
  }
  bool have_secret = fn_emu_read_secret(path, secret, fn_number) == 0;
  if (!have_secret) note(out, "the FN's secret is not readable: fiscal signs not checked");
  check_integrity(data_dir, out);
  snprintf(path, sizeof path, "%s/cache.db", data_dir);
  if (stat(path, &sb) != 0)
    note(out, "no code cache: the sales are checked against the archive only");
  else if (cache_open(path, &cache) == 0)
    cache_fn_applied(cache, &out->cache_applied);
  else
    problem(out, "cache", "%s exists but cannot be opened as the code cache", path);
  size_t cap = 0;
  uint32_t base = 0;
  fn_status_t now;
  if (fn_status(fn, &now) != 0) {
    snprintf(err, err_size, "cannot read the FN's state");
    goto done;
  }
  if (read_replaced(data_dir, cache, now.fn_number, &base, out, &events, &n, &cap, err, err_size) !=
      0)
    goto done;
  if (read_archive(fn, have_secret ? secret : NULL, base, out, &events, &n, &cap, err, err_size) !=
      0)
    goto done;
  check_sales(data_dir, events, n, cache, out);
  if (cache && out->cache_applied < out->documents)
    note(out, "documents %u..%u wait for the till's replay into the cache (next start)",
         out->cache_applied + 1, out->documents);
  if (cache && out->cache_applied > out->documents)
    problem(out, "cache", "the cache applied FD %u; the archive ends at FD %u", out->cache_applied,
            out->documents);
  check_basket(data_dir, fn, out);
  rc = 0;
done:
  free(events);
  cache_close(cache);
  fn_free(fn);
  return rc;
}
