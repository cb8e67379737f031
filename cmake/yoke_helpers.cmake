# Small helpers so that adding a component or a test is one line.

# yoke_library(NAME SOURCES... DEPS ...): one static library per top-level folder.
function(yoke_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# yoke_test(NAME SOURCES... DEPS ... [LABELS ...] [SERIAL_TIMEOUT S]): one GoogleTest binary,
# registered with CTest, with the main of tests/fakes/test_main.cc (the harness owns every process
# a test starts). SERIAL_TIMEOUT: its tests run alone (RUN_SERIAL: they load the machine, and
# other tests' timing would suffer) with S seconds each, the harness's watchdog 60 s less.
function(yoke_test name)
  cmake_parse_arguments(ARG "" "SERIAL_TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} yoke_test_main GTest::gtest)
  if(ARG_SERIAL_TIMEOUT)
    math(EXPR watchdog "${ARG_SERIAL_TIMEOUT} - 60")
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}"
                         RUN_SERIAL TRUE TIMEOUT ${ARG_SERIAL_TIMEOUT}
                         ENVIRONMENT "YOKE_TEST_WATCHDOG_S=${watchdog}")
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
