#include "config/Schema.h"

namespace consultd::config {
namespace {

SettingSpec setting(std::string name, SettingType type, std::string defaultValue, std::string description,
                    bool reloadable = false, std::int64_t min = 0, std::int64_t max = 0,
                    std::vector<std::string> allowed = {}) {
    SettingSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.defaultValue = std::move(defaultValue);
    spec.description = std::move(description);
    spec.reloadable = reloadable;
    spec.min = min;
    spec.max = max;
    spec.allowed = std::move(allowed);
    return spec;
}

using T = SettingType;

}  // namespace

const char* typeName(SettingType type) {
    switch (type) {
        case T::Bool: return "boolean";
        case T::Int: return "integer";
        case T::String: return "string";
        case T::StringList: return "list of strings";
        case T::SecretFile: return "secret file path";
    }
    return "value";
}

const std::vector<GroupSpec>& coreSchema() {
    static const std::vector<GroupSpec> schema = {
        {"server",
         "The HTTP(S) listener for the REST API and pages.",
         {
             setting("listen_address", T::String, "127.0.0.1",
                     "Address to bind. Anything but loopback requires tls = true or allow_plaintext = true."),
             setting("port", T::Int, "8080", "TCP port to bind (0 picks a free port and logs it).", false, 0,
                     65535),
             setting("public_url", T::String, "",
                     "Base URL patients and kiosks reach (used in join and signaling URLs); empty derives it "
                     "from listen_address and port."),
             setting("allow_plaintext", T::Bool, "false",
                     "Allow plain HTTP on a non-loopback address. Only behind a TLS-terminating proxy."),
             setting("tls", T::Bool, "false", "Serve HTTPS (TLS 1.2 or newer) with tls_cert_file and tls_key_file."),
             setting("tls_cert_file", T::String, "",
                     "PEM certificate chain (leaf first). Re-read on SIGHUP.", true),
             setting("tls_key_file", T::SecretFile, "", "PEM private key of the certificate. Re-read on SIGHUP.",
                     true),
             setting("threads", T::Int, "32", "HTTP worker threads (one per concurrent connection being served).",
                     false, 2, 1024),
             setting("max_queued_connections", T::Int, "256",
                     "Accepted connections waiting for a worker before new ones are refused.", false, 1, 65536),
             setting("max_body_bytes", T::Int, "65536", "Largest request body accepted (413 above).", true, 1024,
                     16777216),
             setting("keep_alive_seconds", T::Int, "15", "Idle keep-alive timeout of a connection.", false, 1,
                     3600),
             setting("metrics_require_auth", T::Bool, "true",
                     "Require an API key with the metrics:read or admin scope for GET /metrics."),
             setting("web_root", T::String, "/usr/share/consultd/web",
                     "Folder of the web pages (admin console, join page, kiosk) served at /admin, /join, /kiosk "
                     "and /static; relative paths are relative to the config file's folder. Empty disables the "
                     "pages."),
         }},
        {"storage",
         "Where consultd keeps its state.",
         {
             setting("state_dir", T::String, "/var/lib/consultd",
                     "State folder (database); relative paths are relative to the config file's folder."),
             setting("database", T::String, "consultd.db", "SQLite database file, relative to state_dir."),
             setting("busy_timeout_ms", T::Int, "5000", "How long a database access waits for a lock.", false, 100,
                     60000),
         }},
        {"security",
         "Rate limits and token lifetimes.",
         {
             setting("token_rate_per_minute", T::Int, "10",
                     "Join grants per participant per minute (429 with Retry-After above).", true, 1, 10000),
             setting("api_rate_per_second", T::Int, "1000",
                     "Requests per second per API key before 429.", true, 1, 1000000),
             setting("auth_failure_rate_per_minute", T::Int, "30",
                     "Failed authentications per client address per minute before 429.", true, 1, 100000),
         }},
        {"sessions",
         "Consultation sessions.",
         {
             setting("join_window_before_minutes", T::Int, "15",
                     "How long before scheduled_at participants may join.", true, 0, 1440),
             setting("join_window_after_minutes", T::Int, "120",
                     "How long after scheduled_at participants may still join a session not yet started.", true,
                     0, 10080),
             setting("max_participants", T::Int, "10", "Participants a session may list (host included).", true,
                     2, 100),
             setting("max_metadata_bytes", T::Int, "4096", "Largest metadata object of a session.", true, 2,
                     65536),
         }},
        {"invites",
         "Invite links to the appliance's join page (POST /api/v1/sessions/{id}/invites).",
         {
             setting("ttl_seconds", T::Int, "14400",
                     "How long an invite link stays valid. The browser that opened it first may open it again "
                     "until then, and while its session is active.",
                     true, 300, 604800),
             setting("redeem_rate_per_minute", T::Int, "30",
                     "Invite redemptions (join page loads and reloads) per client address per minute (429 above).",
                     true, 1, 100000),
         }},
        {"devices",
         "Exam-room devices (kiosks at /kiosk) and their enrollment codes.",
         {
             setting("enrollment_code_ttl_seconds", T::Int, "86400",
                     "How long a device enrollment code can be used (once).", true, 300, 2592000),
             setting("enroll_rate_per_minute", T::Int, "10",
                     "Enrollment attempts per client address per minute (429 above).", true, 1, 10000),
         }},
        {"providers",
         "Provider plugins. Each provider has a sub-group named after it (see the provider sections).",
         {
             setting("plugin_dir", T::String, CONSULTD_DEFAULT_PLUGIN_DIR,
                     "Folder holding the provider plugins (*.so)."),
             setting("default", T::String, "jitsi", "Provider used when a session does not name one."),
             setting("breaker_failure_threshold", T::Int, "5",
                     "Consecutive failed calls (unreachable, timeout, 5xx) to a provider's upstream that open its "
                     "circuit breaker: calls are then refused locally with 503 until a probe succeeds.",
                     false, 1, 1000),
             setting("breaker_open_seconds", T::Int, "15",
                     "How long an opened circuit refuses calls before one probe call is let through.", false, 1,
                     3600),
             setting("breaker_max_open_seconds", T::Int, "300",
                     "Longest open period: each failed probe doubles the open period up to this.", false, 1, 86400),
             setting("retry_initial_seconds", T::Int, "2",
                     "Background retry of provider rooms that could not be created: first delay, and the "
                     "Retry-After of a 503 PROVIDER_UNAVAILABLE while the circuit is closed.",
                     true, 1, 3600),
             setting("retry_max_seconds", T::Int, "60",
                     "Background retry: the delay doubles after each failed pass up to this.", true, 1, 86400),
             setting("retry_batch", T::Int, "50", "Background retry: sessions tried per provider and pass.", true, 1,
                     1000),
             setting("webhook_max_body_bytes", T::Int, "65536",
                     "Largest body accepted on POST /api/v1/webhooks/{provider} (413 above).", true, 1024, 1048576),
             setting("webhook_rate_per_minute", T::Int, "600",
                     "Webhook requests per minute per client address before 429 (the route is unauthenticated "
                     "until the provider's signature check).",
                     true, 1, 100000),
         }},
        {"turn",
         "STUN/TURN: the embedded relay (RFC 8656) or external servers, and the credentials handed to clients.",
         {
             setting("mode", T::String, "off",
                     "embedded: run the built-in relay; external: hand out the servers listed in "
                     "external_servers; off: no TURN.",
                     false, 0, 0, {"embedded", "external", "off"}),
             setting("secret_file", T::SecretFile, "",
                     "Shared secret for time-limited credentials (coturn use-auth-secret). Re-read on SIGHUP.", true),
             setting("credential_ttl_seconds", T::Int, "3600", "Lifetime of minted TURN credentials.", true, 60,
                     86400),
             setting("external_servers", T::StringList, "[]",
                     "turn:/turns:/stun: URLs of external servers sharing secret_file (mode external)."),
             setting("stun_servers", T::StringList, "[]", "Extra stun: URLs handed to clients."),
             setting("listen_address", T::String, "0.0.0.0", "Embedded relay: address its listeners bind."),
             setting("udp_port", T::Int, "3478", "Embedded relay: UDP port (-1 off, 0 any free port).", false, -1,
                     65535),
             setting("tcp_port", T::Int, "3478", "Embedded relay: TCP port (-1 off, 0 any free port).", false, -1,
                     65535),
             setting("tls_port", T::Int, "-1",
                     "Embedded relay: TURN over TLS port, handed out as turns: (-1 off; 5349 is usual).", false, -1,
                     65535),
             setting("tls_cert_file", T::String, "", "Embedded relay: PEM certificate for tls_port (empty: server.tls_cert_file)."),
             setting("tls_key_file", T::SecretFile, "", "Embedded relay: PEM key for tls_port (empty: server.tls_key_file)."),
             setting("realm", T::String, "consultd", "Embedded relay: authentication realm."),
             setting("public_host", T::String, "",
                     "Host name or address clients use in turn: URLs (empty: external_ip, else the host of "
                     "server.public_url)."),
             setting("external_ip", T::String, "",
                     "Embedded relay: public IPv4 address advertised as the relayed address when behind NAT."),
             setting("relay_address", T::String, "",
                     "Embedded relay: local address relay sockets bind (empty: listen_address, or the first "
                     "non-loopback address)."),
             setting("relay_port_min", T::Int, "49152", "Embedded relay: lowest relay port.", false, 1024, 65535),
             setting("relay_port_max", T::Int, "65535", "Embedded relay: highest relay port.", false, 1024, 65535),
             setting("allowed_peer_ranges", T::StringList, "[]",
                     "Embedded relay: private CIDR ranges peers may be in (e.g. the hospital LAN); loopback, "
                     "link-local, multicast and the relay's own addresses are always refused."),
             setting("allow_loopback_peers", T::Bool, "false",
                     "Embedded relay: allow 127.0.0.0/8 peers. For same-host tests only; never in production."),
             setting("default_allocation_lifetime", T::Int, "600", "Embedded relay: allocation lifetime, seconds.",
                     false, 60, 3600),
             setting("max_allocation_lifetime", T::Int, "3600", "Embedded relay: longest lifetime a client may ask.",
                     false, 60, 86400),
             setting("max_allocations_per_username", T::Int, "10", "Embedded relay: quota per credential (486 above).",
                     false, 1, 100000),
             setting("max_allocations_per_ip", T::Int, "50", "Embedded relay: quota per client address.", false, 1,
                     100000),
             setting("max_allocations_total", T::Int, "2000", "Embedded relay: allocations in all.", false, 1,
                     1000000),
             setting("max_bandwidth_bytes_per_second", T::Int, "0",
                     "Embedded relay: per-allocation bandwidth cap (0 = none).", false, 0, 10000000000),
             setting("threads", T::Int, "0", "Embedded relay: event loops (0 = half the cores, at least one).", false, 0, 64),
             setting("io_engine", T::String, "auto",
                     "Embedded relay: how workers receive and send UDP. auto: io_uring when the kernel offers it (Linux "
                     "6.1+, not disabled by kernel.io_uring_disabled or a seccomp filter), else epoll; io_uring: "
                     "refuse to start without it; epoll: never use io_uring.",
                     false, 0, 0, {"auto", "io_uring", "epoll"}),
             setting("batch_wait_us", T::Int, "500",
                     "Embedded relay, io_uring only: a busy worker sleeps until 32 datagrams wait or this many "
                     "microseconds passed, so one wakeup serves a batch; the most a packet is held back. 0 = wake "
                     "for every packet.",
                     false, 0, 10000),
         }},
        {"signaling",
         "WebSocket signaling for the native WebRTC provider (GET /api/v1/signal; protocol in docs/webrtc.md).",
         {
             setting("key_file", T::String, "",
                     "HMAC key of the signaling tokens (32 random bytes, hex). Empty: signaling.key in "
                     "storage.state_dir. Created by the daemon with mode 0600 when absent; never logged."),
             setting("token_ttl_seconds", T::Int, "900",
                     "Longest lifetime of a signaling token (a provider asking for more gets this).", false, 30,
                     86400),
             setting("max_connections", T::Int, "2000",
                     "Signaling WebSockets held at once; the upgrade is refused with 503 above.", false, 1, 100000),
             setting("max_connections_per_address", T::Int, "200",
                     "Signaling WebSockets one client address may hold (a reverse proxy counts as one); the "
                     "upgrade is refused with 429 above.",
                     false, 1, 100000),
             setting("worker_threads", T::Int, "2",
                     "Threads reading and writing frames for all signaling connections (no thread per socket).",
                     false, 1, 64),
             setting("max_message_bytes", T::Int, "65536",
                     "Largest message (WebSocket frame) accepted; a bigger one closes the connection with 1009.",
                     false, 1024, 1048576),
             setting("messages_per_second", T::Int, "50",
                     "Messages one connection may send per second; each one above is a violation.", false, 1,
                     10000),
             setting("violations_before_close", T::Int, "3",
                     "Violations (rate, malformed messages) after which the connection is closed with 1008.",
                     false, 1, 1000),
             setting("max_participants_per_room", T::Int, "5",
                     "Participants in one session's room at once (2 + recorder + 2 guests).", false, 2, 100),
             setting("send_queue_messages", T::Int, "256",
                     "Messages queued for one connection; a consumer that falls this far behind is closed (1008).",
                     false, 8, 65536),
             setting("join_timeout_seconds", T::Int, "10",
                     "A connection that has not joined a room after this long is closed (1008).", false, 1, 600),
             setting("frame_timeout_ms", T::Int, "2000",
                     "Longest wait for the rest of a started frame or for a send to complete.", false, 100, 60000),
             setting("max_chat_bytes", T::Int, "4000", "Longest chat text.", false, 1, 65536),
             setting("store_chat", T::Bool, "true", "Store chat messages as session events (type chat)."),
         }},
        {"admin",
         "The admin console at /admin: logins of the admin users made with `consultd admin create`.",
         {
             setting("session_idle_minutes", T::Int, "30",
                     "An admin browser session without activity for this long ends (the dashboard's live "
                     "updates do not count as activity).",
                     true, 1, 1440),
             setting("session_max_hours", T::Int, "12",
                     "Absolute lifetime of an admin browser session, active or not.", true, 1, 168),
             setting("login_attempts_per_minute", T::Int, "10",
                     "Login attempts per client address and, separately, per user name per minute (429 above).",
                     true, 1, 1000),
             setting("lockout_failures", T::Int, "5",
                     "Consecutive failed logins that lock an admin user (429 LOGIN_LOCKED, even with the right "
                     "password).",
                     true, 1, 100),
             setting("lockout_minutes", T::Int, "15", "How long a locked admin user stays locked.", true, 1, 1440),
             setting("max_event_streams", T::Int, "8",
                     "Dashboard live-update streams (GET /api/v1/admin/events) held at once; each holds one HTTP "
                     "worker thread (503 above).",
                     true, 1, 64),
             setting("event_interval_ms", T::Int, "1000",
                     "How often a dashboard stream recomputes its snapshot; a changed snapshot is sent at once.",
                     true, 200, 60000),
         }},
        {"recording",
         "Local recordings (docs/webrtc.md): the native recorder's encrypted files, their key, downloads and "
         "retention.",
         {
             setting("dir", T::String, "",
                     "Folder of the encrypted recordings; empty: recordings/ in storage.state_dir. Created with mode "
                     "0750 when absent."),
             setting("key_file", T::SecretFile, "",
                     "AES-256 key of the recordings (32 random bytes, raw or hex; the Debian package makes "
                     "/etc/consultd/secrets/recording.key). Empty: recording.key in storage.state_dir, created by "
                     "the daemon with mode 0600 when absent. Losing it loses every recording: back it up apart "
                     "from them."),
             setting("auto_start", T::Bool, "true",
                     "Start recording when a session created with record: true becomes active.", true),
             setting("max_concurrent", T::Int, "8",
                     "Sessions recorded at once by the native recorder; more are refused with 503 "
                     "RECORDING_CAPACITY.",
                     true, 1, 1000),
             setting("retention_days", T::Int, "0",
                     "Delete recordings older than this many days (audited as recording.expired); 0 keeps them.",
                     true, 0, 36500),
             setting("retention_interval_seconds", T::Int, "3600", "How often the retention sweep runs.", false, 1,
                     86400),
             setting("media_scope", T::String, "recordings:read",
                     "API key scope that may download recordings (GET /recordings/{id}/media); admin always may.",
                     false, 0, 0, {"recordings:read", "admin"}),
             setting("ice_transport_policy", T::String, "all",
                     "Candidates the recorder's WebRTC peer may use: all, or relay (only through TURN).", true, 0, 0,
                     {"all", "relay"}),
             setting("local_addresses", T::StringList, "[]",
                     "Extra local addresses for the recorder's ICE agent (libnice skips loopback interfaces; a "
                     "loopback-only test host needs \"127.0.0.1\").",
                     true),
         }},
        {"recording_import",
         "Import of providers' finished recordings (Vonage archives, JaaS recordings) into the local encrypted "
         "store, triggered by their webhooks (docs/providers.md).",
         {
             setting("enabled", T::Bool, "false", "Download recordings the providers report as finished.", true),
             setting("allowed_hosts", T::StringList, "[]",
                     "\"provider:host\" entries: the only hosts a provider's download URL may name (exact, or "
                     "\"*.domain\" for its subdomains), e.g. \"jaas:*.8x8.vc\". Anything else is refused (SSRF).",
                     true),
             setting("ca_file", T::String, "",
                     "Extra PEM CA bundle trusted for downloads besides the system store (TLS is always verified).",
                     true),
             setting("max_bytes", T::Int, "4294967296", "Largest recording downloaded (refused above).", true, 1024,
                     1099511627776),
             setting("timeout_seconds", T::Int, "30", "Timeout of the connect and of each read of a download.", true,
                     1, 3600),
             setting("max_attempts", T::Int, "5",
                     "Attempts per download (a broken-off transfer resumes with Range where the server allows).",
                     true, 1, 100),
             setting("retry_initial_seconds", T::Int, "2", "Delay before the second attempt; doubles after each.",
                     true, 1, 3600),
             setting("retry_max_seconds", T::Int, "60", "Longest delay between attempts.", true, 1, 86400),
             setting("delete_provider_copy", T::Bool, "false",
                     "After a verified import, ask the provider to delete its copy (providers that support it).",
                     true),
         }},
        {"logging",
         "Logging to stderr (journald keeps the syslog levels).",
         {
             setting("level", T::String, "info", "Lowest level logged.", true, 0, 0,
                     {"error", "warning", "notice", "info", "debug"}),
         }},
    };
    return schema;
}

const std::vector<SettingSpec>& commonProviderSettings() {
    static const std::vector<SettingSpec> settings = {
        setting("enabled", T::Bool, "false", "Load this provider at start (its plugin must be installed)."),
    };
    return settings;
}

}  // namespace consultd::config
