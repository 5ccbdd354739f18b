#include "log/LogContext.h"

namespace consultd::log {
namespace {
thread_local LogContext current;
}  // namespace

const LogContext& currentLogContext() { return current; }

LogScope::LogScope(const std::string& requestId, const std::string& sessionId) : saved_(current) {
    if (!requestId.empty()) current.requestId = requestId;
    if (!sessionId.empty()) current.sessionId = sessionId;
}

LogScope::~LogScope() { current = std::move(saved_); }

void LogScope::setSession(const std::string& sessionId) { current.sessionId = sessionId; }

}  // namespace consultd::log
