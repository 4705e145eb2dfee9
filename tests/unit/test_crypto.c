/*
** tests/unit/test_crypto.c: the GOST wrapper against published vectors.
**
** RFC 6986 (GOST R 34.11-2012) prints messages and digests as big numbers,
** most significant byte first, while every implementation hashes byte
** strings in order; so its hex is reversed here on both sides, exactly as
** printed in the RFC. Reversed, M1 is the ASCII digits "0123...012" and
** M2 is a line of the Igor Tale in CP1251, which the test checks, so a
** wrong byte order cannot pass by accident. RFC 7836 prints its HMAC
** vectors in byte order, so they are used as they stand.
**
** The first test runs before crypto_init() on purpose: it checks the
** message a till shows when the engine is not installed.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"

/* Decodes hex into out (at most capacity bytes); returns the byte count. */
static size_t hex_decode(const char *hex, uint8_t *out, size_t capacity)
{
  size_t length = strlen(hex) / 2;
  assert_true(length <= capacity);
  for (size_t i = 0; i < length; i++) {
    unsigned value = 0;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &value), 1);
    out[i] = (uint8_t)value;
  }
  return length;
}

static void reverse(uint8_t *bytes, size_t length)
{
  for (size_t i = 0; i < length / 2; i++) {
    uint8_t swap = bytes[i];
    bytes[i] = bytes[length - 1 - i];
    bytes[length - 1 - i] = swap;
  }
}

/* Decodes an RFC 6986 number into the byte string it stands for. */
static size_t rfc6986_bytes(const char *hex, uint8_t *out, size_t capacity)
{
  size_t length = hex_decode(hex, out, capacity);
  reverse(out, length);
  return length;
}

