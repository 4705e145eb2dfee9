# fiscal: unit tests and fuzz targets (included from tests/CMakeLists.txt).
kassa_unit_test(test_tlv SOURCES unit/test_tlv.c LIBS kassa_fiscal)
kassa_unit_test(test_crypto SOURCES unit/test_crypto.c LIBS kassa_fiscal)

kassa_fuzz_target(fuzz_tlv SOURCE fuzz/fuzz_tlv.c LIBS kassa_fiscal
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/tlv)
