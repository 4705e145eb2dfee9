/*
** accept.c: goods acceptance (accept.h): the supplier's codes, the scanned
** codes, the comparison and the decision.
**
** Reading. The UTD is parsed by libxml2 into a tree (a UTD of a large
** delivery is a few megabytes; a tree is simpler to walk than SAX and the
** size is capped at ACCEPT_FILE_MAX). The parser is told not to touch the
** network, not to print, and to keep line numbers past 65535; a DOCTYPE is
** refused as soon as the parser meets it (a UTD never has one, and
** entity-expansion tricks need one). Names are compared as UTF-8, whatever
** the file's encoding: libxml2 converts windows-1251 through iconv.
**
** Every code, from either file, becomes one accept_entry_t through
** markcode_parse(), so a UTD that lists the bare ki and a scan with the
** whole code and its crypto tail meet on the same key. What is not a code
** of one item (a plain EAN, a GTIN without serial, an EGAIS stamp) is an
** INVALID entry with its own reason, as is whatever the parser refuses;
** nothing is dropped.
**
** Comparing. Each side's items are sorted by key (then by file order), so
** duplicates are neighbours and the matching is one merge walk: O(n log n)
** for a delivery of any size, with no hash table to tune. Lists in the
** report keep file order, which is how a manager finds a line.
**
** Deciding. The cache is read code by code for conflicts (sold, remarked,
** blocked), then written once: cache_stock_add() is one transaction, so an
** acceptance is all there or not there at all.
*/
#include "pos/till/accept.h"

#include "common/errtab.h"
#include "scanner/markcode.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlstring.h>

#define TEXT_SHOWN_MAX   200  /* bytes of a code kept for display */
#define ELEMENT_TEXT_MAX 4096 /* longer element text is cut (markcode refuses > 512) */

struct accept_doc {
  accept_doc_info_t info;
  accept_entry_t *entries;
  size_t count, cap;
  markcode_t mc; /* scratch for the parser, about 3 KiB */
};

/* ---- errors -------------------------------------------------------------- */

