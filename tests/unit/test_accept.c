/*
** test_accept.c: goods acceptance (pos/till/accept.h) on the UTDs and lists in
** tests/data/utd/, and against a real code cache in a temporary directory.
**
** Reading: a windows-1251 UTD 5.01 and a UTF-8 UTD 5.03 give their header
** (number, date, supplier INN and name: a company and a sole trader), every
** КИЗ and НомУпак with the line it is written on (found here by searching
** the file's bytes, not written into the test), entities and CDATA
** decoded, and every code that is not one item's code kept as INVALID with
** the parser's reason in Russian and English. The same document converted
** to UTF-8 (iconv, here) reads to the same keys. Malformed, truncated,
** DOCTYPE-carrying, wrongly encoded and non-UTD files fail with the right
** error and line and make no document; lists take BOM, CRLF, comments,
** escapes and AIM prefixes and refuse bytes that are not UTF-8.
**
** Comparing: matched, missing, extra, duplicates (with their first line),
** packages (scanned or not) in file order; a generated delivery of 20 000
** codes with a known set of missing, extra and duplicated ones.
**
** Deciding: accept all only when everything matches, else refused with the
** stock untouched; part puts exactly the matched codes into stock (never
** the missing, extra, package or invalid ones); reject writes nothing;
** codes the cache knows as sold or blocked are conflicts and stay out; a
** second acceptance counts codes already in stock; a report is decided
** once.
*/
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pos/till/accept.h"
#include "pos/till/cache.h"

#define DATA "tests/data/utd/"

/* ---- helpers -------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return buf;
}

/* The 1-based line of the nth (0-based) occurrence of needle (bytes) in
** the file. */
static uint32_t line_of_nth(const char *path, const char *needle, int nth)
{
  size_t len;
  char *buf = slurp(path, &len), *at = buf;
  for (int i = 0; i <= nth; i++) {
    at = strstr(i ? at + 1 : at, needle);
    assert_non_null(at);
  }
  uint32_t line = 1;
  for (char *p = buf; p < at; p++)
    if (*p == '\n') line++;
  free(buf);
  return line;
}

/* The line of the first occurrence of needle. */
static uint32_t line_of(const char *path, const char *needle)
{
  return line_of_nth(path, needle, 0);
}

/* The line of the element holding exactly text (">text<" in the file). */
static uint32_t element_line(const char *path, const char *text)
{
  char needle[96];
  snprintf(needle, sizeof needle, ">%s<", text);
  return line_of(path, needle);
}

typedef int (*loader_t)(const char *path, accept_doc_t **out, accept_error_t *err);

static accept_doc_t *load_with(loader_t load, const char *path)
{
  accept_doc_t *d = NULL;
  accept_error_t e;
  if (load(path, &d, &e) != ACCEPT_OK) fail_msg("%s: %s", path, e.message_en);
  return d;
}

static accept_doc_t *load_utd(const char *path) { return load_with(accept_doc_load_utd, path); }

static accept_doc_t *load_list(const char *path) { return load_with(accept_doc_load_list, path); }

/* A document, the delivery scanned against it, and their report. */
typedef struct compared {
  accept_doc_t *doc, *scan;
  accept_report_t *r;
} compared_t;

/* Compares scan (taken) with doc (taken); the report must come. */
static compared_t compared(accept_doc_t *doc, accept_doc_t *scan)
{
  compared_t c = {doc, scan, NULL};
  assert_int_equal(accept_compare(doc, scan, &c.r), ACCEPT_OK);
  return c;
}

/* A fresh report (a report is decided once) of the same two, or of the
** document and another scan (taken; the old one freed) when scan is not
** NULL. */
static void compare_again(compared_t *c, accept_doc_t *scan)
{
  accept_report_free(c->r);
  c->r = NULL;
  if (scan) {
    accept_doc_free(c->scan);
    c->scan = scan;
  }
  assert_int_equal(accept_compare(c->doc, c->scan, &c->r), ACCEPT_OK);
}

/* The 5.01 UTD and its scanned delivery (tests/data/utd/scanned_501.txt). */
static compared_t compared_501(void)
{
  return compared(load_utd(DATA "ON_NSCHFDOPPR_501_cp1251.xml"), load_list(DATA "scanned_501.txt"));
}

/* The plain delivery list and a scan that matches it exactly. */
static compared_t compared_list(void)
{
  return compared(load_list(DATA "delivery_list.txt"), load_list(DATA "scanned_list_exact.txt"));
}

static void compared_free(compared_t *c)
{
  accept_report_free(c->r);
  accept_doc_free(c->doc);
  accept_doc_free(c->scan);
}

/* The entry whose key is key, or NULL. */
static const accept_entry_t *find_key(const accept_doc_t *d, const char *key)
{
  for (size_t i = 0; i < accept_doc_count(d); i++)
    if (!strcmp(accept_doc_entry(d, i)->key, key)) return accept_doc_entry(d, i);
  return NULL;
}

static const accept_entry_t *find_text(const accept_doc_t *d, const char *text)
{
  for (size_t i = 0; i < accept_doc_count(d); i++)
    if (!strcmp(accept_doc_entry(d, i)->text, text)) return accept_doc_entry(d, i);
  return NULL;
}

static size_t count_kind(const accept_doc_t *d, accept_entry_kind_t kind)
{
  size_t n = 0;
  for (size_t i = 0; i < accept_doc_count(d); i++)
    if (accept_doc_entry(d, i)->kind == kind) n++;
  return n;
}

