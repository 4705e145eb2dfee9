/*
** cli_init.c: `kassa init`, a till's first hour in one command.
**
** A fresh till needs, in this order: a data directory and an FN in it
** (`kassa fn init`), the FN registered with the shop's requisites (`kassa
** fn register`), the operator told of the FN, the marking-code keys in the
** FN (`kassa ofd keys`), the catalogue (`kassa cache import-catalogue`) and
** the code cache synced from the operator (`kassa cache sync`). Each is its
** own command; `kassa init` runs them in that order, the same commands
** in-process, and stops at the first that fails, saying which one and the
** command to carry on by hand.
**
** With --demo it needs nothing: the demo shop's requisites (ООО «Ромашка»,
** the emulated OFD), the catalogue beside the config's demo codes
** (config/catalogue.csv), and a kassa-operator: the one already listening
** on the config's [operator] ports when there is one (its data directory
** given by --operator-data), otherwise one it starts there (default
** DATA/operator), detached, so the commands that follow (`kassa sale`,
** `kassa ofd flush`, `kassa serve`) have their operator; its pid is in
** OPERATOR_DATA/kassa-operator.pid and `kill` stops it. The operator
** issues codes for the catalogue's marked goods, written to
** DATA/demo-codes.txt ("code<TAB>GTIN<TAB>name", \x1d for GS) for scans,
** and a few more for remarking labels (DATA/demo-pool.txt, into the pool).
**
** Without --demo the real requisites come from the options (--fn-number,
** --reg-number, --inn, --name, --address, --ofd-inn and --ofd-name or
** --autonomous, ...), asked for on a terminal when missing; the keys and
** the cache come from the operator the config names, and --catalogue FILE
** loads the shop's catalogue.
**
** A data directory that already holds an FN is refused: init is for a new
** till (an FN's archive is never overwritten).
*/
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pos/cli/cli.h"

static const char init_usage[] =
    "usage: kassa init --demo [--operator-data DIR]\n"
    "       kassa init --reg-number RNM --inn INN --name NAME --address ADDRESS\n"
    "                  (--ofd-inn INN --ofd-name NAME | --autonomous) [--fn-number N]\n"
    "                  [--place PLACE] [--cashier NAME] [--tax-systems MASK]\n"
    "                  [--catalogue FILE]\n"
    "\n"
    "A new till in one command: the data directory and its FN, the FN registered,\n"
    "the operator told of it, the marking-code keys, the catalogue and the code\n"
    "cache synced, in that order (each step is also a command of its own).\n"
    "  --demo           the demo shop: its requisites, config/catalogue.csv, and a\n"
    "                   kassa-operator on the [operator] ports (started, detached,\n"
    "                   unless one listens there); codes for the catalogue's marked\n"
    "                   goods in DATA/demo-codes.txt, more in the remarking pool\n"
    "  --operator-data  the demo operator's data directory (default DATA/operator);\n"
    "                   stop the operator with kill $(cat DIR/kassa-operator.pid)\n"
    "Without --demo the requisites are asked for on a terminal when missing.\n";

/* The demo shop (as `kassa demo`'s, with a valid INN for the command line). */
#define DEMO_FN_NUMBER "9999078900077777"
#define DEMO_RNM       "0000000001077777"
#define DEMO_INN       "7707083893"
#define DEMO_OFD_INN   "7704211201"
#define DEMO_CODES     3 /* issued per marked good of the catalogue, to sell */
#define DEMO_POOL      2 /* ... and for remarking labels */

typedef struct init_opts {
  const char *fn_number, *reg_number, *inn, *name, *address, *ofd_inn, *ofd_name, *place, *cashier,
      *tax_systems, *catalogue, *operator_data;
  bool demo, autonomous;
} init_opts_t;

typedef struct init_run {
  const kassa_config_t *cfg;
  init_opts_t o;
  char op_path[1024], op_data[KASSA_PATH_MAX], catalogue[KASSA_PATH_MAX];
  char answers[8][256]; /* what was typed at the prompts */
} init_run_t;