static const errtab_t err_table[] = {
    {ACCEPT_OK, "ok", "Готово.", "Done."},
    {ACCEPT_ERR_ARGUMENT, "argument", "Неверный вызов.", "Invalid arguments."},
    {ACCEPT_ERR_IO, "io", "Файл не читается.", "The file cannot be read."},
    {ACCEPT_ERR_TOO_BIG, "too_big", "Файл слишком большой.", "The file is too big."},
    {ACCEPT_ERR_XML, "xml", "XML повреждён.", "The XML is malformed."},
    {ACCEPT_ERR_NOT_UTD, "not_utd", "Это не УПД.", "This is not a UTD."},
    {ACCEPT_ERR_ENCODING, "encoding", "Файл не в кодировке UTF-8.", "The file is not UTF-8."},
    {ACCEPT_ERR_NO_CODES, "no_codes", "В документе нет ни одного кода маркировки.",
     "The document lists no marking code."},
    {ACCEPT_ERR_NO_MEMORY, "no_memory", "Не хватает памяти.", "Out of memory."},
    {ACCEPT_ERR_REFUSED, "refused", "Решение не может быть выполнено.",
     "The decision cannot be applied."},
    {ACCEPT_ERR_CACHE, "cache", "Ошибка базы кодов.", "The code cache failed."},
    {ACCEPT_ERR_STATE, "state", "По этой сверке решение уже принято.",
     "This comparison has been decided already."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *accept_err_name(int err) { return errtab_name(err_table, err); }

const char *accept_err_message(int err, bool russian)
{
  return errtab_message(err_table, err, russian);
}

/* Fill err (may be NULL): code, line, and both messages from formats that
** take the same arguments. Returns code. */
static int fail_with(accept_error_t *err, int code, uint32_t line, const char *ru_fmt,
                     const char *en_fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_with(accept_error_t *err, int code, uint32_t line, const char *ru_fmt,
                     const char *en_fmt, ...)
{
  if (err == NULL) return code;
  va_list ap;
  err->code = code;
  err->line = line;
  va_start(ap, en_fmt);
  errtab_vformat(err->message_ru, sizeof err->message_ru, err->message_en, sizeof err->message_en,
                 ru_fmt, en_fmt, ap);
  va_end(ap);
  return code;
}

static void error_clear(accept_error_t *err)
{
  if (err == NULL) return;
  memset(err, 0, sizeof *err);
}

/* ---- small string helpers -------------------------------------------------- */

/* Copy at most size-1 bytes of s (n bytes) into buf without cutting a UTF-8
** sequence in two. */
static void copy_utf8(char *buf, size_t size, const char *s, size_t n)
{
  if (size == 0) return;
  if (n > size - 1) {
    n = size - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
}

/* The code as a person should see it: control bytes as \xHH, at most
** TEXT_SHOWN_MAX bytes, never ending inside a UTF-8 sequence. malloc'd. */
static char *shown_text(const char *s, size_t n)
{
  char *out = malloc(TEXT_SHOWN_MAX + 1);
  size_t o = 0, i = 0;
  if (out == NULL) return NULL;
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    size_t need = c < 0x20 || c == 0x7F ? 4 : 1;
    if (o + need > TEXT_SHOWN_MAX) break;
    if (need == 4)
      snprintf(out + o, 5, "\\x%02x", c);
    else
      out[o] = (char)c;
    o += need;
  }
  if (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) {
    /* Cut inside a character: drop the part of it already copied. */
    while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80) o--;
    if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0) o--;
  }
  out[o] = '\0';
  return out;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void trim(const char **s, size_t *n)
{
  while (*n > 0 && is_space(**s)) {
    (*s)++;
    (*n)--;
  }
  while (*n > 0 && is_space((*s)[*n - 1])) (*n)--;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dup_printf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (s == NULL) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* ---- documents -------------------------------------------------------------- */

static accept_doc_t *doc_new(accept_format_t format, const char *name)
{
  accept_doc_t *d = calloc(1, sizeof *d);
  if (d == NULL) return NULL;
  d->info.format = format;
  if (name) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    copy_utf8(d->info.source, sizeof d->info.source, base, strlen(base));
  }
  return d;
}

void accept_doc_free(accept_doc_t *doc)
{
  if (doc == NULL) return;
  for (size_t i = 0; i < doc->count; i++) {
    free((char *)doc->entries[i].text);
    free((char *)doc->entries[i].message_ru);
    free((char *)doc->entries[i].message_en);
  }
  free(doc->entries);
  free(doc);
}

const accept_doc_info_t *accept_doc_info(const accept_doc_t *doc)
{
  return doc ? &doc->info : NULL;
}

size_t accept_doc_count(const accept_doc_t *doc) { return doc ? doc->count : 0; }

const accept_entry_t *accept_doc_entry(const accept_doc_t *doc, size_t i)
{
  return doc && i < doc->count ? &doc->entries[i] : NULL;
}

/* Where a code came from, for the entry. */
typedef struct origin {
  uint32_t line, item, index;
  const char *element;
} origin_t;

static accept_entry_t *entry_push(accept_doc_t *d, const origin_t *at, const char *s, size_t n)
{
  if (d->count == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    accept_entry_t *grown = realloc(d->entries, cap * sizeof *grown);
    if (grown == NULL) return NULL;
    d->entries = grown;
    d->cap = cap;
  }
  char *text = shown_text(s, n);
  if (text == NULL) return NULL;
  accept_entry_t *e = &d->entries[d->count++];
  memset(e, 0, sizeof *e);
  e->text = text;
  e->line = at->line;
  e->item = at->item;
  e->index = at->index;
  e->element = at->element ? at->element : "";
  return e;
}

static int entry_messages(accept_entry_t *e, char *ru, char *en)
{
  e->message_ru = ru;
  e->message_en = en;
  return ru && en ? ACCEPT_OK : ACCEPT_ERR_NO_MEMORY;
}

/* An SSCC as a scanner or a UTD writes it: "00" + 18 digits, "(00)" + 18
** digits, optionally after the GS1-128 AIM prefix "]C1". */
static bool sscc_shape(const char *s, size_t n, char digits[19])
{
  if (n >= 3 && memcmp(s, "]C1", 3) == 0) {
    s += 3;
    n -= 3;
  }
  if (n == 22 && memcmp(s, "(00)", 4) == 0) {
    s += 4;
    n -= 4;
  } else if (n == 20 && s[0] == '0' && s[1] == '0') {
    s += 2;
    n -= 2;
  } else {
    return false;
  }
  for (size_t i = 0; i < 18; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  memcpy(digits, s, 18);
  digits[18] = '\0';
  return true;
}

static const char package_ru[] =
    "Код упаковки: её содержимое известно только оператору маркировки и без связи не "
    "раскрывается. Расформируйте упаковку и отсканируйте каждый товар.";
static const char package_en[] =
    "A package code: only the marking operator knows its contents, which cannot be "
    "expanded offline. Disaggregate the package and scan each item.";

static int add_invalid(accept_entry_t *e, const char *error, char *ru, char *en)
{
  e->kind = ACCEPT_ENTRY_INVALID;
  e->error = error;
  return entry_messages(e, ru, en);
}

static int add_package(accept_doc_t *d, const origin_t *at, const char *s, size_t n)
{
  char digits[19];
  accept_entry_t *e;

  trim(&s, &n);
  e = entry_push(d, at, s, n);
  if (e == NULL) return ACCEPT_ERR_NO_MEMORY;
  if (n == 0)
    return add_invalid(e, "empty", dup_printf("Пустой элемент %s.", e->element),
                       dup_printf("The %s element is empty.", e->element));
  if (sscc_shape(s, n, digits)) {
    if (!markcode_gs1_check_ok(digits, 18))
      return add_invalid(e, "sscc_check_digit",
                         dup_printf("Код упаковки SSCC %s: неверная контрольная цифра.", digits),
                         dup_printf("SSCC package code %s: wrong check digit.", digits));
    e->kind = ACCEPT_ENTRY_PACKAGE;
    e->package = ACCEPT_PACKAGE_SSCC;
    snprintf(e->key, sizeof e->key, "00%s", digits);
  } else if (markcode_parse(&d->mc, s, n) == MARKCODE_OK && d->mc.kind == MARKCODE_KIND_GS1 &&
             d->mc.serial[0] && strlen(d->mc.ki) <= ACCEPT_KI_MAX) {
    e->kind = ACCEPT_ENTRY_PACKAGE;
    e->package = ACCEPT_PACKAGE_GROUP;
    /* Length checked above; the precision tells gcc -Os/-O0 so. */
    snprintf(e->key, sizeof e->key, "%.*s", (int)sizeof e->key - 1, d->mc.ki);
    snprintf(e->gtin, sizeof e->gtin, "%s", d->mc.gtin);
  } else {
    e->kind = ACCEPT_ENTRY_PACKAGE;
    e->package = ACCEPT_PACKAGE_UNKNOWN;
    copy_utf8(e->key, sizeof e->key, e->text, strlen(e->text));
  }
  return entry_messages(e, strdup(package_ru), strdup(package_en));
}

/* One code of one item (a КИЗ, a list line). An SSCC here is a package. */
static int add_item(accept_doc_t *d, const origin_t *at, const char *s, size_t n)
{
  char digits[19];
  markcode_t *mc = &d->mc;
  accept_entry_t *e;

  trim(&s, &n);
  if (n > 0 && sscc_shape(s, n, digits)) return add_package(d, at, s, n);
  e = entry_push(d, at, s, n);
  if (e == NULL) return ACCEPT_ERR_NO_MEMORY;
  if (n == 0)
    return add_invalid(e, "empty", dup_printf("Пустой элемент %s.", e->element),
                       dup_printf("The %s element is empty.", e->element));
  if (markcode_parse(mc, s, n) != MARKCODE_OK) {
    char ru[512], en[512];
    markcode_message(mc, MARKCODE_LANG_RU, ru, sizeof ru);
    markcode_message(mc, MARKCODE_LANG_EN, en, sizeof en);
    return add_invalid(e, markcode_err_code(mc->err), strdup(ru), strdup(en));
  }
  switch (mc->kind) {
  case MARKCODE_KIND_GS1:
    if (mc->serial[0] == '\0')
      return add_invalid(
          e, "no_serial",
          dup_printf("В коде нет серийного номера (21): это код товара %s, а не экземпляра.",
                     mc->gtin),
          dup_printf("The code has no serial number (AI 21): it names product %s, not one item.",
                     mc->gtin));
    break;
  case MARKCODE_KIND_TOBACCO_PACK:
  case MARKCODE_KIND_FUR:
    break;
  case MARKCODE_KIND_EGAIS2:
  case MARKCODE_KIND_EGAIS3:
    return add_invalid(e, "not_a_mark",
                       strdup("Это марка ЕГАИС (алкоголь): её принимают через ЕГАИС, а не "
                              "через Честный ЗНАК."),
                       strdup("This is an EGAIS (alcohol) stamp: it is accepted through EGAIS, "
                              "not Chestny ZNAK."));
  default:
    return add_invalid(
        e, "not_a_mark",
        dup_printf("Это штрихкод товара (%s), а не код маркировки: он не называет экземпляр.",
                   markcode_kind_name(mc->kind)),
        dup_printf("This is a product barcode (%s), not a marking code: it names no single item.",
                   markcode_kind_name(mc->kind)));
  }
  if (strlen(mc->ki) > ACCEPT_KI_MAX)
    return add_invalid(e, "too_long", strdup("Код идентификации слишком длинный."),
                       strdup("The identification part is too long."));
  e->kind = ACCEPT_ENTRY_ITEM;
  snprintf(e->key, sizeof e->key, "%.*s", (int)sizeof e->key - 1, mc->ki);
  if (mc->kind != MARKCODE_KIND_FUR) snprintf(e->gtin, sizeof e->gtin, "%s", mc->gtin);
  return ACCEPT_OK;
}

static int read_file(const char *path, char **out, size_t *len, accept_error_t *err)
{
  FILE *f = NULL;
  char *buf = NULL;
  struct stat st;
  int rc;

  *out = NULL;
  *len = 0;
  f = fopen(path, "rb");
  if (f == NULL || fstat(fileno(f), &st) != 0) {
    rc = fail_with(err, ACCEPT_ERR_IO, 0, "Не удалось открыть %s: %s.", "Cannot open %s: %s.", path,
                   strerror(errno));
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = fail_with(err, ACCEPT_ERR_IO, 0, "%s: это не обычный файл.", "%s: not a regular file.",
                   path);
    goto fail;
  }
  if ((uint64_t)st.st_size > ACCEPT_FILE_MAX) {
    rc = fail_with(err, ACCEPT_ERR_TOO_BIG, 0, "%s: файл больше %u МиБ.",
                   "%s: the file is larger than %u MiB.", path, ACCEPT_FILE_MAX >> 20);
    goto fail;
  }
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) {
    rc = fail_with(err, ACCEPT_ERR_NO_MEMORY, 0, "Не хватает памяти для %s.",
                   "Out of memory reading %s.", path);
    goto fail;
  }
  size_t got = fread(buf, 1, (size_t)st.st_size, f);
  if (got != (size_t)st.st_size || ferror(f)) {
    rc = fail_with(err, ACCEPT_ERR_IO, 0, "Ошибка чтения %s.", "Error reading %s.", path);
    goto fail;
  }
  buf[got] = '\0';
  fclose(f);
  *out = buf;
  *len = got;
  return ACCEPT_OK;
fail:
  if (f) fclose(f);
  free(buf);
  return rc;
}

/* ---- the plain list ---------------------------------------------------------- */

int accept_doc_parse_list(const char *text, size_t len, const char *name, accept_doc_t **out,
                          accept_error_t *err)
{
  accept_doc_t *d = NULL;
  char *line = NULL;
  int rc;

  error_clear(err);
  if (out == NULL || (text == NULL && len > 0))
    return fail_with(err, ACCEPT_ERR_ARGUMENT, 0, "Неверный вызов.", "Invalid arguments.");
  *out = NULL;
  if (len > ACCEPT_FILE_MAX)
    return fail_with(err, ACCEPT_ERR_TOO_BIG, 0, "Список больше %u МиБ.",
                     "The list is larger than %u MiB.", ACCEPT_FILE_MAX >> 20);
  const char *shown = name ? name : "список";
  d = doc_new(ACCEPT_FORMAT_LIST, name);
  if (d == NULL)
    return fail_with(err, ACCEPT_ERR_NO_MEMORY, 0, "Не хватает памяти.", "Out of memory.");
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    text += 3;
    len -= 3;
  }
  uint32_t number = 0;
  for (size_t pos = 0; pos < len;) {
    const char *start = text + pos;
    const char *nl = memchr(start, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - start) : len - pos;
    pos += n + (nl ? 1 : 0);
    number++;
    if (memchr(start, '\0', n) != NULL) {
      rc = fail_with(err, ACCEPT_ERR_ENCODING, number,
                     "%s, строка %u: нулевой байт. Это двоичный файл, а не список кодов.",
                     "%s, line %u: a NUL byte. This is a binary file, not a list of codes.", shown,
                     number);
      goto fail;
    }
    free(line);
    line = malloc(n + 1);
    if (line == NULL) {
      rc = fail_with(err, ACCEPT_ERR_NO_MEMORY, number, "Не хватает памяти.", "Out of memory.");
      goto fail;
    }
    memcpy(line, start, n);
    line[n] = '\0';
    if (xmlCheckUTF8((const xmlChar *)line) == 0) {
      rc = fail_with(err, ACCEPT_ERR_ENCODING, number,
                     "%s, строка %u: текст не в UTF-8. Сохраните список в кодировке UTF-8.",
                     "%s, line %u: the text is not UTF-8. Save the list as UTF-8.", shown, number);
      goto fail;
    }
    const char *s = line;
    size_t m = n;
    trim(&s, &m);
    if (m == 0 || s[0] == '#') continue;
    if (d->count >= ACCEPT_CODES_MAX) {
      rc = fail_with(err, ACCEPT_ERR_TOO_BIG, number, "%s, строка %u: больше %u кодов в списке.",
                     "%s, line %u: more than %u codes in the list.", shown, number,
                     ACCEPT_CODES_MAX);
      goto fail;
    }
    origin_t at = {number, 0, 0, ""};
    rc = add_item(d, &at, s, m);
    if (rc != ACCEPT_OK) {
      fail_with(err, rc, number, "Не хватает памяти.", "Out of memory.");
      goto fail;
    }
  }
  free(line);
  *out = d;
  return ACCEPT_OK;
fail:
  free(line);
  accept_doc_free(d);
  return rc;
}

/* A file read whole, then parsed by `parse` (the list or the UTD reader). */
typedef int (*doc_parser_t)(const char *text, size_t len, const char *name, accept_doc_t **out,
                            accept_error_t *err);

static int load_file(const char *path, doc_parser_t parse, accept_doc_t **out, accept_error_t *err)
{
  char *buf;
  size_t len;
  error_clear(err);
  if (path == NULL || out == NULL)
    return fail_with(err, ACCEPT_ERR_ARGUMENT, 0, "Неверный вызов.", "Invalid arguments.");
  *out = NULL;
  int rc = read_file(path, &buf, &len, err);
  if (rc != ACCEPT_OK) return rc;
  rc = parse(buf, len, path, out, err);
  free(buf);
  return rc;
}

int accept_doc_load_list(const char *path, accept_doc_t **out, accept_error_t *err)
{
  return load_file(path, accept_doc_parse_list, out, err);
}

/* ---- the UTD -------------------------------------------------------------------- */

#define NAME_IS(node, s) (xmlStrcmp((node)->name, (const xmlChar *)(s)) == 0)

static xmlNodePtr child_named(xmlNodePtr parent, const char *name)
{
  if (parent == NULL) return NULL;
  for (xmlNodePtr c = parent->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && NAME_IS(c, name)) return c;
  return NULL;
}

/* Copy attribute `name` of node into buf; true when present. */
static bool attr_copy(xmlNodePtr node, const char *name, char *buf, size_t size)
{
  if (node == NULL) return false;
  xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)name);
  if (v == NULL) return false;
  const char *s = (const char *)v;
  size_t n = strlen(s);
  trim(&s, &n);
  copy_utf8(buf, size, s, n);
  xmlFree(v);
  return true;
}

