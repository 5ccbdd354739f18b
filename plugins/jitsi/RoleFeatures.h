#pragma once
/// What each consultd role may do in a Jitsi meeting; one policy for both
/// flavours so self-hosted and JaaS calls behave alike.

#include "consultd/provider.h"

#include <Poco/JSON/Object.h>

namespace consultd::jitsi {

/// Rights granted to one participant. Everything is off unless the role needs it.
struct RoleFeatures {
    bool moderator = false;
    bool recording = false;
    bool livestreaming = false;
    bool transcription = false;
    bool outboundCall = false;
    bool screenSharing = false;
};

/// The rights of `role`: the host (doctor) gets moderator and every feature,
/// patients, guests and kiosk devices get none of them.
/// Throws consultd::ProviderRejected for Role::Recorder: Jitsi records through
/// its own Jibri/JaaS machinery, so no consultd recorder peer ever joins.
RoleFeatures featuresForRole(Role role);

/// The `context.features` claim: every feature as the STRING "true"/"false",
/// which is what jitsi-meet and JaaS compare against.
Poco::JSON::Object::Ptr featuresClaim(const RoleFeatures& features);

}  // namespace consultd::jitsi
