/*
** ofd/emulator/admin.c: the operator's back office, as subcommands.
**
** What a test or the demo needs to set the stage before a till talks to the
** emulator: tell the OFD about an FN (its secret comes straight from the
** till's fn.db: both run on one machine) and give the FN the OFD's key for
** its acknowledgements (written into the same fn.db: cmd_fn), make verification keys, emit
** marking codes with genuine crypto tails, block codes, and look at one.
**
** Emitted codes follow the layouts seen on real goods (DOMAIN §2), chosen
** by product group in the table `groups` below, so `kassa code parse`
** accepts every one and the FN can verify its tail with the key server's
** keys: a 44-character tail is base64(HMAC-Streebog-256(key, KI)), an
** 88-character one base64 of a GOST R 34.10-2012 signature of the KI, and
** a 93 short code (which no FN checks) is the first four base64 characters
** of Streebog-256(KI). admin_tail_verify() recomputes the same tails for
** the true-api check (http.c); `price` sets the smp/mrp of a GTIN. Serials are random letters and
*digits (a subset of
** GS1 charset 82 that needs no escaping anywhere).
*/
#include "ofd/emulator/admin.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/codec.h"
#include "fiscal/crypto.h"
#include "fiscal/fn_emu.h"

#define GS  '\x1d'
#define DAY 86400u

/* Product groups and their layouts. tail 0: the 93 short code only. */
typedef struct group {
  const char *name;
  unsigned serial_len;
  unsigned default_tail; /* 44, 88 or 93 */
  bool short_only;       /* only 93 is allowed */
  bool mrp;              /* tobacco block: 8005 before 93 */
  unsigned shelf_days;   /* expiry set from issue; 0: none */
} group_t;

static const group_t groups[] = {
    {"footwear", 13, 44, false, false, 0},   {"lp", 13, 44, false, false, 0},
    {"tyres", 13, 44, false, false, 0},      {"perfume", 13, 44, false, false, 0},
    {"photo", 20, 44, false, false, 0},      {"pharma", 13, 44, false, false, 0},
    {"bicycles", 13, 44, false, false, 0},   {"wheelchairs", 13, 44, false, false, 0},
    {"dairy", 6, 93, true, false, 14},       {"water", 13, 93, true, false, 365},
    {"beer", 13, 93, true, false, 180},      {"antiseptic", 13, 93, true, false, 0},
    {"supplements", 13, 93, true, false, 0}, {"tobacco", 7, 93, true, true, 0},
};

static uint32_t now_utc(void) { return (uint32_t)time(NULL); }

int admin_is_command(const char *a)
{
  return strcmp(a, "fn") == 0 || strcmp(a, "keys") == 0 || strcmp(a, "issue") == 0 ||
         strcmp(a, "block") == 0 || strcmp(a, "price") == 0 || strcmp(a, "status") == 0;
}

int admin_ki(const char *km, size_t km_len, char *ki, size_t cap)
{
  const char *gs = memchr(km, GS, km_len);
  size_t n = gs ? (size_t)(gs - km) : km_len;
  ki[0] = '\0';
  if (n < 2 || km[0] != '0' || km[1] != '1' || n + 1 > cap) return 0;
  memcpy(ki, km, n);
  ki[n] = '\0';
  return 1;
}

/* `\x1d`, `\u001d` and `\\` as kassa code parse --escaped reads them. */
static size_t unescape(const char *in, char *out, size_t cap)
{
  size_t o = 0;
  for (size_t i = 0; in[i] && o + 1 < cap; i++) {
    if (strncmp(in + i, "\\x1d", 4) == 0 || strncmp(in + i, "\\x1D", 4) == 0) {
      out[o++] = GS;
      i += 3;
    } else if (strncmp(in + i, "\\u001d", 6) == 0 || strncmp(in + i, "\\u001D", 6) == 0) {
      out[o++] = GS;
      i += 5;
    } else if (in[i] == '\\' && in[i + 1] == '\\') {
      out[o++] = '\\';
      i++;
    } else {
      out[o++] = in[i];
    }
  }
  out[o] = '\0';
  return o;
}

static void print_escaped(const char *km)
{
  for (const char *p = km; *p; p++) {
    if (*p == GS)
      fputs("\\x1d", stdout);
    else if (*p == '\\')
      fputs("\\\\", stdout);
    else
      putchar(*p);
  }
  putchar('\n');
}

