/*
** cli_cache.c: the till's local code cache on the command line.
**
**   kassa cache status [--json]          counts, last sync, stale or fresh
**   kassa cache sync [--url URL] [--owner INN] [--api-key KEY] [--limit N] [--full]
**                                        bring the operator's code statuses in
**   kassa cache import-catalogue FILE    products (pos/till/cache.h has the CSV format)
**   kassa cache lookup CODE              what the till knows about one code, as JSON
**   kassa cache block|unblock --code KI|--gtin G|--series G/BATCH [--reason TEXT]
**   kassa cache pool add FILE            fresh codes for remarking labels
**   kassa cache report-remark OLD NEWCODE [--owner INN] [--url URL] [--api-key KEY]
**                                        tell the operator a remark (again)
**
** Managers and scripts use these; the service uses the same file
** (DATA/cache.db) through pos/till/cache.h. A sync goes page by page through
** the operator's feed (ofd/registry.h) and stores every page with its
** cursor in one transaction (pos/till/sync.h, which fetches the next page while
** one is stored), so killing it loses at most the pages in flight and
** running it again carries on from the last page stored; the cursor is
** kept as OWNER/CURSOR, so asking for another owner starts over.
** Exit status: 0 done, 1 refused or failed (the reason in Russian and
** English), 2 usage.
*/
#include "ofd/registry.h"
#include "pos/cli/cli.h"
#include "pos/till/cache.h"
#include "pos/till/sync.h"
#include "scanner/markcode.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 100000u
#define URL_MAX  512

static const char cache_usage[] =
    "usage: kassa cache status [--json]\n"
    "       kassa cache sync [--url URL] [--owner INN] [--api-key KEY] [--limit N] [--full]\n"
    "       kassa cache import-catalogue FILE\n"
    "       kassa cache lookup CODE\n"
    "       kassa cache block|unblock --code KI|--gtin GTIN|--series GTIN/BATCH [--reason TEXT]\n"
    "       kassa cache pool add FILE\n"
    "       kassa cache report-remark OLD NEWCODE [--owner INN] [--url URL] [--api-key KEY]\n"
    "\n"
    "The till's local code cache, DATA/cache.db: products, the store's stock of\n"
    "codes, what was sold and returned, blocks, and the code statuses synced\n"
    "from the marking operator for decisions without a link.\n"
    "  status            counts, the last sync and whether the cache is stale\n"
    "                    ([till] cache_stale_hours, 72 by default)\n"
    "  sync              fetch the operator's feed page by page (resumable: a\n"
    "                    killed sync carries on from its last page); --url\n"
    "                    defaults to [trueapi] cdn_url or http://[operator] host:\n"
    "                    http_port, the key to [trueapi] api_key (or\n"
    "                    --api-key-file FILE, KASSA_API_KEY); --owner INN\n"
    "                    takes only that owner's codes; --limit codes per page\n"
    "                    (1..10000, default 5000); --full starts from the beginning\n"
    "  import-catalogue  load products from a CSV file (all or nothing; header\n"
    "                    gtin;name;price;vat;group;group_id;marking;strict;weighed;excise)\n"
    "  lookup            parse a code (\\x1d escapes allowed) and print its row\n"
    "  block, unblock    a local block by code, GTIN or series (GTIN/batch, AI 10)\n"
    "  pool add          codes for remarking labels, one per line as kassa-operator\n"
    "                    issue prints them (\\x1d escapes; # comments)\n"
    "  report-remark     tell the operator (again) that NEWCODE replaced OLD (a KI or\n"
    "                    return:DOC:LINE), e.g. when the link was down at remarking\n";

/* ---- helpers ----------------------------------------------------------- */

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints a cache refusal the way a manager can act on it; returns 1. */
static int cache_refused(const char *what, int rc, cache_t *c)
{
  const char *detail = cache_last_error(c);
  fprintf(stderr, "kassa: %s: %s%s%s\n  %s\n  %s\n", what, cache_err_name(rc),
          detail[0] ? ": " : "", detail, cache_err_message(rc, true), cache_err_message(rc, false));
  return 1;
}

