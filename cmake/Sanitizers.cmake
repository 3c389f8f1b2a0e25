# -DUNIONSCOPE_SANITIZE=ON builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer; the test suite must pass under it.
option(UNIONSCOPE_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
if(UNIONSCOPE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
