/*
** fiscal/crypto.c: Streebog, HMAC-Streebog and GOST R 34.10-2012 over
** OpenSSL 3 and the gost ENGINE (see crypto.h for the contract).
**
** Why the deprecated APIs: OpenSSL 3 reaches GOST only through the gost
** engine, and an engine's digests live outside the provider world, so
** EVP_MD_fetch() and EVP_MAC cannot see them. The engine's EVP_MD works
** with EVP_DigestInit_ex() and with the HMAC_CTX functions, and its key
** methods with EVP_PKEY_CTX. Those are deprecated only as a nudge toward
** providers; the deprecation warnings are silenced here, in this file
** alone, and nowhere else in the build.
**
** All OpenSSL state this file creates is freed on every path; the OpenSSL
** error queue is cleared after a failure so no stale error leaks into the
** TLS code of another module.
*/
#define OPENSSL_SUPPRESS_DEPRECATED /* before any OpenSSL header: see above */

#include "fiscal/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/errtab.h"
#include "common/thread_slot.h"

/* The engine's name for id-tc26-gost-3410-12-256-paramSetA. */
#define KEY_PARAMETER_SET "TCA"

struct crypto_key {
  EVP_PKEY *pkey;
  bool has_private;
};

/* Set by crypto_init(), read-only afterwards, so threads may share them. */
static ENGINE *gost_engine;
static const EVP_MD *streebog256;
static const EVP_MD *streebog512;
static unsigned engine_generation; /* changes with each crypto_shutdown() */

static void hmac_cache_drop(void);

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

static const errtab_t error_texts[] = {
    {CRYPTO_OK, "ok", NULL, "no error"},
    {CRYPTO_ERR_ARGUMENT, "argument", NULL, "a required argument is missing or impossible"},
    {CRYPTO_ERR_NOT_INITIALIZED, "not_initialized", NULL,
     "the GOST cryptography is not set up: crypto_init() has not succeeded"},
    {CRYPTO_ERR_ENGINE_MISSING, "engine_missing", NULL,
     "OpenSSL cannot load its GOST engine; install the Debian package "
     "libengine-gost-openssl (apt-get install libengine-gost-openssl)"},
    {CRYPTO_ERR_ENGINE_INCOMPLETE, "engine_incomplete", NULL,
     "the GOST engine lacks Streebog or GOST R 34.10-2012; reinstall the "
     "Debian package libengine-gost-openssl"},
    {CRYPTO_ERR_NO_MEMORY, "no_memory", NULL, "out of memory"},
    {CRYPTO_ERR_OPENSSL, "openssl", NULL, "an OpenSSL operation failed"},
    {CRYPTO_ERR_BAD_SIGNATURE, "bad_signature", NULL,
     "the signature does not match the message and key"},
    {CRYPTO_ERR_NO_PRIVATE_KEY, "no_private_key", NULL, "the key has no private part"},
    {CRYPTO_ERR_BAD_KEY, "bad_key", NULL, "the data is not a readable, unencrypted key"},
    {CRYPTO_ERR_WRONG_KEY_TYPE, "wrong_key_type", NULL,
     "the key is not a GOST R 34.10-2012 256-bit key"},
    {CRYPTO_ERR_NO_SPACE, "no_space", NULL, "the output buffer is too small"},
    ERRTAB_END(NULL, "unknown error"),
};

const char *crypto_error_code(int error) { return errtab_name(error_texts, error); }

const char *crypto_error_message(int error) { return errtab_message(error_texts, error, false); }

/* ---------------------------------------------------------------------- */
/* Set-up                                                                  */

