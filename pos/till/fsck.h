/*
** fsck.h: `kassa fsck`, the invariants of a data directory, checked without
** changing anything.
**
** What a till promises, written as checks a store manager or a support
** engineer can run after a power cut, a full disk or a suspicious day:
**
**   documents   numbers 1..N all in the archive, each once, each the form
**               its row says (1040 inside = the row's number);
**   signs       every fiscal sign (1077) verifies with the FN's secret;
**   outbox      the FN's count of unsent documents and its first unsent
**               number equal what the archive's acknowledged flags say;
**   sales       walking the receipts in order, no marked code is sold
**               twice without a return in between, and no code is returned
**               that was not sold;
**   cache       every code the archive says is sold now is SOLD in the
**               code cache with that receipt's number, and no other row of
**               the cache's table says SOLD (rows read directly, not the
**               cache's counters); documents after the
**               cache's replay pointer are reported as waiting for replay
**               (the next till start applies them), not as errors;
**   basket      no basket is stuck "closing" with the FN's receipt done;
**   integrity   every database (fn.db, cache.db, till.db) opens and passes
**               SQLite's PRAGMA integrity_check.
**
** The archive is read through the FN interface; the signature check needs
** the emulator's secret (fn_emu_read_secret), so on a real FN that check is
** the operator's and fsck says it skipped it.
*/
#ifndef KASSA_POS_FSCK_H
#define KASSA_POS_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSCK_MAX_PROBLEMS 64

typedef struct fsck_report {
  uint32_t documents, receipts, marked_sales, returns, sold_now;
  uint32_t cache_applied; /* the cache's replay pointer */
  uint32_t unsent_documents;
  size_t problem_count; /* all found; the first FSCK_MAX_PROBLEMS are kept */
  struct {
    char check[16]; /* "documents", "signs", "outbox", "sales", "cache", "basket", "integrity" */
    char detail[240];
  } problems[FSCK_MAX_PROBLEMS];
  char notes[4][240]; /* things worth knowing that are not errors */
  size_t note_count;
} fsck_report_t;

/*
** Checks the data directory (fn.db, cache.db, till.db). Returns 0 when the
** checks ran (clean or not: see problem_count), -1 with err filled when
** the directory cannot be read at all. Changes nothing.
*/
int fsck_run(const char *data_dir, fsck_report_t *out, char *err, size_t err_size);

struct fn;

/*
** The archive's tail, checked when a service starts (issue 18): the last
** `count` documents are present, each is the number and form its row says,
** and each fiscal sign verifies (when the emulator's secret can be read
** from fn_path; NULL skips the signs). 0, or -1 with what is wrong in err
** (English, with the document's number).
*/
int fsck_archive_tail(struct fn *fn, const char *fn_path, uint32_t count, char *err,
                      size_t err_size);

#endif /* KASSA_POS_FSCK_H */
