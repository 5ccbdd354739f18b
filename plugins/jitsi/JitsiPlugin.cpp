// Entry point of jitsi.so: exports the two provider kinds of this module.
// Everything else lives in consultd-jitsi-tokens so it is unit-tested
// without dlopen().
#include "JaasProvider.h"
#include "JitsiProvider.h"

#include "consultd/provider.h"

#include <Poco/Crypto/OpenSSLInitializer.h>

namespace {

// POCO 1.11's OpenSSLInitializer keeps a process-wide count: every JWT
// signature builds a DigestEngine that takes it 0 -> 1 -> 0 and, when two
// threads cross zero together, its mutex array is freed twice (SIGABRT under
// concurrent token issuance, found by bench/api). Holding one initializer for
// the module's lifetime keeps the count above zero.
const Poco::Crypto::OpenSSLInitializer keepOpenSslInitialized;

// Static storage: the daemon keeps the module pointer while the .so is
// loaded, and the factories hold no state.
const consultd::jitsi::JitsiProviderFactory jitsiFactory;
const consultd::jitsi::JaasProviderFactory jaasFactory;

const consultd::PluginModule& jitsiModule() {
    static const consultd::PluginModule module{"jitsi", CONSULTD_JITSI_VERSION,
                                               {&jitsiFactory, &jaasFactory}};
    return module;
}

}  // namespace

CONSULTD_DECLARE_PLUGIN(jitsiModule())