int crypto_init(void)
{
  ENGINE *engine = NULL;
  bool initialized = false;
  int rc;

  if (gost_engine) return 0;
  /* ENGINE_by_id() looks in OpenSSL's engines directory (or
  ** $OPENSSL_ENGINES) for gost.so. */
  engine = ENGINE_by_id("gost");
  if (!engine) {
    rc = CRYPTO_ERR_ENGINE_MISSING;
    goto fail;
  }
  if (!ENGINE_init(engine)) {
    rc = CRYPTO_ERR_ENGINE_MISSING;
    goto fail;
  }
  initialized = true;
  /* Key generation and DER/PEM parsing look key types up in OpenSSL's
  ** global tables; registering the engine there is what makes a GOST key
  ** parseable. It affects no other algorithm. */
  if (!ENGINE_set_default(engine, ENGINE_METHOD_PKEY_METHS | ENGINE_METHOD_PKEY_ASN1_METHS)) {
    rc = CRYPTO_ERR_ENGINE_INCOMPLETE;
    goto fail;
  }
  streebog256 = ENGINE_get_digest(engine, NID_id_GostR3411_2012_256);
  streebog512 = ENGINE_get_digest(engine, NID_id_GostR3411_2012_512);
  if (!streebog256 || !streebog512 || !ENGINE_get_pkey_meth(engine, NID_id_GostR3410_2012_256)) {
    rc = CRYPTO_ERR_ENGINE_INCOMPLETE;
    goto fail;
  }
  gost_engine = engine;
  return 0;

fail:
  streebog256 = NULL;
  streebog512 = NULL;
  if (engine) {
    ENGINE_unregister_pkey_meths(engine);
    ENGINE_unregister_pkey_asn1_meths(engine);
    if (initialized) ENGINE_finish(engine);
    ENGINE_free(engine);
  }
  ERR_clear_error();
  return rc;
}

void crypto_shutdown(void)
{
  if (!gost_engine) return;
  hmac_cache_drop();
  engine_generation++;
  ENGINE_unregister_pkey_meths(gost_engine);
  ENGINE_unregister_pkey_asn1_meths(gost_engine);
  ENGINE_finish(gost_engine);
  ENGINE_free(gost_engine);
  gost_engine = NULL;
  streebog256 = NULL;
  streebog512 = NULL;
}

/* ---------------------------------------------------------------------- */
/* Digests and HMAC                                                        */

static int digest(const EVP_MD *md, const uint8_t *data, size_t length, uint8_t *out, unsigned size)
{
  EVP_MD_CTX *context = NULL;
  unsigned written = 0;
  int rc = 0;

  if (!gost_engine) return CRYPTO_ERR_NOT_INITIALIZED;
  if ((!data && length > 0) || !out) return CRYPTO_ERR_ARGUMENT;
  context = EVP_MD_CTX_new();
  if (!context) {
    rc = CRYPTO_ERR_NO_MEMORY;
    goto fail;
  }
  if (!EVP_DigestInit_ex(context, md, gost_engine) ||
      !EVP_DigestUpdate(context, data ? data : (const uint8_t *)"", length) ||
      !EVP_DigestFinal_ex(context, out, &written) || written != size) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
fail:
  EVP_MD_CTX_free(context);
  if (rc != 0) ERR_clear_error();
  return rc;
}

int crypto_streebog256(const uint8_t *data, size_t length,
                       uint8_t digest_out[CRYPTO_STREEBOG256_SIZE])
{
  return digest(streebog256, data, length, digest_out, CRYPTO_STREEBOG256_SIZE);
}

int crypto_streebog512(const uint8_t *data, size_t length,
                       uint8_t digest_out[CRYPTO_STREEBOG512_SIZE])
{
  return digest(streebog512, data, length, digest_out, CRYPTO_STREEBOG512_SIZE);
}

/*
** This thread's HMAC contexts, one per recent key (the FN signs with its
** secret and checks tails with one key: a few keys serve every call). A
** context keeps the key's inner and outer pad states, so a call with a
** kept key starts from them (HMAC_Init_ex with no key) instead of hashing
** the pads again and allocating a context: half the cost of a short MAC.
** Each belongs to one thread (a context must not be shared), holds a copy
** of its key (zeroed when replaced or when the thread ends), and is tied
** to the engine it was made with: crypto_shutdown() drops the calling
** thread's; another thread's from before are left alone, never used.
*/
#define HMAC_KEPT    4
#define HMAC_KEY_MAX 64 /* Streebog's block: a longer key is hashed first, not kept */

typedef struct hmac_kept {
  HMAC_CTX *context;
  const EVP_MD *md;
  unsigned generation;
  size_t key_length;
  uint8_t key[HMAC_KEY_MAX];
} hmac_kept_t;

typedef struct hmac_cache {
  hmac_kept_t kept[HMAC_KEPT];
  unsigned next; /* the slot a new key takes */
} hmac_cache_t;

static void hmac_cache_free(void *p)
{
  hmac_cache_t *c = p;
  if (!c) return;
  for (int i = 0; i < HMAC_KEPT; i++)
    if (c->kept[i].generation == engine_generation) HMAC_CTX_free(c->kept[i].context);
  explicit_bzero(c, sizeof *c);
  free(c);
}

static thread_slot_t hmac_slot = THREAD_SLOT_INIT(hmac_cache_free);

