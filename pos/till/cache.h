/*
** cache.h: the till's local code cache, one SQLite file in the data
** directory (DATA/cache.db).
**
** A scan must become a yes or no in milliseconds, with or without a link,
** so the till keeps locally everything it knows about goods and codes:
**
**   - the catalogue: GTIN -> name, price, VAT, product group, whether the
**     good must carry a marking code, whether the store keeps strict
**     accounting of its codes (only codes in stock may be sold), weighed;
**   - the store's stock of codes, filled by goods acceptance (accept.h) and
**     by returns; a code leaves stock when it is sold;
**   - what the fiscal storage says happened: codes sold and returned, each
**     with the number of its receipt. These rows are derived from the FN
**     archive only (cache_apply_receipt, fed by the till's replay of the
**     archive), which is how "a code is sold if and only if its receipt
**     exists" survives a crash: the replay pointer moves in the same
**     transaction as the rows;
**   - blocks: a code, a whole GTIN, or a series (GTIN + batch, AI 10);
**   - statuses synced from the marking operator (`kassa cache sync`,
**     resumable by a cursor; lastSync kept; stale after 72 h);
**   - remarking: links old -> new, goods returned without a readable code
**     waiting to be remarked, and the pool of fresh codes for labels.
**
** Codes are keyed by their identification part (markcode_t.ki: 01 GTIN 21
** serial, or the tobacco pack's GTIN + serial), never by the full code: the
** crypto tail is not identity, and a rescan with a damaged tail must still
** find the code. Lookups are primary-key reads through prepared statements
** (a few microseconds at 10 million codes, see docs/BENCHMARKS.md).
**
** One cache_t is used by one thread at a time (the service serialises);
** SQLite in WAL mode with synchronous=FULL; every write is one transaction.
*/
#ifndef KASSA_POS_CACHE_H
#define KASSA_POS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cache_err {
  CACHE_OK = 0,
  CACHE_ERR_ARGUMENT = -1,  /* NULL, empty or oversize argument */
  CACHE_ERR_NOT_FOUND = -2, /* no such product / code / pending return */
  CACHE_ERR_IO = -3,        /* SQLite failed (disk full, corrupt file ...) */
  CACHE_ERR_STATE = -4,     /* the row is in a state the call cannot take */
  CACHE_ERR_EMPTY = -5,     /* the remarking pool has no code for this GTIN */
  CACHE_ERR_FORMAT = -6,    /* an import file line is malformed (see err text) */
} cache_err_t;

/* Stable name ("not_found") and a static message, Russian or English. */
const char *cache_err_name(int err);
const char *cache_err_message(int err, bool russian);

typedef struct cache cache_t;

/*
** Opens (creating with mode 0600 when missing) the cache at path and
** brings its schema up to date (PRAGMA user_version). 0, CACHE_ERR_ARGUMENT
** for a NULL or empty path, or CACHE_ERR_IO (the file cannot be created or
** opened, WAL or synchronous=FULL cannot be set, or the schema is from a
** newer program); *out NULL on failure. The directory must exist.
*/
int cache_open(const char *path, cache_t **out);
void cache_close(cache_t *c); /* NULL is fine */

/* The last error's detail, for logs: SQLite's text, or why an argument or
** a state was refused ("code 3: ..."); "" when none. Never NULL. */
const char *cache_last_error(const cache_t *c);

/* ---- catalogue ---------------------------------------------------------- */

#define CACHE_NAME_MAX  128 /* characters of 1030 */
#define CACHE_GROUP_MAX 24

typedef struct cache_product {
  char gtin[15];                     /* 14 digits (EAN-13/8 padded with zeros on the left) */
  char name[CACHE_NAME_MAX * 4 + 1]; /* UTF-8 */
  uint64_t price;                    /* kopecks per piece, or per kg / l when weighed */
  uint8_t vat;                       /* 1199: 1 20%, 2 10%, 5 0%, 6 none, 11 22% ... */
  char group[CACHE_GROUP_MAX + 1];   /* product group: footwear, dairy, water, tobacco,
                                        beer, clothes, perfume, tyres, ..., "" unmarked */
  int group_id;                      /* true-api group id (3 tobacco, 8 milk ...), 0 none */
  bool marking_required;             /* a plain barcode scan of it is refused */
  bool strict;                       /* strict accounting: only codes in stock sell */
  bool weighed;                      /* sold by weight: 2108 = 11 (kg), fractional qty */
  bool excise;                       /* 1212 = 31 instead of 33 (tobacco, ...) */
} cache_product_t;

