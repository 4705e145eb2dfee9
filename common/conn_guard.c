/*
** common/conn_guard.c: the request deadline of conn_guard.h.
**
** Slots live in one doubly linked list under one mutex; the thread wakes
** every quarter of a deadline (at most every 250 ms, at least every 20 ms)
** and walks the list. A server holds at most a few hundred connections,
** so a walk costs microseconds; what matters is that the lock is the one
** conn_guard_close takes, so a shut-down descriptor is always still the
** connection's own.
*/
#include "common/conn_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct conn_guard_slot {
  struct conn_guard_slot *prev, *next;
  int fd;
  int64_t deadline_ms; /* monotonic; 0: no clock running */
  bool cut;            /* already shut down */
};

struct conn_guard {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool stopping;
  unsigned deadline_ms;
  conn_guard_slot_t *head;
  uint64_t cut;
};

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Shuts down every connection past its deadline; under the lock. */
static void sweep(conn_guard_t *g, int64_t now)
{
  for (conn_guard_slot_t *s = g->head; s; s = s->next) {
    if (s->cut || !s->deadline_ms || now < s->deadline_ms) continue;
    shutdown(s->fd, SHUT_RDWR);
    s->cut = true;
    g->cut++;
  }
}

static void *guard_main(void *arg)
{
  conn_guard_t *g = arg;
  unsigned step = g->deadline_ms / 4;
  if (step > 250) step = 250;
  if (step < 20) step = 20;
  pthread_mutex_lock(&g->lock);
  while (!g->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)step * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    int rc = pthread_cond_timedwait(&g->wake, &g->lock, &until);
    if (rc != 0 && rc != ETIMEDOUT) break;
    sweep(g, now_ms());
  }
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

int conn_guard_start(unsigned deadline_ms, conn_guard_t **out)
{
  conn_guard_t *g;
  if (!out) return -1;
  *out = NULL;
  if (!(g = calloc(1, sizeof *g))) return -1;
  g->deadline_ms = deadline_ms ? deadline_ms : 1;
  if (pthread_mutex_init(&g->lock, NULL) != 0) {
    free(g);
    return -1;
  }
  if (pthread_cond_init(&g->wake, NULL) != 0) {
    pthread_mutex_destroy(&g->lock);
    free(g);
    return -1;
  }
  if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    return -1;
  }
  *out = g;
  return 0;
}

void conn_guard_stop(conn_guard_t *g)
{
  if (!g) return;
  pthread_mutex_lock(&g->lock);
  g->stopping = true;
  pthread_cond_signal(&g->wake);
  pthread_mutex_unlock(&g->lock);
  pthread_join(g->thread, NULL);
  while (g->head) {
    conn_guard_slot_t *s = g->head;
    g->head = s->next;
    free(s);
  }
  pthread_cond_destroy(&g->wake);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

conn_guard_slot_t *conn_guard_open(conn_guard_t *g, int fd)
{
  conn_guard_slot_t *s;
  if (!g || fd < 0 || !(s = calloc(1, sizeof *s))) return NULL;
  s->fd = fd;
  pthread_mutex_lock(&g->lock);
  s->deadline_ms = now_ms() + g->deadline_ms;
  s->next = g->head;
  if (g->head) g->head->prev = s;
  g->head = s;
  pthread_mutex_unlock(&g->lock);
  return s;
}

void conn_guard_disarm(conn_guard_t *g, conn_guard_slot_t *s)
{
  if (!g || !s) return;
  pthread_mutex_lock(&g->lock);
  s->deadline_ms = 0;
  pthread_mutex_unlock(&g->lock);
}

void conn_guard_arm(conn_guard_t *g, conn_guard_slot_t *s)
{
  if (!g || !s) return;
  pthread_mutex_lock(&g->lock);
  s->deadline_ms = now_ms() + g->deadline_ms;
  pthread_mutex_unlock(&g->lock);
}

void conn_guard_close(conn_guard_t *g, conn_guard_slot_t *s)
{
  if (!g || !s) return;
  pthread_mutex_lock(&g->lock);
  if (s->prev)
    s->prev->next = s->next;
  else
    g->head = s->next;
  if (s->next) s->next->prev = s->prev;
  pthread_mutex_unlock(&g->lock);
  free(s);
}

uint64_t conn_guard_cut_count(conn_guard_t *g)
{
  uint64_t n;
  if (!g) return 0;
  pthread_mutex_lock(&g->lock);
  n = g->cut;
  pthread_mutex_unlock(&g->lock);
  return n;
}
