/*
** main.c: the `kassa` program: global options, configuration, dispatch.
**
** Global options may appear anywhere on the line and apply to every
** command: --config FILE (default: config/kassa.conf of this source tree,
** then built-in defaults) and --data DIR (also KASSA_DATA).
*/
#include "pos/cli/cli.h"
#include "pos/till/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KASSA_DEFAULT_CONFIG
#define KASSA_DEFAULT_CONFIG "config/kassa.conf"
#endif
#define KASSA_VERSION "0.1.0"

typedef struct command {
  const char *name;
  int (*run)(const kassa_config_t *cfg, int argc, char **argv);
  const char *summary;
} command_t;

static const command_t commands[] = {
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
          "  --config FILE  settings file (default %s)\n"
          "  --data DIR     data directory (default from the config; env KASSA_DATA)\n"
          "  --help         this text; `kassa COMMAND --help` explains a command\n"
          "  --version      print the version\n",
          KASSA_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
  const char *config_path = NULL, *data_dir = getenv("KASSA_DATA");
  /* Pull the global options out wherever they are; keep the rest in order. */
  int rest = 0;
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "--data")) && i + 1 >= argc) {
      fprintf(stderr, "kassa: %s needs a value\n", argv[i]);
      return 2;
    }
    if (!strcmp(argv[i], "--config"))
      config_path = argv[++i];
    else if (!strcmp(argv[i], "--data"))
      data_dir = argv[++i];
    else
      argv[++rest] = argv[i];
  }
  argc = rest + 1;

  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("kassa %s\n", KASSA_VERSION);
    return 0;
  }

  kassa_config_t cfg;
  char err[512];
  kassa_config_defaults(&cfg);
  if (kassa_config_load(&cfg, config_path ? config_path : KASSA_DEFAULT_CONFIG, config_path != NULL,
                        err, sizeof err) != 0) {
    fprintf(stderr, "kassa: %s\n", err);
    return 2;
  }
  if (data_dir) snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
  if (kassa_config_apply_timezone(&cfg, err, sizeof err) != 0) {
    fprintf(stderr, "kassa: %s\n", err);
    return 2;
  }

  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(&cfg, argc - 1, argv + 1);
  fprintf(stderr, "kassa: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