static int open_cache(const kassa_config_t *cfg, cache_t **out)
{
  char path[KASSA_PATH_MAX + 16];
  int rc;
  if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "kassa: cannot create the data directory %s: %s\n", cfg->data_dir,
            strerror(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%.*s/cache.db", KASSA_PATH_MAX, cfg->data_dir);
  if ((rc = cache_open(path, out)) != 0) {
    fprintf(stderr, "kassa: cannot open the code cache %s: %s\n  %s\n  %s\n", path,
            cache_err_name(rc), cache_err_message(rc, true), cache_err_message(rc, false));
    return 1;
  }
  return 0;
}

static int print_json(json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) {
    fprintf(stderr, "kassa: out of memory\n");
    return 1;
  }
  puts(text);
  free(text);
  return 0;
}

static json_t *ms_or_null(int64_t ms) { return ms ? json_integer((json_int_t)ms) : json_null(); }

static void format_time(int64_t ms, char *out, size_t size)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!localtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm))
    snprintf(out, size, "%lld ms", (long long)ms);
}

/* ---- kassa cache status ------------------------------------------------ */

static int status_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false;
  cache_t *c = NULL;
  cache_counts_t n;
  char cursor[CACHE_CURSOR_MAX + 1], owner[16] = "", seq[REGISTRY_CURSOR_MAX + 1] = "";
  int64_t last = 0, now = now_ms();
  uint32_t applied = 0;
  uint32_t hours = cfg->cache_stale_hours ? cfg->cache_stale_hours : 72;
  int rc;
  bool stale;

  const cli_option_t options[] = {{"json", 0, NULL, &json}};
  if (cli_parse_options("cache status", cache_usage, argc, argv, options, 1, NULL)) return 2;
  if (open_cache(cfg, &c)) return 1;
  if ((rc = cache_counts(c, &n)) != 0 || (rc = cache_sync_state(c, cursor, sizeof cursor, &last)) ||
      (rc = cache_fn_applied(c, &applied)) != 0) {
    cache_refused("the code cache cannot be read", rc, c);
    cache_close(c);
    return 1;
  }
  stale = cache_is_stale(c, now, hours);
  cache_close(c);
  if (cursor[0]) sync_cursor_split(cursor, owner, sizeof owner, seq, sizeof seq);
  if (json) {
    return print_json(json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:b,s:I,s:s,s:s}", "dataDir",
        cfg->data_dir, "products", (json_int_t)n.products, "codes", (json_int_t)n.codes, "inStock",
        (json_int_t)n.in_stock, "sold", (json_int_t)n.sold, "remarked", (json_int_t)n.remarked,
        "blocked", (json_int_t)n.blocked, "pooled", (json_int_t)n.pooled, "pending",
        (json_int_t)n.pending, "synced", (json_int_t)n.synced, "opBlocked",
        (json_int_t)n.op_blocked, "fnApplied", (json_int_t)applied, "lastSync", ms_or_null(last),
        "stale", stale, "staleHours", (json_int_t)hours, "cursor", cursor, "owner",
        strcmp(owner, SYNC_OWNER_ALL) == 0 ? "" : owner));
  }
  printf("code cache %s/cache.db\n", cfg->data_dir);
  printf("  products / товары: %llu\n", (unsigned long long)n.products);
  printf("  codes / коды: %llu (from the operator / от оператора: %llu, blocked there / "
         "заблокированы: %llu)\n",
         (unsigned long long)n.codes, (unsigned long long)n.synced,
         (unsigned long long)n.op_blocked);
  printf("  in stock / в наличии: %llu, sold / продано: %llu, remarked / перемаркировано: %llu\n",
         (unsigned long long)n.in_stock, (unsigned long long)n.sold,
         (unsigned long long)n.remarked);
  printf("  local blocks / блокировки: %llu, pooled codes / коды в пуле: %llu, returns to "
         "remark / возвраты на перемаркировку: %llu\n",
         (unsigned long long)n.blocked, (unsigned long long)n.pooled,
         (unsigned long long)n.pending);
  printf("  FN documents applied / документов ФН учтено: %u\n", applied);
  if (last) {
    char when[64];
    format_time(last, when, sizeof when);
    printf("  last sync / последняя синхронизация: %s (%lld min ago), cursor %s\n", when,
           (long long)((now - last) / 60000), cursor);
  } else {
    printf("  never synced / синхронизации не было\n");
  }
  if (stale)
    printf("STALE: no sync for more than %u h: offline checks are refused until `kassa cache "
           "sync`.\nКэш устарел: больше %u ч без синхронизации; выполните `kassa cache sync`.\n",
           hours, hours);
  else
    printf("fresh / актуален\n");
  return 0;
}

