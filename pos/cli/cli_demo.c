/*
** cli_demo.c: `kassa demo`, a whole store day against the real components,
** and `kassa demo codes`, the scanner's side of it.
**
** The store day. Nothing here is simulated: kassa-operator runs as a child
** process on loopback ports (OFD, OISM, key server, true-api), the FN is
** the emulator's SQLite file, the till is the same till_t `kassa serve`
** uses, in a fresh temporary data directory. The day:
**
**   the operator issues codes; the FN is registered and gets its keys; the
**   shift opens; a delivery is accepted (one code missing, one extra);
**   genuine goods sell (marked, plain, mixed payment); a counterfeit, an
**   already-sold, a blocked, an expired and a below-minimum-price item are
**   each refused with their reason; a good is returned with its code and
**   another without one, which is then remarked (new code from the pool,
**   label drawn and read back, the operator told) and sold again; the link
**   goes down, a sale goes through offline, the link comes back and the
**   outbox is flushed; the shift closes and everything is delivered.
**
** `kassa demo --kkt` runs the same day through a cash register: the FN is
** registered, then put into kassa-kkt-emu (a Shtrih-M register over TCP,
** device/), which loads its keys from the key server and delivers its
** documents and notifications to the operator itself
** (FN_CAP_DEVICE_DELIVERS); the till's `[fn] backend` names the register.
** Every fiscal step (shift, sales, returns, the remarked good's sale, the
** shift's close) then goes over the Shtrih-M protocol.
**
** The till's clock runs 15 days ahead of the real one (the FN's too), so
** the dairy the operator issued today with a 14-day shelf life is expired
** for the till: that is how "expired" is shown without editing a database.
**
** Every step states what it expects; the summary table says what happened,
** and the exit status is 0 only if every step behaved as described.
**
** `kassa demo codes` runs the first thing a till does with every scan: it
** reads the demo codes named in the config ([paths] demo_codes), each
** written the way scanners deliver them (lost separators, AIM prefixes, a
** Russian keyboard layout, damage), parses each, prints what the cashier
** would see, and checks the outcome against the expectation written beside
** the code. Exit 0 only if every code behaved as expected.
**
** File format, one code per line (blank lines and # comments ignored):
**   ok|refuse <TAB> code with \x1d escapes <TAB> what it shows
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "fiscal/crypto.h"
#include "fiscal/fn_emu.h"
#include "ofd/client.h"
#include "pos/cli/cli.h"
#include "pos/print/label.h"
#include "pos/print/receipt.h"
#include "pos/till/accept.h"
#include "pos/till/fsck.h"
#include "pos/till/remark.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"
#include "scanner/image.h"

#define OFFSET_S  (15 * 86400)
#define OWNER_INN "7700000000"
#define OFD_INN   "7704211201"
#define API_KEY   "demo-key"
#define FN_NUMBER "9999078900077777"
#define MAX_STEPS 48

#define G_SHOES   "04600000001012"
#define G_WATER   "04600000002026"
#define G_MILK    "04600000003030"
#define G_TOBACCO "04600000004044"
#define G_BREAD   "4600000005058" /* EAN-13, unmarked */

typedef struct demo {
  char tmp[64], data[96], opdata[96], op_path[1024];
  uint16_t ports[4]; /* ofd, oism, keys, http */
  pid_t op_pid;
  bool kkt;      /* --kkt: the FN sits in kassa-kkt-emu, the till talks to the register */
  pid_t kkt_pid; /* kassa-kkt-emu, 0 none */
  FILE *kkt_out; /* its stdout: "listening on PORT", then "keys N" each time */
  uint16_t kkt_port;
  kassa_config_t cfg;
  till_t *till;
  struct {
    char name[64], expected[96], got[160];
    bool ok;
  } steps[MAX_STEPS];
  int nsteps;
} demo_t;

