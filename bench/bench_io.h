/*
** bench_io.h: what a durable write costs, counted where SQLite does it.
**
** A benchmark of receipts per second means little without the disk under
** it: the same code makes 40 receipts a second on a shared VM whose flush
** takes 20 ms and thousands on an NVMe drive. So the receipt benchmark
** measures, in the same run and the same directory, the disk's rate of
** fdatasync (4 KiB rewritten and flushed, as SQLite's WAL commit does), and
** reports receipts/s as a share of it.
**
** It also counts what the till asks of the disk: bench_io_install() makes a
** shim the default SQLite VFS, which passes every call to the real one and
** counts xSync (a flush: fsync/fdatasync of a database or its WAL), the
** wall time spent in it (waiting for the disk) and the bytes of xWrite, per
** file kind (main database, WAL). The counters are process-wide; read them
** before and after the work measured.
*/
#ifndef KASSA_BENCH_IO_H
#define KASSA_BENCH_IO_H

#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The till's files, by name: what each costs. */
enum { BENCH_IO_FN, BENCH_IO_CACHE, BENCH_IO_TILL, BENCH_IO_OTHER, BENCH_IO__FILES };
static const char *const bench_io_names[BENCH_IO__FILES] = {"fn.db", "cache.db", "till.db",
                                                            "other"};

typedef struct bench_io_counts {
  uint64_t syncs;                       /* xSync calls: flushes to the disk   */
  uint64_t bytes;                       /* bytes passed to xWrite, every file */
  uint64_t wal_bytes;                   /* of which to a WAL                  */
  uint64_t db_bytes;                    /* of which to a main database file   */
  uint64_t file_syncs[BENCH_IO__FILES]; /* per file of the till, its WAL included */
  uint64_t file_bytes[BENCH_IO__FILES];
  double sync_seconds; /* wall time inside xSync: waiting for the disk */
  double file_sync_seconds[BENCH_IO__FILES];
} bench_io_counts_t;

static bench_io_counts_t bench_io;
static sqlite3_vfs *bench_io_real, bench_io_vfs;

/* A file of the shim: the real file's object follows this header. */
typedef struct bench_io_file {
  sqlite3_file base;
  int kind; /* 1 main db, 2 WAL, 0 other */
  int file; /* BENCH_IO_FN … */
  sqlite3_file *real;
} bench_io_file_t;

#define BENCH_IO_REAL(f) (((bench_io_file_t *)(f))->real)