/* A GTIN-14 with a valid mod-10 check digit and the consumer-unit
** indicator 0; 13 digits get the leading 0. */
static bool gtin_normalize(const char *in, char out[15])
{
  size_t n = strlen(in);
  unsigned sum = 0;
  if (n != 13 && n != 14) return false;
  /* Copied by hand: gcc cannot see that n bounds the length. */
  out[0] = '0';
  memcpy(out + (n == 13 ? 1 : 0), in, n);
  out[14] = '\0';
  for (size_t i = 0; i < 14; i++) {
    if (out[i] < '0' || out[i] > '9') return false;
  }
  if (out[0] != '0') return false;
  for (size_t i = 0; i < 13; i++) sum += (unsigned)(out[i] - '0') * (i % 2 == 0 ? 3u : 1u);
  return (10 - sum % 10) % 10 == (unsigned)(out[13] - '0');
}

/*
** A command's options through getopt_long: --NAME VALUE or --NAME=VALUE for
** each names[i] (values[i] gets it, NULL when absent; given twice, the
** last counts); argv[0] is the command's name. *operands is where the
** operands start afterwards (getopt_long moves them behind the options).
** 0, or -1 for an unknown option, one without its value, or more than 8
** names.
*/
static int options(int argc, char **argv, const char *const *names, size_t count,
                   const char **values, int *operands)
{
  struct option table[9];
  int opt;
  if (count > 8) return -1;
  for (size_t i = 0; i < count; i++) {
    table[i] = (struct option){names[i], required_argument, NULL, (int)i + 1};
    values[i] = NULL;
  }
  table[count] = (struct option){NULL, 0, NULL, 0};
  optind = 0;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":", table, NULL)) != -1) {
    if (opt < 1 || opt > (int)count) return -1; /* '?' unknown, ':' no value */
    values[opt - 1] = optarg;
  }
  *operands = optind;
  return 0;
}

/* The operands after options() as one word: the subcommand. */
static bool only_operand(int argc, char **argv, int at, const char *word)
{
  return argc - at == 1 && strcmp(argv[at], word) == 0;
}

int admin_ofd_key(const uint8_t operator_secret[STORE_SECRET_LEN], const char fn_number[17],
                  uint8_t key[ADMIN_OFD_KEY_SIZE])
{
  static const uint8_t prefix[] = "KASSA-OFD-KEY-1";
  uint8_t buf[sizeof prefix + 16];
  memcpy(buf, prefix, sizeof prefix); /* its NUL included */
  memset(buf + sizeof prefix, 0, 16);
  memcpy(buf + sizeof prefix, fn_number, strnlen(fn_number, 16));
  return crypto_hmac_streebog256(operator_secret, STORE_SECRET_LEN, buf, sizeof buf, key) == 0 ? 0
                                                                                               : -1;
}

/*
** fn add: the OFD learns the FN's secret (to check every 1077) and the FN
** learns the OFD's key for it (to check every 1078), both read from and
** written to the till's fn.db on this machine; --inn names the OFD the key
** is for (the INN the server answers with, its --inn; default ours). The
** FN's side is durable before the command says so; running it again
** shares the same key (it is derived), so it is harmless.
*/
static int cmd_fn(store_t *s, int argc, char **argv)
{
  uint8_t secret[FN_EMU_SECRET_SIZE], operator_secret[STORE_SECRET_LEN], key[ADMIN_OFD_KEY_SIZE];
  char number[17];
  static const char *const names[] = {"fn-db", "inn"};
  const char *v[2];
  int rc, code = 1, at = 0;
  bool ok = options(argc, argv, names, 2, v, &at) == 0 && only_operand(argc, argv, at, "add");
  const char *path = v[0], *inn = v[1] ? v[1] : ADMIN_DEFAULT_INN;
  if (!ok || !path) {
    fprintf(stderr, "usage: kassa-operator --data DIR fn add --fn-db PATH [--inn INN]\n");
    return 2;
  }
  if ((rc = fn_emu_read_secret(path, secret, number)) != 0) {
    fprintf(stderr, "kassa-operator: %s: %s\n", path, fn_err_message(rc, false));
    goto done;
  }
  if (store_fn_put(s, number, secret) != 0) goto done;
  store_operator_secret(s, operator_secret);
  if (admin_ofd_key(operator_secret, number, key) != 0) {
    fprintf(stderr, "kassa-operator: the OFD key for %s cannot be made (GOST engine?)\n", number);
    goto done;
  }
  if ((rc = fn_emu_share_ofd_key(path, inn, key)) != 0) {
    fprintf(stderr, "kassa-operator: %s: the OFD key cannot be given to the FN: %s\n", path,
            fn_err_message(rc, false));
    goto done;
  }
  printf("%s\n", number);
  code = 0;
done:
  explicit_bzero(secret, sizeof secret);
  explicit_bzero(operator_secret, sizeof operator_secret);
  explicit_bzero(key, sizeof key);
  return code;
}

