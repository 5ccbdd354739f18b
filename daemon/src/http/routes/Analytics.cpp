#include "http/Json.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

#include <map>

namespace consultd::http::routes {
namespace {

/// Duration, participants with join/leave times, event counts, quality and
/// the timeline of one session, computed from the stored events.
class AnalyticsRoute final : public Route {
public:
    explicit AnalyticsRoute(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const auto analytics = s_.sessions.analytics(request.param("id"));
        const auto& session = analytics.session;
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("session_id", session.id);
        out.set("status", session.status);
        std::int64_t duration = session.durationSeconds;
        if (duration < 0 && session.status == "active" && session.startedAt > 0) {
            duration = (util::nowMillis() - session.startedAt) / 1000;
        }
        out.set("duration_seconds", duration >= 0 ? Poco::Dynamic::Var(duration) : Poco::Dynamic::Var());

        // Per participant: first join, last leave, time connected, joins.
        struct Presence {
            std::int64_t firstJoin = 0, lastLeave = 0, connectedMs = 0, openSince = 0;
            int joins = 0;
        };
        std::map<std::string, Presence> presence;
        std::map<std::string, std::int64_t> counts;
        std::map<std::string, std::int64_t> qualityCounts;
        std::string lastQuality;
        Poco::JSON::Array::Ptr timeline = new Poco::JSON::Array;
        for (const auto& event : analytics.events) {
            ++counts[event.type];
            timeline->add(eventJson(event));
            if (event.type == "participant_joined" && !event.participantId.empty()) {
                auto& p = presence[event.participantId];
                if (p.firstJoin == 0) p.firstJoin = event.createdAt;
                if (p.openSince == 0) p.openSince = event.createdAt;
                ++p.joins;
            } else if (event.type == "participant_left" && !event.participantId.empty()) {
                auto& p = presence[event.participantId];
                p.lastLeave = event.createdAt;
                if (p.openSince != 0) p.connectedMs += std::max<std::int64_t>(0, event.createdAt - p.openSince);
                p.openSince = 0;
            } else if (event.type == "connection_quality") {
                const auto data = parseStoredObject(event.dataJson);
                const std::string level = data->optValue<std::string>("quality", data->optValue<std::string>("level", ""));
                if (!level.empty()) {
                    ++qualityCounts[level];
                    lastQuality = level;
                }
            }
        }
        const std::int64_t closeAt = session.endedAt > 0 ? session.endedAt : util::nowMillis();
        Poco::JSON::Array::Ptr participants = new Poco::JSON::Array;
        for (const auto& participant : session.participants) {
            Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            item->set("id", participant.participantId);
            item->set("name", participant.name);
            item->set("role", participant.role);
            const auto it = presence.find(participant.participantId);
            const Presence p = it == presence.end() ? Presence{} : it->second;
            item->set("joined_at", p.firstJoin ? Poco::Dynamic::Var(util::formatRfc3339(p.firstJoin)) : Poco::Dynamic::Var());
            item->set("left_at", p.lastLeave ? Poco::Dynamic::Var(util::formatRfc3339(p.lastLeave)) : Poco::Dynamic::Var());
            item->set("joins", p.joins);
            // Late client reports (a join posted after the end) must not make this negative.
            const std::int64_t connected = p.connectedMs + (p.openSince ? std::max<std::int64_t>(0, closeAt - p.openSince) : 0);
            item->set("connected_seconds", std::max<std::int64_t>(0, connected) / 1000);
            participants->add(item);
        }
        out.set("participants", participants);
        Poco::JSON::Object::Ptr eventCounts = new Poco::JSON::Object;
        for (const auto& [type, n] : counts) eventCounts->set(type, n);
        out.set("event_counts", eventCounts);
        Poco::JSON::Object::Ptr quality = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        quality->set("reported", session.quality.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(session.quality));
        quality->set("last_measured", lastQuality.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(lastQuality));
        Poco::JSON::Object::Ptr samples = new Poco::JSON::Object;
        for (const auto& [level, n] : qualityCounts) samples->set(level, n);
        quality->set("samples", samples);
        out.set("quality", quality);
        out.set("timeline", timeline);
        out.set("timeline_truncated", analytics.timelineTruncated);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeAnalytics(ApiServices& services) { return std::make_unique<AnalyticsRoute>(services); }

}  // namespace consultd::http::routes
