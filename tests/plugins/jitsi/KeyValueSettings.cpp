#include "KeyValueSettings.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

namespace consultd::testing {

namespace {

std::int64_t parseInt(const std::string& name, const std::string& text) {
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        throw SettingError(name, "is not an integer");
    }
    return number;
}

}  // namespace

KeyValueSettings::KeyValueSettings(std::vector<SettingSpec> specs,
                                   std::map<std::string, std::string> values)
    : specs_(std::move(specs)), values_(std::move(values)) {
    for (const auto& [name, text] : values_) {
        const auto found = std::find_if(specs_.begin(), specs_.end(),
                                        [&](const SettingSpec& s) { return s.name == name; });
        if (found == specs_.end()) throw SettingError(name, "unknown setting");
        if (found->type == SettingType::Int) {
            const std::int64_t number = parseInt(name, text);
            if ((found->min != 0 || found->max != 0) && (number < found->min || number > found->max)) {
                throw SettingError(name, "out of range " + std::to_string(found->min) + ".." +
                                             std::to_string(found->max));
            }
        }
        if (found->type == SettingType::Bool && text != "true" && text != "false") {
            throw SettingError(name, "must be true or false");
        }
        if (!found->allowed.empty() &&
            std::find(found->allowed.begin(), found->allowed.end(), text) == found->allowed.end()) {
            throw SettingError(name, "value not allowed");
        }
    }
    for (const SettingSpec& s : specs_) {
        if (s.required && values_.count(s.name) == 0) throw SettingError(s.name, "must be set");
    }
}

const SettingSpec& KeyValueSettings::spec(const std::string& name, SettingType type) const {
    const auto found = std::find_if(specs_.begin(), specs_.end(),
                                    [&](const SettingSpec& s) { return s.name == name; });
    if (found == specs_.end()) throw SettingError(name, "read but never declared");
    if (found->type != type) throw SettingError(name, "read with the wrong type");
    return *found;
}

std::string KeyValueSettings::value(const SettingSpec& s) const {
    const auto found = values_.find(s.name);
    return found == values_.end() ? s.defaultValue : found->second;
}

bool KeyValueSettings::getBool(const std::string& name) const {
    return value(spec(name, SettingType::Bool)) == "true";
}

std::int64_t KeyValueSettings::getInt(const std::string& name) const {
    const std::string text = value(spec(name, SettingType::Int));
    return text.empty() ? 0 : parseInt(name, text);
}

std::string KeyValueSettings::getString(const std::string& name) const {
    return value(spec(name, SettingType::String));
}

std::vector<std::string> KeyValueSettings::getStringList(const std::string& name) const {
    std::vector<std::string> items;
    std::istringstream in(value(spec(name, SettingType::StringList)));
    for (std::string item; std::getline(in, item, ',');) items.push_back(item);
    return items;
}

std::string KeyValueSettings::readSecret(const std::string& name) const {
    const std::string path = secretPath(name);
    if (path.empty()) throw SettingError(name, "not set");
    std::ifstream file(path, std::ios::binary);
    if (!file) throw SettingError(name, "cannot read " + path);
    std::string secret((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    return secret;
}

std::string KeyValueSettings::secretPath(const std::string& name) const {
    return value(spec(name, SettingType::SecretFile));
}

}  // namespace consultd::testing
