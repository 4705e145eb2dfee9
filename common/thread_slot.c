/*
** common/thread_slot.c: one object per thread (see thread_slot.h).
*/
#include "common/thread_slot.h"

#include <stdlib.h>

void *thread_slot_get(thread_slot_t *slot, size_t size)
{
  if (!slot) return NULL;
  if (!__atomic_load_n(&slot->made, __ATOMIC_ACQUIRE)) {
    pthread_mutex_lock(&slot->lock);
    if (!slot->made) {
      slot->rc = pthread_key_create(&slot->key, slot->destroy);
      __atomic_store_n(&slot->made, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&slot->lock);
  }
  if (slot->rc != 0) return NULL;
  void *object = pthread_getspecific(slot->key);
  if (object || size == 0) return object;
  if (!(object = calloc(1, size))) return NULL;
  if (pthread_setspecific(slot->key, object) != 0) {
    free(object);
    return NULL;
  }
  return object;
}