/* One step: a `kassa` command run in-process; on failure, the message
** that names it and the command to carry on with. Returns its status. */
static int step(init_run_t *r, const char *what,
                int (*command)(const kassa_config_t *, int, char **), const char *const *argv)
{
  int argc = 0;
  while (argv[argc]) argc++;
  printf("== %s\n", what);
  fflush(stdout);
  int rc = command(r->cfg, argc, (char **)argv);
  fflush(stdout);
  if (rc != 0) {
    fprintf(stderr, "kassa init: '%s' failed (exit %d); carry on from it by hand: kassa", what, rc);
    for (int i = 0; i < argc; i++) fprintf(stderr, " '%s'", argv[i]);
    fprintf(stderr, "\n");
  }
  return rc;
}

/* A missing requisite: asked for on a terminal, else NULL. */
static const char *ask(init_run_t *r, int slot, const char *prompt, const char *value)
{
  if (value) return value;
  if (!isatty(0)) return NULL;
  printf("%s: ", prompt);
  fflush(stdout);
  char *line = r->answers[slot];
  if (!fgets(line, sizeof r->answers[slot], stdin)) return NULL;
  line[strcspn(line, "\n")] = '\0';
  return line[0] ? line : NULL;
}

/* mkdir -p, the last one 0700; 0 or -1 with errno. */
static int make_dirs(const char *path)
{
  char p[KASSA_PATH_MAX];
  snprintf(p, sizeof p, "%s", path);
  for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
    *slash = '/';
  }
  return mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- the demo operator --------------------------------------------------- */

static bool file_exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

/* The operator on the config's ports: the one listening there, or one
** started detached in r->op_data. 0, or 1 after a message. */
static int demo_operator(init_run_t *r)
{
  const kassa_config_t *cfg = r->cfg;
  uint16_t ports[4] = {cfg->operator_ofd_port, cfg->operator_oism_port, cfg->operator_keys_port,
                       cfg->operator_http_port};
  char path[KASSA_PATH_MAX + 32];
  int open = 0;
  for (int i = 0; i < 4; i++) open += cli_port_open(cfg->operator_host, ports[i]);
  printf("== kassa-operator on %s:%u-%u\n", cfg->operator_host, ports[0], ports[3]);
  if (open == 4) {
    if (!r->o.operator_data && !file_exists(r->op_data)) {
      fprintf(stderr,
              "kassa init: a kassa-operator already listens on %s:%u-%u: give its data "
              "directory (--operator-data DIR) or stop it\n",
              cfg->operator_host, ports[0], ports[3]);
      return 1;
    }
    printf("using the kassa-operator already listening there (data %s)\n", r->op_data);
    return 0;
  }
  if (open > 0) {
    fprintf(stderr,
            "kassa init: some of the ports %u-%u are taken by something else: free them or set "
            "[operator] ports in %s\n",
            ports[0], ports[3], cfg->config_path[0] ? cfg->config_path : "the config");
    return 1;
  }
  if (access(r->op_path, X_OK) != 0) {
    fprintf(stderr, "kassa init: kassa-operator not found at %s (set KASSA_OPERATOR)\n",
            r->op_path);
    return 1;
  }
  if (mkdir(r->op_data, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "kassa init: cannot create %s: %s\n", r->op_data, strerror(errno));
    return 1;
  }
  const char *keys[] = {"keys", "new", "--kind", "hmac", NULL};
  snprintf(path, sizeof path, "%s/keys.done", r->op_data);
  if (!file_exists(path)) {
    if (cli_operator_run(r->op_path, r->op_data, NULL, 0, keys) != 0) {
      fprintf(stderr, "kassa init: kassa-operator keys new failed in %s\n", r->op_data);
      return 1;
    }
    FILE *done = fopen(path, "w");
    if (done) fclose(done);
  }
  char log[KASSA_PATH_MAX + 32];
  snprintf(log, sizeof log, "%s/kassa-operator.log", r->op_data);
  cli_operator_start_t o = {.path = r->op_path,
                            .data = r->op_data,
                            .log = log,
                            .ports = {ports[0], ports[1], ports[2], ports[3]},
                            .ofd_inn = DEMO_OFD_INN,
                            .api_key = cfg->trueapi_api_key,
                            .detach = true};
  pid_t pid = cli_operator_start(&o);
  if (pid <= 0) {
    fprintf(stderr, "kassa init: kassa-operator did not start (its log: %s)\n", log);
    return 1;
  }
  snprintf(path, sizeof path, "%s/kassa-operator.pid", r->op_data);
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
  }
  printf("kassa-operator started (pid %d, log %s); it keeps running: stop it with\n"
         "  kill $(cat %s)\n",
         (int)pid, log, path);
  return 0;
}