static uint32_t attr_u32(xmlNodePtr node, const char *name)
{
  char buf[24];
  if (!attr_copy(node, name, buf, sizeof buf)) return 0;
  char *end;
  errno = 0;
  unsigned long v = strtoul(buf, &end, 10);
  if (errno || *end || buf[0] == '\0' || buf[0] == '-' || v > UINT32_MAX) return 0;
  return (uint32_t)v;
}

static uint32_t node_line(xmlNodePtr n)
{
  long line = xmlGetLineNo(n);
  return line > 0 && line <= (long)UINT32_MAX ? (uint32_t)line : 0;
}

/* The supplier: СвПрод/ИдСв with a legal entity (СвЮЛУч), a sole trader
** (СвИП + ФИО), a person (СвФЛУч + ФИО) or a foreign company (НаимОрг). */
static void read_supplier(xmlNodePtr invoice, accept_doc_info_t *info)
{
  xmlNodePtr ids = child_named(child_named(invoice, "СвПрод"), "ИдСв");
  for (xmlNodePtr c = ids ? ids->children : NULL; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (!attr_copy(c, "ИННЮЛ", info->supplier_inn, sizeof info->supplier_inn))
      attr_copy(c, "ИННФЛ", info->supplier_inn, sizeof info->supplier_inn);
    attr_copy(c, "НаимОрг", info->supplier_name, sizeof info->supplier_name);
    xmlNodePtr fio = child_named(c, "ФИО");
    if (!info->supplier_name[0] && fio) {
      char last[128] = "", first[128] = "", middle[128] = "";
      attr_copy(fio, "Фамилия", last, sizeof last);
      attr_copy(fio, "Имя", first, sizeof first);
      attr_copy(fio, "Отчество", middle, sizeof middle);
      snprintf(info->supplier_name, sizeof info->supplier_name, "%s%s%s%s%s%s",
               NAME_IS(c, "СвИП") ? "ИП " : "", last, first[0] ? " " : "", first,
               middle[0] ? " " : "", middle);
    }
    if (info->supplier_inn[0] || info->supplier_name[0]) return;
  }
}

/* The text of a code element: its text and CDATA children joined. A child
** element inside is reported (nested = true). */
static int element_text(xmlNodePtr el, char **out, size_t *len, bool *nested)
{
  size_t n = 0;
  char *buf = malloc(ELEMENT_TEXT_MAX + 1);
  if (buf == NULL) return ACCEPT_ERR_NO_MEMORY;
  *nested = false;
  for (xmlNodePtr c = el->children; c; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      size_t k = c->content ? strlen((const char *)c->content) : 0;
      if (k > ELEMENT_TEXT_MAX - n) k = ELEMENT_TEXT_MAX - n;
      memcpy(buf + n, c->content, k);
      n += k;
    } else if (c->type == XML_ELEMENT_NODE || c->type == XML_ENTITY_REF_NODE) {
      *nested = true;
    }
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return ACCEPT_OK;
}

static int add_element(accept_doc_t *d, xmlNodePtr el, const origin_t *at, bool package)
{
  char *text;
  size_t n;
  bool nested;
  if (d->count >= ACCEPT_CODES_MAX) return ACCEPT_ERR_TOO_BIG;
  int rc = element_text(el, &text, &n, &nested);
  if (rc != ACCEPT_OK) return rc;
  if (nested) {
    accept_entry_t *e = entry_push(d, at, text, n);
    free(text);
    if (e == NULL) return ACCEPT_ERR_NO_MEMORY;
    return add_invalid(
        e, "not_text",
        dup_printf("В элементе %s вложенный элемент вместо текста кода.", at->element),
        dup_printf("The %s element holds an element instead of a code's text.", at->element));
  }
  rc = package ? add_package(d, at, text, n) : add_item(d, at, text, n);
  free(text);
  return rc;
}

/* One НомСредИдентТов: its КИЗ and НомУпак children in order. A transport
** package id (ИдентТрансУпак) that comes without its contents is a package
** to disaggregate; with its contents listed it only says how they travel. */
static int read_identifiers(accept_doc_t *d, xmlNodePtr ids, uint32_t item, uint32_t *kiz,
                            uint32_t *packs)
{
  bool listed = false;
  int rc;
  for (xmlNodePtr c = ids->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    bool kiz_el = NAME_IS(c, "КИЗ"), pack_el = NAME_IS(c, "НомУпак");
    if (!kiz_el && !pack_el) continue;
    listed = true;
    origin_t at = {node_line(c), item, kiz_el ? ++*kiz : ++*packs, kiz_el ? "КИЗ" : "НомУпак"};
    rc = add_element(d, c, &at, pack_el);
    if (rc != ACCEPT_OK) return rc;
  }
  if (!listed) {
    xmlChar *trans = xmlGetNoNsProp(ids, (const xmlChar *)"ИдентТрансУпак");
    if (trans) {
      origin_t at = {node_line(ids), item, ++*packs, "ИдентТрансУпак"};
      rc = d->count >= ACCEPT_CODES_MAX
               ? ACCEPT_ERR_TOO_BIG
               : add_package(d, &at, (const char *)trans, strlen((const char *)trans));
      xmlFree(trans);
      if (rc != ACCEPT_OK) return rc;
    }
  }
  return ACCEPT_OK;
}

