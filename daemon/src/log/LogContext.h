#pragma once
// Per-thread logging context: the request id and session id of the work the
// thread is doing, appended by JournalChannel to every line that thread logs
// ("... request_id=req_x session_id=ses_y"), so an operator can follow one
// API call or one consultation through journalctl with a grep.
//
// Thread-safety: each thread has its own context (thread_local); a LogScope
// must be destroyed on the thread that created it.

#include <string>

namespace consultd::log {

struct LogContext {
    std::string requestId;
    std::string sessionId;
};

/// The calling thread's context (empty fields when unset).
const LogContext& currentLogContext();

/// Sets the calling thread's context for its lifetime and restores the
/// previous one on destruction. An empty argument keeps the current value.
class LogScope {
public:
    explicit LogScope(const std::string& requestId, const std::string& sessionId = {});
    ~LogScope();
    LogScope(const LogScope&) = delete;
    LogScope& operator=(const LogScope&) = delete;

    /// Names the session once it is known (a create, a token lookup).
    static void setSession(const std::string& sessionId);

private:
    LogContext saved_;
};

}  // namespace consultd::log
