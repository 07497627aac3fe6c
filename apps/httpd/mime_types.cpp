#include "mime_types.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace httpd {

namespace {

struct mime_entry {
    std::string_view extension;  // lower case, without the dot
    std::string_view type;
};

// Sorted by extension, for a binary search.
constexpr std::array kTypes = {
    mime_entry{"7z", "application/x-7z-compressed"},
    mime_entry{"avif", "image/avif"},
    mime_entry{"bmp", "image/bmp"},
    mime_entry{"bz2", "application/x-bzip2"},
    mime_entry{"c", "text/plain; charset=utf-8"},
    mime_entry{"cpp", "text/plain; charset=utf-8"},
    mime_entry{"css", "text/css; charset=utf-8"},
    mime_entry{"csv", "text/csv; charset=utf-8"},
    mime_entry{"gif", "image/gif"},
    mime_entry{"gz", "application/gzip"},
    mime_entry{"h", "text/plain; charset=utf-8"},
    mime_entry{"hpp", "text/plain; charset=utf-8"},
    mime_entry{"htm", "text/html; charset=utf-8"},
    mime_entry{"html", "text/html; charset=utf-8"},
    mime_entry{"ico", "image/vnd.microsoft.icon"},
    mime_entry{"jpeg", "image/jpeg"},
    mime_entry{"jpg", "image/jpeg"},
    mime_entry{"js", "text/javascript; charset=utf-8"},
    mime_entry{"json", "application/json"},
    mime_entry{"map", "application/json"},
    mime_entry{"md", "text/markdown; charset=utf-8"},
    mime_entry{"mjs", "text/javascript; charset=utf-8"},
    mime_entry{"mp3", "audio/mpeg"},
    mime_entry{"mp4", "video/mp4"},
    mime_entry{"oga", "audio/ogg"},
    mime_entry{"ogg", "audio/ogg"},
    mime_entry{"ogv", "video/ogg"},
    mime_entry{"otf", "font/otf"},
    mime_entry{"pdf", "application/pdf"},
    mime_entry{"png", "image/png"},
    mime_entry{"svg", "image/svg+xml"},
    mime_entry{"tar", "application/x-tar"},
    mime_entry{"tif", "image/tiff"},
    mime_entry{"tiff", "image/tiff"},
    mime_entry{"ttf", "font/ttf"},
    mime_entry{"txt", "text/plain; charset=utf-8"},
    mime_entry{"wasm", "application/wasm"},
    mime_entry{"wav", "audio/wav"},
    mime_entry{"webm", "video/webm"},
    mime_entry{"webp", "image/webp"},
    mime_entry{"woff", "font/woff"},
    mime_entry{"woff2", "font/woff2"},
    mime_entry{"xhtml", "application/xhtml+xml"},
    mime_entry{"xml", "application/xml"},
    mime_entry{"xz", "application/x-xz"},
    mime_entry{"zip", "application/zip"},
};

static_assert(std::is_sorted(kTypes.begin(), kTypes.end(),
                             [](const mime_entry& a, const mime_entry& b) {
                                 return a.extension < b.extension;
                             }),
              "kTypes must stay sorted");

constexpr std::string_view kDefault = "application/octet-stream";

}  // namespace

std::string_view mime_type_for(std::string_view path) noexcept {
    const std::size_t slash = path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == name.size()) return kDefault;
    const std::string_view ext = name.substr(dot + 1);
    char lower[8];
    if (ext.size() > sizeof lower) return kDefault;
    for (std::size_t i = 0; i < ext.size(); ++i)
        lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(ext[i])));
    const std::string_view key(lower, ext.size());
    const auto it =
        std::lower_bound(kTypes.begin(), kTypes.end(), key,
                         [](const mime_entry& e, std::string_view k) { return e.extension < k; });
    if (it == kTypes.end() || it->extension != key) return kDefault;
    return it->type;
}

}  // namespace httpd
