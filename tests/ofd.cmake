# ofd module tests (included from tests/CMakeLists.txt).
kassa_unit_test(test_frame SOURCES unit/test_frame.c LIBS kassa_ofd)
kassa_fuzz_target(fuzz_frame SOURCE fuzz/fuzz_frame.c LIBS kassa_ofd
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/frame)
kassa_unit_test(test_keys SOURCES unit/test_keys.c LIBS kassa_ofd)
# Delivery (ofd/client.h) against an in-test operator thread, and the outbox.
find_package(Threads REQUIRED)
kassa_unit_test(test_client SOURCES unit/test_client.c LIBS kassa_ofd Threads::Threads)
kassa_unit_test(test_outbox SOURCES unit/test_outbox.c LIBS kassa_ofd)
# kassa-operator end to end: real FN (test_operator_fn), real sockets.
add_executable(test_operator_fn integration/test_operator_fn.c)
target_link_libraries(test_operator_fn PRIVATE kassa_ofd kassa_fiscal)
add_test(NAME operator COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_operator.py
                               $<TARGET_FILE:kassa-operator> $<TARGET_FILE:test_operator_fn>
                               $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(operator PROPERTIES TIMEOUT 90)
