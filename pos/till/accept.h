/*
** accept.h: goods acceptance. The codes a supplier says it delivered,
** compared with the codes the store scanned from the boxes, and a decision.
**
** A delivery of marked goods comes with a transfer document, the FNS
** universal transfer document (UTD, УПД: files named ON_NSCHFDOPPR_…,
** usually windows-1251 XML). Its table (Файл/Документ/ТаблСчФакт/СведТов)
** lists, per product line, the codes of the items in
** ДопСведТов/НомСредИдентТов: `КИЗ` elements for single items and `НомУпак`
** elements (and the attribute ИдентТрансУпак) for packages. A supplier
** without EDO sends a plain list instead: one code per line, `#` starts a
** comment line, the group separator may be written `\x1d`.
**
** Acceptance goes in three steps, each its own call:
**
**   1. load: accept_doc_load_utd() / accept_doc_load_list() read a file
**      into an accept_doc_t. Every code goes through markcode_parse() and is
**      kept by its identification part (ki), since a UTD usually lists the
**      ki alone while the scanner reads the whole code with its crypto tail.
**      A code that does not parse is kept as an INVALID entry with its line
**      and the parser's reason (Russian and English), never dropped. A file
**      that is not what it claims (malformed XML, not a UTD, not UTF-8) is
**      an error with the line number, and no document is made.
**   2. compare: accept_compare() matches the document against the scanned
**      delivery (also an accept_doc_t, usually a list): matched, missing (in
**      the document, not scanned), extra (scanned, not in the document),
**      duplicates, invalid codes and packages. Nothing is written anywhere.
**   3. decide: accept_decide() applies the manager's choice. Accept all
**      (only when nothing is missing, extra, invalid, duplicated in the
**      document or packaged, and no code conflicts with the cache; else it
**      is refused with the reasons and nothing changes), accept part (the
**      matched codes that do not conflict; the rest is reported), or reject
**      (nothing becomes stock). Only accepted codes become stock, with one
**      cache_stock_add() call, which is one SQLite transaction.
**
** Packages. A `НомУпак` (an SSCC `00`+18 digits for a transport box, or the
** GS1 code of a group package such as a tobacco block) names an aggregate
** whose contents are known only to the marking operator: they cannot be
** expanded offline and are never guessed. Such codes are reported as
** packages needing disaggregation (unpack, then scan or list each item);
** they never become stock and they stop "accept all".
**
** Conflicts. Before writing, accept_decide() reads each matched code from
** the cache: a code this store sold, remarked (replaced by a new code),
** blocked, or that the operator reports blocked or withdrawn from
** circulation, must not become sellable again; it is reported as a
** conflict and left out. A code already in stock is harmless and counted.
**
** The report (accept_report_t) has a JSON rendering for the API and the
** CLI (accept_report_to_json) and a short text for a manager, Russian or
** English (accept_report_text). Entries in a report are borrowed from the
** two documents: free the report before them.
*/
#ifndef KASSA_POS_ACCEPT_H
#define KASSA_POS_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pos/till/cache.h"

#define ACCEPT_FILE_MAX  (64u * 1024u * 1024u) /* bigger files are refused (too_big) */
#define ACCEPT_CODES_MAX 1000000u              /* codes per document */
#define ACCEPT_KI_MAX    64                    /* ki, SSCC or package text kept as key */

typedef enum accept_err {
  ACCEPT_OK = 0,
  ACCEPT_ERR_ARGUMENT = -1, /* NULL or contradictory arguments */
  ACCEPT_ERR_IO = -2,       /* the file cannot be read */
  ACCEPT_ERR_TOO_BIG = -3,  /* over ACCEPT_FILE_MAX bytes or ACCEPT_CODES_MAX codes */
  ACCEPT_ERR_XML = -4,      /* not well-formed XML, or a DOCTYPE (line given) */
  ACCEPT_ERR_NOT_UTD = -5,  /* well-formed, but not a UTD (no Файл/Документ) */
  ACCEPT_ERR_ENCODING = -6, /* a list that is not UTF-8 (line given) */
  ACCEPT_ERR_NO_CODES = -7, /* the transfer document lists no code at all */
  ACCEPT_ERR_NO_MEMORY = -8,
  ACCEPT_ERR_REFUSED = -9, /* the decision was refused; the report says why */
  ACCEPT_ERR_CACHE = -10,  /* the code cache failed or refused the write */
  ACCEPT_ERR_STATE = -11,  /* the report was decided already */
} accept_err_t;

