#pragma once
/// consultd provider plugin API.
///
/// Every provider (self-hosted Jitsi, JaaS, Vonage, native WebRTC, ...) is a
/// shared library in `providers.plugin_dir` that exports two C symbols:
///
///   extern "C" int consultd_plugin_api_version();
///   extern "C" const consultd::PluginModule* consultd_plugin_module();
///
/// The daemon calls `consultd_plugin_api_version()` first and refuses the file
/// unless it returns `consultd::kProviderApiVersion`; only then does it touch
/// any C++ type declared here. Use CONSULTD_DECLARE_PLUGIN at namespace scope in
/// exactly one translation unit of the plugin to define both symbols.
///
/// Changing anything in this folder changes the ABI: bump kProviderApiVersion
/// and append its hash to tests/daemon/plugins/plugin_api.sha256 (the ABI guard
/// test fails otherwise; the file says how).
///
/// Threading: the daemon calls a Provider from its HTTP worker threads
/// concurrently. Every Provider method must be thread-safe. ProviderContext
/// methods are thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace consultd {

/// Bumped on every change to a header in daemon/include/consultd/.
inline constexpr int kProviderApiVersion = 4;

/// What a provider can do; reported by GET /api/v1/providers.
struct Capabilities {
    bool video = false;
    bool voiceOnly = false;
    bool chat = false;
    bool recording = false;
    bool screenShare = false;
    bool webhooks = false;
};

/// Participant roles of the public API.
enum class Role { Host, Patient, Guest, Device, Recorder };

/// "host", "patient", "guest", "device", "recorder".
const char* roleName(Role role) noexcept;
/// Parses a role name; std::nullopt for anything else.
std::optional<Role> parseRole(const std::string& name) noexcept;

/// Consultation modes of the public API.
enum class Mode { Video, Voice, Chat };
const char* modeName(Mode mode) noexcept;
std::optional<Mode> parseMode(const std::string& name) noexcept;

/// The part of a consultd session a provider may see. No patient data beyond
/// ids and display names ever reaches a provider.
struct SessionView {
    std::string id;              ///< consultd session id (opaque, URL-safe)
    std::string consultationId;  ///< the integrator's consultation id (may hold any characters)
    Mode mode = Mode::Video;
    /// Room name derived by the daemon from the session id: lower-case
    /// [a-z0-9-] only, safe in URLs, MUC addresses and JWT `room` claims.
    std::string roomName;
    /// Opaque provider room id from createRoom(); empty before it.
    std::string providerRoomId;
    bool record = false;
};

/// One participant of a session.
struct ParticipantView {
    std::string id;    ///< the integrator's participant id
    std::string name;  ///< display name
    std::string email; ///< may be empty
    Role role = Role::Guest;
};

/// One ICE server entry, as in RTCIceServer.
struct IceServer {
    std::vector<std::string> urls;
    std::string username;    ///< empty for STUN
    std::string credential;  ///< empty for STUN
};

/// What createRoom() returns.
struct RoomInfo {
    std::string providerRoomId;  ///< opaque; stored by the daemon and passed back in SessionView
};

/// A join grant for one participant, returned by issueGrant().
struct JoinGrant {
    std::string room;       ///< room name as the provider's client expects it
    std::string token;      ///< secret: never logged by the daemon
    std::string joinUrl;    ///< URL that opens the call (may contain the token)
    std::int64_t expiresAt = 0;  ///< Unix seconds
    std::vector<IceServer> iceServers;
    /// Client settings the join page needs (domain, script URL, app id, ...).
    std::map<std::string, std::string> client;
};

/// A provider callback, as received on POST /api/v1/webhooks/{provider}.
struct WebhookRequest {
    /// Header names lower-cased.
    std::map<std::string, std::string> headers;
    std::string body;  ///< raw body bytes, exactly as received
};

/// A session event produced from a webhook.
///
/// Types the daemon acts on (others are stored as they are):
/// - `participant_joined` / `participant_left`: `participantId` is the
///   participant id consultd put into the grant (unknown ids are stored in
///   the data, not as the event's participant);
/// - `room_ended`: ends an active consultd session (duration computed);
/// - `recording_available`: a finished provider recording; `dataJson` holds
///   `provider_recording_id`, `download_url` and, when known, `size_bytes`.
///   Since API 4.
struct ProviderEvent {
    std::string providerRoomId;  ///< identifies the session
    std::string type;            ///< participant_joined, participant_left, room_ended, recording_*...
    std::string participantId;   ///< may be empty
    std::string severity = "info";
    std::string dataJson = "{}"; ///< JSON object text
    std::string idempotencyKey;  ///< duplicates are ignored by the daemon; may be empty
};

