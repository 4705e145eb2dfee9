/*
** ofd/keys.c: encoding of the key server's update (layout in keys.h).
**
** The update is written with the FFD TLV writer (tlv_put_raw, since the
** tags are private and kept out of the law's dictionary) and read with the
** TLV reader, so lengths are checked in one place. Parsing walks the bytes
** twice: once to validate and count, once to fill the caller's array, so a
** malformed update never leaves half-written keys behind.
*/
#include "ofd/keys.h"

#include <string.h>

#include "common/errtab.h"
#include "fiscal/tlv.h"

static const errtab_t error_texts[] = {
    {KEYS_OK, "ok", NULL, "no error"},
    {KEYS_ERR_ARGUMENT, "argument", NULL, "a NULL pointer or a key no FN could take"},
    {KEYS_ERR_NO_SPACE, "no_space", NULL, "the buffer or the key array is too small"},
    {KEYS_ERR_MALFORMED, "malformed", NULL, "the key update is malformed"},
    ERRTAB_END(NULL, "unknown error"),
};

const char *keys_error_code(int error) { return errtab_name(error_texts, error); }

const char *keys_error_message(int error) { return errtab_message(error_texts, error, false); }

static int id_ok(const char *id)
{
  for (size_t i = 0; i < 4; i++) {
    if (id[i] < 0x21 || id[i] > 0x7E) return 0;
  }
  return 1;
}

static int key_ok(const fn_key_t *k)
{
  return id_ok(k->id) && k->id[4] == '\0' && (k->kind == FN_KEY_GOST || k->kind == FN_KEY_HMAC) &&
         k->len >= 1 && k->len <= sizeof k->material;
}

/* A put's TLV error becomes ours: only running out of room can happen
** once the arguments passed key_ok(). */
static int put_rc(int rc) { return rc == TLV_ERR_NO_SPACE ? KEYS_ERR_NO_SPACE : KEYS_ERR_ARGUMENT; }

int keys_build_update(const fn_key_t *keys, size_t n, uint32_t when, uint8_t *buf, size_t cap,
                      size_t *len)
{
  tlv_writer_t w;
  uint8_t entry[KEYS_ENTRY_MAX];
  uint8_t le[4];
  int rc;

  if (len) *len = 0;
  if (!buf || !len || (n > 0 && !keys)) return KEYS_ERR_ARGUMENT;
  for (size_t i = 0; i < n; i++) {
    if (!key_ok(&keys[i])) return KEYS_ERR_ARGUMENT;
  }
  tlv_writer_init(&w, buf, cap);
  for (int b = 0; b < 4; b++) le[b] = (uint8_t)(when >> (8 * b));
  if ((rc = tlv_put_raw(&w, KEYS_TAG_WHEN, le, sizeof le)) != 0) goto fail;
  for (size_t i = 0; i < n; i++) {
    tlv_writer_t e;
    size_t elen = 0;
    uint8_t kind = keys[i].kind;
    tlv_writer_init(&e, entry, sizeof entry);
    if ((rc = tlv_put_raw(&e, KEYS_TAG_ID, (const uint8_t *)keys[i].id, 4)) != 0 ||
        (rc = tlv_put_raw(&e, KEYS_TAG_KIND, &kind, 1)) != 0 ||
        (rc = tlv_put_raw(&e, KEYS_TAG_MATERIAL, keys[i].material, keys[i].len)) != 0 ||
        (rc = tlv_writer_finish(&e, &elen)) != 0)
      goto fail;
    if ((rc = tlv_put_raw(&w, KEYS_TAG_KEY, entry, elen)) != 0) goto fail;
  }
  if ((rc = tlv_writer_finish(&w, len)) != 0) goto fail;
  return KEYS_OK;
fail:
  memset(buf, 0, cap < w.length ? cap : w.length);
  *len = 0;
  return put_rc(rc);
}

/* One key list: id, kind, material, each once, in that order. */
static int parse_entry(const tlv_item_t *item, fn_key_t *out)
{
  tlv_reader_t r;
  tlv_item_t f;
  fn_key_t k;
  static const uint16_t order[3] = {KEYS_TAG_ID, KEYS_TAG_KIND, KEYS_TAG_MATERIAL};
  unsigned seen = 0;
  int rc;

  memset(&k, 0, sizeof k);
  if (tlv_reader_enter(item, &r) != 0) return KEYS_ERR_MALFORMED;
  while ((rc = tlv_reader_next(&r, &f)) == 0) {
    if (seen >= 3 || f.tag != order[seen]) return KEYS_ERR_MALFORMED;
    switch (seen) {
    case 0:
      if (f.length != 4) return KEYS_ERR_MALFORMED;
      memcpy(k.id, f.value, 4);
      if (!id_ok(k.id)) return KEYS_ERR_MALFORMED;
      break;
    case 1:
      if (f.length != 1 || (f.value[0] != FN_KEY_GOST && f.value[0] != FN_KEY_HMAC))
        return KEYS_ERR_MALFORMED;
      k.kind = f.value[0];
      break;
    default:
      if (f.length < 1 || f.length > sizeof k.material) return KEYS_ERR_MALFORMED;
      memcpy(k.material, f.value, f.length);
      k.len = f.length;
      break;
    }
    seen++;
  }
  if (rc != TLV_ERR_END || seen != 3) return KEYS_ERR_MALFORMED;
  if (out) *out = k;
  return KEYS_OK;
}

/* Validates buf and counts its keys; with fill, writes them too (the
** caller has checked that they fit). */
static int walk(const uint8_t *buf, size_t len, fn_key_t *keys, size_t cap, int fill, size_t *n,
                uint32_t *when)
{
  tlv_reader_t r;
  tlv_item_t item;
  size_t count = 0;
  int have_when = 0, rc;

  tlv_reader_init(&r, buf, len);
  while ((rc = tlv_reader_next(&r, &item)) == 0) {
    if (!have_when) {
      if (item.tag != KEYS_TAG_WHEN || item.length != 4) return KEYS_ERR_MALFORMED;
      *when = (uint32_t)item.value[0] | (uint32_t)item.value[1] << 8 |
              (uint32_t)item.value[2] << 16 | (uint32_t)item.value[3] << 24;
      have_when = 1;
      continue;
    }
    if (item.tag != KEYS_TAG_KEY) return KEYS_ERR_MALFORMED;
    if ((rc = parse_entry(&item, fill && count < cap ? &keys[count] : NULL)) != 0) return rc;
    count++;
  }
  if (rc != TLV_ERR_END || !have_when) return KEYS_ERR_MALFORMED;
  *n = count;
  return KEYS_OK;
}

int keys_parse_update(const uint8_t *buf, size_t len, fn_key_t *keys, size_t cap, size_t *n,
                      uint32_t *when)
{
  size_t count = 0;
  uint32_t date = 0;
  int rc;

  if (!buf || !n || !when || (cap > 0 && !keys)) return KEYS_ERR_ARGUMENT;
  if ((rc = walk(buf, len, NULL, 0, 0, &count, &date)) != 0) return rc;
  if (count > cap) return KEYS_ERR_NO_SPACE;
  if ((rc = walk(buf, len, keys, cap, 1, &count, &date)) != 0) return rc;
  *n = count;
  *when = date;
  return KEYS_OK;
}
