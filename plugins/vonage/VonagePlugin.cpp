// Entry point of vonage.so: exports the "vonage" provider. Everything else
// lives in consultd-vonage-core so it is unit-tested without dlopen().
#include "VonageProvider.h"

#include "consultd/provider.h"

#include <Poco/Crypto/OpenSSLInitializer.h>

namespace {

// POCO 1.11's OpenSSLInitializer keeps a process-wide count: every JWT
// signature and TLS context takes it 0 -> 1 -> 0 and, when two threads cross
// zero together, its mutex array is freed twice (SIGABRT under concurrent
// token issuance, seen with jitsi.so). Holding one initializer for the
// module's lifetime keeps the count above zero.
const Poco::Crypto::OpenSSLInitializer keepOpenSslInitialized;

// Static storage: the daemon keeps the module pointer while the .so is
// loaded, and the factory holds no state.
const consultd::vonage::VonageProviderFactory vonageFactory;

const consultd::PluginModule& vonageModule() {
    static const consultd::PluginModule module{"vonage", CONSULTD_VONAGE_VERSION, {&vonageFactory}};
    return module;
}

}  // namespace

CONSULTD_DECLARE_PLUGIN(vonageModule())
