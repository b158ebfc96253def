// The page-view sample as a job library: `sluice job submit build/samples/libpage_views_job.so`.
#include "sluice/dsl/job.h"
#include "sluice/samples/catalog.h"

SLUICE_JOB(sluice::samples::page_views_job)
