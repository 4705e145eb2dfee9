/*
** cli_store.c: `kassa store`, the store node the lanes of one store share
** (store/store.h, store/node.h):
**
**   kassa store serve (--pg CONNINFO | --local PATH) [--port N] [--listen ADDR]
**                     [--token T]
**       creates or migrates the store's schema and serves the lanes until
**       SIGTERM or SIGINT; the line printed when ready names the port:
**         kassa store serve: listening on 127.0.0.1:PORT (pg)
**   kassa store sync (--pg CONNINFO | --local PATH) [--operator URL] [--api-key K]
**       the operator's sync feed (ofd/registry.h) into the store, page by
**       page, each page with its cursor in one transaction; the lanes get
**       it from the node's feed with every lane's sales ([store] sync_ms);
**       run it from a timer as a lane ran `kassa cache sync` before;
**   kassa store conflicts (--pg CONNINFO | --local PATH | --url URL) [--json]
**       the manager's report: every code sold by two lanes while they could
**       not see each other, one line each (receipts are facts: the report
**       is for the stock and the operator, nothing is undone).
**
** The token comes from --token, else [store] token; a node without one
** does not start (it would serve the store LAN to anyone).
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ofd/registry.h"
#include "pos/cli/cli.h"
#include "scanner/markcode.h"
#include "store/node.h"
#include "store/store.h"

static const char store_usage[] =
    "usage: kassa store serve (--pg CONNINFO | --local PATH) [--port N] [--listen ADDR]\n"
    "                         [--token T] [--lm-port N]\n"
    "       kassa store sync (--pg CONNINFO | --local PATH) [--operator URL] [--api-key K]\n"
    "       kassa store conflicts (--pg CONNINFO | --local PATH | --url URL) [--json]\n"
    "\n"
    "The store node the lanes share: claims of codes in open baskets, what every\n"
    "lane sold and returned, the codes sold twice during a partition.\n"
    "  --pg CONNINFO  PostgreSQL (libpq: \"host=/run/postgresql dbname=kassa\")\n"
    "  --local PATH   SQLite file (one host)\n"
    "  --port N       HTTP port (default 8790; 0: a free one)\n"
    "  --listen ADDR  IPv4 address to bind (default 127.0.0.1; the store LAN's)\n"
    "  --token T      the lanes' bearer token (default [store] token)\n"
    "  --lm-port N    the local module's API for the whole store on a port of its own too\n"
    "  --url URL      a running node (conflicts)\n"
    "  --operator URL, --api-key K  the operator's feed (default [trueapi] cdn_url / api_key)\n";

static int spec_of(const char *pg, const char *local, const char *url, char *out, size_t size)
{
  int given = !!pg + !!local + !!url;
  if (given != 1) return -1;
  snprintf(out, size, "%s%s", pg ? "pg:" : local ? "local:" : "", pg ? pg : local ? local : url);
  return 0;
}

/* A verb's options: the store's (--pg, --local and, where a running node
** will do, --url) and its own; *spec made from the one given. 0, or 2
** after the message. */
static int verb_options(const char *verb, int argc, char **argv, const cli_option_t *own,
                        size_t own_count, bool url_ok, char *spec, size_t spec_size)
{
  const char *pg = NULL, *local = NULL, *url = NULL;
  cli_option_t all[CLI_OPTIONS_MAX];
  char command[32];
  size_t n = 0;
  all[n++] = (cli_option_t){"pg", 0, &pg, NULL};
  all[n++] = (cli_option_t){"local", 0, &local, NULL};
  if (url_ok) all[n++] = (cli_option_t){"url", 0, &url, NULL};
  for (size_t i = 0; i < own_count && n < CLI_OPTIONS_MAX; i++) all[n++] = own[i];
  snprintf(command, sizeof command, "store %s", verb);
  int rc = cli_parse_options(command, store_usage, argc, argv, all, n, NULL);
  if (rc != 0) return rc;
  if (spec_of(pg, local, url, spec, spec_size) != 0) {
    fprintf(stderr, "kassa %s: one of --pg, --local%s\n\n%s", command, url_ok ? " or --url" : "",
            store_usage);
    return 2;
  }
  return 0;
}

