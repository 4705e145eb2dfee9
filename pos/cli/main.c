/*
** main.c: the `kassa` program: global options, configuration, dispatch.
**
** Global options may appear anywhere on the line and apply to every
** command: --config FILE (default: /etc/kassa/kassa.conf for an installed
** kassa, the source tree's config/kassa.conf for the build directory's,
** common/paths.h; a missing default leaves the built-in defaults) and
** --data DIR (also KASSA_DATA); --config also from KASSA_CONFIG.
*/
#include "common/paths.h"
#include "common/version.h"
#include "pos/cli/cli.h"
#include "pos/till/config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
  const char *name;
  int (*run)(const kassa_config_t *cfg, int argc, char **argv);
  const char *summary;
} command_t;

static const command_t commands[] = {
    {"init", cli_init, "a new till in one command: FN, registration, keys, catalogue, cache"},
    {"code", cli_code, "parse, repair and validate marking codes (kassa code parse)"},
    {"demo", cli_demo, "run the store-day demonstration on the demo codes"},
    {"scan", cli_scan, "read codes from scanners or pictures; list scanners (kassa scan)"},
    {"fn", cli_fn, "the fiscal storage: init, register, status, close"},
    {"shift", cli_shift, "open or close the shift"},
    {"fd", cli_fd, "fiscal documents in the archive: list, show, dump, copy"},
    {"report", cli_report, "X-report (state report) or Z-report (shift close) with totals"},
    {"cash", cli_cash, "cash put into or taken out of the drawer"},
    {"correction", cli_correction, "a correction receipt (income or refund of income)"},
    {"ofd", cli_ofd, "what is owed to the OFD and OISM: status, flush, keys"},
    {"batch", cli_batch, "remote shops: export, upload and status of the notification batch"},
    {"sale", cli_sale, "the receipt being built: open, add, remove, show, pay, cancel"},
    {"accept", cli_accept, "goods acceptance: compare a UTD or list with the scanned codes"},
    {"return", cli_return, "a sale return with or without the code (manager PIN)"},
    {"fsck", cli_fsck, "check the data directory's invariants (changes nothing)"},
    {"remark", cli_remark, "remark a good whose code is damaged (manager PIN)"},
    {"serve", cli_serve, "the till as a service: HTTP JSON API and local-module endpoints"},
    {"cache", cli_cache, "the local code cache: status, sync, catalogue, lookup, blocks, pool"},
    {"print", cli_print, "a receipt on an ESC/POS printer (58/80 mm); its QR code as PNG"},
    {"store", cli_store, "the store node the lanes share (PostgreSQL): serve, conflicts"},
    {"device", cli_device, "a cash register (Shtrih-M): probe what it says about itself"},
};

static void usage(FILE *out)
{
  fprintf(out,
          "kassa %s: the fiscal module of a cash register for marked goods\n"
          "\n"
          "usage: kassa [--config FILE] [--data DIR] COMMAND [ARGS...]\n"
          "\n"
          "commands:\n",
          KASSA_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n"
          "global options:\n"
          "  --config FILE  settings file (default %s; env KASSA_CONFIG)\n"
          "  --data DIR     data directory (default from the config; env KASSA_DATA)\n"
          "  --help         this text; `kassa COMMAND --help` explains a command\n"
          "  --version      print the version\n",
          kassa_default_config());
}

/*
** The global options, wherever they are on the line (getopt_long in
** "return in order" mode, its own messages off): --config and --data are
** taken out; everything else, the command's own options included, stays in
** order for the command's getopt_long. --help, -h and --version are the
** program's only before the command name (after it they are the
** command's). Returns 0, or 2 after a message for a usage error.
*/
static const struct option global_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"data", required_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Whether --help or -h is among args (before a "--"). */
static bool asks_help(int argc, char **args)
{
  for (int i = 0; i < argc && strcmp(args[i], "--"); i++)
    if (!strcmp(args[i], "--help") || !strcmp(args[i], "-h")) return true;
  return false;
}

int main(int argc, char **argv)
{
  const char *config_path = getenv("KASSA_CONFIG"), *data_dir = getenv("KASSA_DATA");
  if (config_path && !*config_path) config_path = NULL;
  char **rest = calloc((size_t)argc + 2, sizeof *rest);
  int nrest = 0, taken = 0, opt, status = 2;
  bool command_seen = false, want_help = false, want_version = false;
  if (!rest) return 1;
  rest[nrest++] = argv[0];
  opterr = 0;
  optind = 0;
  while ((opt = getopt_long(argc, argv, "-:h", global_options, NULL)) != -1) {
    int at = optind - 1; /* the element just read, once getopt is past it */
    if (opt == 'c' || opt == 'd') {
      *(opt == 'c' ? &config_path : &data_dir) = optarg;
    } else if (opt == ':') {
      fprintf(stderr, "kassa: %s needs a value\n", argv[at]);
      goto done;
    } else if (opt == 1) {
      command_seen = true;
      rest[nrest++] = optarg;
    } else if (!command_seen && (opt == 'h' || opt == 'V')) {
      *(opt == 'h' ? &want_help : &want_version) = true;
    } else if (at > taken) {
      /* The command's: an option kassa does not know (a short cluster
      ** reports each letter; the element is kept once) or --help after it. */
      rest[nrest++] = argv[at];
    }
    if (optind - 1 > taken) taken = optind - 1;
  }
  if (optind > 0 && optind <= argc && !strcmp(argv[optind - 1], "--")) rest[nrest++] = "--";
  while (optind < argc) rest[nrest++] = argv[optind++];
  rest[nrest] = NULL;
  argc = nrest;
  argv = rest;

  if (want_version) {
    printf("kassa %s\n", KASSA_VERSION);
    status = 0;
    goto done;
  }
  if (want_help || argc < 2 || !strcmp(argv[1], "help")) {
    usage(stdout);
    status = argc < 2 && !want_help ? 2 : 0;
    goto done;
  }

  kassa_config_t cfg;
  char err[512];
  kassa_config_defaults(&cfg);
  if (kassa_config_load(&cfg, config_path ? config_path : kassa_default_config(),
                        config_path != NULL, err, sizeof err) != 0) {
    fprintf(stderr, "kassa: %s\n", err);
    goto done;
  }
  if (data_dir) snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
  if (kassa_config_apply_timezone(&cfg, err, sizeof err) != 0) {
    fprintf(stderr, "kassa: %s\n", err);
    goto done; /* status 2: a configuration error */
  }

  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (!strcmp(argv[1], commands[i].name)) {
      optind = 0; /* the command's getopt_long starts afresh */
      if (asks_help(argc - 2, argv + 2)) {
        /* `kassa sale pay --help`: the command's usage (it covers every
        ** subcommand's options), exit 0, whatever else is on the line. */
        char *help[] = {argv[1], "--help", NULL};
        status = commands[i].run(&cfg, 2, help);
        goto done;
      }
      status = commands[i].run(&cfg, argc - 1, argv + 1);
      goto done;
    }
  }
  fprintf(stderr, "kassa: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
done:
  free(rest);
  return status;
}
