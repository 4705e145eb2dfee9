# ofd module tests (included from tests/CMakeLists.txt).
kassa_unit_test(test_frame SOURCES unit/test_frame.c LIBS kassa_ofd)
kassa_fuzz_target(fuzz_frame SOURCE fuzz/fuzz_frame.c LIBS kassa_ofd
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/frame)
