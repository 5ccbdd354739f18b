#pragma once
/// The Vonage Video REST API (PROVIDERS.md section 3) as used by consultd:
/// create a session, start and stop an archive. Every request carries a fresh
/// RS256 application token; HTTPS is verified strictly (system CAs plus an
/// optional extra bundle); plain HTTP is accepted only for a loopback host,
/// which is what the tests' fake server uses.

#include "VonageJwt.h"

#include "consultd/provider.h"

#include <Poco/Net/Context.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace consultd::vonage {

/// Health derived from the outcome of the most recent upstream calls; no call
/// of its own, so health() never blocks. Thread-safe.
class UpstreamHealth {
public:
    /// Consecutive failures from which the provider reports Unavailable
    /// (one failure is Degraded: a single timeout is not an outage).
    static constexpr int kUnavailableAfterFailures = 3;

    void recordSuccess();
    /// The upstream could not be reached, timed out or failed (5xx).
    void recordFailure(const std::string& detail);
    /// The upstream refused our credentials (401/403): reachable, but
    /// nothing will work until the config is fixed.
    void recordAuthFailure(const std::string& detail);
    Health current() const;

private:
    mutable std::mutex mutex_;
    int consecutiveFailures_ = 0;
    bool authFailing_ = false;
    std::string detail_ = "no request sent yet";
};

/// Where and how to reach the API.
struct RestClientConfig {
    std::string baseUrl = "https://video.api.vonage.com";
    std::string caFile;  ///< extra CA bundle (PEM) besides the system store; "" for none
    std::chrono::milliseconds timeout{10000};  ///< connect, and each send/receive
};

/// Vonage session media routing (`p2p.preference`).
enum class MediaMode { Routed, Relayed };
/// Vonage `archiveMode`.
enum class ArchiveMode { Manual, Always };

/// Thread-safe: each call opens its own connection; the configuration, the
/// TLS context and the signer are immutable, UpstreamHealth is locked.
class VonageRestClient {
public:
    using Clock = std::function<std::chrono::system_clock::time_point()>;

    /// Validates `config.baseUrl` (https, or http with a loopback host; no
    /// user info, query or fragment) and builds the TLS context. Throws
    /// SettingError naming `api_base_url` or `ca_file`. `signer` must
    /// outlive the client; `clock` supplies iat/exp of the REST tokens.
    VonageRestClient(RestClientConfig config, const VonageSigner& signer, Clock clock);

    /// POST /session/create; returns the new session's `session_id`.
    /// Throws ProviderUnavailable (unreachable, timeout, TLS failure, 5xx,
    /// 429, malformed answer) or ProviderRejected (other 4xx).
    std::string createSession(ArchiveMode archiveMode, MediaMode mediaMode);

    /// POST /v2/project/{appId}/archive (composed, streamMode auto); returns
    /// the archive id. Errors as createSession().
    std::string startArchive(const std::string& sessionId, bool hasVideo, const std::string& name);

    /// POST /v2/project/{appId}/archive/{archiveId}/stop. Errors as createSession().
    void stopArchive(const std::string& archiveId);

    /// DELETE /v2/project/{appId}/archive/{archiveId} (the provider's copy of
    /// an archive the daemon imported). Errors as createSession().
    void deleteArchive(const std::string& archiveId);

    /// Health from the last calls; never blocks on the network.
    Health health() const { return health_.current(); }

    /// The base URL without a trailing slash.
    std::string baseUrl() const;

private:
    struct Response {
        int status = 0;
        std::string body;
    };
    /// Sends one authenticated POST and maps transport errors and non-2xx
    /// statuses to the provider exceptions; records the outcome in health_.
    Response post(const std::string& path, const std::string& contentType, const std::string& body,
                  const char* what);
    /// As post(), with any method.
    Response send(const std::string& method, const std::string& path, const std::string& contentType,
                  const std::string& body, const char* what);

    RestClientConfig config_;
    Poco::URI base_;
    std::string basePath_;  ///< path prefix of the base URL without trailing '/'
    bool tls_ = true;
    Poco::Net::Context::Ptr tlsContext_;
    const VonageSigner& signer_;
    Clock clock_;
    UpstreamHealth health_;
};

/// True for "localhost", 127.0.0.0/8 and ::1.
bool isLoopbackHost(const std::string& host);

}  // namespace consultd::vonage
