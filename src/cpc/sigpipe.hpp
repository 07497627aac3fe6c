// The runtime's one process-wide policy: writes come back with EPIPE instead of SIGPIPE.
#pragma once

namespace cpc::detail {

// A write to a socket or pipe whose reader is gone must come back as EPIPE, an error value,
// not kill the process. Ignores SIGPIPE unless the program chose a disposition of its own.
// Called by every loop and pool constructor.
void ignore_sigpipe_by_default() noexcept;

}  // namespace cpc::detail
