/*
** ofd/batch.c: the remote shop's batch file (ofd/batch.h, docs/BATCH.md).
**
** Why a file and not a queue: the batch exists for shops with no link, so
** it has to survive being carried. Everything the operator needs is inside
** it: each sale notification exactly as the FN sealed it (the operator
** checks its 1077 and applies it like an online 82), next to the same facts
** in readable JSON for the people who look at the file, and one signature
** by the FN over the whole, so nothing can be added, dropped or edited on
** the way. The readable fields are never trusted on their own: batch_parse
** requires them to equal what the sealed 82 says.
**
** What is signed ("canonical bytes"): the batch object without its
** "signature" member, serialised by jansson with JSON_COMPACT |
** JSON_SORT_KEYS: no whitespace, object members sorted by the bytes of
** their keys, integers in decimal, strings in UTF-8 with only `"`, `\` and
** control characters escaped (\b \f \n \r \t, others as \u00XX with
** upper-case hex). The verifier parses the file, removes "signature" and
** serialises again, so the file itself may be pretty-printed (it is, for
** people) without changing what is signed. Reals are not allowed anywhere
** (quantities are decimal strings), so numbers always serialise the same.
**
** The upload is a plain HTTP POST through libcurl; the answer's tickets
** are handed to the FN only after the whole answer has been read and
** checked against the batch sent, so a confused answer clears nothing it
** should not.
*/
#define _GNU_SOURCE
#include "ofd/batch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buffer.h"
#include "common/codec.h"
#include "common/errtab.h"
#include "fiscal/fn_emu.h"
#include "fiscal/tlv.h"

#define CANONICAL_FLAGS  (JSON_COMPACT | JSON_SORT_KEYS)
#define FILE_FLAGS       (JSON_INDENT(2) | JSON_SORT_KEYS)
#define UPLOAD_TIMEOUT   60000L
#define ANSWER_MAX_BYTES (16u * 1024u * 1024u)
#define MAX_SCALE        6 /* FFD quantities have at most 6 decimals */

/* ---- errors ------------------------------------------------------------ */

static const errtab_t err_texts[] = {
    {BATCH_OK, "ok", "Готово.", "Done."},
    {BATCH_ERR_ARGUMENT, "argument", "Внутренняя ошибка: неверный параметр.",
     "Internal error: a bad parameter."},
    {BATCH_ERR_NO_MEMORY, "no_memory", "Не хватает памяти.", "Out of memory."},
    {BATCH_ERR_FN, "fn", "Фискальный накопитель не выдал уведомления или не подписал пакет.",
     "The fiscal storage did not give the notifications or did not sign the batch."},
    {BATCH_ERR_EMPTY, "empty", "Нет уведомлений о продаже для выгрузки: пакет не нужен.",
     "No sale notifications wait: there is no batch to export."},
    {BATCH_ERR_IO, "io", "Файл пакета не записан или не прочитан. Проверьте носитель и путь.",
     "The batch file could not be written or read. Check the medium and the path."},
    {BATCH_ERR_FORMAT, "format", "Файл не является пакетом уведомлений этой версии или повреждён.",
     "The file is not a batch of this version, or it is damaged."},
    {BATCH_ERR_INCONSISTENT, "inconsistent",
     "Данные пакета не совпадают с подписанными уведомлениями ФН: файл изменён.",
     "The batch's data differ from the FN's sealed notifications: the file was altered."},
    {BATCH_ERR_SIGNATURE, "signature",
     "Подпись пакета неверна: файл изменён или подписан другим ФН.",
     "The batch's signature does not verify: the file was altered or signed by another FN."},
    {BATCH_ERR_OTHER_FN, "other_fn", "Пакет выгружен другим фискальным накопителем.",
     "The batch was exported by another fiscal storage."},
    {BATCH_ERR_NETWORK, "network",
     "Нет связи с оператором: пакет не передан. Уведомления остаются в ФН; повторите позже.",
     "Cannot reach the operator: the batch was not delivered. The notifications stay in the FN; "
     "try again later."},
    {BATCH_ERR_REFUSED, "refused", "Оператор отклонил пакет. Уведомления остаются в ФН.",
     "The operator refused the batch. The notifications stay in the FN."},
    {BATCH_ERR_ANSWER, "answer",
     "Ответ оператора не соответствует пакету. Уведомления, для которых нет квитанций, остаются "
     "в ФН.",
     "The operator's answer does not match the batch. Notifications without a ticket stay in the "
     "FN."},
    ERRTAB_END("Неизвестная ошибка пакета.", "Unknown batch error."),
};

const char *batch_err_name(int err) { return errtab_name(err_texts, err); }

const char *batch_err_message(int err, bool russian)
{
  return errtab_message(err_texts, err, russian);
}

/* Writes a printf-style detail when the caller wants one; returns rc. */
static int say(int rc, char *detail, size_t cap, const char *format, ...)
{
  if (detail && cap) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(detail, cap, format, ap);
    va_end(ap);
  }
  return rc;
}

