#include "app/Cli.h"

#include "app/AdminCli.h"
#include "app/ConsultdApplication.h"
#include "app/DeviceCli.h"
#include "config/Config.h"
#include "consultd/provider.h"
#include "core/ApiError.h"
#include "core/Metrics.h"
#include "core/SessionService.h"
#include "http/ApiKeyAuth.h"
#include "http/Json.h"
#include "plugins/PluginHost.h"
#include "recording/RecordingCatalog.h"
#include "recording/RecordingCli.h"
#include "recording/RecordingService.h"
#include "store/Store.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>

#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace consultd::app {

std::string databasePath(const config::Config& config);  // app/Subsystems.cpp

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kConfig = 78;
constexpr const char* kDefaultConfig = "/etc/consultd/consultd.conf";

const std::vector<std::string>& commandWords() {
    static const std::vector<std::string> words = {"apikey", "audit",  "session", "status", "admin",
                                                   "backup", "restore", "check-config", "help", "recording", "device"};
    return words;
}

constexpr const char* kHelp = R"(usage: consultd <command> [options]      (consultctl <command> is the same)

Admin commands, run on the appliance (as root or the consultd user):
  check-config                       validate the configuration (as --check-config)
  status                             is the daemon up (/healthz, /readyz), providers, sessions by status
  apikey create --name NAME --scopes S1,S2   create an API key (shown once)
  apikey list                        list API keys
  apikey revoke KEY_ID               revoke an API key
  admin create USERNAME [--password-file FILE]   create an admin console user
                                     (password from the file or stdin, never argv)
  admin reset-password USERNAME [--password-file FILE]   new password; enables, unlocks
  admin list                         list admin console users
  admin disable USERNAME             disable a user and end their sessions
  session list [--status S] [--consultation ID] [--limit N]
  session show SESSION_ID            one session with participants and events
  session end SESSION_ID [--reason TEXT] [--quality excellent|good|fair|poor|failed]
  backup FILE                        online copy of the database (consistent while the daemon runs)
  restore FILE                       replace the database with a backup (daemon must be stopped)
  audit verify                       check the audit log's hash chain
  device create --name NAME [--room ROOM]   register an exam-room kiosk (prints its enrollment code once)
  device list | enrollment-code ID | revoke ID
  audit export [--format csv|jsonl] [--output FILE] [--after SEQ]
  recording list [--session ID] [--status S] [--limit N]
                                     the daemon's recordings (rows of the database)
  recording export REC_ID OUT        decrypt a recording to OUT (mode 0600; "-" = stdout), audited
  recording delete REC_ID            delete a recording's file (row kept as deleted), audited
  recording decrypt|repair|info ...  offline tools for encrypted recording files
                                     (consultd recording --help)