/* Drops the calling thread's contexts (before the engine goes). */
static void hmac_cache_drop(void)
{
  hmac_cache_t *c = thread_slot_get(&hmac_slot, 0);
  if (!c) return;
  for (int i = 0; i < HMAC_KEPT; i++) HMAC_CTX_free(c->kept[i].context);
  explicit_bzero(c, sizeof *c);
}

/* A context ready for data under key: a kept one restarted, or a slot
** taken for the key. NULL when none can be had. */
static HMAC_CTX *hmac_start(const EVP_MD *md, const uint8_t *key, size_t key_length)
{
  hmac_cache_t *c = key_length <= HMAC_KEY_MAX ? thread_slot_get(&hmac_slot, sizeof *c) : NULL;
  if (!c) return NULL;
  for (int i = 0; i < HMAC_KEPT; i++) {
    hmac_kept_t *k = &c->kept[i];
    if (k->context && k->generation == engine_generation && k->md == md &&
        k->key_length == key_length && (key_length == 0 || !memcmp(k->key, key, key_length)))
      return HMAC_Init_ex(k->context, NULL, 0, NULL, NULL) ? k->context : NULL;
  }
  hmac_kept_t *k = &c->kept[c->next];
  c->next = (c->next + 1) % HMAC_KEPT;
  if (k->generation != engine_generation) k->context = NULL; /* the old engine's: left */
  explicit_bzero(k->key, sizeof k->key);
  k->key_length = 0;
  k->md = NULL;
  if (!k->context && !(k->context = HMAC_CTX_new())) return NULL;
  k->generation = engine_generation;
  /* A NULL key would mean "keep the previous key" to HMAC_Init_ex(). */
  if (!HMAC_Init_ex(k->context, key_length ? key : (const uint8_t *)"", (int)key_length, md,
                    gost_engine))
    return NULL;
  if (key_length) memcpy(k->key, key, key_length);
  k->key_length = key_length;
  k->md = md;
  return k->context;
}

static int hmac(const EVP_MD *md, const uint8_t *key, size_t key_length, const uint8_t *data,
                size_t length, uint8_t *out, unsigned size)
{
  HMAC_CTX *context = NULL, *own = NULL;
  unsigned written = 0;
  int rc = 0;

  if (!gost_engine) return CRYPTO_ERR_NOT_INITIALIZED;
  if ((!key && key_length > 0) || (!data && length > 0) || !out || key_length > INT_MAX)
    return CRYPTO_ERR_ARGUMENT;
  if (!(context = hmac_start(md, key, key_length))) {
    /* Not kept (a long key, no memory for the cache): a context of its own. */
    if (!(context = own = HMAC_CTX_new())) {
      rc = CRYPTO_ERR_NO_MEMORY;
      goto fail;
    }
    if (!HMAC_Init_ex(context, key ? key : (const uint8_t *)"", (int)key_length, md, gost_engine)) {
      rc = CRYPTO_ERR_OPENSSL;
      goto fail;
    }
  }
  if (!HMAC_Update(context, data ? data : (const uint8_t *)"", length) ||
      !HMAC_Final(context, out, &written) || written != size) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
fail:
  HMAC_CTX_free(own);
  if (rc != 0) ERR_clear_error();
  return rc;
}

int crypto_hmac_streebog256(const uint8_t *key, size_t key_length, const uint8_t *data,
                            size_t length, uint8_t mac[CRYPTO_STREEBOG256_SIZE])
{
  return hmac(streebog256, key, key_length, data, length, mac, CRYPTO_STREEBOG256_SIZE);
}

