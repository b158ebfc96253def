# Every dependency comes from a Debian 12 package installed by scripts/install-deps.sh.
# Nothing is downloaded at build time.
find_package(Threads REQUIRED)
find_package(RocksDB CONFIG REQUIRED)        # RocksDB::rocksdb-shared (the static one is not PIC)
find_package(TBB CONFIG REQUIRED)            # TBB::tbb
find_package(absl CONFIG REQUIRED)           # absl::flat_hash_set (the state stores' write buffers)
find_package(Protobuf REQUIRED)              # protobuf::libprotobuf
find_package(gRPC CONFIG REQUIRED)           # gRPC::grpc++ gRPC::grpc++_reflection
find_package(fmt CONFIG REQUIRED)            # fmt::fmt (libstdc++ 12 has no <format>)
find_package(spdlog CONFIG REQUIRED)         # spdlog::spdlog
find_package(CLI11 CONFIG REQUIRED)          # CLI11::CLI11
find_package(nlohmann_json CONFIG REQUIRED)  # nlohmann_json::nlohmann_json
find_package(simdjson CONFIG REQUIRED)       # simdjson::simdjson (parses JSON records)
find_package(yaml-cpp CONFIG REQUIRED)       # yaml-cpp
find_package(zstd CONFIG REQUIRED)           # zstd::libzstd_shared
find_package(ZLIB REQUIRED)                  # ZLIB::ZLIB (gzip batches from Kafka clients)
find_package(Snappy CONFIG REQUIRED)         # Snappy::snappy (snappy batches from Kafka clients)
find_package(prometheus-cpp CONFIG REQUIRED) # prometheus-cpp::core prometheus-cpp::pull
find_package(PkgConfig REQUIRED)
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)         # PkgConfig::LZ4
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++)  # PkgConfig::RDKAFKA
pkg_check_modules(RDKAFKA_C REQUIRED IMPORTED_TARGET rdkafka)  # PkgConfig::RDKAFKA_C (admin API)
if(SLUICE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)        # GTest::gtest GTest::gtest_main GTest::gmock
  include(GoogleTest)
endif()
if(SLUICE_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)    # benchmark::benchmark
endif()