/// Health of a provider, reported by GET /api/v1/providers and /readyz.
struct Health {
    enum class State { Healthy, Degraded, Unavailable };
    State state = State::Healthy;
    std::string detail;
};

/// Thrown by a provider when its upstream is unreachable, times out or fails
/// (mapped to 503 PROVIDER_UNAVAILABLE by the daemon).
class ProviderUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~ProviderUnavailable() override;
};

/// Thrown for a request the provider cannot serve (mapped to 422 PROVIDER_REJECTED by the daemon).
class ProviderRejected : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~ProviderRejected() override;
};

/// Thrown by handleWebhook() for a missing/invalid/stale signature (mapped to 401).
class WebhookRejected : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~WebhookRejected() override;
};

/// Thrown by ProviderSettings for a configuration problem the provider found
/// (the daemon reports it with file and line and refuses to start).
class SettingError : public std::runtime_error {
public:
    SettingError(std::string setting, const std::string& problem)
        : std::runtime_error(problem), setting_(std::move(setting)) {}
    ~SettingError() override;
    const std::string& setting() const noexcept { return setting_; }

private:
    std::string setting_;
};

/// Type of a provider setting, for validation.
enum class SettingType { Bool, Int, String, StringList, SecretFile };

/// Declaration of one setting of a provider's config group
/// (`providers.<name>.<setting>`). The daemon validates the group against it:
/// unknown settings, wrong types and out-of-range values are config errors.
struct SettingSpec {
    std::string name;
    SettingType type = SettingType::String;
    std::string defaultValue;  ///< textual default; empty with required=true means "must be set"
    bool required = false;
    std::int64_t min = 0;      ///< for Int
    std::int64_t max = 0;      ///< for Int; min==max==0 means unbounded
    std::vector<std::string> allowed;  ///< for String: allowed values (empty = any)
    bool reloadable = false;   ///< may change on SIGHUP without restart
    std::string description;   ///< one line, used by the docs
};

/// Read-only, validated view of one provider's config group.
/// Thread-safe; valid for the provider's lifetime.
class ProviderSettings {
public:
    virtual ~ProviderSettings();
    virtual bool getBool(const std::string& name) const = 0;
    virtual std::int64_t getInt(const std::string& name) const = 0;
    virtual std::string getString(const std::string& name) const = 0;
    virtual std::vector<std::string> getStringList(const std::string& name) const = 0;
    /// Contents of the file named by a SecretFile setting (trailing newline
    /// stripped). Throws SettingError when unset or unreadable.
    virtual std::string readSecret(const std::string& name) const = 0;
    /// Path of a SecretFile setting ("" when unset).
    virtual std::string secretPath(const std::string& name) const = 0;
};

/// Log levels a provider may use; messages go to the daemon's log.
enum class LogLevel { Error, Warning, Notice, Info, Debug };

/// What the daemon hands a provider. Owned by the daemon; outlives the provider.
/// Thread-safe.
class ProviderContext {
public:
    virtual ~ProviderContext();
    /// The provider's validated config group.
    virtual const ProviderSettings& settings() const = 0;
    /// Logs one line. Never pass tokens or secrets.
    virtual void log(LogLevel level, const std::string& message) const = 0;
    /// Current time (injectable in tests).
    virtual std::chrono::system_clock::time_point now() const = 0;
    /// STUN/TURN servers with fresh time-limited credentials for one participant.
    virtual std::vector<IceServer> iceServersFor(const std::string& sessionId,
                                                 const std::string& participantId) const = 0;
    /// The appliance's public base URL (e.g. "https://consult.hospital.local:8443").
    virtual std::string publicUrl() const = 0;

    /// The daemon's WebSocket signaling endpoint for native WebRTC clients,
    /// e.g. "wss://consult.hospital.local:8443/api/v1/signal" ("ws://" when the
    /// listener is plain HTTP). Returns a new string the caller owns; empty when
    /// this daemon offers no signaling. Default: empty. Since API 3.
    virtual std::string signalingUrl() const;

