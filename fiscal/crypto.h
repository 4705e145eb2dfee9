/*
** fiscal/crypto.h: the GOST cryptography the fiscal module needs, in one
** place.
**
** Russian fiscal law uses the national algorithms: the Streebog hash
** (GOST R 34.11-2012, 256- and 512-bit), HMAC over it, and the GOST
** R 34.10-2012 signature. OpenSSL 3 does not ship them; Debian's
** libengine-gost-openssl does, as an ENGINE (the newer GOST *provider*
** has no signatures yet). This wrapper is the only code that touches that
** engine, so the rest of the program neither includes OpenSSL headers nor
** cares that the ENGINE API is deprecated.
**
** Keys are GOST R 34.10-2012 with 256-bit keys on the TC26 curve
** id-tc26-gost-3410-12-256-paramSetA (OID 1.2.643.7.1.2.1.1.1, "TCA" in
** the engine's terms). A signature signs the Streebog-256 digest of the
** message and is 64 bytes, s then r, as the engine writes them. Keys are
** stored as standard DER or PEM: PKCS#8 for private keys,
** SubjectPublicKeyInfo for public ones, so any GOST-aware tool reads them.
**
** Call crypto_init() once, before any other function and before starting
** threads; after it the functions are thread-safe. crypto_shutdown()
** releases the engine; free every key before calling it.
**
** All functions return 0 or a negative crypto_error_t; crypto_error_code()
** and crypto_error_message() describe it.
*/
#ifndef KASSA_FISCAL_CRYPTO_H
#define KASSA_FISCAL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_STREEBOG256_SIZE 32
#define CRYPTO_STREEBOG512_SIZE 64
#define CRYPTO_SIGNATURE_SIZE   64

typedef enum crypto_error {
  CRYPTO_OK = 0,
  CRYPTO_ERR_ARGUMENT = -1,          /* a NULL pointer or an impossible size */
  CRYPTO_ERR_NOT_INITIALIZED = -2,   /* crypto_init() has not succeeded */
  CRYPTO_ERR_ENGINE_MISSING = -3,    /* OpenSSL cannot load the gost engine */
  CRYPTO_ERR_ENGINE_INCOMPLETE = -4, /* the engine lacks Streebog or 34.10-2012 */
  CRYPTO_ERR_NO_MEMORY = -5,
  CRYPTO_ERR_OPENSSL = -6,         /* an OpenSSL call failed unexpectedly */
  CRYPTO_ERR_BAD_SIGNATURE = -7,   /* the signature does not match */
  CRYPTO_ERR_NO_PRIVATE_KEY = -8,  /* signing or exporting with a public key */
  CRYPTO_ERR_BAD_KEY = -9,         /* the bytes are not a readable key */
  CRYPTO_ERR_WRONG_KEY_TYPE = -10, /* a key, but not GOST R 34.10-2012 256-bit */
  CRYPTO_ERR_NO_SPACE = -11        /* the output buffer is too small */
} crypto_error_t;

/* A stable lower-case code ("engine_missing"); "unknown" for other values. */
const char *crypto_error_code(int error);

/* An English sentence for a person; it names the Debian package to
** install when the engine is missing. Never NULL. */
const char *crypto_error_message(int error);

/*
** Loads OpenSSL's "gost" ENGINE and makes it the provider of GOST keys.
** Idempotent: a second call after success does nothing. Returns
** CRYPTO_ERR_ENGINE_MISSING when the engine cannot be loaded (install the
** Debian package libengine-gost-openssl), CRYPTO_ERR_ENGINE_INCOMPLETE
** when it lacks an algorithm. Not thread-safe: call it from main.
** Changes OpenSSL's process-wide defaults for GOST key types only.
*/
int crypto_init(void);

/* Releases the engine. Safe to call without crypto_init() and twice. */
void crypto_shutdown(void);

/* Streebog digests of data[0..length) (data may be NULL when length is 0). */
int crypto_streebog256(const uint8_t *data, size_t length, uint8_t digest[CRYPTO_STREEBOG256_SIZE]);
int crypto_streebog512(const uint8_t *data, size_t length, uint8_t digest[CRYPTO_STREEBOG512_SIZE]);

/* HMAC (RFC 2104) over Streebog, as RFC 7836 defines
** HMAC_GOSTR3411_2012_256 and _512. Any key length is accepted. */
int crypto_hmac_streebog256(const uint8_t *key, size_t key_length, const uint8_t *data,
                            size_t length, uint8_t mac[CRYPTO_STREEBOG256_SIZE]);
int crypto_hmac_streebog512(const uint8_t *key, size_t key_length, const uint8_t *data,
                            size_t length, uint8_t mac[CRYPTO_STREEBOG512_SIZE]);

/* ---------------------------------------------------------------------- */
/* Keys and signatures                                                     */

/* A GOST R 34.10-2012 256-bit key: a key pair, or a public key alone. */
typedef struct crypto_key crypto_key_t;

typedef enum crypto_key_part {
  CRYPTO_KEY_PRIVATE, /* the whole key pair (PKCS#8) */
  CRYPTO_KEY_PUBLIC   /* the public key alone (SubjectPublicKeyInfo) */
} crypto_key_part_t;

typedef enum crypto_key_format {
  CRYPTO_KEY_DER, /* binary, for a BLOB column */
  CRYPTO_KEY_PEM  /* text, for a file */
} crypto_key_format_t;

/* Makes a fresh key pair in *key; the caller frees it with
** crypto_key_free(). *key is NULL on error. */
int crypto_key_generate(crypto_key_t **key);

/* Frees a key. NULL is fine. */
void crypto_key_free(crypto_key_t *key);

/* True when the key can sign (it has its private part). */
bool crypto_key_has_private(const crypto_key_t *key);

/*
** Writes the key's private (whole pair) or public part into
** out[0..capacity) and its length into *length. PEM is text ending with a
** NUL that *length does not count. With a capacity too small (or out
** NULL) returns CRYPTO_ERR_NO_SPACE and sets *length to the size needed
** (for PEM, without the NUL: allocate *length + 1). Exporting the private
** part of a public key is CRYPTO_ERR_NO_PRIVATE_KEY. Private keys are
** written unencrypted: protect the storage.
*/
int crypto_key_export(const crypto_key_t *key, crypto_key_part_t part, crypto_key_format_t format,
                      uint8_t *out, size_t capacity, size_t *length);

/*
** Reads a key exported by crypto_key_export() (or by any tool writing the
** same standard forms) into *key, which the caller frees. PEM input need
** not end with NUL. Encrypted PEM is refused (CRYPTO_ERR_BAD_KEY), never
** prompted for. A key of another algorithm is CRYPTO_ERR_WRONG_KEY_TYPE.
*/
int crypto_key_import(crypto_key_part_t part, crypto_key_format_t format, const uint8_t *data,
                      size_t length, crypto_key_t **key);

/* Signs the Streebog-256 digest of message[0..length) with the private key.
** Signatures are randomised: signing twice gives different bytes. */
int crypto_sign(const crypto_key_t *key, const uint8_t *message, size_t length,
                uint8_t signature[CRYPTO_SIGNATURE_SIZE]);

/* Returns 0 when signature is key's signature of the message, else
** CRYPTO_ERR_BAD_SIGNATURE. A public key alone is enough. */
int crypto_verify(const crypto_key_t *key, const uint8_t *message, size_t length,
                  const uint8_t signature[CRYPTO_SIGNATURE_SIZE]);

#endif /* KASSA_FISCAL_CRYPTO_H */