static int64_t demo_wall(void *user)
{
  (void)user;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ((int64_t)ts.tv_sec + OFFSET_S) * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t demo_fn_clock(void *user) { return fn_emu_system_clock(user) + OFFSET_S; }

__attribute__((format(printf, 5, 6))) static void
step(demo_t *d, const char *name, const char *expected, bool ok, const char *format, ...)
{
  if (d->nsteps >= MAX_STEPS) return;
  va_list ap;
  va_start(ap, format);
  snprintf(d->steps[d->nsteps].name, sizeof d->steps[0].name, "%s", name);
  snprintf(d->steps[d->nsteps].expected, sizeof d->steps[0].expected, "%s", expected);
  vsnprintf(d->steps[d->nsteps].got, sizeof d->steps[0].got, format, ap);
  d->steps[d->nsteps].ok = ok;
  va_end(ap);
  printf("%s %-34s %s\n", ok ? "  ok " : " FAIL", name, d->steps[d->nsteps].got);
  fflush(stdout);
  d->nsteps++;
}

/* ---- the operator as a child process (cli_operator.c) ---------------------- */

static int operator_run(demo_t *d, char *out, size_t size, const char *const *args)
{
  return cli_operator_run(d->op_path, d->opdata, out, size, args);
}

static bool operator_start(demo_t *d)
{
  cli_operator_start_t o = {.path = d->op_path,
                            .data = d->opdata,
                            .ofd_inn = OFD_INN,
                            .api_key = API_KEY,
                            .ports = {d->ports[0], d->ports[1], d->ports[2], d->ports[3]}};
  d->op_pid = cli_operator_start(&o);
  return d->op_pid > 0;
}

static void operator_stop(demo_t *d)
{
  cli_operator_stop(d->op_pid);
  d->op_pid = 0;
}

/* `kassa-operator issue`: count codes into codes[] (unescaped). */
static size_t issue(demo_t *d, const char *gtin, const char *group, unsigned count,
                    char codes[][200], char escaped[][200])
{
  char out[16384], n[8];
  snprintf(n, sizeof n, "%u", count);
  const char *args[] = {"issue",   "--gtin", gtin,      "--group", group,
                        "--count", n,        "--owner", OWNER_INN, NULL};
  if (operator_run(d, out, sizeof out, args) != 0) return 0;
  size_t k = 0;
  for (char *line = strtok(out, "\n"); line && k < count; line = strtok(NULL, "\n")) {
    snprintf(escaped[k], 200, "%s", line);
    snprintf(codes[k], 200, "%s", line);
    codes[k][cli_unescape(codes[k], strlen(codes[k]))] = '\0';
    k++;
  }
  return k;
}

/* ---- the till's side ---------------------------------------------------------- */

static ofd_client_t *client(uint16_t port, frame_profile_t profile)
{
  ofd_client_options_t o;
  ofd_client_t *c = NULL;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = port;
  o.profile = profile;
  o.backoff_base_ms = 100;
  o.backoff_max_ms = 500;
  return ofd_client_create(&o, &c) == 0 ? c : NULL;
}

static void product(const demo_t *d, const char *gtin, const char *name, uint64_t price,
                    const char *group, int group_id)
{
  cache_product_t p;
  memset(&p, 0, sizeof p);
  snprintf(p.gtin, sizeof p.gtin, "%014llu", strtoull(gtin, NULL, 10));
  snprintf(p.name, sizeof p.name, "%s", name);
  p.price = price;
  p.vat = 11; /* 22 %, the general rate since 2026 */
  snprintf(p.group, sizeof p.group, "%s", group);
  p.group_id = group_id;
  p.marking_required = group[0] != '\0';
  p.excise = !strcmp(group, "tobacco");
  cache_product_put(till_cache(d->till), &p);
}

/* Scans one code into the open receipt; returns the decision's reason. */
static const char *scan(demo_t *d, const char *code, uint64_t price, check_decision_t *dec)
{
  int rc = sale_add_scan(d->till, code, strlen(code), NULL, price, dec, NULL);
  if (rc != 0 && rc != SALE_ERR_REFUSED) return sale_err_name(rc);
  return check_reason_name(dec->reason);
}

/* What a till's background sender does after each receipt: documents to
** the OFD, sale notifications to the OISM. Counts what is still owed. */
static uint32_t owed(demo_t *d)
{
  fn_status_t st;
  if (fn_status(till_fn(d->till), &st) != 0) return UINT32_MAX;
  return st.unsent_documents + st.unsent_notifications;
}

/* Through a register: it delivers between commands; wait (up to 30 s)
** until its FN owes nothing. What is still owed after that. */
static uint32_t kkt_delivered(demo_t *d)
{
  uint32_t left = owed(d);
  for (int i = 0; i < 120 && left != 0; i++) {
    struct timespec nap = {0, 250000000};
    nanosleep(&nap, NULL);
    left = owed(d);
  }
  return left;
}

static uint32_t deliver(demo_t *d)
{
  if (d->kkt) return kkt_delivered(d);
  ofd_client_t *ofd = client(d->ports[0], FRAME_PROFILE_OFD);
  ofd_client_t *oism = client(d->ports[1], FRAME_PROFILE_OISM);
  ofd_delivery_stats_t s;
  if (ofd) ofd_deliver_documents(till_fn(d->till), ofd, NULL, NULL, &s);
  if (oism) ofd_deliver_notifications(till_fn(d->till), oism, NULL, NULL, &s);
  ofd_client_destroy(ofd);
  ofd_client_destroy(oism);
  return owed(d);
}

/* Pays the open receipt (the rest of the total in cash). A receipt that
** does not close is cancelled, so the next step starts clean. */
static bool pay(demo_t *d, uint64_t cashless, sale_closed_t *out)
{
  sale_basket_t *b = malloc(sizeof *b);
  memset(out, 0, sizeof *out);
  bool ok = b && sale_get(d->till, b) == 0 && b->total >= cashless &&
            sale_close(d->till, b->total - cashless, cashless, out, NULL) == 0;
  if (!ok)
    sale_cancel(d->till);
  else if (d->op_pid > 0)
    deliver(d);
  free(b);
  return ok;
}

/* One refusal step: the code must be refused for `want`. */
static void refusal(demo_t *d, const char *name, const char *code, uint64_t price, const char *want)
{
  check_decision_t dec;
  const char *got = scan(d, code, price, &dec);
  char expected[96];
  snprintf(expected, sizeof expected, "refused: %s", want);
  step(d, name, expected, !strcmp(got, want), "%s — %s", got, dec.message_ru);
}

/* ---- the register (kassa-kkt-emu) as a child process ------------------------ */

/* Its path: $KASSA_KKT_EMU, else next to kassa-operator's (the build's). */
static void kkt_find(const demo_t *d, char *path, size_t size)
{
  const char *env = getenv("KASSA_KKT_EMU");
  if (env && *env) {
    snprintf(path, size, "%s", env);
    return;
  }
  const char *slash = strrchr(d->op_path, '/');
  int dir = slash ? (int)(slash - d->op_path) : 1;
  snprintf(path, size, "%.*s/kassa-kkt-emu", dir, slash ? d->op_path : ".");
}

/* One line of the register's stdout within 20 s into line; false on EOF,
** timeout or a line that does not start with `prefix`. */
static bool kkt_line(demo_t *d, const char *prefix, char *line, size_t size)
{
  struct pollfd p = {.fd = fileno(d->kkt_out), .events = POLLIN};
  if (poll(&p, 1, 20000) <= 0 || !fgets(line, (int)size, d->kkt_out)) return false;
  return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* Starts kassa-kkt-emu on the FN at fn_db with its links to the operator,
** its FN's clock OFFSET_S ahead like the till's; waits until it listens
** and has loaded its keys. keys: how many. */
static bool kkt_start(demo_t *d, const char *fn_db, unsigned *keys)
{
  char path[1024], links[3][32], ahead[16], log[128], line[128];
  int out[2];
  kkt_find(d, path, sizeof path);
  for (int i = 0; i < 3; i++) snprintf(links[i], sizeof links[i], "127.0.0.1:%u", d->ports[i]);
  snprintf(ahead, sizeof ahead, "%d", OFFSET_S);
  snprintf(log, sizeof log, "%.63s/kkt-emu.log", d->tmp);
  if (access(path, X_OK) != 0 || pipe(out) != 0) return false;
  pid_t pid = fork();
  if (pid == 0) {
    int err = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    dup2(out[1], 1);
    if (err >= 0) dup2(err, 2);
    close(out[0]);
    execl(path, path, "--port", "0", "--fn-db", fn_db, "--ofd", links[0], "--oism", links[1],
          "--keys", links[2], "--clock-ahead", ahead, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  if (pid < 0 || !(d->kkt_out = fdopen(out[0], "r"))) {
    close(out[0]);
    if (pid > 0) kill(pid, SIGTERM), waitpid(pid, NULL, 0);
    return false;
  }
  d->kkt_pid = pid;
  if (!kkt_line(d, "listening on ", line, sizeof line)) return false;
  d->kkt_port = (uint16_t)atoi(line + 13);
  if (!kkt_line(d, "keys ", line, sizeof line)) return false;
  *keys = (unsigned)atoi(line + 5);
  return d->kkt_port != 0;
}

static void kkt_stop(demo_t *d)
{
  if (d->kkt_pid > 0) {
    kill(d->kkt_pid, SIGTERM);
    waitpid(d->kkt_pid, NULL, 0);
  }
  if (d->kkt_out) fclose(d->kkt_out);
  d->kkt_pid = 0;
  d->kkt_out = NULL;
}

static bool setup(demo_t *d, const kassa_config_t *base)
{
  char path[256];
  fn_t *fn = NULL;
  fn_registration_t r;
  snprintf(d->tmp, sizeof d->tmp, "/tmp/kassa-demo-XXXXXX");
  if (!mkdtemp(d->tmp)) return false;
  snprintf(d->data, sizeof d->data, "%s/data", d->tmp);
  snprintf(d->opdata, sizeof d->opdata, "%s/operator", d->tmp);
  mkdir(d->data, 0700);
  mkdir(d->opdata, 0700);
  for (int i = 0; i < 4; i++) d->ports[i] = cli_free_port();

  const char *keys[] = {"keys", "new", "--kind", "hmac", NULL};
  bool ok = operator_run(d, NULL, 0, keys) == 0 && operator_start(d);
  step(d, "operator started", "listening", ok, "kassa-operator on 127.0.0.1:%u-%u (pid %d)",
       d->ports[0], d->ports[3], (int)d->op_pid);
  if (!ok) return false;

  snprintf(path, sizeof path, "%s/fn.db", d->data);
  fn_emu_options_t fo = {.clock = demo_fn_clock};
  memset(&r, 0, sizeof r);
  strcpy(r.header.kkt_reg_number, "0000000001077777");
  strcpy(r.header.user_inn, OWNER_INN);
  strcpy(r.header.user_name, "ООО \"Ромашка\"");
  strcpy(r.header.address, "г. Москва, ул. Тверская, 1");
  strcpy(r.header.place, "Магазин у дома");
  r.reg.tax_systems = 1;
  strcpy(r.reg.ofd_inn, OFD_INN);
  strcpy(r.reg.ofd_name, "ООО \"Оператор\"");
  strcpy(r.reg.kkt_serial, "KASSA0001");
  r.reg.marking = true;
  r.reg.ffd_version = 4;
  ok = crypto_init() == 0 && fn_emu_create(path, FN_NUMBER) == 0 &&
       fn_emu_open(path, &fo, &fn) == 0 && fn_register(fn, &r, false, NULL) == 0;
  fn_free(fn);
  char fnarg[300];
  snprintf(fnarg, sizeof fnarg, "%s", path);
  const char *add[] = {"fn", "add", "--fn-db", fnarg, NULL};
  ok = ok && operator_run(d, NULL, 0, add) == 0;
  step(d, "FN registered (online, marking)", "registration report 1", ok, "FN %s", FN_NUMBER);
  if (!ok) return false;
  unsigned kkt_keys = 0;
  if (d->kkt) { /* the FN goes into the register, which fetches its keys */
    ok = kkt_start(d, path, &kkt_keys);
    step(d, "register started, keys loaded", "kassa-kkt-emu, keys", ok && kkt_keys > 0,
         "kassa-kkt-emu on 127.0.0.1:%u, %u key(s) from the key server", d->kkt_port, kkt_keys);
    if (!ok || kkt_keys == 0) return false;
  }

  d->cfg = *base;
  snprintf(d->cfg.data_dir, sizeof d->cfg.data_dir, "%s", d->data);
  snprintf(d->cfg.operator_host, sizeof d->cfg.operator_host, "127.0.0.1");
  d->cfg.operator_ofd_port = d->ports[0];
  d->cfg.operator_oism_port = d->ports[1];
  d->cfg.operator_keys_port = d->ports[2];
  d->cfg.operator_http_port = d->ports[3];
  d->cfg.trueapi_cdn_url[0] = '\0';
  snprintf(d->cfg.trueapi_api_key, sizeof d->cfg.trueapi_api_key, API_KEY);
  snprintf(d->cfg.check_mode, sizeof d->cfg.check_mode, "both");
  snprintf(d->cfg.manager_pin, sizeof d->cfg.manager_pin, "2468");
  d->cfg.check_budget_ms = 1500;
  if (d->kkt)
    snprintf(d->cfg.fn_backend, sizeof d->cfg.fn_backend, "shtrih:tcp:127.0.0.1:%u", d->kkt_port);
  char err[512];
  till_options_t o = {.config = &d->cfg, .clock = demo_wall, .fn_clock = demo_fn_clock};
  if (till_open(&o, &d->till, err, sizeof err) != 0) {
    step(d, "till opened", "open", false, "%s", err);
    return false;
  }
  if (!d->kkt) { /* a register loads its own (above) */
    ofd_client_t *kc = client(d->ports[2], FRAME_PROFILE_KEYS);
    size_t nkeys = 0;
    ok = kc && ofd_keys_update(till_fn(d->till), kc, &nkeys) == 0 && nkeys > 0;
    ofd_client_destroy(kc);
    step(d, "keys from the key server", "at least one key", ok, "%zu key(s) loaded", nkeys);
  }
  ok = ok && fn_shift_open(till_fn(d->till), "Иванова", NULL) == 0;
  step(d, "shift opened", "shift 1", ok, ok ? "shift 1 open" : "refused");
  product(d, G_SHOES, "Кроссовки «Бег» 42", 499000, "footwear", 1);
  product(d, G_WATER, "Вода питьевая 0,5 л", 6900, "water", 13);
  product(d, G_MILK, "Молоко 3,2% 1 л", 8900, "dairy", 8);
  product(d, G_TOBACCO, "Сигареты «Ява»", 15000, "tobacco", 3);
  product(d, G_BREAD, "Хлеб бородинский", 5500, "", 0);
  return ok;
}

static int summary(demo_t *d)
{
  int failed = 0;
  printf("\n%-3s %-34s %-30s %s\n", "#", "step", "expected", "result");
  for (int i = 0; i < d->nsteps; i++) {
    /* Pad by characters, not bytes: "[М+]" is 4 characters, 5 bytes. */
    int extra = 0;
    for (const char *c = d->steps[i].expected; *c; c++) extra += ((unsigned char)*c & 0xC0) == 0x80;
    printf("%-3d %-34s %-*s %s\n", i + 1, d->steps[i].name, 30 + extra, d->steps[i].expected,
           d->steps[i].ok ? "ok" : "NOT AS EXPECTED");
    failed += !d->steps[i].ok;
  }
  printf("\n%d steps, %d as expected, %d not. Data kept in %s\n", d->nsteps, d->nsteps - failed,
         failed, failed ? d->tmp : "(removed)");
  return failed == 0 && d->nsteps > 0 ? 0 : 1;
}

static int demo_store_day(const kassa_config_t *base, bool kkt)
{
  static demo_t demo;
  static char shoes[10][200], shoes_e[10][200], water[2][200], water_e[2][200], milk[1][200],
      milk_e[1][200], tobacco[2][200], tobacco_e[2][200], pool[2][200], pool_e[2][200];
  demo_t *d = &demo;
  d->kkt = kkt;
  check_decision_t dec;
  sale_closed_t closed;
  cli_operator_find(d->op_path, sizeof d->op_path);
  if (access(d->op_path, X_OK) != 0) {
    fprintf(stderr, "kassa demo: kassa-operator not found at %s (set KASSA_OPERATOR)\n",
            d->op_path);
    return 1;
  }
  printf("kassa demo: a store day on loopback%s (the till's clock is 15 days ahead)\n\n",
         kkt ? " through a Shtrih-M register (kassa-kkt-emu)" : "");
  if (!setup(d, base)) goto end;

  /* Codes from the operator. */
  bool ok = issue(d, G_SHOES, "footwear", 8, shoes, shoes_e) == 8 &&
            issue(d, G_WATER, "water", 2, water, water_e) == 2 &&
            issue(d, G_MILK, "dairy", 1, milk, milk_e) == 1 &&
            issue(d, G_TOBACCO, "tobacco", 2, tobacco, tobacco_e) == 2 &&
            issue(d, G_SHOES, "footwear", 2, pool, pool_e) == 2;
  step(d, "codes issued by the operator", "15 codes", ok,
       "footwear 8+2 pool, water 2, dairy 1, "
       "tobacco 2");
  if (!ok) goto end;

  /* Goods acceptance: the supplier lists shoes 0-5; the store scans 0-4 and 6. */
  {
    char listed[4096] = "", scanned[4096] = "";
    for (int i = 0; i <= 5; i++)
      snprintf(listed + strlen(listed), 4096 - strlen(listed), "%s\n", shoes_e[i]);
    for (int i = 0; i <= 6; i++)
      if (i != 5) snprintf(scanned + strlen(scanned), 4096 - strlen(scanned), "%s\n", shoes_e[i]);
    accept_doc_t *doc = NULL, *delivery = NULL;
    accept_report_t *rep = NULL;
    accept_error_t aerr;
    ok = accept_doc_parse_list(listed, strlen(listed), "supplier.txt", &doc, &aerr) == 0 &&
         accept_doc_parse_list(scanned, strlen(scanned), "scanned.txt", &delivery, &aerr) == 0 &&
         accept_compare(doc, delivery, &rep) == 0;
    ok = ok && rep->missing.count == 1 && rep->extra.count == 1 && rep->matched.count == 5 &&
         accept_decide(rep, till_cache(d->till), ACCEPT_DECIDE_PART) == 0 &&
         rep->accepted.count == 5;
    step(d, "delivery accepted in part", "5 matched, 1 missing, 1 extra", ok,
         "matched %zu, missing %zu, extra %zu, accepted %zu", rep ? rep->matched.count : 0,
         rep ? rep->missing.count : 0, rep ? rep->extra.count : 0, rep ? rep->accepted.count : 0);
    accept_report_free(rep);
    accept_doc_free(doc);
    accept_doc_free(delivery);
  }

  /* Genuine goods. */
  sale_open(d->till, 1, "Иванова");
  const char *r1 = scan(d, shoes[0], 0, &dec);
  const char *mark1 = dec.mark;
  const char *r2 = scan(d, water[0], 0, &dec);
  const char *r3 = scan(d, G_BREAD, 0, &dec);
  ok = !strcmp(r1, "ok") && !strcmp(r2, "ok") && !strcmp(r3, "ok") && pay(d, 400000, &closed);
  step(d, "sale: shoes, water, bread", "sold, [М+], mixed payment", ok && !strcmp(mark1, "[М+]"),
       "FD %u, FP %u, %s, total %llu.%02llu (%s/%s/%s)", closed.doc.number, closed.doc.fiscal_sign,
       mark1, (unsigned long long)(closed.total / 100), (unsigned long long)(closed.total % 100),
       r1, r2, r3);
  {
    int err;
    char *text = ok ? receipt_text(d->till, closed.doc.number, 48, &err) : NULL;
    if (text) printf("\n%s\n", text);
    free(text);
  }

  /* What must not sell. */
  sale_open(d->till, 1, "Иванова");
  {
    char fake[200];
    snprintf(fake, sizeof fake, "%s", shoes[1]);
    char *tail = strstr(fake, "\x1d"
                              "92");
    if (tail) tail[6] = tail[6] == 'A' ? 'B' : 'A';
    refusal(d, "counterfeit (tail changed)", fake, 0, "counterfeit");
  }
  refusal(d, "already sold", shoes[0], 0, "already_sold");
  {
    const char *block[] = {"block", "--code", shoes_e[2], NULL};
    operator_run(d, NULL, 0, block);
    refusal(d, "blocked by the operator", shoes[2], 0, "op_blocked");
  }
  refusal(d, "expired dairy", milk[0], 0, "expired");
  {
    const char *price[] = {"price", "--gtin", G_TOBACCO, "--min", "14000", "--max", "15000", NULL};
    operator_run(d, NULL, 0, price);
    refusal(d, "tobacco below the minimum price", tobacco[0], 13000, "price_below_min");
  }
  ok = !strcmp(scan(d, tobacco[1], 15000, &dec), "ok") &&
       !strcmp(scan(d, shoes[3], 0, &dec), "ok") && pay(d, 0, &closed);
  step(d, "sale: tobacco at its price, shoes", "sold", ok, "FD %u", closed.doc.number);
  uint32_t shoes_fd = closed.doc.number; /* the shoes are its line 2 */

  /* Returns. */
  ok = till_manager_pin_ok(d->till, "2468") && !till_manager_pin_ok(d->till, "0000");
  const char *why = "";
  ok = ok && sale_open(d->till, 2, "Менеджер") == 0 &&
       !strcmp(why = scan(d, shoes[0], 0, &dec), "ok") && pay(d, 0, &closed);
  cache_code_t row;
  char ki[64];
  snprintf(ki, sizeof ki, "%.*s", 31, shoes[0]);
  ok =
      ok && cache_code_get(till_cache(d->till), ki, &row) == 0 && row.local == CACHE_LOCAL_IN_STOCK;
  step(d, "return with the code (PIN)", "back in stock", ok, "FD %u, %s", closed.doc.number,
       ok ? "code back in stock" : why);
  uint32_t id;
  ok = sale_open(d->till, 2, "Менеджер") == 0 &&
       sale_add_without_code(d->till, G_SHOES, 0, shoes_fd, 2, &id) == 0 && pay(d, 0, &closed);
  cache_pending_t pend[8];
  size_t npend = 0;
  ok = ok && cache_pending_list(till_cache(d->till), pend, 8, &npend) == 0 && npend == 1;
  step(d, "return without a code", "waits for remarking", ok, "FD %u, %zu pending",
       closed.doc.number, npend);

  /* Remarking the good returned without its code. */
  {
    const char *pool_codes[] = {pool[0], pool[1]};
    size_t added = 0;
    cache_pool_add(till_cache(d->till), pool_codes, 2, &added);
    remark_result_t rr;
    int rc = npend ? remark_good(d->till, NULL, 0, pend[0].id, &rr) : REMARK_ERR_NOT_FOUND;
    bool read_back = false;
    if (rc == 0) {
      char png[160];
      snprintf(png, sizeof png, "%.63s/label.png", d->tmp);
      label_error_t lerr;
      label_png_file(rr.new_code, rr.new_code_len, NULL, png, &lerr);
      image_gray_t img;
      image_code_t found[2];
      size_t n = 0;
      if (image_load(png, &img) == 0) {
        if (image_decode(&img, found, 2, &n, NULL) == 0 && n == 1) {
          markcode_t a, b;
          markcode_parse(&a, (const char *)found[0].data, found[0].length);
          markcode_parse(&b, rr.new_code, rr.new_code_len);
          read_back = !strcmp(a.normalized, b.normalized);
        }
        image_free(&img);
      }
    }
    step(d, "remark: new code, label, report", "label reads back, operator told",
         rc == 0 && read_back && rr.reported, "%s; label %s; operator %s",
         rc == 0 ? rr.old : remark_err_name(rc), read_back ? "reads back" : "UNREADABLE",
         rc == 0 && rr.reported ? "told" : "not told");
    ok = rc == 0 && sale_open(d->till, 1, "Иванова") == 0 &&
         !strcmp(scan(d, rr.new_code, 0, &dec), "ok") && pay(d, 0, &closed);
    step(d, "the remarked good sells", "sold with the new code", ok, "FD %u", closed.doc.number);
  }

  /* The link goes down. */
  operator_stop(d);
  ok = sale_open(d->till, 1, "Иванова") == 0 && !strcmp(scan(d, shoes[4], 0, &dec), "ok") &&
       dec.offline && pay(d, 0, &closed);
  step(d, "sale with the link down", "sold offline, [М]", ok && !strcmp(dec.mark, "[М]"),
       "FD %u, %s, offline=%d", closed.doc.number, dec.mark, dec.offline);
  ok = operator_start(d);
  fn_doc_result_t res;
  ok = ok && fn_shift_close(till_fn(d->till), "Иванова", &res) == 0;
  step(d, "link back, shift closed", "shift closed", ok, "shift close FD %u", res.number);
  {
    ofd_client_t *ofd = client(d->ports[0], FRAME_PROFILE_OFD);
    ofd_client_t *oism = client(d->ports[1], FRAME_PROFILE_OISM);
    ofd_delivery_stats_t s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    ok = ofd && oism && ofd_deliver_documents(till_fn(d->till), ofd, NULL, NULL, &s1) == 0 &&
         ofd_deliver_notifications(till_fn(d->till), oism, NULL, NULL, &s2) == 0;
    /* Through a register kassa sends nothing (0 delivered): the register
    ** does, and the step waits until its FN owes nothing. */
    uint32_t left = d->kkt ? kkt_delivered(d) : owed(d);
    ok = ok && left == 0 && (!d->kkt || (s1.delivered == 0 && s2.delivered == 0));
    step(d, d->kkt ? "the register delivered everything" : "outbox flushed to the operator",
         "nothing owed", ok, "%u documents, %u notifications delivered by kassa; owed %u",
         s1.delivered, s2.delivered, left);
    ofd_client_destroy(ofd);
    ofd_client_destroy(oism);
  }
end:
  till_close(d->till);
  kkt_stop(d);
  if (d->kkt && d->till) { /* the register off: the FN's archive and the till's records agree */
    static fsck_report_t fr;
    char err[256] = "";
    ok = fsck_run(d->data, &fr, err, sizeof err) == 0 && fr.problem_count == 0;
    step(d, "fsck after the day", "clean", ok, "%u documents, %u receipts, %u returns; %s",
         fr.documents, fr.receipts, fr.returns,
         err[0]             ? err
         : fr.problem_count ? fr.problems[0].detail
                            : "clean");
  }
  operator_stop(d);
  int rc = summary(d);
  if (rc == 0) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%.63s'", d->tmp);
    if (system(cmd) != 0) fprintf(stderr, "kassa demo: could not remove %s\n", d->tmp);
  }
  return rc;
}

/* ---- `kassa demo codes` ------------------------------------------------- */

static void print_fixes(const markcode_t *mc, char *out, size_t size)
{
  size_t o = 0;
  out[0] = '\0';
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT && o < size; k++)
    if (mc->fixes & (1u << k)) {
      int n = snprintf(out + o, size - o, "%s%s", o ? "," : "",
                       markcode_fix_name((markcode_fix_t)(1u << k)));
      if (n < 0) break;
      o += (size_t)n;
    }
}

static int demo_codes(const kassa_config_t *cfg)
{
  FILE *f = fopen(cfg->demo_codes, "r");
  if (!f) {
    fprintf(stderr, "kassa demo: cannot read the demo codes %s (set [paths] demo_codes)\n",
            cfg->demo_codes);
    return 1;
  }
  printf("kassa demo: scans from %s\n\n", cfg->demo_codes);
  printf("%-3s %-7s %-13s %-14s %-20s %s\n", "#", "verdict", "kind/error", "gtin", "serial",
         "repairs / message");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int count = 0, wrong = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    size_t len = (size_t)n;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0 || line[0] == '#') continue;
    char *expect = line, *code = strchr(line, '\t');
    if (!code) {
      fprintf(stderr, "kassa demo: line without a TAB: %s\n", line);
      wrong++;
      continue;
    }
    *code++ = '\0';
    char *note = strchr(code, '\t');
    if (note) *note++ = '\0';
    size_t clen = cli_unescape(code, strlen(code));
    markcode_t mc;
    markcode_parse(&mc, code, clen);
    int ok = mc.err == MARKCODE_OK;
    int as_expected = ok == !strcmp(expect, "ok");
    char detail[512];
    if (ok)
      print_fixes(&mc, detail, sizeof detail);
    else
      markcode_message(&mc, MARKCODE_LANG_RU, detail, sizeof detail);
    count++;
    printf("%-3d %-7s %-13s %-14s %-20s %s%s\n", count, ok ? "ALLOW" : "REFUSE",
           ok ? markcode_kind_name(mc.kind) : markcode_err_code(mc.err), mc.gtin, mc.serial, detail,
           as_expected ? "" : "   <-- NOT AS EXPECTED");
    if (note && *note) printf("    %s\n", note);
    wrong += !as_expected;
  }
  free(line);
  fclose(f);
  printf("\n%d scans, %d as expected, %d not\n", count, count - wrong, wrong);
  return wrong == 0 && count > 0 ? 0 : 1;
}

int cli_demo(const kassa_config_t *cfg, int argc, char **argv)
{
  bool help = false, kkt = false;
  const cli_option_t options[] = {{"help", 'h', NULL, &help}, {"kkt", 0, NULL, &kkt}};
  int at;
  int rc = cli_read_options(argc, argv, options, 2, &at);
  if (help) {
    puts("usage: kassa demo          a store day against kassa-operator on loopback\n"
         "       kassa demo --kkt    the same day through a Shtrih-M register (kassa-kkt-emu)\n"
         "       kassa demo codes    the demo scans through the marking-code engine\n"
         "\n"
         "The store day starts kassa-operator (next to kassa, or $KASSA_OPERATOR) in a\n"
         "temporary directory and exits 0 only if every step behaved as described.");
    return 0;
  }
  if (rc == CLI_OPTIONS_OK && at + 1 == argc && !strcmp(argv[at], "codes")) return demo_codes(cfg);
  if (rc != CLI_OPTIONS_OK || at < argc) {
    fprintf(stderr, "kassa demo: unknown argument %s (try --help)\n", argv[at]);
    return 2;
  }
  return demo_store_day(cfg, kkt);
}
