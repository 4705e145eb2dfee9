# common: the shared helpers (codec, errtab, buffer, db).
kassa_unit_test(test_common SOURCES unit/test_common.c LIBS kassa_common)
