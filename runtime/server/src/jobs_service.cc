#include "services.h"
#include "sluice/server/grpc_status.h"

namespace sluice::server {

grpc::Status JobsService::SubmitJob(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::SubmitJobRequest>* reader,
                                    v1::JobDescription* response) {
  return guard_.run(context, "SubmitJob", [&] {
    v1::SubmitJobRequest part;
    if (!reader->Read(&part) || part.part_case() != v1::SubmitJobRequest::kSpec) {
      return to_grpc(invalid_argument("a job submission starts with its spec"));
    }
    v1::JobSpec spec = part.spec();
    std::string library;
    while (reader->Read(&part)) {
      if (part.part_case() != v1::SubmitJobRequest::kLibraryChunk) {
        return to_grpc(invalid_argument("a job submission has one spec, then library bytes"));
      }
      if (static_cast<int64_t>(library.size() + part.library_chunk().size()) > max_library_bytes_) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "the job library is larger than " +
                                std::to_string(max_library_bytes_ >> 20) +
                                " MiB: build it without debug info (sluice_add_job strips it)");
      }
      library += part.library_chunk();
    }
    if (spec.source_case() == v1::JobSpec::kSample && !library.empty()) {
      return to_grpc(invalid_argument("a sample job takes no library"));
    }
    return reply(jobs_.submit(spec, library), response);
  });
}

grpc::Status JobsService::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest*,
                                   v1::ListJobsResponse* response) {
  return guard_.run(context, "ListJobs", [&] {
    for (auto& job : jobs_.list()) *response->add_jobs() = std::move(job);
    return grpc::Status::OK;
  });
}

grpc::Status JobsService::DescribeJob(grpc::ServerContext* context, const v1::JobRequest* request,
                                      v1::JobDescription* response) {
  return guard_.run(context, "DescribeJob",
                    [&] { return reply(jobs_.describe(request->name()), response); });
}

grpc::Status JobsService::StopJob(grpc::ServerContext* context, const v1::JobRequest* request,
                                  v1::JobDescription* response) {
  return guard_.run(context, "StopJob",
                    [&] { return reply(jobs_.stop(request->name()), response); });
}

grpc::Status JobsService::RestartJob(grpc::ServerContext* context, const v1::JobRequest* request,
                                     v1::JobDescription* response) {
  return guard_.run(context, "RestartJob",
                    [&] { return reply(jobs_.restart(request->name()), response); });
}

grpc::Status JobsService::DeleteJob(grpc::ServerContext* context,
                                    const v1::DeleteJobRequest* request, v1::DeleteJobResponse*) {
  return guard_.run(context, "DeleteJob",
                    [&] { return to_grpc(jobs_.remove(request->name(), request->reset_state())); });
}

grpc::Status JobsService::QueryStore(grpc::ServerContext* context,
                                     const v1::QueryStoreRequest* request,
                                     v1::QueryStoreResponse* response) {
  return guard_.run(context, "QueryStore", [&] { return reply(jobs_.query(*request), response); });
}

}  // namespace sluice::server