int crypto_hmac_streebog512(const uint8_t *key, size_t key_length, const uint8_t *data,
                            size_t length, uint8_t mac[CRYPTO_STREEBOG512_SIZE])
{
  return hmac(streebog512, key, key_length, data, length, mac, CRYPTO_STREEBOG512_SIZE);
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                    */

/* Wraps pkey (taking ownership, freeing it on failure) into a new key. */
static int key_wrap(EVP_PKEY *pkey, bool has_private, crypto_key_t **key)
{
  if (EVP_PKEY_get_id(pkey) != NID_id_GostR3410_2012_256) {
    EVP_PKEY_free(pkey);
    return CRYPTO_ERR_WRONG_KEY_TYPE;
  }
  crypto_key_t *wrapped = calloc(1, sizeof *wrapped);
  if (!wrapped) {
    EVP_PKEY_free(pkey);
    return CRYPTO_ERR_NO_MEMORY;
  }
  wrapped->pkey = pkey;
  wrapped->has_private = has_private;
  *key = wrapped;
  return 0;
}

int crypto_key_generate(crypto_key_t **key)
{
  EVP_PKEY_CTX *context = NULL;
  EVP_PKEY *pkey = NULL;
  int rc = 0;

  if (!key) return CRYPTO_ERR_ARGUMENT;
  *key = NULL;
  if (!gost_engine) return CRYPTO_ERR_NOT_INITIALIZED;
  context = EVP_PKEY_CTX_new_id(NID_id_GostR3410_2012_256, gost_engine);
  if (!context) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  if (EVP_PKEY_keygen_init(context) <= 0 ||
      EVP_PKEY_CTX_ctrl_str(context, "paramset", KEY_PARAMETER_SET) <= 0 ||
      EVP_PKEY_keygen(context, &pkey) <= 0) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  rc = key_wrap(pkey, true, key);
  pkey = NULL; /* key_wrap() owns it now */
fail:
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(context);
  if (rc != 0) ERR_clear_error();
  return rc;
}

void crypto_key_free(crypto_key_t *key)
{
  if (!key) return;
  EVP_PKEY_free(key->pkey);
  free(key);
}

bool crypto_key_has_private(const crypto_key_t *key) { return key && key->has_private; }

/* Copies bytes out under the export contract (see crypto.h). */
static int export_copy(const uint8_t *bytes, size_t size, bool text, uint8_t *out, size_t capacity,
                       size_t *length)
{
  *length = size;
  if (!out || capacity < size + (text ? 1u : 0u)) return CRYPTO_ERR_NO_SPACE;
  memcpy(out, bytes, size);
  if (text) out[size] = '\0';
  return 0;
}

static int export_der(const crypto_key_t *key, crypto_key_part_t part, uint8_t *out,
                      size_t capacity, size_t *length)
{
  PKCS8_PRIV_KEY_INFO *info = NULL;
  unsigned char *der = NULL;
  int size = -1;
  int rc = 0;

  if (part == CRYPTO_KEY_PRIVATE) {
    info = EVP_PKEY2PKCS8(key->pkey);
    if (info) size = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
  } else {
    size = i2d_PUBKEY(key->pkey, &der);
  }
  if (size <= 0 || !der) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  rc = export_copy(der, (size_t)size, false, out, capacity, length);
fail:
  if (der) {
    OPENSSL_cleanse(der, size > 0 ? (size_t)size : 0);
    OPENSSL_free(der);
  }
  PKCS8_PRIV_KEY_INFO_free(info);
  return rc;
}

static int export_pem(const crypto_key_t *key, crypto_key_part_t part, uint8_t *out,
                      size_t capacity, size_t *length)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *text = NULL;
  long size;
  int rc = 0;

  if (!bio) return CRYPTO_ERR_NO_MEMORY;
  int written = part == CRYPTO_KEY_PRIVATE
                    ? PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
                    : PEM_write_bio_PUBKEY(bio, key->pkey);
  if (!written) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  size = BIO_get_mem_data(bio, &text);
  if (size <= 0 || !text) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  rc = export_copy((const uint8_t *)text, (size_t)size, true, out, capacity, length);
  OPENSSL_cleanse(text, (size_t)size);
fail:
  BIO_free(bio);
  return rc;
}

int crypto_key_export(const crypto_key_t *key, crypto_key_part_t part, crypto_key_format_t format,
                      uint8_t *out, size_t capacity, size_t *length)
{
  int rc;
  if (!key || !length || (part != CRYPTO_KEY_PRIVATE && part != CRYPTO_KEY_PUBLIC) ||
      (format != CRYPTO_KEY_DER && format != CRYPTO_KEY_PEM))
    return CRYPTO_ERR_ARGUMENT;
  if (!gost_engine) return CRYPTO_ERR_NOT_INITIALIZED;
  if (part == CRYPTO_KEY_PRIVATE && !key->has_private) return CRYPTO_ERR_NO_PRIVATE_KEY;
  if (format == CRYPTO_KEY_DER)
    rc = export_der(key, part, out, capacity, length);
  else
    rc = export_pem(key, part, out, capacity, length);
  if (rc != 0) ERR_clear_error();
  return rc;
}

/* Refuses to ask anybody for a password: a till has nobody to ask. */
static int refuse_password(char *buffer, int size, int writing, void *user)
{
  (void)buffer;
  (void)size;
  (void)writing;
  (void)user;
  return -1;
}

