#include "RoleFeatures.h"

#include <string>

namespace consultd::jitsi {

RoleFeatures featuresForRole(Role role) {
    switch (role) {
        case Role::Host:
            return RoleFeatures{.moderator = true,
                                .recording = true,
                                .livestreaming = true,
                                .transcription = true,
                                .outboundCall = true,
                                .screenSharing = true};
        case Role::Patient:
        case Role::Guest:
        case Role::Device:
            return RoleFeatures{};
        case Role::Recorder:
            break;
    }
    throw ProviderRejected(std::string("role ") + roleName(role) +
                           " cannot join a Jitsi meeting through consultd");
}

namespace {
std::string flag(bool on) { return on ? "true" : "false"; }
}  // namespace

Poco::JSON::Object::Ptr featuresClaim(const RoleFeatures& features) {
    auto claim = Poco::makeShared<Poco::JSON::Object>();
    claim->set("recording", flag(features.recording));
    claim->set("livestreaming", flag(features.livestreaming));
    claim->set("transcription", flag(features.transcription));
    claim->set("outbound-call", flag(features.outboundCall));
    claim->set("screen-sharing", flag(features.screenSharing));
    return claim;
}

}  // namespace consultd::jitsi