/* Every НомСредИдентТов below a product line (ДопСведТов/НомСредИдентТов
** in 5.01 and 5.03; searched at any depth so a reordering does not lose
** codes). */
static int read_product_line(accept_doc_t *d, xmlNodePtr node, uint32_t item, uint32_t *kiz,
                             uint32_t *packs)
{
  for (xmlNodePtr c = node->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    int rc = NAME_IS(c, "НомСредИдентТов") ? read_identifiers(d, c, item, kiz, packs)
                                           : read_product_line(d, c, item, kiz, packs);
    if (rc != ACCEPT_OK) return rc;
  }
  return ACCEPT_OK;
}

/* A DOCTYPE stops the parser at once; its line is kept for the message.
** The first error is kept too: libxml2 keeps only the last one, which after
** a wrong encoding is a consequence ("extra content"), not the cause. */
typedef struct parse_guard {
  bool doctype;
  uint32_t line;
  bool failed;
  uint32_t error_line;
  int error_code;
  char error[300];
} parse_guard_t;

static void xml_message(const xmlError *e, char *buf, size_t size);

static void first_error(void *ctx, xmlErrorPtr e)
{
  xmlParserCtxtPtr ctxt = ctx;
  parse_guard_t *guard = ctxt ? ctxt->_private : NULL;
  if (guard == NULL || guard->failed || e == NULL || e->level < XML_ERR_ERROR) return;
  guard->failed = true;
  guard->error_line = e->line > 0 ? (uint32_t)e->line : 0;
  guard->error_code = e->code;
  xml_message(e, guard->error, sizeof guard->error);
}

static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id)
{
  (void)name;
  (void)external_id;
  (void)system_id;
  xmlParserCtxtPtr ctxt = ctx;
  parse_guard_t *guard = ctxt->_private;
  guard->doctype = true;
  guard->line = ctxt->input ? (uint32_t)ctxt->input->line : 0;
  xmlStopParser(ctxt);
}

/* libxml2's message for a person: one line, no trailing newline. */
static void xml_message(const xmlError *e, char *buf, size_t size)
{
  const char *m = e && e->message ? e->message : "unknown error";
  size_t n = strlen(m);
  while (n > 0 && is_space(m[n - 1])) n--;
  copy_utf8(buf, size, m, n);
  for (char *p = buf; *p; p++)
    if (*p == '\n') *p = ' ';
}

/* What a manager can do about the usual faults, by libxml2's error code. */
static void xml_hint(int code, const char *msg, const char **ru, const char **en)
{
  *ru = *en = "";
  if (code == XML_ERR_INVALID_CHAR && strstr(msg, "UTF-8")) {
    *ru = " (текст не в UTF-8, а кодировка не объявлена: нужен заголовок "
          "<?xml version=\"1.0\" encoding=\"windows-1251\"?> или файл в UTF-8)";
    *en = " (the text is not UTF-8 and no encoding is declared: the file needs "
          "<?xml version=\"1.0\" encoding=\"windows-1251\"?> or UTF-8 text)";
  } else if (code == XML_ERR_INVALID_CHAR && strstr(msg, "value 29")) {
    *ru = " (в тексте разделитель GS, байт 0x1D, а в XML 1.0 он запрещён: в УПД пишут "
          "код идентификации без разделителей)";
    *en = " (the text holds a GS separator, byte 0x1D, which XML 1.0 forbids: a UTD lists "
          "the identification part, without separators)";
  } else if (code == XML_ERR_UNKNOWN_ENCODING || code == XML_ERR_UNSUPPORTED_ENCODING ||
             code == XML_ERR_INVALID_ENCODING || code == XML_I18N_CONV_FAILED) {
    *ru = " (кодировка файла не поддерживается или не совпадает с объявленной)";
    *en = " (the file's encoding is not supported or not the one declared)";
  }
}

int accept_doc_parse_utd(const char *xml, size_t len, const char *name, accept_doc_t **out,
                         accept_error_t *err)
{
  xmlParserCtxtPtr ctxt = NULL;
  xmlDocPtr doc = NULL;
  accept_doc_t *d = NULL;
  parse_guard_t guard;
  const char *shown = name ? name : "УПД";
  int rc;

  error_clear(err);
  if (out == NULL || xml == NULL)
    return fail_with(err, ACCEPT_ERR_ARGUMENT, 0, "Неверный вызов.", "Invalid arguments.");
  *out = NULL;
  if (len > ACCEPT_FILE_MAX)
    return fail_with(err, ACCEPT_ERR_TOO_BIG, 0, "%s: файл больше %u МиБ.",
                     "%s: the file is larger than %u MiB.", shown, ACCEPT_FILE_MAX >> 20);
  if (len == 0)
    return fail_with(err, ACCEPT_ERR_XML, 0, "%s: файл пуст.", "%s: the file is empty.", shown);

  memset(&guard, 0, sizeof guard);
  xmlInitParser();
  ctxt = xmlCreateMemoryParserCtxt(xml, (int)len);
  if (ctxt == NULL) {
    rc = fail_with(err, ACCEPT_ERR_NO_MEMORY, 0, "Не хватает памяти.", "Out of memory.");
    goto fail;
  }
  /* No network, no messages on stderr, line numbers past 65535, CDATA as
  ** text; entities are not substituted (and a DOCTYPE is refused below). */
  xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                              XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
  ctxt->_private = &guard;
  ctxt->sax->internalSubset = refuse_doctype;
  ctxt->sax->serror = first_error;
  xmlParseDocument(ctxt);
  doc = ctxt->myDoc;
  ctxt->myDoc = NULL;
  if (guard.doctype) {
    rc = fail_with(err, ACCEPT_ERR_XML, guard.line,
                   "%s, строка %u: в УПД не бывает DOCTYPE; файл не принят.",
                   "%s, line %u: a UTD has no DOCTYPE; the file is refused.", shown, guard.line);
    goto fail;
  }
  if (!ctxt->wellFormed || doc == NULL) {
    if (!guard.failed) {
      const xmlError *e = xmlCtxtGetLastError(ctxt);
      guard.error_line = e && e->line > 0 ? (uint32_t)e->line : 0;
      guard.error_code = e ? e->code : 0;
      xml_message(e, guard.error, sizeof guard.error);
    }
    const char *hint_ru, *hint_en;
    xml_hint(guard.error_code, guard.error, &hint_ru, &hint_en);
    char file[201]; /* the file's name, whole characters, never cut inside one */
    errtab_fit(file, sizeof file, shown, sizeof file, "…");
    rc = fail_with(err, ACCEPT_ERR_XML, guard.error_line, "%s, строка %u: XML повреждён%s: %s.",
                   "%s, line %u: malformed XML%s: %s.", file, guard.error_line, hint_en,
                   guard.error);
    if (err)
      errtab_format(err->message_ru, sizeof err->message_ru, NULL, 0,
                    "%s, строка %u: XML повреждён%s: %s.", "%s, line %u: malformed XML%s: %s.",
                    file, guard.error_line, hint_ru, guard.error);
    goto fail;
  }

  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (root == NULL || !NAME_IS(root, "Файл")) {
    const char *got = root ? (const char *)root->name : "";
    uint32_t line = root ? node_line(root) : 0;
    rc = fail_with(err, ACCEPT_ERR_NOT_UTD, line,
                   "%s, строка %u: корневой элемент <%s>, а УПД начинается с <Файл>.",
                   "%s, line %u: the root element is <%s>; a UTD starts with <Файл>.", shown, line,
                   got);
    goto fail;
  }
  xmlNodePtr body = child_named(root, "Документ");
  if (body == NULL) {
    rc = fail_with(err, ACCEPT_ERR_NOT_UTD, node_line(root),
                   "%s: в <Файл> нет элемента <Документ>: это не УПД.",
                   "%s: <Файл> has no <Документ> element: not a UTD.", shown);
    goto fail;
  }

  d = doc_new(ACCEPT_FORMAT_UTD, name);
  if (d == NULL) {
    rc = fail_with(err, ACCEPT_ERR_NO_MEMORY, 0, "Не хватает памяти.", "Out of memory.");
    goto fail;
  }
  accept_doc_info_t *info = &d->info;
  attr_copy(root, "ИдФайл", info->file_id, sizeof info->file_id);
  attr_copy(root, "ВерсФорм", info->version, sizeof info->version);
  attr_copy(body, "Функция", info->function, sizeof info->function);
  xmlNodePtr invoice = child_named(body, "СвСчФакт");
  if (!attr_copy(invoice, "НомерДок", info->number, sizeof info->number))
    attr_copy(invoice, "НомерСчФ", info->number, sizeof info->number);
  if (!attr_copy(invoice, "ДатаДок", info->date, sizeof info->date))
    attr_copy(invoice, "ДатаСчФ", info->date, sizeof info->date);
  read_supplier(invoice, info);

  xmlNodePtr table = child_named(body, "ТаблСчФакт");
  for (xmlNodePtr line = table ? table->children : NULL; line; line = line->next) {
    if (line->type != XML_ELEMENT_NODE || !NAME_IS(line, "СведТов")) continue;
    uint32_t kiz = 0, packs = 0;
    rc = read_product_line(d, line, attr_u32(line, "НомСтр"), &kiz, &packs);
    if (rc == ACCEPT_ERR_TOO_BIG) {
      rc = fail_with(err, rc, node_line(line), "%s: больше %u кодов в документе.",
                     "%s: more than %u codes in the document.", shown, ACCEPT_CODES_MAX);
      goto fail;
    }
    if (rc != ACCEPT_OK) {
      rc = fail_with(err, rc, 0, "Не хватает памяти.", "Out of memory.");
      goto fail;
    }
  }
  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
  *out = d;
  return ACCEPT_OK;
fail:
  accept_doc_free(d);
  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
  return rc;
}

