// Entry point of jitsi.so: exports the two provider kinds of this module.
// Everything else lives in consultd-jitsi-tokens so it is unit-tested
// without dlopen().
#include "JaasProvider.h"
#include "JitsiProvider.h"

#include "consultd/provider.h"

namespace {

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