static int setup_crypto(void **state)
{
  (void)state;
  return crypto_init() == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */

static void test_engine_missing_is_explained(void **state)
{
  (void)state;
  char directory[] = "/tmp/kassa-no-engines-XXXXXX";
  uint8_t digest[CRYPTO_STREEBOG256_SIZE];
  crypto_key_t *key = (crypto_key_t *)(uintptr_t)1; /* must be reset to NULL */

  assert_non_null(mkdtemp(directory));
  /* OpenSSL looks for engines in $OPENSSL_ENGINES: point it at an empty
  ** directory, as on a till without the package. */
  assert_int_equal(setenv("OPENSSL_ENGINES", directory, 1), 0);
  int rc = crypto_init();
  unsetenv("OPENSSL_ENGINES");
  rmdir(directory);

  assert_int_equal(rc, CRYPTO_ERR_ENGINE_MISSING);
  assert_string_equal(crypto_error_code(rc), "engine_missing");
  assert_non_null(strstr(crypto_error_message(rc), "libengine-gost-openssl"));
  /* Nothing works, and says why. */
  assert_int_equal(crypto_streebog256((const uint8_t *)"a", 1, digest), CRYPTO_ERR_NOT_INITIALIZED);
  assert_int_equal(crypto_key_generate(&key), CRYPTO_ERR_NOT_INITIALIZED);
  assert_null(key);
}

static void test_error_texts(void **state)
{
  (void)state;
  for (int error = CRYPTO_OK; error >= CRYPTO_ERR_NO_SPACE; error--) {
    assert_string_not_equal(crypto_error_code(error), "unknown");
    assert_true(strlen(crypto_error_message(error)) > 0);
    for (int other = error - 1; other >= CRYPTO_ERR_NO_SPACE; other--)
      assert_string_not_equal(crypto_error_code(error), crypto_error_code(other));
  }
  assert_string_equal(crypto_error_code(-1000), "unknown");
  assert_string_equal(crypto_error_message(1), "unknown error");
}

/* RFC 6986 section 10: the examples. */
static const char M1[] = "323130393837363534333231303938373635343332313039383736353433323130"
                         "393837363534333231303938373635343332313039383736353433323130";
static const char M1_H512[] = "486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00"
                              "fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b";
static const char M1_H256[] = "00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d";
static const char M2[] = "fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2f120fff0"
                         "eeec20f120faf2fee5e2202ce8f6f3ede220e8e6eee1e8f0f2d1202ce8f0f2e5e220e5d1";
static const char M2_H512[] = "28fbc9bada033b1460642bdcddb90c3fb3e56c497ccd0f62b8a2ad4935e85f03"
                              "7613966de4ee00531ae60f3b5a47f8dae06915d5f2f194996fcabf2622e6881e";
static const char M2_H256[] = "508f7e553c06501d749a66fc28c6cac0b005746d97537fa85d9e40904efed29d";

static void test_streebog_rfc6986(void **state)
{
  (void)state;
  uint8_t message[128], expected[64], digest[64];
  size_t length;

  length = rfc6986_bytes(M1, message, sizeof message);
  assert_int_equal(length, 63);
  assert_memory_equal(message, "012345678901234567890123456789012345678901234567890123456789012",
                      63);
  assert_int_equal(crypto_streebog512(message, length, digest), 0);
  rfc6986_bytes(M1_H512, expected, sizeof expected);
  assert_memory_equal(digest, expected, 64);
  assert_int_equal(crypto_streebog256(message, length, digest), 0);
  rfc6986_bytes(M1_H256, expected, sizeof expected);
  assert_memory_equal(digest, expected, 32);

  length = rfc6986_bytes(M2, message, sizeof message);
  assert_int_equal(length, 72);
  /* "Се ветри, Стрибожи внуци, ..." in CP1251: С is 0xD1, е is 0xE5. */
  assert_int_equal(message[0], 0xD1);
  assert_int_equal(message[1], 0xE5);
  assert_int_equal(message[2], ' ');
  assert_int_equal(crypto_streebog512(message, length, digest), 0);
  rfc6986_bytes(M2_H512, expected, sizeof expected);
  assert_memory_equal(digest, expected, 64);
  assert_int_equal(crypto_streebog256(message, length, digest), 0);
  rfc6986_bytes(M2_H256, expected, sizeof expected);
  assert_memory_equal(digest, expected, 32);
}

/* RFC 7836's HMAC_GOSTR3411_2012_256 and _512 examples (the same vectors
** as R 50.1.113-2016). */
static void test_hmac_rfc7836(void **state)
{
  (void)state;
  uint8_t key[32], data[16], expected[64], mac[64];
  hex_decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key, sizeof key);
  hex_decode("0126bdb87800af214341456563780100", data, sizeof data);

  assert_int_equal(crypto_hmac_streebog256(key, sizeof key, data, sizeof data, mac), 0);
  hex_decode("a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9", expected,
             sizeof expected);
  assert_memory_equal(mac, expected, 32);

  assert_int_equal(crypto_hmac_streebog512(key, sizeof key, data, sizeof data, mac), 0);
  hex_decode("a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a77"
             "3d5f1530f2ed7e964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6",
             expected, sizeof expected);
  assert_memory_equal(mac, expected, 64);

  /* A different key gives a different MAC. */
  key[0] ^= 1;
  assert_int_equal(crypto_hmac_streebog256(key, sizeof key, data, sizeof data, mac), 0);
  assert_memory_not_equal(mac, expected, 32);
}

/* The MAC with a kept key (crypto.c keeps each thread's four most recent
** keys' pad states) is the MAC made from scratch: the RFC vector again
** after five other keys pushed it out, again while it is kept, and in a
** thread of its own. */
static void *hmac_in_thread(void *arg)
{
  uint8_t *mac = arg;
  uint8_t key[32], data[16];
  hex_decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key, sizeof key);
  hex_decode("0126bdb87800af214341456563780100", data, sizeof data);
  return (void *)(intptr_t)crypto_hmac_streebog256(key, sizeof key, data, sizeof data, mac);
}

