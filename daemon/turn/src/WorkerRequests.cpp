// Worker: STUN requests (Binding, Allocate, Refresh, CreatePermission,
// ChannelBind), long-term credential checks and responses.
#include "Worker.h"

#include "TurnCrypto.h"
#include "WorkerDetail.h"
#include "consultd/turn/Credentials.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace consultd::turn {

using namespace worker_detail;
namespace attr = stun::attr;
using stun::MessageClass;
using stun::Method;

namespace {

// The attributes this relay understands; any other comprehension-required
// one gets 420 (RFC 8489 7.3.1).
bool knownAttribute(std::uint16_t type) {
    switch (type) {
    case attr::Username: case attr::MessageIntegrity: case attr::MessageIntegritySha256: case attr::Realm:
    case attr::Nonce: case attr::ChannelNumber: case attr::Lifetime: case attr::XorPeerAddress: case attr::Data:
    case attr::RequestedAddressFamily: case attr::EvenPort: case attr::RequestedTransport:
    case attr::DontFragment: case attr::ReservationToken: case attr::Fingerprint: case attr::Bandwidth:
    case attr::Priority: case attr::UseCandidate: case attr::Padding: case attr::ResponsePort:
    case attr::ChangeRequest: case attr::XorMappedAddress: case attr::MappedAddress:
        return true;
    default:
        return !stun::isComprehensionRequired(type);
    }
}


}  // namespace

// ---------------------------------------------------------------- STUN

void Worker::sendToClient(const Client& client, std::span<const std::uint8_t> bytes) {
    if (client.transport == Transport::Udp) {
        ::sendto(udpListener_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT, client.address.sockaddrPtr(),
                 client.address.length());
    } else if (client.connection && !client.connection->dead) {
        if (!writeToConnection(*client.connection, {bytes})) counters_.dropsBackpressure.add();
    }
}

Worker::Allocation* Worker::findAllocation(const Client& client) const {
    if (client.transport == Transport::Udp) {
        auto it = udpAllocations_.find(client.address);
        return it == udpAllocations_.end() ? nullptr : it->second;
    }
    return client.connection ? client.connection->allocation : nullptr;
}

void Worker::onStunMessage(const Client& client, std::span<const std::uint8_t> bytes) {
    stun::StunMessageView m;
    if (m.parse(bytes) != stun::ParseResult::Ok) {
        counters_.dropsMalformed.add();
        return;
    }
    switch (m.messageClass()) {
    case MessageClass::Request:
        handleRequest(client, m);
        return;
    case MessageClass::Indication:
        if (m.method() == Method::Send) {
            if (Allocation* a = findAllocation(client)) relaySendIndication(*a, m);
            else counters_.dropsNoAllocation.add();
        }
        return;  // Binding indications are keepalives: nothing to do
    default:
        counters_.dropsMalformed.add();  // we never sent a request this could answer
        return;
    }
}

void Worker::finishAndSend(const Client& client, stun::StunMessageBuilder& b, const std::array<std::uint8_t, 16>* key,
                           bool sha256, Allocation* cacheOn, const stun::StunMessageView& request) {
    if (!shared_.config.software.empty()) b.addString(attr::Software, shared_.config.software);
    if (key) {
        if (sha256) b.addMessageIntegritySha256(*key);
        else b.addMessageIntegrity(*key);
    }
    b.addFingerprint();
    if (!b.ok()) {
        log(LogLevel::Error, "TURN: response did not fit its buffer");
        return;
    }
    const auto bytes = b.bytes();
    if (cacheOn && bytes.size() <= cacheOn->lastResponse.size()) {
        std::copy(request.transactionId().begin(), request.transactionId().end(), cacheOn->lastTransaction.begin());
        std::copy(bytes.begin(), bytes.end(), cacheOn->lastResponse.begin());
        cacheOn->lastResponseSize = bytes.size();
    }
    sendToClient(client, bytes);
}

