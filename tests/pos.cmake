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
