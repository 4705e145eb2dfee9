/*
** ofd/emulator/admin.h: the kassa-operator subcommands (fn add, keys new,
** issue, block, status) and the helpers the server shares with them.
*/
#ifndef KASSA_OFD_EMULATOR_ADMIN_H
#define KASSA_OFD_EMULATOR_ADMIN_H

#include <stddef.h>

#include "ofd/emulator/store.h"

/* Runs the subcommand argv[0] (argv[0] is "fn", "keys", "issue", "block"
** or "status") against s. Returns the process exit code: 0 done, 1 the
** operation failed, 2 usage. */
int admin_run(store_t *s, int argc, char **argv);

/* True when argv0 names a subcommand. */
int admin_is_command(const char *argv0);

/* The identification part (KI) of a GS1 code: 01 GTIN 21 serial, everything
** before the first GS. 0 when the code is not such a code (ki = ""). */
int admin_ki(const char *km, size_t km_len, char *ki, size_t cap);

#endif
