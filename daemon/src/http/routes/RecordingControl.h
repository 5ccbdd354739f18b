#pragma once
// Shared by the recording routes: the service (503 when the daemon runs
// without recordings) and the JSON of a session's recording state.

#include "core/ApiError.h"
#include "http/ApiServices.h"
#include "recording/RecordingService.h"

#include <Poco/JSON/Object.h>

namespace consultd::http::routes {

/// The recording service, or 503 RECORDING_UNAVAILABLE.
inline recording::RecordingService& recordingsOf(ApiServices& services) {
    if (services.recordings == nullptr) {
        throw core::ApiError(503, "RECORDING_UNAVAILABLE", "recordings are not available in this daemon");
    }
    return *services.recordings;
}

/// {"session_id", "recording", "mode", "started_at", "recordings": [...]}.
Poco::JSON::Object::Ptr sessionRecordingJson(const recording::SessionRecordingState& state);

}  // namespace consultd::http::routes
