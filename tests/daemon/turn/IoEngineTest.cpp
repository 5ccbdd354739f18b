// turn.io_engine where io_uring is forbidden (a seccomp filter, as a
// container runtime or a hardened unit would install): "auto" must fall back
// to epoll and still relay, "io_uring" must refuse to start with a reason.
// Each case runs in a forked child, since a seccomp filter cannot be removed.
#include "StunMessage.h"
#include "UniqueFd.h"
#include "consultd/turn/TurnRelay.h"

#include <cppunit/extensions/HelperMacros.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

using namespace consultd::turn;

namespace {

/// io_uring_setup fails with EPERM from here on, in this process only.
void forbidIoUring() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(offsetof(seccomp_data, nr))),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        throw std::runtime_error("cannot install the seccomp filter");
}

/// Runs `body` in a child with io_uring forbidden; returns "" or what failed.
std::string inChildWithoutIoUring(const std::function<std::string()>& body) {
    int fds[2];
    if (::pipe(fds) != 0) return "pipe failed";
    const pid_t pid = ::fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        ::close(fds[0]);
        std::string result;
        try {
            forbidIoUring();
            result = body();
        } catch (const std::exception& e) {
            result = std::string("exception: ") + e.what();
        }
        if (!result.empty()) (void)!::write(fds[1], result.data(), result.size());
        ::_exit(result.empty() ? 0 : 1);
    }
    ::close(fds[1]);
    std::string message;
    std::array<char, 512> buf{};
    ssize_t n;
    while ((n = ::read(fds[0], buf.data(), buf.size())) > 0) message.append(buf.data(), static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) return "child died: status " + std::to_string(status) + " " + message;
    if (WEXITSTATUS(status) != 0 && message.empty()) return "child exited " + std::to_string(WEXITSTATUS(status));
    return message;
}

RelayConfig config(IoEngine engine) {
    RelayConfig c;
    c.listenAddress = "127.0.0.1";
    c.udpPort = 0;
    c.tcpPort = -1;
    c.relayPortMin = 0;
    c.sharedSecret = "io-engine";
    c.threads = 2;
    c.ioEngine = engine;
    return c;
}

/// A binding request to the relay's UDP port answered within 2 s.
bool answersBinding(int port) {
    std::array<std::uint8_t, 12> tid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    std::array<std::uint8_t, 64> req{};
    stun::StunMessageBuilder b(req, stun::Method::Binding, stun::MessageClass::Request, tid);
    const auto bytes = b.bytes();
    const auto server = *SocketAddress::parse("127.0.0.1", static_cast<std::uint16_t>(port));
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
    if (::sendto(s.get(), bytes.data(), bytes.size(), 0, server.sockaddrPtr(), server.length()) < 0) return false;
    pollfd p{s.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return false;
    std::array<std::uint8_t, 512> answer{};
    const ssize_t n = ::recv(s.get(), answer.data(), answer.size(), 0);
    // A success response (0x0101) to our transaction.
    return n >= 20 && answer[0] == 0x01 && answer[1] == 0x01 && std::equal(tid.begin(), tid.end(), answer.begin() + 8);
}

}  // namespace

class IoEngineTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IoEngineTest);
    CPPUNIT_TEST(testAutoFallsBackToEpollAndRelays);
    CPPUNIT_TEST(testIoUringRequiredRefusesToStart);
    CPPUNIT_TEST(testAutoPrefersIoUring);
    CPPUNIT_TEST_SUITE_END();

public:
    void testAutoFallsBackToEpollAndRelays() {
        const std::string failure = inChildWithoutIoUring([] {
            TurnRelay relay(config(IoEngine::Auto));
            relay.start();
            if (relay.ioEngine() != "epoll") return "auto chose " + relay.ioEngine() + " with io_uring forbidden";
            if (!answersBinding(relay.boundPorts().udp)) return std::string("no binding response on epoll");
            relay.stop();
            return std::string();
        });
        CPPUNIT_ASSERT_EQUAL(std::string(), failure);
    }

    void testIoUringRequiredRefusesToStart() {
        const std::string failure = inChildWithoutIoUring([] {
            TurnRelay relay(config(IoEngine::IoUring));
            try {
                relay.start();
            } catch (const std::runtime_error& e) {
                const std::string what = e.what();
                if (what.find("io_engine = \"io_uring\"") == std::string::npos ||
                    what.find("Operation not permitted") == std::string::npos)
                    return "refused, but the reason does not say why: " + what;
                if (relay.running()) return std::string("refused but running");
                return std::string();
            }
            return std::string("started without io_uring");
        });
        CPPUNIT_ASSERT_EQUAL(std::string(), failure);
    }

    void testAutoPrefersIoUring() {
        TurnRelay relay(config(IoEngine::Auto));
        relay.start();
        CPPUNIT_ASSERT_EQUAL(std::string("io_uring"), relay.ioEngine());
        CPPUNIT_ASSERT(answersBinding(relay.boundPorts().udp));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IoEngineTest);