void Worker::sendError(const Client& client, const stun::StunMessageView& m, int code,
                       const std::array<std::uint8_t, 16>* key, std::span<const std::uint16_t> unknown) {
    std::array<std::uint8_t, 512> buffer;
    stun::StunMessageBuilder b(buffer, m.method(), MessageClass::Error, m.transactionId());
    b.addError(code, stun::reasonPhrase(code));
    if (!unknown.empty()) b.addUnknownAttributes(unknown);
    finishAndSend(client, b, key, key && m.usesSha256Integrity(), nullptr, m);
}

void Worker::sendChallenge(const Client& client, const stun::StunMessageView& m, int code) {
    std::array<std::uint8_t, 512> buffer;
    stun::StunMessageBuilder b(buffer, m.method(), MessageClass::Error, m.transactionId());
    b.addError(code, stun::reasonPhrase(code));
    b.addString(attr::Realm, shared_.config.realm);
    b.addString(attr::Nonce, shared_.nonces.issue(client.address, nowUnix_));
    finishAndSend(client, b, nullptr, false, nullptr, m);
}

void Worker::handleRequest(const Client& client, const stun::StunMessageView& m) {
    counters_.stunRequests.add();
    Allocation* existing = findAllocation(client);
    if (existing && existing->lastResponseSize > 0 &&
        std::equal(m.transactionId().begin(), m.transactionId().end(), existing->lastTransaction.begin())) {
        // A retransmission: answer exactly as before, change nothing.
        sendToClient(client, std::span<const std::uint8_t>(existing->lastResponse.data(), existing->lastResponseSize));
        return;
    }

    std::array<std::uint16_t, 8> unknown{};
    std::size_t unknownCount = 0;
    for (const auto& a : m.attributes())
        if (!knownAttribute(a.type) && unknownCount < unknown.size()) unknown[unknownCount++] = a.type;
    if (unknownCount > 0) {
        sendError(client, m, 420, nullptr, std::span<const std::uint16_t>(unknown.data(), unknownCount));
        return;
    }

    if (m.method() == Method::Binding) {
        if (auto change = m.findU32(attr::ChangeRequest); change && (*change & 0x6) != 0) {
            // No alternate address to answer from (RFC 5780 needs two IPs).
            const std::uint16_t t = attr::ChangeRequest;
            sendError(client, m, 420, nullptr, std::span<const std::uint16_t>(&t, 1));
            return;
        }
        std::array<std::uint8_t, 256> buffer;
        stun::StunMessageBuilder b(buffer, Method::Binding, MessageClass::Success, m.transactionId());
        b.addXorAddress(attr::XorMappedAddress, client.address);
        b.addAddress(attr::MappedAddress, client.address);  // for RFC 3489-era clients
        finishAndSend(client, b, nullptr, false, nullptr, m);
        return;
    }
    if (m.method() != Method::Allocate && m.method() != Method::Refresh && m.method() != Method::CreatePermission &&
        m.method() != Method::ChannelBind) {
        sendError(client, m, 400, nullptr);
        return;
    }

    // Long-term credentials (RFC 8489 9.2.4), checked before any state is made.
    if (!m.hasMessageIntegrity()) {
        sendChallenge(client, m, 401);
        return;
    }
    const auto username = m.findString(attr::Username);
    const auto realm = m.findString(attr::Realm);
    const auto nonce = m.findString(attr::Nonce);
    if (!username || !realm || !nonce) {
        sendError(client, m, 400, nullptr);
        return;
    }
    if (shared_.nonces.check(*nonce, client.address, nowUnix_) != NonceService::Check::Valid) {
        counters_.staleNonces.add();
        sendChallenge(client, m, 438);
        return;
    }
    const auto expiry = usernameExpiry(*username);
    if (!expiry || *expiry < nowUnix_ || *realm != shared_.config.realm) {
        counters_.authFailures.add();
        sendChallenge(client, m, 401);
        return;
    }
    const std::string user(*username);
    const std::string password = passwordFor(shared_.secret(), user);
    const auto key = crypto::md5(user + ":" + shared_.config.realm + ":" + password);
    if (!m.verifyIntegrity(key)) {
        counters_.authFailures.add();
        sendChallenge(client, m, 401);
        return;
    }

    if (m.method() == Method::Allocate) {
        if (existing) {
            sendError(client, m, 437, &existing->key);
            return;
        }
        handleAllocate(client, m, user, key);
        return;
    }
    if (!existing) {
        // 437 carries no integrity: there is no allocation whose key to use.
        sendError(client, m, 437, nullptr);
        return;
    }
    if (existing->username != user) {
        sendError(client, m, 441, nullptr);
        return;
    }
    existing->key = key;  // the same user; keeps working across a secret change window
    existing->sha256Integrity = m.usesSha256Integrity();
    switch (m.method()) {
    case Method::Refresh: handleRefresh(client, *existing, m); break;
    case Method::CreatePermission: handleCreatePermission(client, *existing, m); break;
    case Method::ChannelBind: handleChannelBind(client, *existing, m); break;
    default: break;
    }
}

