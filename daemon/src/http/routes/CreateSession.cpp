#include "core/ApiError.h"
#include "http/Json.h"
#include "http/routes/Routes.h"

#include <set>

namespace consultd::http::routes {
namespace {

class CreateSession final : public Route {
public:
    explicit CreateSession(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const auto body = request.jsonBody();
        const auto config = s_.config();
        FieldReader in(body);
        in.rejectUnknown({"consultation_id", "provider", "mode", "scheduled_at", "host", "participants", "device_id",
                          "record", "metadata"});
        core::CreateSessionRequest create;
        if (auto v = in.string("consultation_id", true, 128)) create.consultationId = *v;
        if (auto v = in.string("provider", false, 64)) {
            if (s_.plugins.find(*v) == nullptr) {
                in.fail("provider", "\"" + *v + "\" is not an enabled provider");
            } else {
                create.provider = *v;
            }
        }
        if (auto v = in.oneOf("mode", {"video", "voice", "chat"}, false)) create.mode = *v;
        if (auto v = in.time("scheduled_at")) create.scheduledAt = *v;
        if (auto v = in.boolean("record")) create.record = *v;
        if (auto v = in.string("device_id", false, 128, kIdPattern, "must be 1-128 characters of A-Z a-z 0-9 . _ : @ -")) {
            create.deviceId = *v;
        }

        std::set<std::string> ids;
        if (auto host = in.object("host", true)) {
            FieldReader h = in.nested(host, "host.");
            h.rejectUnknown({"id", "name", "email"});
            if (auto v = h.string("id", true, 128, kIdPattern, "must be 1-128 characters of A-Z a-z 0-9 . _ : @ -")) {
                create.host.participantId = *v;
                ids.insert(*v);
            }
            if (auto v = h.string("name", true, 200)) create.host.name = *v;
            if (auto v = h.string("email", false, 254, R"([^@\s]+@[^@\s]+)", "must be an email address")) create.host.email = *v;
        }
        const auto maxParticipants = static_cast<std::size_t>(config->getInt("sessions.max_participants"));
        if (auto list = in.array("participants", maxParticipants - 1)) {
            for (std::size_t i = 0; i < list->size(); ++i) {
                const std::string prefix = "participants[" + std::to_string(i) + "].";
                auto item = list->getObject(static_cast<unsigned>(i));
                if (!item) {
                    in.fail("participants[" + std::to_string(i) + "]", "must be an object");
                    continue;
                }
                FieldReader p = in.nested(item, prefix);
                p.rejectUnknown({"id", "name", "role", "email"});
                store::ParticipantRecord participant;
                if (auto v = p.string("id", true, 128, kIdPattern, "must be 1-128 characters of A-Z a-z 0-9 . _ : @ -")) {
                    participant.participantId = *v;
                    if (!ids.insert(*v).second) p.fail("id", "is used twice in this session");
                }
                if (auto v = p.string("name", true, 200)) participant.name = *v;
                if (auto v = p.string("email", false, 254, R"([^@\s]+@[^@\s]+)", "must be an email address")) participant.email = *v;
                if (auto v = p.oneOf("role", {"patient", "guest"}, true)) participant.role = *v;
                create.participants.push_back(participant);
            }
        }
        if (!create.deviceId.empty() && ids.count(create.deviceId) != 0) in.fail("device_id", "is also a participant id");
        if (ids.size() + (create.deviceId.empty() ? 0 : 1) > maxParticipants) {
            in.fail("participants", "a session holds at most " + std::to_string(maxParticipants) +
                                        " participants (host and device included)");
        }
        if (auto metadata = in.object("metadata", false)) {
            std::ostringstream text;
            metadata->stringify(text);
            if (text.str().size() > static_cast<std::size_t>(config->getInt("sessions.max_metadata_bytes"))) {
                in.fail("metadata", "must be at most " + std::to_string(config->getInt("sessions.max_metadata_bytes")) +
                                        " bytes of JSON");
            } else {
                create.metadataJson = text.str();
            }
        }
        // Mode must be something the provider can do.
        const std::string providerName = create.provider.empty() ? config->getString("providers.default") : create.provider;
        if (Provider* provider = s_.plugins.find(providerName)) {
            const auto caps = provider->capabilities();
            if ((create.mode == "voice" && !caps.voiceOnly) || (create.mode == "chat" && !caps.chat) ||
                (create.mode == "video" && !caps.video)) {
                in.fail("mode", "provider " + providerName + " does not support " + create.mode);
            }
        }
        in.finish();

        const auto [session, created] = s_.sessions.create(create, {request.principal.actorName(), request.requestId()});
        response.json(created ? 201 : 200, *sessionJson(session));
        response.headers.emplace_back("Location", "/api/v1/sessions/" + session.id);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeCreateSession(ApiServices& services) { return std::make_unique<CreateSession>(services); }

}  // namespace consultd::http::routes