static void test_hmac_kept_keys(void **state)
{
  (void)state;
  uint8_t key[32], other[32], data[16], expected[32], mac[32], first[64], again[32];
  hex_decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key, sizeof key);
  hex_decode("0126bdb87800af214341456563780100", data, sizeof data);
  hex_decode("a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9", expected,
             sizeof expected);
  for (int round = 0; round < 3; round++) {
    assert_int_equal(crypto_hmac_streebog256(key, sizeof key, data, sizeof data, mac), 0);
    assert_memory_equal(mac, expected, 32);
  }
  memcpy(other, key, sizeof other);
  for (int k = 0; k < 5; k++) { /* five other keys: more than are kept */
    other[0] = (uint8_t)(0x80 + k);
    assert_int_equal(crypto_hmac_streebog256(other, sizeof other, data, sizeof data, first), 0);
    assert_int_equal(crypto_hmac_streebog256(other, sizeof other, data, sizeof data, again), 0);
    assert_memory_equal(first, again, 32);
    assert_memory_not_equal(first, expected, 32);
  }
  assert_int_equal(crypto_hmac_streebog256(key, sizeof key, data, sizeof data, mac), 0);
  assert_memory_equal(mac, expected, 32);
  /* The same key for the other digest is another context. */
  assert_int_equal(crypto_hmac_streebog512(key, sizeof key, data, sizeof data, first), 0);
  assert_memory_not_equal(first, expected, 32);
  pthread_t thread;
  void *rc = NULL;
  memset(mac, 0, sizeof mac);
  assert_int_equal(pthread_create(&thread, NULL, hmac_in_thread, mac), 0);
  assert_int_equal(pthread_join(thread, &rc), 0);
  assert_int_equal((int)(intptr_t)rc, 0);
  assert_memory_equal(mac, expected, 32);
}

static void test_digest_arguments(void **state)
{
  (void)state;
  uint8_t a[64], b[64];
  /* An empty message may come as NULL. */
  assert_int_equal(crypto_streebog256(NULL, 0, a), 0);
  assert_int_equal(crypto_streebog256((const uint8_t *)"", 0, b), 0);
  assert_memory_equal(a, b, 32);
  assert_int_equal(crypto_streebog512(NULL, 0, a), 0);
  assert_memory_not_equal(a, b, 32);
  assert_int_equal(crypto_streebog256(NULL, 1, a), CRYPTO_ERR_ARGUMENT);
  assert_int_equal(crypto_streebog256(a, 1, NULL), CRYPTO_ERR_ARGUMENT);
  assert_int_equal(crypto_hmac_streebog256(NULL, 0, NULL, 0, a), 0);
  assert_int_equal(crypto_hmac_streebog256(NULL, 3, NULL, 0, a), CRYPTO_ERR_ARGUMENT);
}

/* ---------------------------------------------------------------------- */
/* Signatures                                                              */

static const uint8_t receipt[] =
    "t=20231121T1200&s=89.90&fn=9999078901001234&i=17&fp=2865298761&n=1";

