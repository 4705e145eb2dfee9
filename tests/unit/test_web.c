/*
** test_web.c: the pages of `kassa serve` (the cashier and manager screens,
** pos/serve/web) as api_handle() answers them, without a network: which path is
** a page, the file each page path names, its Content-Type and bytes, and
** above all that no request reaches outside the pages' folder: "..",
** dot files, sub-folders, a symbolic link planted in the folder, a folder
** or a FIFO named like a page, upper case, unknown extensions, NUL and
** percent signs are all 404, and a secret file beside the folder is never
** in any answer. Pages need no API token but keep the Host gate; they are
** GET only. The shipped pos/serve/web is served too, every file it names.
** tests/browser/run.py repeats the traversal over real HTTP (where
** libmicrohttpd decodes %2e%2e first) and drives the pages in chromium.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "pos/serve/api.h"
#include "pos/till/config.h"
#include "pos/till/till.h"
#include "tests/support/fn_fixture.h"

#define FN_NUMBER "9999078900012398"
#define TOKEN     "web-token"
#define PORT      8780

static const char index_html[] = "<!doctype html><title>index</title>\n";
static const char manager_html[] = "<!doctype html><title>manager</title>\n";
static const char app_css[] = "body{color:red}\n";
static const char app_js[] = "'use strict';\n";
static const unsigned char logo_png[] = {0x89, 'P', 'N', 'G', 0, 0, 0x1a, 0x0a, 0, 1, 2, 3};
static const char secret[] = "TOP-SECRET-beside-the-pages";

typedef struct fixture {
  fn_fixture_t fx;
  char root[64]; /* holds web/ and secret.txt beside it */
  char web[96];
  kassa_config_t cfg;
  till_t *till;
  api_t *api;
} fixture_t;

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* A till whose [paths] web is web_dir ("" for none, NULL for a folder of
** test files made here, with traps beside and inside it). */
static int open_fixture(void **state, const char *web_dir)
{
  fixture_t *f = calloc(1, sizeof *f);
  char err[512], path[256], target[256];
  if (!f || crypto_init() != 0 || fn_fixture_create(&f->fx, "web", FN_NUMBER, 1793000000u) != 0)
    return -1;
  fn_free(f->fx.fn);
  f->fx.fn = NULL;
  snprintf(f->root, sizeof f->root, "/tmp/kassa-webroot-XXXXXX");
  if (!mkdtemp(f->root)) return -1;
  snprintf(f->web, sizeof f->web, "%s/web", f->root);
  if (mkdir(f->web, 0700) != 0) return -1;
  put_file(f->root, "secret.txt", secret, strlen(secret));
  put_file(f->web, "index.html", index_html, strlen(index_html));
  put_file(f->web, "manager.html", manager_html, strlen(manager_html));
  put_file(f->web, "app.css", app_css, strlen(app_css));
  put_file(f->web, "app.js", app_js, strlen(app_js));
  put_file(f->web, "logo.png", logo_png, sizeof logo_png);
  put_file(f->web, ".hidden.txt", secret, strlen(secret));
  /* Traps named like pages: a link out of the folder, a folder, a FIFO,
  ** a file over the size limit (sparse). */
  snprintf(target, sizeof target, "%s/secret.txt", f->root);
  snprintf(path, sizeof path, "%s/link.txt", f->web);
  if (symlink(target, path) != 0) return -1;
  snprintf(path, sizeof path, "%s/dir.html", f->web);
  if (mkdir(path, 0700) != 0) return -1;
  snprintf(path, sizeof path, "%s/pipe.html", f->web);
  if (mkfifo(path, 0600) != 0) return -1;
  snprintf(path, sizeof path, "%s/big.txt", f->web);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, (off_t)API_PAGE_MAX + 1) != 0 || close(fd) != 0) return -1;

  kassa_config_defaults(&f->cfg);
  snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->fx.dir);
  snprintf(f->cfg.api_token, sizeof f->cfg.api_token, "%s", TOKEN);
  snprintf(f->cfg.web_dir, sizeof f->cfg.web_dir, "%s", web_dir ? web_dir : f->web);
  till_options_t to = {.config = &f->cfg};
  if (till_open(&to, &f->till, err, sizeof err) != 0) {
    fprintf(stderr, "till_open: %s\n", err);
    return -1;
  }
  api_options_t ao = {.till = f->till};
  if (api_create(&ao, &f->api) != 0) return -1;
  *state = f;
  return 0;
}

