/*
** fn_fixture.c: the throw-away fiscal storage of fn_fixture.h and the
** pieces the FN tests and drivers share.
*/
#include "tests/support/fn_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"

#define TAIL_44_LEN 44

static const char *driver_name = "test";
static const char *kept_what, *kept_dir;

static uint32_t fixture_clock(void *user) { return ((fn_fixture_t *)user)->now; }

int fn_fixture_create_with_secret(fn_fixture_t *fx, const char *tag, const char *fn_number,
                                  uint32_t now, const uint8_t secret[FN_EMU_SECRET_SIZE])
{
  memset(fx, 0, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/kassa-%.16s-XXXXXX", tag);
  if (!mkdtemp(fx->dir)) {
    fx->dir[0] = '\0'; /* nothing for fn_fixture_destroy to remove */
    return -1;
  }
  snprintf(fx->path, sizeof fx->path, "%s/fn.db", fx->dir);
  fx->now = now;
  fx->options.clock = fixture_clock;
  fx->options.clock_user = fx;
  int rc = secret ? fn_emu_create_with_secret(fx->path, fn_number, secret)
                  : fn_emu_create(fx->path, fn_number);
  /* The tests' OFD shares its key as kassa-operator's `fn add` does. */
  uint8_t key[FN_EMU_OFD_KEY_SIZE];
  fn_fixture_ofd_key(key);
  if (rc == 0) rc = fn_emu_share_ofd_key(fx->path, FN_FIXTURE_OFD_INN, key);
  if (rc == 0) rc = fn_emu_open(fx->path, &fx->options, &fx->fn);
  return rc == 0 ? 0 : -1;
}

int fn_fixture_create(fn_fixture_t *fx, const char *tag, const char *fn_number, uint32_t now)
{
  return fn_fixture_create_with_secret(fx, tag, fn_number, now, NULL);
}

void fn_fixture_destroy(fn_fixture_t *fx)
{
  static const char *const sides[] = {"", "-wal", "-shm"};
  char file[sizeof fx->path + 8];
  if (!fx) return;
  fn_free(fx->fn);
  fx->fn = NULL;
  if (!fx->dir[0]) return;
  for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
    snprintf(file, sizeof file, "%s%s", fx->path, sides[i]);
    unlink(file);
  }
  rmdir(fx->dir);
}

fn_fixture_t *fn_fixture_new(const char *tag, const char *fn_number, uint32_t now)
{
  fn_fixture_t *fx = calloc(1, sizeof *fx);
  if (fx && fn_fixture_create(fx, tag, fn_number, now) != 0) {
    fn_fixture_free(fx);
    fx = NULL;
  }
  return fx;
}

void fn_fixture_free(fn_fixture_t *fx)
{
  if (!fx) return;
  fn_fixture_destroy(fx);
  free(fx);
}

int fn_fixture_crypto_setup(void **state)
{
  (void)state;
  return crypto_init() == 0 ? 0 : -1;
}

int fn_fixture_crypto_teardown(void **state)
{
  (void)state;
  crypto_shutdown();
  return 0;
}

size_t fn_fixture_base64(const uint8_t *in, size_t n, char *out)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t w = (uint32_t)in[i] << 16;
    if (i + 1 < n) w |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) w |= in[i + 2];
    out[o++] = alphabet[(w >> 18) & 63];
    out[o++] = alphabet[(w >> 12) & 63];
    out[o++] = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? alphabet[w & 63] : '=';
  }
  out[o] = '\0';
  return o;
}

void fn_fixture_registration(fn_registration_t *r, bool autonomous)
{
  memset(r, 0, sizeof *r);
  strcpy(r->header.kkt_reg_number, "0000000001012345");
  strcpy(r->header.user_inn, "7700000000");
  strcpy(r->header.user_name, "ООО Ромашка");
  strcpy(r->header.address, "г. Москва, ул. Тверская, 1");
  strcpy(r->header.place, "Магазин");
  r->header.autonomous = autonomous;
  r->reg.tax_systems = 1;
  if (!autonomous) { /* an autonomous FN has no OFD to name */
    strcpy(r->reg.ofd_inn, "7704211201");
    strcpy(r->reg.ofd_name, "ООО Такском");
  }
  strcpy(r->reg.kkt_serial, "00106700000001");
  r->reg.marking = true;
  r->reg.ffd_version = 4;
}