void Worker::handleAllocate(const Client& client, const stun::StunMessageView& m, const std::string& username,
                            const std::array<std::uint8_t, 16>& key) {
    const auto transport = m.find(attr::RequestedTransport);
    if (!transport || transport->value.size() != 4) {
        sendError(client, m, 400, &key);
        return;
    }
    if (transport->value[0] != 17) {  // only UDP relaying (RFC 6062 TCP relay not offered)
        sendError(client, m, 442, &key);
        return;
    }
    const stun::Attribute* evenPort = m.find(attr::EvenPort);
    const stun::Attribute* token = m.find(attr::ReservationToken);
    const stun::Attribute* family = m.find(attr::RequestedAddressFamily);
    if ((evenPort && token) || (token && family) || (evenPort && evenPort->value.size() != 1) ||
        (token && token->value.size() != 8) || (family && family->value.size() != 4)) {
        sendError(client, m, 400, &key);
        return;
    }
    const int relayFamily = shared_.relayBindAddress.family();
    if (family) {
        const int wanted = family->value[0] == 0x01 ? AF_INET : family->value[0] == 0x02 ? AF_INET6 : -1;
        if (wanted != relayFamily) {
            sendError(client, m, 440, &key);
            return;
        }
    }

    const std::string userId(usernameId(username));
    const std::string clientIp = client.address.ipString();
    if (!shared_.quotas.tryAcquire(userId, clientIp)) {
        counters_.quotaRejections.add();
        sendError(client, m, 486, &key);
        return;
    }

    auto alloc = std::make_unique<Allocation>();
    alloc->kind = EventSource::Kind::Relay;
    SocketAddress bound;
    std::uint64_t reservationToken = 0;
    bool haveReservation = false;
    if (token) {
        std::uint64_t t = 0;
        std::memcpy(&t, token->value.data(), 8);
        auto reserved = shared_.reservations.take(t, nowUnix_);
        if (!reserved) {
            shared_.quotas.release(userId, clientIp);
            counters_.capacityRejections.add();
            sendError(client, m, 508, &key);
            return;
        }
        alloc->relayFd = std::move(reserved->fd);
        bound = reserved->address;
    } else {
        const bool even = evenPort != nullptr;
        const bool reserve = evenPort && (evenPort->value[0] & 0x80);
        const std::size_t reservationCap =
            shared_.config.maxAllocationsTotal > 0 ? static_cast<std::size_t>(shared_.config.maxAllocationsTotal) : 4096;
        if (reserve && shared_.reservations.full(reservationCap)) {
            shared_.quotas.release(userId, clientIp);
            counters_.capacityRejections.add();
            sendError(client, m, 508, &key);
            return;
        }
        UniqueFd nextFd;
        SocketAddress nextBound;
        if (!bindRelaySocket(even, reserve, alloc->relayFd, bound, nextFd, nextBound)) {
            shared_.quotas.release(userId, clientIp);
            counters_.capacityRejections.add();
            sendError(client, m, 508, &key);
            return;
        }
        if (reserve) {
            crypto::randomBytes(std::span(reinterpret_cast<std::uint8_t*>(&reservationToken), 8));
            shared_.reservations.put(reservationToken, std::move(nextFd), nextBound, nowUnix_ + kReservationLifetimeSec);
            haveReservation = true;
        }
    }
    if (m.has(attr::DontFragment)) {
        // RFC 8656 7.2: honour DONT-FRAGMENT by setting DF on the relay socket.
        const int pmtu = IP_PMTUDISC_DO;
        if (relayFamily == AF_INET) ::setsockopt(alloc->relayFd.get(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
        const int on = 1;
        if (relayFamily == AF_INET6) ::setsockopt(alloc->relayFd.get(), IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
    }

    const auto requested = m.findU32(attr::Lifetime);
    const std::int64_t maxLifetime = shared_.config.maxAllocationLifetime;
    const std::int64_t defLifetime = std::min<std::int64_t>(shared_.config.defaultAllocationLifetime, maxLifetime);
    const std::int64_t lifetime = requested ? std::clamp<std::int64_t>(*requested, defLifetime, maxLifetime) : defLifetime;

    alloc->transport = client.transport;
    alloc->client = client.address;
    alloc->connection = client.connection;
    alloc->relayAddress = shared_.relayAdvertisedAddress;
    alloc->relayAddress.setPort(bound.port());
    alloc->username = username;
    alloc->userId = userId;
    alloc->clientIp = clientIp;
    alloc->key = key;
    alloc->sha256Integrity = m.usesSha256Integrity();
    alloc->createdMs = nowMs_;
    alloc->expiresMs.store(nowMs_ + lifetime * 1000, std::memory_order_relaxed);

    if (!watchRelaySocket(*alloc)) {
        shared_.quotas.release(userId, clientIp);
        sendError(client, m, 500, &key);
        return;
    }
    Allocation* a = alloc.get();
    {
        std::lock_guard lock(registryMutex_);
        allocations_.emplace(a, std::move(alloc));
    }
    if (client.transport == Transport::Udp) udpAllocations_[client.address] = a;
    else client.connection->allocation = a;
    counters_.allocationsActive.add();
    counters_.allocationsCreated.add();
    log(LogLevel::Debug, "TURN allocation created: user=" + userId + " client=" + std::string(transportName(a->transport)) +
                             "/" + client.address.toString() + " relay=" + a->relayAddress.toString() +
                             " lifetime=" + std::to_string(lifetime));

    std::array<std::uint8_t, 512> buffer;
    stun::StunMessageBuilder b(buffer, Method::Allocate, MessageClass::Success, m.transactionId());
    b.addXorAddress(attr::XorRelayedAddress, a->relayAddress);
    b.addU32(attr::Lifetime, static_cast<std::uint32_t>(lifetime));
    b.addXorAddress(attr::XorMappedAddress, client.address);
    if (haveReservation) b.add(attr::ReservationToken, std::span(reinterpret_cast<const std::uint8_t*>(&reservationToken), 8));
    finishAndSend(client, b, &a->key, a->sha256Integrity, a, m);
}

void Worker::handleRefresh(const Client& client, Allocation& a, const stun::StunMessageView& m) {
    if (const stun::Attribute* family = m.find(attr::RequestedAddressFamily)) {
        const int wanted = family->value.size() == 4 && family->value[0] == 0x02 ? AF_INET6 : AF_INET;
        if (wanted != a.relayAddress.family()) {
            sendError(client, m, 443, &a.key);
            return;
        }
    }
    const auto requested = m.findU32(attr::Lifetime);
    const std::int64_t maxLifetime = shared_.config.maxAllocationLifetime;
    const std::int64_t defLifetime = std::min<std::int64_t>(shared_.config.defaultAllocationLifetime, maxLifetime);
    const std::int64_t lifetime = requested ? std::min<std::int64_t>(*requested, maxLifetime) : defLifetime;

    std::array<std::uint8_t, 256> buffer;
    stun::StunMessageBuilder b(buffer, Method::Refresh, MessageClass::Success, m.transactionId());
    b.addU32(attr::Lifetime, static_cast<std::uint32_t>(lifetime));
    if (lifetime == 0) {
        const auto key = a.key;
        const bool sha = a.sha256Integrity;
        destroyAllocation(a, false);
        finishAndSend(client, b, &key, sha, nullptr, m);
        return;
    }
    a.expiresMs.store(nowMs_ + lifetime * 1000, std::memory_order_relaxed);
    finishAndSend(client, b, &a.key, a.sha256Integrity, &a, m);
}

void Worker::handleCreatePermission(const Client& client, Allocation& a, const stun::StunMessageView& m) {
    // All or nothing (RFC 8656 10.2): validate every XOR-PEER-ADDRESS first.
    std::array<SocketAddress, 16> peers;
    std::size_t count = 0;
    for (const auto& at : m.usableAttributes()) {
        if (at.type == attr::XorPeerAddress) {
            auto peer = m.xorAddress(at);
            if (!peer || count == peers.size()) {
                sendError(client, m, 400, &a.key);
                return;
            }
            peers[count++] = *peer;
        }
    }
    if (count == 0) {
        sendError(client, m, 400, &a.key);
        return;
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (peers[i].family() != a.relayAddress.family()) {
            sendError(client, m, 443, &a.key);
            return;
        }
        if (!shared_.policy.allowed(peers[i])) {
            counters_.peerDenied.add();
            sendError(client, m, 403, &a.key);
            return;
        }
    }
    for (std::size_t i = 0; i < count; ++i) {
        auto it = std::find_if(a.permissions.begin(), a.permissions.end(),
                               [&](const Permission& p) { return p.peer.sameIp(peers[i]); });
        if (it != a.permissions.end()) {
            it->expiresMs = nowMs_ + kPermissionLifetimeMs;
        } else if (a.permissions.size() >= kMaxPermissions) {
            counters_.capacityRejections.add();
            sendError(client, m, 508, &a.key);
            return;
        } else {
            a.permissions.push_back({peers[i], nowMs_ + kPermissionLifetimeMs});
        }
    }
    a.permissionCount.set(a.permissions.size());
    std::array<std::uint8_t, 256> buffer;
    stun::StunMessageBuilder b(buffer, Method::CreatePermission, MessageClass::Success, m.transactionId());
    finishAndSend(client, b, &a.key, a.sha256Integrity, &a, m);
}

void Worker::handleChannelBind(const Client& client, Allocation& a, const stun::StunMessageView& m) {
    const auto channelValue = m.findU32(attr::ChannelNumber);
    const auto peer = m.findXorAddress(attr::XorPeerAddress);
    if (!channelValue || !peer) {
        sendError(client, m, 400, &a.key);
        return;
    }
    const auto number = static_cast<std::uint16_t>(*channelValue >> 16);
    if (!stun::isValidChannel(number)) {
        sendError(client, m, 400, &a.key);
        return;
    }
    if (peer->family() != a.relayAddress.family()) {
        sendError(client, m, 443, &a.key);
        return;
    }
    if (!shared_.policy.allowed(*peer)) {
        counters_.peerDenied.add();
        sendError(client, m, 403, &a.key);
        return;
    }
    Channel* match = nullptr;
    for (auto& ch : a.channels) {
        const bool sameNumber = ch.number == number;
        const bool samePeer = ch.peer == *peer;
        if (sameNumber != samePeer) {
            // RFC 8656 11.2: a number is bound to one peer and a peer to one number.
            sendError(client, m, 400, &a.key);
            return;
        }
        if (sameNumber) match = &ch;
    }
    if (!match) {
        if (a.channels.size() >= kMaxChannels) {
            counters_.capacityRejections.add();
            sendError(client, m, 508, &a.key);
            return;
        }
        a.channels.push_back({number, *peer, 0});
        match = &a.channels.back();
    }
    match->expiresMs = nowMs_ + kChannelLifetimeMs;
    auto it = std::find_if(a.permissions.begin(), a.permissions.end(),
                           [&](const Permission& p) { return p.peer.sameIp(*peer); });
    if (it != a.permissions.end()) it->expiresMs = nowMs_ + kPermissionLifetimeMs;
    else a.permissions.push_back({*peer, nowMs_ + kPermissionLifetimeMs});
    a.permissionCount.set(a.permissions.size());
    a.channelCount.set(a.channels.size());

    std::array<std::uint8_t, 256> buffer;
    stun::StunMessageBuilder b(buffer, Method::ChannelBind, MessageClass::Success, m.transactionId());
    finishAndSend(client, b, &a.key, a.sha256Integrity, &a, m);
}

}  // namespace consultd::turn