static int setup(void **state) { return open_fixture(state, NULL); }
static int setup_no_pages(void **state) { return open_fixture(state, ""); }
static int setup_shipped(void **state) { return open_fixture(state, "pos/serve/web"); }

static int teardown(void **state)
{
  fixture_t *f = *state;
  static const char *const till_files[] = {"cache.db", "cache.db-wal", "cache.db-shm",
                                           "till.db",  "till.db-wal",  "till.db-shm"};
  static const char *const web_files[] = {"index.html", "manager.html", "app.css",
                                          "app.js",     "logo.png",     ".hidden.txt",
                                          "link.txt",   "pipe.html",    "big.txt"};
  char path[256];
  api_destroy(f->api);
  till_close(f->till);
  for (size_t i = 0; i < sizeof till_files / sizeof till_files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", f->fx.dir, till_files[i]);
    unlink(path);
  }
  for (size_t i = 0; i < sizeof web_files / sizeof web_files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", f->web, web_files[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/dir.html", f->web);
  rmdir(path);
  rmdir(f->web);
  snprintf(path, sizeof path, "%s/secret.txt", f->root);
  unlink(path);
  rmdir(f->root);
  fn_fixture_destroy(&f->fx);
  free(f);
  return 0;
}

/* GET (or method) path from the loopback, without a token. */
static void request(fixture_t *f, const char *method, const char *path, const char *host,
                    api_response_t *rs)
{
  api_request_t rq = {.method = method, .path = path, .host = host, .port = PORT};
  api_handle(f->api, &rq, rs);
}

static void expect_page(fixture_t *f, const char *path, const char *type, const void *data,
                        size_t len)
{
  api_response_t rs;
  request(f, "GET", path, "127.0.0.1:8780", &rs);
  assert_int_equal(rs.status, 200);
  assert_true(rs.page);
  assert_non_null(rs.content_type);
  assert_string_equal(rs.content_type, type);
  assert_int_equal(rs.body_len, len);
  assert_memory_equal(rs.body, data, len);
  assert_null(rs.error);
  api_response_free(&rs);
}

/* 404 for a page path, and never a byte of the secret. */
static void expect_missing(fixture_t *f, const char *path)
{
  api_response_t rs;
  request(f, "GET", path, "127.0.0.1:8780", &rs);
  if (rs.status != 404) fprintf(stderr, "path %s answered %u\n", path, rs.status);
  assert_int_equal(rs.status, 404);
  assert_true(rs.page);
  assert_string_equal(rs.content_type, "text/html; charset=utf-8");
  assert_non_null(rs.body);
  assert_null(strstr(rs.body, secret));
  assert_string_equal(rs.error, "not_found");
  api_response_free(&rs);
}

static void page_paths(void **state)
{
  (void)state;
  assert_true(api_is_page_path("/"));
  assert_true(api_is_page_path("/manager"));
  assert_true(api_is_page_path("/app.css"));
  assert_true(api_is_page_path("/apix"));
  assert_false(api_is_page_path("/api"));
  assert_false(api_is_page_path("/api/"));
  assert_false(api_is_page_path("/api/status"));
  assert_false(api_is_page_path("relative"));
  assert_false(api_is_page_path(NULL));
}

static void serves_pages_without_token(void **state)
{
  fixture_t *f = *state;
  expect_page(f, "/", "text/html; charset=utf-8", index_html, strlen(index_html));
  expect_page(f, "/index.html", "text/html; charset=utf-8", index_html, strlen(index_html));
  expect_page(f, "/manager", "text/html; charset=utf-8", manager_html, strlen(manager_html));
  expect_page(f, "/app.css", "text/css; charset=utf-8", app_css, strlen(app_css));
  expect_page(f, "/app.js", "text/javascript; charset=utf-8", app_js, strlen(app_js));
  /* Binary, with NUL bytes inside: body_len is what counts. */
  expect_page(f, "/logo.png", "image/png", logo_png, sizeof logo_png);
  /* The pages open no door to the API: it still wants the token. */
  api_response_t rs;
  request(f, "GET", "/api/status", "127.0.0.1:8780", &rs);
  assert_int_equal(rs.status, 401);
  assert_false(rs.page);
  assert_null(rs.content_type);
  api_response_free(&rs);
}

