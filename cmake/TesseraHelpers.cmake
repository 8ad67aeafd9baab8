# Shared target settings: warnings as errors in project code, sanitizers, aliases.

function(tessera_project_defaults target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers>)
  endif()
  if(TESSERA_SANITIZE)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${TESSERA_SANITIZE} -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=${TESSERA_SANITIZE})
  endif()
endfunction()

# tessera_add_library(NAME ALIAS SOURCES...) — a static library with tessera:: alias.
function(tessera_add_library name alias)
  add_library(${name} STATIC ${ARGN})
  add_library(tessera::${alias} ALIAS ${name})
  tessera_project_defaults(${name})
endfunction()

# Exit status of a test executable whose only non-passes are skips (tests/support/gtest_main.cpp);
# ctest shows such a run as skipped, never as passed.
set(TESSERA_TEST_SKIP_EXIT_CODE 77)

# tessera_gtest_main(TARGET) — link the shared GoogleTest main and report its skips to ctest.
function(tessera_gtest_main target)
  target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support/gtest_main.cpp)
  target_compile_definitions(${target} PRIVATE TESSERA_TEST_SKIP_EXIT_CODE=${TESSERA_TEST_SKIP_EXIT_CODE})
  target_link_libraries(${target} PRIVATE GTest::gtest)
endfunction()

# tessera_add_test(NAME SOURCES... LIBS ... [LABELS ...] [ENV ...]) — one gtest executable, one ctest entry.
function(tessera_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  tessera_project_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  tessera_gtest_main(${name})
  target_compile_definitions(${name} PRIVATE
    TESSERA_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
    TESSERA_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # A GoogleTest skip (GTEST_SKIP: no GPU, no display) shows as skipped in ctest's summary, not as passed.
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE ${TESSERA_TEST_SKIP_EXIT_CODE})
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
  if(T_ENV)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${T_ENV}")
  endif()
endfunction()