/* Stable name ("not_utd"; a contract in JSON) and a static message. */
const char *accept_err_name(int err);
const char *accept_err_message(int err, bool russian);

/* An error with where it happened, for a person. */
typedef struct accept_error {
  int code;      /* accept_err_t */
  uint32_t line; /* 1-based line of the file, 0 when not about a line */
  char message_ru[1024];
  char message_en[1024];
} accept_error_t;

/* ---- documents ------------------------------------------------------------ */

typedef enum accept_format {
  ACCEPT_FORMAT_UTD = 1,  /* FNS UTD XML */
  ACCEPT_FORMAT_LIST = 2, /* one code per line */
} accept_format_t;

typedef enum accept_entry_kind {
  ACCEPT_ENTRY_ITEM = 1,    /* one item's code: its ki is the key */
  ACCEPT_ENTRY_PACKAGE = 2, /* an aggregate: contents unknown offline */
  ACCEPT_ENTRY_INVALID = 3, /* did not parse: error and messages set */
} accept_entry_kind_t;

typedef enum accept_package_kind {
  ACCEPT_PACKAGE_NONE = 0,
  ACCEPT_PACKAGE_SSCC = 1,    /* 00 + 18 digits: a transport box or pallet */
  ACCEPT_PACKAGE_GROUP = 2,   /* a GS1 code of a group package (tobacco block ...) */
  ACCEPT_PACKAGE_UNKNOWN = 3, /* a package id of no known shape, kept as written */
} accept_package_kind_t;

/* One code of a document, in file order. */
typedef struct accept_entry {
  accept_entry_kind_t kind;
  accept_package_kind_t package; /* PACKAGE only */
  char key[ACCEPT_KI_MAX + 1];   /* ITEM: the ki; PACKAGE: SSCC digits, ki or text */
  char gtin[15];                 /* ITEM and GROUP packages, else "" */
  const char *text;              /* the code as written (UTF-8, trimmed; control
                                    bytes shown as \xHH), at most 200 bytes */
  uint32_t line;                 /* 1-based line in the file */
  uint32_t item;                 /* UTD: НомСтр of the product line (0: none); list: 0 */
  uint32_t index;                /* UTD: 1-based position among that line's codes */
  const char *element; /* UTD: "КИЗ", "НомУпак", "ИдентТрансУпак"; list: "" */
  const char *error;   /* INVALID: stable code ("gtin_check_digit",
                          "not_a_mark", "no_serial", ...), else NULL */
  const char *message_ru; /* INVALID and PACKAGE: why, for a person */
  const char *message_en;
} accept_entry_t;

/* What a UTD says about itself (all "" when absent or for a list). */
typedef struct accept_doc_info {
  accept_format_t format;
  char file_id[256];     /* Файл@ИдФайл */
  char version[16];      /* Файл@ВерсФорм, "5.01", "5.03" */
  char function[16];     /* Документ@Функция: СЧФДОП, ДОП, СЧФ */
  char number[256];      /* СвСчФакт@НомерДок (5.03) or @НомерСчФ (5.01) */
  char date[16];         /* @ДатаДок or @ДатаСчФ, DD.MM.YYYY as written */
  char supplier_inn[13]; /* СвПрод/ИдСв: ИННЮЛ or ИННФЛ */
  char supplier_name[512]; /* НаимОрг, or "ИП " + ФИО for a sole trader */
  char source[256];        /* the file name the document was read from */
} accept_doc_info_t;

typedef struct accept_doc accept_doc_t;

