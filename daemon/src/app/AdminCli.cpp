#include "app/AdminCli.h"

#include "admin/AdminAuth.h"
#include "admin/PasswordHasher.h"
#include "store/AdminStore.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>

namespace consultd::app {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr const char* kUsageText =
    "usage: consultd admin create USERNAME [--password-file FILE] [--json]\n"
    "       consultd admin reset-password USERNAME [--password-file FILE] [--json]\n"
    "       consultd admin list [--json]\n"
    "       consultd admin disable USERNAME [--json]\n"
    "The password is read from --password-file (first line) or from stdin (asked twice\n"
    "without echo on a terminal); never give it on the command line.\n";

/// Turns terminal echo off for its lifetime (restored on every exit path).
class EchoOff {
public:
    EchoOff() {
        if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios quiet = saved_;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    ~EchoOff() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

std::optional<std::string> readPassword(const std::map<std::string, std::string>& options, std::string& problem) {
    const auto file = options.find("password-file");
    std::string password;
    if (file != options.end()) {
        if (file->second.empty()) {
            problem = "--password-file needs a file name";
            return std::nullopt;
        }
        std::ifstream in(file->second);
        if (!in) {
            problem = "cannot read " + file->second;
            return std::nullopt;
        }
        struct stat st {};
        if (::stat(file->second.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
            std::cerr << "warning: " << file->second << " is readable by every user; delete it when done\n";
        }
        std::getline(in, password);
    } else if (::isatty(STDIN_FILENO)) {
        std::string again;
        {
            EchoOff quiet;
            std::cerr << "password: " << std::flush;
            std::getline(std::cin, password);
            std::cerr << "\nagain: " << std::flush;
            std::getline(std::cin, again);
            std::cerr << "\n";
        }
        if (password != again) {
            problem = "the two passwords differ";
            return std::nullopt;
        }
    } else {
        std::getline(std::cin, password);
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
    problem = admin::passwordProblem(password);
    if (!problem.empty()) return std::nullopt;
    return password;
}

store::AuditRecord auditOf(const std::string& actor, const std::string& action, const std::string& target) {
    store::AuditRecord audit;
    audit.at = util::nowMillis();
    audit.actor = actor;
    audit.action = action;
    audit.target = target;
    return audit;
}

Poco::JSON::Object::Ptr userJson(const store::AdminUserRecord& u, std::int64_t now) {
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    item->set("username", u.username);
    item->set("created_at", util::formatRfc3339(u.createdAt));
    item->set("updated_at", util::formatRfc3339(u.updatedAt));
    item->set("disabled", u.disabledAt != 0);
    item->set("locked_until", u.lockedUntil > now ? Poco::Dynamic::Var(util::formatRfc3339(u.lockedUntil)) : Poco::Dynamic::Var());
    item->set("last_login_at", u.lastLoginAt ? Poco::Dynamic::Var(util::formatRfc3339(u.lastLoginAt)) : Poco::Dynamic::Var());
    return item;
}

void printResult(bool json, const std::string& username, const std::string& action, const std::string& text) {
    if (json) {
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("username", username);
        out.set("result", action);
        out.stringify(std::cout);
        std::cout << "\n";
    } else {
        std::cout << text << "\n";
    }
}

}  // namespace

int runAdminUserCommand(const std::vector<std::string>& positional, const std::map<std::string, std::string>& options,
                        const StoreOpener& openStore, const std::string& actor) {
    const std::string sub = positional.size() > 1 ? positional[1] : "";
    const std::string username = positional.size() > 2 ? positional[2] : "";
    const bool json = options.count("json") != 0;
    static const std::regex kName(admin::kUsernamePattern);
    if (options.count("password")) {
        std::cerr << "--password is not accepted (it would be visible to every local user); use --password-file or stdin\n";
        return kUsage;
    }

    if (sub == "list") {
        int rc = kOk;
        auto store = openStore(rc);
        if (!store) return rc;
        const auto users = store::AdminStore(*store).listUsers();
        const std::int64_t now = util::nowMillis();
        if (json) {
            Poco::JSON::Array out;
            for (const auto& u : users) out.add(userJson(u, now));
            out.stringify(std::cout);
            std::cout << "\n";
        } else {
            if (users.empty()) std::cout << "no admin users (create one: consultd admin create NAME)\n";
            for (const auto& u : users) {
                std::cout << u.username << "  created " << util::formatRfc3339(u.createdAt)
                          << (u.disabledAt ? "  DISABLED" : "")
                          << (u.lockedUntil > now ? "  LOCKED until " + util::formatRfc3339(u.lockedUntil) : "")
                          << (u.lastLoginAt ? "  last login " + util::formatRfc3339(u.lastLoginAt) : "") << "\n";
            }
        }
        return kOk;
    }
    if (sub != "create" && sub != "reset-password" && sub != "disable") {
        std::cerr << kUsageText;
        return kUsage;
    }
    if (!std::regex_match(username, kName)) {
        std::cerr << "the user name must be 1-64 characters of A-Z a-z 0-9 . _ @ -\n" << kUsageText;
        return kUsage;
    }
    int rc = kOk;
    auto store = openStore(rc);
    if (!store) return rc;
    store::AdminStore admins(*store);

    if (sub == "disable") {
        if (!admins.disableUser(username, util::nowMillis(), auditOf(actor, "admin.user_disabled", username))) {
            std::cerr << (admins.findUser(username) ? "admin user " + username + " is disabled already"
                                                    : "no admin user " + username)
                      << "\n";
            return kFailed;
        }
        printResult(json, username, "disabled", "admin user " + username + " disabled; their sessions ended");
        return kOk;
    }

    const bool exists = admins.findUser(username).has_value();
    if (sub == "create" && exists) {
        std::cerr << "admin user " << username << " exists; use: consultd admin reset-password " << username << "\n";
        return kFailed;
    }
    if (sub == "reset-password" && !exists) {
        std::cerr << "no admin user " << username << "\n";
        return kFailed;
    }
    std::string problem;
    const auto password = readPassword(options, problem);
    if (!password) {
        std::cerr << problem << "\n";
        return kUsage;
    }
    const std::string hash = admin::hashPassword(*password);
    if (sub == "create") {
        store::AdminUserRecord user;
        user.username = username;
        user.passwordHash = hash;
        user.createdAt = util::nowMillis();
        try {
            admins.insertUser(user, auditOf(actor, "admin.user_created", username));
        } catch (const store::Conflict&) {
            std::cerr << "admin user " << username << " exists\n";
            return kFailed;
        }
        printResult(json, username, "created", "admin user " + username + " created; log in at /admin");
        return kOk;
    }
    if (!admins.setPassword(username, hash, util::nowMillis(), auditOf(actor, "admin.password_reset", username))) {
        std::cerr << "no admin user " << username << "\n";
        return kFailed;
    }
    printResult(json, username, "password_reset",
                "password of " + username + " changed; the user is enabled and unlocked, their sessions ended");
    return kOk;
}

}  // namespace consultd::app
