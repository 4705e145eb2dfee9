/*
** pos/till/sync.c: the code cache's sync from the operator's feed (see sync.h).
**
** Two threads and two page slots. The fetcher fills a free slot with the
** next page (registry_fetch_page: HTTP and JSON) and marks it full; the
** storer (the caller's thread) stores full slots in order
** (cache_sync_apply, one transaction with the page's cursor) and frees
** them. Each thread touches a slot only while it owns it (free: the
** fetcher, full: the storer), so the pages need no lock of their own; the
** mutex guards the flags. The cursor a fetch asks with is the previous
** page's "next", which the fetcher reads from its own page before handing
** it over.
*/
#include "pos/till/sync.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct fetcher {
  registry_t *reg;
  const char *owner;
  unsigned limit;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  registry_page_t page[2];
  int rc[2];
  bool full[2]; /* the slot holds a fetched page the storer has not released */
  bool stop;    /* the storer gave up: fetch no more */
  char after[REGISTRY_CURSOR_MAX + 1];
} fetcher_t;

static double mono_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool cursor_char(char ch)
{
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '.';
}

bool sync_cursor_split(const char *stored, char *owner, size_t owner_size, char *cursor,
                       size_t cursor_size)
{
  const char *slash = stored ? strrchr(stored, '/') : NULL;
  if (!slash || slash == stored || (size_t)(slash - stored) >= owner_size ||
      strlen(slash + 1) >= cursor_size || !slash[1])
    return false;
  for (const char *p = slash + 1; *p; p++) {
    if (!cursor_char(*p)) return false;
  }
  memcpy(owner, stored, (size_t)(slash - stored));
  owner[slash - stored] = '\0';
  snprintf(cursor, cursor_size, "%s", slash + 1);
  return true;
}

static void *fetch_loop(void *arg)
{
  fetcher_t *f = arg;
  for (unsigned i = 0;; i++) {
    unsigned s = i % 2;
    bool stop, more;
    int rc;
    pthread_mutex_lock(&f->mu);
    while (f->full[s] && !f->stop) pthread_cond_wait(&f->cv, &f->mu);
    stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    if (stop) break;
    rc = registry_fetch_page(f->reg, f->owner, f->after, f->limit, &f->page[s]);
    more = rc == 0 && f->page[s].more;
    if (rc == 0) snprintf(f->after, sizeof f->after, "%s", f->page[s].next);
    pthread_mutex_lock(&f->mu);
    f->rc[s] = rc;
    f->full[s] = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (!more) break;
  }
  return NULL;
}

/* The page's codes as the cache's rows (strings stay the page's). */
static int page_rows(const registry_page_t *page, cache_sync_row_t **rows, size_t *cap)
{
  if (page->count > *cap) {
    cache_sync_row_t *grown = realloc(*rows, page->count * sizeof **rows);
    if (!grown) return SYNC_ERR_NO_MEMORY;
    *rows = grown;
    *cap = page->count;
  }
  for (size_t i = 0; i < page->count; i++) {
    const registry_code_t *k = &page->codes[i];
    (*rows)[i] = (cache_sync_row_t){.ki = k->ki,
                                    .gtin = k->gtin,
                                    .state = (cache_op_state_t)k->state,
                                    .blocked = k->blocked,
                                    .sold = k->sold,
                                    .owner_inn = k->owner,
                                    .expire_ms = k->expire_ms,
                                    .mrp = k->mrp,
                                    .smp = k->smp};
  }
  return 0;
}

int sync_run(cache_t *c, registry_t *reg, const char *owner, const char *after, unsigned limit,
             sync_progress_fn progress, void *user, sync_result_t *out)
{
  fetcher_t f;
  pthread_t thread;
  cache_sync_row_t *rows = NULL;
  size_t cap = 0;
  double started = mono_seconds();
  int rc = 0;
  const char *who = owner && owner[0] ? owner : SYNC_OWNER_ALL;
  char cursor[CACHE_CURSOR_MAX + 1];

  if (!out) return SYNC_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (!c || !reg || strlen(who) > 12 || (after && strlen(after) > REGISTRY_CURSOR_MAX))
    return SYNC_ERR_ARGUMENT;
  memset(&f, 0, sizeof f);
  f.reg = reg;
  f.owner = owner;
  f.limit = limit;
  snprintf(f.after, sizeof f.after, "%s", after && after[0] ? after : "0");
  snprintf(out->cursor, sizeof out->cursor, "%s/%s", who, f.after);
  pthread_mutex_init(&f.mu, NULL);
  pthread_cond_init(&f.cv, NULL);
  if (pthread_create(&thread, NULL, fetch_loop, &f) != 0) {
    rc = SYNC_ERR_NO_MEMORY;
    goto destroy;
  }
  for (unsigned i = 0;; i++) {
    unsigned s = i % 2;
    registry_page_t *page = &f.page[s];
    bool more;
    pthread_mutex_lock(&f.mu);
    while (!f.full[s]) pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    if (f.rc[s] != 0) {
      out->feed_rc = f.rc[s];
      rc = SYNC_ERR_FEED;
      break;
    }
    if ((rc = page_rows(page, &rows, &cap)) != 0) break;
    snprintf(cursor, sizeof cursor, "%s/%s", who, page->next);
    if ((out->cache_rc = cache_sync_apply(c, rows, page->count, cursor, now_ms())) != 0) {
      rc = SYNC_ERR_CACHE;
      break;
    }
    memcpy(out->cursor, cursor, sizeof cursor);
    out->codes += page->count;
    out->pages++;
    snprintf(out->last, sizeof out->last, "%s", page->last);
    more = page->more;
    if (progress) progress(user, page, out->codes, out->pages, mono_seconds() - started);
    pthread_mutex_lock(&f.mu);
    f.full[s] = false;
    pthread_cond_broadcast(&f.cv);
    pthread_mutex_unlock(&f.mu);
    if (!more) break;
  }
  pthread_mutex_lock(&f.mu);
  f.stop = true;
  pthread_cond_broadcast(&f.cv);
  pthread_mutex_unlock(&f.mu);
  pthread_join(thread, NULL);
destroy:
  registry_page_free(&f.page[0]);
  registry_page_free(&f.page[1]);
  pthread_cond_destroy(&f.cv);
  pthread_mutex_destroy(&f.mu);
  free(rows);
  out->seconds = mono_seconds() - started;
  return rc;
}
