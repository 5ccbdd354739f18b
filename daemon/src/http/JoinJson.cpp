#include "http/JoinJson.h"

#include "core/ApiError.h"
#include "http/Json.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/NameValueCollection.h>

#include <algorithm>

namespace consultd::http {

Poco::Dynamic::Var timeOrNullValue(std::int64_t millis) {
    if (millis == 0) return Poco::Dynamic::Var();
    return util::formatRfc3339(millis);
}

Poco::JSON::Object::Ptr grantJson(const core::GrantResult& result) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("provider", result.provider);
    out->set("room", result.grant.room);
    out->set("token", result.grant.token);
    out->set("join_url", result.grant.joinUrl);
    out->set("expires_at", util::formatRfc3339(result.grant.expiresAt * 1000));
    out->set("role", result.role);
    Poco::JSON::Array::Ptr ice = new Poco::JSON::Array;
    for (const auto& server : result.grant.iceServers) ice->add(iceServerJson(server));
    out->set("ice_servers", ice);
    Poco::JSON::Object::Ptr client = new Poco::JSON::Object;
    for (const auto& [k, v] : result.grant.client) client->set(k, v);
    out->set("client", client);
    return out;
}

Poco::JSON::Object::Ptr joinSessionJson(const store::SessionRecord& session) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", session.id);
    out->set("status", session.status);
    out->set("mode", session.mode);
    out->set("provider", session.provider);
    out->set("scheduled_at", timeOrNullValue(session.scheduledAt));
    const auto host = std::find_if(session.participants.begin(), session.participants.end(),
                                   [](const auto& p) { return p.role == "host"; });
    out->set("host_name", host == session.participants.end() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(host->name));
    return out;
}

Poco::JSON::Object::Ptr deviceJson(const store::DeviceRecord& d) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", d.id);
    out->set("name", d.name);
    out->set("room_name", d.roomName);
    out->set("status", d.status);
    out->set("enrolled_at", timeOrNullValue(d.enrolledAt));
    out->set("last_seen_at", timeOrNullValue(d.lastSeenAt));
    out->set("created_at", timeOrNullValue(d.createdAt));
    out->set("revoked_at", timeOrNullValue(d.revokedAt));
    out->set("enrollment_expires_at", timeOrNullValue(d.enrollmentCodeHash.empty() ? 0 : d.enrollmentExpiresAt));
    return out;
}

store::DeviceRecord authenticateDevice(core::DeviceService& devices, Request& request) {
    auto device = devices.authenticate(cookieValue(request, kDeviceCookie), request.clientAddress());
    if (!device) {
        throw core::ApiError(401, "DEVICE_UNAUTHENTICATED",
                             "this browser holds no valid device credential; enroll it with a code");
    }
    return *device;
}

std::string cookieValue(Request& request, const std::string& name) {
    Poco::Net::NameValueCollection cookies;
    request.raw().getCookies(cookies);
    return cookies.get(name, "");
}

std::string setCookie(const std::string& name, const std::string& value, const std::string& path,
                      std::int64_t maxAgeSeconds, bool secure) {
    std::string header = name + "=" + value + "; Path=" + path + "; Max-Age=" + std::to_string(maxAgeSeconds) +
                         "; HttpOnly; SameSite=Strict";
    if (secure) header += "; Secure";
    return header;
}

bool secureCookies(const config::Config& config) {
    return config.getBool("server.tls") || config.getString("server.public_url").rfind("https://", 0) == 0;
}

}  // namespace consultd::http
