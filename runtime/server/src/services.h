// The gRPC services of package sluice.v1 over the server's log. Each handler validates its
// request, calls the log, and maps the outcome through to_grpc(); see grpc_status.h.
//
// Thread safety: handlers run concurrently on gRPC's threads; the log is thread-safe and the
// services keep no other mutable state.
#pragma once

#include "auth.h"
#include "group_coordinator.h"
#include "job_manager.h"
#include "sluice/logstore/log_store.h"
#include "sluice/server/grpc_status.h"
#include "sluice/v1/groups.grpc.pb.h"
#include "sluice/v1/jobs.grpc.pb.h"
#include "sluice/v1/records.grpc.pb.h"
#include "sluice/v1/topics.grpc.pb.h"

namespace sluice::server {

// A handler's result: the value into the response, or the error as its gRPC status.
template <typename T>
grpc::Status reply(Result<T> result, T* response) {
  if (!result.ok()) return to_grpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

class TopicsService final : public v1::Topics::Service {
 public:
  TopicsService(logstore::LogStore& log, const CallGuard& guard) : log_(log), guard_(guard) {}

  grpc::Status CreateTopic(grpc::ServerContext* context, const v1::CreateTopicRequest* request,
                           v1::CreateTopicResponse* response) override;
  grpc::Status ListTopics(grpc::ServerContext* context, const v1::ListTopicsRequest* request,
                          v1::ListTopicsResponse* response) override;
  grpc::Status DescribeTopic(grpc::ServerContext* context, const v1::DescribeTopicRequest* request,
                             v1::TopicDescription* response) override;
  grpc::Status AlterTopic(grpc::ServerContext* context, const v1::AlterTopicRequest* request,
                          v1::TopicDescription* response) override;
  grpc::Status DeleteTopic(grpc::ServerContext* context, const v1::DeleteTopicRequest* request,
                           v1::DeleteTopicResponse* response) override;

 private:
  logstore::LogStore& log_;
  const CallGuard& guard_;
};

class RecordsService final : public v1::Records::Service {
 public:
  RecordsService(logstore::LogStore& log, const CallGuard& guard) : log_(log), guard_(guard) {}

  grpc::Status Produce(grpc::ServerContext* context, const v1::ProduceRequest* request,
                       v1::ProduceResponse* response) override;
  grpc::Status ProduceStream(grpc::ServerContext* context,
                             grpc::ServerReader<v1::ProduceRequest>* reader,
                             v1::ProduceStreamResponse* response) override;
  grpc::Status InitProducer(grpc::ServerContext* context, const v1::InitProducerRequest* request,
                            v1::InitProducerResponse* response) override;
  grpc::Status Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                     grpc::ServerWriter<v1::FetchResponse>* writer) override;
  grpc::Status ListOffsets(grpc::ServerContext* context, const v1::ListOffsetsRequest* request,
                           v1::ListOffsetsResponse* response) override;

 private:
  logstore::LogStore& log_;
  const CallGuard& guard_;
};

class GroupsService final : public v1::Groups::Service {
 public:
  GroupsService(logstore::LogStore& log, const CallGuard& guard);

  grpc::Status CommitOffsets(grpc::ServerContext* context, const v1::CommitOffsetsRequest* request,
                             v1::CommitOffsetsResponse* response) override;
  grpc::Status FetchOffsets(grpc::ServerContext* context, const v1::FetchOffsetsRequest* request,
                            v1::FetchOffsetsResponse* response) override;
  grpc::Status ListGroups(grpc::ServerContext* context, const v1::ListGroupsRequest* request,
                          v1::ListGroupsResponse* response) override;
  grpc::Status DescribeGroup(grpc::ServerContext* context, const v1::DescribeGroupRequest* request,
                             v1::GroupDescription* response) override;
  grpc::Status JoinGroup(grpc::ServerContext* context, const v1::JoinGroupRequest* request,
                         v1::Membership* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::Membership* response) override;
  grpc::Status LeaveGroup(grpc::ServerContext* context, const v1::LeaveGroupRequest* request,
                          v1::LeaveGroupResponse* response) override;

 private:
  logstore::LogStore& log_;
  const CallGuard& guard_;
  GroupCoordinator coordinator_;
};

class JobsService final : public v1::Jobs::Service {
 public:
  JobsService(JobManager& jobs, const CallGuard& guard, int64_t max_library_bytes)
      : jobs_(jobs), guard_(guard), max_library_bytes_(max_library_bytes) {}

  grpc::Status SubmitJob(grpc::ServerContext* context,
                         grpc::ServerReader<v1::SubmitJobRequest>* reader,
                         v1::JobDescription* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status DescribeJob(grpc::ServerContext* context, const v1::JobRequest* request,
                           v1::JobDescription* response) override;
  grpc::Status StopJob(grpc::ServerContext* context, const v1::JobRequest* request,
                       v1::JobDescription* response) override;
  grpc::Status RestartJob(grpc::ServerContext* context, const v1::JobRequest* request,
                          v1::JobDescription* response) override;
  grpc::Status DeleteJob(grpc::ServerContext* context, const v1::DeleteJobRequest* request,
                         v1::DeleteJobResponse* response) override;
  grpc::Status QueryStore(grpc::ServerContext* context, const v1::QueryStoreRequest* request,
                          v1::QueryStoreResponse* response) override;

 private:
  JobManager& jobs_;
  const CallGuard& guard_;
  int64_t max_library_bytes_;
};

}  // namespace sluice::server
