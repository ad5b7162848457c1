// Loading plugins (lrp/registry/plugin.hpp) with dlopen; they are never closed.
#include "lrp/registry/plugin.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/files.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <system_error>

namespace lrp {

namespace {

std::string canonical(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path c = std::filesystem::weakly_canonical(path, ec);
  return ec ? std::filesystem::path(path).lexically_normal().string() : c.string();
}

}  // namespace

bool plugin_loaded(const Registry& registry, const std::string& path) {
  const std::string key = canonical(path);
  for (const PluginRecord& r : registry.plugins())
    if (canonical(r.path) == key) return true;
  return false;
}

PluginRecord load_plugin(const std::string& path, Registry& registry) {
  const std::string who = "plugin '" + path + "'";
  LRP_CHECK(!registry.frozen(), who, ": plugins are loaded at start-up, before the registry becomes read-only");
  check_input_file(path, "plugin");  // a FIFO, a device or a folder is not a library
  // A path without '/' would make dlopen search the library path instead of opening this file.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    LRP_FAIL(who, ": cannot be loaded as a shared library (", why ? why : "unknown reason", ")");
  }
  using Entry = const PluginDescriptor* (*)();
  ::dlerror();
  void* symbol = ::dlsym(handle, LRP_PLUGIN_ENTRY_NAME);
  LRP_CHECK(symbol != nullptr, who, ": has no entry point '", LRP_PLUGIN_ENTRY_NAME,
            "' (define it with LRP_PLUGIN(name, register_function) from lrp/registry/plugin.hpp)");
  const PluginDescriptor* d = reinterpret_cast<Entry>(symbol)();
  LRP_CHECK(d != nullptr, who, ": its entry point returned no descriptor");
  LRP_CHECK(d->api_version == kPluginApiVersion, who, ": built for plugin API version ", d->api_version,
            ", this lrplab has version ", kPluginApiVersion, "; rebuild the plugin against this lrplab's headers");
  LRP_CHECK(d->scalar_bytes == static_cast<int>(sizeof(Scalar)), who, ": built for ",
            d->scalar_bytes == 8 ? "float64" : d->scalar_bytes == 4 ? "float32" : "an unknown scalar type",
            ", this lrplab computes in ", scalar_name(), "; rebuild the plugin with the same LRP_FLOAT64 setting");
  LRP_CHECK(d->register_fn != nullptr, who, ": its descriptor has no register function");
  const std::string name = d->name != nullptr && d->name[0] != '\0' ? d->name : path;
  LRP_CHECK(!plugin_loaded(registry, path), who, " is already loaded");

  const Registry::Mark mark = registry.mark();
  registry.set_origin("plugin " + path);
  std::string failure;  // empty: the registration went through
  try {
    d->register_fn(registry);
  } catch (const std::exception& e) {
    failure = std::string(": ") + e.what();
  } catch (...) {
    failure = " with an exception that is not a std::exception";
  }
  registry.set_origin("");
  if (!failure.empty()) {
    registry.roll_back(mark);  // nothing the plugin added stays
    LRP_FAIL(who, " (", name, "): registration failed", failure);
  }
  PluginRecord record{path, name};
  registry.add_plugin_record(record);
  return record;  // the library stays open: its code backs the registered entries
}

}  // namespace lrp
