#pragma once
// Consultation sessions: the state machine, participants, join grants,
// events and analytics. Routes parse and render; this class decides.
//
// State machine: scheduled -> waiting -> active -> ended; scheduled|waiting ->
// cancelled; a session whose provider room cannot be made is still created
// (provider_status "unavailable"). Every transition is one store transaction
// with its event and audit entry.
//
// Thread-safety: thread-safe (state lives in the Store; the rate limiter and
// metrics are thread-safe; providers are thread-safe by contract).

#include "config/Config.h"
#include "core/CircuitBreaker.h"
#include "core/ConfigSource.h"
#include "consultd/provider.h"
#include "core/Metrics.h"
#include "core/RateLimiter.h"
#include "plugins/PluginHost.h"
#include "store/Store.h"

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace consultd::core {

/// Who asks, for the audit log.
struct Actor {
    std::string name;       // "apikey:<id>", "cli", "system"
    std::string requestId;
};

struct CreateSessionRequest {
    std::string consultationId;
    std::string provider;  // empty = providers.default
    std::string mode = "video";
    std::int64_t scheduledAt = 0;
    store::ParticipantRecord host;
    std::vector<store::ParticipantRecord> participants;
    std::string deviceId;
    bool record = false;
    std::string metadataJson = "{}";
};

struct GrantResult {
    std::string provider;
    std::string role;
    JoinGrant grant;
};

struct CanJoinResult {
    bool canJoin = false;
    std::string reason;  // empty when canJoin
    std::optional<std::int64_t> minutesUntilSession;
};

struct Analytics {
    store::SessionRecord session;
    std::vector<store::EventRecord> events;  // timeline (capped)
    bool timelineTruncated = false;
};

class SessionService {
public:
    SessionService(store::Store& store, plugins::PluginHost& plugins, Metrics& metrics, ConfigSource config);

    /// Creates a session, or returns the consultation's open one (created = false).
    std::pair<store::SessionRecord, bool> create(const CreateSessionRequest& request, const Actor& actor);
    store::SessionRecord get(const std::string& id) const;
    std::vector<store::SessionRecord> list(const store::SessionFilter& filter) const;

    store::SessionRecord start(const std::string& id, const Actor& actor);
    store::SessionRecord end(const std::string& id, const std::string& reason, const std::string& quality,
                             const Actor& actor);
    store::SessionRecord cancel(const std::string& id, const std::string& reason, const Actor& actor);

    /// A join grant for one participant: rate-limited, audited, never logged.
    GrantResult issueGrant(const std::string& id, const std::string& participantId, const Actor& actor);
    CanJoinResult canJoin(const store::SessionRecord& session, const std::string& participantId) const;

    /// Stores a client event. Returns the event and whether it is new: a
    /// repeated idempotency key returns the first event (created = false), and
    /// one reused for a different event is a 409.
    std::pair<store::EventRecord, bool> addEvent(const std::string& id, store::EventRecord event);
    Analytics analytics(const std::string& id) const;

    /// What became of one provider event (applyProviderEvent).
    enum class ProviderEventOutcome { Stored, Duplicate, UnknownRoom };

    /// Stores an event a provider reported through its webhook, for the
    /// session of `provider` whose provider room is `event.providerRoomId`.
    /// Idempotent by `event.idempotencyKey`: a repeated key stores nothing and
    /// has no effect. participant_joined/left update the participant's times;
    /// room_ended ends an active session (duration computed; a session still
    /// waiting for its host only gets the event).
    ProviderEventOutcome applyProviderEvent(const std::string& provider, const ProviderEvent& event,
                                            const Actor& actor);

    /// Makes sure the session has its provider room: returns it unchanged when
    /// it has one, else calls createRoom() through the provider's circuit
    /// breaker and stores the room (a concurrent caller's room wins, so all
    /// grants of a session name one room). Throws ApiError (503 with
    /// Retry-After while the provider is unavailable or its circuit is open).
    store::SessionRecord ensureProviderRoom(store::SessionRecord session);

    /// The circuit breaker state of a provider (closed when never used).
    CircuitBreaker::Snapshot circuit(const std::string& provider) const;

    /// Runs `call` through the provider's circuit breaker (refused with 503
    /// while it is open) and callProvider(). For calls that reach the
    /// provider's upstream: createRoom, closeRoom, recordings.
    template <typename F>
    auto callGuarded(const std::string& provider, const char* what, F&& call) const -> decltype(call());

    /// Runs `call` against a provider, mapping its failures to ApiError
    /// (503 unavailable, 422 rejected, 502 anything else) and counting them.
    template <typename F>
    auto callProvider(const std::string& provider, const char* what, F&& call) const -> decltype(call());

    /// Allowed values of end quality.
    static const std::vector<std::string>& qualityValues();

    /// Called with the new record after each status change this service makes
    /// (waiting, active, ended, cancelled), on the thread that made it, after
    /// the change is stored. Must not block; exceptions are logged and dropped.
    using StatusObserver = std::function<void(const store::SessionRecord&)>;
    /// Registers an observer; register before serving (the signaling rooms
    /// follow session state through this).
    void addStatusObserver(StatusObserver observer);

    /// Called with each new (not duplicate) event a provider's webhook
    /// produced, after it is stored, on the webhook's thread, with the stored
    /// record and the provider's original event (whose data may hold what is
    /// not stored: a download URL). Must not block; exceptions are logged and
    /// dropped. Register before serving.
    using ProviderEventObserver = std::function<void(const std::string& provider, const store::EventRecord& stored,
                                                     const ProviderEvent& original)>;
    void addProviderEventObserver(ProviderEventObserver observer);

private:
    /// The session as the grant path sees it: cached for up to one second
    /// (a grant per participant per click costs a database read otherwise).
    /// Every write this service makes drops the entry; a change made by
    /// another process (the admin CLI) is seen within the second.
    store::SessionRecord getForGrant(const std::string& id) const;
    void forget(const std::string& id) const;
    void notifyStatus(const store::SessionRecord& session) const;

    Provider& providerOrThrow(const std::string& name) const;
    CircuitBreaker& breakerFor(const std::string& provider) const;
    /// Retry-After for a 503 of `provider`: until its circuit half-opens,
    /// else providers.retry_initial_seconds.
    int retryAfterFor(const std::string& provider) const;
    static SessionView viewOf(const store::SessionRecord& session);
    void reportProviderFailure(const std::string& provider, const char* what, const std::string& kind,
                               const std::string& message) const;

    store::Store& store_;
    plugins::PluginHost& plugins_;
    Metrics& metrics_;
    ConfigSource config_;
    mutable RateLimiter tokenLimiter_;
    struct CachedSession {
        store::SessionRecord record;
        std::chrono::steady_clock::time_point fetched;
    };
    mutable std::mutex cacheMutex_;
    mutable std::unordered_map<std::string, CachedSession> cache_;
    mutable std::mutex breakersMutex_;
    mutable std::map<std::string, std::unique_ptr<CircuitBreaker>> breakers_;
    mutable std::mutex observersMutex_;
    std::vector<StatusObserver> observers_;
    std::vector<ProviderEventObserver> providerEventObservers_;
};

}  // namespace consultd::core

