# cpay_generate(): C code for .proto files, by protoc and cpay's plugin, at
# build time.
#
#   cpay_generate(OUT_SRCS <var> OUT_HDRS <var>
#                 PROTOS <file.proto>...
#                 [IMPORT_DIRS <dir>...]   # -I for protoc; each PROTO must be under one
#                 [OUT_DIR <dir>]          # default ${CMAKE_CURRENT_BINARY_DIR}/cpay
#                 [PLUGIN_OPTIONS <opt>...] # passed as --cpay_opt=<opt>
#                 [GRPC])                  # the PROTOS define services: also list
#                                          # <name>.cpay_grpc.{c,h}
#
# a/b.proto found under an import dir yields OUT_DIR/a/b.cpay.{c,h}: add
# OUT_DIR to the target's include directories. The well-known types
# (cpay_WKT_PROTO_DIR) are always importable; link cpay::cpay-wkt when a
# schema imports them. So are google/api/annotations.proto and http.proto
# (cpay_PROTO_DIR), for google.api.http options; they need no code. protoc is CPAY_PROTOC, else protobuf::protoc, else
# found on PATH.
function(cpay_generate)
  cmake_parse_arguments(PARSE_ARGV 0 arg "GRPC" "OUT_SRCS;OUT_HDRS;OUT_DIR"
                        "PROTOS;IMPORT_DIRS;PLUGIN_OPTIONS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "cpay_generate: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_OUT_SRCS OR NOT arg_OUT_HDRS OR NOT arg_PROTOS)
    message(FATAL_ERROR "cpay_generate: OUT_SRCS, OUT_HDRS and PROTOS are required")
  endif()
  if(NOT arg_OUT_DIR)
    set(arg_OUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/cpay")
  endif()
  get_filename_component(out_dir "${arg_OUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")

  if(CPAY_PROTOC)
    set(protoc "${CPAY_PROTOC}")
  elseif(TARGET protobuf::protoc)
    set(protoc protobuf::protoc)
  else()
    find_program(CPAY_PROTOC protoc)
    if(NOT CPAY_PROTOC)
      message(FATAL_ERROR "cpay_generate: protoc not found (set CPAY_PROTOC)")
    endif()
    set(protoc "${CPAY_PROTOC}")
  endif()

  if(NOT arg_IMPORT_DIRS)
    set(arg_IMPORT_DIRS "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  set(import_dirs)
  set(include_flags)
  foreach(dir IN LISTS arg_IMPORT_DIRS)
    get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND import_dirs "${dir}")
    list(APPEND include_flags "-I${dir}")
  endforeach()
  if(cpay_WKT_PROTO_DIR AND EXISTS "${cpay_WKT_PROTO_DIR}")
    list(APPEND include_flags "-I${cpay_WKT_PROTO_DIR}")
  endif()
  if(cpay_PROTO_DIR AND EXISTS "${cpay_PROTO_DIR}")
    list(APPEND include_flags "-I${cpay_PROTO_DIR}")
  endif()
  set(opt_flags)
  foreach(opt IN LISTS arg_PLUGIN_OPTIONS)
    list(APPEND opt_flags "--cpay_opt=${opt}")
  endforeach()

  set(srcs)
  set(hdrs)
  foreach(proto IN LISTS arg_PROTOS)
    get_filename_component(proto "${proto}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    # protoc names outputs by the path relative to the import dir.
    set(rel)
    foreach(dir IN LISTS import_dirs)
      file(RELATIVE_PATH candidate "${dir}" "${proto}")
      if(NOT candidate MATCHES "^\\.\\./" AND NOT IS_ABSOLUTE "${candidate}")
        set(rel "${candidate}")
        break()
      endif()
    endforeach()
    if(NOT rel)
      message(FATAL_ERROR "cpay_generate: ${proto} is under none of IMPORT_DIRS (${import_dirs})")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem "${rel}")
    set(outputs "${out_dir}/${stem}.cpay.c" "${out_dir}/${stem}.cpay.h")
    list(APPEND srcs "${out_dir}/${stem}.cpay.c")
    list(APPEND hdrs "${out_dir}/${stem}.cpay.h")
    if(arg_GRPC)
      list(APPEND outputs "${out_dir}/${stem}.cpay_grpc.c" "${out_dir}/${stem}.cpay_grpc.h")
      list(APPEND srcs "${out_dir}/${stem}.cpay_grpc.c")
      list(APPEND hdrs "${out_dir}/${stem}.cpay_grpc.h")
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${out_dir}"
      COMMAND ${protoc} "--plugin=protoc-gen-cpay=$<TARGET_FILE:cpay::protoc-gen-cpay>"
              "--cpay_out=${out_dir}" ${opt_flags} ${include_flags} "${proto}"
      DEPENDS "${proto}" "$<TARGET_FILE:cpay::protoc-gen-cpay>"
      COMMENT "protoc-gen-cpay: ${rel}"
      VERBATIM)
  endforeach()
  set_source_files_properties(${srcs} ${hdrs} PROPERTIES GENERATED TRUE)
  set(${arg_OUT_SRCS} ${srcs} PARENT_SCOPE)
  set(${arg_OUT_HDRS} ${hdrs} PARENT_SCOPE)
endfunction()