static bool has_cyrillic(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s == 0xD0 || (unsigned char)*s == 0xD1) return true;
  return false;
}

static bool lines_have(const accept_lines_t *l, const char *key)
{
  for (size_t i = 0; i < l->count; i++)
    if (!strcmp(l->items[i].entry->key, key)) return true;
  return false;
}

/* A cache in a fresh temporary directory. */
typedef struct fixture {
  char dir[64];
  char path[128];
  cache_t *c;
} fixture_t;

static int setup_cache(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/kassa-accept-XXXXXX");
  if (mkdtemp(f->dir) == NULL) return -1;
  snprintf(f->path, sizeof f->path, "%s/cache.db", f->dir);
  if (cache_open(f->path, &f->c) != CACHE_OK) return -1;
  *state = f;
  return 0;
}

static int teardown_cache(void **state)
{
  fixture_t *f = *state;
  char path[160];
  cache_close(f->c);
  const char *suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s%s", f->path, suffix[i]);
    unlink(path);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static cache_local_state_t local_state(cache_t *c, const char *ki)
{
  cache_code_t cc;
  int rc = cache_code_get(c, ki, &cc);
  if (rc == CACHE_ERR_NOT_FOUND) return CACHE_LOCAL_NONE;
  assert_int_equal(rc, CACHE_OK);
  return cc.local;
}

static uint64_t stock_count(cache_t *c)
{
  uint64_t n = 0;
  assert_int_equal(cache_stock_count(c, NULL, &n), CACHE_OK);
  return n;
}

/* ---- reading a UTD ----------------------------------------------------------- */

static const char *const utd501_kiz[] = {
    "0103041094787443215Qbag!",        "01030410947874432150ZOi;",
    "010304109478744321c_oMk?KrXtola", "010463011132146421V!VeVCzqYrNi_",
    "0104607038046435215Z7(DdTeBEIIU", "01046056740000192153E4I:ndGuD4B",
    "0104636332455339215qa5?WHJssbI-", "0104601669010315217m2CUceKxx41w",
    "0104640088091000215gMpn5CJG37mF", "010461008041021521e'?xOJHdNYNFl",
    "010461008041021521e,s;r!t%BroGd", "010460780959145421m9tNPzJTWzuc9exC5/M+",
};

static void utd_cp1251_header_and_codes(void **state)
{
  (void)state;
  const char *path = DATA "ON_NSCHFDOPPR_501_cp1251.xml";
  accept_doc_t *d = load_utd(path);
  const accept_doc_info_t *info = accept_doc_info(d);

  assert_int_equal(info->format, ACCEPT_FORMAT_UTD);
  assert_string_equal(info->version, "5.01");
  assert_string_equal(info->function, "СЧФДОП");
  assert_string_equal(info->number, "УТ-1287");
  assert_string_equal(info->date, "15.03.2024");
  assert_string_equal(info->supplier_inn, "7701123451");
  assert_string_equal(info->supplier_name, "ООО \"Ромашка\"");
  assert_string_equal(info->source, "ON_NSCHFDOPPR_501_cp1251.xml");
  assert_true(strncmp(info->file_id, "ON_NSCHFDOPPR_", 14) == 0);

  /* Every КИЗ, in file order, on the line it is written on. */
  size_t n = sizeof utd501_kiz / sizeof utd501_kiz[0];
  assert_int_equal(count_kind(d, ACCEPT_ENTRY_ITEM), n);
  assert_int_equal(count_kind(d, ACCEPT_ENTRY_INVALID), 0);
  for (size_t i = 0; i < n; i++) {
    const accept_entry_t *e = accept_doc_entry(d, i);
    assert_int_equal(e->kind, ACCEPT_ENTRY_ITEM);
    assert_string_equal(e->key, utd501_kiz[i]);
    assert_string_equal(e->element, "КИЗ");
    assert_int_equal(e->line, element_line(path, utd501_kiz[i]));
    assert_memory_equal(e->gtin, utd501_kiz[i] + 2, 14);
  }
  /* Product line numbers and positions inside them. */
  assert_int_equal(accept_doc_entry(d, 0)->item, 1);
  assert_int_equal(accept_doc_entry(d, 2)->index, 3);
  assert_int_equal(accept_doc_entry(d, 3)->item, 2);
  assert_int_equal(accept_doc_entry(d, 11)->item, 8);

  /* Two packages: a tobacco block (group) and an SSCC box. The transport
  ** package id of line 2 comes with its contents and is not one. */
  assert_int_equal(count_kind(d, ACCEPT_ENTRY_PACKAGE), 2);
  const accept_entry_t *block = find_key(d, "0104600266014870217837800");
  assert_non_null(block);
  assert_int_equal(block->kind, ACCEPT_ENTRY_PACKAGE);
  assert_int_equal(block->package, ACCEPT_PACKAGE_GROUP);
  assert_string_equal(block->element, "НомУпак");
  assert_int_equal(block->item, 9);
  assert_int_equal(block->line, element_line(path, "0104600266014870217837800"));
  assert_true(has_cyrillic(block->message_ru));
  assert_non_null(strstr(block->message_en, "Disaggregate"));
  const accept_entry_t *box = find_key(d, "00146000000000000029");
  assert_non_null(box);
  assert_int_equal(box->package, ACCEPT_PACKAGE_SSCC);
  assert_null(find_key(d, "00146000000000000012"));
  accept_doc_free(d);
}

static void utd_utf8_sole_trader_invalid_codes(void **state)
{
  (void)state;
  const char *path = DATA "ON_NSCHFDOPPR_503_utf8.xml";
  accept_doc_t *d = load_utd(path);
  const accept_doc_info_t *info = accept_doc_info(d);

  assert_string_equal(info->version, "5.03");
  assert_string_equal(info->number, "А-00042/1");
  assert_string_equal(info->date, "20.05.2024");
  assert_string_equal(info->supplier_inn, "500123456750");
  assert_string_equal(info->supplier_name, "ИП Сидорова Анна Сергеевна");
  assert_int_equal(accept_doc_count(d), 9);

  /* A tobacco pack is kept by its ki (GTIN + serial), a fur tag as itself. */
  const accept_entry_t *pack = find_key(d, "04606203084623+A13gPh");
  assert_non_null(pack);
  assert_string_equal(pack->text, "04606203084623+A13gPh-4Hi7uGl");
  assert_string_equal(pack->gtin, "04606203084623");
  assert_non_null(find_key(d, "RU-401301-AAA02770301"));
  /* &lt; decoded; CDATA read. */
  assert_non_null(find_key(d, "0104680962313750215PZaBNk<kh\"JG"));
  const accept_entry_t *cdata = find_key(d, "0104600605032541215B,LN)");
  assert_non_null(cdata);
  assert_int_equal(cdata->line, line_of(path, "0104600605032541215B,LN)"));

  /* What is not one item's code is kept, with where and why. */
  struct {
    const char *text, *error;
  } bad[] = {
      {"0104011548030707", "no_serial"},
      {"010464007801637321AgqLybqxM9MbR", "gtin_check_digit"},
      {"46198488", "not_a_mark"},
  };
  assert_int_equal(count_kind(d, ACCEPT_ENTRY_INVALID), 3);
  for (size_t i = 0; i < 3; i++) {
    const accept_entry_t *e = find_text(d, bad[i].text);
    assert_non_null(e);
    assert_int_equal(e->kind, ACCEPT_ENTRY_INVALID);
    assert_string_equal(e->error, bad[i].error);
    assert_int_equal(e->line, element_line(path, bad[i].text));
    assert_true(has_cyrillic(e->message_ru));
    assert_true(strlen(e->message_en) > 10);
    assert_false(has_cyrillic(e->message_en));
  }
  /* The footwear code listed twice stays twice in the document. */
  size_t twice = 0;
  for (size_t i = 0; i < accept_doc_count(d); i++)
    if (!strcmp(accept_doc_entry(d, i)->key, "010401154803070721FWX00GG65908U")) twice++;
  assert_int_equal(twice, 2);
  accept_doc_free(d);
}

/* The windows-1251 file converted to UTF-8 (declaration changed) reads to
** the same entries: the encoding is the parser's business, not ours. */
static void utd_encoding_does_not_matter(void **state)
{
  (void)state;
  size_t len;
  char *cp = slurp(DATA "ON_NSCHFDOPPR_501_cp1251.xml", &len);
  iconv_t cd = iconv_open("UTF-8", "WINDOWS-1251");
  assert_true(cd != (iconv_t)-1);
  size_t cap = len * 2 + 16, left_in = len, left_out = cap;
  char *utf = malloc(cap), *in = cp, *out = utf;
  assert_non_null(utf);
  assert_true(iconv(cd, &in, &left_in, &out, &left_out) != (size_t)-1);
  iconv_close(cd);
  *out = '\0';
  /* The declaration must now say UTF-8. */
  const char *from = "encoding=\"windows-1251\"", *to = "encoding=\"UTF-8\"";
  char *decl = strstr(utf, from);
  assert_non_null(decl);
  memmove(decl + strlen(to), decl + strlen(from), strlen(decl + strlen(from)) + 1);
  memcpy(decl, to, strlen(to));
  size_t utf_len = strlen(utf);

  accept_doc_t *a = load_utd(DATA "ON_NSCHFDOPPR_501_cp1251.xml"), *b = NULL;
  accept_error_t e;
  assert_int_equal(accept_doc_parse_utd(utf, utf_len, "converted.xml", &b, &e), ACCEPT_OK);
  assert_int_equal(accept_doc_count(a), accept_doc_count(b));
  for (size_t i = 0; i < accept_doc_count(a); i++) {
    assert_string_equal(accept_doc_entry(a, i)->key, accept_doc_entry(b, i)->key);
    assert_int_equal(accept_doc_entry(a, i)->line, accept_doc_entry(b, i)->line);
  }
  assert_string_equal(accept_doc_info(a)->supplier_name, accept_doc_info(b)->supplier_name);
  assert_string_equal(accept_doc_info(a)->number, accept_doc_info(b)->number);
  accept_doc_free(a);
  accept_doc_free(b);
  free(cp);
  free(utf);
}

static void utd_refusals_with_line(void **state)
{
  (void)state;
  struct {
    const char *file;
    int code;
    const char *needle; /* the line the error must name, by its content; NULL: no check */
  } cases[] = {
      {"malformed_mismatch.xml", ACCEPT_ERR_XML, "ZOi;</НомСредИдентТов>"},
      {"malformed_truncated.xml", ACCEPT_ERR_XML, NULL},
      {"doctype_entities.xml", ACCEPT_ERR_XML, "<!DOCTYPE"},
      {"cp1251_undeclared.xml", ACCEPT_ERR_XML, "<\xD4\xE0\xE9\xEB"},
      {"unknown_encoding.xml", ACCEPT_ERR_XML, "<?xml"},
      {"not_utd.xml", ACCEPT_ERR_NOT_UTD, "<Invoice"},
      {"no_document.xml", ACCEPT_ERR_NOT_UTD, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[128];
    accept_doc_t *d = (accept_doc_t *)&d; /* must be set to NULL */
    accept_error_t e;
    snprintf(path, sizeof path, DATA "%s", cases[i].file);
    int rc = accept_doc_load_utd(path, &d, &e);
    if (rc != cases[i].code) fail_msg("%s: got %d (%s)", cases[i].file, rc, e.message_en);
    assert_null(d);
    assert_int_equal(e.code, cases[i].code);
    assert_non_null(strstr(e.message_en, cases[i].file));
    assert_non_null(strstr(e.message_ru, cases[i].file));
    assert_true(has_cyrillic(e.message_ru));
    if (cases[i].needle) {
      uint32_t want = line_of(path, cases[i].needle);
      if (e.line != want) fail_msg("%s: line %u, want %u", cases[i].file, e.line, want);
      char at[32];
      snprintf(at, sizeof at, "line %u", want);
      assert_non_null(strstr(e.message_en, at));
    }
  }
  /* The truncated file names a line inside it. */
  accept_doc_t *d = NULL;
  accept_error_t e;
  assert_int_equal(accept_doc_load_utd(DATA "malformed_truncated.xml", &d, &e), ACCEPT_ERR_XML);
  assert_true(e.line >= 1);
  /* Missing file, empty input. */
  assert_int_equal(accept_doc_load_utd(DATA "no-such-file.xml", &d, &e), ACCEPT_ERR_IO);
  assert_int_equal(accept_doc_parse_utd("", 0, "empty.xml", &d, &e), ACCEPT_ERR_XML);
  assert_null(d);
  /* A raw GS inside a КИЗ is not XML 1.0: refused with a hint about it. */
  const char gs[] = "<?xml version=\"1.0\"?>\n<Файл><Документ><ТаблСчФакт><СведТов>"
                    "<НомСредИдентТов><КИЗ>0103041094787443215Qbag!\x1d"
                    "93Zjqw</КИЗ></НомСредИдентТов></СведТов></ТаблСчФакт></Документ></Файл>";
  assert_int_equal(accept_doc_parse_utd(gs, sizeof gs - 1, "gs.xml", &d, &e), ACCEPT_ERR_XML);
  assert_int_equal(e.line, 2);
  assert_non_null(strstr(e.message_en, "0x1D"));
}

static void utd_without_codes_cannot_be_compared(void **state)
{
  (void)state;
  accept_doc_t *d = load_utd(DATA "empty_utd.xml"), *l = load_list(DATA "scanned_501.txt");
  accept_report_t *r = (accept_report_t *)&r;
  assert_int_equal(accept_doc_count(d), 0);
  assert_string_equal(accept_doc_info(d)->number, "99");
  assert_int_equal(accept_compare(d, l, &r), ACCEPT_ERR_NO_CODES);
  assert_null(r);
  accept_doc_free(d);
  accept_doc_free(l);
}

/* ---- reading a list ----------------------------------------------------------- */

static void list_spellings_packages_and_errors(void **state)
{
  (void)state;
  const char text[] = "\xEF\xBB\xBF# a comment\r\n"
                      "\r\n"
                      "   # an indented comment\n"
                      "0103041094787443215Qbag!\\x1d93Zjqw\r\n"        /* line 4 */
                      "]d20104636332455339215qa5?WHJssbI-<GS>93dGVz\n" /* 5 */
                      "  (01)04640088091000(21)5gMpn5CJG37mF  \n"      /* 6 */
                      "(00)146000000000000012\n"                       /* 7 */
                      "]C100146000000000000029\n"                      /* 8 */
                      "00146000000000000013\n"                         /* 9: bad check */
                      "0103041094787443215Qbag!\n"                     /* 10: again */
                      "4607038046435\n"                                /* 11 */
                      "not a code at all";                             /* 12, no LF */
  accept_doc_t *d = NULL;
  accept_error_t e;
  assert_int_equal(accept_doc_parse_list(text, sizeof text - 1, "typed.txt", &d, &e), ACCEPT_OK);
  assert_int_equal(accept_doc_count(d), 9);
  assert_int_equal(accept_doc_info(d)->format, ACCEPT_FORMAT_LIST);

  const accept_entry_t *x = accept_doc_entry(d, 0);
  assert_int_equal(x->kind, ACCEPT_ENTRY_ITEM);
  assert_string_equal(x->key, "0103041094787443215Qbag!");
  assert_int_equal(x->line, 4);
  assert_string_equal(x->element, "");
  x = accept_doc_entry(d, 1);
  assert_string_equal(x->key, "0104636332455339215qa5?WHJssbI-");
  assert_int_equal(x->line, 5);
  x = accept_doc_entry(d, 2);
  assert_string_equal(x->key, "0104640088091000215gMpn5CJG37mF");
  assert_string_equal(x->text, "(01)04640088091000(21)5gMpn5CJG37mF");
  x = accept_doc_entry(d, 3);
  assert_int_equal(x->kind, ACCEPT_ENTRY_PACKAGE);
  assert_int_equal(x->package, ACCEPT_PACKAGE_SSCC);
  assert_string_equal(x->key, "00146000000000000012");
  x = accept_doc_entry(d, 4);
  assert_int_equal(x->package, ACCEPT_PACKAGE_SSCC);
  assert_string_equal(x->key, "00146000000000000029");
  x = accept_doc_entry(d, 5);
  assert_int_equal(x->kind, ACCEPT_ENTRY_INVALID);
  assert_string_equal(x->error, "sscc_check_digit");
  assert_int_equal(x->line, 9);
  x = accept_doc_entry(d, 6);
  assert_int_equal(x->kind, ACCEPT_ENTRY_ITEM);
  assert_int_equal(x->line, 10);
  x = accept_doc_entry(d, 7);
  assert_string_equal(x->error, "not_a_mark");
  x = accept_doc_entry(d, 8);
  assert_int_equal(x->kind, ACCEPT_ENTRY_INVALID);
  assert_int_equal(x->line, 12);
  assert_true(has_cyrillic(x->message_ru));
  accept_doc_free(d);

  /* Bytes that are not UTF-8 fail the whole list, naming the line. */
  assert_int_equal(accept_doc_load_list(DATA "list_cp1251.txt", &d, &e), ACCEPT_ERR_ENCODING);
  assert_null(d);
  assert_int_equal(e.line, line_of(DATA "list_cp1251.txt", "\xd1\xf7\xe5\xf2"));
  assert_non_null(strstr(e.message_ru, "UTF-8"));
  const char nul[] = "0103041094787443215Qbag!\n\0binary";
  assert_int_equal(accept_doc_parse_list(nul, sizeof nul - 1, "bin", &d, &e), ACCEPT_ERR_ENCODING);
  assert_int_equal(e.line, 2);
  /* A control byte in a code is shown escaped, never raw. */
  const char raw[] = "0103041094787443215Qbag!\x1d"
                     "93Zjqw\x01";
  assert_int_equal(accept_doc_parse_list(raw, sizeof raw - 1, "raw", &d, &e), ACCEPT_OK);
  assert_non_null(strstr(accept_doc_entry(d, 0)->text, "\\x1d93Zjqw"));
  accept_doc_free(d);
}

/* ---- comparing ------------------------------------------------------------------ */

static void compare_utd_with_scans(void **state)
{
  (void)state;
  const char *scans = DATA "scanned_501.txt"; /* the lines asserted below are in it */
  compared_t c = compared_501();
  accept_report_t *r = c.r;
  assert_int_equal(r->outcome, ACCEPT_OUTCOME_COMPARED);
  assert_int_equal(r->document_codes, 14);
  assert_int_equal(r->delivery_codes, 14);

  assert_int_equal(r->matched.count, 11);
  for (size_t i = 0; i < r->matched.count; i++) {
    const accept_line_t *m = &r->matched.items[i];
    assert_string_equal(m->entry->key, m->other->key);
    assert_string_equal(m->entry->key, utd501_kiz[i]); /* document order */
  }
  assert_int_equal(r->missing.count, 1);
  assert_string_equal(r->missing.items[0].entry->key, "010460780959145421m9tNPzJTWzuc9exC5/M+");
  assert_int_equal(r->missing.items[0].entry->item, 8);
  assert_int_equal(r->extra.count, 1);
  assert_string_equal(r->extra.items[0].entry->key, "010464007801637221AgqLybqxM9MbR");
  assert_int_equal(r->extra.items[0].entry->line, line_of(scans, "010464007801637221"));
  assert_int_equal(r->duplicates.count, 1);
  const accept_line_t *dup = &r->duplicates.items[0];
  assert_int_equal(dup->side, ACCEPT_SIDE_DELIVERY);
  assert_int_equal(dup->entry->line, line_of_nth(scans, "0103041094787443215Qbag!", 1));
  assert_int_equal(dup->other->line, line_of_nth(scans, "0103041094787443215Qbag!", 0));
  assert_int_equal(r->invalid.count, 0);
  /* Packages: the block was not scanned, the box was (reported once). */
  assert_int_equal(r->packages.count, 2);
  assert_int_equal(r->packages.items[0].entry->package, ACCEPT_PACKAGE_GROUP);
  assert_null(r->packages.items[0].other);
  assert_int_equal(r->packages.items[1].entry->package, ACCEPT_PACKAGE_SSCC);
  assert_non_null(r->packages.items[1].other);
  assert_int_equal(r->packages.items[1].side, ACCEPT_SIDE_DOCUMENT);

  /* JSON carries the same. */
  json_t *j = accept_report_to_json(r);
  assert_non_null(j);
  assert_false(json_is_true(json_object_get(j, "ok")));
  assert_string_equal(json_string_value(json_object_get(j, "outcome")), "compared");
  json_t *counts = json_object_get(j, "counts");
  assert_int_equal(json_integer_value(json_object_get(counts, "matched")), 11);
  assert_int_equal(json_integer_value(json_object_get(counts, "missing")), 1);
  assert_int_equal(json_integer_value(json_object_get(counts, "extra")), 1);
  assert_int_equal(json_integer_value(json_object_get(counts, "packages")), 2);
  json_t *missing = json_array_get(json_object_get(j, "missing"), 0);
  assert_string_equal(json_string_value(json_object_get(missing, "ki")),
                      "010460780959145421m9tNPzJTWzuc9exC5/M+");
  assert_int_equal(json_integer_value(json_object_get(missing, "line")),
                   r->missing.items[0].entry->line);
  assert_string_equal(json_string_value(json_object_get(missing, "element")), "КИЗ");
  json_t *box = json_array_get(json_object_get(j, "packages"), 1);
  assert_string_equal(json_string_value(json_object_get(box, "kind")), "sscc");
  assert_true(json_is_true(json_object_get(box, "scanned")));
  json_t *doc = json_object_get(j, "document");
  assert_string_equal(json_string_value(json_object_get(doc, "number")), "УТ-1287");
  assert_string_equal(json_string_value(json_object_get(doc, "supplier_inn")), "7701123451");
  json_decref(j);

  /* The manager's text, both languages, names the codes at fault. */
  char *ru = accept_report_text(r, true, 0), *en = accept_report_text(r, false, 0);
  assert_non_null(ru);
  assert_non_null(en);
  assert_non_null(strstr(ru, "УПД № УТ-1287 от 15.03.2024"));
  assert_non_null(strstr(ru, "Не отсканированы"));
  assert_non_null(strstr(ru, "010460780959145421m9tNPzJTWzuc9exC5/M+"));
  assert_non_null(strstr(ru, "расформировка"));
  assert_non_null(strstr(en, "Missing (in the document, not scanned): 1"));
  assert_non_null(strstr(en, "Extra (scanned, not in the document): 1"));
  assert_non_null(strstr(en, "Nothing changed"));
  free(ru);
  free(en);
  compared_free(&c);
}

static void compare_with_nothing_scanned(void **state)
{
  (void)state;
  accept_doc_t *s = NULL;
  accept_error_t e;
  assert_int_equal(accept_doc_parse_list("# nothing arrived\n", 18, "none.txt", &s, &e), ACCEPT_OK);
  compared_t c = compared(load_list(DATA "delivery_list.txt"), s);
  accept_report_t *r = c.r;
  assert_int_equal(r->matched.count, 0);
  assert_int_equal(r->missing.count, 5);
  assert_int_equal(accept_decide(r, NULL, ACCEPT_DECIDE_REJECT), ACCEPT_OK);
  assert_int_equal(r->outcome, ACCEPT_OUTCOME_REJECTED);
  compared_free(&c);
}

/* GS1 check digit over 13 digits. */
static char check_digit(const char *d13)
{
  unsigned sum = 0;
  for (int i = 0; i < 13; i++) sum += (unsigned)(d13[i] - '0') * (i % 2 == 0 ? 3u : 1u);
  return (char)('0' + (10 - sum % 10) % 10);
}

/* 20 000 codes: the scan misses every 997th, adds 25 strangers, repeats
** every 1000th and comes in reverse order. */
static void compare_large_delivery(void **state)
{
  (void)state;
  enum { N = 20000, EXTRA = 25 };
  size_t cap = (size_t)(N + EXTRA) * 64 + 64;
  char *doc = malloc(cap), *scan = malloc(cap * 2);
  assert_non_null(doc);
  assert_non_null(scan);
  char gtin[15] = "0460000000000";
  gtin[13] = check_digit(gtin);
  gtin[14] = '\0';
  size_t dn = 0, sn = 0, missing = 0, dups = 0;
  for (int i = 0; i < N; i++) dn += (size_t)snprintf(doc + dn, cap - dn, "01%s21S%012d\n", gtin, i);
  for (int i = N - 1; i >= 0; i--) {
    if (i % 997 == 0) {
      missing++;
      continue;
    }
    int times = i % 1000 == 1 ? 2 : 1;
    dups += (size_t)(times - 1);
    for (int t = 0; t < times; t++)
      sn += (size_t)snprintf(scan + sn, cap * 2 - sn, "01%s21S%012d\\x1d93AbCd\n", gtin, i);
  }
  for (int i = 0; i < EXTRA; i++)
    sn += (size_t)snprintf(scan + sn, cap * 2 - sn, "01%s21X%012d\n", gtin, i);

  accept_doc_t *d = NULL, *s = NULL;
  accept_error_t e;
  assert_int_equal(accept_doc_parse_list(doc, dn, "doc", &d, &e), ACCEPT_OK);
  assert_int_equal(accept_doc_parse_list(scan, sn, "scan", &s, &e), ACCEPT_OK);
  compared_t c = compared(d, s);
  accept_report_t *r = c.r;
  assert_int_equal(r->matched.count, N - missing);
  assert_int_equal(r->missing.count, missing);
  assert_int_equal(r->extra.count, EXTRA);
  assert_int_equal(r->duplicates.count, dups);
  for (size_t i = 0; i < r->missing.count; i++) {
    int serial = atoi(r->missing.items[i].entry->key + 19);
    assert_int_equal(serial % 997, 0);
    if (i) assert_true(r->missing.items[i].entry->line > r->missing.items[i - 1].entry->line);
  }
  compared_free(&c);
  free(doc);
  free(scan);
}

/* ---- deciding, against the cache ---------------------------------------------- */

static void accept_all_when_everything_matches(void **state)
{
  fixture_t *f = *state;
  compared_t c = compared_list();
  accept_report_t *r = c.r;
  const accept_doc_t *d = c.doc;
  assert_int_equal(r->matched.count, 5);
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_ALL), ACCEPT_OK);
  assert_int_equal(r->outcome, ACCEPT_OUTCOME_ACCEPTED_ALL);
  assert_null(r->refusal);
  assert_int_equal(r->accepted.count, 5);
  assert_int_equal(r->already_in_stock, 0);
  for (size_t i = 0; i < accept_doc_count(d); i++)
    assert_int_equal(local_state(f->c, accept_doc_entry(d, i)->key), CACHE_LOCAL_IN_STOCK);
  assert_int_equal(stock_count(f->c), 5);
  json_t *j = accept_report_to_json(r);
  assert_true(json_is_true(json_object_get(j, "ok")));
  assert_string_equal(json_string_value(json_object_get(j, "outcome")), "accepted_all");
  assert_int_equal(json_array_size(json_object_get(j, "accepted")), 5);
  json_decref(j);
  /* Decided once. */
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_PART), ACCEPT_ERR_STATE);

  /* The same delivery again: nothing new, every code already in stock. */
  compare_again(&c, NULL);
  r = c.r;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_ALL), ACCEPT_OK);
  assert_int_equal(r->already_in_stock, 5);
  assert_int_equal(stock_count(f->c), 5);
  compared_free(&c);
}

