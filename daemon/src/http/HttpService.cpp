#include "http/HttpService.h"

#include "log/LogContext.h"

#include "admin/AdminAuth.h"
#include "core/ApiError.h"
#include "store/Store.h"
#include "util/Crypto.h"

#include <Poco/Logger.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <regex>

namespace consultd::http {

using core::ApiError;

// ---- TLS certificates, swappable at runtime --------------------------------

/// Holds the current certificate chain and key. OpenSSL asks for them on every
/// handshake through the certificate callback, so a SIGHUP swap needs no new
/// listening socket and running connections keep their session.
class TlsCertificates {
public:
    struct Pair {
        std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
        std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain{nullptr, [](STACK_OF(X509)* s) {
                                                                            sk_X509_pop_free(s, X509_free);
                                                                        }};
        std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
    };

    static std::shared_ptr<const Pair> load(const std::string& certFile, const std::string& keyFile) {
        auto pair = std::make_shared<Pair>();
        std::unique_ptr<FILE, decltype(&std::fclose)> cf(std::fopen(certFile.c_str(), "r"), std::fclose);
        if (!cf) throw std::runtime_error("server.tls_cert_file: cannot read " + certFile);
        pair->cert.reset(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
        if (!pair->cert) throw std::runtime_error("server.tls_cert_file: " + certFile + " holds no PEM certificate");
        pair->chain.reset(sk_X509_new_null());
        while (X509* extra = PEM_read_X509(cf.get(), nullptr, nullptr, nullptr)) sk_X509_push(pair->chain.get(), extra);
        ERR_clear_error();  // the loop ends on a "no start line" error
        std::unique_ptr<FILE, decltype(&std::fclose)> kf(std::fopen(keyFile.c_str(), "r"), std::fclose);
        if (!kf) throw std::runtime_error("server.tls_key_file: cannot read " + keyFile);
        pair->key.reset(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
        if (!pair->key) throw std::runtime_error("server.tls_key_file: " + keyFile + " holds no PEM private key");
        if (X509_check_private_key(pair->cert.get(), pair->key.get()) != 1) {
            ERR_clear_error();
            throw std::runtime_error("server.tls_key_file: the key does not match the certificate in " + certFile);
        }
        return pair;
    }

    void set(std::shared_ptr<const Pair> pair) {
        std::lock_guard lock(mutex_);
        current_ = std::move(pair);
    }

    static int certificateCallback(SSL* ssl, void* arg) {
        auto* self = static_cast<TlsCertificates*>(arg);
        std::shared_ptr<const Pair> pair;
        {
            std::lock_guard lock(self->mutex_);
            pair = self->current_;
        }
        if (!pair) return 0;
        return SSL_use_cert_and_key(ssl, pair->cert.get(), pair->key.get(), pair->chain.get(), 1) == 1 ? 1 : 0;
    }

private:
    std::mutex mutex_;
    std::shared_ptr<const Pair> current_;
};

// ---- error envelope ----------------------------------------------------------

namespace {

void renderError(Response& response, const std::string& requestId, int status, const std::string& code,
                 const std::string& message, const std::string& detailsKey,
                 const std::map<std::string, std::string>& details) {
    Poco::JSON::Object::Ptr error = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    error->set("code", code);
    error->set("message", message);
    Poco::JSON::Object::Ptr detailObject = new Poco::JSON::Object;
    Poco::JSON::Object::Ptr target = detailObject;
    if (!detailsKey.empty()) {
        Poco::JSON::Object::Ptr nested = new Poco::JSON::Object;
        detailObject->set(detailsKey, nested);
        target = nested;
    }
    for (const auto& [k, v] : details) target->set(k, v);
    error->set("details", detailObject);
    error->set("request_id", requestId);
    Poco::JSON::Object envelope;
    envelope.set("error", error);
    response.headers.clear();
    response.json(status, envelope);
}

/// Maps any exception escaping a route to the envelope. A client's mistake
/// is an ApiError with a 4xx; everything else is ours and logged once.
void mapException(Response& response, const std::string& requestId, const std::string& route) {
    try {
        throw;
    } catch (const ApiError& e) {
        renderError(response, requestId, e.status(), e.code(), e.what(), e.detailsKey(), e.details());
        if (e.retryAfterSeconds()) response.headers.emplace_back("Retry-After", std::to_string(*e.retryAfterSeconds()));
        for (const auto& header : e.headers()) response.headers.push_back(header);
    } catch (const store::StoreError& e) {
        Poco::Logger::get("http").error("request " + requestId + " " + route + ": store error: " + e.what());
        renderError(response, requestId, 503, "STORE_UNAVAILABLE", "the database is not available; try again", "", {});
        response.headers.emplace_back("Retry-After", "5");
    } catch (const ProviderUnavailable& e) {
        renderError(response, requestId, 503, "PROVIDER_UNAVAILABLE", "the provider is unavailable", "", {});
        response.headers.emplace_back("Retry-After", "30");
    } catch (const Poco::TimeoutException&) {
        renderError(response, requestId, 408, "REQUEST_TIMEOUT", "the request body did not arrive in time", "", {});
    } catch (const Poco::Net::NetException& e) {
        renderError(response, requestId, 400, "BAD_REQUEST", "malformed request", "", {});
    } catch (const std::exception& e) {
        Poco::Logger::get("http").error("request " + requestId + " " + route + ": internal error: " + e.what());
        renderError(response, requestId, 500, "INTERNAL_ERROR", "internal error", "", {});
    } catch (...) {
        Poco::Logger::get("http").error("request " + requestId + " " + route + ": internal error (non-standard exception)");
        renderError(response, requestId, 500, "INTERNAL_ERROR", "internal error", "", {});
    }
}

std::string requestIdFor(const Poco::Net::HTTPServerRequest& request) {
    // An upstream proxy's id is kept when it is harmless in logs.
    static const std::regex kSafe("[A-Za-z0-9._-]{8,64}");
    const std::string& incoming = request.get("X-Request-Id", "");
    if (!incoming.empty() && std::regex_match(incoming, kSafe)) return incoming;
    return "req_" + util::randomBase32(10);
}

bool hasScope(const Principal& principal, const std::string& scope) {
    for (const auto& s : principal.scopes) {
        if (s == scope || s == "admin") return true;
    }
    return false;
}

}  // namespace

// ---- dispatcher --------------------------------------------------------------

class Dispatcher final : public Poco::Net::HTTPRequestHandler {
public:
    explicit Dispatcher(HttpService& service) : service_(service) {}

    void handleRequest(Poco::Net::HTTPServerRequest& raw, Poco::Net::HTTPServerResponse& out) override {
        const auto started = std::chrono::steady_clock::now();
        const auto config = service_.config_();
        const std::string requestId = requestIdFor(raw);
        log::LogScope logScope(requestId);
        Response response;
        std::string routeName = "unmatched";
        bool closeConnection = false;
        std::string allowHeader;
        try {
            Request request(raw, requestId, static_cast<std::size_t>(config->getInt("server.max_body_bytes")));
            const auto match = service_.router_.match(raw.getMethod(), request.path());
            if (match.entry == nullptr) {
                if (!match.allowedMethods.empty()) {
                    std::string allow;
                    for (const auto& m : match.allowedMethods) allow += (allow.empty() ? "" : ", ") + m;
                    allowHeader = allow;
                    throw ApiError(405, "METHOD_NOT_ALLOWED", raw.getMethod() + " is not allowed here").withDetail("allow", allow);
                }
                throw ApiError(404, "NOT_FOUND", "no such endpoint");
            }
            routeName = match.entry->pattern;
            request.params = match.params;
            // Lines logged while serving /api/v1/sessions/{id}/... name the session.
            if (match.entry->pattern.rfind("/api/v1/sessions/{id}", 0) == 0) {
                static const std::regex kSafeId("[A-Za-z0-9._-]{1,64}");
                const auto& id = request.param("id");
                if (std::regex_match(id, kSafeId)) log::LogScope::setSession(id);
            }
            if (!match.entry->scope.empty()) authenticate(request, match.entry->scope, *config);
            match.entry->route->handle(request, response);
        } catch (...) {
            mapException(response, requestId, routeName);
            // A body we refused to read must not be parsed as the next request.
            closeConnection = response.status == 413 || response.status == 400 || response.status == 408;
            // A request refused before its body was read (401, 403 CSRF,
            // 429, ...) leaves the body on the wire: on a kept-alive
            // connection it would be parsed as the next request.
            if (raw.getContentLength() > 0 || raw.getChunkedTransferEncoding()) closeConnection = true;
            if (!allowHeader.empty()) response.headers.emplace_back("Allow", allowHeader);
        }
        // A route that took the connection over (the WebSocket upgrade) has sent its answer already.
        if (!out.sent()) send(out, response, requestId, closeConnection, raw.getMethod() == "HEAD");
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        service_.metrics_.observeRequest(routeName, raw.getMethod(), response.status, seconds);
        auto& logger = Poco::Logger::get("http");
        if (logger.debug()) {
            logger.debug(raw.getMethod() + " " + routeName + " " + std::to_string(response.status) + " " +
                         std::to_string(static_cast<int>(seconds * 1e6)) + "us");  // LogContext adds request_id=
        }
    }

private:
    void authenticate(Request& request, const std::string& scope, const config::Config& config) {
        const std::string client = request.clientAddress();
        service_.authFailureLimiter_.setRate(static_cast<double>(config.getInt("security.auth_failure_rate_per_minute")));
        const std::string authorization = request.raw().get("Authorization", "");
        // An API key always wins; the admin console's cookie is used only
        // when no Authorization header is present.
        if (authorization.empty() && service_.adminAuth_ != nullptr) {
            Poco::Net::NameValueCollection cookies;
            request.raw().getCookies(cookies);
            const std::string session = cookies.get(admin::kSessionCookie, "");
            if (!session.empty()) {
                authenticateAdminSession(request, session, scope, config, client);
                return;
            }
        }
        const auto result = service_.auth_.authenticate(authorization);
        if (result.failure != ApiKeyAuthenticator::Failure::None) {
            service_.metrics_.countAuthFailure(ApiKeyAuthenticator::failureName(result.failure));
            const auto decision = service_.authFailureLimiter_.acquire(client);
            if (!decision.allowed) {
                throw ApiError(429, "RATE_LIMITED", "too many failed authentications").withRetryAfter(decision.retryAfterSeconds);
            }
            Poco::Logger::get("http").notice("request " + request.requestId() + ": authentication failed (" +
                                             ApiKeyAuthenticator::failureName(result.failure) + ") from " + client);
            throw ApiError(401, "UNAUTHENTICATED", "a valid API key is required (Authorization: Bearer cdk_...)");
        }
        if (!hasScope(result.principal, scope)) {
            throw ApiError(403, "INSUFFICIENT_SCOPE", "this API key lacks the " + scope + " scope").withDetail("required_scope", scope);
        }
        service_.apiLimiter_.setRate(static_cast<double>(config.getInt("security.api_rate_per_second")));
        const auto decision = service_.apiLimiter_.acquire(result.principal.keyId);
        if (!decision.allowed) {
            throw ApiError(429, "RATE_LIMITED", "too many requests for this API key").withRetryAfter(decision.retryAfterSeconds);
        }
        request.principal = result.principal;
    }

    /// The admin console's session cookie: a principal with the admin scope
    /// (which implies every scope) acting as "admin:<user>". Browsers attach
    /// cookies to cross-site requests too, so every state-changing method must
    /// also prove it comes from our own page: the CSRF token (only our pages
    /// can read it) in X-CSRF-Token, and an Origin, when the browser sends
    /// one, naming this very host.
    void authenticateAdminSession(Request& request, const std::string& session, const std::string& scope,
                                  const config::Config& config, const std::string& client) {
        const std::string& method = request.method();
        const bool safeMethod = method == "GET" || method == "HEAD" || method == "OPTIONS";
        // The dashboard's event stream must not keep an unattended console logged in.
        const bool activity = request.path() != "/api/v1/admin/events";
        const auto identity = service_.adminAuth_->validate(session, activity);
        if (!identity) {
            service_.metrics_.countAuthFailure("admin_session");
            const auto decision = service_.authFailureLimiter_.acquire(client);
            if (!decision.allowed) {
                throw ApiError(429, "RATE_LIMITED", "too many failed authentications").withRetryAfter(decision.retryAfterSeconds);
            }
            throw ApiError(401, "UNAUTHENTICATED", "the admin session has ended; log in again");
        }
        if (!safeMethod) {
            const std::string origin = request.raw().get("Origin", "");
            if (!origin.empty() && !sameOrigin(origin, request.raw().getHost())) {
                service_.metrics_.countAuthFailure("csrf");
                throw ApiError(403, "CSRF_REJECTED", "cross-origin request refused");
            }
            if (!admin::AdminAuth::csrfValid(*identity, request.raw().get(admin::kCsrfHeader, ""))) {
                service_.metrics_.countAuthFailure("csrf");
                Poco::Logger::get("http").notice("request " + request.requestId() + ": " + method + " by admin " +
                                                 identity->username + " without a valid CSRF token from " + client);
                throw ApiError(403, "CSRF_REJECTED", "missing or wrong X-CSRF-Token header; reload the console");
            }
        }
        (void)scope;  // the admin scope implies every scope
        service_.apiLimiter_.setRate(static_cast<double>(config.getInt("security.api_rate_per_second")));
        const auto decision = service_.apiLimiter_.acquire("admin:" + identity->username);
        if (!decision.allowed) {
            throw ApiError(429, "RATE_LIMITED", "too many requests for this admin").withRetryAfter(decision.retryAfterSeconds);
        }
        request.principal.adminUser = identity->username;
        request.principal.scopes = {"admin"};
    }

    /// Whether an Origin header ("scheme://host[:port]") names `host` (the Host header).
    static bool sameOrigin(const std::string& origin, const std::string& host) {
        const auto scheme = origin.find("://");
        if (scheme == std::string::npos || host.empty()) return false;
        const std::string authority = origin.substr(scheme + 3);
        if (authority.size() != host.size()) return false;
        return std::equal(authority.begin(), authority.end(), host.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    }

    void send(Poco::Net::HTTPServerResponse& out, const Response& response, const std::string& requestId, bool close,
              bool head) {
        const auto status = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status);
        out.setStatusAndReason(status, Poco::Net::HTTPResponse::getReasonForStatus(status));
        out.setContentType(response.contentType);
        out.set("X-Request-Id", requestId);
        out.set("Cache-Control", "no-store");
        out.set("X-Content-Type-Options", "nosniff");
        out.set("Referrer-Policy", "no-referrer");
        out.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
        if (service_.tls_) out.set("Strict-Transport-Security", "max-age=31536000");
        for (const auto& [name, value] : response.headers) {
            // Several cookies are several headers; everything else is one.
            if (name == "Set-Cookie") out.add(name, value);
            else out.set(name, value);
        }
        if (close) out.setKeepAlive(false);
        out.setContentLength64(static_cast<Poco::Int64>(response.body.size()));
        std::ostream& stream = out.send();
        if (!head) stream.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
    }

    HttpService& service_;
};

namespace {
class DispatcherFactory final : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit DispatcherFactory(HttpService& service) : service_(service) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Dispatcher(service_);  // POCO takes ownership
    }

private:
    HttpService& service_;
};
}  // namespace

// ---- service ------------------------------------------------------------------

HttpService::HttpService(core::ConfigSource config, Router& router, store::Store& store, core::Metrics& metrics)
    : config_(std::move(config)),
      router_(router),
      metrics_(metrics),
      auth_(store),
      apiLimiter_(1000, std::chrono::seconds(1)),
      authFailureLimiter_(30, std::chrono::minutes(1)),
      certificates_(std::make_unique<TlsCertificates>()) {}

HttpService::~HttpService() { stop(); }

bool HttpService::isLoopback(const std::string& address) {
    return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

void HttpService::preflight(const config::Config& config) {
    const std::string address = config.getString("server.listen_address");
    const bool tls = config.getBool("server.tls");
    if (!tls && !isLoopback(address) && !config.getBool("server.allow_plaintext")) {
        const auto where = config.locationOf("server.listen_address");
        throw std::runtime_error(where.file + ":" + std::to_string(where.line) +
                                 ": server.listen_address: refusing plain HTTP on non-loopback address " + address +
                                 " (patients' tokens would cross the network unencrypted); set server.tls = true with "
                                 "tls_cert_file and tls_key_file, or server.allow_plaintext = true behind a TLS proxy");
    }
    if (tls) {
        try {
            TlsCertificates::load(config.getPath("server.tls_cert_file"), config.getPath("server.tls_key_file"));
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            const std::string setting = what.substr(0, what.find(':'));
            const auto where = config.locationOf(setting);
            throw std::runtime_error(where.file + ":" + std::to_string(where.line) + ": " + what);
        }
    }
}

void HttpService::start() {
    const auto config = config_();
    preflight(*config);
    const std::string address = config->getString("server.listen_address");
    const auto requestedPort = static_cast<std::uint16_t>(config->getInt("server.port"));
    tls_ = config->getBool("server.tls");

    Poco::Net::SocketAddress socketAddress;
    try {
        socketAddress = Poco::Net::SocketAddress(address == "localhost" ? "127.0.0.1" : address, requestedPort);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("server.listen_address: invalid address " + address + ": " + e.displayText());
    }

    std::unique_ptr<Poco::Net::ServerSocket> socket;
    try {
        if (tls_) {
            const std::string certFile = config->getPath("server.tls_cert_file");
            const std::string keyFile = config->getPath("server.tls_key_file");
            if (certFile.empty() || keyFile.empty()) {
                throw std::runtime_error("server.tls = true needs server.tls_cert_file and server.tls_key_file");
            }
            certificates_->set(TlsCertificates::load(certFile, keyFile));
            Poco::Net::initializeSSL();
            Poco::Net::Context::Params params;
            params.verificationMode = Poco::Net::Context::VERIFY_NONE;
            params.loadDefaultCAs = false;
            params.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS";
            Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
            context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
            context->preferServerCiphers();
            SSL_CTX_set_cert_cb(context->sslContext(), &TlsCertificates::certificateCallback, certificates_.get());
            auto secure = std::make_unique<Poco::Net::SecureServerSocket>(context);
            // SO_REUSEADDR only: POCO's two-argument bind also sets SO_REUSEPORT,
            // which let a second daemon bind the same port and silently share it.
            secure->bind(socketAddress, true, false);
            secure->listen(128);
            socket = std::move(secure);
        } else {
            socket = std::make_unique<Poco::Net::ServerSocket>();
            socket->bind(socketAddress, true, false);  // no SO_REUSEPORT (see above)
            socket->listen(128);
        }
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot listen on " + socketAddress.toString() + ": " + e.displayText());
    }
    port_ = socket->address().port();

    const int threads = static_cast<int>(config->getInt("server.threads"));
    pool_ = std::make_unique<Poco::ThreadPool>(2, threads, 60, 0);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(static_cast<int>(config->getInt("server.max_queued_connections")));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(config->getInt("server.keep_alive_seconds")), 0));
    params->setMaxKeepAliveRequests(0);  // unlimited on one connection
    params->setTimeout(Poco::Timespan(30, 0));
    params->setServerName("consultd");
    server_ = std::make_unique<Poco::Net::HTTPServer>(new DispatcherFactory(*this), *pool_, *socket, params);
    server_->start();
}

void HttpService::stop() {
    if (server_) {
        server_->stopAll(false);
        server_.reset();
    }
    if (pool_) {
        pool_->joinAll();
        pool_.reset();
    }
}

void HttpService::reloadTls(const config::Config& config) {
    if (!tls_ || !config.getBool("server.tls")) return;
    certificates_->set(TlsCertificates::load(config.getPath("server.tls_cert_file"), config.getPath("server.tls_key_file")));
}

}  // namespace consultd::http