static void test_sign_and_verify(void **state)
{
  (void)state;
  crypto_key_t *key = NULL;
  uint8_t signature[CRYPTO_SIGNATURE_SIZE], second[CRYPTO_SIGNATURE_SIZE];
  uint8_t message[sizeof receipt];

  assert_int_equal(crypto_key_generate(&key), 0);
  assert_non_null(key);
  assert_true(crypto_key_has_private(key));
  assert_int_equal(crypto_sign(key, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_verify(key, receipt, sizeof receipt, signature), 0);

  /* GOST signatures are randomised; both still verify. */
  assert_int_equal(crypto_sign(key, receipt, sizeof receipt, second), 0);
  assert_memory_not_equal(signature, second, sizeof second);
  assert_int_equal(crypto_verify(key, receipt, sizeof receipt, second), 0);

  /* One changed byte anywhere in the message breaks it. */
  for (size_t i = 0; i < sizeof message; i++) {
    memcpy(message, receipt, sizeof message);
    message[i] ^= 0x01;
    assert_int_equal(crypto_verify(key, message, sizeof message, signature),
                     CRYPTO_ERR_BAD_SIGNATURE);
  }
  /* So does a shorter message. */
  assert_int_equal(crypto_verify(key, receipt, sizeof receipt - 1, signature),
                   CRYPTO_ERR_BAD_SIGNATURE);
  /* One changed byte anywhere in the signature breaks it. */
  for (size_t i = 0; i < sizeof signature; i++) {
    memcpy(second, signature, sizeof second);
    second[i] ^= 0x80;
    assert_int_equal(crypto_verify(key, receipt, sizeof receipt, second), CRYPTO_ERR_BAD_SIGNATURE);
  }
  /* An all-zero signature is no signature. */
  memset(second, 0, sizeof second);
  assert_int_equal(crypto_verify(key, receipt, sizeof receipt, second), CRYPTO_ERR_BAD_SIGNATURE);
  crypto_key_free(key);
}

static void test_wrong_key_fails(void **state)
{
  (void)state;
  crypto_key_t *alice = NULL, *mallory = NULL;
  uint8_t signature[CRYPTO_SIGNATURE_SIZE];
  assert_int_equal(crypto_key_generate(&alice), 0);
  assert_int_equal(crypto_key_generate(&mallory), 0);
  assert_int_equal(crypto_sign(alice, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_verify(mallory, receipt, sizeof receipt, signature),
                   CRYPTO_ERR_BAD_SIGNATURE);
  assert_int_equal(crypto_verify(alice, receipt, sizeof receipt, signature), 0);
  crypto_key_free(alice);
  crypto_key_free(mallory);
  crypto_key_free(NULL);
}

/* ---------------------------------------------------------------------- */
/* Storing keys                                                            */

/* DER of the OIDs in a SubjectPublicKeyInfo of our keys. */
static const uint8_t algorithm_oid[] = /* 1.2.643.7.1.1.1.1 id-tc26-gost3410-12-256 */
    {0x06, 0x08, 0x2A, 0x85, 0x03, 0x07, 0x01, 0x01, 0x01, 0x01};
static const uint8_t parameter_set_oid[] = /* 1.2.643.7.1.2.1.1.1 paramSetA */
    {0x06, 0x09, 0x2A, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x01};

static bool contains(const uint8_t *haystack, size_t size, const uint8_t *needle,
                     size_t needle_size)
{
  for (size_t i = 0; i + needle_size <= size; i++) {
    if (memcmp(haystack + i, needle, needle_size) == 0) return true;
  }
  return false;
}

static void test_key_der_round_trip(void **state)
{
  (void)state;
  crypto_key_t *key = NULL, *private_copy = NULL, *public_copy = NULL;
  uint8_t private_der[512], public_der[512], again[512];
  uint8_t signature[CRYPTO_SIGNATURE_SIZE];
  size_t private_length = 0, public_length = 0, length = 0;

  assert_int_equal(crypto_key_generate(&key), 0);
  /* Asking for the size first. */
  assert_int_equal(
      crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, NULL, 0, &private_length),
      CRYPTO_ERR_NO_SPACE);
  assert_true(private_length > 32 && private_length < sizeof private_der);
  assert_int_equal(crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, private_der,
                                     private_length - 1, &length),
                   CRYPTO_ERR_NO_SPACE);
  assert_int_equal(crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, private_der,
                                     private_length, &length),
                   0);
  assert_int_equal(length, private_length);
  assert_int_equal(crypto_key_export(key, CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, public_der,
                                     sizeof public_der, &public_length),
                   0);
  /* The standard key type and the TC26 256-bit parameter set A. */
  assert_true(contains(public_der, public_length, algorithm_oid, sizeof algorithm_oid));
  assert_true(contains(public_der, public_length, parameter_set_oid, sizeof parameter_set_oid));
  assert_true(contains(private_der, private_length, parameter_set_oid, sizeof parameter_set_oid));

  /* The private key comes back whole: it signs, and the original verifies. */
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, private_der,
                                     private_length, &private_copy),
                   0);
  assert_true(crypto_key_has_private(private_copy));
  assert_int_equal(crypto_sign(private_copy, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_verify(key, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_key_export(private_copy, CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, again,
                                     sizeof again, &length),
                   0);
  assert_int_equal(length, public_length);
  assert_memory_equal(again, public_der, length);

  /* The public key verifies and cannot sign. */
  assert_int_equal(
      crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, public_der, public_length, &public_copy),
      0);
  assert_false(crypto_key_has_private(public_copy));
  assert_int_equal(crypto_verify(public_copy, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_sign(public_copy, receipt, sizeof receipt, signature),
                   CRYPTO_ERR_NO_PRIVATE_KEY);
  assert_int_equal(crypto_key_export(public_copy, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, again,
                                     sizeof again, &length),
                   CRYPTO_ERR_NO_PRIVATE_KEY);

  crypto_key_free(key);
  crypto_key_free(private_copy);
  crypto_key_free(public_copy);
}

static void test_key_pem_round_trip(void **state)
{
  (void)state;
  crypto_key_t *key = NULL, *private_copy = NULL, *public_copy = NULL;
  uint8_t private_pem[1024], public_pem[1024];
  uint8_t signature[CRYPTO_SIGNATURE_SIZE];
  size_t private_length = 0, public_length = 0, length = 0;

  assert_int_equal(crypto_key_generate(&key), 0);
  assert_int_equal(
      crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_PEM, NULL, 0, &private_length),
      CRYPTO_ERR_NO_SPACE);
  /* PEM needs room for its NUL. */
  assert_int_equal(crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_PEM, private_pem,
                                     private_length, &length),
                   CRYPTO_ERR_NO_SPACE);
  assert_int_equal(crypto_key_export(key, CRYPTO_KEY_PRIVATE, CRYPTO_KEY_PEM, private_pem,
                                     private_length + 1, &length),
                   0);
  assert_int_equal(strlen((const char *)private_pem), private_length);
  assert_non_null(strstr((const char *)private_pem, "-----BEGIN PRIVATE KEY-----"));
  assert_int_equal(crypto_key_export(key, CRYPTO_KEY_PUBLIC, CRYPTO_KEY_PEM, public_pem,
                                     sizeof public_pem, &public_length),
                   0);
  assert_non_null(strstr((const char *)public_pem, "-----BEGIN PUBLIC KEY-----"));

  assert_int_equal(crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_PEM, private_pem,
                                     private_length, &private_copy),
                   0);
  assert_int_equal(
      crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_PEM, public_pem, public_length, &public_copy),
      0);
  assert_int_equal(crypto_sign(private_copy, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_verify(public_copy, receipt, sizeof receipt, signature), 0);
  assert_int_equal(crypto_verify(key, receipt, sizeof receipt, signature), 0);

  crypto_key_free(key);
  crypto_key_free(private_copy);
  crypto_key_free(public_copy);
}