static int bench_io_close(sqlite3_file *f)
{
  int rc = BENCH_IO_REAL(f)->pMethods ? BENCH_IO_REAL(f)->pMethods->xClose(BENCH_IO_REAL(f)) : 0;
  sqlite3_free(BENCH_IO_REAL(f));
  return rc;
}
static int bench_io_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
  return BENCH_IO_REAL(f)->pMethods->xRead(BENCH_IO_REAL(f), b, n, o);
}
static int bench_io_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
  bench_io.bytes += (uint64_t)n;
  bench_io.file_bytes[((bench_io_file_t *)f)->file] += (uint64_t)n;
  if (((bench_io_file_t *)f)->kind == 2) bench_io.wal_bytes += (uint64_t)n;
  if (((bench_io_file_t *)f)->kind == 1) bench_io.db_bytes += (uint64_t)n;
  return BENCH_IO_REAL(f)->pMethods->xWrite(BENCH_IO_REAL(f), b, n, o);
}
static int bench_io_truncate(sqlite3_file *f, sqlite3_int64 size)
{
  return BENCH_IO_REAL(f)->pMethods->xTruncate(BENCH_IO_REAL(f), size);
}
static int bench_io_sync(sqlite3_file *f, int flags)
{
  struct timespec a, b;
  bench_io.syncs++;
  bench_io.file_syncs[((bench_io_file_t *)f)->file]++;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int rc = BENCH_IO_REAL(f)->pMethods->xSync(BENCH_IO_REAL(f), flags);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double spent = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  bench_io.sync_seconds += spent;
  bench_io.file_sync_seconds[((bench_io_file_t *)f)->file] += spent;
  return rc;
}
static int bench_io_size(sqlite3_file *f, sqlite3_int64 *size)
{
  return BENCH_IO_REAL(f)->pMethods->xFileSize(BENCH_IO_REAL(f), size);
}
static int bench_io_lock(sqlite3_file *f, int l)
{
  return BENCH_IO_REAL(f)->pMethods->xLock(BENCH_IO_REAL(f), l);
}
static int bench_io_unlock(sqlite3_file *f, int l)
{
  return BENCH_IO_REAL(f)->pMethods->xUnlock(BENCH_IO_REAL(f), l);
}
static int bench_io_check(sqlite3_file *f, int *out)
{
  return BENCH_IO_REAL(f)->pMethods->xCheckReservedLock(BENCH_IO_REAL(f), out);
}
static int bench_io_control(sqlite3_file *f, int op, void *arg)
{
  return BENCH_IO_REAL(f)->pMethods->xFileControl(BENCH_IO_REAL(f), op, arg);
}
static int bench_io_sector(sqlite3_file *f)
{
  return BENCH_IO_REAL(f)->pMethods->xSectorSize(BENCH_IO_REAL(f));
}
static int bench_io_chars(sqlite3_file *f)
{
  return BENCH_IO_REAL(f)->pMethods->xDeviceCharacteristics(BENCH_IO_REAL(f));
}
static int bench_io_shm_map(sqlite3_file *f, int i, int size, int extend, void volatile **p)
{
  return BENCH_IO_REAL(f)->pMethods->xShmMap(BENCH_IO_REAL(f), i, size, extend, p);
}
static int bench_io_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
  return BENCH_IO_REAL(f)->pMethods->xShmLock(BENCH_IO_REAL(f), offset, n, flags);
}
static void bench_io_shm_barrier(sqlite3_file *f)
{
  BENCH_IO_REAL(f)->pMethods->xShmBarrier(BENCH_IO_REAL(f));
}
static int bench_io_shm_unmap(sqlite3_file *f, int del)
{
  return BENCH_IO_REAL(f)->pMethods->xShmUnmap(BENCH_IO_REAL(f), del);
}
static int bench_io_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{
  return BENCH_IO_REAL(f)->pMethods->xFetch(BENCH_IO_REAL(f), o, n, p);
}
static int bench_io_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
  return BENCH_IO_REAL(f)->pMethods->xUnfetch(BENCH_IO_REAL(f), o, p);
}

static const sqlite3_io_methods bench_io_methods = {
    3,
    bench_io_close,
    bench_io_read,
    bench_io_write,
    bench_io_truncate,
    bench_io_sync,
    bench_io_size,
    bench_io_lock,
    bench_io_unlock,
    bench_io_check,
    bench_io_control,
    bench_io_sector,
    bench_io_chars,
    bench_io_shm_map,
    bench_io_shm_lock,
    bench_io_shm_barrier,
    bench_io_shm_unmap,
    bench_io_fetch,
    bench_io_unfetch,
};

static int bench_io_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                         int *out_flags)
{
  (void)vfs;
  bench_io_file_t *shim = (bench_io_file_t *)f;
  shim->real = sqlite3_malloc(bench_io_real->szOsFile);
  shim->kind = flags & SQLITE_OPEN_MAIN_DB ? 1 : flags & SQLITE_OPEN_WAL ? 2 : 0;
  shim->file = BENCH_IO_OTHER;
  for (int k = 0; name && k < BENCH_IO_OTHER; k++) {
    const char *at = strstr(name, bench_io_names[k]);
    if (at && (at == name || at[-1] == '/')) shim->file = k;
  }
  f->pMethods = NULL;
  if (!shim->real) return SQLITE_NOMEM;
  memset(shim->real, 0, (size_t)bench_io_real->szOsFile);
  int rc = bench_io_real->xOpen(bench_io_real, name, shim->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    sqlite3_free(shim->real);
    return rc;
  }
  f->pMethods = &bench_io_methods;
  return SQLITE_OK;
}

