// From a request target to a file under the document root, and never outside it.
//
// Two steps. decode_target() works on the URL alone: it drops the query and fragment,
// percent-decodes, and normalises the segments, refusing (400) whatever could name
// something else than a plain path below the root: a ".." segment (sent as is or encoded
// as %2e%2e), an encoded '/' (%2f), a backslash (sent or encoded), a NUL (%00) or any
// other control byte, a malformed escape. "." segments and empty ones ("//") are dropped.
//
// document_root::open_beneath() then opens the relative path with the kernel's help: with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) on kernels that have it (5.6 and later),
// which refuses (EXDEV) any resolution that leaves the root, through ".." or through a
// symlink, atomically. On older kernels (ENOSYS) it falls back to realpath() and a prefix
// check against the root's own real path, which is racy against a concurrent rename but
// refuses the same symlinks. Relative symlinks that stay inside the root are followed;
// RESOLVE_BENEATH refuses absolute ones even when they point inside (the fallback follows
// those), which errs on the safe side.
#pragma once

#include <string>
#include <string_view>

namespace httpd {

struct decoded_target {
    int status = 0;   // 0 when usable, else the status to answer (400)
    std::string rel;  // normalised, without leading '/': "a/b.html"; "" for the root
    bool trailing_slash = false;
    std::string_view raw_path;  // the path as sent (before '?'), for a redirect's Location
    std::string_view query;     // "?..." as sent, or empty
};

decoded_target decode_target(std::string_view target);

class document_root {
  public:
    enum class mode { automatic, fallback_only };

    document_root() = default;
    document_root(document_root&& o) noexcept { *this = std::move(o); }
    document_root& operator=(document_root&& o) noexcept;
    ~document_root();

    // Opens dir as the root. Returns an error message, empty on success.
    std::string open(const std::string& dir, mode m = mode::automatic);

    // Opens rel (a decode_target().rel) beneath the root. Returns an fd, or -errno: -EXDEV
    // when the path would leave the root, -ENOENT, -EACCES, -EMFILE...
    int open_beneath(const std::string& rel, int flags) const;

    bool uses_openat2() const noexcept { return use_openat2_; }
    const std::string& real_path() const noexcept { return real_root_; }

  private:
    int open_with_realpath(const std::string& rel, int flags) const;

    int root_fd_ = -1;
    std::string real_root_;
    mutable bool use_openat2_ = false;
};

}  // namespace httpd
