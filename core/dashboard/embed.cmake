# Turns core/dashboard/dashboard.html into a C source at build time, in pure
# CMake (no xxd, no extra package):
#
#   cmake -DIN=dashboard.html -DOUT=dashboard_html.c -P embed.cmake
#
# OUT defines what core/dashboard/dashboard_embed.h declares:
#   outpost_dashboard_html[], outpost_dashboard_html_len  the page's bytes
#   outpost_dashboard_etag   "\"<first 32 hex digits of its SHA-256>\""
#   outpost_dashboard_csp    the Content-Security-Policy to serve it with
#
# The page has exactly one inline <style> and one inline <script>; the
# policy allows those two by their SHA-256 (base64, as CSP wants) and
# nothing else: no other script or style, no load from anywhere but the
# page's own origin (connect-src 'self' for the API), no frames, no forms
# posted elsewhere. An edit to the page changes the hashes here at the next
# build, so the policy always matches the page it is served with.

if(NOT IN OR NOT OUT)
  message(FATAL_ERROR "embed.cmake: -DIN=<html> -DOUT=<c file> are required")
endif()

# hex_to_base64(<hex digits> <out var>): standard base64 with padding.
function(hex_to_base64 hex out)
  set(abc "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  string(LENGTH "${hex}" n)
  set(res "")
  set(i 0)
  while(i LESS n)
    string(SUBSTRING "${hex}" ${i} 6 chunk)
    string(LENGTH "${chunk}" len)               # 6, 4 or 2 hex digits
    string(SUBSTRING "${chunk}000000" 0 6 padded)
    math(EXPR v "0x${padded}")
    math(EXPR nchars "${len} * 2 / 3 + 1")      # 4, 3 or 2 characters
    set(k 0)
    foreach(shift 18 12 6 0)
      if(k LESS nchars)
        math(EXPR idx "(${v} >> ${shift}) & 63")
        string(SUBSTRING "${abc}" ${idx} 1 c)
        string(APPEND res "${c}")
      else()
        string(APPEND res "=")
      endif()
      math(EXPR k "${k} + 1")
    endforeach()
    math(EXPR i "${i} + 6")
  endwhile()
  set(${out} "${res}" PARENT_SCOPE)
endfunction()

# inline_hash(<text> <open tag> <close tag> <out var>): 'sha256-...' of
# what lies between the only open tag and its close tag, byte for byte.
function(inline_hash text open close out)
  string(FIND "${text}" "${open}" a)
  string(FIND "${text}" "${close}" b)
  string(FIND "${text}" "${open}" a2 REVERSE)
  if(a LESS 0 OR b LESS a OR NOT a EQUAL a2)
    message(FATAL_ERROR "${IN}: exactly one ${open}...${close} expected")
  endif()
  string(LENGTH "${open}" olen)
  math(EXPR start "${a} + ${olen}")
  math(EXPR len "${b} - ${start}")
  string(SUBSTRING "${text}" ${start} ${len} body)
  string(SHA256 h "${body}")
  hex_to_base64("${h}" b64)
  set(${out} "'sha256-${b64}'" PARENT_SCOPE)
endfunction()

file(READ "${IN}" text)
inline_hash("${text}" "<script>" "</script>" script_hash)
inline_hash("${text}" "<style>" "</style>" style_hash)
file(SHA256 "${IN}" file_hash)
string(SUBSTRING "${file_hash}" 0 32 etag)

set(csp "default-src 'none'; script-src ${script_hash}; style-src ${style_hash}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line (CMake's regex has no {n}).
string(REPEAT "0x..," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")

file(WRITE "${OUT}.tmp"
"/* Generated from core/dashboard/dashboard.html by core/dashboard/embed.cmake\n"
" * at build time: edit the page, not this file. */\n"
"#include \"dashboard_embed.h\"\n\n"
"const char outpost_dashboard_etag[] = \"\\\"${etag}\\\"\";\n\n"
"const char outpost_dashboard_csp[] =\n    \"${csp}\";\n\n"
"const size_t outpost_dashboard_html_len = ${nbytes};\n\n"
"const unsigned char outpost_dashboard_html[] = {\n    ${bytes}\n};\n")
# Only a changed output touches the file, so an unchanged page rebuilds
# nothing downstream.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