/* A P-256 public key and an encrypted P-256 private key, made with
** `openssl ecparam` and `openssl pkcs8 -topk8`: keys of the wrong kind. */
static const char p256_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFd0RqOk8KXzDnUruIH06urtqkm/m\n"
    "1RZvTuXla6VdAGoahPUAssxO9+odAldNTkILcUC2XA/oqsexTkEEOokN5A==\n"
    "-----END PUBLIC KEY-----\n";
static const char encrypted_pem[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAirY/gTumzqawICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEE6lXVO0T6xGxgMIalfESasEgZDX\n"
    "7aY/HWZWg3w+hzTKXHvvOMmHtzF4jEutEI3HQ1qhxTE4rDOLk41FDRKFesqX0jLw\n"
    "nBgtPqFPs8rhao3vgrbwlVd/JfI2ZtqkuZFd/pexGK6hkYRPVMS6a7P2UIXCflf/\n"
    "9UfuG8qVmKKTp7qrHpIIKPPBOptONa6vZOrz+dXiWBwsI2TJH1W3Zli/rvecEdg=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

static void test_key_import_refusals(void **state)
{
  (void)state;
  crypto_key_t *key = NULL, *copy = (crypto_key_t *)(uintptr_t)1;
  uint8_t der[512];
  size_t length = 0;

  assert_int_equal(crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_PEM,
                                     (const uint8_t *)p256_public_pem, strlen(p256_public_pem),
                                     &copy),
                   CRYPTO_ERR_WRONG_KEY_TYPE);
  assert_null(copy);
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_PEM,
                                     (const uint8_t *)encrypted_pem, strlen(encrypted_pem), &copy),
                   CRYPTO_ERR_BAD_KEY);
  assert_int_equal(
      crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, (const uint8_t *)"not a key", 9, &copy),
      CRYPTO_ERR_BAD_KEY);
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, der, 0, &copy),
                   CRYPTO_ERR_ARGUMENT);

  assert_int_equal(crypto_key_generate(&key), 0);
  assert_int_equal(
      crypto_key_export(key, CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, der, sizeof der - 1, &length), 0);
  /* Cut short, or with a byte too many, or taken for a private key. */
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, der, length - 1, &copy),
                   CRYPTO_ERR_BAD_KEY);
  der[length] = 0;
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, der, length + 1, &copy),
                   CRYPTO_ERR_BAD_KEY);
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PRIVATE, CRYPTO_KEY_DER, der, length, &copy),
                   CRYPTO_ERR_BAD_KEY);
  assert_null(copy);
  assert_int_equal(crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, der, length, &copy), 0);
  crypto_key_free(copy);
  crypto_key_free(key);
}