/* ---- the operator's address -------------------------------------------- */

/* The default feed URL and key from the configuration. */
static void operator_defaults(const kassa_config_t *cfg, char *url, size_t url_size, char *key,
                              size_t key_size)
{
  kassa_config_operator_url(cfg, url, url_size);
  snprintf(key, key_size, "%s", cfg->trueapi_api_key);
}

/* The key given outside the config (--api-key, --api-key-file,
** KASSA_API_KEY: cli_secret) over key; 0, or -1 after a message. */
static int given_api_key(const char *command, const char *arg, const char *file, char *key,
                         size_t key_size)
{
  char given[sizeof((kassa_config_t *)0)->trueapi_api_key];
  if (cli_secret(command, arg, file, "KASSA_API_KEY", given, sizeof given) != 0) return -1;
  size_t n = strlen(given);
  if (n && n < key_size) memcpy(key, given, n + 1);
  return 0;
}

static bool url_ok(const char *v, size_t cap)
{
  return strlen(v) < cap && (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8));
}

/* ---- kassa cache sync -------------------------------------------------- */

typedef struct sync_progress {
  bool tty, drawn;
  uint64_t start, last; /* the feed's sequence space: where we began, its end */
} sync_progress_t;

static void progress_draw(void *user, const registry_page_t *page, uint64_t fetched, unsigned pages,
                          double elapsed)
{
  sync_progress_t *p = user;
  double rate = elapsed > 0 ? (double)fetched / elapsed : 0.0;
  uint64_t done, span;
  if (page->snapshot) {
    /* The first, full copy: how much of it is here. */
    done = page->done;
    span = page->total;
  } else {
    /* The change log: how far through the sequence space we are. */
    uint64_t next = strtoull(page->next, NULL, 10), last = strtoull(page->last, NULL, 10);
    if (last > p->last) p->last = last;
    span = p->last > p->start ? p->last - p->start : 0;
    done = next > p->start ? next - p->start : 0;
  }
  if (!p->tty) {
    if (page->snapshot)
      printf("page %u: %zu codes, snapshot %llu of %llu\n", pages, page->count,
             (unsigned long long)page->done, (unsigned long long)page->total);
    else
      printf("page %u: %zu codes, cursor %s of %s\n", pages, page->count, page->next, page->last);
    fflush(stdout);
    return;
  }
  unsigned fill = span ? (unsigned)(done * 30 / span) : 30,
           percent = span ? (unsigned)(done * 100 / span) : 100;
  char bar[31];
  if (fill > 30) fill = 30;
  if (percent > 100) percent = 100;
  for (unsigned i = 0; i < 30; i++) bar[i] = i < fill ? '#' : ' ';
  bar[30] = '\0';
  printf("\rsync [%s] %3u%% %llu codes %.0f/s", bar, percent, (unsigned long long)fetched, rate);
  fflush(stdout);
  p->drawn = true;
}

static void progress_end(sync_progress_t *p)
{
  if (p->tty && p->drawn) printf("\n");
  p->drawn = false;
}

