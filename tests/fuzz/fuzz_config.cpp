// libFuzzer target: the config loader (libconfig parse + schema validation +
// provider group validation) on arbitrary file contents.
#include "config/Config.h"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/consultd-fuzz-config-" + std::to_string(::getpid()) + ".conf";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    auto result = consultd::config::ConfigLoader::load(path);
    consultd::SettingSpec domain;
    domain.name = "domain";
    domain.required = true;
    consultd::SettingSpec ttl;
    ttl.name = "ttl";
    ttl.type = consultd::SettingType::Int;
    ttl.defaultValue = "60";
    ttl.min = 10;
    ttl.max = 100;
    consultd::config::ConfigLoader::validateProviders(result, {{"demo", {domain, ttl}}}, "/plugins");
    for (const auto& e : result.errors) (void)e.format();
    if (result.ok()) (void)result.config->describe();
    return 0;
}
