# Writes OUTPUT, a C++ file holding each SPIR-V file in INPUTS (a ;-list of NAME=PATH) as
#   extern const std::uint32_t NAME[]; extern const std::size_t NAME##Words;
# in namespace tessera::renderers::spirv. Run as `cmake -DINPUTS=... -DOUTPUT=... -P embed_spirv.cmake`.
set(body "// Generated from renderers/shaders by embed_spirv.cmake; do not edit.\n#include <cstddef>\n#include <cstdint>\n\nnamespace tessera::renderers::spirv {\n")
foreach(entry ${INPUTS})
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 path)
  file(READ "${path}" hex HEX)
  string(LENGTH "${hex}" chars)
  math(EXPR rest "${chars} % 8")
  if(NOT rest EQUAL 0 OR chars EQUAL 0)
    message(FATAL_ERROR "${path} is not a SPIR-V module (size not a multiple of 4 bytes)")
  endif()
  math(EXPR words "${chars} / 8")
  # SPIR-V words are little-endian in the file: bytes b0 b1 b2 b3 make the word 0xb3b2b1b0.
  string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," values "${hex}")
  string(APPEND body "\nextern const std::uint32_t ${name}[];\nconst std::uint32_t ${name}[] = {\n    ${values}\n};\n")
  string(APPEND body "extern const std::size_t ${name}Words;\nconst std::size_t ${name}Words = ${words};\n")
endforeach()
string(APPEND body "\n} // namespace tessera::renderers::spirv\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