/* A quantity as the file writes it: "1", "0.250" (scale digits after the
** point, exactly as the FVLN has them). */
static void quantity_format(doc_quantity_t q, char out[48])
{
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)q.mantissa);
  size_t len = n < 0 ? 0 : (size_t)n, scale = q.scale;
  if (scale == 0) {
    memcpy(out, digits, len + 1);
    return;
  }
  /* Leading zeros so there is one digit before the point. */
  size_t width = len > scale ? len : scale + 1, o = 0;
  for (size_t i = len; i < width; i++) out[o++] = '0';
  memcpy(out + o, digits, len);
  o += len;
  memmove(out + o - scale + 1, out + o - scale, scale);
  out[o - scale] = '.';
  out[o + 1] = '\0';
}

/* ---- a sealed 82, read ------------------------------------------------- */

typedef struct note82 {
  uint32_t number, time, receipt_number;
  uint8_t operation;
  char fn_number[17], kkt_reg_number[21], user_inn[13];
  size_t code_count;
  batch_code_t *codes;
  bool sealed;
} note82_t;

static void codes_free(batch_code_t *codes, size_t n)
{
  for (size_t i = 0; codes && i < n; i++) free(codes[i].km);
  free(codes);
}

static void note82_free(note82_t *n)
{
  codes_free(n->codes, n->code_count);
  n->codes = NULL;
  n->code_count = 0;
}

/* One 2007 line into a fresh code. */
static int read_line(const tlv_item_t *line_item, batch_code_t *c)
{
  tlv_reader_t line;
  tlv_item_t f;
  tlv_fvln_t q = {0, 0};
  char km[DOC_MAX_KM + 1];
  int have = 0, rc;
  memset(c, 0, sizeof *c);
  if (tlv_reader_enter(line_item, &line) != 0) return -1;
  while ((rc = tlv_reader_next(&line, &f)) == 0) {
    int bad = 0;
    if (f.tag == 2000) {
      bad = tlv_get_string(&f, km, sizeof km, &c->km_len);
      have |= 1;
    } else if (f.tag == 2110) {
      bad = tlv_get_byte(&f, &c->status);
      have |= 2;
    } else if (f.tag == 1023) {
      bad = tlv_get_fvln(&f, &q);
      have |= 4;
    } else if (f.tag == 2108) {
      bad = tlv_get_byte(&f, &c->measure);
    }
    if (bad) return -1;
  }
  /* Scale past FFD's 6 decimals is no quantity a till can sell. */
  if (rc != TLV_ERR_END || have != 7 || c->km_len == 0 || q.scale > MAX_SCALE) return -1;
  /* A code never holds NUL (strndup below would stop at one). */
  if (memchr(km, '\0', c->km_len)) return -1;
  c->quantity.mantissa = q.mantissa;
  c->quantity.scale = q.scale;
  if (!(c->km = strndup(km, c->km_len))) return -2;
  return 0;
}

/* Reads a sealed 82: 0, -1 malformed, -2 out of memory. */
static int note82_read(const uint8_t *doc, size_t len, note82_t *n)
{
  tlv_reader_t r, in;
  tlv_item_t item;
  size_t cap = 0, slen = 0;
  int have = 0, rc;
  memset(n, 0, sizeof *n);
  tlv_reader_init(&r, doc, len);
  if (tlv_reader_next(&r, &item) != 0 || item.tag != DOC_KM_NOTIFICATION || !tlv_reader_done(&r) ||
      tlv_reader_enter(&item, &in) != 0)
    return -1;
  while ((rc = tlv_reader_next(&in, &item)) == 0) {
    int bad = 0;
    switch (item.tag) {
    case 2002:
      bad = tlv_get_uint32(&item, &n->number), have |= 1;
      break;
    case 1012:
      bad = tlv_get_unixtime(&item, &n->time), have |= 2;
      break;
    case 1041:
      bad = tlv_get_string(&item, n->fn_number, sizeof n->fn_number, &slen), have |= 4;
      break;
    case 1037:
      bad = tlv_get_string(&item, n->kkt_reg_number, sizeof n->kkt_reg_number, &slen);
      break;
    case 1018:
      bad = tlv_get_string(&item, n->user_inn, sizeof n->user_inn, &slen);
      break;
    case 1040:
      bad = tlv_get_uint32(&item, &n->receipt_number), have |= 8;
      break;
    case 1054:
      bad = tlv_get_byte(&item, &n->operation), have |= 16;
      break;
    case 1077:
      n->sealed = item.length == DOC_SIGN_SIZE;
      break;
    case 2007:
      if (n->code_count == cap) {
        size_t grown = cap ? cap * 2 : 4;
        batch_code_t *codes = realloc(n->codes, grown * sizeof *codes);
        if (!codes) {
          note82_free(n);
          return -2;
        }
        n->codes = codes;
        cap = grown;
      }
      bad = read_line(&item, &n->codes[n->code_count]);
      if (bad == -2) {
        note82_free(n);
        return -2;
      }
      if (!bad) n->code_count++;
      break;
    default:
      break;
    }
    if (bad) {
      note82_free(n);
      return -1;
    }
  }
  if (rc != TLV_ERR_END || have != 31 || n->code_count == 0) {
    note82_free(n);
    return -1;
  }
  return 0;
}