/* The catalogue's marked goods that sell by the piece: strict (1) or
** freely sold (0) ones, as "GTIN14<TAB>group<TAB>name" lines into out. */
static size_t catalogue_marked(const char *path, bool strict, char out[][320], size_t cap)
{
  char line[1024];
  size_t n = 0;
  FILE *in = fopen(path, "r");
  if (!in) return 0;
  while (n < cap && fgets(line, sizeof line, in)) {
    /* gtin;name;price;vat;group;group_id;marking;strict;weighed;excise */
    char *field[10] = {0}, *p = line;
    int k = 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || !strncmp(line, "gtin;", 5)) continue;
    for (char *tok = strsep(&p, ";"); tok && k < 10; tok = strsep(&p, ";")) field[k++] = tok;
    if (k < 10 || strcmp(field[6], "1") || strcmp(field[8], "0") ||
        strcmp(field[7], strict ? "1" : "0"))
      continue;
    snprintf(out[n++], 320, "%014llu\t%.40s\t%.200s", strtoull(field[0], NULL, 10), field[4],
             field[1]);
  }
  fclose(in);
  return n;
}

/* Codes from the operator for each marked good of the catalogue sold by
** the piece: DEMO_CODES each into DATA/demo-codes.txt (freely sold goods
** first; strict ones sell once accepted into stock, kassa accept), and
** DEMO_POOL each into DATA/demo-pool.txt for remarking labels. 0, or 1
** after a message. */
static int demo_codes(init_run_t *r, const char *codes_path, const char *pool_path)
{
  static char goods[64][320];
  char out[8192], count[8];
  FILE *codes = fopen(codes_path, "w"), *pool = fopen(pool_path, "w");
  int issued = 0, rc = 0;
  printf("== codes for the demo goods from kassa-operator\n");
  if (!codes || !pool) {
    fprintf(stderr, "kassa init: cannot write %s or %s\n", codes_path, pool_path);
    rc = 1;
    goto done;
  }
  fprintf(codes, "# kassa init --demo: codes kassa-operator issued for the demo catalogue:\n"
                 "# code (\\x1d for GS) <TAB> GTIN <TAB> name; kassa sale add --escaped CODE.\n"
                 "# Goods under strict accounting (after the freely sold ones) sell once\n"
                 "# accepted into stock (kassa accept).\n");
  fprintf(pool, "# kassa init --demo: codes for remarking labels (kassa cache pool add)\n");
  snprintf(count, sizeof count, "%d", DEMO_CODES + DEMO_POOL);
  for (int strict = 0; strict < 2 && rc == 0; strict++) {
    size_t n = catalogue_marked(r->catalogue, strict, goods, 64);
    for (size_t i = 0; i < n && rc == 0; i++) {
      char *gtin = goods[i], *group = strchr(gtin, '\t'), *name;
      *group++ = '\0';
      name = strchr(group, '\t');
      *name++ = '\0';
      const char *args[] = {"issue",   "--gtin", gtin,      "--group", group,
                            "--count", count,    "--owner", DEMO_INN,  NULL};
      if (cli_operator_run(r->op_path, r->op_data, out, sizeof out, args) != 0) {
        fprintf(stderr, "kassa init: kassa-operator issue --gtin %s --group %s failed\n", gtin,
                group);
        rc = 1;
        break;
      }
      int k = 0;
      for (char *code = strtok(out, "\n"); code; code = strtok(NULL, "\n"), k++) {
        if (k < DEMO_CODES)
          fprintf(codes, "%s\t%s\t%s\n", code, gtin, name);
        else
          fprintf(pool, "%s\n", code);
        issued++;
      }
    }
  }
done:
  if (codes && fclose(codes) != 0) rc = 1;
  if (pool && fclose(pool) != 0) rc = 1;
  if (rc == 0) printf("%d codes: %s, %s\n", issued, codes_path, pool_path);
  return rc;
}

