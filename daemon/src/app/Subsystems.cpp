#include "app/Subsystems.h"

#include "http/routes/Routes.h"
#include "http/routes/WebRoutes.h"
#include "store/RecordingStore.h"
#include "util/Time.h"

#include <Poco/Logger.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace consultd::app {

namespace {

std::string publicUrlOf(const config::Config& config, std::uint16_t boundPort) {
    std::string url = config.getString("server.public_url");
    if (!url.empty()) {
        while (!url.empty() && url.back() == '/') url.pop_back();
        return url;
    }
    std::string host = config.getString("server.listen_address");
    if (host == "0.0.0.0" || host == "::") host = "localhost";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    const auto port = boundPort != 0 ? boundPort : static_cast<std::uint16_t>(config.getInt("server.port"));
    return std::string(config.getBool("server.tls") ? "https://" : "http://") + host + ":" + std::to_string(port);
}

}  // namespace

std::string databasePath(const config::Config& config);

std::string databasePath(const config::Config& config) {
    const fs::path stateDir = config.getPath("storage.state_dir");
    const fs::path database = config.getString("storage.database");
    return (database.is_absolute() ? database : stateDir / database).string();
}

// ---- store ------------------------------------------------------------------

void StoreSubsystem::initialize(Poco::Util::Application&) {
    const auto config = runtime_.currentConfig();
    const std::string stateDir = config->getPath("storage.state_dir");
    std::error_code ec;
    if (!fs::exists(stateDir, ec)) {
        fs::create_directories(stateDir, ec);
        if (ec) throw std::runtime_error("storage.state_dir: cannot create " + stateDir + ": " + ec.message());
        ::chmod(stateDir.c_str(), 0750);
    }
    store::StoreOptions options;
    options.path = databasePath(*config);
    options.busyTimeoutMs = static_cast<int>(config->getInt("storage.busy_timeout_ms"));
    runtime_.store = store::Store::open(options);
    Poco::Logger::get("store").information("database " + options.path + " open (schema version " +
                                           std::to_string(runtime_.store->schemaVersion()) + ")");
    store::Store* store = runtime_.store.get();
    runtime_.metrics.addCollector([store](std::string& out) {
        out += "# HELP consultd_sessions Sessions by status.\n# TYPE consultd_sessions gauge\n";
        try {
            for (const auto& row : store->countSessionsByStatus()) {
                out += "consultd_sessions{status=\"" + row.status + "\"} " + std::to_string(row.count) + "\n";
            }
        } catch (const std::exception& e) {
            Poco::Logger::get("metrics").warning(std::string("sessions by status unavailable: ") + e.what());
        }
    });
}

void StoreSubsystem::uninitialize() { runtime_.store.reset(); }

// ---- providers -------------------------------------------------------------------