/* ---- building ---------------------------------------------------------- */

static json_t *codes_json(const batch_code_t *codes, size_t n)
{
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++) {
    char qty[48];
    quantity_format(codes[i].quantity, qty);
    json_t *c = json_pack("{s:s%,s:i,s:s,s:i}", "km", codes[i].km, codes[i].km_len, "status",
                          (int)codes[i].status, "quantity", qty, "measure", (int)codes[i].measure);
    if (!c || json_array_append_new(list, c) != 0) {
      json_decref(list);
      return NULL;
    }
  }
  return list;
}

int batch_build(fn_t *fn, char **text, size_t *len, batch_info_t *info)
{
  batch_info_t local;
  fn_status_t st;
  fn_notification_t *n = NULL;
  fn_document_t *receipt = NULL;
  json_t *root = NULL, *list = NULL;
  char *canonical = NULL, *out = NULL;
  uint8_t mac[FN_BLOB_MAC_SIZE];
  char mac_hex[2 * FN_BLOB_MAC_SIZE + 1];
  uint32_t after = 0;
  int rc;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  if (text) *text = NULL;
  if (len) *len = 0;
  if (!fn || !text || !len) return BATCH_ERR_ARGUMENT;
  n = malloc(sizeof *n);
  receipt = malloc(sizeof *receipt);
  list = json_array();
  if (!n || !receipt || !list) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  if ((rc = fn_status(fn, &st)) != 0) goto fn_fail;
  for (;;) {
    note82_t note;
    doc_summary_t sum;
    rc = fn_notification_next_after(fn, after, n);
    if (rc == FN_ERR_NO_DATA) break;
    if (rc != 0) goto fn_fail;
    if (n->number <= after) { /* the FN went backwards: it would loop */
      rc = FN_ERR_FAILURE;
      goto fn_fail;
    }
    after = n->number;
    int r82 = note82_read(n->data, n->len, &note);
    if (r82 == -2) {
      rc = BATCH_ERR_NO_MEMORY;
      goto fail;
    }
    if (r82 != 0) {
      rc = FN_ERR_FAILURE; /* the FN's own 82 does not read: a damaged FN */
      goto fn_fail;
    }
    /* The printed FP of the receipt the notification reports. */
    rc = fn_document_get(fn, n->receipt_number, receipt);
    if (rc == 0 && (doc_summarize(receipt->data, receipt->len, &sum) != 0 || !sum.has_sign))
      rc = FN_ERR_FAILURE;
    if (rc != 0) {
      note82_free(&note);
      goto fn_fail;
    }
    char *document = codec_base64_encode(n->data, n->len);
    json_t *one = document ? json_pack("{s:I,s:I,s:I,s:I,s:i,s:s}", "number", (json_int_t)n->number,
                                       "receiptNumber", (json_int_t)n->receipt_number, "time",
                                       (json_int_t)n->time, "fiscalSign",
                                       (json_int_t)doc_fiscal_sign_printed(sum.sign), "operation",
                                       (int)note.operation, "document", document)
                           : NULL;
    /* set_new takes the codes in every case, also when it fails. */
    if (one && json_object_set_new(one, "codes", codes_json(note.codes, note.code_count)) != 0) {
      json_decref(one);
      one = NULL;
    }
    info->codes += note.code_count;
    note82_free(&note);
    free(document);
    if (!one || json_array_append_new(list, one) != 0) {
      rc = BATCH_ERR_NO_MEMORY;
      goto fail;
    }
    if (info->count == 0) info->from = n->number;
    info->through = n->number;
    info->count++;
  }
  if (info->count == 0) {
    rc = BATCH_ERR_EMPTY;
    goto fail;
  }
  info->created_at = st.now;
  root = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "format", BATCH_FORMAT, "version",
                   BATCH_VERSION, "fnNumber", st.fn_number, "kktRegNumber", st.kkt_reg_number,
                   "userInn", st.user_inn, "createdAt", (json_int_t)st.now, "fromNotification",
                   (json_int_t)info->from, "throughNotification", (json_int_t)info->through,
                   "count", (json_int_t)info->count);
  if (!root) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  rc = json_object_set_new(root, "notifications", list);
  list = NULL; /* root owns it now, or set_new released it */
  if (rc != 0 || !(canonical = json_dumps(root, CANONICAL_FLAGS))) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  if ((rc = fn_sign_blob(fn, (const uint8_t *)canonical, strlen(canonical), mac)) != 0)
    goto fn_fail;
  codec_hex_encode(mac, sizeof mac, CODEC_HEX_LOWER, mac_hex);
  if (json_object_set_new(root, "signature",
                          json_pack("{s:s,s:s}", "algorithm", BATCH_ALGORITHM, "value", mac_hex)) !=
          0 ||
      !(out = json_dumps(root, FILE_FLAGS))) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  /* A text file ends with a newline. */
  size_t n_out = strlen(out);
  char *grown = realloc(out, n_out + 2);
  if (!grown) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  out = grown;
  out[n_out++] = '\n';
  out[n_out] = '\0';
  *text = out;
  *len = n_out;
  out = NULL;
  rc = 0;
  goto done;
