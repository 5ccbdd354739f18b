// libFuzzer target: the STUN/TURN message parser of the embedded relay, fed
// raw datagrams exactly as a socket delivers them (untrusted, unauthenticated).
#include "StunMessage.h"

#include <array>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace consultd::turn;
    using namespace consultd::turn::stun;
    StunMessageView view;
    if (view.parse(std::span<const std::uint8_t>(data, size)) != ParseResult::Ok) return 0;
    for (const auto& attribute : view.attributes()) {
        (void)view.xorAddress(attribute);
    }
    (void)view.findString(0x0006);  // USERNAME
    (void)view.findString(0x0014);  // REALM
    (void)view.findU32(0x000D);     // LIFETIME
    (void)view.findXorAddress(0x0012);  // XOR-PEER-ADDRESS
    static const std::array<std::uint8_t, 16> kKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    (void)view.verifyIntegrity(kKey);
    // Answer it the way the relay does: the builder must never overflow.
    std::array<std::uint8_t, 512> out{};
    StunMessageBuilder reply(out, view.method(), MessageClass::Error, view.transactionId());
    reply.addError(400, reasonPhrase(400));
    reply.addMessageIntegrity(kKey);
    reply.addFingerprint();
    return 0;
}