int accept_doc_load_utd(const char *path, accept_doc_t **out, accept_error_t *err)
{
  return load_file(path, accept_doc_parse_utd, out, err);
}

/* ---- comparison ----------------------------------------------------------------- */

static const char *const decision_names[] = {"none", "all", "part", "reject"};
static const char *const outcome_names[] = {"compared", "accepted_all", "accepted_part", "rejected",
                                            "refused"};
static const char *const conflict_names[] = {"none",    "sold",       "remarked",
                                             "blocked", "op_blocked", "op_withdrawn"};
static const char *const package_names[] = {"none", "sscc", "group", "unknown"};

const char *accept_decision_name(accept_decision_t d)
{
  return (unsigned)d < 4 ? decision_names[d] : "unknown";
}
const char *accept_outcome_name(accept_outcome_t o)
{
  return (unsigned)o < 5 ? outcome_names[o] : "unknown";
}
const char *accept_conflict_name(accept_conflict_t c)
{
  return (unsigned)c < 6 ? conflict_names[c] : "unknown";
}
const char *accept_package_name(accept_package_kind_t k)
{
  return (unsigned)k < 4 ? package_names[k] : "unknown";
}

static int lines_push(accept_lines_t *l, const accept_entry_t *e, const accept_entry_t *other,
                      accept_side_t side)
{
  if (l->count == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    accept_line_t *grown = realloc(l->items, cap * sizeof *grown);
    if (grown == NULL) return ACCEPT_ERR_NO_MEMORY;
    l->items = grown;
    l->cap = cap;
  }
  accept_line_t *x = &l->items[l->count++];
  memset(x, 0, sizeof *x);
  x->entry = e;
  x->other = other;
  x->side = side;
  return ACCEPT_OK;
}

static void lines_free(accept_lines_t *l)
{
  free(l->items);
  l->items = NULL;
  l->count = l->cap = 0;
}

void accept_report_free(accept_report_t *r)
{
  if (r == NULL) return;
  lines_free(&r->matched);
  lines_free(&r->missing);
  lines_free(&r->extra);
  lines_free(&r->duplicates);
  lines_free(&r->invalid);
  lines_free(&r->packages);
  lines_free(&r->conflicts);
  lines_free(&r->accepted);
  free(r);
}

typedef struct keyref {
  const accept_entry_t *e;
  size_t order;
} keyref_t;

static int keyref_cmp(const void *a, const void *b)
{
  const keyref_t *x = a, *y = b;
  int c = strcmp(x->e->key, y->e->key);
  if (c) return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* Per-entry verdicts of one side, indexed by the entry's place in its
** document. */
enum { V_NONE, V_MATCHED, V_UNMATCHED, V_DUPLICATE };

typedef struct side {
  const accept_doc_t *doc;
  keyref_t *refs; /* ITEM and PACKAGE entries sorted by (kind, key, order) */
  size_t nrefs;
  uint8_t *verdict;
  const accept_entry_t **other; /* matched partner or first occurrence */
} side_t;

static int keyref_kind_cmp(const void *a, const void *b)
{
  const keyref_t *x = a, *y = b;
  if (x->e->kind != y->e->kind) return x->e->kind < y->e->kind ? -1 : 1;
  return keyref_cmp(a, b);
}

static int side_build(side_t *s, const accept_doc_t *doc)
{
  size_t n = doc->count;
  memset(s, 0, sizeof *s);
  s->doc = doc;
  s->refs = malloc((n ? n : 1) * sizeof *s->refs);
  s->verdict = calloc(n ? n : 1, 1);
  s->other = calloc(n ? n : 1, sizeof *s->other);
  if (!s->refs || !s->verdict || !s->other) return ACCEPT_ERR_NO_MEMORY;
  for (size_t i = 0; i < n; i++)
    if (doc->entries[i].kind != ACCEPT_ENTRY_INVALID)
      s->refs[s->nrefs++] = (keyref_t){&doc->entries[i], i};
  qsort(s->refs, s->nrefs, sizeof *s->refs, keyref_kind_cmp);
  /* Runs of one key: the first stands, the rest are duplicates of it. */
  for (size_t i = 0; i < s->nrefs; i++) {
    const keyref_t *r = &s->refs[i];
    if (i > 0 && s->refs[i - 1].e->kind == r->e->kind &&
        !strcmp(s->refs[i - 1].e->key, r->e->key)) {
      size_t first = i - 1;
      while (s->verdict[s->refs[first].order] == V_DUPLICATE) first--;
      s->verdict[r->order] = V_DUPLICATE;
      s->other[r->order] = s->refs[first].e;
    } else {
      s->verdict[r->order] = V_UNMATCHED;
    }
  }
  return ACCEPT_OK;
}

static void side_free(side_t *s)
{
  free(s->refs);
  free(s->verdict);
  free(s->other);
}

/* One merge walk over the firsts of each run on both sides. */
static void side_match(side_t *a, side_t *b)
{
  size_t i = 0, j = 0;
  while (i < a->nrefs && j < b->nrefs) {
    const keyref_t *x = &a->refs[i], *y = &b->refs[j];
    if (a->verdict[x->order] == V_DUPLICATE) {
      i++;
      continue;
    }
    if (b->verdict[y->order] == V_DUPLICATE) {
      j++;
      continue;
    }
    int c = x->e->kind != y->e->kind ? (x->e->kind < y->e->kind ? -1 : 1)
                                     : strcmp(x->e->key, y->e->key);
    if (c == 0) {
      a->verdict[x->order] = b->verdict[y->order] = V_MATCHED;
      a->other[x->order] = y->e;
      b->other[y->order] = x->e;
      i++;
      j++;
    } else if (c < 0) {
      i++;
    } else {
      j++;
    }
  }
}

static void outcome_message(accept_report_t *r);

int accept_compare(const accept_doc_t *document, const accept_doc_t *delivery,
                   accept_report_t **out)
{
  side_t a, b;
  accept_report_t *r = NULL;
  int rc = ACCEPT_ERR_NO_MEMORY;

  if (out == NULL) return ACCEPT_ERR_ARGUMENT;
  *out = NULL;
  if (document == NULL || delivery == NULL) return ACCEPT_ERR_ARGUMENT;
  if (document->count == 0) return ACCEPT_ERR_NO_CODES;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  r = calloc(1, sizeof *r);
  if (r == NULL || side_build(&a, document) != ACCEPT_OK || side_build(&b, delivery) != ACCEPT_OK)
    goto fail;
  side_match(&a, &b);
  r->document = document;
  r->delivery = delivery;
  r->document_codes = document->count;
  r->delivery_codes = delivery->count;

  /* The document side in file order, then the delivery side. */
  for (int pass = 0; pass < 2; pass++) {
    side_t *s = pass == 0 ? &a : &b;
    accept_side_t side = pass == 0 ? ACCEPT_SIDE_DOCUMENT : ACCEPT_SIDE_DELIVERY;
    for (size_t i = 0; i < s->doc->count; i++) {
      const accept_entry_t *e = &s->doc->entries[i];
      const accept_entry_t *other = s->other[i];
      accept_lines_t *to = NULL;
      if (e->kind == ACCEPT_ENTRY_INVALID) {
        to = &r->invalid;
      } else if (s->verdict[i] == V_DUPLICATE) {
        to = &r->duplicates;
      } else if (e->kind == ACCEPT_ENTRY_PACKAGE) {
        /* A box scanned that the document also lists is reported once,
        ** on the document's side, with the scan as `other`. */
        if (side == ACCEPT_SIDE_DELIVERY && s->verdict[i] == V_MATCHED) continue;
        to = &r->packages;
      } else if (s->verdict[i] == V_MATCHED) {
        if (side == ACCEPT_SIDE_DELIVERY) continue;
        to = &r->matched;
      } else {
        to = side == ACCEPT_SIDE_DOCUMENT ? &r->missing : &r->extra;
      }
      if (lines_push(to, e, other, side) != ACCEPT_OK) goto fail;
    }
  }
  side_free(&a);
  side_free(&b);
  r->decision = ACCEPT_DECIDE_NONE;
  r->outcome = ACCEPT_OUTCOME_COMPARED;
  outcome_message(r);
  *out = r;
  return ACCEPT_OK;
fail:
  side_free(&a);
  side_free(&b);
  accept_report_free(r);
  return rc;
}

/* ---- decision -------------------------------------------------------------------- */

static size_t document_duplicates(const accept_report_t *r)
{
  size_t n = 0;
  for (size_t i = 0; i < r->duplicates.count; i++)
    if (r->duplicates.items[i].side == ACCEPT_SIDE_DOCUMENT) n++;
  return n;
}

/* What stops "accept all", in the order the refusal names them. */
static const char *first_blocker(const accept_report_t *r)
{
  if (r->missing.count) return "missing";
  if (r->extra.count) return "extra";
  if (r->invalid.count) return "invalid_codes";
  if (r->packages.count) return "packages";
  if (document_duplicates(r)) return "duplicates";
  if (r->conflicts.count) return "conflicts";
  if (r->matched.count == 0) return "nothing_to_accept";
  return NULL;
}

/* "missing: 2; extra: 1; ..." in one language, for the non-zero counts. */
static void problems(const accept_report_t *r, bool russian, char *buf, size_t size)
{
  struct {
    size_t n;
    const char *ru, *en;
  } items[] = {
      {r->missing.count, "не отсканировано", "missing"},
      {r->extra.count, "лишних", "extra"},
      {r->invalid.count, "ошибочных кодов", "invalid codes"},
      {r->packages.count, "упаковок к расформировке", "packages to disaggregate"},
      {document_duplicates(r), "повторов в документе", "duplicates in the document"},
      {r->conflicts.count, "конфликтов с базой кодов", "conflicts with the code cache"},
  };
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
    if (items[i].n == 0 || o >= size) continue;
    int k = snprintf(buf + o, size - o, "%s%s: %zu", o ? "; " : "",
                     russian ? items[i].ru : items[i].en, items[i].n);
    if (k > 0) o += (size_t)k;
  }
}

