/*
** bench_cache.h: what the code-cache benchmarks (cache_lookup, till_bench)
** share: a monotonic clock, the sort order for timings, the process's peak
** resident memory, and the cache filled with N codes the way `kassa cache
** sync` writes them (cache_sync_apply in pages of PAGE rows).
*/
#ifndef KASSA_BENCH_CACHE_H
#define KASSA_BENCH_CACHE_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "pos/till/cache.h"

#define PAGE  10000u
#define T0_MS ((int64_t)1767225600 * 1000)

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static long rss_peak_kb(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  fclose(f);
  return kb;
}

/* Code i's sync row; ki (40 bytes, kept until the page is applied) gets its
** identification part, which the row points at. */
typedef cache_sync_row_t (*bench_row_t)(uint64_t i, char ki[40]);

/* Codes 0 .. n-1 into c; with progress, the count and rate on stderr every
** million codes. 0, or -1 with the cache's error on stderr; *seconds (when
** not NULL) the time it took. */
static int bench_fill(cache_t *c, uint64_t n, bench_row_t row, bool progress, double *seconds)
{
  static char kis[PAGE][40];
  static cache_sync_row_t rows[PAGE];
  double t = now_s();
  for (uint64_t base = 0; base < n; base += PAGE) {
    unsigned count = (unsigned)(n - base < PAGE ? n - base : PAGE);
    char cursor[32];
    for (unsigned j = 0; j < count; j++) rows[j] = row(base + j, kis[j]);
    snprintf(cursor, sizeof cursor, "*/%" PRIu64, base + count);
    if (cache_sync_apply(c, rows, count, cursor, T0_MS) != 0) {
      fprintf(stderr, "sync apply failed: %s\n", cache_last_error(c));
      return -1;
    }
    if (progress && (base / PAGE) % 100 == 99) {
      fprintf(stderr, "  %" PRIu64 " codes, %.0f/s\r", base + count,
              (double)(base + count) / (now_s() - t));
    }
  }
  if (seconds) *seconds = now_s() - t;
  return 0;
}

#endif