    /// Mints a short-lived signaling token (HS256 JWT signed with the daemon's
    /// signaling key) bound to `session.id`, `participant.id` and
    /// `participant.role`, valid until `expiresAt` (Unix seconds; the daemon
    /// caps it at signaling.token_ttl_seconds from now). The client presents it
    /// in its first `join` message. The returned string is a secret the caller
    /// owns: hand it to the client in JoinGrant::token, never log it. Default:
    /// throws ProviderUnavailable (no signaling in this daemon). Since API 3.
    virtual std::string mintSignalingToken(const SessionView& session, const ParticipantView& participant,
                                           std::int64_t expiresAt) const;

    /// Replay protection for webhooks: records `replayId` (a signature's
    /// `jti`, a signature value, a delivery id) for this provider until
    /// `expiresAt` (Unix seconds; the daemon caps it at one week) in the
    /// daemon's store, which survives restarts. Returns true the first time,
    /// false when the id is already recorded and not expired: the request is
    /// a replay and handleWebhook() must throw WebhookRejected. Call it only
    /// after the signature has been verified (an unsigned request must not
    /// fill the store). Throws ProviderUnavailable when the store cannot
    /// answer. Default: true (no replay store). Since API 4.
    virtual bool claimWebhookId(const std::string& replayId, std::int64_t expiresAt) const;
};

/// One provider. Created by a ProviderFactory, destroyed by the daemon before
/// the plugin's context. All methods are called concurrently from worker threads.
class Provider {
public:
    virtual ~Provider();

    /// The provider's name as used in the API (`provider` field) and config group.
    virtual std::string name() const = 0;
    virtual Capabilities capabilities() const = 0;

    /// Creates (or reserves) the provider room for a session. Called once per
    /// session, possibly retried after ProviderUnavailable.
    virtual RoomInfo createRoom(const SessionView& session) = 0;

    /// Closes the room when the session ends or is cancelled. Default: nothing to close.
    virtual void closeRoom(const SessionView& session);

    /// Issues a join grant for one participant of the session.
    virtual JoinGrant issueGrant(const SessionView& session, const ParticipantView& participant) = 0;

    /// Starts provider-side recording. Default: throws ProviderRejected (not supported).
    virtual void startRecording(const SessionView& session);
    /// Stops provider-side recording. Default: throws ProviderRejected (not supported).
    virtual void stopRecording(const SessionView& session);

    /// Deletes the provider's copy of a recording (`provider_recording_id`
    /// of a `recording_available` event) once the daemon has imported it.
    /// Default: throws ProviderRejected (nothing to delete). Since API 4.
    virtual void deleteRecording(const SessionView& session, const std::string& providerRecordingId);

    /// Verifies and translates a provider callback. Default: throws
    /// WebhookRejected (this provider takes no webhooks).
    virtual std::vector<ProviderEvent> handleWebhook(const WebhookRequest& request);

    /// Current health; must not block for long (cache upstream checks).
    virtual Health health() const;
};

/// Builds one provider kind from its settings. Lives as long as the plugin.
class ProviderFactory {
public:
    virtual ~ProviderFactory();
    /// Provider name, equal to its config group under `providers`.
    virtual std::string name() const = 0;
    /// The settings of `providers.<name>` besides `enabled` (which the daemon owns).
    virtual std::vector<SettingSpec> settings() const = 0;
    /// Creates the provider. Throws SettingError for a config problem
    /// (e.g. a key file that does not parse); any other exception fails the start.
    virtual std::unique_ptr<Provider> create(const ProviderContext& context) const = 0;
};

/// What a plugin module exports. A module may provide several provider kinds
/// (the jitsi module provides "jitsi" and "jaas").
struct PluginModule {
    const char* moduleName;
    const char* moduleVersion;
    std::vector<const ProviderFactory*> factories;
};

}  // namespace consultd

/// Defines the two exported symbols of a plugin. `moduleExpr` is an expression
/// yielding `const consultd::PluginModule&` with static storage duration.
#define CONSULTD_DECLARE_PLUGIN(moduleExpr)                                                    \
    extern "C" __attribute__((visibility("default"))) int consultd_plugin_api_version() {      \
        return ::consultd::kProviderApiVersion;                                                \
    }                                                                                          \
    extern "C" __attribute__((visibility("default"))) const ::consultd::PluginModule*          \
    consultd_plugin_module() {                                                                 \
        return &(moduleExpr);                                                                  \
    }