/* The node's code parser for the local-module routes (store/ may not use
** scanner/): a marking code's identification part and GTIN. Called from
** the node's connection threads: its own markcode_t each call. */
static bool code_ki(const char *code, size_t len, char *ki, size_t ki_size, char gtin[15])
{
  markcode_t *mc = malloc(sizeof *mc);
  bool ok = mc && markcode_parse(mc, code, len) == MARKCODE_OK &&
            (mc->kind == MARKCODE_KIND_GS1 || mc->kind == MARKCODE_KIND_TOBACCO_PACK) &&
            mc->serial[0] && mc->ki[0] && strlen(mc->ki) < ki_size;
  if (ok) {
    snprintf(ki, ki_size, "%s", mc->ki);
    snprintf(gtin, 15, "%.14s", mc->gtin);
  }
  free(mc);
  return ok;
}

static int store_serve(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *port = NULL, *listen = NULL, *token = NULL, *lm = NULL;
  unsigned long p = 8790, lm_port = 0;
  char spec[1100], err[1024];
  sigset_t stop;
  int sig = 0;
  store_node_t *node = NULL;
  const cli_option_t options[] = {{"port", 0, &port, NULL},
                                  {"listen", 0, &listen, NULL},
                                  {"token", 0, &token, NULL},
                                  {"lm-port", 0, &lm, NULL}};
  int rc = verb_options("serve", argc, argv, options, sizeof options / sizeof options[0], false,
                        spec, sizeof spec);
  if (rc != 0) return rc;
  if ((port && !cli_number(port, 0, 65535, &p)) || (lm && !cli_number(lm, 1, 65535, &lm_port))) {
    fprintf(stderr, "kassa store serve: a port 0-65535, not %s\n\n%s", port ? port : lm,
            store_usage);
    return 2;
  }
  if (!token) token = cfg->store_token;
  if (!token[0]) {
    fprintf(stderr, "kassa store serve: нужен токен (--token или [store] token) / a token is "
                    "needed (--token or [store] token)\n");
    return 2;
  }
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);
  store_node_options_t o = {.spec = spec,
                            .listen = listen,
                            .port = (uint16_t)p,
                            .token = token,
                            .lm_port = (uint16_t)lm_port,
                            .ki_of = code_ki};
  if (store_node_start(&o, &node, err, sizeof err) != 0) {
    fprintf(stderr, "kassa store serve: %s\n", err);
    return 1;
  }
  printf("kassa store serve: listening on %s:%u (%s)\n", listen ? listen : "127.0.0.1",
         store_node_port(node), strncmp(spec, "pg:", 3) ? "local" : "pg");
  if (store_node_lm_port(node))
    printf("kassa store serve: local module on %s:%u\n", listen ? listen : "127.0.0.1",
           store_node_lm_port(node));
  fflush(stdout);
  while (sigwait(&stop, &sig) != 0) {}
  store_node_stop(node);
  return 0;
}

static int store_conflict_report(const kassa_config_t *cfg, int argc, char **argv)
{
  enum { MAX = 100000 };
  bool json = false;
  char spec[1100], err[1024];
  store_t *s = NULL;
  size_t n = 0;
  const cli_option_t options[] = {{"json", 0, NULL, &json}};
  int rc = verb_options("conflicts", argc, argv, options, 1, true, spec, sizeof spec);
  if (rc != 0) return rc;
  store_options_t o = {.timeout_ms = 10000, .token = cfg->store_token};
  store_conflict_t *rows = malloc(MAX * sizeof *rows);
  if (!rows || (rc = store_open(spec, &o, &s, err, sizeof err)) != 0 ||
      (rc = store_conflicts(s, rows, MAX, &n)) != 0) {
    fprintf(stderr, "kassa store conflicts: %s %s\n", store_err_message(rc, false),
            s ? store_last_error(s) : err);
    free(rows);
    store_close(s);
    return 1;
  }
  if (!json) printf("Коды, проданные дважды / codes sold twice: %zu\n", n);
  for (size_t i = 0; i < n; i++) {
    const store_conflict_t *c = &rows[i];
    if (json)
      printf("{\"ki\":\"%s\",\"first_lane\":\"%s\",\"first_fn\":\"%s\",\"first_document\":%u,"
             "\"second_lane\":\"%s\",\"second_fn\":\"%s\",\"second_document\":%u}\n",
             c->ki, c->first_lane, c->first_fn, c->first_document, c->second_lane, c->second_fn,
             c->second_document);
    else
      printf("%s  %s ФД/FD %u  и/and  %s ФД/FD %u\n", c->ki, c->first_fn, c->first_document,
             c->second_fn, c->second_document);
  }
  free(rows);
  store_close(s);
  return 0;
}