int crypto_key_import(crypto_key_part_t part, crypto_key_format_t format, const uint8_t *data,
                      size_t length, crypto_key_t **key)
{
  PKCS8_PRIV_KEY_INFO *info = NULL;
  EVP_PKEY *pkey = NULL;
  BIO *bio = NULL;
  int rc = 0;

  if (!key) return CRYPTO_ERR_ARGUMENT;
  *key = NULL;
  if (!data || length == 0 || length > LONG_MAX || length > INT_MAX ||
      (part != CRYPTO_KEY_PRIVATE && part != CRYPTO_KEY_PUBLIC) ||
      (format != CRYPTO_KEY_DER && format != CRYPTO_KEY_PEM))
    return CRYPTO_ERR_ARGUMENT;
  if (!gost_engine) return CRYPTO_ERR_NOT_INITIALIZED;

  if (format == CRYPTO_KEY_DER) {
    const unsigned char *cursor = data;
    if (part == CRYPTO_KEY_PRIVATE) {
      info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &cursor, (long)length);
      if (info) pkey = EVP_PKCS82PKEY(info);
    } else {
      pkey = d2i_PUBKEY(NULL, &cursor, (long)length);
    }
    /* Trailing bytes mean the blob is not what we stored. */
    if (pkey && cursor != data + length) {
      EVP_PKEY_free(pkey);
      pkey = NULL;
    }
  } else {
    bio = BIO_new_mem_buf(data, (int)length);
    if (!bio) {
      rc = CRYPTO_ERR_NO_MEMORY;
      goto fail;
    }
    pkey = part == CRYPTO_KEY_PRIVATE ? PEM_read_bio_PrivateKey(bio, NULL, refuse_password, NULL)
                                      : PEM_read_bio_PUBKEY(bio, NULL, refuse_password, NULL);
  }
  if (!pkey) {
    rc = CRYPTO_ERR_BAD_KEY;
    goto fail;
  }
  rc = key_wrap(pkey, part == CRYPTO_KEY_PRIVATE, key);
fail:
  BIO_free(bio);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (rc != 0) ERR_clear_error();
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Signatures                                                              */

int crypto_sign(const crypto_key_t *key, const uint8_t *message, size_t length,
                uint8_t signature[CRYPTO_SIGNATURE_SIZE])
{
  uint8_t hash[CRYPTO_STREEBOG256_SIZE];
  EVP_PKEY_CTX *context = NULL;
  size_t size = CRYPTO_SIGNATURE_SIZE;
  int rc;

  if (!key || !signature || (!message && length > 0)) return CRYPTO_ERR_ARGUMENT;
  if (!key->has_private) return CRYPTO_ERR_NO_PRIVATE_KEY;
  if ((rc = crypto_streebog256(message, length, hash)) != 0) return rc;
  context = EVP_PKEY_CTX_new(key->pkey, gost_engine);
  if (!context) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  if (EVP_PKEY_sign_init(context) <= 0 ||
      EVP_PKEY_sign(context, signature, &size, hash, sizeof hash) <= 0 ||
      size != CRYPTO_SIGNATURE_SIZE) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
fail:
  EVP_PKEY_CTX_free(context);
  if (rc != 0) ERR_clear_error();
  return rc;
}

int crypto_verify(const crypto_key_t *key, const uint8_t *message, size_t length,
                  const uint8_t signature[CRYPTO_SIGNATURE_SIZE])
{
  uint8_t hash[CRYPTO_STREEBOG256_SIZE];
  EVP_PKEY_CTX *context = NULL;
  int rc;

  if (!key || !signature || (!message && length > 0)) return CRYPTO_ERR_ARGUMENT;
  if ((rc = crypto_streebog256(message, length, hash)) != 0) return rc;
  context = EVP_PKEY_CTX_new(key->pkey, gost_engine);
  if (!context) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  if (EVP_PKEY_verify_init(context) <= 0) {
    rc = CRYPTO_ERR_OPENSSL;
    goto fail;
  }
  /* 1 is a match; 0 a mismatch; below 0 a signature the engine could not
  ** even parse, which is just as wrong. */
  if (EVP_PKEY_verify(context, signature, CRYPTO_SIGNATURE_SIZE, hash, sizeof hash) != 1)
    rc = CRYPTO_ERR_BAD_SIGNATURE;
fail:
  EVP_PKEY_CTX_free(context);
  if (rc != 0) ERR_clear_error();
  return rc;
}