fn_fail:
  info->fn_error = rc;
  rc = BATCH_ERR_FN;
fail:
done:
  free(out);
  free(canonical);
  json_decref(root);
  json_decref(list);
  free(receipt);
  free(n);
  return rc;
}

/* ---- files ------------------------------------------------------------- */

int batch_write_file(const char *path, const char *text, size_t len, char *detail,
                     size_t detail_cap)
{
  char *tmp = NULL, *dir_copy = NULL;
  int fd = -1, rc = BATCH_ERR_IO;
  if (!path || !*path || (!text && len)) return BATCH_ERR_ARGUMENT;
  if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) return BATCH_ERR_NO_MEMORY;
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    rc = say(BATCH_ERR_IO, detail, detail_cap, "%s: %s", tmp, strerror(errno));
    free(tmp);
    return rc;
  }
  for (size_t done = 0; done < len;) {
    ssize_t w = write(fd, text + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = say(BATCH_ERR_IO, detail, detail_cap, "%s: %s", tmp, w < 0 ? strerror(errno) : "short");
      goto fail;
    }
    done += (size_t)w;
  }
  /* The bytes on the medium before the name points at them. */
  if (fsync(fd) != 0) {
    rc = say(BATCH_ERR_IO, detail, detail_cap, "fsync %s: %s", tmp, strerror(errno));
    goto fail;
  }
  if (fchmod(fd, 0644) != 0 || close(fd) != 0) {
    fd = -1;
    rc = say(BATCH_ERR_IO, detail, detail_cap, "%s: %s", tmp, strerror(errno));
    goto fail;
  }
  fd = -1;
  if (rename(tmp, path) != 0) {
    rc = say(BATCH_ERR_IO, detail, detail_cap, "rename to %s: %s", path, strerror(errno));
    goto fail;
  }
  /* And the rename itself on the medium: fsync the folder. */
  if (!(dir_copy = strdup(path))) {
    rc = BATCH_ERR_NO_MEMORY;
    goto done;
  }
  int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) != 0) {
    rc = say(BATCH_ERR_IO, detail, detail_cap, "fsync of the folder of %s: %s", path,
             strerror(errno));
    if (dfd >= 0) close(dfd);
    goto done;
  }
  close(dfd);
  rc = 0;
  goto done;
fail:
  if (fd >= 0) close(fd);
  unlink(tmp);
done:
  free(dir_copy);
  free(tmp);
  return rc;
}

int batch_read_file(const char *path, char **text, size_t *len, char *detail, size_t detail_cap)
{
  FILE *f = NULL;
  char *buf = NULL;
  size_t used = 0, cap = 0;
  int rc = BATCH_ERR_IO;
  if (text) *text = NULL;
  if (len) *len = 0;
  if (!path || !text || !len) return BATCH_ERR_ARGUMENT;
  if (!(f = fopen(path, "rb")))
    return say(BATCH_ERR_IO, detail, detail_cap, "%s: %s", path, strerror(errno));
  for (;;) {
    if (used + 1 >= cap) {
      size_t grown = cap ? cap * 2 : 65536;
      char *p = realloc(buf, grown);
      if (!p) {
        rc = BATCH_ERR_NO_MEMORY;
        goto fail;
      }
      buf = p;
      cap = grown;
    }
    size_t got = fread(buf + used, 1, cap - used - 1, f);
    used += got;
    if (used > BATCH_MAX_BYTES) {
      rc = say(BATCH_ERR_IO, detail, detail_cap, "%s: larger than %u bytes", path,
               (unsigned)BATCH_MAX_BYTES);
      goto fail;
    }
    if (got == 0) break;
  }
  if (ferror(f)) {
    rc = say(BATCH_ERR_IO, detail, detail_cap, "%s: read error", path);
    goto fail;
  }
  fclose(f);
  buf[used] = '\0';
  *text = buf;
  *len = used;
  return 0;
fail:
  fclose(f);
  free(buf);
  return rc;
}

int batch_export(fn_t *fn, const char *path, batch_info_t *info, char *detail, size_t detail_cap)
{
  batch_info_t local;
  char *text = NULL;
  size_t len = 0;
  int rc;
  if (!info) info = &local;
  if (!fn || !path) return BATCH_ERR_ARGUMENT;
  if ((rc = batch_build(fn, &text, &len, info)) != 0) return rc;
  rc = batch_write_file(path, text, len, detail, detail_cap);
  free(text);
  if (rc != 0) return rc;
  /* Only a batch that is on the medium moves the FN's mark. */
  if ((rc = fn_notifications_exported(fn, info->through)) != 0) {
    info->fn_error = rc;
    return BATCH_ERR_FN;
  }
  return 0;
}

