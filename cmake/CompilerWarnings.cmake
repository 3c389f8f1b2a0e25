# unionscope_set_warnings(target): warnings for our own code only; third-party
# headers come in as SYSTEM includes so their warnings do not drown ours.
option(UNIONSCOPE_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)

function(unionscope_set_warnings target)
  set(flags -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
            -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough)
  if(UNIONSCOPE_WARNINGS_AS_ERRORS)
    list(APPEND flags -Werror)
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${flags}>)
endfunction()