/* Last: takes the engine down and brings it back. */
static void test_shutdown_and_init_again(void **state)
{
  (void)state;
  uint8_t before[32], after[32];
  assert_int_equal(crypto_init(), 0); /* a second init is harmless */
  assert_int_equal(crypto_streebog256(receipt, sizeof receipt, before), 0);
  crypto_shutdown();
  assert_int_equal(crypto_streebog256(receipt, sizeof receipt, after), CRYPTO_ERR_NOT_INITIALIZED);
  crypto_shutdown();
  assert_int_equal(crypto_init(), 0);
  assert_int_equal(crypto_streebog256(receipt, sizeof receipt, after), 0);
  assert_memory_equal(before, after, sizeof after);
  /* A key kept before the shutdown is not used with the new engine. */
  uint8_t key[32] = {1, 2, 3};
  assert_int_equal(crypto_hmac_streebog256(key, sizeof key, receipt, sizeof receipt, before), 0);
  crypto_shutdown();
  assert_int_equal(crypto_init(), 0);
  assert_int_equal(crypto_hmac_streebog256(key, sizeof key, receipt, sizeof receipt, after), 0);
  assert_memory_equal(before, after, sizeof after);
  crypto_shutdown();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      /* Must stay first: it needs the engine not yet loaded. */
      cmocka_unit_test(test_engine_missing_is_explained),
      cmocka_unit_test(test_error_texts),
      cmocka_unit_test_setup(test_streebog_rfc6986, setup_crypto),
      cmocka_unit_test_setup(test_hmac_rfc7836, setup_crypto),
      cmocka_unit_test_setup(test_hmac_kept_keys, setup_crypto),
      cmocka_unit_test_setup(test_digest_arguments, setup_crypto),
      cmocka_unit_test_setup(test_sign_and_verify, setup_crypto),
      cmocka_unit_test_setup(test_wrong_key_fails, setup_crypto),
      cmocka_unit_test_setup(test_key_der_round_trip, setup_crypto),
      cmocka_unit_test_setup(test_key_pem_round_trip, setup_crypto),
      cmocka_unit_test_setup(test_key_import_refusals, setup_crypto),
      cmocka_unit_test_setup(test_shutdown_and_init_again, setup_crypto),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