Options for every command:
  --config FILE   configuration (default /etc/consultd/consultd.conf, plus conf.d/*.conf)
  --json          machine-readable output on stdout

Exit codes: 0 ok, 1 failed (status: daemon not answering), 2 usage, 78 configuration error.
)";

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;  // --name value / --flag ""
    bool has(const std::string& name) const { return options.count(name) != 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const {
        const auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
    std::string configFile() const { return get("config", kDefaultConfig); }
    std::string word(std::size_t i) const { return i < positional.size() ? positional[i] : ""; }
};

Args parse(int argc, char** argv, int from) {
    static const std::vector<std::string> kFlags = {"json", "help", "force"};
    Args args;
    for (int i = from; i < argc; ++i) {
        std::string word = argv[i];
        if (word == "-h") word = "--help";
        if (word.rfind("--", 0) == 0) {
            std::string name = word.substr(2);
            const auto eq = name.find('=');
            if (eq != std::string::npos) {
                args.options[name.substr(0, eq)] = name.substr(eq + 1);
            } else if (std::find(kFlags.begin(), kFlags.end(), name) != kFlags.end() || i + 1 >= argc) {
                args.options[name] = "";
            } else {
                args.options[name] = argv[++i];
            }
        } else {
            args.positional.push_back(word);
        }
    }
    return args;
}

void printJson(const Poco::Dynamic::Var& value) {
    Poco::JSON::Stringifier::stringify(value, std::cout);
    std::cout << "\n";
}

/// The core config groups (no plugins): enough for storage and server settings.
std::shared_ptr<config::Config> loadCoreConfig(const Args& args, int& rc) {
    auto result = config::ConfigLoader::load(args.configFile());
    if (!result.config || !result.errors.empty()) {
        for (const auto& e : result.errors) std::cerr << e.format() << "\n";
        if (!result.config && result.errors.empty()) std::cerr << args.configFile() << ": cannot be read\n";
        rc = kConfig;
        return nullptr;
    }
    return result.config;
}

/// When root runs a command on a state folder owned by consultd, files SQLite
/// creates must keep the daemon's owner or the daemon cannot open them.
void matchStateOwner(const std::string& dbPath) {
    if (::geteuid() != 0) return;
    struct stat dir {};
    if (::stat(fs::path(dbPath).parent_path().c_str(), &dir) != 0 || dir.st_uid == 0) return;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::string file = dbPath + suffix;
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0 && st.st_uid == 0) {
            if (::chown(file.c_str(), dir.st_uid, dir.st_gid) != 0) {
                std::cerr << "warning: cannot give " << file << " to the state folder's owner: " << std::strerror(errno)
                          << "\n";
            }
        }
    }
}

std::unique_ptr<store::Store> openStore(const config::Config& config, int& rc) {
    store::StoreOptions options;
    options.path = databasePath(config);
    options.busyTimeoutMs = static_cast<int>(config.getInt("storage.busy_timeout_ms"));
    options.readConnections = 1;
    if (!fs::is_directory(fs::path(options.path).parent_path())) {
        std::cerr << "cannot open the database " << options.path << ": folder " << fs::path(options.path).parent_path().string()
                  << " does not exist (storage.state_dir)\n";
        rc = kFailed;
        return nullptr;
    }
    try {
        auto store = store::Store::open(options);
        matchStateOwner(options.path);
        return store;
    } catch (const std::exception& e) {
        std::cerr << "cannot open the database " << options.path << ": " << e.what() << "\n";
        rc = kFailed;
        return nullptr;
    }
}

std::unique_ptr<store::Store> openStore(const Args& args, int& rc) {
    auto config = loadCoreConfig(args, rc);
    if (!config) return nullptr;
    return openStore(*config, rc);
}

/// "cli:<login>" for the audit log: the sudo caller when there is one, else
/// the account the command runs as (the environment may carry no USER).
std::string cliActor() {
    if (const char* sudoUser = std::getenv("SUDO_USER"); sudoUser != nullptr && *sudoUser != '\0') {
        return std::string("cli:") + sudoUser;
    }
    if (const passwd* account = ::getpwuid(::geteuid()); account != nullptr) return std::string("cli:") + account->pw_name;
    return "cli:uid" + std::to_string(::geteuid());
}

store::AuditRecord cliAudit(const std::string& action, const std::string& target, const std::string& details) {
    store::AuditRecord audit;
    audit.at = util::nowMillis();
    audit.actor = cliActor();
    audit.action = action;
    audit.target = target;
    audit.detailsJson = details;
    return audit;
}

std::string jsonText(const Poco::JSON::Object& object) {
    std::ostringstream text;
    object.stringify(text);
    return text.str();
}

std::vector<std::string> splitScopes(const std::string& text) {
    std::vector<std::string> scopes;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (!item.empty()) scopes.push_back(item);
    }
    return scopes;
}

std::optional<std::int64_t> parseInt(const std::string& text) {
    try {
        std::size_t used = 0;
        const long long value = std::stoll(text, &used);
        if (used != text.size()) return std::nullopt;
        return value;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// ---- the daemon, seen from outside -------------------------------------------

/// Where a local client reaches the daemon's listener.
struct Endpoint {
    std::string host;
    int port = 0;
    bool tls = false;
};

Endpoint endpointOf(const config::Config& config) {
    Endpoint e;
    e.host = config.getString("server.listen_address");
    if (e.host == "0.0.0.0" || e.host.empty()) e.host = "127.0.0.1";
    if (e.host == "::") e.host = "::1";
    e.port = static_cast<int>(config.getInt("server.port"));
    e.tls = config.getBool("server.tls");
    return e;
}

struct Probe {
    bool answered = false;
    int status = 0;
    std::string body;
    std::string error;
};

Probe httpGet(const Endpoint& endpoint, const std::string& path) {
    Probe probe;
    try {
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (endpoint.tls) {
            // A local status probe: the listener's certificate names the
            // public host, not the loopback address used here.
            Poco::Net::Context::Ptr context =
                new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_NONE);
            session = std::make_unique<Poco::Net::HTTPSClientSession>(endpoint.host, endpoint.port, context);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(endpoint.host, endpoint.port);
        }
        session->setTimeout(Poco::Timespan(3, 0));
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
        session->sendRequest(request);
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        Poco::StreamCopier::copyToString(in, probe.body);
        probe.answered = true;
        probe.status = static_cast<int>(response.getStatus());
    } catch (const Poco::Exception& e) {
        probe.error = e.displayText();
    } catch (const std::exception& e) {
        probe.error = e.what();
    }
    return probe;
}

/// Processes other than this one holding `dbPath` (or its WAL) open: a
/// running daemon, or another admin command. Root sees every process; another
/// user sees its own, which includes the daemon when run as consultd.
std::vector<int> processesUsing(const std::string& dbPath) {
    std::vector<int> pids;
    std::error_code ec;
    const fs::path db = fs::weakly_canonical(dbPath, ec);
    const fs::path wal = db.string() + "-wal";
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        const int pid = std::stoi(name);
        if (pid == ::getpid()) continue;
        std::error_code fdError;
        for (const auto& fd : fs::directory_iterator(entry.path() / "fd", fdError)) {
            std::error_code linkError;
            const fs::path target = fs::read_symlink(fd.path(), linkError);
            if (!linkError && (target == db || target == wal)) {
                pids.push_back(pid);
                break;
            }
        }
    }
    return pids;
}

// ---- commands ----------------------------------------------------------------

int checkConfig(const Args& args) {
    // The daemon's own --check-config: core groups, plugins and their settings.
    std::vector<std::string> words = {"consultd", "--check-config", "--config", args.configFile()};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ConsultdApplication app;
    return app.run(static_cast<int>(words.size()), argv.data());
}

int status(const Args& args) {
    int rc = kOk;
    auto config = loadCoreConfig(args, rc);
    if (!config) return rc;
    const Endpoint endpoint = endpointOf(*config);
    Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
    out.set("version", CONSULTD_VERSION);
    out.set("config", args.configFile());
    out.set("endpoint", std::string(endpoint.tls ? "https://" : "http://") + endpoint.host + ":" + std::to_string(endpoint.port));

    Probe health;
    if (endpoint.port == 0) {
        health.error = "server.port is 0 (a free port chosen at start): see the daemon's log for the port";
    } else {
        health = httpGet(endpoint, "/healthz");
    }
    const bool up = health.answered && health.status == 200;
    out.set("running", up);
    if (!up) out.set("error", health.answered ? "healthz answered HTTP " + std::to_string(health.status) : health.error);

    Poco::JSON::Object::Ptr providers = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    std::string readiness = "unknown";
    if (up) {
        const Probe ready = httpGet(endpoint, "/readyz");
        try {
            auto parsed = Poco::JSON::Parser().parse(ready.body).extract<Poco::JSON::Object::Ptr>();
            readiness = parsed->optValue<std::string>("status", "unknown");
            if (auto checks = parsed->getObject("checks")) {
                for (const auto& [name, value] : *checks) {
                    if (name.rfind("provider:", 0) == 0) providers->set(name.substr(9), value.toString());
                }
            }
        } catch (const std::exception& e) {
            readiness = std::string("unreadable /readyz answer: ") + e.what();
        }
    }
    out.set("readiness", readiness);
    out.set("providers", providers);

    Poco::JSON::Object::Ptr sessions = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    int storeRc = kOk;
    if (auto store = openStore(*config, storeRc)) {
        for (const auto& row : store->countSessionsByStatus()) sessions->set(row.status, row.count);
        out.set("schema_version", store->schemaVersion());
    }
    out.set("sessions", sessions);

    if (args.has("json")) {
        out.stringify(std::cout);
        std::cout << "\n";
    } else {
        std::cout << "consultd " << CONSULTD_VERSION << " (this binary)\n"
                  << "daemon:    " << (up ? "running" : "NOT ANSWERING") << " at " << out.getValue<std::string>("endpoint")
                  << "\n";
        if (!up) std::cout << "           " << out.getValue<std::string>("error") << "\n";
        std::cout << "readiness: " << readiness << "\n";
        for (const auto& [name, value] : *providers) std::cout << "provider:  " << name << " " << value.toString() << "\n";
        std::cout << "sessions: ";
        if (sessions->size() == 0) std::cout << " none";
        for (const auto& [name, value] : *sessions) std::cout << " " << name << "=" << value.toString();
        std::cout << "\n";
    }
    return up ? kOk : kFailed;
}

int apikey(const Args& args) {
    const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
    if (sub == "create") {
        const std::string name = args.get("name");
        const auto scopes = splitScopes(args.get("scopes"));
        if (name.empty() || name.size() > 100 || scopes.empty()) {
            std::cerr << "usage: consultd apikey create --name NAME --scopes sessions:read,sessions:write[,metrics:read,admin]\n";
            return kUsage;
        }
        for (const auto& scope : scopes) {
            const auto& known = http::knownScopes();
            if (std::find(known.begin(), known.end(), scope) == known.end()) {
                std::cerr << "unknown scope \"" << scope << "\" (known: sessions:read, sessions:write, metrics:read, devices:write, admin)\n";
                return kUsage;
            }
        }
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        const auto key = http::generateApiKey(name, scopes);
        Poco::JSON::Object details;
        details.set("name", name);
        details.set("scopes", args.get("scopes"));
        std::ostringstream text;
        details.stringify(text);
        store->insertApiKey(key.record, cliAudit("apikey.created", key.record.id, text.str()));
        if (args.has("json")) {
            Poco::JSON::Object out;
            out.set("id", key.record.id);
            out.set("name", name);
            out.set("key", key.plaintext);
            out.stringify(std::cout);
            std::cout << "\n";
        } else {
            std::cout << "API key " << key.record.id << " (" << name << ") created. It is shown only now:\n"
                      << key.plaintext << "\n";
        }
        return kOk;
    }
    if (sub == "list") {
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        const auto keys = store->listApiKeys();
        if (args.has("json")) {
            Poco::JSON::Array out;
            for (const auto& k : keys) {
                Poco::JSON::Object::Ptr item = new Poco::JSON::Object;
                item->set("id", k.id);
                item->set("name", k.name);
                Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
                for (const auto& s : k.scopes) scopes->add(s);
                item->set("scopes", scopes);
                item->set("created_at", util::formatRfc3339(k.createdAt));
                item->set("revoked", k.revokedAt != 0);
                out.add(item);
            }
            out.stringify(std::cout);
            std::cout << "\n";
        } else {
            for (const auto& k : keys) {
                std::string scopes;
                for (const auto& s : k.scopes) scopes += (scopes.empty() ? "" : ",") + s;
                std::cout << k.id << "  " << k.name << "  " << scopes << "  created " << util::formatRfc3339(k.createdAt)
                          << (k.revokedAt ? "  REVOKED " + util::formatRfc3339(k.revokedAt) : "") << "\n";
            }
        }
        return kOk;
    }
    if (sub == "revoke") {
        if (args.positional.size() < 3) {
            std::cerr << "usage: consultd apikey revoke KEY_ID\n";
            return kUsage;
        }
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        const std::string id = args.positional[2];
        if (!store->revokeApiKey(id, util::nowMillis(), cliAudit("apikey.revoked", id, "{}"))) {
            std::cerr << "no active API key " << id << "\n";
            return kFailed;
        }
        std::cout << "API key " << id << " revoked\n";
        return kOk;
    }
    std::cerr << "usage: consultd apikey create|list|revoke ...\n";
    return kUsage;
}

// ---- sessions ----------------------------------------------------------------

int sessionCommand(const Args& args) {
    const std::string sub = args.word(1);
    if (sub == "list") {
        store::SessionFilter filter;
        filter.status = args.get("status");
        filter.consultationId = args.get("consultation");
        const auto limit = parseInt(args.get("limit", "50"));
        if (!limit || *limit < 1 || *limit > 200) {
            std::cerr << "--limit must be 1..200\n";
            return kUsage;
        }
        filter.limit = static_cast<int>(*limit);
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        const auto sessions = store->listSessions(filter);
        if (args.has("json")) {
            Poco::JSON::Array out;
            for (const auto& s : sessions) out.add(http::sessionJson(s));
            printJson(out);
        } else {
            for (const auto& s : sessions) {
                std::cout << s.id << "  " << s.status << "  consultation " << s.consultationId << "  " << s.provider
                          << "  created " << util::formatRfc3339(s.createdAt) << "\n";
            }
        }
        return kOk;
    }
    if (sub == "show") {
        if (args.word(2).empty()) {
            std::cerr << "usage: consultd session show SESSION_ID\n";
            return kUsage;
        }
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        const auto session = store->findSession(args.word(2));
        if (!session) {
            std::cerr << "no session " << args.word(2) << "\n";
            return kFailed;
        }
        const auto events = store->listEvents(session->id, 0, 1000);
        if (args.has("json")) {
            auto out = http::sessionJson(*session);
            Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
            for (const auto& e : events) list->add(http::eventJson(e));
            out->set("events", list);
            printJson(out);
        } else {
            const auto& s = *session;
            std::cout << "session      " << s.id << "\nconsultation " << s.consultationId << "\nstatus       " << s.status
                      << "\nprovider     " << s.provider << " (room " << s.roomName << ", " << s.providerStatus << ")"
                      << "\nmode         " << s.mode << "\ncreated      " << util::formatRfc3339(s.createdAt) << "\n";
            if (s.scheduledAt) std::cout << "scheduled    " << util::formatRfc3339(s.scheduledAt) << "\n";
            if (s.startedAt) std::cout << "started      " << util::formatRfc3339(s.startedAt) << "\n";
            if (s.endedAt) {
                std::cout << "ended        " << util::formatRfc3339(s.endedAt) << " (" << s.endReason << ", "
                          << s.durationSeconds << " s)\n";
            }
            for (const auto& p : s.participants) std::cout << "participant  " << p.participantId << "  " << p.role << "  " << p.name << "\n";
            for (const auto& e : events) {
                std::cout << "event        " << util::formatRfc3339(e.createdAt) << "  " << e.type
                          << (e.participantId.empty() ? "" : "  " + e.participantId) << "\n";
            }
        }
        return kOk;
    }
    if (sub == "end") {
        if (args.word(2).empty()) {
            std::cerr << "usage: consultd session end SESSION_ID [--reason TEXT] [--quality excellent|good|fair|poor|failed]\n";
            return kUsage;
        }
        const std::string reason = args.get("reason", "ended by administrator");
        const std::string quality = args.get("quality");
        const auto& qualities = core::SessionService::qualityValues();
        if (reason.empty() || reason.size() > 200 ||
            (!quality.empty() && std::find(qualities.begin(), qualities.end(), quality) == qualities.end())) {
            std::cerr << "--reason must be 1..200 characters; --quality one of excellent, good, fair, poor, failed\n";
            return kUsage;
        }
        int rc = kOk;
        auto config = loadCoreConfig(args, rc);
        if (!config) return rc;
        auto store = openStore(*config, rc);
        if (!store) return rc;
        // The same transition as POST /sessions/{id}/end: one transaction with
        // the session_ended event and audit entry, then the provider's room is
        // closed when its plugin can be loaded with this configuration.
        auto host = std::make_unique<plugins::PluginHost>();
        {
            std::vector<std::string> errors;
            const std::string pluginDir = config->getPath("providers.plugin_dir");
            host->discover(pluginDir, errors);
            config::ConfigLoader::Result result{config, {}, {}};
            if (errors.empty()) config::ConfigLoader::validateProviders(result, host->schemas(), pluginDir);
            for (const auto& e : result.errors) errors.push_back(e.format());
            if (errors.empty()) {
                host->createProviders(config, [](const std::string&, const std::string&) { return std::vector<IceServer>{}; },
                                      "", errors);
            }
            if (!errors.empty()) {
                std::cerr << "warning: providers not loaded, the provider room is left to expire:\n";
                for (const auto& e : errors) std::cerr << "  " << e << "\n";
                host = std::make_unique<plugins::PluginHost>();
            }
        }
        core::Metrics metrics;
        std::shared_ptr<const config::Config> snapshot = config;
        core::SessionService sessions(*store, *host, metrics, [snapshot] { return snapshot; });
        try {
            const auto ended = sessions.end(args.word(2), reason, quality, core::Actor{cliActor(), ""});
            if (args.has("json")) {
                printJson(http::sessionJson(ended));
            } else {
                std::cout << "session " << ended.id << " ended (" << ended.durationSeconds << " s)\n";
            }
            return kOk;
        } catch (const core::ApiError& e) {
            std::cerr << e.code() << ": " << e.what() << "\n";
            return kFailed;
        }
    }
    std::cerr << "usage: consultd session list|show|end ...\n";
    return kUsage;
}

// ---- backup and restore -------------------------------------------------------

struct SqliteHandle {
    sqlite3* db = nullptr;
    ~SqliteHandle() { sqlite3_close(db); }
};

/// Checks a database file without changing it: integrity and schema version.
bool checkDatabaseFile(const std::string& path, std::string& problem, int& version) {
    SqliteHandle handle;
    if (sqlite3_open_v2(path.c_str(), &handle.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        problem = std::string("cannot open: ") + sqlite3_errmsg(handle.db);
        return false;
    }
    auto single = [&](const char* sql, std::string& text) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(handle.db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
            text = sqlite3_errmsg(handle.db);
            return false;
        }
        const int step = sqlite3_step(stmt);
        const bool ok = step == SQLITE_ROW;
        text = ok ? reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0) ? sqlite3_column_text(stmt, 0)
                                                                                 : reinterpret_cast<const unsigned char*>(""))
                  : sqlite3_errmsg(handle.db);
        sqlite3_finalize(stmt);
        return ok;
    };
    std::string text;
    if (!single("PRAGMA integrity_check", text) || text != "ok") {
        problem = "integrity check failed: " + text;
        return false;
    }
    if (!single("PRAGMA user_version", text)) {
        problem = "no schema version: " + text;
        return false;
    }
    version = std::stoi(text);
    if (version < 1) {
        problem = "not a consultd database (schema version 0)";
        return false;
    }
    if (version > store::binarySchemaVersion()) {
        problem = "schema version " + std::to_string(version) + " is newer than this consultd (" +
                  std::to_string(store::binarySchemaVersion()) + ")";
        return false;
    }
    return true;
}

int backup(const Args& args) {
    const std::string target = args.word(1);
    if (target.empty()) {
        std::cerr << "usage: consultd backup FILE [--force]\n";
        return kUsage;
    }
    if (fs::exists(target) && !args.has("force")) {
        std::cerr << target << " exists; pass --force to replace it\n";
        return kFailed;
    }
    int rc = kOk;
    auto store = openStore(args, rc);
    if (!store) return rc;
    ::umask(0077);  // the copy holds everything the database holds
    try {
        store->backupTo(target);
    } catch (const std::exception& e) {
        std::cerr << "backup to " << target << " failed: " << e.what() << "\n";
        return kFailed;
    }
    const auto size = fs::file_size(target);
    Poco::JSON::Object details;
    details.set("file", fs::absolute(target).string());
    details.set("bytes", static_cast<Poco::UInt64>(size));
    store->appendAudit(cliAudit("backup.created", "database", jsonText(details)));
    if (args.has("json")) {
        printJson(details);
    } else {
        std::cout << "backup written to " << target << " (" << size << " bytes)\n";
    }
    return kOk;
}

int restore(const Args& args) {
    const std::string source = args.word(1);
    if (source.empty()) {
        std::cerr << "usage: consultd restore FILE   (with the daemon stopped: systemctl stop consultd)\n";
        return kUsage;
    }
    int rc = kOk;
    auto config = loadCoreConfig(args, rc);
    if (!config) return rc;
    const std::string dbPath = databasePath(*config);

    // Replacing the file under a running daemon would lose its writes and
    // break its open connections: refuse while one runs.
    const auto pids = processesUsing(dbPath);
    const Endpoint endpoint = endpointOf(*config);
    const bool answers = endpoint.port != 0 && httpGet(endpoint, "/healthz").answered;
    if (!pids.empty() || answers) {
        std::cerr << "consultd is running (" << (pids.empty() ? "port " + std::to_string(endpoint.port) + " answers"
                                                              : "pid " + std::to_string(pids.front()))
                  << " uses " << dbPath << "); stop it first: systemctl stop consultd\n";
        return kFailed;
    }
    std::string problem;
    int version = 0;
    if (!checkDatabaseFile(source, problem, version)) {
        std::cerr << source << ": " << problem << "; nothing changed\n";
        return kFailed;
    }

    // Copy with the backup API into a temporary file beside the database,
    // then swap it in; the current database is kept beside it.
    const std::string stamp = std::to_string(util::nowMillis() / 1000);
    const std::string temp = dbPath + ".restore-" + stamp;
    {
        SqliteHandle from, to;
        const auto umaskBefore = ::umask(0027);
        const bool opened = sqlite3_open_v2(source.c_str(), &from.db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
                            sqlite3_open_v2(temp.c_str(), &to.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK;
        ::umask(umaskBefore);
        sqlite3_backup* copy = opened ? sqlite3_backup_init(to.db, "main", from.db, "main") : nullptr;
        const bool copied = copy != nullptr && sqlite3_backup_step(copy, -1) == SQLITE_DONE;
        if (copy) sqlite3_backup_finish(copy);
        if (!copied) {
            std::cerr << "copying " << source << " failed: " << sqlite3_errmsg(to.db ? to.db : from.db) << "\n";
            fs::remove(temp);
            return kFailed;
        }
    }
    std::error_code ec;
    std::string kept;
    if (fs::exists(dbPath)) {
        kept = dbPath + ".before-restore-" + stamp;
        fs::rename(dbPath, kept, ec);
        for (const char* suffix : {"-wal", "-shm"}) {
            if (!ec && fs::exists(dbPath + suffix)) fs::rename(dbPath + suffix, kept + suffix, ec);
        }
        if (ec) {
            std::cerr << "cannot move the current database aside: " << ec.message() << "; nothing restored\n";
            fs::remove(temp);
            return kFailed;
        }
    }
    fs::rename(temp, dbPath, ec);
    if (ec) {
        std::cerr << "cannot put the restored database in place: " << ec.message() << "\n";
        return kFailed;
    }
    matchStateOwner(dbPath);
    // Opening applies any newer migrations (as the daemon would) and records
    // the restore in the restored database's own audit chain.
    auto store = openStore(*config, rc);
    if (!store) return rc;
    Poco::JSON::Object details;
    details.set("from", fs::absolute(source).string());
    details.set("previous_database", kept);
    details.set("schema_version", version);
    store->appendAudit(cliAudit("backup.restored", "database", jsonText(details)));
    if (args.has("json")) {
        printJson(details);
    } else {
        std::cout << "restored " << dbPath << " from " << source << (kept.empty() ? "" : "; the previous database is " + kept)
                  << "\nstart the daemon again: systemctl start consultd\n";
    }
    return kOk;
}

// ---- audit -------------------------------------------------------------------

std::string csvField(const std::string& value) {
    if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
    std::string out = "\"";
    for (char c : value) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

int audit(const Args& args) {
    const std::string sub = args.word(1);
    if (sub == "verify") {
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        const auto bad = store->verifyAuditChain();
        if (args.has("json")) {
            Poco::JSON::Object out;
            out.set("intact", bad == 0);
            if (bad != 0) out.set("first_bad_seq", bad);
            printJson(out);
        } else if (bad != 0) {
            std::cerr << "audit log tampered: entry " << bad << " does not match the chain\n";
        } else {
            std::cout << "audit log intact\n";
        }
        return bad == 0 ? kOk : kFailed;
    }
    if (sub == "export") {
        const std::string format = args.get("format", "jsonl");
        const auto after = parseInt(args.get("after", "0"));
        if ((format != "csv" && format != "jsonl") || !after || *after < 0) {
            std::cerr << "usage: consultd audit export [--format csv|jsonl] [--output FILE] [--after SEQ]\n";
            return kUsage;
        }
        int rc = kOk;
        auto store = openStore(args, rc);
        if (!store) return rc;
        std::ofstream file;
        const std::string output = args.get("output");
        if (!output.empty()) {
            const auto umaskBefore = ::umask(0077);
            file.open(output, std::ios::out | std::ios::trunc);
            ::umask(umaskBefore);
            if (!file) {
                std::cerr << "cannot write " << output << ": " << std::strerror(errno) << "\n";
                return kFailed;
            }
        }
        std::ostream& out = output.empty() ? std::cout : file;
        if (format == "csv") out << "seq,at,actor,action,target,details,request_id,prev_hash,hash\n";
        std::int64_t last = *after;
        std::int64_t count = 0;
        for (;;) {
            const auto page = store->listAudit(last, 1000);
            for (const auto& a : page) {
                if (format == "csv") {
                    out << a.seq << "," << util::formatRfc3339(a.at) << "," << csvField(a.actor) << "," << csvField(a.action)
                        << "," << csvField(a.target) << "," << csvField(a.detailsJson) << "," << csvField(a.requestId)
                        << "," << a.prevHash << "," << a.hash << "\n";
                } else {
                    Poco::JSON::Object line(Poco::JSON_PRESERVE_KEY_ORDER);
                    line.set("seq", a.seq);
                    line.set("at", util::formatRfc3339(a.at));
                    line.set("actor", a.actor);
                    line.set("action", a.action);
                    line.set("target", a.target);
                    line.set("details", http::parseStoredObject(a.detailsJson));
                    line.set("request_id", a.requestId);
                    line.set("prev_hash", a.prevHash);
                    line.set("hash", a.hash);
                    line.stringify(out);
                    out << "\n";
                }
                last = a.seq;
                ++count;
            }
            if (page.size() < 1000) break;
        }
        out.flush();
        if (!out) {
            std::cerr << "writing the export failed\n";
            return kFailed;
        }
        Poco::JSON::Object details;
        details.set("format", format);
        details.set("entries", count);
        details.set("output", output.empty() ? "stdout" : fs::absolute(output).string());
        store->appendAudit(cliAudit("audit.exported", "audit", jsonText(details)));
        if (!output.empty()) std::cerr << count << " audit entries written to " << output << "\n";
        return kOk;
    }
    std::cerr << "usage: consultd audit verify|export ...\n";
    return kUsage;
}

// ---- recordings ---------------------------------------------------------------------

Poco::JSON::Object::Ptr recordingRowJson(const store::RecordingRecord& row) {
    auto out = http::recordingJson(row);
    out->set("file", row.fileName);
    return out;
}

int recordingCommand(const Args& args) {
    const std::string sub = args.word(1);
    int rc = kOk;
    auto config = loadCoreConfig(args, rc);
    if (!config) return rc;
    auto store = openStore(*config, rc);
    if (!store) return rc;
    const bool needsKey = sub == "export";
    std::shared_ptr<const recording::RecordingKey> key;
    if (needsKey) {
        const std::string keyPath = recording::recordingKeyPathFrom(*config);
        try {
            key = std::make_shared<const recording::RecordingKey>(recording::RecordingKey::loadFromFile(keyPath));
        } catch (const std::exception& e) {
            std::cerr << "cannot read the recording key " << keyPath << ": " << e.what() << "\n";
            return kFailed;
        }
    }
    recording::RecordingCatalog catalog(*store, recording::recordingDirFrom(*config), key);
    if (sub == "list") {
        store::RecordingFilter filter;
        filter.sessionId = args.get("session");
        filter.status = args.get("status");
        const auto limit = parseInt(args.get("limit", "200"));
        if (!limit || *limit < 1 || *limit > 200) {
            std::cerr << "--limit must be 1..200\n";
            return kUsage;
        }
        filter.limit = static_cast<int>(*limit);
        const auto rows = catalog.rows().list(filter);
        if (args.has("json")) {
            Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
            for (const auto& row : rows) items->add(recordingRowJson(row));
            Poco::JSON::Object out;
            out.set("recordings", items);
            printJson(out);
        } else {
            std::cout << "id                           session                      participant  status     bytes  "
                         "duration  created\n";
            for (const auto& row : rows) {
                std::cout << row.id << "  " << row.sessionId << "  " << (row.participantId.empty() ? "-" : row.participantId)
                          << "  " << row.status << "  " << row.bytes << "  " << (row.durationMs / 1000) << "s  "
                          << util::formatRfc3339(row.createdAt)
                          << (row.reason.empty() ? "" : "  (" + row.reason + ")") << "\n";
            }
        }
        return kOk;
    }
    const std::string id = args.word(2);
    if ((sub != "export" && sub != "delete") || id.empty() || (sub == "export" && args.word(3).empty())) {
        std::cerr << "usage: consultd recording list|export REC_ID OUT|delete REC_ID [--json]\n";
        return kUsage;
    }
    const auto row = catalog.rows().find(id);
    if (!row) {
        std::cerr << "no recording " << id << "\n";
        return kFailed;
    }
    if (sub == "delete") {
        Poco::JSON::Object details;
        details.set("session_id", row->sessionId);
        details.set("bytes", static_cast<Poco::Int64>(row->bytes));
        try {
            const auto deleted = catalog.remove(id, "deleted by " + cliActor(),
                                                cliAudit("recording.deleted", id, jsonText(details)));
            if (!deleted) {
                std::cerr << "recording " << id << " is already deleted\n";
                return kFailed;
            }
            if (args.has("json")) printJson(recordingRowJson(*deleted));
            else std::cout << "recording " << id << " deleted\n";
            return kOk;
        } catch (const recording::RecordingError& e) {
            std::cerr << "recording " << id << " not deleted: " << e.what() << "\n";
            return kFailed;
        }
    }
    // export
    if (row->status != "available") {
        std::cerr << "recording " << id << " is " << row->status << "; only available recordings can be exported\n";
        return kFailed;
    }
    const std::string output = args.word(3);
    try {
        auto reader = catalog.openReader(*row);
        reader->verifyAll();  // a tampered or cut file writes nothing
        std::ofstream file;
        std::ostream* out = &std::cout;
        const std::string partial = output + ".partial";
        if (output != "-") {
            if (::access(output.c_str(), F_OK) == 0) {
                std::cerr << output << " exists; not overwritten\n";
                return kFailed;
            }
            const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) {
                std::cerr << "cannot create " << partial << ": " << std::strerror(errno) << "\n";
                return kFailed;
            }
            ::close(fd);
            file.open(partial, std::ios::binary | std::ios::trunc);
            out = &file;
        }
        std::vector<std::uint8_t> buffer(1 << 20);
        std::uint64_t offset = 0;
        for (;;) {
            const std::size_t got = reader->read(offset, buffer);
            if (got == 0) break;
            out->write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(got));
            offset += got;
        }
        out->flush();
        if (!*out) {
            std::cerr << "writing " << output << " failed\n";
            if (output != "-") ::unlink(partial.c_str());
            return kFailed;
        }
        if (output != "-") {
            file.close();
            // link(2), not rename(2): an existing OUT is never replaced.
            const bool linked = ::link(partial.c_str(), output.c_str()) == 0;
            const int linkError = errno;
            ::unlink(partial.c_str());
            if (!linked) {
                std::cerr << "cannot create " << output << ": " << std::strerror(linkError) << "\n";
                return kFailed;
            }
        }
        Poco::JSON::Object details;
        details.set("session_id", row->sessionId);
        details.set("range", "full");
        details.set("output", output == "-" ? std::string("stdout") : fs::absolute(output).string());
        store->appendAudit(cliAudit("recording.exported", id, jsonText(details)));
        if (args.has("json") && output != "-") {
            Poco::JSON::Object result;
            result.set("id", id);
            result.set("output", fs::absolute(output).string());
            result.set("bytes", static_cast<Poco::Int64>(offset));
            result.set("content_type", recording::RecordingCatalog::contentType(row->container));
            printJson(result);
        } else if (output != "-") {
            std::cerr << offset << " bytes written to " << output << "\n";
        }
        return kOk;
    } catch (const recording::RecordingError& e) {
        std::cerr << "recording " << id << " cannot be exported (" << recording::toString(e.kind()) << "): " << e.what()
                  << "\n";
        return kFailed;
    }
}

}  // namespace

bool isCliCommand(const char* word) {
    return std::find(commandWords().begin(), commandWords().end(), word) != commandWords().end();
}

int runCli(int argc, char** argv) {
    // `consultctl <command>` is `consultd <command>` (the package installs a symlink).
    // recording decrypt|repair|info work on files alone; list|export|delete on the daemon's recordings.
    if (argc > 1 && std::strcmp(argv[1], "recording") == 0) {
        const bool catalogCommand = argc > 2 && (std::strcmp(argv[2], "list") == 0 ||
                                                 std::strcmp(argv[2], "export") == 0 ||
                                                 std::strcmp(argv[2], "delete") == 0);
        if (!catalogCommand) return recording::runRecordingCommand(argc, argv);
    }
    if (argc > 1 && std::strcmp(argv[1], "device") == 0) {
        ::umask(0027);
        return runDeviceCommand(argc, argv);
    }
    // As the unit's UMask=: a database the command creates is not world-readable.
    ::umask(0027);
    const Args args = parse(argc, argv, 1);
    const std::string command = args.word(0);
    if (command.empty() || command == "help" || args.has("help")) {
        std::cout << kHelp;
        return command.empty() ? kUsage : kOk;
    }
    try {
        if (command == "check-config") return checkConfig(args);
        if (command == "status") return status(args);
        if (command == "apikey") return apikey(args);
        if (command == "admin") {
            return runAdminUserCommand(args.positional, args.options, [&args](int& rc) { return openStore(args, rc); },
                                       cliActor());
        }
        if (command == "session") return sessionCommand(args);
        if (command == "backup") return backup(args);
        if (command == "restore") return restore(args);
        if (command == "audit") return audit(args);
        if (command == "recording") return recordingCommand(args);
    } catch (const std::exception& e) {
        std::cerr << "consultd " << command << ": " << e.what() << "\n";
        return kFailed;
    }
    std::cerr << "unknown command \"" << command << "\"\n" << kHelp;
    return kUsage;
}

}  // namespace consultd::app
