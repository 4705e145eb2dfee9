/*
** bench_fn_clock.h: how much of a receipt is the FN's, timed at the FN's
** own interface.
**
** The till talks to its FN through a backend (fiscal/fn.h, fn_backend_t):
** the emulator here, a register's driver in a shop. A receipt's time is
** then two parts that answer different questions: what the FN takes to
** answer the calls (the emulator's SQLite transactions, its durable
** commit, its signatures: on a real register, the device's work), and what
** the till takes around them (parsing, its basket and cache commits). So
** bench_fn_clock_install() puts a timing backend in front of a till's FN:
** every call a receipt makes (status, the code's check and accept, the
** receipt, reading a document or a notification) is passed to the real
** backend with the same self and timed; every other call goes straight
** through. One FN per process (the timed backend's pointer is global).
** The receipt the till last asked for is kept, so bench_fn_alone_rate()
** can ask the FN for it again with no till around it: the rate the FN
** alone allows, measured rather than inferred.
*/
#ifndef KASSA_BENCH_FN_CLOCK_H
#define KASSA_BENCH_FN_CLOCK_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fiscal/fn.h"

/* The calls timed, by name. */
enum {
  BENCH_FN_STATUS,
  BENCH_FN_KM_CHECK,
  BENCH_FN_KM_ACCEPT,
  BENCH_FN_RECEIPT_MAKE,
  BENCH_FN_DOCUMENT_GET,
  BENCH_FN_NOTIFICATION_NEXT,
  BENCH_FN__CALLS
};
static const char *const bench_fn_names[BENCH_FN__CALLS] = {
    "status", "km_check", "km_accept", "receipt_make", "document_get", "notification_next"};

typedef struct bench_fn_counts {
  uint64_t calls[BENCH_FN__CALLS];
  double seconds[BENCH_FN__CALLS];
} bench_fn_counts_t;

static bench_fn_counts_t bench_fn;
static const fn_backend_t *bench_fn_real;
static fn_backend_t bench_fn_backend;

static double bench_fn_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs `call` on the real backend, adding its wall time to `which`. */
#define BENCH_FN_TIMED(which, call)                                                                \
  do {                                                                                             \
    double at_ = bench_fn_now();                                                                   \
    int rc_ = bench_fn_real->call;                                                                 \
    bench_fn.seconds[which] += bench_fn_now() - at_;                                               \
    bench_fn.calls[which]++;                                                                       \
    return rc_;                                                                                    \
  } while (0)

static int bench_fn_status(void *self, fn_status_t *out)
{
  BENCH_FN_TIMED(BENCH_FN_STATUS, status(self, out));
}
static int bench_fn_km_check(void *self, const doc_item_t *item, fn_km_check_t *out)
{
  BENCH_FN_TIMED(BENCH_FN_KM_CHECK, km_check(self, item, out));
}
static int bench_fn_km_accept(void *self, const char *km, size_t km_len, bool accept)
{
  BENCH_FN_TIMED(BENCH_FN_KM_ACCEPT, km_accept(self, km, km_len, accept));
}
/* The last receipt the till asked for, kept whole (its lines copied) so
** the FN can be asked for it again without the till: bench_fn_order. */
#define BENCH_FN_LINES 8
static doc_item_t bench_fn_lines[BENCH_FN_LINES];
static fn_receipt_order_t bench_fn_order;

static int bench_fn_receipt_make(void *self, const struct fn_receipt_order *o, fn_doc_result_t *out)
{
  if (o && o->count <= BENCH_FN_LINES && !o->correction) {
    memcpy(bench_fn_lines, o->items, o->count * sizeof *o->items);
    bench_fn_order = *o;
    bench_fn_order.items = bench_fn_lines;
    bench_fn_order.cashier = NULL;
  }
  BENCH_FN_TIMED(BENCH_FN_RECEIPT_MAKE, receipt_make(self, o, out));
}
static int bench_fn_document_get(void *self, uint32_t number, fn_document_t *out)
{
  BENCH_FN_TIMED(BENCH_FN_DOCUMENT_GET, document_get(self, number, out));
}
static int bench_fn_notification_next(void *self, fn_notification_t *out)
{
  BENCH_FN_TIMED(BENCH_FN_NOTIFICATION_NEXT, notification_next(self, out));
}

/* Puts the timing backend in front of fn's (whose calls it then makes).
** 0, or -1 when fn has no backend or one is already timed, or when the
** backend lacks receipt_make (its receipts would not be one timed call). */
static int bench_fn_clock_install(fn_t *fn)
{
  if (!fn || !fn->backend || bench_fn_real || !fn->backend->receipt_make) return -1;
  bench_fn_real = fn->backend;
  bench_fn_backend = *fn->backend;
  bench_fn_backend.status = bench_fn_status;
  bench_fn_backend.km_check = bench_fn_km_check;
  bench_fn_backend.km_accept = bench_fn_km_accept;
  bench_fn_backend.receipt_make = bench_fn_receipt_make;
  bench_fn_backend.document_get = bench_fn_document_get;
  bench_fn_backend.notification_next = bench_fn_notification_next;
  fn->backend = &bench_fn_backend;
  return 0;
}

/* The backend fn had before bench_fn_clock_install(), back in place. */
static void bench_fn_clock_remove(fn_t *fn)
{
  if (fn && bench_fn_real && fn->backend == &bench_fn_backend) fn->backend = bench_fn_real;
  bench_fn_real = NULL;
}

/*
** The FN alone: the till's last receipt (bench_fn_order) made again `count`
** times straight through fn's backend, with the calls the till makes for
** it that change the FN: each marked line's code checked and accepted,
** then the receipt in one call. The lines are the till's own (the same
** code each time: the FN keeps no list of codes sold, and its table of
** checked codes is emptied by each receipt). Receipts a second, or 0 when
** no receipt was kept or the FN refused one.
*/
static double bench_fn_alone_rate(fn_t *fn, unsigned count)
{
  if (!fn || !bench_fn_order.items || bench_fn_order.count == 0 || count == 0) return 0;
  double at = bench_fn_now();
  for (unsigned k = 0; k < count; k++) {
    fn_km_check_t check;
    fn_doc_result_t res;
    for (size_t i = 0; i < bench_fn_order.count; i++) {
      const doc_item_t *it = &bench_fn_lines[i];
      if (it->marked &&
          (fn_km_check(fn, it, &check) != 0 || fn_km_accept(fn, it->km, it->km_len, true) != 0))
        return 0;
    }
    if (fn_receipt_make(fn, &bench_fn_order, &res) != 0) return 0;
  }
  return count / (bench_fn_now() - at);
}

/* Wall time in the timed calls since `since` (a copy of bench_fn). */
static double bench_fn_seconds(const bench_fn_counts_t *since)
{
  double s = 0;
  for (int k = 0; k < BENCH_FN__CALLS; k++) s += bench_fn.seconds[k] - since->seconds[k];
  return s;
}

#endif /* KASSA_BENCH_FN_CLOCK_H */