static void accept_all_refused_changes_nothing(void **state)
{
  fixture_t *f = *state;
  compared_t c = compared_501();
  accept_report_t *r = c.r;
  const accept_doc_t *d = c.doc;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_ALL), ACCEPT_ERR_REFUSED);
  assert_int_equal(r->outcome, ACCEPT_OUTCOME_REFUSED);
  assert_string_equal(r->refusal, "missing");
  assert_int_equal(r->accepted.count, 0);
  assert_non_null(strstr(r->message_en, "missing: 1"));
  assert_non_null(strstr(r->message_en, "extra: 1"));
  assert_non_null(strstr(r->message_en, "packages to disaggregate: 2"));
  assert_true(has_cyrillic(r->message_ru));
  assert_int_equal(stock_count(f->c), 0);
  for (size_t i = 0; i < accept_doc_count(d); i++)
    assert_int_equal(local_state(f->c, accept_doc_entry(d, i)->key), CACHE_LOCAL_NONE);

  /* Everything scanned but the packages: still refused, for them. */
  accept_doc_t *all = NULL;
  accept_error_t e;
  char text[2048];
  size_t n = 0;
  for (size_t i = 0; i < sizeof utd501_kiz / sizeof utd501_kiz[0]; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", utd501_kiz[i]);
  assert_int_equal(accept_doc_parse_list(text, n, "all.txt", &all, &e), ACCEPT_OK);
  compare_again(&c, all);
  r = c.r;
  assert_int_equal(r->missing.count + r->extra.count, 0);
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_ALL), ACCEPT_ERR_REFUSED);
  assert_string_equal(r->refusal, "packages");
  assert_int_equal(stock_count(f->c), 0);
  compared_free(&c);
}

