/*
** fn_fixture.h: a throw-away fiscal storage for tests.
**
** Tests of the FN emulator, the outbox, the delivery client and the crash
** writer all need the same thing: an FN-M emulator file in a fresh temp
** directory whose clock the test moves by hand, and genuine crypto tails
** (base64 of a signature or an HMAC). They share this instead of each
** carrying a copy.
*/
#ifndef KASSA_TESTS_FN_FIXTURE_H
#define KASSA_TESTS_FN_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn_emu.h"

typedef struct fn_fixture {
  char dir[64];             /* the temp directory                     */
  char path[128];           /* dir/fn.db                              */
  uint32_t now;             /* the FN's clock: tests set it directly  */
  fn_emu_options_t options; /* clock = now; reused when reopening     */
  fn_t *fn;
} fn_fixture_t;

/* Create dir /tmp/kassa-TAG-XXXXXX, an unregistered FN numbered fn_number
** in it, and open it with a clock reading fx->now (starting at `now`).
** Returns 0, or -1 with nothing left behind worth keeping. */
int fn_fixture_create(fn_fixture_t *fx, const char *tag, const char *fn_number, uint32_t now);

/* Close the FN and remove its file, WAL, shared memory and directory. */
void fn_fixture_destroy(fn_fixture_t *fx);

/* Standard base64 with padding, NUL-terminated; returns the length. `out`
** holds 4 * ceil(n / 3) + 1 bytes. */
size_t fn_fixture_base64(const uint8_t *in, size_t n, char *out);

#endif
