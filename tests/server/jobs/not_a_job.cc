// A shared library that is not a Sluice job: it exports no job symbols.
extern "C" __attribute__((visibility("default"))) int hello() { return 42; }
