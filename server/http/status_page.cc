#include "server/http/status_page.h"

#include <string>

#include "nlohmann/json.hpp"
#include "server/http/colormap.h"
#include "server/http/status_assets.h"

namespace matcache {
namespace {

// The colormap the page draws window reads with, the same as the PNGs'.
HttpResponse ViridisJson() {
  nlohmann::json entries = nlohmann::json::array();
  for (const Rgb& color : ColormapColors(Colormap::kViridis)) {
    entries.push_back({color.r, color.g, color.b});
  }
  HttpResponse response;
  response.content_type = "application/json";
  response.body = entries.dump();
  return response;
}

}  // namespace

std::optional<HttpResponse> StatusPageFile(absl::string_view path) {
  if (path == "/status/viridis.json") return ViridisJson();
  for (const StatusAsset& asset : StatusAssets()) {
    if (path != asset.path) continue;
    HttpResponse response;
    response.content_type = asset.content_type;
    response.body = std::string(asset.body);
    response.headers.emplace_back("Cache-Control", "no-cache");
    return response;
  }
  return std::nullopt;
}

}  // namespace matcache