/*
** Reads a UTD from memory (len bytes, any encoding the XML declaration
** names; libxml2 converts to UTF-8) or from a file. name is what messages
** call the file (may be NULL). On success *out is the caller's to free
** with accept_doc_free(). On failure *out is NULL and err (may be NULL)
** says what and where: ACCEPT_ERR_XML with the line of the first fault
** (a DOCTYPE is refused: a UTD has none, and entity tricks ride on it),
** ACCEPT_ERR_NOT_UTD, ACCEPT_ERR_TOO_BIG, ACCEPT_ERR_IO, ACCEPT_ERR_NO_MEMORY.
** A UTD with no code at all loads fine (accept_compare refuses it).
*/
int accept_doc_parse_utd(const char *xml, size_t len, const char *name, accept_doc_t **out,
                         accept_error_t *err);
int accept_doc_load_utd(const char *path, accept_doc_t **out, accept_error_t *err);

/*
** Reads a plain list: one code per line (LF or CRLF, UTF-8, a BOM is
** skipped), blank lines and lines whose first non-blank character is `#`
** skipped. Each line is one code as a scanner or a person wrote it:
** markcode_parse() handles `\x1d`, `<GS>`, AIM prefixes and the rest. An
** SSCC (`00` + 18 digits, or `(00)…`) is a package. A line that is not
** UTF-8 fails the whole list (ACCEPT_ERR_ENCODING with its line).
*/
int accept_doc_parse_list(const char *text, size_t len, const char *name, accept_doc_t **out,
                          accept_error_t *err);
int accept_doc_load_list(const char *path, accept_doc_t **out, accept_error_t *err);

void accept_doc_free(accept_doc_t *doc); /* NULL is fine */

/* The document's header; never NULL for a document. */
const accept_doc_info_t *accept_doc_info(const accept_doc_t *doc);
/* Number of entries, and entry i (0 <= i < count) in file order. */
size_t accept_doc_count(const accept_doc_t *doc);
const accept_entry_t *accept_doc_entry(const accept_doc_t *doc, size_t i);

/* ---- comparison and decision -------------------------------------------- */

typedef enum accept_decision {
  ACCEPT_DECIDE_NONE = 0, /* compare only */
  ACCEPT_DECIDE_ALL = 1,
  ACCEPT_DECIDE_PART = 2,
  ACCEPT_DECIDE_REJECT = 3,
} accept_decision_t;

typedef enum accept_outcome {
  ACCEPT_OUTCOME_COMPARED = 0,      /* compared, nothing decided */
  ACCEPT_OUTCOME_ACCEPTED_ALL = 1,  /* every code of the document is stock */
  ACCEPT_OUTCOME_ACCEPTED_PART = 2, /* the matched codes are stock */
  ACCEPT_OUTCOME_REJECTED = 3,      /* nothing became stock, as asked */
  ACCEPT_OUTCOME_REFUSED = 4,       /* the decision could not be applied */
} accept_outcome_t;

typedef enum accept_side {
  ACCEPT_SIDE_DOCUMENT = 1, /* the supplier's document */
  ACCEPT_SIDE_DELIVERY = 2, /* what was scanned */
} accept_side_t;

/* Why a code in the cache stops its acceptance. */
typedef enum accept_conflict {
  ACCEPT_CONFLICT_NONE = 0,
  ACCEPT_CONFLICT_SOLD = 1,         /* this store sold it (receipt number in `document`) */
  ACCEPT_CONFLICT_REMARKED = 2,     /* replaced by a new code; never sells again */
  ACCEPT_CONFLICT_BLOCKED = 3,      /* blocked here (code, GTIN or series) */
  ACCEPT_CONFLICT_OP_BLOCKED = 4,   /* the operator reports it blocked */
  ACCEPT_CONFLICT_OP_WITHDRAWN = 5, /* the operator reports it sold or withdrawn */
} accept_conflict_t;

/* One line of a report. */
typedef struct accept_line {
  const accept_entry_t *entry; /* the code (document side for matched) */
  const accept_entry_t *other; /* matched: the scanned entry; duplicates: the
                                  first occurrence; packages: the scanned
                                  package when the box was scanned too */
  accept_side_t side;
  accept_conflict_t conflict; /* conflicts only */
  uint32_t document;          /* conflicts: the sale's FN document number */
} accept_line_t;

typedef struct accept_lines {
  accept_line_t *items;
  size_t count, cap;
} accept_lines_t;

