# device: the Shtrih-M protocol against public vectors (test_shtrih), the
# exchange and the backend against kassa-kkt-emu's register (test_kkt_emu).
kassa_unit_test(test_shtrih SOURCES unit/test_shtrih.c LIBS kassa_device)
set_tests_properties(test_shtrih PROPERTIES TIMEOUT 60)
find_package(Threads REQUIRED)
kassa_unit_test(test_kkt_emu SOURCES unit/test_kkt_emu.c
                LIBS kassa_device kassa_ofd kassa_test_support Threads::Threads)
set_tests_properties(test_kkt_emu PROPERTIES TIMEOUT 120)
# `kassa device probe` against kassa-kkt-emu and against recorded answers.
add_test(NAME device_probe
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_device_probe.py
                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-kkt-emu>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(device_probe PROPERTIES TIMEOUT 120)
# kassa fn|shift|fd through kassa-kkt-emu, and a kill loop through the
# register with the FN's archive audited afterwards.
add_test(NAME device_cli
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_device_cli.py
                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-kkt-emu>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(device_cli PROPERTIES TIMEOUT 300)
# kassa fn register / register --re through kassa-kkt-emu, read back.
add_test(NAME device_register
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_device_register.py
                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-kkt-emu>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(device_register PROPERTIES TIMEOUT 120)
# What a register sends: framing and decoders under libFuzzer (KASSA_FUZZ).
kassa_fuzz_target(fuzz_shtrih SOURCE fuzz/fuzz_shtrih.c LIBS kassa_device
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/shtrih)
# A register with its own links (kassa-kkt-emu --ofd/--oism): a marked sale
# through it, its documents and notification delivered by the register.
if(TARGET kassa-operator)
  add_test(NAME device_operator
           COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_device_operator.py
                   $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-kkt-emu>
                   $<TARGET_FILE:kassa-operator>
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(device_operator PROPERTIES TIMEOUT 180)
endif()
# `kassa demo --kkt`: the store day through kassa-kkt-emu, every step must behave.
if(TARGET kassa-operator)
  add_test(NAME cli_demo_kkt COMMAND $<TARGET_FILE:kassa> demo --kkt
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(cli_demo_kkt PROPERTIES
                       ENVIRONMENT "KASSA_OPERATOR=$<TARGET_FILE:kassa-operator>;KASSA_KKT_EMU=$<TARGET_FILE:kassa-kkt-emu>"
                       TIMEOUT 240)
endif()
# The till's own suites again with its FN inside kassa-kkt-emu (issue 22;
# docs/HARDWARE.md says what each covers): `ctest -L kkt`.
kassa_till_test_kkt(serve_api integration/test_api.py 120)
kassa_till_test_kkt(cli_reports integration/test_cli_reports.py 120)
kassa_till_test_kkt(cli_settlements integration/test_cli_settlements.py 180)
kassa_till_test_kkt(serve_crash crash/serve_storm.py 300 40)
set_property(TEST serve_crash_kkt APPEND PROPERTY LABELS crash)
kassa_till_test_kkt(serve_frontend_receipt integration/test_frontend_receipt.py 180)
kassa_till_test_kkt(serve_atol_tasks integration/test_atol_tasks.py 180)
