/*
** cli_remark.c: `kassa remark`, remarking from a shell (manager only).
**
**   kassa remark pending --pin PIN [--json]
**       goods returned without a readable code, waiting for a new label
**   kassa remark --pin PIN (--old CODE [--escaped] | --pending ID)
**                [--label FILE.png] [--html FILE.html] [--json]
**       take a fresh code from the pool, link old -> new, tell the operator
**       (queued when the link is down), write the label
**   kassa remark flush --pin PIN
**       send the queued reports to the operator
**
** The same till and rules as POST /api/remark (pos/till/remark.h). Exit status:
** 0 done, 1 refused or failed (the reason printed in Russian and English),
** 2 usage.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/cli/cli.h"
#include "pos/print/label.h"
#include "pos/till/remark.h"
#include "pos/till/till.h"

static const char usage[] =
    "usage: kassa remark pending --pin PIN [--json]\n"
    "       kassa remark --pin PIN (--old CODE [--escaped] | --pending ID)\n"
    "                    [--label FILE.png] [--html FILE.html] [--json]\n"
    "       kassa remark flush --pin PIN\n"
    "\n"
    "Remarking a good whose code is damaged or lost: a fresh code from the pool\n"
    "(`kassa cache pool add`), the old code never sells again, the operator is told,\n"
    "and the DataMatrix label is written.\n";

/* The command line of `kassa remark`, read once by cli_parse_options. */
typedef struct remark_args {
  const char *old, *pending, *label, *html, *pin, *pin_file;
  bool escaped, json, help;
  const char *verb; /* "pending", "flush", or NULL: remark one good */
} remark_args_t;

/* 0, or 2 after a message (an unknown option, a missing value, an extra
** argument). */
static int parse_args(int argc, char **argv, remark_args_t *a)
{
  memset(a, 0, sizeof *a);
  const cli_option_t options[] = {
      {"old", 0, &a->old, NULL},           {"pending", 0, &a->pending, NULL},
      {"label", 0, &a->label, NULL},       {"html", 0, &a->html, NULL},
      {"pin", 0, &a->pin, NULL},           {"escaped", 0, NULL, &a->escaped},
      {"json", 0, NULL, &a->json},         {"help", 0, NULL, &a->help},
      {"pin-file", 0, &a->pin_file, NULL},
  };
  int at;
  if (cli_parse_options("remark", usage, argc, argv, options, sizeof options / sizeof options[0],
                        &at))
    return 2;
  if (at < argc && (!strcmp(argv[at], "pending") || !strcmp(argv[at], "flush")))
    a->verb = argv[at++];
  return cli_no_extra("remark", usage, argc, argv, at);
}

static int list_pending(till_t *t, bool json)
{
  cache_pending_t list[256];
  size_t n = 0;
  if (cache_pending_list(till_cache(t), list, 256, &n) != 0) return 1;
  json_t *a = json ? json_array() : NULL;
  for (size_t i = 0; i < n; i++) {
    if (a)
      json_array_append_new(
          a, json_pack("{s:I,s:s,s:I,s:I,s:I}", "id", (json_int_t)list[i].id, "gtin", list[i].gtin,
                       "return_document", (json_int_t)list[i].return_document, "line",
                       (json_int_t)list[i].line, "created_ms", (json_int_t)list[i].created_ms));
    else
      printf("%lld  GTIN %s  возврат ФД %u, строка %u / return FD %u, line %u\n",
             (long long)list[i].id, list[i].gtin, list[i].return_document, list[i].line,
             list[i].return_document, list[i].line);
  }
  if (a) {
    char *s = json_dumps(a, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(a);
  } else if (n == 0) {
    puts("Нет товаров, ждущих перемаркировки. / Nothing waits for remarking.");
  }
  return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len) {
    if (f) fclose(f);
    fprintf(stderr, "kassa remark: cannot write %s\n", path);
    return 1;
  }
  return fclose(f) == 0 ? 0 : 1;
}

static int remark_one(till_t *t, const remark_args_t *a)
{
  const char *old = a->old, *pending = a->pending, *png = a->label, *html = a->html;
  if ((old == NULL) == (pending == NULL)) {
    fputs(usage, stderr);
    return 2;
  }
  char *code = old ? strdup(old) : NULL;
  size_t len = code ? strlen(code) : 0;
  if (code && a->escaped) len = cli_unescape(code, len);
  remark_result_t r;
  int rc = remark_good(t, code, len, pending ? strtoll(pending, NULL, 10) : 0, &r);
  free(code);
  if (rc != 0) {
    fprintf(stderr, "kassa remark: %s\n  %s\n", remark_err_message(rc, true),
            remark_err_message(rc, false));
    return 1;
  }
  /* The remark stands whatever happens to its label. */
  unsigned char *label = NULL;
  size_t label_len = 0;
  label_error_t label_err;
  int out = 0;
  if (label_png(r.new_code, r.new_code_len, NULL, &label, &label_len, &label_err) != 0)
    out = 1;
  else if (png)
    out |= write_file(png, label, label_len);
  free(label);
  if (html) {
    char *page = NULL;
    size_t page_len = 0;
    label_error_t lerr;
    if (label_html(r.new_code, r.new_code_len, NULL, &page, &page_len, &lerr) == 0)
      out |= write_file(html, page, page_len);
    else
      out = 1;
    free(page);
  }
  if (a->json) {
    json_t *j =
        json_pack("{s:s,s:s,s:s%,s:b,s:s}", "old", r.old, "gtin", r.gtin, "new_code", r.new_code,
                  r.new_code_len, "reported", r.reported, "report_error", r.report_error);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s) puts(s);
    free(s);
    json_decref(j);
  } else {
    printf("Перемаркировано / remarked: %s -> новый код / new code for GTIN %s\n", r.old, r.gtin);
    printf("%s\n", r.reported ? "Оператор уведомлён. / The operator was told." : r.report_error);
  }
  return out;
}

int cli_remark(const kassa_config_t *cfg, int argc, char **argv)
{
  till_t *t = NULL;
  remark_args_t a;
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  if (parse_args(argc, argv, &a) != 0) return 2;
  if (a.help) {
    fputs(usage, stdout);
    return 0;
  }
  char pin[64];
  if (cli_secret("remark", a.pin, a.pin_file, "KASSA_PIN", pin, sizeof pin)) return 2;
  if (cli_open_till(cfg, &t)) return 1;
  int rc;
  if (!till_manager_pin_ok(t, pin)) {
    fprintf(stderr, "kassa remark: только с PIN менеджера / the manager PIN is needed "
                    "(--pin-file, KASSA_PIN)\n");
    rc = 1;
  } else if (a.verb && !strcmp(a.verb, "pending")) {
    rc = list_pending(t, a.json);
  } else if (a.verb && !strcmp(a.verb, "flush")) {
    unsigned sent = 0, left = 0;
    rc = remark_flush(t, &sent, &left) == 0 && left == 0 ? 0 : 1;
    printf("sent %u, still queued %u\n", sent, left);
  } else {
    rc = remark_one(t, &a);
  }
  till_close(t);
  return rc;
}