/* A fresh 4-character id (letters and digits) no key has. */
static int key_id_fresh(store_t *s, char id[5])
{
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int tries = 0; tries < 100; tries++) {
    uint8_t r[4];
    bool exists = true;
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) return -1;
    for (int i = 0; i < 4; i++) id[i] = alnum[r[i] % (sizeof alnum - 1)];
    id[4] = '\0';
    if (store_key_exists(s, id, &exists) != 0) return -1;
    if (!exists) return 0;
  }
  return -1;
}

/* Makes a key of kind; its id goes to id. */
static int key_new(store_t *s, int kind, char id[5])
{
  uint8_t material[1024], pub[512];
  size_t len = 0, publen = 0;
  crypto_key_t *key = NULL;
  int rc = -1;
  if (key_id_fresh(s, id) != 0) goto fail;
  if (kind == FN_KEY_HMAC) {
    len = 32;
    if (getrandom(material, len, 0) != (ssize_t)len) goto fail;
    memcpy(pub, material, len);
    publen = len;
  } else {
    if (crypto_key_generate(&key) != 0 ||
        crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, material, sizeof material,
                          &len) != 0 ||
        crypto_key_export(key, CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, pub, sizeof pub, &publen) != 0)
      goto fail;
    /* The FN's key table holds at most 256 bytes of material. */
    if (publen > sizeof((fn_key_t *)0)->material) goto fail;
  }
  rc = store_key_put(s, id, kind, material, len, pub, publen, now_utc());
fail:
  crypto_key_free(key);
  memset(material, 0, sizeof material);
  return rc == 0 ? 0 : -1;
}

static int cmd_keys(store_t *s, int argc, char **argv)
{
  static const char *const names[] = {"kind"};
  const char *kind = NULL;
  char id[5];
  int at = 0;
  bool ok = options(argc, argv, names, 1, &kind, &at) == 0 && only_operand(argc, argv, at, "new");
  if (!ok || !kind || (strcmp(kind, "hmac") != 0 && strcmp(kind, "gost") != 0)) {
    fprintf(stderr, "usage: kassa-operator --data DIR keys new --kind hmac|gost\n");
    return 2;
  }
  if (key_new(s, strcmp(kind, "gost") == 0 ? FN_KEY_GOST : FN_KEY_HMAC, id) != 0) {
    fprintf(stderr, "kassa-operator: cannot make the key\n");
    return 1;
  }
  printf("%s\n", id);
  return 0;
}

/* The tail of one code: 44/88 with the newest key of the kind (made when
** there is none), 93 from the KI's digest. */
static int tail_make(store_t *s, unsigned tail, const char *ki, char id[5], char *out)
{
  uint8_t material[1024], mac[CRYPTO_SIGNATURE_SIZE];
  size_t len = 0;
  int kind = tail == 88 ? FN_KEY_GOST : FN_KEY_HMAC, rc;
  const uint8_t *k = (const uint8_t *)ki;
  if (tail == 93) {
    if (crypto_streebog256(k, strlen(ki), mac) != 0) return -1;
    codec_base64_encode_to(mac, 3, out); /* 3 bytes: 4 characters, no padding */
    return 0;
  }
  rc = store_key_newest(s, kind, id, material, sizeof material, &len);
  if (rc == STORE_NOT_FOUND) {
    if (key_new(s, kind, id) != 0) return -1;
    rc = store_key_newest(s, kind, id, material, sizeof material, &len);
  }
  if (rc != 0) return -1;
  if (kind == FN_KEY_HMAC) {
    rc = crypto_hmac_streebog256(material, len, k, strlen(ki), mac);
    if (rc == 0) codec_base64_encode_to(mac, CRYPTO_STREEBOG256_SIZE, out);
  } else {
    crypto_key_t *key = NULL;
    rc = crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, material, len, &key);
    if (rc == 0) rc = crypto_sign(key, k, strlen(ki), mac);
    if (rc == 0) codec_base64_encode_to(mac, CRYPTO_SIGNATURE_SIZE, out);
    crypto_key_free(key);
  }
  memset(material, 0, sizeof material);
  return rc == 0 ? 0 : -1;
}