static int sync_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  char url[URL_MAX], api_key[sizeof cfg->trueapi_api_key], owner[16] = "";
  char stored[CACHE_CURSOR_MAX + 1], stored_owner[16], seq[REGISTRY_CURSOR_MAX + 1] = "0";
  unsigned long limit = REGISTRY_PAGE_LIMIT;
  bool full = false;
  registry_options_t ro;
  registry_t *reg = NULL;
  cache_t *c = NULL;
  sync_progress_t pr;
  sync_result_t res;
  int rc, status = 1;

  operator_defaults(cfg, url, sizeof url, api_key, sizeof api_key);
  const char *url_arg = NULL, *owner_arg = NULL, *key_arg = NULL, *limit_arg = NULL;
  const char *key_file = NULL;
  const cli_option_t options[] = {
      {"full", 0, NULL, &full},       {"url", 0, &url_arg, NULL},
      {"owner", 0, &owner_arg, NULL}, {"api-key", 0, &key_arg, NULL},
      {"limit", 0, &limit_arg, NULL}, {"api-key-file", 0, &key_file, NULL},
  };
  if (cli_parse_options("cache sync", cache_usage, argc, argv, options,
                        sizeof options / sizeof options[0], NULL))
    return 2;
  if (url_arg) {
    if (!url_ok(url_arg, sizeof url)) {
      fprintf(stderr, "kassa cache sync: --url wants http://HOST:PORT, not '%s'\n", url_arg);
      return 2;
    }
    snprintf(url, sizeof url, "%s", url_arg);
  }
  if (owner_arg) {
    size_t n = strlen(owner_arg);
    if ((n != 10 && n != 12) || strspn(owner_arg, "0123456789") != n) {
      fprintf(stderr, "kassa cache sync: --owner wants an INN of 10 or 12 digits, not '%s'\n",
              owner_arg);
      return 2;
    }
    snprintf(owner, sizeof owner, "%s", owner_arg);
  }
  if (given_api_key("cache sync", key_arg, key_file, api_key, sizeof api_key)) return 2;
  if (limit_arg && !cli_number(limit_arg, 1, 10000, &limit)) {
    fprintf(stderr, "kassa cache sync: --limit is 1 to 10000\n");
    return 2;
  }
  memset(&ro, 0, sizeof ro);
  ro.url = url;
  ro.api_key = api_key;
  if ((rc = registry_create(&ro, &reg)) != 0) {
    fprintf(stderr, "kassa cache sync: %s\n  %s\n  %s\n", registry_err_name(rc),
            registry_err_message(rc, true), registry_err_message(rc, false));
    return 2;
  }
  if (open_cache(cfg, &c)) {
    registry_destroy(reg);
    return 1;
  }
  if ((rc = cache_sync_state(c, stored, sizeof stored, NULL)) != 0) {
    status = cache_refused("the code cache cannot be read", rc, c);
    goto done;
  }
  /* Resume only a sync of the same owner's feed; anything else starts over. */
  if (!full && stored[0]) {
    if (sync_cursor_split(stored, stored_owner, sizeof stored_owner, seq, sizeof seq) &&
        strcmp(stored_owner, owner[0] ? owner : SYNC_OWNER_ALL) == 0) {
      printf("resuming after cursor %s / продолжение с позиции %s\n", seq, seq);
    } else {
      printf("the last sync was for another owner: starting from the beginning\n"
             "  Прошлая синхронизация была для другого владельца: начинаем сначала.\n");
      snprintf(seq, sizeof seq, "0");
    }
  } else {
    snprintf(seq, sizeof seq, "0");
  }
  memset(&pr, 0, sizeof pr);
  pr.tty = isatty(STDOUT_FILENO) != 0;
  pr.start = strtoull(seq, NULL, 10);
  rc = sync_run(c, reg, owner, seq, (unsigned)limit, progress_draw, &pr, &res);
  progress_end(&pr);
  if (rc == SYNC_ERR_CACHE) {
    status = cache_refused("a page of the operator's feed was not stored", res.cache_rc, c);
    cli_disk_why(cfg->data_dir);
    goto done;
  }
  if (rc != 0) {
    int why = rc == SYNC_ERR_FEED ? res.feed_rc : REGISTRY_ERR_NO_MEMORY;
    fprintf(stderr,
            "kassa: sync stopped after %u pages (%llu codes): %s\n  %s\n  %s\n  %s\n"
            "  What was stored stays; run `kassa cache sync` again to carry on.\n"
            "  Загруженное сохранено; повторите `kassa cache sync`, чтобы продолжить.\n",
            res.pages, (unsigned long long)res.codes, registry_err_name(why),
            registry_last_error(reg), registry_err_message(why, true),
            registry_err_message(why, false));
    goto done;
  }
  printf("synced: %llu codes in %u pages, %.2f s, %.0f codes/s; cursor %s (the feed ends at "
         "%s)\n",
         (unsigned long long)res.codes, res.pages, res.seconds,
         res.seconds > 0 ? (double)res.codes / res.seconds : 0, res.cursor, res.last);
  printf("синхронизировано: %llu кодов\n", (unsigned long long)res.codes);
  status = 0;