/* Adds or replaces a product. CACHE_ERR_ARGUMENT for a GTIN that is not
** 14 digits with a valid GS1 check digit, an empty or oversize name (more
** than CACHE_NAME_MAX characters), an oversize group, or a VAT rate outside
** 1..12. */
int cache_product_put(cache_t *c, const cache_product_t *p);

/* The product with this GTIN (14 digits; 8 and 13 digit codes are padded
** by the function). CACHE_ERR_NOT_FOUND when the catalogue lacks it. */
int cache_product_get(cache_t *c, const char *gtin, cache_product_t *out);

/*
** The catalogue's products whose name holds `query` (case and ё/е folded,
** Russian and Latin letters) or whose GTIN holds it (digits), in name
** order: at most max into out, *count how many. A query of fewer than two
** characters finds nothing (CACHE_ERR_ARGUMENT), so the cashier's search
** never lists the whole catalogue.
*/
int cache_product_search(cache_t *c, const char *query, cache_product_t *out, size_t max,
                         size_t *count);

/*
** Imports a catalogue file: UTF-8 CSV with a header line
** `gtin;name;price;vat;group;group_id;marking;strict;weighed;excise`
** (price in roubles with a dot, booleans 0/1). One product per line, fields
** separated by ';' with no quoting (a name cannot hold ';'); blank lines and
** lines starting with '#' are skipped; CRLF and a UTF-8 BOM are fine. GTINs
** of 8, 13 or 14 digits (check digit verified) are padded to 14. A marked
** product needs its group; strict accounting and excise need marking. All
** or nothing: on CACHE_ERR_FORMAT nothing is written and err says "line N:
** why" in English and Russian (a GTIN given twice names both lines);
** CACHE_ERR_NOT_FOUND when the file cannot be read. *count (may be NULL)
** gets the number of products written.
*/
int cache_catalogue_import(cache_t *c, const char *path, size_t *count, char *err, size_t err_size);

/* ---- codes ---------------------------------------------------------------- */

#define CACHE_KI_MAX 64 /* 01+14+21+20 = 39; fur tags 20 */

/* What the store knows locally about one code. */
typedef enum cache_local_state {
  CACHE_LOCAL_NONE = 0,     /* never seen by this store */
  CACHE_LOCAL_IN_STOCK = 1, /* accepted (or returned) and not sold */
  CACHE_LOCAL_SOLD = 2,     /* in a sale receipt of this FN, not returned since */
  CACHE_LOCAL_REMARKED = 3, /* replaced by a new code: never sells again */
} cache_local_state_t;

/* What the marking operator said about a code at the last sync. */
typedef enum cache_op_state {
  CACHE_OP_UNKNOWN = 0,     /* not synced */
  CACHE_OP_EMITTED = 1,     /* emitted, not applied */
  CACHE_OP_APPLIED = 2,     /* applied, not introduced into circulation */
  CACHE_OP_CIRCULATION = 3, /* in circulation: sellable */
  CACHE_OP_RETIRED = 4,     /* withdrawn (sold, written off) */
} cache_op_state_t;

typedef struct cache_code {
  char ki[CACHE_KI_MAX + 1];
  char gtin[15];
  cache_local_state_t local;
  uint32_t sold_document;               /* FN document number of the sale, 0 none */
  uint32_t returned_document;           /* FN document number of the last return, 0 none */
  char remarked_to[CACHE_KI_MAX + 1];   /* the new code's ki when REMARKED */
  char remarked_from[CACHE_KI_MAX + 1]; /* the old code's ki, or "return:N:L" */
  /* From the operator (valid when op_synced_ms != 0). */
  cache_op_state_t op_state;
  bool op_blocked;
  bool op_sold;
  char owner_inn[13];
  int64_t expire_ms; /* 0: none */
  uint64_t mrp, smp; /* kopecks, 0: none */
  int64_t op_synced_ms;
  /* A pack sold by parts (1291, common/part.h): part_sold of part_units,
  ** when local is SOLD through fraction lines; 0 / 0 otherwise (sold
  ** whole, or not sold). A code partly sold stays SOLD (a return finds it)
  ** and sells again for a part that fits in part_units - part_sold. */
  uint64_t part_sold, part_units;
} cache_code_t;

