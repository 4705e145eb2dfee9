/*
** pos/till/sync.h: bringing the till's code cache up to date from the operator's
** feed (`kassa cache sync`).
**
** The feed (ofd/registry.h) is read page by page; each page is stored with
** its "next" cursor in one transaction (cache_sync_apply), so a killed sync
** loses at most the pages in flight and the next run carries on from the
** stored cursor. The cursor is kept in the cache as "OWNER/CURSOR" (OWNER
** "*" for every owner's codes), so a sync for another owner starts over.
**
** Why a thread: fetching a page (the operator's time, the network, parsing
** the JSON) and storing one (SQLite) take about the same time, so a second
** thread fetches page N+1 while page N is stored, and a first sync of ten
** million codes takes the longer of the two instead of their sum
** (docs/BENCHMARKS.md). Pages are still stored strictly in order; the
** fetcher is at most one page ahead.
*/
#ifndef KASSA_POS_SYNC_H
#define KASSA_POS_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ofd/registry.h"
#include "pos/till/cache.h"

#define SYNC_OWNER_ALL "*"

typedef enum sync_err {
  SYNC_OK = 0,
  SYNC_ERR_ARGUMENT = -1, /* NULL, malformed owner or cursor */
  SYNC_ERR_FEED = -2,     /* a page could not be fetched: result.feed_rc, registry_last_error */
  SYNC_ERR_CACHE = -3,    /* a page could not be stored: result.cache_rc, cache_last_error */
  SYNC_ERR_NO_MEMORY = -4,
} sync_err_t;

typedef struct sync_result {
  uint64_t codes;                     /* codes stored by this run */
  unsigned pages;                     /* pages stored by this run */
  double seconds;                     /* wall time of the run */
  int feed_rc;                        /* registry_err_t when SYNC_ERR_FEED */
  int cache_rc;                       /* cache_err_t when SYNC_ERR_CACHE */
  char cursor[CACHE_CURSOR_MAX + 1];  /* "OWNER/CURSOR" of the last page stored (or the start) */
  char last[REGISTRY_CURSOR_MAX + 1]; /* the feed's newest change at the last page */
} sync_result_t;

/* Called after each stored page (in the caller's thread). */
typedef void (*sync_progress_fn)(void *user, const registry_page_t *page, uint64_t codes,
                                 unsigned pages, double seconds);

/*
** Stores the feed's pages after `after` (a feed cursor; NULL, "" or "0":
** from the start) until the feed says no more. owner: an INN, or NULL/""
** for every owner. limit: codes per page (0: REGISTRY_PAGE_LIMIT). Uses
** reg and c from this thread and one helper thread; neither may be used
** elsewhere meanwhile. Returns 0 or a sync_err_t; *result says how far it
** got either way (what was stored stays stored).
*/
int sync_run(cache_t *c, registry_t *reg, const char *owner, const char *after, unsigned limit,
             sync_progress_fn progress, void *user, sync_result_t *result);

/*
** The cache's stored cursor split into owner ("*" or an INN) and the feed
** cursor; false when stored is not one.
*/
bool sync_cursor_split(const char *stored, char *owner, size_t owner_size, char *cursor,
                       size_t cursor_size);

#endif