static void accept_part_takes_only_matched(void **state)
{
  fixture_t *f = *state;
  compared_t c = compared_501();
  accept_report_t *r = c.r;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_PART), ACCEPT_OK);
  assert_int_equal(r->outcome, ACCEPT_OUTCOME_ACCEPTED_PART);
  assert_int_equal(r->accepted.count, 11);
  assert_int_equal(stock_count(f->c), 11);
  for (size_t i = 0; i < r->matched.count; i++)
    assert_int_equal(local_state(f->c, r->matched.items[i].entry->key), CACHE_LOCAL_IN_STOCK);
  /* Never the missing, the extra or the packages. */
  assert_int_equal(local_state(f->c, "010460780959145421m9tNPzJTWzuc9exC5/M+"), CACHE_LOCAL_NONE);
  assert_int_equal(local_state(f->c, "010464007801637221AgqLybqxM9MbR"), CACHE_LOCAL_NONE);
  assert_int_equal(local_state(f->c, "0104600266014870217837800"), CACHE_LOCAL_NONE);
  assert_int_equal(local_state(f->c, "00146000000000000029"), CACHE_LOCAL_NONE);
  assert_non_null(strstr(r->message_en, "accepted in part: 11 code(s)"));
  char *en = accept_report_text(r, false, 0);
  assert_non_null(strstr(en, "Delivery accepted in part"));
  free(en);
  compared_free(&c);
}