/* Make the counting shim SQLite's default VFS (before any database opens). */
static int bench_io_install(void)
{
  if ((bench_io_real = sqlite3_vfs_find(NULL)) == NULL) return -1;
  bench_io_vfs = *bench_io_real;
  bench_io_vfs.zName = "bench_io";
  bench_io_vfs.szOsFile = (int)sizeof(bench_io_file_t);
  bench_io_vfs.xOpen = bench_io_open;
  return sqlite3_vfs_register(&bench_io_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* Flushes per second this directory's disk gives: 4 KiB rewritten in one
** file and fdatasync'd, over about `seconds`. 0 when it cannot be measured. */
static double bench_io_fdatasync_rate(const char *dir, double seconds)
{
  char path[600], block[4096];
  snprintf(path, sizeof path, "%s/fdatasync-probe", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  memset(block, 'k', sizeof block);
  struct timespec a, b;
  unsigned long n = 0;
  double elapsed = 0;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fdatasync(fd) != 0) break;
    n++;
    clock_gettime(CLOCK_MONOTONIC, &b);
    elapsed = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  } while (elapsed < seconds);
  close(fd);
  unlink(path);
  return elapsed > 0 ? (double)n / elapsed : 0;
}

/* Durable SQLite commits per second in this directory: the least a receipt
** kept in SQLite could cost. One WAL file (page 512, as fn.db), each
** transaction BEGIN IMMEDIATE, three statements kept prepared (a 600-byte
** row added, a 300-byte row rewritten, a 400-byte row added: about what an
** FN receipt, its counters and its notification carry) and COMMIT with
** synchronous=FULL (one fdatasync), over about `seconds`. 0 on failure. */
static double bench_io_sqlite_commit_rate(const char *dir, double seconds)
{
  static const char *const sql[] = {"BEGIN IMMEDIATE", "INSERT INTO doc(t) VALUES(?)",
                                    "UPDATE meta SET n = n + 1, s = ? WHERE id = 1",
                                    "INSERT INTO note(t) VALUES(?)", "COMMIT"};
  static const int bytes[] = {0, 600, 300, 400, 0};
  enum { STEPS = sizeof sql / sizeof sql[0] };
  char path[600], blob[600];
  sqlite3 *db = NULL;
  sqlite3_stmt *s[STEPS] = {0};
  unsigned long n = 0;
  double elapsed = 0;
  bool ok = true;
  snprintf(path, sizeof path, "%s/sqlite-commit-probe.db", dir);
  memset(blob, 'k', sizeof blob);
  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(db,
                   "PRAGMA page_size = 512; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                   "CREATE TABLE doc(n INTEGER PRIMARY KEY, t BLOB);"
                   "CREATE TABLE meta(id INTEGER PRIMARY KEY, n INTEGER, s BLOB);"
                   "CREATE TABLE note(n INTEGER PRIMARY KEY, t BLOB);"
                   "INSERT INTO meta VALUES(1, 0, zeroblob(300));",
                   NULL, NULL, NULL) != SQLITE_OK)
    ok = false;
  for (int i = 0; ok && i < STEPS; i++)
    ok = sqlite3_prepare_v2(db, sql[i], -1, &s[i], NULL) == SQLITE_OK;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  while (ok && elapsed < seconds) {
    for (int i = 0; ok && i < STEPS; i++) {
      if (bytes[i]) sqlite3_bind_blob(s[i], 1, blob, bytes[i], SQLITE_STATIC);
      ok = sqlite3_step(s[i]) == SQLITE_DONE;
      sqlite3_reset(s[i]);
    }
    n++;
    clock_gettime(CLOCK_MONOTONIC, &b);
    elapsed = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  }
  for (int i = 0; i < STEPS; i++) sqlite3_finalize(s[i]);
  sqlite3_close(db);
  static const char *const sides[] = {"", "-wal", "-shm"}; /* the file and SQLite's beside it */
  for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
    char side[640];
    snprintf(side, sizeof side, "%s%s", path, sides[i]);
    unlink(side);
  }
  return ok && elapsed > 0 ? (double)n / elapsed : 0;
}

#endif