/* ---- parsing ----------------------------------------------------------- */

void batch_free(batch_t *b)
{
  if (!b) return;
  for (size_t i = 0; b->notifications && i < b->count; i++) {
    codes_free(b->notifications[i].codes, b->notifications[i].code_count);
    free(b->notifications[i].document);
  }
  free(b->notifications);
  free(b->canonical);
  free(b);
}

/* Typed members; each says which field failed. */
static bool get_u32(json_t *o, const char *key, uint32_t *out)
{
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) return false;
  json_int_t i = json_integer_value(v);
  if (i < 0 || i > (json_int_t)UINT32_MAX) return false;
  *out = (uint32_t)i;
  return true;
}

static bool get_u8(json_t *o, const char *key, uint8_t *out)
{
  uint32_t v = 0;
  if (!get_u32(o, key, &v) || v > 255) return false;
  *out = (uint8_t)v;
  return true;
}

/* A string member copied into a fixed array, at most max_len characters. */
static bool get_text(json_t *o, const char *key, char *out, size_t cap, size_t min_len)
{
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) return false;
  size_t n = json_string_length(v);
  if (n < min_len || n >= cap || memchr(json_string_value(v), '\0', n)) return false;
  memcpy(out, json_string_value(v), n + 1);
  return true;
}

/* Does the readable part of notification i say what its 82 says? */
static int notification_check(const batch_t *b, const batch_notification_t *bn, const note82_t *n,
                              size_t i, char *detail, size_t cap)
{
  if (!n->sealed)
    return say(BATCH_ERR_INCONSISTENT, detail, cap, "notifications[%zu].document: not sealed", i);
  if (n->number != bn->number || n->receipt_number != bn->receipt_number || n->time != bn->time ||
      n->operation != bn->operation)
    return say(BATCH_ERR_INCONSISTENT, detail, cap,
               "notifications[%zu]: number, receiptNumber, time or operation differ from its "
               "document (2002=%u 1040=%u 1012=%u 1054=%u)",
               i, n->number, n->receipt_number, n->time, n->operation);
  if (strcmp(n->fn_number, b->fn_number) != 0 ||
      strcmp(n->kkt_reg_number, b->kkt_reg_number) != 0 || strcmp(n->user_inn, b->user_inn) != 0)
    return say(BATCH_ERR_INCONSISTENT, detail, cap,
               "notifications[%zu]: the document is from FN %s (KKT %s, INN %s), not the batch's",
               i, n->fn_number, n->kkt_reg_number, n->user_inn);
  if (n->code_count != bn->code_count)
    return say(BATCH_ERR_INCONSISTENT, detail, cap,
               "notifications[%zu]: %zu codes, its document has %zu", i, bn->code_count,
               n->code_count);
  for (size_t k = 0; k < n->code_count; k++) {
    const batch_code_t *x = &n->codes[k], *y = &bn->codes[k];
    if (x->km_len != y->km_len || memcmp(x->km, y->km, x->km_len) != 0 || x->status != y->status ||
        x->quantity.mantissa != y->quantity.mantissa || x->quantity.scale != y->quantity.scale ||
        x->measure != y->measure)
      return say(BATCH_ERR_INCONSISTENT, detail, cap,
                 "notifications[%zu].codes[%zu]: differs from its document", i, k);
  }
  return 0;
}

static int codes_parse(json_t *list, batch_notification_t *bn, size_t i, char *detail, size_t cap)
{
  size_t n = json_array_size(list);
  if (!json_is_array(list) || n == 0 || n > DOC_MAX_ITEMS)
    return say(BATCH_ERR_FORMAT, detail, cap, "notifications[%zu].codes: 1..%d codes", i,
               DOC_MAX_ITEMS);
  if (!(bn->codes = calloc(n, sizeof *bn->codes))) return BATCH_ERR_NO_MEMORY;
  for (size_t k = 0; k < n; k++) {
    json_t *c = json_array_get(list, k), *km = json_object_get(c, "km"), *qty;
    batch_code_t *code = &bn->codes[k];
    qty = json_object_get(c, "quantity");
    if (!json_is_object(c) || !json_is_string(km) || json_string_length(km) == 0 ||
        json_string_length(km) > DOC_MAX_KM ||
        /* a code never holds NUL; strndup below would stop at one */
        memchr(json_string_value(km), '\0', json_string_length(km)) ||
        !get_u8(c, "status", &code->status) || !get_u8(c, "measure", &code->measure) ||
        !json_is_string(qty) ||
        !doc_quantity_parse(json_string_value(qty), MAX_SCALE, &code->quantity))
      return say(BATCH_ERR_FORMAT, detail, cap,
                 "notifications[%zu].codes[%zu]: km (1..%d), status, quantity (decimal string) "
                 "and measure are required",
                 i, k, DOC_MAX_KM);
    code->km_len = json_string_length(km);
    if (!(code->km = strndup(json_string_value(km), code->km_len))) return BATCH_ERR_NO_MEMORY;
    bn->code_count = k + 1;
  }
  return 0;
}