done:
  cache_close(c);
  registry_destroy(reg);
  return status;
}

/* ---- kassa cache import-catalogue -------------------------------------- */

/*
** The commands that take only positional arguments: no option but
** --help; the n arguments are then argv[first..first+n). Returns the
** index of the first, or -1 after printing usage (--help on stdout; an
** option, or not n arguments, on stderr); *status is 0 for --help, 2
** otherwise.
*/
static int positional(int argc, char **argv, int n, const char *usage, int *status)
{
  bool help = false;
  const cli_option_t options[] = {{"help", 0, NULL, &help}};
  int at;
  int rc = cli_read_options(argc, argv, options, 1, &at);
  *status = help ? 0 : 2;
  if (help || rc != CLI_OPTIONS_OK || argc - at != n) {
    fputs(usage, help ? stdout : stderr);
    return -1;
  }
  return at;
}

static int import_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  cache_t *c = NULL;
  char err[512];
  size_t count = 0;
  int rc, at = positional(argc, argv, 1, "usage: kassa cache import-catalogue FILE\n", &rc);
  if (at < 0) return rc;
  const char *file = argv[at];
  if (open_cache(cfg, &c)) return 1;
  rc = cache_catalogue_import(c, file, &count, err, sizeof err);
  if (rc == CACHE_ERR_FORMAT || rc == CACHE_ERR_NOT_FOUND) {
    fprintf(stderr, "kassa: %s: %s\n  nothing was imported / ничего не загружено\n", file, err);
    cache_close(c);
    return 1;
  }
  if (rc != 0) {
    rc = cache_refused("the catalogue was not imported", rc, c);
    cache_close(c);
    return rc;
  }
  cache_close(c);
  printf("imported %zu products / загружено товаров: %zu\n", count, count);
  return 0;
}

/* ---- kassa cache lookup ------------------------------------------------ */

static json_t *product_json(const cache_product_t *p)
{
  return json_pack("{s:s,s:s,s:I,s:i,s:s,s:i,s:b,s:b,s:b,s:b}", "gtin", p->gtin, "name", p->name,
                   "price", (json_int_t)p->price, "vat", (int)p->vat, "group", p->group, "groupId",
                   p->group_id, "marking", p->marking_required, "strict", p->strict, "weighed",
                   p->weighed, "excise", p->excise);
}

