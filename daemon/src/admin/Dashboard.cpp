#include "admin/Dashboard.h"

#include "http/Json.h"
#include "http/routes/Routes.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <sstream>

namespace consultd::admin {

Dashboard::Dashboard(store::Store& store, plugins::PluginHost& plugins, DashboardSources sources)
    : store_(store), plugins_(plugins), sources_(std::move(sources)) {}

namespace {

Poco::JSON::Array::Ptr sessionsWithStatus(store::Store& store, const std::string& status) {
    store::SessionFilter filter;
    filter.status = status;
    filter.limit = 100;
    auto sessions = store.listSessions(filter);
    if (status == "scheduled") {
        std::stable_sort(sessions.begin(), sessions.end(),
                         [](const auto& a, const auto& b) { return a.scheduledAt < b.scheduledAt; });
    }
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (const auto& s : sessions) out->add(http::sessionJson(s));
    return out;
}

}  // namespace

Poco::JSON::Object::Ptr Dashboard::snapshot() {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);

    Poco::JSON::Object::Ptr sessions = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    sessions->set("active", sessionsWithStatus(store_, "active"));
    sessions->set("waiting", sessionsWithStatus(store_, "waiting"));
    sessions->set("upcoming", sessionsWithStatus(store_, "scheduled"));
    out->set("sessions", sessions);

    Poco::JSON::Object::Ptr counts = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& row : store_.countSessionsByStatus()) counts->set(row.status, row.count);
    out->set("session_counts", counts);

    Poco::JSON::Array::Ptr providers = new Poco::JSON::Array;
    for (const auto& info : plugins_.list()) {
        Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        item->set("name", info.name);
        const Health health = http::routes::safeHealth(*info.provider);
        item->set("health", http::routes::healthName(health.state));
        item->set("detail", health.detail);
        providers->add(item);
    }
    out->set("providers", providers);

    Poco::JSON::Object::Ptr turn = sources_.turn ? sources_.turn() : nullptr;
    if (turn) {
        const auto relayed = turn->optValue<Poco::UInt64>("bytes_relayed", 0);
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        const double seconds = std::chrono::duration<double>(now - lastSample_).count();
        // Sampled at most once a second so several streams do not make the
        // rate jump between tiny intervals.
        if (lastSample_.time_since_epoch().count() == 0) {
            lastRelayed_ = relayed;
            lastSample_ = now;
        } else if (seconds >= 1.0) {
            bandwidth_ = relayed >= lastRelayed_ ? static_cast<std::int64_t>((relayed - lastRelayed_) / seconds) : 0;
            lastRelayed_ = relayed;
            lastSample_ = now;
        }
        turn->set("bandwidth_bytes_per_second", bandwidth_);
        turn->set("running", true);
    } else {
        turn = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        turn->set("running", false);
    }
    out->set("turn", turn);

    Poco::JSON::Object::Ptr signaling = sources_.signaling ? sources_.signaling() : nullptr;
    out->set("signaling", signaling ? signaling : Poco::JSON::Object::Ptr(new Poco::JSON::Object));

    Poco::JSON::Array::Ptr recordings;
    try {
        recordings = sources_.recordings ? sources_.recordings() : nullptr;
    } catch (const std::exception& e) {
        Poco::Logger::get("admin").warning(std::string("dashboard: recordings unavailable: ") + e.what());
    }
    out->set("recordings", recordings ? recordings : Poco::JSON::Array::Ptr(new Poco::JSON::Array));
    return out;
}

std::string Dashboard::snapshotText(std::chrono::milliseconds maxAge) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        if (!cachedText_.empty() && now - cachedAt_ < maxAge) return cachedText_;
    }
    std::ostringstream text;
    snapshot()->stringify(text);  // one line: JSON strings escape newlines
    std::lock_guard lock(mutex_);
    cachedText_ = text.str();
    cachedAt_ = now;
    return cachedText_;
}

bool Dashboard::openStream(int max) {
    std::lock_guard lock(mutex_);
    if (stopping_ || streams_ >= max) return false;
    ++streams_;
    return true;
}

void Dashboard::closeStream() {
    std::lock_guard lock(mutex_);
    --streams_;
}

bool Dashboard::waitOrStop(std::chrono::milliseconds period) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, period, [this] { return stopping_; });
    return stopping_;
}

void Dashboard::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
}

}  // namespace consultd::admin