int batch_parse(const char *text, size_t len, batch_t **out, char *detail, size_t cap)
{
  json_error_t jerr;
  json_t *root = NULL, *list, *sig;
  batch_t *b = NULL;
  char mac_hex[2 * FN_BLOB_MAC_SIZE + 1], format[32], algorithm[32];
  uint32_t count = 0;
  int rc = BATCH_ERR_FORMAT;
  if (out) *out = NULL;
  if (!text || !out) return BATCH_ERR_ARGUMENT;
  if (detail && cap) detail[0] = '\0';
  root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    rc = say(BATCH_ERR_FORMAT, detail, cap, "not JSON: line %d: %s", jerr.line, jerr.text);
    goto fail;
  }
  if (!(b = calloc(1, sizeof *b))) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  if (!json_is_object(root) || !get_text(root, "format", format, sizeof format, 1) ||
      strcmp(format, BATCH_FORMAT) != 0) {
    rc = say(BATCH_ERR_FORMAT, detail, cap, "format: not \"%s\"", BATCH_FORMAT);
    goto fail;
  }
  json_t *version = json_object_get(root, "version");
  if (!json_is_integer(version) || json_integer_value(version) != BATCH_VERSION) {
    rc =
        say(BATCH_ERR_FORMAT, detail, cap, "version: this program reads version %d", BATCH_VERSION);
    goto fail;
  }
  b->version = BATCH_VERSION;
  if (!get_text(root, "fnNumber", b->fn_number, sizeof b->fn_number, 16) ||
      !get_text(root, "kktRegNumber", b->kkt_reg_number, sizeof b->kkt_reg_number, 1) ||
      !get_text(root, "userInn", b->user_inn, sizeof b->user_inn, 10) ||
      !get_u32(root, "createdAt", &b->created_at) ||
      !get_u32(root, "fromNotification", &b->from_notification) ||
      !get_u32(root, "throughNotification", &b->through_notification) ||
      !get_u32(root, "count", &count)) {
    rc = say(BATCH_ERR_FORMAT, detail, cap,
             "fnNumber (16), kktRegNumber, userInn (10 or 12), createdAt, fromNotification, "
             "throughNotification and count are required");
    goto fail;
  }
  sig = json_object_get(root, "signature");
  if (!json_is_object(sig) || !get_text(sig, "algorithm", algorithm, sizeof algorithm, 1) ||
      strcmp(algorithm, BATCH_ALGORITHM) != 0 ||
      !get_text(sig, "value", mac_hex, sizeof mac_hex, 2 * FN_BLOB_MAC_SIZE) ||
      !codec_hex_decode(mac_hex, strlen(mac_hex), b->signature, sizeof b->signature)) {
    rc = say(BATCH_ERR_FORMAT, detail, cap,
             "signature: {\"algorithm\":\"%s\",\"value\":64 lower-case hex digits} is required",
             BATCH_ALGORITHM);
    goto fail;
  }
  list = json_object_get(root, "notifications");
  if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) != count) {
    rc = say(BATCH_ERR_FORMAT, detail, cap, "notifications: an array of count (%u) entries", count);
    goto fail;
  }
  b->notifications = calloc(count, sizeof *b->notifications);
  if (!b->notifications) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  for (size_t i = 0; i < count; i++) {
    json_t *o = json_array_get(list, i), *doc = json_object_get(o, "document");
    batch_notification_t *bn = &b->notifications[i];
    note82_t note;
    b->count = i + 1; /* so batch_free releases what this one holds */
    if (!json_is_object(o) || !get_u32(o, "number", &bn->number) ||
        !get_u32(o, "receiptNumber", &bn->receipt_number) || !get_u32(o, "time", &bn->time) ||
        !get_u32(o, "fiscalSign", &bn->fiscal_sign) || !get_u8(o, "operation", &bn->operation) ||
        !json_is_string(doc)) {
      rc = say(BATCH_ERR_FORMAT, detail, cap,
               "notifications[%zu]: number, receiptNumber, time, fiscalSign, operation, codes "
               "and document are required",
               i);
      goto fail;
    }
    if ((rc = codes_parse(json_object_get(o, "codes"), bn, i, detail, cap)) != 0) goto fail;
    if (codec_base64_decode(json_string_value(doc), json_string_length(doc), &bn->document,
                            &bn->document_len) != 0 ||
        bn->document_len == 0 || bn->document_len > DOC_MAX_DOCUMENT) {
      rc = say(BATCH_ERR_FORMAT, detail, cap,
               "notifications[%zu].document: not base64 of a document", i);
      goto fail;
    }
    if (i > 0 && bn->number <= b->notifications[i - 1].number) {
      rc = say(BATCH_ERR_INCONSISTENT, detail, cap,
               "notifications[%zu]: numbers must increase (%u after %u)", i, bn->number,
               b->notifications[i - 1].number);
      goto fail;
    }
    int r82 = note82_read(bn->document, bn->document_len, &note);
    if (r82 == -2) {
      rc = BATCH_ERR_NO_MEMORY;
      goto fail;
    }
    if (r82 != 0) {
      rc = say(BATCH_ERR_INCONSISTENT, detail, cap,
               "notifications[%zu].document: not a sale notification (82)", i);
      goto fail;
    }
    rc = notification_check(b, bn, &note, i, detail, cap);
    note82_free(&note);
    if (rc != 0) goto fail;
  }
  if (b->notifications[0].number != b->from_notification ||
      b->notifications[count - 1].number != b->through_notification) {
    rc = say(BATCH_ERR_INCONSISTENT, detail, cap,
             "fromNotification/throughNotification (%u..%u) are not the first and last numbers",
             b->from_notification, b->through_notification);
    goto fail;
  }
  /* What the signature covers: everything but itself, canonically. */
  json_object_del(root, "signature");
  if (!(b->canonical = json_dumps(root, CANONICAL_FLAGS))) {
    rc = BATCH_ERR_NO_MEMORY;
    goto fail;
  }
  b->canonical_len = strlen(b->canonical);
  json_decref(root);
  *out = b;
  return 0;
