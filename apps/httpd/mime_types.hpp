// Content-Type from a file name's extension.
#pragma once

#include <string_view>

namespace httpd {

// The media type for a path, from its extension (case-insensitive), from a table of the
// common types of a static site; application/octet-stream for anything else. Text types
// carry "; charset=utf-8".
std::string_view mime_type_for(std::string_view path) noexcept;

}  // namespace httpd
