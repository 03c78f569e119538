/*
 * libedgehal-graph.so is assembled from the graph/ static libraries (IR,
 * partitioner, executor, models); this file only gives the shared library
 * a translation unit of its own. The API is edgehal/graph.h.
 */
#include "edgehal/graph.h"

/* The graph API revision this library implements (bumped on additions). */
const unsigned ehal_graph_library_revision = 1;