fail:
  json_decref(root);
  batch_free(b);
  return rc;
}

int batch_verify(const batch_t *b, const uint8_t secret[32])
{
  uint8_t mac[FN_BLOB_MAC_SIZE];
  if (!b || !secret || !b->canonical) return BATCH_ERR_ARGUMENT;
  if (fn_emu_blob_mac(secret, (const uint8_t *)b->canonical, b->canonical_len, mac) != 0)
    return BATCH_ERR_NO_MEMORY;
  return CRYPTO_memcmp(mac, b->signature, sizeof mac) == 0 ? 0 : BATCH_ERR_SIGNATURE;
}

int batch_verify_with_fn(fn_t *fn, const batch_t *b, int *fn_error)
{
  uint8_t mac[FN_BLOB_MAC_SIZE];
  fn_status_t st;
  int rc;
  if (fn_error) *fn_error = 0;
  if (!fn || !b || !b->canonical) return BATCH_ERR_ARGUMENT;
  if ((rc = fn_status(fn, &st)) != 0 ||
      (rc = fn_sign_blob(fn, (const uint8_t *)b->canonical, b->canonical_len, mac)) != 0) {
    if (fn_error) *fn_error = rc;
    return BATCH_ERR_FN;
  }
  if (strcmp(st.fn_number, b->fn_number) != 0) return BATCH_ERR_OTHER_FN;
  return CRYPTO_memcmp(mac, b->signature, sizeof mac) == 0 ? 0 : BATCH_ERR_SIGNATURE;
}

/* ---- upload ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Appends what curl received, up to ANSWER_MAX_BYTES; returning less than
** was offered makes curl stop with a write error. */
static size_t on_data(char *p, size_t size, size_t n, void *user)
{
  buffer_t *a = user;
  size_t add = size * n;
  if (buffer_append(a, p, add) != 0 || a->over) return 0;
  return add;
}