static int lookup_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  markcode_t *mc = NULL;
  cache_t *c = NULL;
  cache_code_t row;
  cache_product_t product;
  char input[MARKCODE_MAX_INPUT + 1], why[256];
  const char *reason = NULL;
  cache_block_kind_t kind = CACHE_BLOCK_CODE;
  bool blocked = false, found;
  json_t *out = NULL;
  size_t len;
  int rc, status = 1;

  int at = positional(argc, argv, 1, "usage: kassa cache lookup CODE\n", &status);
  if (at < 0) return status;
  status = 1;
  len = strlen(argv[at]);
  if (len > MARKCODE_MAX_INPUT) len = MARKCODE_MAX_INPUT;
  memcpy(input, argv[at], len);
  input[len] = '\0';
  len = cli_unescape(input, len);
  if (!(mc = malloc(sizeof *mc))) return 1;
  if (markcode_parse(mc, input, len) != MARKCODE_OK) {
    char en[256];
    markcode_message(mc, MARKCODE_LANG_RU, why, sizeof why);
    markcode_message(mc, MARKCODE_LANG_EN, en, sizeof en);
    print_json(json_pack("{s:b,s:s,s:s,s:s,s:i}", "ok", 0, "error", markcode_err_code(mc->err),
                         "message", why, "message_en", en, "at", mc->err_at));
    free(mc);
    return 1;
  }
  if (open_cache(cfg, &c)) {
    free(mc);
    return 1;
  }
  rc = cache_code_get(c, mc->ki, &row);
  if (rc != 0 && rc != CACHE_ERR_NOT_FOUND) goto refused;
  found = rc == 0;
  out = json_pack("{s:b,s:s,s:s,s:s,s:b}", "ok", 1, "kind", markcode_kind_name(mc->kind), "ki",
                  mc->ki, "gtin", found && row.gtin[0] ? row.gtin : mc->gtin, "found", found);
  if (!out) goto done;
  if (found) {
    json_object_set_new(out, "local", json_string(cache_local_name(row.local)));
    json_object_set_new(out, "soldDocument",
                        row.sold_document ? json_integer(row.sold_document) : json_null());
    json_object_set_new(out, "returnedDocument",
                        row.returned_document ? json_integer(row.returned_document) : json_null());
    json_object_set_new(out, "remarkedTo",
                        row.remarked_to[0] ? json_string(row.remarked_to) : json_null());
    json_object_set_new(out, "remarkedFrom",
                        row.remarked_from[0] ? json_string(row.remarked_from) : json_null());
    json_object_set_new(
        out, "operator",
        row.op_synced_ms
            ? json_pack("{s:s,s:b,s:b,s:s,s:o,s:I,s:I,s:I}", "state", cache_op_name(row.op_state),
                        "isBlocked", row.op_blocked, "sold", row.op_sold, "owner", row.owner_inn,
                        "expireDate", ms_or_null(row.expire_ms), "mrp", (json_int_t)row.mrp, "smp",
                        (json_int_t)row.smp, "syncedAt", (json_int_t)row.op_synced_ms)
            : json_null());
  }
  rc = cache_block_find(c, mc->ki, mc->gtin[0] ? mc->gtin : NULL, markcode_ai_value(mc, "10"),
                        &blocked, &kind, &reason);
  if (rc != 0 && rc != CACHE_ERR_ARGUMENT) goto refused;
  json_object_set_new(out, "block",
                      blocked ? json_pack("{s:s,s:s}", "kind", cache_block_kind_name(kind),
                                          "reason", reason ? reason : "")
                              : json_null());
  rc = mc->gtin[0] ? cache_product_get(c, mc->gtin, &product) : CACHE_ERR_NOT_FOUND;
  if (rc != 0 && rc != CACHE_ERR_NOT_FOUND && rc != CACHE_ERR_ARGUMENT) goto refused;
  json_object_set_new(out, "product", rc == 0 ? product_json(&product) : json_null());
  status = print_json(out) ? 1 : (found ? 0 : 1);
  out = NULL;
  goto done;
refused:
  status = cache_refused("the code cache cannot be read", rc, c);
done:
  json_decref(out);
  cache_close(c);
  free(mc);
  return status;
}

/* ---- kassa cache block|unblock ----------------------------------------- */

static int block_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool put = !strcmp(argv[0], "block");
  const char *code = NULL, *gtin = NULL, *series = NULL, *reason = NULL;
  char ki[MARKCODE_MAX_INPUT + 1];
  int rc;
  cache_t *c = NULL;

  /* --reason only with block: the last row. */
  const cli_option_t options[] = {{"code", 0, &code, NULL},
                                  {"gtin", 0, &gtin, NULL},
                                  {"series", 0, &series, NULL},
                                  {"reason", 0, &reason, NULL}};
  unsigned given[4];
  int at;
  int read = cli_count_options(argc, argv, options, put ? 4 : 3, &at, given);
  cache_block_kind_t kind = code ? CACHE_BLOCK_CODE : gtin ? CACHE_BLOCK_GTIN : CACHE_BLOCK_SERIES;
  const char *value = code ? code : gtin ? gtin : series;
  if (read != CLI_OPTIONS_OK || given[0] + given[1] + given[2] != 1 || at < argc) {
    fprintf(stderr, "usage: kassa cache %s --code KI|--gtin GTIN|--series GTIN/BATCH%s\n", argv[0],
            put ? " [--reason TEXT]" : "");
    return 2;
  }
  if (kind == CACHE_BLOCK_CODE) {
    /* A scanned code (GS or \x1d escapes) is reduced to its ki. */
    markcode_t *mc = malloc(sizeof *mc);
    size_t len = strlen(value);
    if (!mc) return 1;
    if (len > MARKCODE_MAX_INPUT) len = MARKCODE_MAX_INPUT;
    memcpy(ki, value, len);
    ki[len] = '\0';
    len = cli_unescape(ki, len);
    if (markcode_parse(mc, ki, len) == MARKCODE_OK && mc->ki[0])
      snprintf(ki, sizeof ki, "%s", mc->ki);
    free(mc);
    value = ki;
  }
  if (open_cache(cfg, &c)) return 1;
  rc = put ? cache_block_put(c, kind, value, reason) : cache_block_remove(c, kind, value);
  if (rc == CACHE_ERR_NOT_FOUND) {
    fprintf(stderr, "kassa: no %s block on %s / такой блокировки нет\n",
            cache_block_kind_name(kind), value);
    cache_close(c);
    return 1;
  }
  if (rc != 0) {
    rc = cache_refused(put ? "the block was not set" : "the block was not removed", rc, c);
    cache_close(c);
    return rc;
  }
  cache_close(c);
  printf("%s %s %s%s%s\n", put ? "blocked" : "unblocked", cache_block_kind_name(kind), value,
         reason ? ": " : "", reason ? reason : "");
  return 0;
}

