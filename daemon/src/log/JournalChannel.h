#pragma once
// A Poco logging channel that writes one line per message to stderr with the
// syslog priority prefix ("<3>" .. "<7>") that journald turns into a level.
// The calling thread's LogContext (request id, session id) is appended to
// each line as request_id=... session_id=....
// Thread-safe: one write(2) per line, so lines from threads never interleave.

#include <Poco/Channel.h>
#include <Poco/Message.h>

#include <string>

namespace consultd::log {

class JournalChannel : public Poco::Channel {
public:
    void log(const Poco::Message& msg) override;
    /// The sd-daemon prefix for a Poco priority.
    static int syslogPriority(Poco::Message::Priority priority);
};

/// Installs a JournalChannel as the root channel with the given level name
/// ("error", "warning", "notice", "info", "debug").
void setupLogging(const std::string& level);
/// Changes the level of every logger (SIGHUP).
void setLevel(const std::string& level);

}  // namespace consultd::log