static void outcome_message(accept_report_t *r)
{
  char pru[400], pen[400];
  problems(r, true, pru, sizeof pru);
  problems(r, false, pen, sizeof pen);
  size_t stock_new = r->accepted.count - r->already_in_stock;
  switch (r->outcome) {
  case ACCEPT_OUTCOME_COMPARED:
    snprintf(r->message_ru, sizeof r->message_ru,
             "Сверка: совпало %zu из %zu кодов документа%s%s. Ничего не изменено.",
             r->matched.count, r->document_codes, pru[0] ? "; " : "", pru);
    snprintf(r->message_en, sizeof r->message_en,
             "Compared: %zu of the document's %zu codes matched%s%s. Nothing changed.",
             r->matched.count, r->document_codes, pen[0] ? "; " : "", pen);
    break;
  case ACCEPT_OUTCOME_ACCEPTED_ALL:
    snprintf(r->message_ru, sizeof r->message_ru,
             "Поставка принята полностью: на остаток поставлено кодов: %zu (уже были на "
             "остатке: %zu).",
             stock_new, r->already_in_stock);
    snprintf(r->message_en, sizeof r->message_en,
             "Delivery accepted in full: %zu code(s) put into stock (%zu were in stock already).",
             stock_new, r->already_in_stock);
    break;
  case ACCEPT_OUTCOME_ACCEPTED_PART:
    snprintf(r->message_ru, sizeof r->message_ru,
             "Поставка принята частично: на остаток поставлено кодов: %zu (уже были на "
             "остатке: %zu) из %zu по документу. Не принято — %s.",
             stock_new, r->already_in_stock, r->document_codes, pru[0] ? pru : "ничего");
    snprintf(r->message_en, sizeof r->message_en,
             "Delivery accepted in part: %zu code(s) put into stock (%zu were in stock already) "
             "of the document's %zu. Not accepted: %s.",
             stock_new, r->already_in_stock, r->document_codes, pen[0] ? pen : "nothing");
    break;
  case ACCEPT_OUTCOME_REJECTED:
    snprintf(r->message_ru, sizeof r->message_ru,
             "Поставка отклонена: ни один код не поставлен на остаток (кодов в документе: %zu).",
             r->document_codes);
    snprintf(r->message_en, sizeof r->message_en,
             "Delivery rejected: no code was put into stock (the document lists %zu).",
             r->document_codes);
    break;
  case ACCEPT_OUTCOME_REFUSED:
    if (r->decision == ACCEPT_DECIDE_ALL && strcmp(r->refusal, "nothing_to_accept") != 0) {
      snprintf(r->message_ru, sizeof r->message_ru,
               "Принять всё нельзя — %s. Ничего не изменено. Примите часть (--part) или "
               "откажитесь от поставки (--reject).",
               pru);
      snprintf(r->message_en, sizeof r->message_en,
               "Cannot accept everything: %s. Nothing changed. Accept part (--part) or reject "
               "the delivery (--reject).",
               pen);
    } else {
      snprintf(r->message_ru, sizeof r->message_ru,
               "Принимать нечего: ни один код документа не совпал с отсканированными без "
               "конфликтов%s%s. Ничего не изменено.",
               pru[0] ? " — " : "", pru);
      snprintf(r->message_en, sizeof r->message_en,
               "Nothing to accept: no code of the document matched a scan without a "
               "conflict%s%s. Nothing changed.",
               pen[0] ? ": " : "", pen);
    }
    break;
  }
}

/* The cache's verdict on one matched code. */
static int conflict_of(cache_t *cache, const accept_entry_t *e, accept_conflict_t *conflict,
                       uint32_t *document, bool *in_stock)
{
  cache_code_t cc;
  bool blocked = false;
  *conflict = ACCEPT_CONFLICT_NONE;
  *document = 0;
  *in_stock = false;
  int rc = cache_code_get(cache, e->key, &cc);
  if (rc == CACHE_OK) {
    if (cc.local == CACHE_LOCAL_SOLD) {
      *conflict = ACCEPT_CONFLICT_SOLD;
      *document = cc.sold_document;
      return CACHE_OK;
    }
    if (cc.local == CACHE_LOCAL_REMARKED) {
      *conflict = ACCEPT_CONFLICT_REMARKED;
      return CACHE_OK;
    }
    if (cc.op_synced_ms != 0 && cc.op_blocked) {
      *conflict = ACCEPT_CONFLICT_OP_BLOCKED;
      return CACHE_OK;
    }
    if (cc.op_synced_ms != 0 && (cc.op_sold || cc.op_state == CACHE_OP_RETIRED) &&
        cc.local != CACHE_LOCAL_IN_STOCK) {
      *conflict = ACCEPT_CONFLICT_OP_WITHDRAWN;
      return CACHE_OK;
    }
    *in_stock = cc.local == CACHE_LOCAL_IN_STOCK;
  } else if (rc != CACHE_ERR_NOT_FOUND) {
    return rc;
  }
  rc = cache_block_find(cache, e->key, e->gtin[0] ? e->gtin : NULL, NULL, &blocked, NULL, NULL);
  if (rc != CACHE_OK) return rc;
  if (blocked) *conflict = ACCEPT_CONFLICT_BLOCKED;
  return CACHE_OK;
}

static int refuse(accept_report_t *r, const char *why)
{
  r->outcome = ACCEPT_OUTCOME_REFUSED;
  r->refusal = why;
  lines_free(&r->accepted);
  r->already_in_stock = 0;
  outcome_message(r);
  return ACCEPT_ERR_REFUSED;
}

