# -DUNIONSCOPE_SANITIZE=ON builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer; the test suite must pass under it.
option(UNIONSCOPE_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
if(UNIONSCOPE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# -DUNIONSCOPE_BUILD_FUZZERS=ON (clang): every target gets coverage
# instrumentation and ASan+UBSan; tests/ adds the libFuzzer executables.
option(UNIONSCOPE_BUILD_FUZZERS "Build libFuzzer targets (needs clang)" OFF)
if(UNIONSCOPE_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "UNIONSCOPE_BUILD_FUZZERS needs clang (CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
