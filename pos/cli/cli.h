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

#include <jansson.h>

#include "pos/till/config.h"

int cli_code(const kassa_config_t *cfg, int argc, char **argv);
/* `kassa init [--demo]`: a new till in one command (pos/cli/cli_init.c). */
int cli_init(const kassa_config_t *cfg, int argc, char **argv);
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
** DATA/fn.db, or the register `[fn] backend` names (1 with the reason on
** stderr when it cannot be). */
struct fn;
int cli_delivery_open_fn(const kassa_config_t *cfg, struct fn **fn);
int cli_sale(const kassa_config_t *cfg, int argc, char **argv);
int cli_accept(const kassa_config_t *cfg, int argc, char **argv);
int cli_return(const kassa_config_t *cfg, int argc, char **argv);
int cli_fsck(const kassa_config_t *cfg, int argc, char **argv);
int cli_remark(const kassa_config_t *cfg, int argc, char **argv);
int cli_serve(const kassa_config_t *cfg, int argc, char **argv);
int cli_cache(const kassa_config_t *cfg, int argc, char **argv);
int cli_store(const kassa_config_t *cfg, int argc, char **argv);
/* `kassa print receipt|qr` (pos/cli/cli_print.c). */
int cli_print(const kassa_config_t *cfg, int argc, char **argv);
/* `kassa device probe` (pos/cli/cli_device.c): a cash register's facts. */
int cli_device(const kassa_config_t *cfg, int argc, char **argv);

/*
** Every command reads its options from a table of these, through
** cli_parse_options (or cli_read_options where it words its own errors).
** A row: the long name without "--" (--name VALUE and --name=VALUE), the
** short letter (-x, -x VALUE) or 0, and where the option goes: value
** non-NULL means the option takes one and *value is set to it (the last
** given wins); otherwise *flag is set to true.
*/
typedef struct cli_option {
  const char *name;
  int letter;
  const char **value;
  bool *flag;
} cli_option_t;

/* At most this many rows in one table (more is a bug: abort()). */
#define CLI_OPTIONS_MAX 24

/* What cli_read_options found. */
enum { CLI_OPTIONS_OK = 0, CLI_OPTION_NO_VALUE, CLI_OPTION_UNKNOWN };

/*
** cli_read_options: the options of argv[1..argc) (argv[0] is the command
** or verb) by getopt_long, which prints nothing: options and operands may
** come in any order, "--" ends the options, and the operands are moved
** behind the options (argv is reordered; getopt's optind is restarted,
** whatever read the line before). Returns CLI_OPTIONS_OK with *at the index of the
** first operand (argc when there is none); or, at the first error,
** CLI_OPTION_NO_VALUE (an option that takes a value is last) or
** CLI_OPTION_UNKNOWN (not in the table, or --flag=value), with *at the
** index of the option at fault. The options before the fault on the line
** are set, none after it (so a --help before a fault can still win).
**
** cli_count_options: cli_read_options that also counts, into given[k]
** (count entries, zeroed first), how many times row k was on the line
** before the end or the fault: for commands that refuse an option given
** twice, or more than one of a group.
**
** cli_parse_options: cli_read_options, printing the error most commands
** print:
** "kassa: X needs a value", or "kassa COMMAND: unknown option X" and a
** blank line and usage ("kassa: unknown option X" alone where command
** and usage are NULL). With first_operand NULL the command takes no
** operand, and one is refused as an unknown option; otherwise
** *first_operand is the index of the first. Returns 0, or 2 after the
** message.
**
** cli_no_extra: 0 when argv[from..argc) is empty, else 2 after the same
** unknown-option message naming argv[from].
*/
int cli_read_options(int argc, char **argv, const cli_option_t *options, size_t count, int *at);
int cli_count_options(int argc, char **argv, const cli_option_t *options, size_t count, int *at,
                      unsigned *given);
int cli_parse_options(const char *command, const char *usage, int argc, char **argv,
                      const cli_option_t *options, size_t count, int *first_operand);
int cli_no_extra(const char *command, const char *usage, int argc, char **argv, int from);

/*
** The options and at most one operand (into *operand, left alone when
** there is none) of `kassa sale|return` and `kassa print receipt|qr`,
** whose messages name no command: cli_parse_options(NULL, NULL, ...)'s,
** or "kassa: unexpected argument X" for a second operand. 0, or 2 after
** the message.
*/
int cli_parse_verb(int argc, char **argv, const cli_option_t *options, size_t count,
                   const char **operand);

/*
** A secret that must never be required on a command line (it would show
** in `ps` and the shell's history): the option's value when one was given
** (kept for scripts), else the first line of `file` (--pin-file,
** --api-key-file), else the environment variable `env` (KASSA_PIN,
** KASSA_API_KEY), else "". 0 with out filled, or -1 after a message naming
** `command` when the file cannot be read or the secret does not fit.
*/
int cli_secret(const char *command, const char *given, const char *file, const char *env, char *out,
               size_t size);

/* After a write that failed: when the data directory is full or read-only
** (pos/till/disk.h), one line saying so, in Russian and English, on stderr. */
void cli_disk_why(const char *data_dir);

/* Prints j (stolen; NULL is an allocation that failed) as one line of
** compact JSON on stdout: 0, or -1 when it could not be built. */
int cli_print_json(json_t *j);

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

/*
** kassa-operator as a child (pos/cli/cli_operator.c), for `kassa demo` and
** `kassa init --demo`.
**
** cli_operator_find: the program's path into path: $KASSA_OPERATOR, else
** kassa-operator next to this kassa.
** cli_operator_run: `kassa-operator --data DATA ARGS...` (args NULL-ended,
** at most 12) to its end; its stdout into out (size bytes, may be NULL).
** Returns the exit status, -1 when it could not run.
** cli_operator_start: the server on the four ports (ofd, oism, keys,
** http) of 127.0.0.1, its stdout (and stderr) to log (NULL: stdout to
** /dev/null); detach: in its own session, so it outlives the caller.
** Returns its pid once every port listens, -1 (nothing left running) when
** they do not within 10 s.
** cli_operator_stop: SIGTERM and wait, for a child that was not detached.
** cli_free_port: a free loopback port (0 when none); cli_port_open: whether
** HOST:PORT accepts a connection (host NULL or "": 127.0.0.1).
*/
#include <stdint.h>
#include <sys/types.h>

typedef struct cli_operator_start {
  const char *path, *data, *log;
  uint16_t ports[4];
  const char *ofd_inn, *api_key;
  bool detach;
} cli_operator_start_t;

void cli_operator_find(char *path, size_t size);
int cli_operator_run(const char *path, const char *data, char *out, size_t size,
                     const char *const *args);
pid_t cli_operator_start(const cli_operator_start_t *o);
void cli_operator_stop(pid_t pid);
uint16_t cli_free_port(void);
bool cli_port_open(const char *host, uint16_t port);

#endif