static void accept_part_tobacco_pack_and_fur(void **state)
{
  fixture_t *f = *state;
  compared_t c =
      compared(load_utd(DATA "ON_NSCHFDOPPR_503_utf8.xml"), load_list(DATA "scanned_503.txt"));
  accept_report_t *r = c.r;
  assert_int_equal(r->matched.count, 5);
  assert_int_equal(r->invalid.count, 4); /* three in the document, one scan */
  assert_int_equal(r->duplicates.count, 1);
  assert_int_equal(r->duplicates.items[0].side, ACCEPT_SIDE_DOCUMENT);
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_PART), ACCEPT_OK);
  assert_int_equal(local_state(f->c, "04606203084623+A13gPh"), CACHE_LOCAL_IN_STOCK);
  assert_int_equal(local_state(f->c, "RU-401301-AAA02770301"), CACHE_LOCAL_IN_STOCK);
  assert_int_equal(local_state(f->c, "0104680962313750215PZaBNk<kh\"JG"), CACHE_LOCAL_IN_STOCK);
  assert_int_equal(stock_count(f->c), 5);
  compared_free(&c);
}

static void reject_writes_nothing(void **state)
{
  fixture_t *f = *state;
  compared_t c = compared_list();
  accept_report_t *r = c.r;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_REJECT), ACCEPT_OK);
  assert_int_equal(r->outcome, ACCEPT_OUTCOME_REJECTED);
  assert_int_equal(r->accepted.count, 0);
  assert_int_equal(stock_count(f->c), 0);
  assert_non_null(strstr(r->message_en, "rejected"));
  /* A decision that is none of the three is refused as an argument. */
  compare_again(&c, NULL);
  r = c.r;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_NONE), ACCEPT_ERR_ARGUMENT);
  assert_int_equal(accept_decide(r, NULL, ACCEPT_DECIDE_PART), ACCEPT_ERR_ARGUMENT);
  assert_int_equal(stock_count(f->c), 0);
  compared_free(&c);
}

