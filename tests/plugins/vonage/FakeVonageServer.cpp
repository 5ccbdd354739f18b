#include "FakeVonageServer.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace consultd::testing {

namespace {

/// Reads the first line the child prints, within `timeout`.
std::string readFirstLine(int fd, std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (line.empty() || line.back() != '\n') {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw std::runtime_error("fake_vonage.py did not report its port in time");
        pollfd descriptor{fd, POLLIN, 0};
        if (poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) continue;
        char c = 0;
        if (read(fd, &c, 1) != 1) throw std::runtime_error("fake_vonage.py exited before reporting its port");
        line.push_back(c);
    }
    return line;
}

}  // namespace

FakeVonageServer::FakeVonageServer(const std::string& appId, const std::string& publicKeyFile,
                                   const std::string& tlsDir, const std::string& tlsName)
    : tls_(!tlsDir.empty()) {
    int pipeFds[2];
    if (pipe(pipeFds) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> args{CONSULTD_TEST_PYTHON3, VONAGE_FAKE_SERVER, "--app-id", appId,
                                  "--public-key", publicKeyFile};
    if (tls_) {
        args.push_back("--tls-dir");
        args.push_back(tlsDir);
        args.push_back("--tls-name");
        args.push_back(tlsName);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        dup2(pipeFds[1], STDOUT_FILENO);
        close(pipeFds[0]);
        close(pipeFds[1]);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(pipeFds[1]);
    try {
        const std::string line = readFirstLine(pipeFds[0], std::chrono::seconds(10));
        unsigned port = 0;
        if (std::sscanf(line.c_str(), "PORT %u", &port) != 1 || port == 0 || port > 65535) {
            throw std::runtime_error("fake_vonage.py printed no port: " + line);
        }
        port_ = static_cast<unsigned short>(port);
    } catch (...) {
        close(pipeFds[0]);
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        throw;
    }
    // The server prints nothing more; closing our end is harmless for it.
    close(pipeFds[0]);
}

FakeVonageServer::~FakeVonageServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string FakeVonageServer::baseUrl() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

void FakeVonageServer::setMode(const std::string& mode, int status, double hangSeconds) const {
    Poco::JSON::Object command;
    command.set("mode", mode);
    command.set("status", status);
    command.set("hang_seconds", hangSeconds);
    std::ostringstream body;
    command.stringify(body);
    Poco::Net::HTTPClientSession session("127.0.0.1", port_);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/_control", Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.str().size()));
    session.sendRequest(request) << body.str();
    Poco::Net::HTTPResponse response;
    std::string ignored;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), ignored);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) throw std::runtime_error("/_control failed");
}

Poco::JSON::Object::Ptr FakeVonageServer::stats() const {
    Poco::Net::HTTPClientSession session("127.0.0.1", port_);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/_stats", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace consultd::testing