/* ---- kassa cache pool add ---------------------------------------------- */

static int pool_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  FILE *f = NULL;
  char *line = NULL, **codes = NULL;
  size_t cap = 0, count = 0, added = 0, *line_of = NULL;
  size_t number = 0;
  ssize_t got;
  markcode_t *mc = NULL;
  cache_t *c = NULL;
  int status = 1, rc;

  int at = positional(argc, argv, 2, "usage: kassa cache pool add FILE\n", &status);
  if (at < 0) return status;
  status = 1;
  if (strcmp(argv[at], "add") != 0) {
    fprintf(stderr, "usage: kassa cache pool add FILE\n");
    return 2;
  }
  const char *file = argv[at + 1];
  if (!(f = fopen(file, "r"))) {
    fprintf(stderr, "kassa: %s: %s / файл не читается\n", file, strerror(errno));
    return 1;
  }
  if (!(mc = malloc(sizeof *mc)) || !(codes = calloc(POOL_MAX, sizeof *codes)) ||
      !(line_of = calloc(POOL_MAX, sizeof *line_of)))
    goto done;
  while ((got = getline(&line, &cap, f)) >= 0) {
    size_t len = (size_t)got;
    number++;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
      line[--len] = '\0';
    if (!len || line[0] == '#') continue;
    len = cli_unescape(line, len);
    if (markcode_parse(mc, line, len) != MARKCODE_OK || mc->kind != MARKCODE_KIND_GS1 ||
        !mc->tail[0]) {
      char ru[256], en[256];
      if (mc->err != MARKCODE_OK) {
        markcode_message(mc, MARKCODE_LANG_RU, ru, sizeof ru);
        markcode_message(mc, MARKCODE_LANG_EN, en, sizeof en);
      } else {
        snprintf(ru, sizeof ru, "не код маркировки GS1 с кодом проверки");
        snprintf(en, sizeof en, "not a GS1 marking code with a verification part");
      }
      fprintf(stderr,
              "kassa: %s line %zu: %s\n  строка %zu: %s\n  nothing was pooled / ничего "
              "не добавлено\n",
              file, number, en, number, ru);
      goto done;
    }
    if (count == POOL_MAX) {
      fprintf(stderr, "kassa: %s: more than %u codes in one file\n", file, POOL_MAX);
      goto done;
    }
    if (!(codes[count] = malloc(mc->normalized_len + 1))) goto done;
    memcpy(codes[count], mc->normalized, mc->normalized_len + 1);
    line_of[count++] = number;
  }
  if (open_cache(cfg, &c)) goto done;
  rc = cache_pool_add(c, (const char *const *)codes, count, &added);
  if (rc != 0) {
    const char *detail = cache_last_error(c);
    unsigned long index = 0;
    if (sscanf(detail, "code %lu", &index) == 1 && index < count)
      fprintf(stderr, "kassa: %s line %zu:\n", file, line_of[index]);
    cache_refused("the codes were not pooled", rc, c);
    goto done;
  }
  printf("pooled %zu new codes (%zu already there) / добавлено в пул: %zu\n", added, count - added,
         added);
  status = 0;
