# Small helpers so that adding a component or a test is one line.

# yoke_library(NAME SOURCES... DEPS ...): one static library per top-level folder.
function(yoke_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# yoke_test(NAME SOURCES... DEPS ... [LABELS ...]): one GoogleTest binary, registered with CTest,
# with the main of tests/fakes/test_main.cc (the harness owns every process a test starts).
function(yoke_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} yoke_test_main GTest::gtest)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