void fn_fixture_hmac_key(fn_key_t *key, const char *id)
{
  memset(key, 0, sizeof *key);
  snprintf(key->id, sizeof key->id, "%s", id);
  key->kind = FN_KEY_HMAC;
  key->len = 32;
  for (size_t i = 0; i < key->len; i++) key->material[i] = (uint8_t)(i * 7 + 1);
}

int fn_fixture_prepare(fn_t *fn, const fn_registration_t *r, const fn_key_t *key,
                       const char *cashier)
{
  int rc = fn_register(fn, r, false, NULL);
  if (rc == 0 && key) rc = fn_key_update(fn, key, 1, 0); /* 0: dated by the FN's clock */
  if (rc == 0 && cashier) rc = fn_shift_open(fn, cashier, NULL);
  return rc;
}

int fn_fixture_register(fn_t *fn, bool autonomous, const char *key_id, const char *cashier)
{
  fn_registration_t r;
  fn_key_t key;
  fn_fixture_registration(&r, autonomous);
  fn_fixture_hmac_key(&key, key_id);
  return fn_fixture_prepare(fn, &r, &key, cashier);
}

void fn_fixture_ki(char ki[32], const char *prefix, unsigned serial)
{
  snprintf(ki, 32,
           "0104600000000017"
           "21"
           "%.2s%011u",
           prefix, serial);
}

size_t fn_fixture_code_44(char *out, const char *ki, const char *key_id, const fn_key_t *key)
{
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  char tail[TAIL_44_LEN + 4];
  if (crypto_hmac_streebog256(key->material, key->len, (const uint8_t *)ki, strlen(ki), mac) != 0)
    return 0;
  fn_fixture_base64(mac, sizeof mac, tail);
  int n = snprintf(out, FN_FIXTURE_CODE_MAX,
                   "%s\x1d"
                   "91%s\x1d"
                   "92%s",
                   ki, key_id, tail);
  return n > 0 && n < FN_FIXTURE_CODE_MAX ? (size_t)n : 0;
}

void fn_fixture_item(doc_item_t *it, const char *name, uint64_t price)
{
  memset(it, 0, sizeof *it);
  snprintf(it->name, sizeof it->name, "%s", name);
  it->price = it->total = price;
  it->quantity = (doc_quantity_t){1, 0};
  it->vat = 1;
  it->subject = 1;
  it->payment_method = 4;
}

void fn_fixture_marked_item(doc_item_t *it, const char *name, uint64_t price, const char *km)
{
  fn_fixture_item(it, name, price);
  it->subject = 33;
  it->marked = true;
  it->km_len = strlen(km);
  if (it->km_len > DOC_MAX_KM) it->km_len = DOC_MAX_KM; /* the FN refuses it whole */
  memcpy(it->km, km, it->km_len);
  it->km[it->km_len] = '\0';
  it->km_status = DOC_KM_PIECE_SOLD;
}

int fn_fixture_marked_line(doc_item_t *it, const char *name, uint64_t price, const char *prefix,
                           unsigned serial, const fn_key_t *key)
{
  char ki[32], km[FN_FIXTURE_CODE_MAX];
  fn_fixture_ki(ki, prefix, serial);
  if (fn_fixture_code_44(km, ki, key->id, key) == 0) return FN_ERR_FAILURE;
  fn_fixture_marked_item(it, name, price, km);
  return 0;
}

int fn_fixture_sell(fn_t *fn, const doc_item_t *items, size_t n, const char *cashier,
                    uint32_t *number)
{
  fn_km_check_t check;
  fn_doc_result_t res;
  uint64_t total = 0;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    total += items[i].total;
    if (!items[i].marked) continue;
    rc = fn_km_check(fn, &items[i], &check);
    if (rc == 0 && check.tail_status != FN_TAIL_VALID) rc = FN_ERR_VALUE;
    if (rc == 0) rc = fn_km_accept(fn, items[i].km, items[i].km_len, true);
  }
  if (rc == 0) rc = fn_receipt_begin(fn, DOC_OP_SALE, 1, cashier);
  for (size_t i = 0; i < n && rc == 0; i++) rc = fn_receipt_add(fn, &items[i]);
  if (rc == 0) rc = fn_receipt_close(fn, total, 0, false, &res);
  if (rc == 0 && number) *number = res.number;
  return rc;
}

void fn_fixture_ofd_key(uint8_t key[FN_EMU_OFD_KEY_SIZE])
{
  for (size_t i = 0; i < FN_EMU_OFD_KEY_SIZE; i++) key[i] = (uint8_t)(i * 13 + 5);
}