#include "core/ApiError.h"

namespace consultd::core {

template <typename F>
auto SessionService::callGuarded(const std::string& provider, const char* what, F&& call) const -> decltype(call()) {
    CircuitBreaker& breaker = breakerFor(provider);
    const auto admission = breaker.admit();
    if (!admission.allowed) {
        // The provider is not contacted while its circuit is open.
        metrics_.countProviderError(provider, "circuit_open");
        throw ApiError(503, "PROVIDER_UNAVAILABLE", "provider " + provider + " is unavailable; try again later")
            .withRetryAfter(retryAfterFor(provider))
            .withDetail("circuit", "open");
    }
    try {
        if constexpr (std::is_void_v<decltype(call())>) {
            callProvider(provider, what, std::forward<F>(call));
            breaker.onSuccess();
        } else {
            auto result = callProvider(provider, what, std::forward<F>(call));
            breaker.onSuccess();
            return result;
        }
    } catch (const ApiError& e) {
        if (e.status() == 503) {
            breaker.onFailure();
            throw ApiError(503, "PROVIDER_UNAVAILABLE", e.what()).withRetryAfter(retryAfterFor(provider));
        }
        breaker.onNeutral(admission);
        throw;
    }
}

template <typename F>
auto SessionService::callProvider(const std::string& provider, const char* what, F&& call) const -> decltype(call()) {
    try {
        return call();
    } catch (const ProviderUnavailable& e) {
        reportProviderFailure(provider, what, "unavailable", e.what());
        throw ApiError(503, "PROVIDER_UNAVAILABLE", "provider " + provider + " is unavailable; try again later")
            .withRetryAfter(30);
    } catch (const ProviderRejected& e) {
        reportProviderFailure(provider, what, "rejected", e.what());
        throw ApiError(422, "PROVIDER_REJECTED", std::string("provider ") + provider + " refused: " + e.what());
    } catch (const ApiError&) {
        throw;
    } catch (const std::exception& e) {
        reportProviderFailure(provider, what, "error", e.what());
        throw ApiError(502, "PROVIDER_ERROR", "provider " + provider + " failed");
    } catch (...) {
        reportProviderFailure(provider, what, "error", "non-standard exception");
        throw ApiError(502, "PROVIDER_ERROR", "provider " + provider + " failed");
    }
}

}  // namespace consultd::core
