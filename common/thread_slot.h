/*
** common/thread_slot.h: one object per thread, made at the thread's first
** use and destroyed when the thread ends (pthread keys, made once per
** slot). For state that must not be shared between threads but costs too
** much to make at every call: fiscal/tlv.c's iconv descriptors, the HMAC
** contexts of fiscal/crypto.c.
*/
#ifndef KASSA_COMMON_THREAD_SLOT_H
#define KASSA_COMMON_THREAD_SLOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct thread_slot {
  pthread_mutex_t lock; /* guards the key's making */
  bool made;            /* the key was made (or failed: rc) */
  int rc;
  pthread_key_t key;
  void (*destroy)(void *object); /* at a thread's end, with its object */
} thread_slot_t;

/* A static slot whose objects destroy() frees at a thread's end. */
#define THREAD_SLOT_INIT(destroy_fn)                                                               \
  {                                                                                                \
    PTHREAD_MUTEX_INITIALIZER, false, 0, 0, destroy_fn                                             \
  }

/*
** The calling thread's object in slot: made zeroed (calloc, size bytes) at
** the first call with size > 0; with size 0 only looked up (NULL when this
** thread has none). NULL without memory or a key.
*/
void *thread_slot_get(thread_slot_t *slot, size_t size);

#endif
