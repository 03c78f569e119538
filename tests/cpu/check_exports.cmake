# Checks that a plugin exports exactly one dynamic symbol, ehal_backend_entry
# (ABI requirement R7). Run as: cmake -DNM=<nm> -DLIB=<plugin.so> -P <this>
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIB} failed (${rc}): ${err}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(symbols "")
foreach(line ${lines})
  # "<address> <type> <name>"; the name is the last field
  if(line MATCHES "^[0-9a-fA-F]+ [A-Za-z] ([^ ]+)$")
    list(APPEND symbols ${CMAKE_MATCH_1})
  endif()
endforeach()
if(NOT symbols STREQUAL "ehal_backend_entry")
  message(FATAL_ERROR "${LIB} exports [${symbols}], want exactly [ehal_backend_entry]")
endif()
message(STATUS "${LIB} exports exactly ehal_backend_entry")