void ProviderSubsystem::initialize(Poco::Util::Application&) {
    const auto config = runtime_.currentConfig();
    {
        std::lock_guard lock(runtime_.iceMutex);
        runtime_.iceMinter = std::make_shared<core::IceServerMinter>(*config, runtime_.embeddedTurnUrls);
    }
    runtime_.setPublicUrl(publicUrlOf(*config, 0));
    std::string keyFile = config->getPath("signaling.key_file");
    if (keyFile.empty()) keyFile = (fs::path(config->getPath("storage.state_dir")) / "signaling.key").string();
    try {
        runtime_.signalingTokens = std::make_unique<signal::SignalingTokens>(signal::SignalingTokens::fromKeyFile(keyFile));
    } catch (const std::runtime_error& e) {
        const auto at = config->locationOf("signaling.key_file");
        throw std::runtime_error(at.file + ":" + std::to_string(at.line) + ": " + e.what());
    }
    const std::int64_t maxTtl = config->getInt("signaling.token_ttl_seconds");
    plugins::SignalingSource signaling;
    signaling.url = [this] { return runtime_.signalingUrl(); };
    signaling.mintToken = [this, maxTtl](const SessionView& session, const ParticipantView& participant,
                                         std::int64_t expiresAt) {
        const std::int64_t now = util::nowMillis() / 1000;
        return runtime_.signalingTokens->mint(session.id, participant.id, roleName(participant.role),
                                              std::min(expiresAt, now + maxTtl), now);
    };
    store::Store* store = runtime_.store.get();
    runtime_.plugins->setWebhookReplaySource([store](const std::string& provider, const std::string& replayId,
                                                     std::int64_t expiresAt) {
        const std::int64_t now = util::nowMillis();
        constexpr std::int64_t kLongestMs = 7LL * 24 * 3600 * 1000;
        return store->claimWebhookId(provider, replayId, std::clamp(expiresAt * 1000, now, now + kLongestMs), now);
    });
    std::vector<std::string> errors;
    runtime_.plugins->createProviders(
        config, [this](const std::string& s, const std::string& p) { return runtime_.mintIceServers(s, p); },
        publicUrlOf(*config, 0), errors, signaling);
    if (!errors.empty()) {
        std::string message = "provider start failed:";
        for (const auto& e : errors) message += "\n  " + e;
        throw std::runtime_error(message);
    }
    for (const auto& info : runtime_.plugins->list()) {
        Poco::Logger::get("providers").information("provider " + info.name + " ready (" + info.modulePath + ", " +
                                                   info.moduleVersion + ")");
    }
}

void ProviderSubsystem::uninitialize() {
    // Providers are destroyed with the host, after the HTTP service stopped.
}

// ---- recording -------------------------------------------------------------------

void RecordingSubsystem::initialize(Poco::Util::Application&) {
    runtime_.recordings =
        std::make_unique<recording::RecordingService>(*runtime_.store, runtime_.configSource(), runtime_.metrics);
    const auto report = runtime_.recordings->recoverInterrupted();
    if (report.repaired + report.completed + report.failed > 0) {
        Poco::Logger::get("recording").warning(
            "interrupted recordings found at start: " + std::to_string(report.repaired) + " repaired, " +
            std::to_string(report.completed) + " completed, " + std::to_string(report.failed) + " failed");
    }
    const auto interval = runtime_.currentConfig()->getInt("recording.retention_interval_seconds");
    runtime_.retention =
        std::make_unique<recording::RecordingRetention>(*runtime_.recordings, std::chrono::seconds(interval));
    runtime_.retention->start();
}

void RecordingSubsystem::uninitialize() {
    if (runtime_.retention) runtime_.retention->stop();
    if (runtime_.recordings) runtime_.recordings->detach("daemon stopping");
    runtime_.retention.reset();
    runtime_.recordings.reset();
}

void RecorderSubsystem::initialize(Poco::Util::Application&) {
    std::unique_ptr<recording::LiveRecorderFactory> factory;
    if (runtime_.liveRecorderFactory) factory = runtime_.liveRecorderFactory();
    if (!factory) {
        Poco::Logger::get("recording").notice("built without GStreamer: webrtc sessions cannot be recorded");
    }
    runtime_.recordings->attach(*runtime_.sessions, *runtime_.plugins,
                                runtime_.signaling ? &runtime_.signaling->rooms() : nullptr,
                                [this](const std::string& s, const std::string& p) {
                                    return runtime_.mintIceServers(s, p);
                                },
                                std::move(factory));
}

void RecorderSubsystem::uninitialize() {
    // SIGTERM: every file is finalised (EOS, duration, cues, final chunk,
    // rename) before the listener, signaling and store go away.
    if (runtime_.recordings) runtime_.recordings->detach("daemon stopping");
}

// ---- http ----------------------------------------------------------------------