/* The code with this ki. CACHE_ERR_NOT_FOUND when the store has no row
** for it (neither local nor synced). A primary-key read through a kept
** prepared statement: no write, no transaction. */
int cache_code_get(cache_t *c, const char *ki, cache_code_t *out);

/*
** Puts codes into stock (goods acceptance), all in one transaction. The
** GTIN is taken from the ki (characters 2..15 of a GS1 ki, the first 14 of
** a 21-character tobacco pack ki). A code already in stock stays; a SOLD
** code is CACHE_ERR_STATE for the whole call (nothing written), *bad set to
** its index when bad is not NULL; a REMARKED code likewise; so is an empty
** or oversize ki, or one holding a control character such as GS (pass
** markcode_t.ki, not the full code), with CACHE_ERR_ARGUMENT.
*/
int cache_stock_add(cache_t *c, const char *const *kis, size_t count, size_t *bad);

/* How many codes of this GTIN are in stock (all GTINs when gtin is NULL). */
int cache_stock_count(cache_t *c, const char *gtin, uint64_t *out);

/* Codes of gtin this store sold and that were not returned since (SOLD). */
int cache_sold_count(cache_t *c, const char *gtin, uint64_t *out);

/* Returns without a code of gtin ever recorded (open or remarked since):
** each stands for a sold code the store cannot name, still counted SOLD. */
int cache_pending_total(cache_t *c, const char *gtin, uint64_t *out);

/* ---- what the FN archive says ------------------------------------------ */

/* The number of the last FN document applied (0: none). */
int cache_fn_applied(cache_t *c, uint32_t *out);

/*
** The replay's numbering across FNs. A register replaces its FN when it is
** full or expires; the new one numbers its documents from 1 again. The
** cache numbers the documents it applies globally: each FN it has seen has
** a base (the global number before its document 1; the first FN 0), and
** document N of that FN is base + N (sold_document, returned_document and
** the pointer are global). cache_fn_bind() gives the FN's base, making a
** new FN's base the pointer as it stands (everything of the old FN is
** applied first). cache_fn_bindings() lists the FNs in order, for fsck.
*/
typedef struct cache_fn_binding {
  char fn_number[17];
  uint32_t base;
} cache_fn_binding_t;
int cache_fn_bind(cache_t *c, const char *fn_number, uint32_t *base);
int cache_fn_bindings(cache_t *c, cache_fn_binding_t *out, size_t max, size_t *count);

/* One marked line of a receipt, as the replay hands it over. */
typedef struct cache_receipt_line {
  const char *ki;                                    /* identification part of the line's 2000 */
  const char *gtin;                                  /* may be NULL */
  uint8_t km_status;                                 /* 2003: 1/2 sold, 3/4 returned */
  uint64_t fraction_numerator, fraction_denominator; /* 1291's 1293 / 1294; 0 / 0 whole */
} cache_receipt_line_t;

/*
** Applies FN document `number` in one transaction with the pointer: sale
** (operation 1) lines become SOLD with sold_document = number; return
** (operation 2) lines become IN_STOCK with returned_document = number;
** a line with a fraction (1291) moves the pack's account of parts instead
** (common/part.h): a sale adds its part (the code SOLD, sold out when the
** parts make the whole), a return takes its part back (IN_STOCK when
** nothing of the pack stays sold, else SOLD with the rest); the archive is
** the truth, so a part past the account (which the check refuses) is
** applied as far as it goes: sold out, or nothing sold;
** lines of other operations, and documents that are not receipts (count 0),
** only move the pointer. number must be cache_fn_applied() + 1, else
** CACHE_ERR_STATE (the replay is strictly in order, so a crash repeats a
** document at most once and never applies it twice). REMARKED is final: a
** line naming a remarked code records the document number but leaves the
** code REMARKED (the archive is the truth about the receipt, the remark is
** the truth about the code). A line with a NULL or malformed ki is
** CACHE_ERR_ARGUMENT and nothing is written.
*/
int cache_apply_receipt(cache_t *c, uint32_t number, uint8_t operation,
                        const cache_receipt_line_t *lines, size_t count);

