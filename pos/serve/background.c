/*
** background.c: the sender, the scheduled sync and the key updates of
** `kassa serve` in one thread (see background.h for what and why).
**
** One thread, three tasks, one schedule: each task has the monotonic time
** it is next due; the thread sleeps on a condition variable until the
** earliest of them, a wake (a document was made) or the stop, runs what
** is due without holding any lock, and writes what happened into the
** task's record under the record lock, which the status page takes for a
** copy and nothing else takes for longer. A wake only moves the sender's
** due time to now, never earlier than the end of its backoff, so a dead
** operator sees one attempt per backoff step however busy the till is. A
** wake that comes while the sender runs is kept (`woken`): the run may
** have read the FN's status before the document the wake announces, so
** it runs once more when it ends instead of waiting for the interval.
**
** The clients (ofd/client.h) live as long as the thread, so their failure
** count, and with it the backoff, carries from one run to the next; their
** sleep is ours (wait_ms), which the stop cuts short.
*/
#include "pos/serve/background.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/errtab.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/client.h"
#include "ofd/registry.h"
#include "pos/till/cache.h"
#include "pos/till/sync.h"

#define KEYS_LOOK_MS      (60 * 60 * 1000) /* how often the keys' age is looked at */
#define SYNC_RETRY_MS     (60 * 1000)      /* the first retry of a failed sync */
#define ANSWER_TIMEOUT_MS 10000            /* an operator's answer; bounds the stop */
#define NEVER             (INT64_MAX / 2)  /* a due time that never comes */

/* What one task last did (read by the status page under b->lock). */
typedef struct task {
  bool enabled;
  bool running;
  bool woken; /* a wake came while it ran: what it read may be older than the wake's news */
  uint64_t runs;
  uint32_t failures;     /* in a row */
  int64_t last_run;      /* wall clock, epoch seconds; 0 never */
  int64_t last_success;  /* wall clock, epoch seconds; 0 never */
  int64_t due_ms;        /* monotonic */
  int64_t not_before_ms; /* monotonic: the end of a backoff; a wake waits for it */
  const char *error;     /* stable name of the last failure, NULL when it succeeded */
  char detail[200];      /* English, for the log and the manager; "" none */
  uint64_t count_a;      /* sender: documents; sync: codes; keys: keys loaded */
  uint64_t count_b;      /* sender: notifications */
} task_t;