/* Is notification `number` one of the batch's? */
static bool in_batch(const batch_t *b, uint32_t number)
{
  size_t lo = 0, hi = b->count;
  while (lo < hi) { /* numbers increase: binary search */
    size_t mid = lo + (hi - lo) / 2;
    if (b->notifications[mid].number == number) return true;
    if (b->notifications[mid].number < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

/* Applies the answer's tickets (the whole answer checked first). */
static int apply_answer(fn_t *fn, const batch_t *b, const buffer_t *a, batch_info_t *info,
                        char *detail, size_t cap)
{
  json_error_t jerr;
  json_t *root = json_loadb(a->data ? a->data : "", a->len, JSON_REJECT_DUPLICATES, &jerr);
  json_t *tickets = json_object_get(root, "tickets"), *code = json_object_get(root, "code");
  char fn_number[17];
  size_t count = json_array_size(tickets);
  uint8_t **docs = NULL;
  size_t *lens = NULL;
  int rc = BATCH_ERR_ANSWER;
  if (!root || !json_is_integer(code) || json_integer_value(code) != 0 || !json_is_array(tickets) ||
      !get_text(root, "fnNumber", fn_number, sizeof fn_number, 16) ||
      strcmp(fn_number, b->fn_number) != 0) {
    rc = say(BATCH_ERR_ANSWER, detail, cap,
             "the answer is not {\"code\":0,\"fnNumber\":\"%s\",\"tickets\":[...]}", b->fn_number);
    goto done;
  }
  docs = calloc(count ? count : 1, sizeof *docs);
  lens = calloc(count ? count : 1, sizeof *lens);
  if (!docs || !lens) {
    rc = BATCH_ERR_NO_MEMORY;
    goto done;
  }
  /* Every ticket decoded and matched to the batch before any reaches the FN. */
  for (size_t i = 0; i < count; i++) {
    json_t *t = json_array_get(tickets, i), *doc = json_object_get(t, "document");
    doc_km_ticket_t parsed;
    uint32_t number = 0;
    if (!get_u32(t, "number", &number) || !json_is_string(doc) ||
        codec_base64_decode(json_string_value(doc), json_string_length(doc), &docs[i], &lens[i]) !=
            0 ||
        doc_parse_km_ticket(docs[i], lens[i], &parsed) != 0 ||
        parsed.notification_number != number || !in_batch(b, number)) {
      rc = say(BATCH_ERR_ANSWER, detail, cap,
               "tickets[%zu]: not a ticket (84) for a notification of the batch", i);
      goto done;
    }
    if (parsed.result != 0) info->rejected++;
  }
  json_t *applied = json_object_get(root, "applied"), *repeated = json_object_get(root, "repeated");
  info->applied = json_integer_value(applied) > 0 ? (size_t)json_integer_value(applied) : 0;
  info->repeated = json_integer_value(repeated) > 0 ? (size_t)json_integer_value(repeated) : 0;
  for (size_t i = 0; i < count; i++) {
    int frc = fn_notification_ticket(fn, docs[i], lens[i]);
    if (frc != 0) {
      info->fn_error = frc;
      rc = say(BATCH_ERR_FN, detail, cap, "ticket %zu of %zu: the FN refused it", i + 1, count);
      goto done;
    }
    info->tickets++;
  }
  rc = 0;
done:
  for (size_t i = 0; docs && i < count; i++) free(docs[i]);
  free(docs);
  free(lens);
  json_decref(root);
  return rc;
}

int batch_upload(fn_t *fn, const char *text, size_t len, const batch_upload_options_t *options,
                 batch_info_t *info, char *detail, size_t cap)
{
  batch_info_t local;
  batch_t *b = NULL;
  CURL *curl = NULL;
  struct curl_slist *headers = NULL;
  buffer_t answer = {.limit = ANSWER_MAX_BYTES};
  char curl_error[CURL_ERROR_SIZE] = "";
  int rc, fn_error = 0;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  if (detail && cap) detail[0] = '\0';
  if (!fn || !text || !options || !options->url || !*options->url) return BATCH_ERR_ARGUMENT;
  if ((rc = batch_parse(text, len, &b, detail, cap)) != 0) return rc;
  info->count = b->count;
  info->from = b->from_notification;
  info->through = b->through_notification;
  info->created_at = b->created_at;
  for (size_t i = 0; i < b->count; i++) info->codes += b->notifications[i].code_count;
  /* Only this FN's own, intact batch: its tickets will clear notifications
  ** by number, and numbers mean something only in the FN that made them. */
  if ((rc = batch_verify_with_fn(fn, b, &fn_error)) != 0) {
    info->fn_error = fn_error;
    if (rc == BATCH_ERR_OTHER_FN) say(rc, detail, cap, "the batch is FN %s's", b->fn_number);
    goto done;
  }
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK || !(curl = curl_easy_init())) {
    rc = BATCH_ERR_NO_MEMORY;
    goto done;
  }
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!headers) {
    rc = BATCH_ERR_NO_MEMORY;
    goto done;
  }
  long timeout = options->timeout_ms > 0 ? options->timeout_ms : UPLOAD_TIMEOUT;
  curl_easy_setopt(curl, CURLOPT_URL, options->url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
  if (options->ca_file) curl_easy_setopt(curl, CURLOPT_CAINFO, options->ca_file);
  CURLcode cc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &info->http_status);
  if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && answer.over)) {
    rc = say(BATCH_ERR_NETWORK, detail, cap, "%s: %s", options->url,
             curl_error[0] ? curl_error : curl_easy_strerror(cc));
    goto done;
  }
  if (answer.over) {
    rc = say(BATCH_ERR_ANSWER, detail, cap, "the answer is larger than %u bytes",
             (unsigned)ANSWER_MAX_BYTES);
    goto done;
  }
  if (info->http_status != 200) {
    /* The operator's own words, when it sent any. */
    json_t *err = answer.data ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
    const char *why = json_string_value(json_object_get(err, "description"));
    const char *name = json_string_value(json_object_get(err, "error"));
    say(BATCH_ERR_REFUSED, detail, cap, "HTTP %ld%s%s%s%s", info->http_status, name ? " " : "",
        name ? name : "", why ? ": " : "", why ? why : "");
    json_decref(err);
    rc = BATCH_ERR_REFUSED;
    goto done;
  }
  rc = apply_answer(fn, b, &answer, info, detail, cap);
done:
  curl_slist_free_all(headers);
  if (curl) curl_easy_cleanup(curl);
  buffer_free(&answer);
  batch_free(b);
  return rc;
}