/* ---- blocks --------------------------------------------------------------- */

typedef enum cache_block_kind {
  CACHE_BLOCK_CODE = 1,   /* value: a ki */
  CACHE_BLOCK_GTIN = 2,   /* value: 14 digits */
  CACHE_BLOCK_SERIES = 3, /* value: GTIN + "/" + batch (AI 10) */
} cache_block_kind_t;

/* CACHE_ERR_ARGUMENT for an empty or oversize value, a GTIN that is not
** 8, 13 or 14 digits with its check digit (padded to 14 when stored), a
** series that is not GTIN "/" batch (1..20 characters), or a reason longer
** than CACHE_REASON_MAX. reason may be NULL (""); putting a block again
** replaces its reason. cache_block_remove is CACHE_ERR_NOT_FOUND when there
** is no such block. */
#define CACHE_REASON_MAX 256 /* bytes of a block's reason (UTF-8) */
int cache_block_put(cache_t *c, cache_block_kind_t kind, const char *value, const char *reason);
int cache_block_remove(cache_t *c, cache_block_kind_t kind, const char *value);

/* Is this code blocked by code, GTIN or series (batch may be NULL or "")?
** gtin may be NULL (taken from the ki). The most specific block wins:
** code, then series, then GTIN. *reason (may be NULL) gets the block's
** reason text (static until the next call on c), *kind (may be NULL) which
** block matched. 0 with *blocked set. */
int cache_block_find(cache_t *c, const char *ki, const char *gtin, const char *batch, bool *blocked,
                     cache_block_kind_t *kind, const char **reason);

/* ---- sync from the operator --------------------------------------------- */

/* One code status as the operator's sync feed sends it. */
typedef struct cache_sync_row {
  const char *ki;
  const char *gtin;
  cache_op_state_t state;
  bool blocked;
  bool sold;
  const char *owner_inn; /* may be NULL */
  int64_t expire_ms;
  uint64_t mrp, smp;
} cache_sync_row_t;

/*
** Applies one page of the feed and stores `cursor` (the feed's position
** after the page, at most CACHE_CURSOR_MAX bytes) and lastSync = now_ms, in
** one transaction: a crash resumes from the last page applied. Local states
** are never touched. Rows are checked before anything is written (an empty,
** oversize or GS-holding ki, a state outside cache_op_state_t, an owner INN
** that is not 10 or 12 digits: CACHE_ERR_ARGUMENT, nothing written). A row
** that repeats a ki later in the page wins. This is also the bulk path:
** pages of thousands of rows cost one transaction each.
*/
int cache_sync_apply(cache_t *c, const cache_sync_row_t *rows, size_t count, const char *cursor,
                     int64_t now_ms);

#define CACHE_CURSOR_MAX 160

/* The stored cursor ("" when never synced) and lastSync (0 never).
** cursor may be NULL; otherwise cursor_size must hold it (else
** CACHE_ERR_ARGUMENT). last_sync_ms may be NULL. */
int cache_sync_state(cache_t *c, char *cursor, size_t cursor_size, int64_t *last_sync_ms);

/* Stale: never synced, or last sync more than stale_hours ago (72 by the
** local module's rule; 0 means 72). Exactly stale_hours after the last
** sync is still fresh; one millisecond later is stale. A cache that cannot
** be read is stale. */
bool cache_is_stale(cache_t *c, int64_t now_ms, uint32_t stale_hours);

/*
** Several lookups in one read transaction: cache_read_begin, the lookups
** (cache_product_get, cache_code_get, cache_block_find, ...), then
** cache_read_end. They read one snapshot and the WAL's read lock is taken
** once, where each alone takes its own. Nothing that writes may run in
** between (its own transaction would not start: CACHE_ERR_STATE or an I/O
** error, nothing written). cache_read_begin is CACHE_ERR_STATE inside a
** transaction; cache_read_end ends what is open and is harmless after a
** failed begin or with c NULL.
*/
int cache_read_begin(cache_t *c);
void cache_read_end(cache_t *c);

