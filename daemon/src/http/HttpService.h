#pragma once
// The HTTP(S) listener: POCO HTTPServer with a bounded worker pool, TLS
// through NetSSL/OpenSSL with certificates re-read on SIGHUP, and the
// dispatcher that authenticates, routes, maps errors to the JSON envelope and
// records metrics.
//
// Thread-safety: start()/stop()/reloadTls() are called from the main thread;
// requests are served concurrently by the pool's threads.

#include "config/Config.h"
#include "core/ConfigSource.h"
#include "core/Metrics.h"
#include "core/RateLimiter.h"
#include "http/ApiKeyAuth.h"
#include "http/Router.h"

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <memory>
#include <string>

namespace consultd::admin {
class AdminAuth;
}

namespace consultd::http {

class TlsCertificates;

class HttpService {
public:
    HttpService(core::ConfigSource config, Router& router, store::Store& store, core::Metrics& metrics);
    ~HttpService();

    /// Binds and starts serving. Throws std::runtime_error with a message an
    /// operator can act on (address in use, plaintext refused, bad certificate).
    void start();
    /// Stops accepting, lets running requests finish (bounded), joins threads.
    void stop();
    /// The bound port (useful with port = 0).
    std::uint16_t port() const { return port_; }
    bool tls() const { return tls_; }
    /// Lets the admin console's session cookie authenticate API requests
    /// (principal with the admin scope; CSRF token required on every
    /// state-changing method). Call before start(); nullptr = API keys only.
    void setAdminAuth(admin::AdminAuth* auth) { adminAuth_ = auth; }

    /// Re-reads the certificate and key files; throws on a bad pair (the old one stays).
    void reloadTls(const config::Config& config);

    /// The checks start() makes before binding, without binding: plaintext on a
    /// non-loopback address, and a readable, matching certificate and key.
    /// Throws std::runtime_error with the file, line and setting.
    static void preflight(const config::Config& config);

    /// Whether `address` is a loopback address ("127.x", "::1", "localhost").
    static bool isLoopback(const std::string& address);

private:
    core::ConfigSource config_;
    Router& router_;
    core::Metrics& metrics_;
    ApiKeyAuthenticator auth_;
    admin::AdminAuth* adminAuth_ = nullptr;
    core::RateLimiter apiLimiter_;
    core::RateLimiter authFailureLimiter_;
    std::unique_ptr<TlsCertificates> certificates_;
    std::unique_ptr<Poco::ThreadPool> pool_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    std::uint16_t port_ = 0;
    bool tls_ = false;

    friend class Dispatcher;
};

}  // namespace consultd::http