int accept_decide(accept_report_t *r, cache_t *cache, accept_decision_t decision)
{
  const char **kis = NULL;
  bool *in_stock = NULL;
  int rc;

  if (r == NULL) return ACCEPT_ERR_ARGUMENT;
  if (r->outcome != ACCEPT_OUTCOME_COMPARED) return ACCEPT_ERR_STATE;
  if (decision != ACCEPT_DECIDE_ALL && decision != ACCEPT_DECIDE_PART &&
      decision != ACCEPT_DECIDE_REJECT)
    return ACCEPT_ERR_ARGUMENT;
  if (decision != ACCEPT_DECIDE_REJECT && cache == NULL) return ACCEPT_ERR_ARGUMENT;
  r->decision = decision;
  if (decision == ACCEPT_DECIDE_REJECT) {
    r->outcome = ACCEPT_OUTCOME_REJECTED;
    outcome_message(r);
    return ACCEPT_OK;
  }

  /* Conflicts first: read only. */
  lines_free(&r->conflicts);
  in_stock = calloc(r->matched.count ? r->matched.count : 1, sizeof *in_stock);
  if (in_stock == NULL) return ACCEPT_ERR_NO_MEMORY;
  for (size_t i = 0; i < r->matched.count; i++) {
    const accept_line_t *m = &r->matched.items[i];
    accept_conflict_t conflict;
    uint32_t document;
    rc = conflict_of(cache, m->entry, &conflict, &document, &in_stock[i]);
    if (rc != CACHE_OK) {
      snprintf(r->message_ru, sizeof r->message_ru,
               "Ошибка базы кодов при проверке %s: %s. Ничего не изменено.", m->entry->key,
               cache_last_error(cache));
      snprintf(r->message_en, sizeof r->message_en,
               "The code cache failed checking %s: %s. Nothing changed.", m->entry->key,
               cache_last_error(cache));
      r->outcome = ACCEPT_OUTCOME_REFUSED;
      r->refusal = "cache";
      rc = ACCEPT_ERR_CACHE;
      goto done;
    }
    if (conflict != ACCEPT_CONFLICT_NONE) {
      if (lines_push(&r->conflicts, m->entry, m->other, ACCEPT_SIDE_DOCUMENT) != ACCEPT_OK) {
        rc = ACCEPT_ERR_NO_MEMORY;
        goto done;
      }
      r->conflicts.items[r->conflicts.count - 1].conflict = conflict;
      r->conflicts.items[r->conflicts.count - 1].document = document;
      in_stock[i] = false;
    }
  }

  if (decision == ACCEPT_DECIDE_ALL) {
    const char *why = first_blocker(r);
    if (why) {
      rc = refuse(r, why);
      goto done;
    }
  }

  /* The accepted set: matched minus conflicts (a conflict has its own line). */
  lines_free(&r->accepted);
  r->already_in_stock = 0;
  size_t c = 0;
  for (size_t i = 0; i < r->matched.count; i++) {
    const accept_line_t *m = &r->matched.items[i];
    if (c < r->conflicts.count && r->conflicts.items[c].entry == m->entry) {
      c++;
      continue;
    }
    if (lines_push(&r->accepted, m->entry, m->other, ACCEPT_SIDE_DOCUMENT) != ACCEPT_OK) {
      rc = ACCEPT_ERR_NO_MEMORY;
      goto done;
    }
    if (in_stock[i]) r->already_in_stock++;
  }
  if (r->accepted.count == 0) {
    rc = refuse(r, "nothing_to_accept");
    goto done;
  }

  kis = malloc(r->accepted.count * sizeof *kis);
  if (kis == NULL) {
    rc = ACCEPT_ERR_NO_MEMORY;
    goto done;
  }
  for (size_t i = 0; i < r->accepted.count; i++) kis[i] = r->accepted.items[i].entry->key;
  size_t bad = SIZE_MAX;
  rc = cache_stock_add(cache, kis, r->accepted.count, &bad);
  if (rc != CACHE_OK) {
    const char *which = bad < r->accepted.count ? kis[bad] : "";
    snprintf(r->message_ru, sizeof r->message_ru,
             "База кодов отказала в постановке на остаток%s%s: %s (%s). Ничего не изменено.",
             which[0] ? " кода " : "", which, cache_err_message(rc, true), cache_last_error(cache));
    snprintf(r->message_en, sizeof r->message_en,
             "The code cache refused to put%s%s into stock: %s (%s). Nothing changed.",
             which[0] ? " code " : " the codes", which, cache_err_message(rc, false),
             cache_last_error(cache));
    lines_free(&r->accepted);
    r->already_in_stock = 0;
    r->outcome = ACCEPT_OUTCOME_REFUSED;
    r->refusal = "cache";
    rc = ACCEPT_ERR_CACHE;
    goto done;
  }
  r->outcome =
      decision == ACCEPT_DECIDE_ALL ? ACCEPT_OUTCOME_ACCEPTED_ALL : ACCEPT_OUTCOME_ACCEPTED_PART;
  outcome_message(r);
  rc = ACCEPT_OK;
done:
  free(kis);
  free(in_stock);
  return rc;
}

/* ---- renderings ------------------------------------------------------------------ */

static const char *side_name(accept_side_t s)
{
  return s == ACCEPT_SIDE_DOCUMENT ? "document" : "delivery";
}

static void conflict_text(const accept_line_t *l, bool russian, char *buf, size_t size)
{
  switch (l->conflict) {
  case ACCEPT_CONFLICT_SOLD:
    snprintf(buf, size,
             russian ? "код уже продан этим магазином (документ ФН № %u)"
                     : "already sold by this store (FN document %u)",
             l->document);
    break;
  case ACCEPT_CONFLICT_REMARKED:
    snprintf(buf, size, "%s",
             russian ? "код заменён при перемаркировке и больше не продаётся"
                     : "replaced by remarking; it never sells again");
    break;
  case ACCEPT_CONFLICT_BLOCKED:
    snprintf(buf, size, "%s", russian ? "код заблокирован" : "the code is blocked");
    break;
  case ACCEPT_CONFLICT_OP_BLOCKED:
    snprintf(buf, size, "%s",
             russian ? "оператор маркировки сообщил о блокировке кода"
                     : "the marking operator reports the code blocked");
    break;
  case ACCEPT_CONFLICT_OP_WITHDRAWN:
    snprintf(buf, size, "%s",
             russian ? "по данным оператора код выведен из оборота"
                     : "the operator reports the code withdrawn from circulation");
    break;
  default:
    snprintf(buf, size, "%s", "");
  }
}

static json_t *position_json(const accept_entry_t *e)
{
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "text", json_string(e->text));
  json_object_set_new(o, "line", json_integer(e->line));
  if (e->element[0]) {
    json_object_set_new(o, "item", json_integer(e->item));
    json_object_set_new(o, "index", json_integer(e->index));
    json_object_set_new(o, "element", json_string(e->element));
  }
  return o;
}

static json_t *code_lines_json(const accept_lines_t *l)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->count; i++) {
    const accept_entry_t *e = l->items[i].entry;
    json_t *o = position_json(e);
    json_object_set_new(o, "ki", json_string(e->key));
    json_object_set_new(o, "gtin", json_string(e->gtin));
    json_array_append_new(a, o);
  }
  return a;
}

static json_t *keys_json(const accept_lines_t *l)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->count; i++)
    json_array_append_new(a, json_string(l->items[i].entry->key));
  return a;
}

static json_t *doc_json(const accept_doc_t *d)
{
  const accept_doc_info_t *i = &d->info;
  json_t *o = json_object();
  json_object_set_new(o, "format", json_string(i->format == ACCEPT_FORMAT_UTD ? "utd" : "list"));
  json_object_set_new(o, "source", json_string(i->source));
  json_object_set_new(o, "file_id", json_string(i->file_id));
  json_object_set_new(o, "version", json_string(i->version));
  json_object_set_new(o, "function", json_string(i->function));
  json_object_set_new(o, "number", json_string(i->number));
  json_object_set_new(o, "date", json_string(i->date));
  json_object_set_new(o, "supplier_inn", json_string(i->supplier_inn));
  json_object_set_new(o, "supplier_name", json_string(i->supplier_name));
  return o;
}

static bool report_ok(const accept_report_t *r)
{
  if (r->outcome == ACCEPT_OUTCOME_REFUSED) return false;
  if (r->outcome != ACCEPT_OUTCOME_COMPARED) return true;
  return !r->missing.count && !r->extra.count && !r->invalid.count && !r->packages.count;
}

