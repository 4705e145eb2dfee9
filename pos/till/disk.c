/*
** disk.c: the data directory's file system asked why a write failed (see
** disk.h).
*/
#include "pos/till/disk.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include "common/errtab.h"

static const errtab_t texts[] = {
    {TILL_DISK_OK, "storage", "Ошибка записи на диск кассы.", "The till's disk failed."},
    {TILL_DISK_FULL, "disk_full",
     "Диск кассы заполнен: освободите место в каталоге данных, продажа продолжится.",
     "The till's disk is full: free space in the data directory and selling goes on."},
    {TILL_DISK_READ_ONLY, "read_only",
     "Каталог данных кассы доступен только для чтения: проверьте, как смонтирован диск, и права.",
     "The till's data directory is read-only: check how the disk is mounted and the "
     "permissions."},
    ERRTAB_END("Ошибка записи на диск кассы.", "The till's disk failed."),
};

till_disk_t till_disk_diagnose(const char *dir)
{
  struct statvfs st;
  if (!dir || statvfs(dir, &st) != 0) return TILL_DISK_OK;
  if ((st.f_flag & ST_RDONLY) || access(dir, W_OK) != 0) return TILL_DISK_READ_ONLY;
  if ((unsigned long long)st.f_bavail * st.f_frsize < TILL_DISK_RESERVE) return TILL_DISK_FULL;
  return TILL_DISK_OK;
}

const char *till_disk_name(till_disk_t d) { return errtab_name(texts, d); }

const char *till_disk_message(till_disk_t d, bool russian)
{
  return errtab_message(texts, d, russian);
}