static int cmd_issue(store_t *s, int argc, char **argv)
{
  static const char *const names[] = {"gtin", "group", "count", "owner", "tail"};
  const char *v[5];
  int at = 0;
  bool parsed = options(argc, argv, names, 5, v, &at) == 0 && at == argc;
  const char *gtin_arg = v[0], *group_arg = v[1], *count_arg = v[2], *owner = v[3],
             *tail_arg = v[4];
  const group_t *g = NULL;
  char gtin[15], *end = NULL;
  unsigned long count;
  unsigned tail;
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  for (size_t i = 0; group_arg && i < sizeof groups / sizeof groups[0]; i++) {
    if (strcmp(groups[i].name, group_arg) == 0) g = &groups[i];
  }
  count = count_arg ? strtoul(count_arg, &end, 10) : 0;
  if (!parsed || !gtin_arg || !g || !count_arg || *end || count < 1 || count > 100000) {
    fprintf(stderr, "usage: kassa-operator --data DIR issue --gtin G --group GROUP --count N"
                    " [--owner INN] [--tail 44|88|93]\ngroups:");
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
      fprintf(stderr, " %s", groups[i].name);
    fputc('\n', stderr);
    return 2;
  }
  if (!gtin_normalize(gtin_arg, gtin)) {
    fprintf(stderr, "kassa-operator: %s: not a consumer-unit GTIN (check digit, indicator 0)\n",
            gtin_arg);
    return 2;
  }
  tail = tail_arg ? (unsigned)atoi(tail_arg) : g->default_tail;
  if ((tail != 44 && tail != 88 && tail != 93) || (g->short_only && tail != 93) ||
      (!g->short_only && tail == 93)) {
    fprintf(stderr, "kassa-operator: group %s takes no --tail %s\n", g->name, tail_arg);
    return 2;
  }
  if (owner && (strlen(owner) != 10 && strlen(owner) != 12)) {
    fprintf(stderr, "kassa-operator: --owner must be an INN of 10 or 12 digits\n");
    return 2;
  }
  if (store_begin(s) != 0) return 1;
  for (unsigned long n = 0; n < count; n++) {
    store_code_t c;
    char serial[21], id[5] = "", t[96];
    uint8_t r[20];
    int len;
    memset(&c, 0, sizeof c);
    if (getrandom(r, g->serial_len, 0) != (ssize_t)g->serial_len) goto fail;
    for (unsigned i = 0; i < g->serial_len; i++) serial[i] = alnum[r[i] % (sizeof alnum - 1)];
    serial[g->serial_len] = '\0';
    snprintf(c.ki, sizeof c.ki, "01%s21%s", gtin, serial);
    if (tail_make(s, tail, c.ki, id, t) != 0) goto fail;
    if (tail == 93 && g->mrp)
      len = snprintf(c.km, sizeof c.km, "%s%c8005%06u%c93%s", c.ki, GS, 15000u, GS, t);
    else if (tail == 93)
      len = snprintf(c.km, sizeof c.km, "%s%c93%s", c.ki, GS, t);
    else
      len = snprintf(c.km, sizeof c.km, "%s%c91%s%c92%s", c.ki, GS, id, GS, t);
    if (len < 0 || (size_t)len >= sizeof c.km) goto fail;
    memcpy(c.gtin, gtin, sizeof c.gtin);
    snprintf(c.group, sizeof c.group, "%s", g->name);
    snprintf(c.owner_inn, sizeof c.owner_inn, "%s", owner ? owner : "");
    snprintf(c.status, sizeof c.status, "in_circulation");
    c.expiry = g->shelf_days ? now_utc() + g->shelf_days * DAY : 0;
    if (g->mrp) c.max_price = 15000u;
    if (store_code_put(s, &c) != 0) goto fail;
    print_escaped(c.km);
  }
  if (store_commit(s) != 0) goto fail;
  return 0;
fail:
  store_rollback(s);
  fprintf(stderr, "kassa-operator: issue failed; no code was emitted\n");
  return 1;
}

