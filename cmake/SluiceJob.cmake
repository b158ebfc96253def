# sluice_add_job(<name> <source>...): builds lib<name>.so, a job library that
# `sluice job submit lib<name>.so` uploads to a server. The sources define the job with
# SLUICE_JOB (sluice/dsl/job.h). The library carries the Sluice code it uses (static,
# position-independent) and exports only the job's two symbols.
function(sluice_add_job name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE sluice::dsl)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # Nothing of the static libraries inside is exported (the server has its own copies), every
  # symbol must resolve at build time, and debug info stays out of the upload.
  target_link_options(${name} PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined
                                      -Wl,--strip-debug)
endfunction()
