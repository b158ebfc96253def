// A library that claims another job ABI: the server must refuse it before calling into it.
extern "C" __attribute__((visibility("default"))) int sluice_job_abi_version() { return 999; }
extern "C" __attribute__((visibility("default"))) void sluice_job_build(const void*, void*) {}