static int cmd_block(store_t *s, int argc, char **argv)
{
  static const char *const names[] = {"code", "gtin"};
  const char *v[2];
  char km[DOC_MAX_KM + 1], ki[STORE_KI_MAX + 1], gtin[15];
  int changed = 0, at = 0;
  bool parsed = options(argc, argv, names, 2, v, &at) == 0 && at == argc;
  const char *code = v[0], *gtin_arg = v[1];
  if (!parsed || (code == NULL) == (gtin_arg == NULL)) {
    fprintf(stderr, "usage: kassa-operator --data DIR block --code KM | --gtin G\n");
    return 2;
  }
  if (code) {
    size_t n = unescape(code, km, sizeof km);
    if (!admin_ki(km, n, ki, sizeof ki)) {
      fprintf(stderr, "kassa-operator: not a GS1 marking code\n");
      return 2;
    }
    if (store_code_block(s, ki, NULL, &changed) != 0) return 1;
  } else {
    if (!gtin_normalize(gtin_arg, gtin)) {
      fprintf(stderr, "kassa-operator: %s: not a GTIN\n", gtin_arg);
      return 2;
    }
    if (store_code_block(s, NULL, gtin, &changed) != 0) return 1;
  }
  if (changed == 0) {
    fprintf(stderr, "kassa-operator: no such code in the registry\n");
    return 1;
  }
  printf("blocked %d\n", changed);
  return 0;
}

static int cmd_price(store_t *s, int argc, char **argv)
{
  static const char *const names[] = {"gtin", "min", "max"};
  const char *v[3];
  char gtin[15], *end_min = NULL, *end_max = NULL;
  unsigned long long min = 0, max = 0;
  int changed = 0, at = 0;
  bool parsed = options(argc, argv, names, 3, v, &at) == 0 && at == argc;
  const char *gtin_arg = v[0], *min_arg = v[1], *max_arg = v[2];
  if (min_arg) min = strtoull(min_arg, &end_min, 10);
  if (max_arg) max = strtoull(max_arg, &end_max, 10);
  if (!parsed || !gtin_arg || (!min_arg && !max_arg) ||
      (min_arg && (*end_min || *min_arg == '-')) || (max_arg && (*end_max || *max_arg == '-')) ||
      (max && min > max)) {
    fprintf(stderr, "usage: kassa-operator --data DIR price --gtin G [--min KOPECKS]"
                    " [--max KOPECKS]\n");
    return 2;
  }
  if (!gtin_normalize(gtin_arg, gtin)) {
    fprintf(stderr, "kassa-operator: %s: not a GTIN\n", gtin_arg);
    return 2;
  }
  if (store_code_price(s, gtin, min, max, &changed) != 0) return 1;
  if (changed == 0) {
    fprintf(stderr, "kassa-operator: no code of this GTIN in the registry\n");
    return 1;
  }
  printf("priced %d\n", changed);
  return 0;
}

