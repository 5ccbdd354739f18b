#pragma once
// Runs tests/plugins/vonage/fake_vonage.py (Debian python3) on 127.0.0.1 and
// a free port for the lifetime of the object, and drives its test control
// endpoints. The process is stopped by PID in the destructor.

#include <Poco/JSON/Object.h>

#include <string>
#include <sys/types.h>

namespace consultd::testing {

/// Not thread-safe itself (start/stop from the test thread); the server
/// process serves any number of concurrent clients.
class FakeVonageServer {
public:
    /// Starts the server for `appId`, verifying tokens with `publicKeyFile`.
    /// With a non-empty `tlsDir` it serves HTTPS with a self-signed
    /// certificate for `tlsName` written to `<tlsDir>/ca.pem`. Throws
    /// std::runtime_error when the server does not report its port within 10 s.
    FakeVonageServer(const std::string& appId, const std::string& publicKeyFile, const std::string& tlsDir = {},
                     const std::string& tlsName = "127.0.0.1");
    ~FakeVonageServer();
    FakeVonageServer(const FakeVonageServer&) = delete;
    FakeVonageServer& operator=(const FakeVonageServer&) = delete;

    unsigned short port() const noexcept { return port_; }
    /// "http://127.0.0.1:<port>" (or https with a TLS dir).
    std::string baseUrl() const;

    /// POST /_control: "ok", "fail" (answers `status`), "hang" (`hangSeconds`),
    /// "reject" (answers `status` after checking the token), "garbage".
    void setMode(const std::string& mode, int status = 503, double hangSeconds = 10) const;
    /// GET /_stats (plain HTTP servers only).
    Poco::JSON::Object::Ptr stats() const;

private:
    pid_t pid_ = -1;
    unsigned short port_ = 0;
    bool tls_ = false;
};

}  // namespace consultd::testing
