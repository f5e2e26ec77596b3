#include "server/http/matrix_json.h"

namespace matcache {

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

nlohmann::json MatrixInfoJson(const MatrixInfo& info) {
  const bool loaded = info.generation != 0;
  return {
      {"name", info.name},
      {"shape", info.shape},
      {"dtype", std::string(GetDTypeInfo(info.dtype).name)},
      {"original_dtype", std::string(GetDTypeInfo(info.original_dtype).name)},
      {"nbytes", info.nbytes},
      {"generation", info.generation},
      {"id", loaded ? info.id.ToHex() : ""},
      {"created", loaded ? nlohmann::json(Rfc3339(info.created)) : nullptr},
      {"last_access", loaded ? nlohmann::json(Rfc3339(info.last_access)) : nullptr},
      {"pinned", info.pinned},
      {"expires", info.expires != absl::InfiniteFuture()
                      ? nlohmann::json(Rfc3339(info.expires))
                      : nullptr},
      {"source", info.source},
  };
}

HttpResponse JsonResponse(const nlohmann::json& json) {
  HttpResponse response;
  response.content_type = "application/json";
  response.body = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace matcache