void HttpSubsystem::initialize(Poco::Util::Application&) {
    runtime_.sessions = std::make_unique<core::SessionService>(*runtime_.store, *runtime_.plugins, runtime_.metrics,
                                                               runtime_.configSource());
    runtime_.roomRetrier = std::make_unique<core::ProviderRoomRetrier>(*runtime_.store, *runtime_.sessions,
                                                                       runtime_.metrics, runtime_.configSource());
    {
        core::SessionService* sessions = runtime_.sessions.get();
        plugins::PluginHost* plugins = runtime_.plugins.get();
        runtime_.metrics.addCollector([sessions, plugins](std::string& out) {
            out += "# HELP consultd_provider_circuit_state Circuit breaker state per provider (1 = current).\n"
                   "# TYPE consultd_provider_circuit_state gauge\n";
            std::string opened = "# HELP consultd_provider_circuit_opened_total Times a provider's circuit opened.\n"
                                 "# TYPE consultd_provider_circuit_opened_total counter\n";
            for (const auto& info : plugins->list()) {
                const auto circuit = sessions->circuit(info.name);
                const std::string provider = core::Metrics::escapeLabel(info.name);
                for (auto state : {core::CircuitBreaker::State::Closed, core::CircuitBreaker::State::HalfOpen,
                                   core::CircuitBreaker::State::Open}) {
                    out += "consultd_provider_circuit_state{provider=\"" + provider + "\",state=\"" +
                           core::CircuitBreaker::stateName(state) + "\"} " + (circuit.state == state ? "1" : "0") + "\n";
                }
                opened += "consultd_provider_circuit_opened_total{provider=\"" + provider + "\"} " +
                          std::to_string(circuit.timesOpened) + "\n";
            }
            out += opened;
        });
    }
    runtime_.services = std::make_unique<http::ApiServices>(http::ApiServices{
        *runtime_.sessions, *runtime_.store, *runtime_.plugins, runtime_.metrics, runtime_.configSource(),
        [this](const std::string& s, const std::string& p) { return runtime_.mintIceServers(s, p); }});
    runtime_.services->recordings = runtime_.recordings.get();
    if (runtime_.recordings) {
        runtime_.importer = std::make_unique<recording::RecordingImporter>(
            runtime_.recordings->catalog(), *runtime_.store, *runtime_.plugins, runtime_.metrics,
            runtime_.configSource());
        recording::RecordingImporter* importer = runtime_.importer.get();
        runtime_.sessions->addProviderEventObserver([importer](const std::string& provider,
                                                               const store::EventRecord& stored,
                                                               const ProviderEvent& original) {
            if (auto job = recording::RecordingImporter::jobFromEvent(provider, stored, original)) {
                importer->enqueue(std::move(*job));
            }
        });
        runtime_.importer->start();
    }
    runtime_.invites = std::make_unique<core::InviteService>(*runtime_.store, *runtime_.sessions,
                                                             runtime_.configSource(),
                                                             [this] { return runtime_.publicUrl(); });
    runtime_.devices = std::make_unique<core::DeviceService>(*runtime_.store, runtime_.configSource());
    runtime_.services->invites = runtime_.invites.get();
    runtime_.services->devices = runtime_.devices.get();
    runtime_.signaling = std::make_unique<signal::SignalingService>(*runtime_.currentConfig(), *runtime_.sessions,
                                                                    *runtime_.signalingTokens);
    signal::SignalingService* signaling = runtime_.signaling.get();
    runtime_.sessions->addStatusObserver([signaling](const store::SessionRecord& session) {
        signaling->rooms().onSessionStatus(session.id, session.status);
    });
    runtime_.signaling->start();
    runtime_.metrics.addCollector([signaling](std::string& out) {
        const auto stats = signaling->rooms().stats();
        out += "# HELP consultd_signaling_connections Signaling WebSocket connections held.\n"
               "# TYPE consultd_signaling_connections gauge\nconsultd_signaling_connections " +
               std::to_string(signaling->hub().connectionCount()) + "\n";
        out += "# HELP consultd_signaling_rooms Signaling rooms with participants.\n"
               "# TYPE consultd_signaling_rooms gauge\nconsultd_signaling_rooms " + std::to_string(stats.rooms) + "\n";
        out += "# HELP consultd_signaling_participants Participants in signaling rooms.\n"
               "# TYPE consultd_signaling_participants gauge\nconsultd_signaling_participants " +
               std::to_string(stats.participants) + "\n";
    });
    runtime_.adminAuth = std::make_unique<admin::AdminAuth>(*runtime_.store, runtime_.configSource());
    admin::DashboardSources sources;
    sources.turn = [this]() -> Poco::JSON::Object::Ptr {
        if (!runtime_.turnRelay) return nullptr;
        const auto stats = runtime_.turnRelay->stats();
        Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        out->set("allocations_active", stats.allocationsActive);
        out->set("tcp_connections_active", stats.tcpConnectionsActive);
        out->set("bytes_relayed", stats.bytesFromClients + stats.bytesToClients);
        return out;
    };
    sources.signaling = [signaling]() -> Poco::JSON::Object::Ptr {
        const auto stats = signaling->rooms().stats();
        Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        out->set("connections", static_cast<Poco::UInt64>(signaling->hub().connectionCount()));
        out->set("rooms", static_cast<Poco::UInt64>(stats.rooms));
        out->set("participants", static_cast<Poco::UInt64>(stats.participants));
        return out;
    };
    store::Store* storePtr = runtime_.store.get();
    sources.recordings = [storePtr]() -> Poco::JSON::Array::Ptr {
        Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
        for (const auto& r : store::RecordingStore(*storePtr).listByStatus("recording", 100)) {
            Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            item->set("id", r.id);
            item->set("session_id", r.sessionId);
            item->set("participant_id", r.participantId);
            item->set("source", r.source);
            item->set("created_at", util::formatRfc3339(r.createdAt));
            out->add(item);
        }
        return out;
    };
    runtime_.dashboard = std::make_unique<admin::Dashboard>(*runtime_.store, *runtime_.plugins, std::move(sources));
    runtime_.adminServices =
        std::make_unique<http::AdminServices>(http::AdminServices{*runtime_.adminAuth, *runtime_.dashboard});
    runtime_.router = std::make_unique<http::Router>();
    http::routes::registerApiRoutes(*runtime_.router, *runtime_.services, runtime_.signaling.get(),
                                    runtime_.adminServices.get());
    http::routes::registerWebRoutes(*runtime_.router, *runtime_.services);
    runtime_.http = std::make_unique<http::HttpService>(runtime_.configSource(), *runtime_.router, *runtime_.store,
                                                        runtime_.metrics);
    runtime_.http->setAdminAuth(runtime_.adminAuth.get());
    runtime_.http->start();
    runtime_.roomRetrier->start();
    const auto config = runtime_.currentConfig();
    runtime_.setPublicUrl(publicUrlOf(*config, runtime_.http->port()));
    runtime_.signaling->setPublicUrl(runtime_.publicUrl());
    Poco::Logger::get("http").notice("listening on " + config->getString("server.listen_address") + ":" +
                                     std::to_string(runtime_.http->port()) + (runtime_.http->tls() ? " (TLS)" : "") +
                                     "; public URL " + publicUrlOf(*config, runtime_.http->port()));
}

void HttpSubsystem::uninitialize() {
    // Dashboard event streams hold worker threads: end them first, or the
    // server's stop would wait for them.
    if (runtime_.dashboard) runtime_.dashboard->stop();
    if (runtime_.http) runtime_.http->stop();
    if (runtime_.roomRetrier) runtime_.roomRetrier->stop();
    if (runtime_.importer) runtime_.importer->stop();
    // After the listener (no new upgrades), before the sessions it reports to.
    if (runtime_.signaling) runtime_.signaling->stop();
    runtime_.http.reset();
    runtime_.router.reset();
    runtime_.services.reset();
    runtime_.invites.reset();
    runtime_.devices.reset();
    runtime_.roomRetrier.reset();
    runtime_.adminServices.reset();
    runtime_.dashboard.reset();
    runtime_.adminAuth.reset();
    runtime_.importer.reset();
    runtime_.sessions.reset();
    runtime_.signaling.reset();
}

}  // namespace consultd::app