/* ---- remarking ------------------------------------------------------------ */

/* Adds fresh codes (full codes, GS as 0x1D, as the operator issued them)
** to the pool for labels, in one transaction. Each must parse
** (scanner/markcode.h) as a GS1 marking code with a verification part, and
** is pooled in its canonical form under its GTIN. Codes already pooled are
** skipped (*added, may be NULL, counts the new ones). A code that does not
** parse is CACHE_ERR_FORMAT, one the store already holds in stock, sold or
** remarked is CACHE_ERR_STATE: nothing is written and cache_last_error()
** names the index ("code 3: ..."). */
int cache_pool_add(cache_t *c, const char *const *codes, size_t count, size_t *added);

/* How many pooled codes wait for this GTIN (all when gtin NULL). */
int cache_pool_count(cache_t *c, const char *gtin, uint64_t *out);

/* A good returned without a readable code, waiting for a new label. */
typedef struct cache_pending {
  int64_t id;
  char gtin[15];
  uint32_t return_document; /* FN document of the return */
  uint32_t line;            /* line number in it, 1.. */
  int64_t created_ms;
} cache_pending_t;

/* Records a return without a code (after its receipt is in the FN). The
** same (return_document, line) again with the same GTIN returns the
** existing id (a replay after a crash); with another GTIN it is
** CACHE_ERR_STATE. return_document and line must be > 0. *id may be NULL. */
int cache_pending_add(cache_t *c, const char *gtin, uint32_t return_document, uint32_t line,
                      int64_t now_ms, int64_t *id);

/* Open pending returns (not yet remarked), oldest first: up to cap into
** out, *count how many were written. */
int cache_pending_list(cache_t *c, cache_pending_t *out, size_t cap, size_t *count);

/* Open pending return `id` (created_ms is not kept by this call: 0).
** CACHE_ERR_NOT_FOUND when there is none or it is already remarked. */
int cache_pending_get(cache_t *c, int64_t id, cache_pending_t *out);

/*
** Remarks one good, in one transaction: takes the oldest pooled code of
** `gtin` (CACHE_ERR_EMPTY when none), puts it IN_STOCK with remarked_from
** set, and either marks old_ki REMARKED with remarked_to (old_ki given: a
** code the store knows; CACHE_ERR_STATE when it is SOLD) or closes pending
** return `pending_id` (old_ki NULL). new_code receives the full pooled code
** (GS as 0x1D, NUL-terminated) for the label.
**
** Refusals, each writing nothing: CACHE_ERR_NOT_FOUND for an old_ki with
** no row or an unknown pending id; CACHE_ERR_STATE for an old code that is
** SOLD or already REMARKED, or a pending return already closed;
** CACHE_ERR_ARGUMENT when gtin is not the old code's (or the pending
** return's) GTIN, or new_code_size cannot hold the code.
*/
int cache_remark(cache_t *c, const char *gtin, const char *old_ki, int64_t pending_id,
                 char *new_code, size_t new_code_size);

/* ---- counts for status pages ------------------------------------------- */

/* codes: rows in the code table (local or synced); in_stock, sold,
** remarked: by local state; blocked: local blocks (codes, GTINs, series);
** pooled: fresh codes for labels; pending: open returns without a code;
** synced: codes with an operator status; op_blocked: synced codes the
** operator reports blocked. The code figures are counters kept in the same
** transactions as the rows, so a status page never scans 10 million rows. */
typedef struct cache_counts {
  uint64_t products, codes, in_stock, sold, remarked, blocked, pooled, pending;
  uint64_t synced, op_blocked;
} cache_counts_t;

int cache_counts(cache_t *c, cache_counts_t *out);

/* Stable names of the states, for JSON: "none", "in_stock", "sold",
** "remarked"; "unknown", "emitted", "applied", "circulation", "retired";
** "code", "gtin", "series". "?" for other values. */
const char *cache_local_name(cache_local_state_t s);
const char *cache_op_name(cache_op_state_t s);
const char *cache_block_kind_name(cache_block_kind_t k);

#endif /* KASSA_POS_CACHE_H */
