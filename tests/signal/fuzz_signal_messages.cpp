// libFuzzer target: untrusted signaling messages into SignalingRooms (the
// JSON parsing, join/relay/limits logic) with a fake backend and output.
// Input: lines; the first byte of a line picks the connection (0-3), the rest
// is the message. A line starting with '!' disconnects that connection, '#'
// ends or restarts the session. Built and run by tests/signal/run_fuzz.sh.
#include "signal/SignalingRooms.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace consultd::signal;

namespace {

struct NullOutput final : SignalingOutput {
    std::size_t bytes = 0;
    void send(ConnectionId, std::string text) override { bytes += text.size(); }
    void close(ConnectionId, std::uint16_t, const std::string&) override {}
};

struct Backend final : SignalingBackend {
    std::string status = "active";
    std::optional<SessionSnapshot> findSession(const std::string& id) override {
        if (id != "S") return std::nullopt;
        return SessionSnapshot{"S", status, {{"h", "Host", "host"}, {"p", "Pat", "patient"}, {"g", "Gus", "guest"}}};
    }
    void recordEvent(const std::string&, const std::string&, const std::string&, const std::string&) override {}
    void endSession(const std::string&, const std::string&) override { status = "ended"; }
};

std::optional<SignalingClaims> verify(const std::string& token, TokenProblem& problem) {
    // "S|h|host"-style test tokens.
    const auto a = token.find('|'), b = token.rfind('|');
    if (a == std::string::npos || a == b) {
        problem = TokenProblem::Malformed;
        return std::nullopt;
    }
    problem = TokenProblem::None;
    return SignalingClaims{token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1), 4102444800, "j"};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    NullOutput output;
    Backend backend;
    SignalingLimits limits;
    limits.maxMessageBytes = 2048;
    limits.messagesPerSecond = 1000;
    SignalingRooms rooms(backend, output, verify, limits);
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::size_t start = 0;
    while (start < input.size()) {
        std::size_t end = input.find('\n', start);
        if (end == std::string::npos) end = input.size();
        if (end > start) {
            const ConnectionId connection = static_cast<unsigned char>(input[start]) % 4;
            const std::string line = input.substr(start + 1, end - start - 1);
            if (!line.empty() && line[0] == '!') {
                rooms.onDisconnected(connection);
            } else if (!line.empty() && line[0] == '#') {
                rooms.onSessionStatus("S", line.size() % 2 ? "ended" : "active");
            } else {
                rooms.onMessage(connection, line);
            }
        }
        start = end + 1;
    }
    return 0;
}