/* ---- the command --------------------------------------------------------- */

/* The catalogue for --demo: catalogue.csv beside the config's demo codes. */
static void demo_catalogue(init_run_t *r)
{
  char dir[KASSA_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", r->cfg->demo_codes);
  snprintf(r->catalogue, sizeof r->catalogue, "%s/catalogue.csv", dirname(dir));
}

static int parse(int argc, char **argv, init_opts_t *o)
{
  const cli_option_t options[] = {
      {"demo", 0, NULL, &o->demo},
      {"autonomous", 0, NULL, &o->autonomous},
      {"fn-number", 0, &o->fn_number, NULL},
      {"reg-number", 0, &o->reg_number, NULL},
      {"inn", 0, &o->inn, NULL},
      {"name", 0, &o->name, NULL},
      {"address", 0, &o->address, NULL},
      {"ofd-inn", 0, &o->ofd_inn, NULL},
      {"ofd-name", 0, &o->ofd_name, NULL},
      {"place", 0, &o->place, NULL},
      {"cashier", 0, &o->cashier, NULL},
      {"tax-systems", 0, &o->tax_systems, NULL},
      {"catalogue", 0, &o->catalogue, NULL},
      {"operator-data", 0, &o->operator_data, NULL},
  };
  return cli_parse_options("init", init_usage, argc, argv, options,
                           sizeof options / sizeof options[0], NULL);
}

/* The requisites and paths: the demo shop's (what the options do not
** say), or the shop's own from the options, asked for on a terminal when
** missing. 0, or -1 after the usage (some are missing). */
static int requisites(init_run_t *r)
{
  init_opts_t *o = &r->o;
  const kassa_config_t *cfg = r->cfg;
  if (o->demo) {
    o->fn_number = o->fn_number ? o->fn_number : DEMO_FN_NUMBER;
    o->reg_number = o->reg_number ? o->reg_number : DEMO_RNM;
    o->inn = o->inn ? o->inn : DEMO_INN;
    o->name = o->name ? o->name : "ООО «Ромашка»";
    o->address = o->address ? o->address : "г. Москва, ул. Тверская, 1";
    o->place = o->place ? o->place : "Магазин у дома";
    o->ofd_inn = DEMO_OFD_INN;
    o->ofd_name = "ОФД-эмулятор";
    o->cashier = o->cashier ? o->cashier : "Иванова";
    cli_operator_find(r->op_path, sizeof r->op_path);
    if (o->operator_data)
      snprintf(r->op_data, sizeof r->op_data, "%s", o->operator_data);
    else
      snprintf(r->op_data, sizeof r->op_data, "%.1000s/operator", cfg->data_dir);
    if (o->catalogue)
      snprintf(r->catalogue, sizeof r->catalogue, "%s", o->catalogue);
    else
      demo_catalogue(r);
  } else {
    o->reg_number = ask(r, 0, "РН ККТ / registration number (16 digits)", o->reg_number);
    o->inn = ask(r, 1, "ИНН пользователя / the shop's INN", o->inn);
    o->name = ask(r, 2, "Наименование / the shop's name", o->name);
    o->address = ask(r, 3, "Адрес расчётов / address", o->address);
    if (!o->autonomous) {
      o->ofd_inn = ask(r, 4, "ИНН ОФД / the OFD's INN", o->ofd_inn);
      o->ofd_name = ask(r, 5, "Наименование ОФД / the OFD's name", o->ofd_name);
    }
    if (!o->reg_number || !o->inn || !o->name || !o->address ||
        (!o->autonomous && (!o->ofd_inn || !o->ofd_name))) {
      fprintf(stderr, "kassa init: the requisites are missing: --reg-number, --inn, --name, "
                      "--address and --ofd-inn with --ofd-name (or --autonomous), or --demo\n\n");
      fputs(init_usage, stderr);
      return -1;
    }
    if (o->catalogue) snprintf(r->catalogue, sizeof r->catalogue, "%s", o->catalogue);
  }

  return 0;
}

int cli_init(const kassa_config_t *cfg, int argc, char **argv)
{
  static init_run_t run;
  init_run_t *r = &run;
  char fn_db[KASSA_PATH_MAX + 16];
  memset(r, 0, sizeof *r);
  r->cfg = cfg;
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(init_usage, stdout);
    return 0;
  }
  if (parse(argc, argv, &r->o) != 0) return 2;
  init_opts_t *o = &r->o;
  snprintf(fn_db, sizeof fn_db, "%s/fn.db", cfg->data_dir);
  if (file_exists(fn_db)) {
    fprintf(stderr,
            "kassa init: %s already holds an FN (kassa fn status): init is for a new till, "
            "and an FN's archive is never overwritten\n",
            cfg->data_dir);
    return 1;
  }
  if (requisites(r) != 0) return 2;

  /* 1. The data directory (its parents too) and the FN in it. */
  if (make_dirs(cfg->data_dir) != 0) {
    fprintf(stderr, "kassa init: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
    return 1;
  }
  const char *fn_init[] = {"fn", "init", o->fn_number ? "--fn-number" : NULL, o->fn_number, NULL};
  if (step(r, "the data directory and a new FN", cli_fn, fn_init)) return 1;
  /* 2. The registration. */
  const char *reg[32] = {"fn",   "register", "--reg-number", o->reg_number, "--inn",
                         o->inn, "--name",   o->name,        "--address",   o->address};
  int n = 10;
#define OPT(flag, value)                                                                           \
  if (value) {                                                                                     \
    reg[n++] = flag;                                                                               \
    reg[n++] = value;                                                                              \
  }
  OPT("--place", o->place);
  OPT("--cashier", o->cashier);
  OPT("--tax-systems", o->tax_systems);
  OPT("--ofd-inn", o->autonomous ? NULL : o->ofd_inn);
  OPT("--ofd-name", o->autonomous ? NULL : o->ofd_name);
#undef OPT
  if (o->autonomous) reg[n++] = "--autonomous";
  reg[n] = NULL;
  if (step(r, "the FN's registration", cli_fn, reg)) return 1;
  /* 3. The operator (the demo's), told of the FN. */
  if (o->demo) {
    if (demo_operator(r)) return 1;
    const char *add[] = {"fn", "add", "--fn-db", fn_db, NULL};
    printf("== the operator told of the FN\n");
    if (cli_operator_run(r->op_path, r->op_data, NULL, 0, add) != 0) {
      fprintf(stderr, "kassa init: kassa-operator --data %s fn add --fn-db %s failed\n", r->op_data,
              fn_db);
      return 1;
    }
  }
  /* 4. Keys, catalogue, codes (demo), cache. */
  const char *keys[] = {"ofd", "keys", NULL};
  if (step(r, "marking-code keys into the FN", cli_ofd, keys)) return 1;
  if (r->catalogue[0]) {
    const char *cat[] = {"cache", "import-catalogue", r->catalogue, NULL};
    if (step(r, "the catalogue", cli_cache, cat)) return 1;
  }
  if (o->demo) {
    char codes[KASSA_PATH_MAX + 32], pool[KASSA_PATH_MAX + 32];
    snprintf(codes, sizeof codes, "%s/demo-codes.txt", cfg->data_dir);
    snprintf(pool, sizeof pool, "%s/demo-pool.txt", cfg->data_dir);
    const char *pool_add[] = {"cache", "pool", "add", pool, NULL};
    if (demo_codes(r, codes, pool) || step(r, "codes for remarking labels", cli_cache, pool_add))
      return 1;
  }
  const char *sync[] = {"cache", "sync", NULL};
  if (step(r, "the code cache from the operator", cli_cache, sync)) return 1;
  printf("\nkassa init: the till in %s is ready. Next: kassa shift open, then kassa sale open.\n",
         cfg->data_dir);
  return 0;
}