static void refuses_everything_else(void **state)
{
  fixture_t *f = *state;
  static const char *const paths[] = {
      "/../secret.txt",
      "/..",
      "/../web/index.html",
      "/./index.html",
      "//index.html",
      "/web/index.html",
      "/index.html/",
      "/index.html/..",
      "/.hidden.txt",
      "/link.txt",
      "/dir.html",
      "/pipe.html",
      "/INDEX.HTML",
      "/Index.html",
      "/index",
      "/index.",
      "/.html",
      "/index.html.bak",
      "/index.exe",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/a\\b.txt",
      "/-x.css",
      "/_x.css",
      "/x.c-ss",
      "/ index.html",
      "/index.html ",
      "/manager/",
      "/manager.htm",
      "/nothing.css",
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) expect_missing(f, paths[i]);
  /* Over the size limit: refused, not sent. */
  api_response_t rs;
  request(f, "GET", "/big.txt", "127.0.0.1", &rs);
  assert_int_equal(rs.status, 500);
  assert_string_equal(rs.error, "page");
  api_response_free(&rs);
  /* A name longer than any page is refused before the disk is asked. */
  char longname[200];
  memset(longname, 'a', sizeof longname);
  longname[0] = '/';
  memcpy(longname + sizeof longname - 6, ".html", 6);
  expect_missing(f, longname);
}

static void get_only_and_host(void **state)
{
  fixture_t *f = *state;
  static const char *const methods[] = {"POST", "PUT", "DELETE", "HEAD", "OPTIONS"};
  api_response_t rs;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    request(f, methods[i], "/", "localhost:8780", &rs);
    assert_int_equal(rs.status, 405);
    assert_string_equal(rs.allow, "GET");
    assert_string_equal(rs.error, "method_not_allowed");
    api_response_free(&rs);
  }
  /* DNS rebinding: a page of another name is refused like the API. */
  request(f, "GET", "/", "evil.example", &rs);
  assert_int_equal(rs.status, 403);
  assert_false(rs.page);
  assert_non_null(strstr(rs.body, "\"bad_host\""));
  api_response_free(&rs);
  request(f, "GET", "/manager", "127.0.0.1:9999", &rs);
  assert_int_equal(rs.status, 403);
  api_response_free(&rs);
}

static void no_pages_configured(void **state)
{
  fixture_t *f = *state;
  expect_missing(f, "/");
  expect_missing(f, "/manager");
  expect_missing(f, "/app.css");
}

/* The files in pos/serve/web: each page and everything they load is served as
** the file it is (the test runs from the source root). */
static void shipped_pages(void **state)
{
  fixture_t *f = *state;
  static const struct {
    const char *path, *file, *type;
  } shipped[] = {
      {"/", "pos/serve/web/index.html", "text/html; charset=utf-8"},
      {"/manager", "pos/serve/web/manager.html", "text/html; charset=utf-8"},
      {"/app.css", "pos/serve/web/app.css", "text/css; charset=utf-8"},
      {"/api.js", "pos/serve/web/api.js", "text/javascript; charset=utf-8"},
      {"/cashier.js", "pos/serve/web/cashier.js", "text/javascript; charset=utf-8"},
      {"/manager.js", "pos/serve/web/manager.js", "text/javascript; charset=utf-8"},
      {"/favicon.svg", "pos/serve/web/favicon.svg", "image/svg+xml"},
      {"/scan.svg", "pos/serve/web/scan.svg", "image/svg+xml"},
  };
  for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
    FILE *file = fopen(shipped[i].file, "rb");
    assert_non_null(file);
    char *data = malloc(API_PAGE_MAX);
    assert_non_null(data);
    size_t len = fread(data, 1, API_PAGE_MAX, file);
    fclose(file);
    assert_true(len > 0);
    expect_page(f, shipped[i].path, shipped[i].type, data, len);
    free(data);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(page_paths),
      cmocka_unit_test_setup_teardown(serves_pages_without_token, setup, teardown),
      cmocka_unit_test_setup_teardown(refuses_everything_else, setup, teardown),
      cmocka_unit_test_setup_teardown(get_only_and_host, setup, teardown),
      cmocka_unit_test_setup_teardown(no_pages_configured, setup_no_pages, teardown),
      cmocka_unit_test_setup_teardown(shipped_pages, setup_shipped, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
