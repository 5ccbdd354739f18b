#include "core/InviteService.h"

#include "core/ApiError.h"
#include "util/Crypto.h"
#include "util/Time.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <sstream>

namespace consultd::core {
namespace {

constexpr std::size_t kInviteIdChars = 32;  // randomBase32(20): 160 bits
constexpr std::int64_t kPurgeEveryMs = 10 * 60 * 1000;
constexpr std::int64_t kKeepExpiredMs = 24 * 60 * 60 * 1000;  // a day of "expired" answers before "not found"

std::string json(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

store::AuditRecord auditOf(const std::string& actor, const std::string& requestId, std::string action,
                           std::string target, const Poco::JSON::Object& details) {
    store::AuditRecord record;
    record.at = util::nowMillis();
    record.actor = actor;
    record.action = std::move(action);
    record.target = std::move(target);
    record.detailsJson = json(details);
    record.requestId = requestId;
    return record;
}

/// The audit actor of a browser holding an invite: a short, non-reversible
/// handle (not the secret) so its entries can be told apart.
std::string inviteActor(const std::string& idHash) { return "invite:" + idHash.substr(0, 12); }

bool isOpen(const std::string& status) { return status == "scheduled" || status == "waiting" || status == "active"; }

}  // namespace

InviteService::InviteService(store::Store& store, SessionService& sessions, ConfigSource config,
                             std::function<std::string()> publicUrl)
    : store_(store),
      invites_(store),
      sessions_(sessions),
      config_(std::move(config)),
      publicUrl_(std::move(publicUrl)),
      createLimiter_(static_cast<double>(config_()->getInt("security.token_rate_per_minute")), std::chrono::minutes(1)),
      redeemLimiter_(static_cast<double>(config_()->getInt("invites.redeem_rate_per_minute")), std::chrono::minutes(1)) {}

bool InviteService::looksLikeInviteId(const std::string& text) {
    return text.size() == kInviteIdChars && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
           });
}

std::string InviteService::rejoinCookieName(const std::string& inviteId) {
    // Derived with a label so the name does not repeat the stored id hash.
    return "consultd_rejoin_" + util::sha256Hex("consultd-rejoin-cookie:" + inviteId).substr(0, 16);
}

void InviteService::purgeExpiredNowAndThen() {
    const std::int64_t now = util::nowMillis();
    std::int64_t last = lastPurge_.load();
    if (now - last < kPurgeEveryMs || !lastPurge_.compare_exchange_strong(last, now)) return;
    try {
        const auto removed = invites_.purgeExpired(now - kKeepExpiredMs);
        if (removed > 0) Poco::Logger::get("invites").information("removed " + std::to_string(removed) + " expired invites");
    } catch (const store::StoreError& e) {
        Poco::Logger::get("invites").warning(std::string("removing expired invites failed: ") + e.what());
    }
}

NewInvite InviteService::create(const std::string& sessionId, const std::string& participantId, const Actor& actor) {
    const auto session = sessions_.get(sessionId);
    const auto participant = std::find_if(session.participants.begin(), session.participants.end(),
                                          [&](const auto& p) { return p.participantId == participantId; });
    if (participant == session.participants.end()) {
        throw ApiError(403, "NOT_A_PARTICIPANT", "participant is not part of this session")
            .withDetail("participant_id", participantId);
    }
    if (!isOpen(session.status)) {
        throw ApiError(409, "SESSION_CLOSED", "the session is " + session.status).withDetail("status", session.status);
    }
    const auto cfg = config_();
    createLimiter_.setRate(static_cast<double>(cfg->getInt("security.token_rate_per_minute")));
    const auto decision = createLimiter_.acquire(sessionId + "\n" + participantId);
    if (!decision.allowed) {
        throw ApiError(429, "RATE_LIMITED", "too many invites for this participant").withRetryAfter(decision.retryAfterSeconds);
    }
    purgeExpiredNowAndThen();

    NewInvite invite;
    invite.inviteId = util::randomBase32(20);
    invite.sessionId = sessionId;
    invite.participantId = participantId;
    const std::int64_t now = util::nowMillis();
    invite.expiresAt = now + cfg->getInt("invites.ttl_seconds") * 1000;
    invite.url = publicUrl_() + "/join/" + invite.inviteId;

    store::InviteRecord record;
    record.idHash = util::sha256Hex(invite.inviteId);
    record.sessionId = sessionId;
    record.participantId = participantId;
    record.createdBy = actor.name;
    record.createdAt = now;
    record.expiresAt = invite.expiresAt;
    Poco::JSON::Object details;
    details.set("participant_id", participantId);
    details.set("role", participant->role);
    details.set("expires_at", util::formatRfc3339(invite.expiresAt));
    details.set("invite", inviteActor(record.idHash));
    // The URL is handed out only once its audit entry is durable.
    invites_.insert(record, auditOf(actor.name, actor.requestId, "invite.created", sessionId, details));
    return invite;
}