/* One page of the operator's feed as the store's statuses. */
static void statuses_of(const registry_page_t *page, store_status_t *rows)
{
  for (size_t i = 0; i < page->count; i++) {
    const registry_code_t *c = &page->codes[i];
    store_status_t *st = &rows[i];
    memset(st, 0, sizeof *st);
    snprintf(st->ki, sizeof st->ki, "%s", c->ki);
    snprintf(st->gtin, sizeof st->gtin, "%s", c->gtin);
    snprintf(st->owner, sizeof st->owner, "%s", c->owner);
    st->state = (int)c->state;
    st->blocked = c->blocked;
    st->sold = c->sold;
    st->expire_ms = c->expire_ms;
    st->mrp = c->mrp;
    st->smp = c->smp;
  }
}

static int store_sync(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *url = NULL, *key = NULL;
  char spec[1100], err[1024], base[512], cursor[REGISTRY_CURSOR_MAX + 1] = "";
  registry_page_t page = {0};
  registry_t *reg = NULL;
  store_t *s = NULL;
  store_status_t *rows = NULL;
  uint64_t codes = 0;
  const cli_option_t options[] = {{"operator", 0, &url, NULL}, {"api-key", 0, &key, NULL}};
  int rc = verb_options("sync", argc, argv, options, 2, false, spec, sizeof spec);
  if (rc != 0) return rc;
  kassa_config_operator_url(cfg, base, sizeof base);
  registry_options_t ro = {.url = url ? url : base, .api_key = key ? key : cfg->trueapi_api_key};
  store_options_t so = {.timeout_ms = 10000};
  rows = malloc(REGISTRY_PAGE_LIMIT * sizeof *rows);
  if (!rows || registry_create(&ro, &reg) != 0 ||
      (rc = store_open(spec, &so, &s, err, sizeof err)) != 0 ||
      (rc = store_sync_cursor(s, cursor, sizeof cursor)) != 0) {
    fprintf(stderr, "kassa store sync: %s\n", s ? store_last_error(s) : err);
    rc = 1;
    goto done;
  }
  do {
    if ((rc = registry_fetch_page(reg, NULL, cursor, REGISTRY_PAGE_LIMIT, &page)) != 0) {
      fprintf(stderr, "kassa store sync: %s (%s)\n", registry_err_message(rc, false),
              registry_last_error(reg));
      rc = 1;
      goto done;
    }
    statuses_of(&page, rows);
    if ((rc = store_put_statuses(s, rows, page.count, page.next)) != 0) {
      fprintf(stderr, "kassa store sync: %s %s\n", store_err_message(rc, false),
              store_last_error(s));
      rc = 1;
      goto done;
    }
    codes += page.count;
    snprintf(cursor, sizeof cursor, "%s", page.next);
  } while (page.more);
  printf("kassa store sync: %llu codes from %s, cursor %s\n", (unsigned long long)codes, ro.url,
         cursor);
  rc = 0;
done:
  registry_page_free(&page);
  registry_destroy(reg);
  store_close(s);
  free(rows);
  return rc;
}

int cli_store(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(store_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "serve")) return store_serve(cfg, argc - 1, argv + 1);
  if (!strcmp(argv[1], "conflicts")) return store_conflict_report(cfg, argc - 1, argv + 1);
  if (!strcmp(argv[1], "sync")) return store_sync(cfg, argc - 1, argv + 1);
  fprintf(stderr, "kassa store: unknown verb %s\n\n%s", argv[1], store_usage);
  return 2;
}
