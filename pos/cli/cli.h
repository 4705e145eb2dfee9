/*
** cli.h: the `kassa` subcommands. main.c parses the global options (--config,
** --data), loads the configuration and hands the rest of the command line to
** one of these. Each returns the process exit status: 0 success, 1 the work
** failed (a code refused, a check failed), 2 a usage error.
*/
#ifndef KASSA_POS_CLI_H
#define KASSA_POS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "pos/till/config.h"

int cli_code(const kassa_config_t *cfg, int argc, char **argv);
int cli_demo(const kassa_config_t *cfg, int argc, char **argv);
int cli_scan(const kassa_config_t *cfg, int argc, char **argv);
int cli_fn(const kassa_config_t *cfg, int argc, char **argv);
int cli_shift(const kassa_config_t *cfg, int argc, char **argv);
int cli_fd(const kassa_config_t *cfg, int argc, char **argv);
int cli_ofd(const kassa_config_t *cfg, int argc, char **argv);
int cli_batch(const kassa_config_t *cfg, int argc, char **argv);
/* kassa report x|z, cash in|out, correction (cli_fiscal.c). */
int cli_report(const kassa_config_t *cfg, int argc, char **argv);
int cli_cash(const kassa_config_t *cfg, int argc, char **argv);
int cli_correction(const kassa_config_t *cfg, int argc, char **argv);

/* Shared by `kassa fn|shift|fd|ofd|batch` (defined in cli_ofd.c): open
** DATA/fn.db (1 with the reason on stderr when it cannot be). */
struct fn;
int cli_delivery_open_fn(const kassa_config_t *cfg, struct fn **fn);
int cli_sale(const kassa_config_t *cfg, int argc, char **argv);
int cli_accept(const kassa_config_t *cfg, int argc, char **argv);
int cli_return(const kassa_config_t *cfg, int argc, char **argv);
int cli_fsck(const kassa_config_t *cfg, int argc, char **argv);
int cli_remark(const kassa_config_t *cfg, int argc, char **argv);
int cli_serve(const kassa_config_t *cfg, int argc, char **argv);
int cli_cache(const kassa_config_t *cfg, int argc, char **argv);
/* `kassa print receipt|qr` (pos/cli/cli_print.c). */
int cli_print(const kassa_config_t *cfg, int argc, char **argv);

/* A decimal number in [min, max] into *out: digits only (no sign, no
** space), no overflow; false for anything else, NULL included. */
bool cli_number(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/*
** Decode the escapes of `kassa code parse --escaped` in place: \x1d (any
** \xHH), \u001d (any \uXXXX, written as UTF-8) and \\. Unknown escapes stay
** as written. Returns the new length.
*/
size_t cli_unescape(char *s, size_t len);

/* Opens the till of cfg's data directory for a command (pos/till/till.h);
** prints why not and returns 1 when it cannot, else 0. */
struct till;
int cli_open_till(const kassa_config_t *cfg, struct till **t);

#endif