static void conflicts_stay_out_of_stock(void **state)
{
  fixture_t *f = *state;
  const char *sold = "0103041094787443215Qbag!", *blocked = "0104636332455339215qa5?WHJssbI-";
  /* The store sold one of these codes (FN document 1) and blocked another. */
  cache_receipt_line_t line = {.ki = sold, .km_status = 1};
  assert_int_equal(cache_apply_receipt(f->c, 1, 1, &line, 1), CACHE_OK);
  assert_int_equal(local_state(f->c, sold), CACHE_LOCAL_SOLD);
  assert_int_equal(cache_block_put(f->c, CACHE_BLOCK_CODE, blocked, "recall"), CACHE_OK);

  compared_t c = compared_list();
  accept_report_t *r = c.r;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_ALL), ACCEPT_ERR_REFUSED);
  assert_string_equal(r->refusal, "conflicts");
  assert_int_equal(r->conflicts.count, 2);
  assert_int_equal(stock_count(f->c), 0);

  compare_again(&c, NULL);
  r = c.r;
  assert_int_equal(accept_decide(r, f->c, ACCEPT_DECIDE_PART), ACCEPT_OK);
  assert_int_equal(r->conflicts.count, 2);
  assert_string_equal(r->conflicts.items[0].entry->key, sold);
  assert_int_equal(r->conflicts.items[0].conflict, ACCEPT_CONFLICT_SOLD);
  assert_int_equal(r->conflicts.items[0].document, 1);
  assert_string_equal(r->conflicts.items[1].entry->key, blocked);
  assert_int_equal(r->conflicts.items[1].conflict, ACCEPT_CONFLICT_BLOCKED);
  assert_int_equal(r->accepted.count, 3);
  assert_false(lines_have(&r->accepted, sold));
  assert_false(lines_have(&r->accepted, blocked));
  assert_int_equal(local_state(f->c, sold), CACHE_LOCAL_SOLD);
  assert_int_equal(local_state(f->c, blocked), CACHE_LOCAL_NONE);
  assert_int_equal(stock_count(f->c), 3);
  json_t *j = accept_report_to_json(r);
  json_t *c0 = json_array_get(json_object_get(j, "conflicts"), 0);
  assert_string_equal(json_string_value(json_object_get(c0, "state")), "sold");
  assert_int_equal(json_integer_value(json_object_get(c0, "document")), 1);
  json_decref(j);
  char *ru = accept_report_text(r, true, 0);
  assert_non_null(strstr(ru, "код уже продан этим магазином (документ ФН № 1)"));
  free(ru);
  compared_free(&c);
}