json_t *accept_report_to_json(const accept_report_t *r)
{
  if (r == NULL) return NULL;
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "ok", json_boolean(report_ok(r)));
  json_object_set_new(o, "decision", json_string(accept_decision_name(r->decision)));
  json_object_set_new(o, "outcome", json_string(accept_outcome_name(r->outcome)));
  json_object_set_new(o, "refusal", r->refusal ? json_string(r->refusal) : json_null());
  json_object_set_new(o, "message", json_string(r->message_ru));
  json_object_set_new(o, "message_en", json_string(r->message_en));
  json_object_set_new(o, "document", doc_json(r->document));
  json_object_set_new(o, "delivery", doc_json(r->delivery));

  json_t *counts = json_object();
  json_object_set_new(counts, "document", json_integer((json_int_t)r->document_codes));
  json_object_set_new(counts, "delivery", json_integer((json_int_t)r->delivery_codes));
  json_object_set_new(counts, "matched", json_integer((json_int_t)r->matched.count));
  json_object_set_new(counts, "missing", json_integer((json_int_t)r->missing.count));
  json_object_set_new(counts, "extra", json_integer((json_int_t)r->extra.count));
  json_object_set_new(counts, "duplicates", json_integer((json_int_t)r->duplicates.count));
  json_object_set_new(counts, "invalid", json_integer((json_int_t)r->invalid.count));
  json_object_set_new(counts, "packages", json_integer((json_int_t)r->packages.count));
  json_object_set_new(counts, "conflicts", json_integer((json_int_t)r->conflicts.count));
  json_object_set_new(counts, "accepted", json_integer((json_int_t)r->accepted.count));
  json_object_set_new(counts, "already_in_stock", json_integer((json_int_t)r->already_in_stock));
  json_object_set_new(o, "counts", counts);

  json_object_set_new(o, "matched", keys_json(&r->matched));
  json_object_set_new(o, "missing", code_lines_json(&r->missing));
  json_object_set_new(o, "extra", code_lines_json(&r->extra));
  json_object_set_new(o, "accepted", keys_json(&r->accepted));

  json_t *dups = json_array();
  for (size_t i = 0; dups && i < r->duplicates.count; i++) {
    const accept_line_t *l = &r->duplicates.items[i];
    json_t *d = position_json(l->entry);
    json_object_set_new(d, "side", json_string(side_name(l->side)));
    json_object_set_new(d, "ki", json_string(l->entry->key));
    json_object_set_new(d, "first_line", json_integer(l->other ? l->other->line : 0));
    json_array_append_new(dups, d);
  }
  json_object_set_new(o, "duplicates", dups);

  json_t *invalid = json_array();
  for (size_t i = 0; invalid && i < r->invalid.count; i++) {
    const accept_line_t *l = &r->invalid.items[i];
    json_t *d = position_json(l->entry);
    json_object_set_new(d, "side", json_string(side_name(l->side)));
    json_object_set_new(d, "error", json_string(l->entry->error));
    json_object_set_new(d, "message", json_string(l->entry->message_ru));
    json_object_set_new(d, "message_en", json_string(l->entry->message_en));
    json_array_append_new(invalid, d);
  }
  json_object_set_new(o, "invalid", invalid);

  json_t *packs = json_array();
  for (size_t i = 0; packs && i < r->packages.count; i++) {
    const accept_line_t *l = &r->packages.items[i];
    json_t *d = position_json(l->entry);
    json_object_set_new(d, "side", json_string(side_name(l->side)));
    json_object_set_new(d, "kind", json_string(accept_package_name(l->entry->package)));
    json_object_set_new(d, "code", json_string(l->entry->key));
    json_object_set_new(d, "scanned", json_boolean(l->side == ACCEPT_SIDE_DELIVERY || l->other));
    json_object_set_new(d, "message", json_string(l->entry->message_ru));
    json_object_set_new(d, "message_en", json_string(l->entry->message_en));
    json_array_append_new(packs, d);
  }
  json_object_set_new(o, "packages", packs);

  json_t *conflicts = json_array();
  for (size_t i = 0; conflicts && i < r->conflicts.count; i++) {
    const accept_line_t *l = &r->conflicts.items[i];
    char ru[200], en[200];
    json_t *d = position_json(l->entry);
    conflict_text(l, true, ru, sizeof ru);
    conflict_text(l, false, en, sizeof en);
    json_object_set_new(d, "ki", json_string(l->entry->key));
    json_object_set_new(d, "state", json_string(accept_conflict_name(l->conflict)));
    json_object_set_new(d, "document", json_integer(l->document));
    json_object_set_new(d, "message", json_string(ru));
    json_object_set_new(d, "message_en", json_string(en));
    json_array_append_new(conflicts, d);
  }
  json_object_set_new(o, "conflicts", conflicts);
  return o;
}

/* "line 31, item 1, КИЗ 2" in the reader's language. */
static void where(const accept_entry_t *e, bool russian, char *buf, size_t size)
{
  if (e->element[0] && e->item)
    snprintf(buf, size, russian ? "строка %u, товар %u, %s %u" : "line %u, item %u, %s %u", e->line,
             e->item, e->element, e->index);
  else if (e->element[0])
    snprintf(buf, size, russian ? "строка %u, %s %u" : "line %u, %s %u", e->line, e->element,
             e->index);
  else
    snprintf(buf, size, russian ? "строка %u" : "line %u", e->line);
}

static void section(FILE *f, const accept_lines_t *l, bool russian, size_t max, const char *ru,
                    const char *en, int style)
{
  if (l->count == 0) return;
  fprintf(f, "%s: %zu\n", russian ? ru : en, l->count);
  for (size_t i = 0; i < l->count && i < max; i++) {
    const accept_line_t *x = &l->items[i];
    char at[160], extra[300] = "";
    where(x->entry, russian, at, sizeof at);
    const char *side = x->side == ACCEPT_SIDE_DOCUMENT ? (russian ? "документ" : "document")
                                                       : (russian ? "поставка" : "delivery");
    switch (style) {
    case 1: /* duplicates */
      snprintf(extra, sizeof extra,
               russian ? " (%s, впервые в строке %u)" : " (%s, first at line %u)", side,
               x->other ? x->other->line : 0);
      break;
    case 2: /* invalid */
      snprintf(extra, sizeof extra, " (%s) — %s", side,
               russian ? x->entry->message_ru : x->entry->message_en);
      break;
    case 3: /* packages */
      snprintf(extra, sizeof extra, " [%s%s]", accept_package_name(x->entry->package),
               x->other || x->side == ACCEPT_SIDE_DELIVERY
                   ? (russian ? ", отсканирована" : ", scanned")
                   : "");
      break;
    case 4: { /* conflicts */
      char why[200];
      conflict_text(x, russian, why, sizeof why);
      snprintf(extra, sizeof extra, " — %s", why);
      break;
    }
    default:
      break;
    }
    fprintf(f, "  %s: %s%s\n", at, x->entry->text, extra);
  }
  if (l->count > max)
    fprintf(f, russian ? "  … и ещё %zu\n" : "  … and %zu more\n", l->count - max);
}

char *accept_report_text(const accept_report_t *r, bool russian, size_t list_max)
{
  char *out = NULL;
  size_t size = 0;
  if (r == NULL) return NULL;
  FILE *f = open_memstream(&out, &size);
  if (f == NULL) return NULL;
  if (list_max == 0) list_max = 10;
  const accept_doc_info_t *i = &r->document->info;
  if (i->format == ACCEPT_FORMAT_UTD) {
    fprintf(f, russian ? "УПД № %s от %s" : "UTD No. %s of %s", i->number[0] ? i->number : "—",
            i->date[0] ? i->date : "—");
    if (i->supplier_name[0] || i->supplier_inn[0])
      fprintf(f, russian ? ", поставщик %s (ИНН %s)" : ", supplier %s (INN %s)",
              i->supplier_name[0] ? i->supplier_name : "—",
              i->supplier_inn[0] ? i->supplier_inn : "—");
    if (i->source[0]) fprintf(f, ", %s", i->source);
    fputc('\n', f);
  } else {
    fprintf(f, russian ? "Список кодов %s\n" : "List of codes %s\n", i->source);
  }
  fprintf(f, "%s\n", russian ? r->message_ru : r->message_en);
  fprintf(f,
          russian ? "Кодов в документе: %zu; отсканировано: %zu; совпало: %zu\n"
                  : "Codes in the document: %zu; scanned: %zu; matched: %zu\n",
          r->document_codes, r->delivery_codes, r->matched.count);
  section(f, &r->missing, russian, list_max, "Не отсканированы (есть в документе)",
          "Missing (in the document, not scanned)", 0);
  section(f, &r->extra, russian, list_max, "Лишние (отсканированы, нет в документе)",
          "Extra (scanned, not in the document)", 0);
  section(f, &r->duplicates, russian, list_max, "Повторы", "Duplicates", 1);
  section(f, &r->invalid, russian, list_max, "Ошибочные коды", "Invalid codes", 2);
  section(f, &r->packages, russian, list_max,
          "Упаковки: содержимое неизвестно без оператора, нужна расформировка",
          "Packages: contents unknown offline, disaggregate them", 3);
  section(f, &r->conflicts, russian, list_max, "Конфликты с базой кодов (не приняты)",
          "Conflicts with the code cache (not accepted)", 4);
  if (fclose(f) != 0) {
    free(out);
    return NULL;
  }
  return out;
}