int admin_tail_verify(store_t *s, const char *km, size_t km_len, bool *ok)
{
  char ki[STORE_KI_MAX + 1], id[5] = "", made[96];
  const char *tail = NULL, *p, *end = km + km_len;
  size_t tail_len = 0, pub_len = 0, sig_len = 0;
  uint8_t pub[1024], digest[CRYPTO_SIGNATURE_SIZE], sig[CRYPTO_SIGNATURE_SIZE];
  crypto_key_t *key = NULL;
  bool short_tail = false;
  int kind = 0, rc = -1;

  *ok = false;
  if (!admin_ki(km, km_len, ki, sizeof ki)) return 0;
  /* Fields after the KI, each after a GS: 91 key id, 92 tail, 93 short. */
  for (p = km + strlen(ki); p < end; p++) {
    const char *f = p + 1, *next;
    if (*p != GS) continue;
    next = memchr(f, GS, (size_t)(end - f));
    if (!next) next = end;
    if (next - f == 6 && strncmp(f, "91", 2) == 0) memcpy(id, f + 2, 4);
    if (next - f > 2 && (strncmp(f, "92", 2) == 0 || strncmp(f, "93", 2) == 0)) {
      tail = f + 2;
      tail_len = (size_t)(next - f) - 2;
      short_tail = f[1] == '3';
    }
  }
  if (!tail) return 0;
  if (short_tail) {
    if (tail_len != 4) return 0;
    if (crypto_streebog256((const uint8_t *)ki, strlen(ki), digest) != 0) return -1;
    codec_base64_encode_to(digest, 3, made);
    *ok = memcmp(made, tail, 4) == 0;
    return 0;
  }
  if (!id[0]) return 0;
  rc = store_key_public(s, id, &kind, pub, sizeof pub, &pub_len);
  if (rc == STORE_NOT_FOUND) return 0;
  if (rc != 0) return -1;
  rc = -1;
  if (kind == FN_KEY_HMAC && tail_len == 44) {
    if (crypto_hmac_streebog256(pub, pub_len, (const uint8_t *)ki, strlen(ki), digest) != 0)
      goto fail;
    codec_base64_encode_to(digest, CRYPTO_STREEBOG256_SIZE, made);
    *ok = memcmp(made, tail, 44) == 0;
  } else if (kind == FN_KEY_GOST && tail_len == 88) {
    if (!codec_base64_decode_to(tail, tail_len, sig, sizeof sig, &sig_len) ||
        sig_len != CRYPTO_SIGNATURE_SIZE) {
      rc = 0;
      goto fail;
    }
    if (crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, pub, pub_len, &key) != 0) goto fail;
    *ok = crypto_verify(key, (const uint8_t *)ki, strlen(ki), sig) == 0;
  }
  rc = 0;
fail:
  crypto_key_free(key);
  return rc;
}

static int cmd_status(store_t *s, int argc, char **argv)
{
  char km[DOC_MAX_KM + 1], ki[STORE_KI_MAX + 1];
  store_code_t c;
  json_t *j = NULL;
  char *text = NULL;
  size_t n;
  int rc;
  if (argc != 2) {
    fprintf(stderr, "usage: kassa-operator --data DIR status CODE\n");
    return 2;
  }
  n = unescape(argv[1], km, sizeof km);
  if (!admin_ki(km, n, ki, sizeof ki)) {
    fprintf(stderr, "kassa-operator: not a GS1 marking code\n");
    return 2;
  }
  if ((rc = store_code_get(s, ki, &c)) == STORE_NOT_FOUND) {
    /* The ki is the caller's text (a serial may hold '"' or '\\'): jansson
    ** writes it, so the line is JSON whatever it holds. */
    j = json_pack("{s:b,s:s%}", "found", 0, "ki", ki, strlen(ki));
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text) printf("%s\n", text);
    free(text);
    return 1;
  }
  if (rc != 0) return 1;
  /* A remarked code is kept as 'applied' in the codes table (registry.c
  ** says why); what it is to a reader is retired, replaced by remarked_to. */
  j = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:I,s:I,s:I,s:s?}", "found", 1, "ki",
                c.ki, "km", c.km, "gtin", c.gtin, "group", c.group, "owner_inn", c.owner_inn,
                "status", c.remarked_to[0] ? "retired" : c.status, "blocked_code", c.blocked_code,
                "blocked_gtin", c.blocked_gtin, "blocked_series", c.blocked_series, "expiry",
                (json_int_t)c.expiry, "min_price", (json_int_t)c.min_price, "max_price",
                (json_int_t)c.max_price, "remarked_to", c.remarked_to[0] ? c.remarked_to : NULL);
  if (j) text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text) return 1;
  printf("%s\n", text);
  free(text);
  return 0;
}

int admin_run(store_t *s, int argc, char **argv)
{
  if (strcmp(argv[0], "fn") == 0) return cmd_fn(s, argc, argv);
  if (strcmp(argv[0], "keys") == 0) return cmd_keys(s, argc, argv);
  if (strcmp(argv[0], "issue") == 0) return cmd_issue(s, argc, argv);
  if (strcmp(argv[0], "block") == 0) return cmd_block(s, argc, argv);
  if (strcmp(argv[0], "price") == 0) return cmd_price(s, argc, argv);
  return cmd_status(s, argc, argv);
}
