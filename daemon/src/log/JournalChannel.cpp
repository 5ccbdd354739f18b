#include "log/JournalChannel.h"

#include "log/LogContext.h"

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <unistd.h>

#include <string>

namespace consultd::log {

int JournalChannel::syslogPriority(Poco::Message::Priority priority) {
    switch (priority) {
        case Poco::Message::PRIO_FATAL: return 2;
        case Poco::Message::PRIO_CRITICAL: return 2;
        case Poco::Message::PRIO_ERROR: return 3;
        case Poco::Message::PRIO_WARNING: return 4;
        case Poco::Message::PRIO_NOTICE: return 5;
        case Poco::Message::PRIO_INFORMATION: return 6;
        case Poco::Message::PRIO_DEBUG:
        case Poco::Message::PRIO_TRACE: return 7;
    }
    return 6;
}

void JournalChannel::log(const Poco::Message& msg) {
    std::string line;
    line.reserve(msg.getText().size() + msg.getSource().size() + 8);
    line += '<';
    line += static_cast<char>('0' + syslogPriority(msg.getPriority()));
    line += '>';
    line += msg.getSource();
    line += ": ";
    for (char c : msg.getText()) line += (c == '\n' || c == '\r') ? ' ' : c;  // one entry per line
    // Ids are generated or validated ([A-Za-z0-9._-]) before they get here.
    const LogContext& context = currentLogContext();
    if (!context.requestId.empty()) line += " request_id=" + context.requestId;
    if (!context.sessionId.empty()) line += " session_id=" + context.sessionId;
    line += '\n';
    std::size_t written = 0;
    while (written < line.size()) {
        const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
        if (n <= 0) break;  // nowhere to report a failing stderr
        written += static_cast<std::size_t>(n);
    }
}

namespace {
int parseLevel(const std::string& level) {
    if (level == "error") return Poco::Message::PRIO_ERROR;
    if (level == "warning") return Poco::Message::PRIO_WARNING;
    if (level == "notice") return Poco::Message::PRIO_NOTICE;
    if (level == "debug") return Poco::Message::PRIO_DEBUG;
    return Poco::Message::PRIO_INFORMATION;
}
}  // namespace

void setupLogging(const std::string& level) {
    Poco::AutoPtr<JournalChannel> channel(new JournalChannel);
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", parseLevel(level));
}

void setLevel(const std::string& level) { Poco::Logger::setLevel("", parseLevel(level)); }

}  // namespace consultd::log
