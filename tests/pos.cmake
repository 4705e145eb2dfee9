# pos: the samples through the engine, and the `kassa` command line.
kassa_unit_test(test_samples SOURCES unit/test_samples.c LIBS kassa_pos)
kassa_unit_test(test_fiscal_text SOURCES unit/test_fiscal_text.c LIBS kassa_pos)
add_test(NAME cli_code COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_code.py
                                $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME cli_demo COMMAND $<TARGET_FILE:kassa> demo WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME cli_fiscal COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_fiscal.py
                                  $<TARGET_FILE:kassa> $<TARGET_FILE:fn_storm>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# `kassa ofd status|flush|keys`; against build/kassa-operator when it is built.
if(TARGET kassa-operator)
  set(KASSA_DELIVERY_OPERATOR $<TARGET_FILE:kassa-operator>)
else()
  set(KASSA_DELIVERY_OPERATOR "")
endif()
add_test(NAME cli_delivery COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_delivery.py
                                    $<TARGET_FILE:kassa> $<TARGET_FILE:fn_storm>
                                    ${KASSA_DELIVERY_OPERATOR}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