struct background {
  kassa_config_t cfg;
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stopping;
  fn_t *fn;                          /* the thread's own connection to DATA/fn.db */
  dev_t fn_dev;                      /* which file that is: an FN replacement */
  ino_t fn_ino;                      /* (till_fn_replace) puts a new one there */
  ofd_tls_t *tls;                    /* [ofd] tls; NULL: plain TCP */
  ofd_client_t *ofd, *oism, *keysrv; /* persistent: their backoff carries over */
  task_t sender, sync, keys;
};

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on b->cond (b->lock held) until the monotonic deadline, a signal or
** a spurious wake-up; the caller looks at the state again. */
static void wait_until(background_t *b, int64_t deadline_ms)
{
  struct timespec now, ts;
  int64_t left = deadline_ms - mono_ms();
  if (left <= 0) return;
  if (left > 3600 * 1000) left = 3600 * 1000;
  clock_gettime(CLOCK_REALTIME, &now); /* pthread_cond_timedwait's clock */
  int64_t ns = (int64_t)now.tv_nsec + (left % 1000) * 1000000;
  ts.tv_sec = now.tv_sec + (time_t)(left / 1000) + (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  pthread_cond_timedwait(&b->cond, &b->lock, &ts);
}

/* The clients' sleep between retries: cut short by the stop. */
static void wait_ms(void *user, uint64_t ms)
{
  background_t *b = user;
  int64_t end = mono_ms() + (int64_t)ms;
  pthread_mutex_lock(&b->lock);
  while (!b->stopping && mono_ms() < end) wait_until(b, end);
  pthread_mutex_unlock(&b->lock);
}

static bool is_network(int rc)
{
  return rc == OFD_ERR_CONNECT || rc == OFD_ERR_TIMEOUT || rc == OFD_ERR_CLOSED ||
         rc == OFD_ERR_IO || rc == OFD_ERR_PROTOCOL || rc == OFD_ERR_RESOLVE || rc == OFD_ERR_TLS ||
         rc == OFD_ERR_BACKOFF;
}

static int make_client(background_t *b, uint16_t port, frame_profile_t profile, ofd_client_t **out)
{
  ofd_client_options_t o;
  ofd_client_options_init(&o);
  o.host = b->cfg.operator_host;
  o.port = port;
  o.profile = profile;
  o.answer_timeout_ms = ANSWER_TIMEOUT_MS;
  o.sleep = wait_ms;
  o.user = b;
  ofd_client_options_use_tls(&o, b->tls);
  return ofd_client_create(&o, out);
}

/* ---- the tasks (no lock held; each returns what goes into its record) ---- */

typedef struct outcome {
  const char *error; /* NULL: success */
  char detail[200];
  uint64_t a, b;
  int64_t retry_ms; /* after a failure: the wait before the next try */
} outcome_t;

static uint64_t larger(uint64_t x, uint64_t y) { return x > y ? x : y; }

/* Opens DATA/fn.db when it is not the file b->fn has open (the first time,
** and after an FN replacement moved the old one aside): the thread then
** delivers the new FN's documents. The old connection stays when the new
** file cannot be opened; 0 or a negative fn_err_t. */
static int follow_fn(background_t *b)
{
  char path[KASSA_PATH_MAX + 16];
  struct stat sb;
  fn_t *fn = NULL;
  snprintf(path, sizeof path, "%.*s/fn.db", KASSA_PATH_MAX, b->cfg.data_dir);
  if (stat(path, &sb) != 0) return b->fn ? 0 : FN_ERR_IO;
  if (b->fn && sb.st_dev == b->fn_dev && sb.st_ino == b->fn_ino) return 0;
  int rc = fn_emu_open(path, NULL, &fn);
  if (rc != 0) return b->fn ? 0 : rc;
  fn_free(b->fn);
  b->fn = fn;
  b->fn_dev = sb.st_dev;
  b->fn_ino = sb.st_ino;
  return 0;
}

/* Documents to the OFD, then notifications to the OISM (both run: a dead
** OFD must not hold back the OISM). */
static void run_sender(background_t *b, outcome_t *out)
{
  fn_status_t st;
  ofd_delivery_stats_t ds;
  int rc;
  follow_fn(b);
  if ((rc = fn_status(b->fn, &st)) != 0) {
    out->error = "fn";
    snprintf(out->detail, sizeof out->detail, "the FN did not answer: %s", fn_err_name(rc));
    out->retry_ms = OFD_BACKOFF_BASE_MS;
    return;
  }
  if (st.autonomous) return; /* no OFD; notifications go in batches */
  if (st.unsent_documents > 0) {
    memset(&ds, 0, sizeof ds);
    rc = ofd_deliver_documents(b->fn, b->ofd, NULL, NULL, &ds);
    out->a += ds.delivered;
    if (rc != 0) {
      out->error = ofd_err_name(rc);
      snprintf(out->detail, sizeof out->detail, "OFD %.64s:%u: %s at document %u, %u still owed",
               b->cfg.operator_host, (unsigned)b->cfg.operator_ofd_port, ofd_err_name(rc),
               ds.stopped_at, ds.remaining);
      if (rc == OFD_ERR_TLS && b->tls && ofd_tls_last_error(b->tls)[0])
        snprintf(out->detail, sizeof out->detail, "OFD: %.180s", ofd_tls_last_error(b->tls));
      out->retry_ms = (int64_t)larger(ofd_client_backoff_ms(b->ofd),
                                      is_network(rc) ? OFD_BACKOFF_BASE_MS : 60000);
    }
  }
  if (st.unsent_notifications > 0) {
    memset(&ds, 0, sizeof ds);
    rc = ofd_deliver_notifications(b->fn, b->oism, NULL, NULL, &ds);
    out->b += ds.delivered;
    if (rc != 0) {
      out->error = ofd_err_name(rc);
      snprintf(out->detail, sizeof out->detail,
               "OISM %.64s:%u: %s at notification %u, %u still owed", b->cfg.operator_host,
               (unsigned)b->cfg.operator_oism_port, ofd_err_name(rc), ds.stopped_at, ds.remaining);
      out->retry_ms = (int64_t)larger(
          larger(ofd_client_backoff_ms(b->oism), is_network(rc) ? OFD_BACKOFF_BASE_MS : 60000),
          (uint64_t)out->retry_ms);
    }
  }
}

/* The cache from the operator's feed, resuming as `kassa cache sync` does. */
static void run_sync(background_t *b, outcome_t *out)
{
  char path[KASSA_PATH_MAX + 16], url[512], stored[CACHE_CURSOR_MAX + 1], owner[16] = "";
  char seq[REGISTRY_CURSOR_MAX + 1] = "0";
  registry_options_t ro;
  registry_t *reg = NULL;
  cache_t *c = NULL;
  sync_result_t res;
  int rc;
  snprintf(path, sizeof path, "%.*s/cache.db", KASSA_PATH_MAX, b->cfg.data_dir);
  kassa_config_operator_url(&b->cfg, url, sizeof url);
  memset(&ro, 0, sizeof ro);
  ro.url = url;
  ro.api_key = b->cfg.trueapi_api_key;
  if (b->cfg.store_url[0]) { /* a lane of a store: the node's feed has every lane's sales */
    snprintf(url, sizeof url, "%s", b->cfg.store_url);
    ro.api_key = b->cfg.store_token;
  }
  if ((rc = registry_create(&ro, &reg)) != 0 || (rc = cache_open(path, &c)) != 0) {
    out->error = "setup";
    snprintf(out->detail, sizeof out->detail, "cannot open the cache or the feed (%d)", rc);
    goto done;
  }
  if (cache_sync_state(c, stored, sizeof stored, NULL) == 0 && stored[0] &&
      !sync_cursor_split(stored, owner, sizeof owner, seq, sizeof seq))
    snprintf(seq, sizeof seq, "0");
  if (!strcmp(owner, SYNC_OWNER_ALL)) owner[0] = '\0';
  memset(&res, 0, sizeof res);
  rc = sync_run(c, reg, owner, seq, 0, NULL, NULL, &res);
  out->a = res.codes;
  if (rc == SYNC_ERR_FEED) {
    out->error = registry_err_name(res.feed_rc);
    /* The feed's words may be Russian: cut at a character, never inside
    ** one (the status page's JSON would drop the whole task). */
    errtab_format(NULL, 0, out->detail, sizeof out->detail, "", "%.64s: %s", url,
                  registry_last_error(reg));
  } else if (rc == SYNC_ERR_CACHE) {
    out->error = "cache";
    snprintf(out->detail, sizeof out->detail, "the cache refused a page: %s",
             cache_err_name(res.cache_rc));
  } else if (rc != 0) {
    out->error = "sync";
    snprintf(out->detail, sizeof out->detail, "sync failed (%d)", rc);
  }
done:
  cache_close(c);
  registry_destroy(reg);
}

/* Keys once they are old (or missing); *looked says whether it asked. */
static void run_keys(background_t *b, outcome_t *out, bool *asked)
{
  fn_status_t st;
  size_t n = 0;
  int rc;
  *asked = false;
  follow_fn(b);
  if ((rc = fn_status(b->fn, &st)) != 0) {
    out->error = "fn";
    snprintf(out->detail, sizeof out->detail, "the FN did not answer: %s", fn_err_name(rc));
    out->retry_ms = KEYS_LOOK_MS;
    return;
  }
  uint32_t age = st.now > st.keys_updated_at ? st.now - st.keys_updated_at : 0;
  if (fn_capabilities(b->fn) & FN_CAP_DEVICE_KEYS) return; /* the register loads its own */
  if (!st.marking || (st.keys_updated_at != 0 && age < b->cfg.keys_refresh_days * 86400u)) return;
  *asked = true;
  rc = ofd_keys_update(b->fn, b->keysrv, &n);
  out->a = n;
  if (rc != 0) {
    out->error = ofd_err_name(rc);
    snprintf(out->detail, sizeof out->detail, "key server %.64s:%u: %s", b->cfg.operator_host,
             (unsigned)b->cfg.operator_keys_port, ofd_err_name(rc));
    out->retry_ms = (int64_t)larger(ofd_client_backoff_ms(b->keysrv), OFD_BACKOFF_BASE_MS);
  }
}

/* ---- the schedule -------------------------------------------------------- */

/* Task t due now, or at the end of its backoff, if not due sooner
** (b->lock held). */
static void due_now(task_t *t, int64_t now_ms)
{
  int64_t when = t->not_before_ms > now_ms ? t->not_before_ms : now_ms;
  if (when < t->due_ms) t->due_ms = when;
}

/* Writes an outcome into its task (b->lock held). */
static void record(task_t *t, const outcome_t *o, int64_t now_ms, int64_t next_ok_ms)
{
  t->running = false;
  t->runs++;
  t->last_run = (int64_t)time(NULL);
  t->error = o->error;
  snprintf(t->detail, sizeof t->detail, "%s", o->error ? o->detail : "");
  if (o->error) {
    t->failures++;
    t->due_ms = t->not_before_ms = now_ms + (o->retry_ms > 0 ? o->retry_ms : 1000);
  } else {
    t->failures = 0;
    t->last_success = t->last_run;
    t->not_before_ms = 0;
    t->due_ms = next_ok_ms;
  }
}

static void *thread_main(void *arg)
{
  background_t *b = arg;
  pthread_mutex_lock(&b->lock);
  while (!b->stopping) {
    int64_t now = mono_ms();
    task_t *due = NULL;
    task_t *tasks[] = {&b->sender, &b->keys, &b->sync}; /* in order of urgency */
    int64_t earliest = NEVER;
    for (size_t i = 0; i < 3; i++) {
      if (!tasks[i]->enabled) continue;
      if (!due && tasks[i]->due_ms <= now) due = tasks[i];
      if (tasks[i]->due_ms < earliest) earliest = tasks[i]->due_ms;
    }
    if (!due) {
      wait_until(b, earliest);
      continue;
    }
    due->running = true;
    due->woken = false;
    pthread_mutex_unlock(&b->lock);

    outcome_t o;
    bool asked = true;
    int64_t next_ok;
    memset(&o, 0, sizeof o);
    if (due == &b->sender) {
      run_sender(b, &o);
      next_ok = mono_ms() + (int64_t)b->cfg.send_interval_s * 1000;
    } else if (due == &b->sync) {
      run_sync(b, &o);
      int64_t interval = b->cfg.store_url[0] ? (int64_t)b->cfg.store_sync_ms
                                             : (int64_t)b->cfg.sync_interval_min * 60000;
      if (o.error) {
        /* A minute, doubling with each failure, at most the interval. */
        int64_t retry = SYNC_RETRY_MS << (b->sync.failures < 10 ? b->sync.failures : 10);
        o.retry_ms = retry < interval ? retry : interval;
      }
      next_ok = mono_ms() + interval;
    } else {
      run_keys(b, &o, &asked);
      next_ok = mono_ms() + KEYS_LOOK_MS;
    }

    pthread_mutex_lock(&b->lock);
    if (due == &b->sender) {
      b->sender.count_a += o.a;
      b->sender.count_b += o.b;
    } else {
      due->count_a += o.a;
    }
    if (asked || o.error) {
      record(due, &o, mono_ms(), next_ok);
    } else { /* nothing to do yet: look again later, the record unchanged */
      due->running = false;
      due->due_ms = next_ok;
    }
    /* A wake while it ran (a sale closed after it read the FN's status,
    ** its notification unseen): once more as soon as a backoff allows,
    ** not at the next interval. */
    if (due->woken) {
      due->woken = false;
      due_now(due, mono_ms());
    }
  }
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

/* ---- the public functions ---------------------------------------------- */

int background_start(const kassa_config_t *config, background_t **out, char *err, size_t err_size)
{
  background_t *b = NULL;
  char detail[256] = "";
  int rc;
  if (out) *out = NULL;
  if (!config || !out || !err || err_size == 0) return -1;
  err[0] = '\0';
  if (!config->background) return 0;
  if (!(b = calloc(1, sizeof *b))) {
    snprintf(err, err_size, "Недостаточно памяти. / Out of memory.");
    return -1;
  }
  b->cfg = *config;
  if (pthread_mutex_init(&b->lock, NULL) != 0) {
    free(b);
    snprintf(err, err_size, "Не удалось создать блокировку. / Cannot create the lock.");
    return -1;
  }
  pthread_cond_init(&b->cond, NULL);
  if ((rc = follow_fn(b)) != 0) {
    snprintf(err, err_size,
             "Фоновая передача: ФН не открывается (%s). / Background delivery: cannot open the "
             "FN (%s).",
             fn_err_name(rc), fn_err_name(rc));
    goto fail;
  }
  if (config->ofd_tls) {
    ofd_tls_options_t to = {config->ofd_ca_file[0] ? config->ofd_ca_file : NULL, NULL};
    if (ofd_tls_create(&to, &b->tls, detail, sizeof detail) != 0) {
      snprintf(err, err_size, "TLS: %s / TLS: %s", detail, detail);
      goto fail;
    }
  }
  if (make_client(b, config->operator_ofd_port, FRAME_PROFILE_OFD, &b->ofd) != 0 ||
      make_client(b, config->operator_oism_port, FRAME_PROFILE_OISM, &b->oism) != 0 ||
      make_client(b, config->operator_keys_port, FRAME_PROFILE_KEYS, &b->keysrv) != 0) {
    snprintf(err, err_size,
             "Фоновая передача: неверный адрес оператора ([operator]). / Background delivery: "
             "bad operator address ([operator]).");
    goto fail;
  }
  int64_t now = mono_ms();
  b->sender.enabled = true;
  b->sender.due_ms = now;
  b->keys.enabled = config->keys_refresh_days > 0;
  b->keys.due_ms = now;
  b->sync.enabled =
      config->store_url[0] ? config->store_sync_ms > 0 : config->sync_interval_min > 0;
  b->sync.due_ms = now;
  if (pthread_create(&b->thread, NULL, thread_main, b) != 0) {
    snprintf(err, err_size, "Не удалось запустить поток. / Cannot start the thread.");
    goto fail;
  }
  b->thread_started = true;
  *out = b;
  return 0;
fail:
  background_stop(b);
  return -1;
}

void background_wake(background_t *b)
{
  if (!b) return;
  pthread_mutex_lock(&b->lock);
  due_now(&b->sender, mono_ms());
  if (b->sender.running) b->sender.woken = true; /* the run's end would set due_ms again */
  pthread_cond_signal(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

/* One task's record as JSON (b->lock held). */
static json_t *task_json(const task_t *t, int64_t now_ms, const char *a, const char *bname)
{
  int64_t next = t->due_ms > now_ms ? (t->due_ms - now_ms + 999) / 1000 : 0;
  const char *state = !t->enabled   ? "off"
                      : t->running  ? "running"
                      : t->failures ? "waiting"
                                    : "idle";
  json_t *j =
      json_pack("{s:s,s:I,s:I,s:I,s:I,s:s?,s:s?,s:I}", "state", state, "runs", (json_int_t)t->runs,
                "failures", (json_int_t)t->failures, "last_run", (json_int_t)t->last_run,
                "last_success", (json_int_t)t->last_success, "last_error", t->error, "detail",
                t->detail[0] ? t->detail : NULL, "next_in_s", (json_int_t)(t->enabled ? next : 0));
  if (j && a) json_object_set_new(j, a, json_integer((json_int_t)t->count_a));
  if (j && bname) json_object_set_new(j, bname, json_integer((json_int_t)t->count_b));
  return j;
}

json_t *background_status_json(background_t *b)
{
  if (!b) return json_pack("{s:b}", "enabled", 0);
  json_t *warnings = json_array();
  pthread_mutex_lock(&b->lock);
  int64_t now = mono_ms();
  json_t *j = json_pack("{s:b,s:o*,s:o*,s:o*}", "enabled", 1, "sender",
                        task_json(&b->sender, now, "documents", "notifications"), "sync",
                        task_json(&b->sync, now, "codes", NULL), "keys",
                        task_json(&b->keys, now, "keys", NULL));
  if (warnings && b->sender.failures >= 3)
    json_array_append_new(warnings,
                          json_string("Документы не уходят оператору: проверьте связь. / "
                                      "Documents are not reaching the operator: check the link."));
  if (warnings && b->sync.failures >= 3)
    json_array_append_new(warnings,
                          json_string("Синхронизация кэша кодов не удаётся. / The scheduled "
                                      "code-cache sync keeps failing."));
  if (warnings && b->keys.failures >= 3)
    json_array_append_new(warnings,
                          json_string("Ключи проверки не обновляются: проверьте связь. / The "
                                      "verification keys cannot be updated: check the link."));
  pthread_mutex_unlock(&b->lock);
  if (j)
    json_object_set_new(j, "warnings", warnings);
  else
    json_decref(warnings);
  return j;
}

void background_stop(background_t *b)
{
  if (!b) return;
  if (b->thread_started) {
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
  }
  ofd_client_destroy(b->ofd);
  ofd_client_destroy(b->oism);
  ofd_client_destroy(b->keysrv);
  ofd_tls_destroy(b->tls);
  fn_free(b->fn);
  pthread_cond_destroy(&b->cond);
  pthread_mutex_destroy(&b->lock);
  free(b);
}
