# ehal_add_plugin(<name> SOURCES ... [LIBS ...])
# Builds libedgehal-<name>.so into build/lib/edgehal with hidden visibility,
# so the one exported symbol is ehal_backend_entry (ABI requirement R7).
function(ehal_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  set(tgt edgehal-${name})
  add_library(${tgt} MODULE ${P_SOURCES})
  set_target_properties(${tgt} PROPERTIES
    PREFIX "lib"
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${EHAL_PLUGIN_OUTPUT_DIR})
  target_link_libraries(${tgt} PRIVATE ehal_abi ${P_LIBS})
  # Statically linked helpers (ehal_ops, the SDK) must not leak into the
  # plugin's dynamic symbol table: the entry point stays the only export.
  target_link_options(${tgt} PRIVATE -Wl,--no-undefined -Wl,--exclude-libs,ALL)
  install(TARGETS ${tgt} LIBRARY DESTINATION ${EHAL_PLUGIN_INSTALL_DIR})
endfunction()

# Subdirectories that contain a CMakeLists.txt, sorted.
function(ehal_subdirs_with_cmake out dir)
  file(GLOB children RELATIVE ${dir} ${dir}/*)
  list(SORT children)
  set(res "")
  foreach(c ${children})
    if(IS_DIRECTORY ${dir}/${c} AND EXISTS ${dir}/${c}/CMakeLists.txt)
      list(APPEND res ${c})
    endif()
  endforeach()
  set(${out} ${res} PARENT_SCOPE)
endfunction()