done:
  if (status && !mc) fprintf(stderr, "kassa: out of memory\n");
  for (size_t i = 0; codes && i < count; i++) free(codes[i]);
  free(codes);
  free(line_of);
  free(line);
  free(mc);
  cache_close(c);
  fclose(f);
  return status;
}

/* ---- kassa cache report-remark ----------------------------------------- */

static int report_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  char url[URL_MAX], api_key[sizeof cfg->trueapi_api_key], code[MARKCODE_MAX_INPUT + 1];
  const char *old = NULL, *fresh = NULL, *owner = NULL;
  registry_options_t ro;
  registry_t *reg = NULL;
  registry_remark_result_t res;
  markcode_t *mc = NULL;
  size_t len;
  int rc;

  operator_defaults(cfg, url, sizeof url, api_key, sizeof api_key);
  const char *url_arg = NULL, *key_arg = NULL, *key_file = NULL;
  const cli_option_t options[] = {{"owner", 0, &owner, NULL},
                                  {"url", 0, &url_arg, NULL},
                                  {"api-key", 0, &key_arg, NULL},
                                  {"api-key-file", 0, &key_file, NULL}};
  int at;
  bool ok = cli_read_options(argc, argv, options, 4, &at) == CLI_OPTIONS_OK &&
            (!url_arg || url_ok(url_arg, sizeof url));
  if (ok && url_arg) snprintf(url, sizeof url, "%s", url_arg);
  if (ok && given_api_key("cache report-remark", key_arg, key_file, api_key, sizeof api_key))
    return 2;
  if (ok && argc - at == 2) {
    old = argv[at];
    fresh = argv[at + 1];
  }
  if (!old || !fresh) {
    fprintf(stderr, "usage: kassa cache report-remark OLD NEWCODE [--owner INN] [--url URL] "
                    "[--api-key KEY]\n");
    return 2;
  }
  len = strlen(fresh);
  if (len > MARKCODE_MAX_INPUT) len = MARKCODE_MAX_INPUT;
  memcpy(code, fresh, len);
  code[len] = '\0';
  len = cli_unescape(code, len);
  if (!(mc = malloc(sizeof *mc))) return 1;
  if (markcode_parse(mc, code, len) != MARKCODE_OK || mc->kind != MARKCODE_KIND_GS1) {
    char ru[256], en[256];
    markcode_message(mc, MARKCODE_LANG_RU, ru, sizeof ru);
    markcode_message(mc, MARKCODE_LANG_EN, en, sizeof en);
    fprintf(stderr, "kassa: the new code does not parse\n  %s\n  %s\n", ru, en);
    free(mc);
    return 1;
  }
  memset(&ro, 0, sizeof ro);
  ro.url = url;
  ro.api_key = api_key;
  rc = registry_create(&ro, &reg);
  if (rc == 0)
    rc = registry_report_remark(reg, old, mc->normalized, mc->normalized_len, owner, &res);
  free(mc);
  if (rc != 0) {
    fprintf(stderr, "kassa: the operator did not take the remark: %s%s%s\n  %s\n  %s\n  %s\n",
            registry_err_name(rc), rc == REGISTRY_ERR_REFUSED ? " " : "",
            rc == REGISTRY_ERR_REFUSED ? res.error : "", reg ? registry_last_error(reg) : "",
            registry_err_message(rc, true), registry_err_message(rc, false));
    registry_destroy(reg);
    return 1;
  }
  registry_destroy(reg);
  printf("%s: %s replaced by %s for owner %s / оператор принял перемаркировку\n",
         res.repeated ? "already known" : "reported", old, res.new_ki, res.owner);
  return 0;
}

int cli_cache(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *sub = argc >= 2 ? argv[1] : "";
  if (!strcmp(sub, "status")) return status_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "sync")) return sync_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "import-catalogue")) return import_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "lookup")) return lookup_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "block") || !strcmp(sub, "unblock")) return block_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "pool")) return pool_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "report-remark")) return report_cmd(cfg, argc - 1, argv + 1);
  if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
    fputs(cache_usage, stdout);
    return 0;
  }
  fprintf(stderr, "kassa cache: %s\n\n%s", argc < 2 ? "which subcommand?" : "unknown subcommand",
          cache_usage);
  return 2;
}