static void names_are_stable(void **state)
{
  (void)state;
  assert_string_equal(accept_err_name(ACCEPT_ERR_XML), "xml");
  assert_string_equal(accept_err_name(ACCEPT_ERR_NOT_UTD), "not_utd");
  assert_string_equal(accept_err_name(ACCEPT_ERR_NO_CODES), "no_codes");
  assert_string_equal(accept_decision_name(ACCEPT_DECIDE_PART), "part");
  assert_string_equal(accept_outcome_name(ACCEPT_OUTCOME_REFUSED), "refused");
  assert_string_equal(accept_conflict_name(ACCEPT_CONFLICT_REMARKED), "remarked");
  assert_string_equal(accept_package_name(ACCEPT_PACKAGE_SSCC), "sscc");
  assert_true(has_cyrillic(accept_err_message(ACCEPT_ERR_ENCODING, true)));
  accept_doc_free(NULL);
  accept_report_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(utd_cp1251_header_and_codes),
      cmocka_unit_test(utd_utf8_sole_trader_invalid_codes),
      cmocka_unit_test(utd_encoding_does_not_matter),
      cmocka_unit_test(utd_refusals_with_line),
      cmocka_unit_test(utd_without_codes_cannot_be_compared),
      cmocka_unit_test(list_spellings_packages_and_errors),
      cmocka_unit_test(compare_utd_with_scans),
      cmocka_unit_test(compare_with_nothing_scanned),
      cmocka_unit_test(compare_large_delivery),
      cmocka_unit_test_setup_teardown(accept_all_when_everything_matches, setup_cache,
                                      teardown_cache),
      cmocka_unit_test_setup_teardown(accept_all_refused_changes_nothing, setup_cache,
                                      teardown_cache),
      cmocka_unit_test_setup_teardown(accept_part_takes_only_matched, setup_cache, teardown_cache),
      cmocka_unit_test_setup_teardown(accept_part_tobacco_pack_and_fur, setup_cache,
                                      teardown_cache),
      cmocka_unit_test_setup_teardown(reject_writes_nothing, setup_cache, teardown_cache),
      cmocka_unit_test_setup_teardown(conflicts_stay_out_of_stock, setup_cache, teardown_cache),
      cmocka_unit_test(names_are_stable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