typedef struct accept_report {
  const accept_doc_t *document; /* borrowed */
  const accept_doc_t *delivery; /* borrowed */
  accept_decision_t decision;
  accept_outcome_t outcome;
  const char *refusal;   /* REFUSED: the first reason's stable code ("missing",
                            "extra", "invalid_codes", "packages", "duplicates",
                            "conflicts", "nothing_to_accept", or "cache"
                            when the cache failed), else NULL */
  char message_ru[1024]; /* the outcome in a sentence or two */
  char message_en[1024];
  size_t document_codes, delivery_codes; /* entries of each side */
  accept_lines_t matched;                /* in the document and scanned */
  accept_lines_t missing;                /* in the document, not scanned */
  accept_lines_t extra;                  /* scanned, not in the document */
  accept_lines_t duplicates;             /* a code again (either side), with the first */
  accept_lines_t invalid;                /* codes that did not parse (either side) */
  accept_lines_t packages;               /* aggregates needing disaggregation */
  accept_lines_t conflicts;              /* matched but refused by the cache's state */
  accept_lines_t accepted;               /* became stock by this decision */
  size_t already_in_stock;               /* of accepted: were in stock before */
} accept_report_t;

/*
** Compares a transfer document with the scanned delivery. Both documents
** must outlive the report. ACCEPT_ERR_NO_CODES when the document lists no
** code at all (a delivery with nothing scanned is fine: all missing).
** Writes nothing anywhere. *out is the caller's (accept_report_free).
*/
int accept_compare(const accept_doc_t *document, const accept_doc_t *delivery,
                   accept_report_t **out);

/*
** Applies a decision to a compared report (outcome COMPARED, else
** ACCEPT_ERR_STATE). ALL and PART read every matched code from the cache
** for conflicts, then put the accepted codes into stock with one
** cache_stock_add() (one transaction); REJECT writes nothing and may be
** given a NULL cache. Returns 0 with outcome ACCEPTED_ALL, ACCEPTED_PART or
** REJECTED; ACCEPT_ERR_REFUSED with outcome REFUSED, refusal and messages
** set and nothing written; ACCEPT_ERR_CACHE when the cache failed (nothing
** written: the transaction rolled back; messages name the code at fault).
*/
int accept_decide(accept_report_t *report, cache_t *cache, accept_decision_t decision);

void accept_report_free(accept_report_t *report); /* NULL is fine */

/* Stable names used in JSON ("all", "accepted_part", "sold", "sscc" ...). */
const char *accept_decision_name(accept_decision_t d);
const char *accept_outcome_name(accept_outcome_t o);
const char *accept_conflict_name(accept_conflict_t c);
const char *accept_package_name(accept_package_kind_t k);

/*
** The report as JSON (new reference, NULL only when memory runs out):
** {"ok", "decision", "outcome", "refusal", "message", "message_en",
**  "document": {"format", "source", "file_id", "version", "function",
**               "number", "date", "supplier_inn", "supplier_name"},
**  "counts": {"document", "delivery", "matched", "missing", "extra",
**             "duplicates", "invalid", "packages", "conflicts", "accepted",
**             "already_in_stock"},
**  "missing": [{"ki", "gtin", "text", "line", "item", "index", "element"}],
**  "extra": [...], "matched": [ki...], "accepted": [ki...],
**  "duplicates": [{"side", "ki", "line", "first_line"}],
**  "invalid": [{"side", "text", "line", "error", "message", "message_en"}],
**  "packages": [{"side", "kind", "code", "line", "scanned", "message", ...}],
**  "conflicts": [{"ki", "state", "document", "message", "message_en"}]}
** "ok" is true when the outcome is not REFUSED and, for a bare comparison,
** when nothing is missing, extra, invalid or packaged.
*/
json_t *accept_report_to_json(const accept_report_t *report);

/*
** A short text for a manager, Russian or English: the document line, the
** outcome, the counts, and up to `list_max` codes of each problem list
** (0: 10). malloc'd, NUL-terminated; NULL only when memory runs out.
*/
char *accept_report_text(const accept_report_t *report, bool russian, size_t list_max);

#endif /* KASSA_POS_ACCEPT_H */