Redemption InviteService::redeem(const std::string& inviteId, const std::string& rejoinCredential, bool wantGrant,
                                 const std::string& clientAddress, const std::string& requestId) {
    const auto cfg = config_();
    redeemLimiter_.setRate(static_cast<double>(cfg->getInt("invites.redeem_rate_per_minute")));
    const auto decision = redeemLimiter_.acquire(clientAddress);
    if (!decision.allowed) {
        throw ApiError(429, "RATE_LIMITED", "too many invite redemptions from this address")
            .withRetryAfter(decision.retryAfterSeconds);
    }
    const auto notFound = ApiError(404, "INVITE_NOT_FOUND", "this invite link is not valid");
    if (!looksLikeInviteId(inviteId)) throw notFound;
    const std::string idHash = util::sha256Hex(inviteId);
    auto invite = invites_.find(idHash);
    if (!invite) throw notFound;

    Redemption result;
    result.session = sessions_.get(invite->sessionId);
    result.inviteExpiresAt = invite->expiresAt;
    const std::int64_t now = util::nowMillis();
    const std::string actor = inviteActor(idHash);

    const bool expired = now >= invite->expiresAt;
    if (invite->redeemedAt == 0) {
        if (expired) throw ApiError(403, "INVITE_EXPIRED", "this invite link has expired; ask for a new one");
        const std::string credential = util::randomBase32(32);
        Poco::JSON::Object details;
        details.set("participant_id", invite->participantId);
        details.set("client_address", clientAddress);
        if (invites_.bind(idHash, util::sha256Hex(credential), now,
                          auditOf(actor, requestId, "invite.redeemed", invite->sessionId, details))) {
            result.newRejoinCredential = credential;
        } else {
            invite = invites_.find(idHash);  // another browser won the race
            if (!invite) throw notFound;
        }
    }
    if (result.newRejoinCredential.empty()) {
        // Bound to a browser: only that browser's credential opens it again.
        const bool same = !rejoinCredential.empty() &&
                          util::constantTimeEquals(util::sha256Hex(rejoinCredential), invite->rejoinHash);
        if (!same) {
            Poco::JSON::Object details;
            details.set("participant_id", invite->participantId);
            details.set("client_address", clientAddress);
            store_.appendAudit(auditOf(actor, requestId, "invite.reuse_refused", invite->sessionId, details));
            throw ApiError(409, "INVITE_ALREADY_USED",
                           "this invite link was already opened in another browser; ask for a new one");
        }
        if (expired && result.session.status != "active") {
            throw ApiError(403, "INVITE_EXPIRED", "this invite link has expired; ask for a new one");
        }
        invites_.touch(idHash, now);
    }

    const auto participant = std::find_if(result.session.participants.begin(), result.session.participants.end(),
                                          [&](const auto& p) { return p.participantId == invite->participantId; });
    if (participant == result.session.participants.end()) {
        throw ApiError(403, "NOT_A_PARTICIPANT", "participant is not part of this session")
            .withDetail("participant_id", invite->participantId);
    }
    result.participant = *participant;
    result.window = sessions_.canJoin(result.session, invite->participantId);
    if (wantGrant && result.window.canJoin) {
        result.grant = sessions_.issueGrant(invite->sessionId, invite->participantId, {actor, requestId});
        // The first grant moves a scheduled session to waiting.
        result.session = sessions_.get(invite->sessionId);
    }
    return result;
}

}  // namespace consultd::core
