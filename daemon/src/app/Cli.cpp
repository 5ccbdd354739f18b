#include "app/Cli.h"

#include "config/Config.h"
#include "http/ApiKeyAuth.h"
#include "store/Store.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

namespace consultd::app {

std::string databasePath(const config::Config& config);  // app/Subsystems.cpp

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kConfig = 78;

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;  // --name value / --flag ""
    bool has(const std::string& name) const { return options.count(name) != 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const {
        const auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
};

Args parse(int argc, char** argv, int from) {
    static const std::vector<std::string> kFlags = {"json", "help"};
    Args args;
    for (int i = from; i < argc; ++i) {
        std::string word = argv[i];
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

std::unique_ptr<store::Store> openStore(const Args& args, int& rc) {
    const std::string file = args.get("config", "/etc/consultd/consultd.conf");
    auto result = config::ConfigLoader::load(file);
    // Provider groups are not validated here (no plugins loaded): the CLI
    // needs only the storage settings.
    if (!result.config || !result.errors.empty()) {
        for (const auto& e : result.errors) std::cerr << e.format() << "\n";
        rc = kConfig;
        return nullptr;
    }
    store::StoreOptions options;
    options.path = databasePath(*result.config);
    options.busyTimeoutMs = static_cast<int>(result.config->getInt("storage.busy_timeout_ms"));
    options.readConnections = 1;
    try {
        return store::Store::open(options);
    } catch (const std::exception& e) {
        std::cerr << "cannot open the database " << options.path << ": " << e.what() << "\n";
        rc = kFailed;
        return nullptr;
    }
}

std::string cliActor() {
    const char* user = std::getenv("SUDO_USER");
    if (user == nullptr) user = std::getenv("USER");
    return std::string("cli:") + (user ? user : "unknown");
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

std::vector<std::string> splitScopes(const std::string& text) {
    std::vector<std::string> scopes;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (!item.empty()) scopes.push_back(item);
    }
    return scopes;
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
                std::cerr << "unknown scope \"" << scope << "\" (known: sessions:read, sessions:write, metrics:read, admin)\n";
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

int audit(const Args& args) {
    const std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
    if (sub != "verify") {
        std::cerr << "usage: consultd audit verify\n";
        return kUsage;
    }
    int rc = kOk;
    auto store = openStore(args, rc);
    if (!store) return rc;
    const auto bad = store->verifyAuditChain();
    if (bad != 0) {
        std::cerr << "audit log tampered: entry " << bad << " does not match the chain\n";
        return kFailed;
    }
    std::cout << "audit log intact\n";
    return kOk;
}

}  // namespace

bool isCliCommand(const char* word) { return std::strcmp(word, "apikey") == 0 || std::strcmp(word, "audit") == 0; }

int runCli(int argc, char** argv) {
    const Args args = parse(argc, argv, 1);
    try {
        if (args.positional.at(0) == "apikey") return apikey(args);
        if (args.positional.at(0) == "audit") return audit(args);
    } catch (const std::exception& e) {
        std::cerr << "consultd " << argv[1] << ": " << e.what() << "\n";
        return kFailed;
    }
    return kUsage;
}

}  // namespace consultd::app