int fn_fixture_ack_build(const char *fn_number, uint32_t number, uint32_t time, uint8_t answer,
                         const uint8_t *document, size_t document_len, uint8_t *buf, size_t cap,
                         size_t *len)
{
  uint8_t key[FN_EMU_OFD_KEY_SIZE], document_sign[DOC_SIGN_SIZE] = {0};
  doc_summary_t sum;
  doc_ack_t a;
  memset(&a, 0, sizeof a);
  snprintf(a.ofd_inn, sizeof a.ofd_inn, "%s", FN_FIXTURE_OFD_INN);
  snprintf(a.fn_number, sizeof a.fn_number, "%s", fn_number);
  a.document_number = number;
  a.time = time;
  a.answer_code = answer;
  if (document && doc_summarize(document, document_len, &sum) == 0 && sum.has_sign)
    memcpy(document_sign, sum.sign, sizeof document_sign);
  fn_fixture_ofd_key(key);
  if (fn_emu_operator_sign(key, &a, document_sign, a.operator_sign) != 0) return FN_ERR_FAILURE;
  a.operator_sign_len = FN_EMU_OPERATOR_SIGN_SIZE;
  return doc_build_ack(&a, buf, cap, len) == 0 ? 0 : FN_ERR_PARAMS;
}

int fn_fixture_ack(fn_t *fn, const char *fn_number, uint32_t number, uint32_t time, uint8_t answer)
{
  uint8_t buf[256];
  size_t len = 0;
  fn_document_t *d = malloc(sizeof *d);
  int rc = FN_ERR_NO_MEMORY;
  /* Signed over the FN's own document when it has one (else zeros: the
  ** FN refuses such an acknowledgement before it looks at the sign). */
  if (d) {
    bool have = number != 0 && fn_document_get(fn, number, d) == 0;
    rc = fn_fixture_ack_build(fn_number, number, time, answer, have ? d->data : NULL,
                              have ? d->len : 0, buf, sizeof buf, &len);
  }
  free(d);
  return rc == 0 ? fn_document_ack(fn, buf, len) : rc;
}

int fn_fixture_ticket(fn_t *fn, uint32_t number, uint8_t result)
{
  doc_km_ticket_t t = {number, result, 0};
  uint8_t buf[64];
  size_t len = 0;
  if (doc_build_km_ticket(&t, buf, sizeof buf, &len) != 0) return FN_ERR_PARAMS;
  return fn_notification_ticket(fn, buf, len);
}

void fn_fixture_driver(const char *name) { driver_name = name; }

void fn_fixture_kept(const char *what, const char *dir)
{
  kept_what = what;
  kept_dir = dir;
}

void fn_fixture_fail(const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  fprintf(stderr, "%s: ", driver_name);
  vfprintf(stderr, format, ap);
  if (kept_dir) fprintf(stderr, " (%s kept in %s)", kept_what, kept_dir);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

void fn_fixture_must(int rc, const char *what)
{
  if (rc != 0) fn_fixture_fail("%s: FN %s (%s)", what, fn_err_name(rc), fn_err_message(rc, false));
}

fn_t *fn_fixture_open_dir(const char *dir)
{
  char path[4096];
  fn_t *fn = NULL;
  snprintf(path, sizeof path, "%s/fn.db", dir);
  fn_fixture_must(fn_emu_open(path, NULL, &fn), "open");
  return fn;
}

size_t fn_fixture_unescape(const char *line, char km[DOC_MAX_KM + 1])
{
  size_t o = 0;
  for (size_t i = 0; line[i] && line[i] != '\n' && line[i] != '\r'; i++) {
    if (o >= DOC_MAX_KM) fn_fixture_fail("code too long: %s", line);
    if (strncmp(line + i, "\\x1d", 4) == 0 || strncmp(line + i, "\\x1D", 4) == 0) {
      km[o++] = 0x1d;
      i += 3;
    } else if (line[i] == '\\' && line[i + 1] == '\\') {
      km[o++] = '\\';
      i++;
    } else {
      km[o++] = line[i];
    }
  }
  km[o] = '\0';
  return o;
}

void fn_fixture_print_escaped(FILE *out, const char *km)
{
  for (const char *p = km; *p; p++) {
    if (*p == 0x1d)
      fputs("\\x1d", out);
    else
      fputc(*p, out);
  }
}
